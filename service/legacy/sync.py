"""Bringing a project imported earlier, and not changed in framestate since, in line with the legacy
facts once they changed (the cut-over: the old app still runs).

The project row is compared-and-set on the version the import left, like every write: a project
that a request changed meanwhile is left alone (`diverged`). Then its clips, its current videos and
its active jobs are made the legacy ones. A job framestate holds as active that the old app has
since finished ends as the old app ended it (succeeded, cancelled, else failed with the old
status in its error); a job the old app started since is added, its timeout clock starting now.
"""

from datetime import datetime

from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from fsm.facts import Action
from fsm.jobs import JobStatus, VideoKind
from service.legacy.outcomes import Held, Outcome
from service.legacy.plan import Planned
from service.legacy.rows import (
    clip_row,
    cross_check,
    history_row,
    job_record,
    project_record,
    values,
    video_row,
)
from service.legacy.status_map import normalise
from service.legacy.target import LEGACY
from service.store.records import ACTIVE_LITERALS, CLIP, HISTORY, JOB, JOB_COLUMNS, VIDEO, JobRecord
from service.store.records import job_record as read_job
from service.writes.statements import COMPARE_AND_SET, PROJECT_CHANGES

SUCCEEDED = frozenset(
    normalise(s) for s in ("succeeded", "success", "successful", "complete", "completed", "done", "finished")
)
CANCELLED = frozenset(normalise(s) for s in ("cancelled", "canceled", "aborted"))

CLIPS_OF = select(CLIP.c.id, CLIP.c.crop_data).where(CLIP.c.project_id == bindparam("project_id"))
VIDEOS_OF = select(VIDEO.c.id, VIDEO.c.kind, VIDEO.c.version).where(
    VIDEO.c.project_id == bindparam("project_id")
)
ACTIVE_JOBS_OF = select(*(JOB.c[name] for name in JOB_COLUMNS)).where(
    JOB.c.project_id == bindparam("project_id"), JOB.c.status.in_(ACTIVE_LITERALS)
)
JOBS_NAMED = select(JOB.c.id, JOB.c.project_id, JOB.c.status).where(
    JOB.c.id.in_(bindparam("ids", expanding=True))
)
DELETE_CLIP = delete(CLIP).where(CLIP.c.id == bindparam("clip_id"))
UPDATE_CLIP = update(CLIP).where(CLIP.c.id == bindparam("clip_id"))
UPDATE_VIDEO = update(VIDEO).where(VIDEO.c.id == bindparam("video_id"))
UPDATE_JOB = update(JOB).where(JOB.c.id == bindparam("job_id"))
UPDATE_MARKER = update(LEGACY).where(LEGACY.c.project_id == bindparam("marker_project_id"))


class Refused(Exception):
    """framestate cannot hold the legacy facts of this project as they are (the message says why)."""


def _ending(legacy_status: str | None, *, known: bool) -> tuple[JobStatus, str | None]:
    if not known:
        return JobStatus.FAILED, "Gone from the old app's database."
    normal = normalise(legacy_status or "")
    if normal in SUCCEEDED:
        return JobStatus.SUCCEEDED, None
    if normal in CANCELLED:
        return JobStatus.CANCELLED, None
    return JobStatus.FAILED, f"Ended in the old app as {legacy_status!r}."


async def sync_project(conn: AsyncConnection, planned: Planned, held: Held, *, now: datetime) -> Outcome:
    """`synced`, or `diverged` when a request changed the project since it was read. The status
    cross-check runs before anything is sent."""
    assert planned.id is not None
    assert held.imported_version is not None
    project_id = planned.id
    record = project_record(planned, version=held.imported_version + 1, owner=None, now=now)
    new_jobs = [job_record(job, planned=planned, now=now) for job in planned.jobs]
    cross_check(record, new_jobs, planned, Action.PROJECT_SYNCED.value)
    changes = {name: getattr(record, name) for name in (*PROJECT_CHANGES, "name")}
    params = {"project_id": project_id, "read_version": held.imported_version, **changes}
    if (await conn.execute(COMPARE_AND_SET, params)).rowcount != 1:
        return Outcome.DIVERGED
    await _sync_clips(conn, planned, now=now)
    await _sync_videos(conn, planned, now=now)
    await _sync_jobs(conn, planned, new_jobs, now=now)
    history = []
    if held.status != record.status:
        history.append(
            history_row(planned, action=Action.PROJECT_SYNCED.value, from_status=held.status, now=now)
        )
        await conn.execute(insert(HISTORY), history)
    marker = {"version": record.version, "fingerprint": planned.fingerprint, "synced_at": now}
    await conn.execute(UPDATE_MARKER, {"marker_project_id": project_id, **marker})
    return Outcome.SYNCED


async def _sync_clips(conn: AsyncConnection, planned: Planned, *, now: datetime) -> None:
    assert planned.id is not None
    held = dict((await conn.execute(CLIPS_OF, {"project_id": planned.id})).all())
    wanted = {clip.id: clip for clip in planned.clips}
    gone = [{"clip_id": clip_id} for clip_id in held if clip_id not in wanted]
    if gone:
        await conn.execute(DELETE_CLIP, gone)
    new = [clip_row(clip, project_id=planned.id, now=now) for clip in planned.clips if clip.id not in held]
    if new:
        await conn.execute(insert(CLIP), new)
    for clip in planned.clips:
        if clip.id in held and held[clip.id] != clip.crop_data:
            await conn.execute(
                UPDATE_CLIP, {"clip_id": clip.id, "crop_data": clip.crop_data, "updated_at": now}
            )


async def _sync_videos(conn: AsyncConnection, planned: Planned, *, now: datetime) -> None:
    assert planned.id is not None
    held = {
        row[0]: (row[1], row[2]) for row in (await conn.execute(VIDEOS_OF, {"project_id": planned.id})).all()
    }
    for kind, video in ((VideoKind.WORKING, planned.working), (VideoKind.FINAL, planned.final)):
        if video is None:
            continue
        if video.id not in held:
            await conn.execute(insert(VIDEO), [video_row(video, kind=kind, project_id=planned.id, now=now)])
        elif held[video.id] != (kind.value, video.version):
            await conn.execute(
                UPDATE_VIDEO, {"video_id": video.id, "kind": kind.value, "version": video.version}
            )


async def _sync_jobs(
    conn: AsyncConnection, planned: Planned, new_jobs: list[JobRecord], *, now: datetime
) -> None:
    assert planned.id is not None
    held = {
        job.id: job
        for job in map(read_job, (await conn.execute(ACTIVE_JOBS_OF, {"project_id": planned.id})).all())
    }
    for job_id in held:
        if any(new.id == job_id for new in new_jobs):
            continue
        status, error = _ending(planned.ended_jobs.get(job_id), known=job_id in planned.ended_jobs)
        ended: dict[str, object] = {
            "status": status.value,
            "error": error,
            "updated_at": now,
            "finished_at": now,
        }
        if status is JobStatus.SUCCEEDED:
            ended["progress"] = 100.0
        await conn.execute(UPDATE_JOB, {"job_id": job_id, **ended})
    unseen = [job for job in new_jobs if job.id not in held]
    if unseen:
        taken = (await conn.execute(JOBS_NAMED, {"ids": [job.id for job in unseen]})).all()
        if taken:
            job_id, owner, status = taken[0]
            raise Refused(f"job {job_id} is already in framestate ({status}, project {owner})")
        await conn.execute(insert(JOB), [values(job) for job in unseen])
    for job in new_jobs:
        if job.id in held:
            kept = {"status": job.status, "progress": max(job.progress, held[job.id].progress)}
            await conn.execute(UPDATE_JOB, {"job_id": job.id, **kept, "updated_at": now, "reported_at": now})
