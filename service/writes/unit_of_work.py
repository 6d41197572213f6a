"""The unit of work: load a project's facts, ask the machine, and commit every change of it at once.

A write runs `work(uow)` inside one transaction. `work` reads what it needs, refuses by raising a
`DomainError`, or changes the loaded records, stages its new rows and calls `uow.accept(...)` (a
status decision) or `uow.touch()` (a change that moves no status). `save` then compares-and-sets
the project row on the version that was read, adds the history row when the status changed, and
writes the changed jobs and the staged rows. A write that lost a race (the version moved, a
unique key was taken meanwhile, the database said to retry) is rolled back and run again from
fresh facts; a change is announced only once it is committed.

Everything here is SQLAlchemy Core on the SQLModel tables, with statements built once
(service/write_statements.py): loading a project and its active jobs (and, for a worker's report,
the job it is about) is one statement.
"""

import asyncio
import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Executable
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from fsm import machine
from fsm.facts import Action, Facts, JobType, Move, status_from_facts
from fsm.jobs import ACTIVE_JOB_STATUSES, JobStatus
from fsm.status import Status
from service import metrics
from service.change import Change
from service.context import Context
from service.errors import (
    NotFound,
    PreconditionFailed,
    StatusDisagreement,
    TooContended,
    TransitionNotAllowed,
)
from service.store.cards import active_order
from service.store.db import begin_writes
from service.store.faults import is_retryable
from service.store.owners import visible_to
from service.store.records import (
    JOB_COLUMNS,
    PROJECT_COLUMNS,
    JobRecord,
    ProjectRecord,
    job_record,
    project_facts,
    project_record,
)
from service.store.tables import utcnow
from service.webhooks import outbox
from service.writes.preconditions import if_match_holds
from service.writes.statements import (
    COMPARE_AND_SET,
    DELETE_PROJECT,
    INSERT_HISTORY,
    INSERT_JOB,
    LOAD_BY_JOB,
    LOAD_BY_PROJECT,
    PROJECT_CHANGES,
    UPDATE_JOB,
    with_job_update,
)

T = TypeVar("T")
MAX_ATTEMPTS = 60
RETRY_STEP_S = 0.002
RETRY_STEPS = 10
"""A write that lost its race waits a random time up to RETRY_STEP_S × the attempt's number (at most
RETRY_STEPS of them) before it runs again, so that writers that collided spread out."""


class _LostRace(Exception):
    pass


def facts_of(project: ProjectRecord, active_jobs: Sequence[JobRecord]) -> Facts:
    return project_facts(
        framed_clips=project.framed_clip_count,
        working_video_id=project.working_video_id,
        final_video_id=project.final_video_id,
        active_types={job.type for job in active_jobs},
    )


def check_status(
    *, project: ProjectRecord, active_jobs: Sequence[JobRecord], claimed: Status, change: str, by: str
) -> None:
    """The cross-check of every write: the status about to be stored (the machine's destination, or
    the status an import derived: `by` says which) must be `status_from_facts` of the facts stored
    with it. A disagreement is a bug: counted, and the write refused."""
    oracle = status_from_facts(facts_of(project, active_jobs))
    if claimed is not oracle:
        metrics.status_disagreement()
        raise StatusDisagreement(
            f"{change} on project {project.id}: {by} says {claimed.value}, "
            f"the facts after it say {oracle.value}"
        )


@dataclass(slots=True)
class _Accepted:
    """A move the machine accepted, and where it leads."""

    action: Action
    dest: Status
    job_id: str | None
    reason: str | None


class UnitOfWork:
    """One attempt at one write to one project. `project` and the jobs are plain records: change
    them freely; `save` writes the project's columns with the version check, and the columns that
    changed of every job (only those: a report that changes nothing and so moves no version must
    not write back the other columns of a job that a concurrent write has just finished)."""

    def __init__(
        self,
        conn: AsyncConnection,
        project: ProjectRecord,
        jobs: list[JobRecord],
        if_match: str | None = None,
        any_webhook: bool = False,
        any_progress: bool = False,
    ) -> None:
        self.conn = conn
        self.any_webhook = any_webhook
        self.any_progress = any_progress
        self.project = project
        self.jobs = {job.id: job for job in jobs}
        self.active_jobs = sorted(
            (job for job in jobs if job.status in ACTIVE_JOB_STATUSES), key=active_order
        )
        self.read_version = project.version
        self.status = Status(project.status)
        self.now = utcnow()
        self._loaded = {job.id: job.state() for job in jobs}
        self._new_jobs: list[JobRecord] = []
        self._staged: list[tuple[Executable, dict[str, Any]]] = []
        self._accepted: _Accepted | None = None
        self._dirty = False
        self._deleted = False
        self._if_match = if_match
        self.actor: str | None = None

    @classmethod
    async def load(
        cls, conn: AsyncConnection, target: "Target", if_match: str | None = None, owner: str | None = None
    ) -> "UnitOfWork":
        """The project and its facts; a project of another owner is as unknown as a missing one."""
        if target.job_id is not None:
            rows = (await conn.execute(LOAD_BY_JOB, {"job_id": target.job_id})).all()
        else:
            rows = (await conn.execute(LOAD_BY_PROJECT, {"project_id": target.project_id})).all()
        if not rows or not visible_to(rows[0][2], owner):
            raise target.missing()
        at = len(PROJECT_COLUMNS)
        jobs = [job_record(row[at:]) for row in rows if row[at] is not None]
        first = rows[0]
        return cls(
            conn,
            project_record(first),
            jobs,
            if_match,
            any_webhook=bool(first[-2]),
            any_progress=bool(first[-1]),
        )

    @property
    def facts(self) -> Facts:
        return facts_of(self.project, self.active_jobs)

    @property
    def dirty(self) -> bool:
        return self._dirty

    def change(self) -> Change:
        """What this write changed, once saved: the value handed on after its commit."""
        project, now = self.project, self.now
        touched = [job for job in self.active_jobs if job.updated_at == now]
        still_active = [job for job in touched if job.status in ACTIVE_JOB_STATUSES]
        ended = [job for job in touched if job.status not in ACTIVE_JOB_STATUSES]
        ended.sort(key=lambda job: job.status == JobStatus.SUPERSEDED)
        accepted = self._accepted
        return Change(
            project_id=project.id,
            owner=project.owner,
            version_before=self.read_version,
            version_after=None if self._deleted else project.version,
            action=accepted.action if accepted else None,
            from_status=self.status,
            to_status=Status(project.status),
            at=now,
            actor=self.actor,
            job_id=accepted.job_id if accepted else None,
            started=tuple(job for job in still_active if job.created_at == now),
            reported=tuple(job for job in still_active if job.created_at != now),
            ended=tuple(ended),
        )

    def active_job(self, job_type: JobType) -> JobRecord | None:
        return next((job for job in self.active_jobs if job.type == job_type), None)

    def job(self, job_id: str) -> JobRecord | None:
        """A job of this project that was loaded: every active one, and the one a report is about."""
        return self.jobs.get(job_id)

    def _check_precondition(self) -> None:
        """A client's `If-Match` must name the version it read; checked when the request is about
        to change something, so an idempotent replay still answers as before."""
        if self._if_match is None:
            return
        if not if_match_holds(self._if_match, self.read_version):
            raise PreconditionFailed(
                f"The project is at version {self.read_version}, not the one If-Match names.",
                current_version=self.read_version,
            )
        self._if_match = None

    def decide(self, move: Move) -> Status:
        """The machine's destination for `move`, or 409 transition_not_allowed."""
        self._check_precondition()
        dest = machine.decide(self.status, self.facts, move)
        if dest is None:
            raise TransitionNotAllowed(
                f"{move.action.value} is not allowed while the project is {self.status.value}.",
                project_status=self.status.value,
                allowed_actions=[a.value for a in machine.allowed_actions(self.status, self.facts)],
            )
        return dest

    def add_job(self, job: JobRecord) -> None:
        """A new job of this project: inserted on save, and active from now on."""
        self._new_jobs.append(job)
        self.jobs[job.id] = job
        self.active_jobs.append(job)

    def stage(self, statement: Executable, params: dict[str, Any]) -> None:
        """A statement to run on save, after the project row's compare-and-set."""
        self._staged.append((statement, params))

    def accept(self, move: Move, dest: Status, job_id: str | None = None, reason: str | None = None) -> None:
        """Record that `move` was accepted and leads to `dest`; the caller has staged its effects."""
        self._accepted = _Accepted(move.action, dest, job_id, reason)
        self.touch()

    def touch(self) -> None:
        self._check_precondition()
        self._dirty = True

    def delete_project(self) -> None:
        self._check_precondition()
        self._deleted = True
        self._dirty = True

    async def save(self) -> None:
        """Compare-and-set the project row (when the work changed it),
        then write the history row, the jobs whose values changed and the staged rows.

        On PostgreSQL the update of a job, when one job changed, travels in the compare-and-set
        statement (a data-modifying CTE), and a write of that one statement runs without a
        transaction around it; on SQLite the writes travel with the COMMIT, each checked to
        change one row (`begin_writes`)."""
        project = self.project
        if self._deleted:
            await begin_writes(self.conn, alone=not self.any_webhook)
            params = {"project_id": project.id, "read_version": self.read_version}
            if (await self.conn.execute(DELETE_PROJECT, params)).rowcount != 1:
                raise _LostRace
            return
        job_changes = self._job_changes()
        history = self._settle() if self._dirty else None
        fold = self._dirty and self.conn.dialect.name == "postgresql" and len(job_changes) == 1
        statements = (
            int(self._dirty)
            + len(job_changes)
            - int(fold)
            + int(history is not None)
            + len(self._new_jobs)
            + len(self._staged)
        )
        await begin_writes(self.conn, alone=statements == 1 and not self.any_webhook)
        conn = self.conn
        if self._dirty:
            await self._compare_and_set(job_changes, fold=fold)
        if history is not None:
            await conn.execute(INSERT_HISTORY, history)
        for job in self._new_jobs:
            await conn.execute(INSERT_JOB, job.values())
        for job_id, changed in job_changes.items():
            await conn.execute(UPDATE_JOB, {"job_id": job_id, **changed})
        for statement, params in self._staged:
            await conn.execute(statement, params)

    def _job_changes(self) -> dict[str, dict[str, Any]]:
        """The changed columns of each loaded job that changed."""
        changes = {}
        for job_id, loaded in self._loaded.items():
            now = self.jobs[job_id].state()
            if now != loaded:
                changes[job_id] = {
                    name: new for name, old, new in zip(JOB_COLUMNS, loaded, now, strict=True) if new != old
                }
        return changes

    def _settle(self) -> dict[str, Any] | None:
        """The project row's new status, version and time; the history row when the status moved."""
        project = self.project
        new_status = self._accepted.dest if self._accepted else self.status
        remaining_active = [job for job in self.active_jobs if job.status in ACTIVE_JOB_STATUSES]
        action = self._accepted.action.value if self._accepted else "a change"
        check_status(
            project=project, active_jobs=remaining_active, claimed=new_status, change=action, by="the machine"
        )
        project.status = new_status.value
        project.version = self.read_version + 1
        project.updated_at = self.now
        if not self._accepted or new_status is self.status:
            return None
        return {
            "project_id": project.id,
            "at": self.now,
            "action": self._accepted.action.value,
            "from_status": self.status.value,
            "to_status": new_status.value,
            "job_id": self._accepted.job_id,
            "actor": self.actor,
            "reason": self._accepted.reason,
        }

    async def _compare_and_set(self, job_changes: dict[str, dict[str, Any]], *, fold: bool) -> None:
        """With `fold` (PostgreSQL, one job changed), the job's update travels with the
        compare-and-set in one statement (`with_job_update`) and is taken off `job_changes`. Its
        row count is the job's: zero when the compare-and-set missed (a job row of a live project
        is never deleted, so that is the only way to miss it)."""
        project = self.project
        values = {name: getattr(project, name) for name in PROJECT_CHANGES}
        params = {"project_id": project.id, "read_version": self.read_version, **values}
        statement: Executable = COMPARE_AND_SET
        if fold:
            job_id, changed = job_changes.popitem()
            statement = with_job_update(tuple(changed))
            params = {
                "cas_project_id": project.id,
                "cas_read_version": self.read_version,
                **{f"project_{name}": value for name, value in values.items()},
                "job_id": job_id,
                **{f"job_{name}": value for name, value in changed.items()},
            }
        if (await self.conn.execute(statement, params)).rowcount != 1:
            raise _LostRace


@dataclass(frozen=True, slots=True)
class Target:
    """The project a write is about: named directly, or as the project of an export job (one
    statement loads the job, its project and the project's active jobs)."""

    project_id: str | None = None
    job_id: str | None = None

    def missing(self) -> NotFound:
        return NotFound.export_job(self.job_id) if self.job_id else NotFound.project(str(self.project_id))


async def write(
    ctx: Context,
    target: str | Target,
    work: Callable[[UnitOfWork], Awaitable[T]],
    *,
    if_match: str | None = None,
) -> T:
    """Run `work` on the target project (an id, or a `Target`) in a transaction until it commits
    without losing a race."""
    target = Target(project_id=target) if isinstance(target, str) else target
    for attempt in range(MAX_ATTEMPTS):
        try:
            async with ctx.db.writing(reads_first=True) as conn:
                uow = await UnitOfWork.load(conn, target, if_match, ctx.owner)
                uow.actor = ctx.actor
                result = await work(uow)
                await uow.save()
                change = uow.change() if uow.dirty else None
                staged = False
                if change is not None and uow.any_webhook:
                    staged = await outbox.stage(
                        conn, change, settings=ctx.settings, progress_wanted=uow.any_progress
                    )
        except (_LostRace, IntegrityError):
            pass
        except DBAPIError as exc:
            if not is_retryable(exc):
                raise
        else:
            if change is not None:
                await committed(ctx, change, staged=staged)
            return result
        metrics.write_conflict()
        await asyncio.sleep(random.uniform(0, RETRY_STEP_S * min(attempt + 1, RETRY_STEPS)))
    raise TooContended(f"The project changed under every one of {MAX_ATTEMPTS} attempts; try again.")


async def committed(ctx: Context, change: Change, *, staged: bool) -> None:
    """After a change's commit: count it, announce it to the event streams (this process's at
    once, other processes' on PostgreSQL by the announcer's next `pg_notify`) and wake the webhook
    dispatcher when the change staged deliveries."""
    metrics.change_committed(change)
    ctx.events.committed(change.project_id, change.version_after, change.owner)
    if staged:
        ctx.webhook_wake.set()
