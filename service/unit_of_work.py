"""The unit of work: load a project's facts, ask the machine, and commit every change of it at once.

A write runs `work(uow)` inside one transaction. `work` reads what it needs, refuses by raising a
`DomainError`, or stages its row changes and calls `uow.move(...)` (a status decision) or
`uow.touch()` (a change that moves no status). `save` then compares-and-sets the project row on the
version that was read, adds the history row when the status changed, flushes the staged rows and
commits. A write that lost a race (the version moved, a unique key was taken meanwhile, the
database said to retry) is rolled back and run again from fresh facts; a change is announced only
once it is committed.
"""

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import delete, update
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from sqlmodel.sql.expression import SelectOfScalar

from fsm.facts import ACTIVE_JOB_STATUSES, Action, Facts, JobType, Move, status_from_facts
from fsm.machine import allowed_actions, decide
from fsm.status import Status
from service.context import Context
from service.errors import NotFound, PreconditionFailed, TooContended, TransitionNotAllowed
from service.tables import ExportJob, Project, StatusChange, utcnow

T = TypeVar("T")
MAX_ATTEMPTS = 60
log = logging.getLogger("framestate")


class _LostRace(Exception):
    pass


def active_jobs_order(job: ExportJob) -> tuple[bool, datetime, str]:
    """Framing first, then oldest first: the order of a card's `active_exports`."""
    return (job.type != JobType.FRAMING, job.created_at, job.id)


def visible_to(project: Project, owner: str | None) -> bool:
    """With auth on, a client (`owner`) sees only its own projects; without it (None), all."""
    return owner is None or project.owner == owner


def facts_of(project: Project, active_jobs: list[ExportJob]) -> Facts:
    return Facts(
        active_framing=any(job.type == JobType.FRAMING for job in active_jobs),
        active_overlay=any(job.type == JobType.OVERLAY for job in active_jobs),
        final_video=project.final_video_id is not None,
        working_video=project.working_video_id is not None,
        framed_clip=project.framed_clip_count > 0,
    )


async def load_active_jobs(session: AsyncSession, project_ids: list[str]) -> list[ExportJob]:
    if not project_ids:
        return []
    result = await session.exec(
        select(ExportJob).where(
            col(ExportJob.project_id).in_(project_ids), col(ExportJob.status).in_(ACTIVE_JOB_STATUSES)
        )
    )
    return sorted(result.all(), key=active_jobs_order)


@dataclass(slots=True)
class _Move:
    action: Action
    dest: Status
    job_id: str | None


class UnitOfWork:
    """One attempt at one write to one project. `project` is detached: change it freely, `save`
    writes its columns with the version check."""

    def __init__(
        self,
        session: AsyncSession,
        project: Project,
        active_jobs: list[ExportJob],
        if_match: str | None = None,
    ) -> None:
        self.session = session
        self.project = project
        self.active_jobs = active_jobs
        self.read_version = project.version
        self.status = Status(project.status)
        self.now = utcnow()
        self._move: _Move | None = None
        self._dirty = False
        self._deleted = False
        self._if_match = if_match

    @classmethod
    async def load(
        cls, session: AsyncSession, target: "Target", if_match: str | None = None, owner: str | None = None
    ) -> "UnitOfWork":
        """The project and its facts; a project of another owner is as unknown as a missing one."""
        project = (await session.exec(target.query())).one_or_none()
        if project is None or not visible_to(project, owner):
            raise NotFound(target.missing())
        session.expunge(project)
        return cls(session, project, await load_active_jobs(session, [project.id]), if_match)

    @property
    def facts(self) -> Facts:
        return facts_of(self.project, self.active_jobs)

    @property
    def dirty(self) -> bool:
        return self._dirty

    @property
    def announced_version(self) -> int | None:
        """The version the change is announced with; None when the project was deleted."""
        return None if self._deleted else self.project.version

    def active_job(self, job_type: JobType) -> ExportJob | None:
        return next((job for job in self.active_jobs if job.type == job_type), None)

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
        dest = decide(self.status, self.facts, move)
        if dest is None:
            raise TransitionNotAllowed(
                f"{move.action.value} is not allowed while the project is {self.status.value}.",
                project_status=self.status.value,
                allowed_actions=[a.value for a in allowed_actions(self.status, self.facts)],
            )
        return dest

    def add(self, row: Any) -> None:
        self.session.add(row)

    def move(self, move: Move, dest: Status, job_id: str | None = None) -> None:
        """Record that `move` was accepted and leads to `dest`; the caller has staged its effects."""
        self._move = _Move(move.action, dest, job_id)
        self.touch()

    def touch(self) -> None:
        self._check_precondition()
        self._dirty = True

    def delete_project(self) -> None:
        self._check_precondition()
        self._deleted = True
        self._dirty = True

    async def save(self) -> None:
        """Compare-and-set the project row, then write the history row and the staged rows."""
        project = self.project
        if self._deleted:
            removal = delete(Project).where(
                col(Project.id) == project.id, col(Project.version) == self.read_version
            )
            if (await self.session.exec(removal)).rowcount != 1:
                raise _LostRace
            return
        new_status = self._move.dest if self._move else self.status
        remaining_active = [job for job in self.active_jobs if job.status in ACTIVE_JOB_STATUSES]
        oracle = status_from_facts(facts_of(project, remaining_active))
        if new_status is not oracle:
            log.error("machine said %s but the facts say %s for project %s", new_status, oracle, project.id)
            new_status = oracle
        project.status = new_status.value
        project.version = self.read_version + 1
        project.updated_at = self.now
        values = {
            "status": project.status,
            "version": project.version,
            "updated_at": project.updated_at,
            "clip_count": project.clip_count,
            "framed_clip_count": project.framed_clip_count,
            "working_video_id": project.working_video_id,
            "final_video_id": project.final_video_id,
        }
        cas = (
            update(Project)
            .where(col(Project.id) == project.id, col(Project.version) == self.read_version)
            .values(**values)
        )
        if (await self.session.exec(cas)).rowcount != 1:
            raise _LostRace
        if self._move and new_status is not self.status:
            self.session.add(
                StatusChange(
                    project_id=project.id,
                    at=self.now,
                    action=self._move.action.value,
                    from_status=self.status.value,
                    to_status=new_status.value,
                    job_id=self._move.job_id,
                )
            )
        await self.session.flush()


def etag(version: int) -> str:
    return f'"{version}"'


def if_match_holds(header: str, version: int) -> bool:
    """RFC 9110 If-Match against the project's current version (`*`, or a list of entity tags)."""
    tags = [tag.strip() for tag in header.split(",")]
    return "*" in tags or etag(version) in tags


@dataclass(frozen=True, slots=True)
class Target:
    """The project a write is about: named directly, or as the project of an export job (one join
    instead of a separate read of the job first)."""

    project_id: str | None = None
    job_id: str | None = None

    def query(self) -> SelectOfScalar[Project]:
        if self.job_id is not None:
            return (
                select(Project)
                .join(ExportJob, col(ExportJob.project_id) == col(Project.id))
                .where(ExportJob.id == self.job_id)
            )
        return select(Project).where(Project.id == self.project_id)

    def missing(self) -> str:
        return (
            f"No export job with id {self.job_id!r}."
            if self.job_id
            else f"No project with id {self.project_id!r}."
        )


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
            async with ctx.db.writing() as session:
                with session.no_autoflush:
                    uow = await UnitOfWork.load(session, target, if_match, ctx.owner)
                    result = await work(uow)
                    if uow.dirty:
                        await uow.save()
                        await ctx.events.stage(
                            session, uow.project.id, uow.announced_version, uow.project.owner
                        )
        except (_LostRace, IntegrityError):
            pass
        except DBAPIError as exc:
            if not _is_retryable(exc):
                raise
        else:
            if uow.dirty:
                await ctx.events.committed(uow.project.id, uow.announced_version, uow.project.owner)
            return result
        await asyncio.sleep(random.uniform(0, 0.002 * min(attempt + 1, 10)))
    raise TooContended(f"The project changed under every one of {MAX_ATTEMPTS} attempts; try again.")


def _is_retryable(exc: DBAPIError) -> bool:
    """Lock waits and conflicts that a fresh attempt resolves: SQLite's busy database, PostgreSQL's
    deadlock and serialization failures."""
    code = getattr(exc.orig, "sqlstate", None) or getattr(
        getattr(exc.orig, "__cause__", None), "sqlstate", None
    )
    return code in ("40001", "40P01") or "database is locked" in str(exc.orig)
