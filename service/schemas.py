"""The JSON shapes of the API: request bodies (validated on the way in) and answers."""

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any

import msgspec

from fsm.facts import Action, JobType
from fsm.jobs import JobStatus, VideoKind
from fsm.status import EXPORTING, Status
from service.records import ClipRecord, JobRecord
from service.tables import (
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
    if tz is None:  # `combine` is about four times cheaper than `replace(tzinfo=...)` on Python 3.11
        return datetime.combine(moment.date(), moment.time(), UTC)
    return moment.astimezone(UTC)


def as_utc_or_none(moment: datetime | None) -> datetime | None:
    return None if moment is None else as_utc(moment)


class VideoOut(msgspec.Struct):
    id: str
    kind: VideoKind
    version: int
    uri: str | None
    job_id: str | None
    created_at: datetime

    @classmethod
    def of(cls, video: Video) -> "VideoOut":
        return cls(
            video.id, VideoKind(video.kind), video.version, video.uri, video.job_id, as_utc(video.created_at)
        )


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
        return cls(
            id=job.id,
            project_id=job.project_id,
            type=JobType(job.type),
            status=JobStatus(job.status),
            progress=job.progress,
            message=job.message,
            error=job.error,
            input_video_id=job.input_video_id,
            output_video_id=job.output_video_id,
            created_at=as_utc(job.created_at),
            updated_at=as_utc(job.updated_at),
            finished_at=as_utc_or_none(job.finished_at),
            cancel_reason=job.cancel_reason,
        )


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


class Health(msgspec.Struct):
    status: str
