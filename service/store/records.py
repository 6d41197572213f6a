"""Rows as the write path holds them: plain slotted dataclasses, read and written with SQLAlchemy
Core statements on the SQLModel tables. They carry no ORM state, so loading one costs a tuple
unpacking and changing one costs an attribute set; the unit of work finds what changed by
comparing a job with the copy it took when it loaded it."""

from collections.abc import Sequence, Set
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Table, literal_column

from fsm.facts import Facts, JobType
from fsm.jobs import ACTIVE_JOB_STATUSES
from service.store.tables import Clip, ExportJob, Project, StatusChange, Video

PROJECT: Table = Project.__table__  # type: ignore[attr-defined]
JOB: Table = ExportJob.__table__  # type: ignore[attr-defined]
VIDEO: Table = Video.__table__  # type: ignore[attr-defined]
CLIP: Table = Clip.__table__  # type: ignore[attr-defined]
HISTORY: Table = StatusChange.__table__  # type: ignore[attr-defined]


@dataclass(slots=True)
class ProjectRecord:
    id: str
    name: str
    owner: str | None
    status: str
    version: int
    clip_count: int
    framed_clip_count: int
    working_video_id: str | None
    final_video_id: str | None
    created_at: datetime
    updated_at: datetime


@dataclass(slots=True)
class JobRecord:
    id: str
    project_id: str
    type: str
    status: str
    progress: float
    message: str | None
    error: str | None
    input_video_id: str | None
    output_video_id: str | None
    idempotency_key: str | None
    created_at: datetime
    updated_at: datetime
    reported_at: datetime
    finished_at: datetime | None
    cancel_reason: str | None

    def values(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in JOB_COLUMNS}

    def state(self) -> tuple[Any, ...]:
        """Its values, to tell later whether it changed (shallow: no value is ever mutated in place)."""
        return tuple(getattr(self, name) for name in JOB_COLUMNS)


@dataclass(slots=True)
class ClipRecord:
    id: str
    project_id: str
    crop_data: dict[str, Any] | None
    created_at: datetime
    updated_at: datetime


ACTIVE_LITERALS: list[ColumnElement[Any]] = [
    literal_column(f"'{status.value}'") for status in ACTIVE_JOB_STATUSES
]
"""The active job statuses as SQL literals: `status IN ('queued', 'running')` needs no bound
parameters to expand on every execution."""


def project_facts(
    *, framed_clips: int, working_video_id: str | None, final_video_id: str | None, active_types: Set[str]
) -> Facts:
    """The facts of a project, from the columns its row carries and the types of its active jobs:
    what a card's allowed actions and a write's decision are both made of."""
    return Facts(
        active_framing=JobType.FRAMING in active_types,
        active_overlay=JobType.OVERLAY in active_types,
        final_video=final_video_id is not None,
        working_video=working_video_id is not None,
        framed_clip=framed_clips > 0,
    )


PROJECT_COLUMNS = tuple(f.name for f in fields(ProjectRecord))
JOB_COLUMNS = tuple(f.name for f in fields(JobRecord))
CLIP_COLUMNS = tuple(f.name for f in fields(ClipRecord))


def project_record(row: Sequence[Any]) -> ProjectRecord:
    return ProjectRecord(*row[: len(PROJECT_COLUMNS)])


def job_record(row: Sequence[Any]) -> JobRecord:
    return JobRecord(*row[: len(JOB_COLUMNS)])


def clip_record(row: Sequence[Any]) -> ClipRecord:
    return ClipRecord(*row[: len(CLIP_COLUMNS)])
