"""How a legacy status value reads as a framestate status: the default map, and the `--status-map`
TOML file (`legacy value = "framestate status"`) that adds to it or overrides it. Values are
compared normalised: case, spaces, hyphens and underscores ignored."""

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fsm.status import Status
from service.legacy.errors import CannotRun
from service.legacy.mapping import read_toml

DEFAULT_STATUS_MAP: dict[str, Status] = {
    "not started": Status.NOT_STARTED,
    "new": Status.NOT_STARTED,
    "draft": Status.NOT_STARTED,
    "in progress": Status.IN_PROGRESS,
    "editing": Status.IN_PROGRESS,
    "framed": Status.FRAMED,
    "framing complete": Status.FRAMED,
    "framing": Status.EXPORTING_FRAMING,
    "in framing": Status.EXPORTING_FRAMING,
    "exporting framing": Status.EXPORTING_FRAMING,
    "overlay": Status.EXPORTING_OVERLAY,
    "in overlay": Status.EXPORTING_OVERLAY,
    "exporting overlay": Status.EXPORTING_OVERLAY,
    "complete": Status.COMPLETE,
    "completed": Status.COMPLETE,
    "done": Status.COMPLETE,
}
_IGNORED = str.maketrans("", "", " -_")


def normalise(value: str) -> str:
    return value.translate(_IGNORED).lower()


def legacy_text(value: Any) -> str | None:
    """A legacy status as text (a number stored as a status reads as its digits)."""
    if value is None or type(value) is str:
        return value
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("utf-8", "replace")
    return str(value)


@dataclass(frozen=True, slots=True)
class StatusMap:
    entries: dict[str, Status]
    """Normalised legacy value -> framestate status."""

    def status_of(self, legacy: str | None) -> Status | None:
        """The framestate status a legacy value stands for; None for a value the map does not know,
        which agrees with no status."""
        return None if legacy is None else self.entries.get(normalise(legacy))


def _status(value: Any) -> Status | None:
    if not isinstance(value, str):
        return None
    wanted = normalise(value)
    return next((status for status in Status if normalise(status.value) == wanted), None)


def load_status_map(path: Path | None) -> StatusMap:
    entries = {normalise(legacy): status for legacy, status in DEFAULT_STATUS_MAP.items()}
    if path is None:
        return StatusMap(entries)
    for legacy, value in read_toml(path, "--status-map").items():
        status = _status(value)
        if status is None:
            raise CannotRun(
                f"--status-map {path}: {legacy!r} must name a framestate status "
                f"({', '.join(s.value for s in Status)}), not {value!r}"
            )
        if not normalise(legacy):
            raise CannotRun(f"--status-map {path}: {legacy!r} is no legacy value once normalised")
        entries[normalise(legacy)] = status
    return StatusMap(entries)
