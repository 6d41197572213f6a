"""A planned project as framestate's rows: the project row, its clips, its current videos (with their
legacy versions, so that the next video of a kind is 1 + that version) and its active jobs, checked
by the same status-from-facts cross-check as every write before anything is written."""

from datetime import datetime
from typing import Any

from fsm.facts import JobType
from fsm.jobs import JobStatus, VideoKind
from fsm.status import Status
from service.legacy.plan import ClipFact, JobFact, Planned, VideoFact
from service.store.records import JOB_COLUMNS, PROJECT_COLUMNS, JobRecord, ProjectRecord
from service.store.tables import ERROR_MAX
from service.writes.unit_of_work import check_status

ACTOR = "system:import"
"""The history's `actor` of what an import writes."""


def reason(planned: Planned) -> str:
    """The history's `reason` of an import or sync: the status the old app showed."""
    shown = "null" if planned.legacy_status is None else planned.legacy_status
    return f"legacy status: {shown}"[:ERROR_MAX]


def project_record(
    planned: Planned, *, version: int, owner: str | None, now: datetime, created_at: datetime | None = None
) -> ProjectRecord:
    assert planned.id is not None
    assert planned.status is not None
    return ProjectRecord(
        id=planned.id,
        name=planned.name,
        owner=owner,
        status=planned.status.value,
        version=version,
        clip_count=len(planned.clips),
        framed_clip_count=sum(clip.crop_data is not None for clip in planned.clips),
        working_video_id=planned.working.id if planned.working else None,
        final_video_id=planned.final.id if planned.final else None,
        created_at=created_at or planned.created_at or now,
        updated_at=now,
    )


def job_record(job: JobFact, *, planned: Planned, now: datetime) -> JobRecord:
    """An active legacy job, whose timeout clock starts now."""
    assert planned.id is not None
    overlay = job.type is JobType.OVERLAY
    return JobRecord(
        id=job.id,
        project_id=planned.id,
        type=job.type.value,
        status=job.status.value,
        progress=job.progress,
        message=None,
        error=None,
        input_video_id=planned.working.id if overlay and planned.working else None,
        output_video_id=None,
        idempotency_key=None,
        created_at=job.created_at or now,
        updated_at=now,
        reported_at=now,
        finished_at=None,
        cancel_reason=None,
    )


def cross_check(record: ProjectRecord, jobs: list[JobRecord], planned: Planned, change: str) -> None:
    """The status the import derived must be the one framestate's rows give: else a bug, refused."""
    active = [job for job in jobs if job.status in (JobStatus.QUEUED, JobStatus.RUNNING)]
    check_status(
        project=record, active_jobs=active, claimed=Status(record.status), change=change, by="the import"
    )


def clip_row(clip: ClipFact, *, project_id: str, now: datetime) -> dict[str, Any]:
    created = clip.created_at or now
    return {
        "id": clip.id,
        "project_id": project_id,
        "crop_data": clip.crop_data,
        "created_at": created,
        "updated_at": created,
    }


def video_row(video: VideoFact, *, kind: VideoKind, project_id: str, now: datetime) -> dict[str, Any]:
    return {
        "id": video.id,
        "project_id": project_id,
        "kind": kind.value,
        "version": video.version,
        "uri": None,
        "job_id": None,
        "created_at": video.created_at or now,
    }


def history_row(planned: Planned, *, action: str, from_status: str | None, now: datetime) -> dict[str, Any]:
    assert planned.status is not None
    return {
        "project_id": planned.id,
        "at": now,
        "action": action,
        "from_status": from_status,
        "to_status": planned.status.value,
        "job_id": None,
        "actor": ACTOR,
        "reason": reason(planned),
    }


def values(record: ProjectRecord | JobRecord) -> dict[str, Any]:
    names = PROJECT_COLUMNS if isinstance(record, ProjectRecord) else JOB_COLUMNS
    return {name: getattr(record, name) for name in names}


class ImportRows:
    """The rows of the projects a transaction imports, gathered by table for one INSERT each
    (`service.legacy.bulk`: crop data as the JSON text it was read as)."""

    def __init__(self, *, owner: str | None, now: datetime) -> None:
        self.owner = owner
        self.now = now
        self.projects: list[dict[str, Any]] = []
        self.clips: list[dict[str, Any]] = []
        self.videos: list[dict[str, Any]] = []
        self.jobs: list[dict[str, Any]] = []
        self.history: list[dict[str, Any]] = []
        self.markers: list[dict[str, Any]] = []

    def add(self, planned: Planned, history_action: str) -> ProjectRecord:
        now = self.now
        record = project_record(planned, version=1, owner=self.owner, now=now)
        jobs = [job_record(job, planned=planned, now=now) for job in planned.jobs]
        cross_check(record, jobs, planned, history_action)
        project_id = record.id
        self.projects.append(values(record))
        for clip in planned.clips:
            row = clip_row(clip, project_id=project_id, now=now)
            row["crop_data"] = clip.crop_text
            self.clips.append(row)
        for kind, video in ((VideoKind.WORKING, planned.working), (VideoKind.FINAL, planned.final)):
            if video is not None:
                self.videos.append(video_row(video, kind=kind, project_id=project_id, now=now))
        self.jobs.extend(values(job) for job in jobs)
        self.history.append(history_row(planned, action=history_action, from_status=None, now=now))
        self.markers.append(
            {
                "project_id": project_id,
                "version": record.version,
                "fingerprint": planned.fingerprint,
                "imported_at": now,
                "synced_at": None,
            }
        )
        return record
