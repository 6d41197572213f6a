"""Export jobs: starting one (idempotent by key), and the worker's reports on it."""

from datetime import datetime

from sqlalchemy import and_, bindparam, func, insert, or_
from sqlalchemy import select as core_select
from sqlmodel import col, select

from fsm.facts import START_ACTION_OF, Action, JobType, Move
from fsm.jobs import ACTIVE_JOB_STATUSES, VIDEO_KIND_OF, JobStatus
from fsm.status import Status
from service.context import Context
from service.cursors import Listed, cursors_for
from service.errors import ExportAlreadyActive, IdempotencyKeyReused, JobNotActive, NotFound
from service.operations.projects import visible_project
from service.schemas import ExportJobOut, as_utc
from service.store.records import JOB, JOB_COLUMNS, VIDEO, JobRecord, job_record
from service.store.tables import ExportJob, new_id
from service.writes.unit_of_work import Target, UnitOfWork, write

SUPERSEDED_MESSAGE = (
    "Superseded: a newer framing export replaced the working video this overlay was rendering on."
)
BY_IDEMPOTENCY_KEY = core_select(*(JOB.c[name] for name in JOB_COLUMNS)).where(
    JOB.c.project_id == bindparam("project_id"), JOB.c.idempotency_key == bindparam("key")
)
HIGHEST_VIDEO_VERSION = core_select(func.max(VIDEO.c.version)).where(
    VIDEO.c.project_id == bindparam("project_id"), VIDEO.c.kind == bindparam("kind")
)
INSERT_VIDEO = insert(VIDEO)
EXPORTS = "exports"
FINISH_ACTIONS: dict[JobStatus, Action] = {
    JobStatus.SUCCEEDED: Action.JOB_SUCCEEDED,
    JobStatus.FAILED: Action.JOB_FAILED,
    JobStatus.CANCELLED: Action.JOB_CANCELLED,
}


async def start_export(
    project_id: str, *, job_type: JobType, key: str | None, ctx: Context, if_match: str | None = None
) -> ExportJobOut:
    """Start an export; a `key` (the Idempotency-Key, 1 to `IDEMPOTENCY_KEY_MAX` characters: the
    HTTP layer checks it) seen before for this project answers with the job it started."""

    async def work(uow: UnitOfWork) -> JobRecord:
        if key is not None:
            row = (
                await uow.conn.execute(BY_IDEMPOTENCY_KEY, {"project_id": uow.project.id, "key": key})
            ).one_or_none()
            if row is not None:
                seen = job_record(row)
                if seen.type != job_type:
                    raise IdempotencyKeyReused(
                        f"Idempotency-Key {key!r} already started a {seen.type} export.", job_id=seen.id
                    )
                return seen
        if (active := uow.active_job(job_type)) is not None:
            raise ExportAlreadyActive(f"A {job_type.value} export is already active.", job_id=active.id)
        move = Move(START_ACTION_OF[job_type], job_type)
        dest = uow.decide(move)
        job = JobRecord(
            id=new_id(),
            project_id=uow.project.id,
            type=job_type.value,
            status=JobStatus.QUEUED.value,
            progress=0.0,
            message=None,
            error=None,
            input_video_id=uow.project.working_video_id if job_type is JobType.OVERLAY else None,
            output_video_id=None,
            idempotency_key=key,
            created_at=uow.now,
            updated_at=uow.now,
            reported_at=uow.now,
            finished_at=None,
            cancel_reason=None,
        )
        uow.add_job(job)
        uow.accept(move, dest, job.id)
        return job

    return ExportJobOut.of(await write(ctx, project_id, work, if_match=if_match))


async def list_exports(
    project_id: str, *, active_only: bool, limit: int, cursor: str | None, ctx: Context
) -> Listed[ExportJobOut]:
    """Newest first."""
    query = select(ExportJob).where(ExportJob.project_id == project_id)
    if active_only:
        query = query.where(col(ExportJob.status).in_(ACTIVE_JOB_STATUSES))
    if cursor is not None:
        at, job_id = cursors_for(ctx.settings).after_moment(EXPORTS, project_id, cursor)
        query = query.where(
            or_(
                col(ExportJob.created_at) < at,
                and_(col(ExportJob.created_at) == at, col(ExportJob.id) < job_id),
            )
        )
    query = query.order_by(col(ExportJob.created_at).desc(), col(ExportJob.id).desc()).limit(limit + 1)
    async with ctx.db.read() as session:
        await visible_project(session, project_id, ctx.owner)
        rows = [ExportJobOut.of(job) for job in (await session.exec(query)).all()]
    page = rows[:limit]
    next_cursor = None
    if len(rows) > limit:
        next_cursor = cursors_for(ctx.settings).encode(
            EXPORTS, project_id, (page[-1].created_at, page[-1].id)
        )
    return Listed(page, next_cursor)


async def get_export(job_id: str, *, ctx: Context) -> ExportJobOut:
    async with ctx.db.read() as session:
        job = await session.get(ExportJob, job_id)
        if job is None:
            raise NotFound.export_job(job_id)
        if ctx.owner is not None:
            try:
                await visible_project(session, job.project_id, ctx.owner)
            except NotFound:
                raise NotFound.export_job(job_id) from None
    return ExportJobOut.of(job)


def _job_in(uow: UnitOfWork, job_id: str) -> JobRecord:
    job = uow.job(job_id)
    if job is None:
        raise NotFound.export_job(job_id)
    return job


def _refuse_finished(job: JobRecord) -> None:
    raise JobNotActive(f"The job is {job.status}: it takes no more reports.", job_status=job.status)


async def report_progress(job_id: str, *, progress: float, message: str | None, ctx: Context) -> ExportJobOut:
    async def work(uow: UnitOfWork) -> JobRecord:
        job = _job_in(uow, job_id)
        if job.status not in ACTIVE_JOB_STATUSES:
            _refuse_finished(job)
        new_progress = max(job.progress, progress)
        new_message = job.message if message is None else message
        if job.status == JobStatus.RUNNING and new_progress == job.progress and new_message == job.message:
            job.reported_at = uow.now  # a report all the same: it keeps the job from timing out
            return job
        job.status = JobStatus.RUNNING.value
        job.progress = new_progress
        job.message = new_message
        job.updated_at = job.reported_at = uow.now
        uow.touch()
        return job

    return ExportJobOut.of(await write(ctx, Target(job_id=job_id), work))


async def _next_video_version(uow: UnitOfWork, kind: str) -> int:
    params = {"project_id": uow.project.id, "kind": kind}
    highest = (await uow.conn.execute(HIGHEST_VIDEO_VERSION, params)).scalar_one()
    return (highest or 0) + 1


async def _succeed(uow: UnitOfWork, job: JobRecord, job_type: JobType, output_uri: str | None) -> None:
    kind = VIDEO_KIND_OF[job_type]
    video_id = new_id()
    video = {
        "id": video_id,
        "project_id": uow.project.id,
        "kind": kind.value,
        "version": await _next_video_version(uow, kind.value),
        "uri": output_uri,
        "job_id": job.id,
        "created_at": uow.now,
    }
    uow.stage(INSERT_VIDEO, video)
    job.output_video_id = video_id
    job.progress = 100.0
    if job_type is JobType.FRAMING:
        uow.project.working_video_id = video_id
        uow.project.final_video_id = None
        for other in uow.active_jobs:
            if other.type == JobType.OVERLAY and other.status in ACTIVE_JOB_STATUSES:
                other.status = JobStatus.SUPERSEDED.value
                other.message = SUPERSEDED_MESSAGE
                other.updated_at = other.finished_at = uow.now
    else:
        uow.project.final_video_id = video_id


def _end(uow: UnitOfWork, job: JobRecord, outcome: JobStatus, action: Action) -> tuple[Move, Status]:
    move = Move(action, JobType(job.type))
    dest = uow.decide(move)
    job.status = outcome.value
    job.updated_at = job.finished_at = uow.now
    return move, dest


async def finish_job(
    job_id: str,
    *,
    outcome: JobStatus,
    ctx: Context,
    output_uri: str | None = None,
    error: str | None = None,
    reason: str | None = None,
) -> ExportJobOut:
    """Succeed, fail (with `error`) or cancel (with an optional `reason`) a job. The same outcome
    again is answered with the job as it is."""

    async def work(uow: UnitOfWork) -> JobRecord:
        job = _job_in(uow, job_id)
        if job.status == outcome:
            return job
        if job.status not in ACTIVE_JOB_STATUSES:
            _refuse_finished(job)
        if outcome is JobStatus.SUCCEEDED:
            await _succeed(uow, job, JobType(job.type), output_uri)
        elif outcome is JobStatus.FAILED:
            job.error = error
        else:
            job.cancel_reason = reason
        move, dest = _end(uow, job, outcome, FINISH_ACTIONS[outcome])
        uow.accept(move, dest, job.id, reason=job.error if outcome is JobStatus.FAILED else job.cancel_reason)
        return job

    return ExportJobOut.of(await write(ctx, Target(job_id=job_id), work))


async def time_out_job(job_id: str, *, project_id: str, silent_since: datetime, ctx: Context) -> bool:
    """Fail an active job whose last report is older than `silent_since`; False where a report (or
    another replica's sweep) came first. Safe to run from every replica at once."""
    timeout = ctx.settings.job_timeout_s

    async def work(uow: UnitOfWork) -> bool:
        job = next((job for job in uow.active_jobs if job.id == job_id), None)
        if job is None or as_utc(job.reported_at) >= silent_since:
            return False
        job.error = f"Timed out: the worker sent no report for {timeout:g} seconds."
        move, dest = _end(uow, job, JobStatus.FAILED, Action.JOB_TIMED_OUT)
        uow.accept(move, dest, job.id)
        return True

    return await write(ctx, project_id, work)


async def silent_jobs(*, silent_since: datetime, limit: int, ctx: Context) -> list[tuple[str, str]]:
    """(job id, project id) of active jobs with no report since `silent_since`, oldest first."""
    query = (
        select(ExportJob.id, ExportJob.project_id)
        .where(col(ExportJob.status).in_(ACTIVE_JOB_STATUSES), col(ExportJob.reported_at) < silent_since)
        .order_by(col(ExportJob.reported_at))
        .limit(limit)
    )
    async with ctx.db.read() as session:
        return [(job_id, project_id) for job_id, project_id in (await session.exec(query)).all()]
