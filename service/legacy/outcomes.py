"""What becomes of each legacy project, given what framestate already holds under its id."""

from dataclasses import dataclass
from enum import StrEnum

from service.legacy.plan import Planned


class Outcome(StrEnum):
    WOULD_IMPORT = "would_import"
    WOULD_SYNC = "would_sync"
    IMPORTED = "imported"
    SYNCED = "synced"
    UNCHANGED = "unchanged"
    DIVERGED = "diverged"
    CONFLICT = "conflict"
    PROBLEM = "problem"


DRY_RUN_OUTCOMES = (
    Outcome.WOULD_IMPORT,
    Outcome.WOULD_SYNC,
    Outcome.UNCHANGED,
    Outcome.DIVERGED,
    Outcome.CONFLICT,
    Outcome.PROBLEM,
)
APPLY_OUTCOMES = (
    Outcome.IMPORTED,
    Outcome.SYNCED,
    Outcome.UNCHANGED,
    Outcome.DIVERGED,
    Outcome.CONFLICT,
    Outcome.PROBLEM,
)


@dataclass(frozen=True, slots=True)
class Held:
    """A project framestate holds under a legacy project's id."""

    version: int
    status: str
    owner: str | None
    imported_version: int | None
    """The version an import or sync left it at; None for a project framestate made itself."""
    fingerprint: str | None
    """Of the legacy facts it was last brought in line with."""


def decide(planned: Planned, held: Held | None, *, apply: bool) -> Outcome:
    """The outcome before anything is written: with `apply`, `imported` and `synced` are what the
    write is to do (a write that finds the project changed meanwhile makes it `diverged`)."""
    if not planned.importable:
        return Outcome.PROBLEM
    if held is None:
        return Outcome.IMPORTED if apply else Outcome.WOULD_IMPORT
    if held.imported_version is None:
        return Outcome.CONFLICT
    if held.version != held.imported_version:
        return Outcome.DIVERGED
    if held.fingerprint == planned.fingerprint:
        return Outcome.UNCHANGED
    return Outcome.SYNCED if apply else Outcome.WOULD_SYNC
