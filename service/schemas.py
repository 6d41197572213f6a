"""The JSON shapes of the API: request bodies (validated on the way in) and answers."""

from collections.abc import Sequence
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any

import msgspec

from fsm.facts import Action, JobType
from fsm.jobs import JobStatus, VideoKind
from fsm.status import EXPORTING, Status
from service.store.records import ClipRecord, JobRecord
from service.store.tables import (
    CANCEL_REASON_MAX,
    ERROR_MAX,
    MESSAGE_MAX,
    NAME_MAX,
    URI_MAX,
    Clip,
    ExportJob,
    StatusChange,
    Video,
)

# Request bodies: unknown fields are ignored; optional fields left out are null. Text may not hold
# the NUL character, which PostgreSQL cannot store (service/request_checks.py says so in words).
NO_NUL = "^[^\x00]*$"


class ProjectCreate(msgspec.Struct):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=NAME_MAX, pattern=NO_NUL)]


class ClipWrite(msgspec.Struct):
    crop_data: dict[str, Any] | None = None


class ExportStart(msgspec.Struct):
    type: JobType


class ProgressReport(msgspec.Struct):
    progress: Annotated[float, msgspec.Meta(ge=0, le=100)]
    message: Annotated[str, msgspec.Meta(max_length=MESSAGE_MAX, pattern=NO_NUL)] | None = None


class SucceedReport(msgspec.Struct):
    output_uri: Annotated[str, msgspec.Meta(max_length=URI_MAX, pattern=NO_NUL)] | None = None


class FailReport(msgspec.Struct):
    error: Annotated[str, msgspec.Meta(min_length=1, max_length=ERROR_MAX, pattern=NO_NUL)]


class CancelRequest(msgspec.Struct):
    reason: (
        Annotated[str, msgspec.Meta(min_length=1, max_length=CANCEL_REASON_MAX, pattern=NO_NUL)] | None
    ) = None


class StatusFilter(StrEnum):
    """The `status` query of a project list: a status, or `exporting` for either export status."""

    NOT_STARTED = Status.NOT_STARTED.value
    IN_PROGRESS = Status.IN_PROGRESS.value
    FRAMED = Status.FRAMED.value
    EXPORTING_FRAMING = Status.EXPORTING_FRAMING.value
    EXPORTING_OVERLAY = Status.EXPORTING_OVERLAY.value
    COMPLETE = Status.COMPLETE.value
    EXPORTING = EXPORTING


# Answers.


def as_utc(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes; every time the service stores is UTC."""
    tz = moment.tzinfo
    if tz is UTC:  # asyncpg's
        return moment
    if tz is None:  # `combine` is cheaper than `replace(tzinfo=...)`
        return datetime.combine(moment.date(), moment.time(), UTC)
    return moment.astimezone(UTC)


def as_utc_or_none(moment: datetime | None) -> datetime | None:
    return None if moment is None else as_utc(moment)


VIDEO_COLUMNS = ("id", "kind", "version", "uri", "job_id", "created_at")
JOB_ANSWER_COLUMNS = (
    "id",
    "project_id",
    "type",
    "status",
    "progress",
    "message",
    "error",
    "input_video_id",
    "output_video_id",
    "created_at",
    "updated_at",
    "finished_at",
    "cancel_reason",
)
STATUSES: dict[str, Status] = {s.value: s for s in Status}
JOB_TYPES: dict[str, JobType] = {t.value: t for t in JobType}
JOB_STATUSES: dict[str, JobStatus] = {s.value: s for s in JobStatus}
VIDEO_KINDS: dict[str, VideoKind] = {k.value: k for k in VideoKind}
"""A row's text to its enum member by one dictionary lookup, much cheaper than calling the enum: a
page of cards makes a few hundred of them."""


def job_answer(row: Sequence[Any]) -> "ExportJobOut":
    """An ExportJob answer from the `JOB_ANSWER_COLUMNS` of a row, in that order."""
    return ExportJobOut(
        id=row[0],
        project_id=row[1],
        type=JOB_TYPES[row[2]],
        status=JOB_STATUSES[row[3]],
        progress=row[4],
        message=row[5],
        error=row[6],
        input_video_id=row[7],
        output_video_id=row[8],
        created_at=as_utc(row[9]),
        updated_at=as_utc(row[10]),
        finished_at=as_utc_or_none(row[11]),
        cancel_reason=row[12],
    )


def video_answer(row: Sequence[Any], at: int = 0) -> "VideoOut | None":
    """A Video answer from the `VIDEO_COLUMNS` of a row, from position `at`; None where it has none."""
    if row[at] is None:
        return None
    return VideoOut(
        row[at], VIDEO_KINDS[row[at + 1]], row[at + 2], row[at + 3], row[at + 4], as_utc(row[at + 5])
    )


class VideoOut(msgspec.Struct):
    id: str
    kind: VideoKind
    version: int
    uri: str | None
    job_id: str | None
    created_at: datetime

    @classmethod
    def of(cls, video: Video) -> "VideoOut":
        answer = video_answer([getattr(video, name) for name in VIDEO_COLUMNS])
        assert answer is not None
        return answer


class ExportJobOut(msgspec.Struct):
    id: str
    project_id: str
    type: JobType
    status: JobStatus
    progress: float
    message: str | None
    error: str | None
    input_video_id: str | None
    output_video_id: str | None
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None
    cancel_reason: str | None

    @classmethod
    def of(cls, job: ExportJob | JobRecord) -> "ExportJobOut":
        return job_answer([getattr(job, name) for name in JOB_ANSWER_COLUMNS])


class ProjectOut(msgspec.Struct):
    id: str
    name: str
    status: Status
    status_label: str
    is_exporting: bool
    active_exports: list[ExportJobOut]
    allowed_actions: list[Action]
    working_video: VideoOut | None
    final_video: VideoOut | None
    clip_count: int
    framed_clip_count: int
    version: int
    created_at: datetime
    updated_at: datetime


class ProjectPage(msgspec.Struct):
    items: list[ProjectOut]
    next_cursor: str | None


class ClipOut(msgspec.Struct):
    id: str
    project_id: str
    crop_data: dict[str, Any] | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, clip: Clip | ClipRecord) -> "ClipOut":
        return cls(clip.id, clip.project_id, clip.crop_data, as_utc(clip.created_at), as_utc(clip.updated_at))


class HistoryEntry(msgspec.Struct):
    at: datetime
    action: Action
    from_status: Status | None
    to_status: Status
    job_id: str | None
    actor: str | None
    reason: str | None

    @classmethod
    def of(cls, row: StatusChange) -> "HistoryEntry":
        return cls(
            at=as_utc(row.at),
            action=Action(row.action),
            from_status=None if row.from_status is None else Status(row.from_status),
            to_status=Status(row.to_status),
            job_id=row.job_id,
            actor=row.actor,
            reason=row.reason,
        )


class TransitionOut(msgspec.Struct):
    action: Action
    source: Status
    dest: Status
    guard: str | None


class StateMachineOut(msgspec.Struct):
    states: list[Status]
    composite: dict[str, list[Status]]
    transitions: list[TransitionOut]
    mermaid: str
    job_timeout_s: float
    """Seconds without a report after which the service fails an active job (`job_timed_out`)."""


class Health(msgspec.Struct):
    status: str
