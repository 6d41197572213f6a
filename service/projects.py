"""Projects: create, read one or a page of cards, delete, and the status history."""

import base64
import binascii
import json
from datetime import datetime

from sqlmodel import and_, col, or_, select
from sqlmodel.ext.asyncio.session import AsyncSession

from fsm.facts import Action
from fsm.status import EXPORTING, EXPORTING_CHILDREN
from fsm.table import INITIAL
from service.cards import card, cards
from service.context import Context
from service.db import Database
from service.errors import NotFound, ProjectBusy, ValidationFailed
from service.schemas import HistoryEntry, ProjectOut, ProjectPage, as_utc
from service.tables import Project, StatusChange, is_id, new_id, utcnow
from service.unit_of_work import UnitOfWork, visible_to, write


async def create_project(name: str, *, ctx: Context) -> ProjectOut:
    if not name.strip():
        raise ValidationFailed("name must contain something other than white space.")
    now = utcnow()
    project = Project(
        id=new_id(), name=name, owner=ctx.owner, status=INITIAL.value, created_at=now, updated_at=now
    )
    async with ctx.db.writing() as session:
        session.add(project)
        session.add(
            StatusChange(
                project_id=project.id, at=now, action=Action.PROJECT_CREATED.value, to_status=INITIAL.value
            )
        )
        await ctx.events.stage(session, project.id, project.version, project.owner)
    await ctx.events.committed(project.id, project.version, project.owner)
    return card(project, [], {})


async def visible_project(session: AsyncSession, project_id: str, owner: str | None) -> Project:
    """The project, or 404 where it does not exist or belongs to another client."""
    project = await session.get(Project, project_id)
    if project is None or not visible_to(project, owner):
        raise NotFound(f"No project with id {project_id!r}.")
    return project


async def find_project(project_id: str, *, db: Database, owner: str | None = None) -> ProjectOut | None:
    async with db.read() as session:
        project = await session.get(Project, project_id)
        if project is None or not visible_to(project, owner):
            return None
        return (await cards(session, [project]))[0]


async def get_project(project_id: str, *, ctx: Context) -> ProjectOut:
    found = await find_project(project_id, db=ctx.db, owner=ctx.owner)
    if found is None:
        raise NotFound(f"No project with id {project_id!r}.")
    return found


def _encode_cursor(project: Project) -> str:
    raw = json.dumps([as_utc(project.created_at).isoformat(), project.id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        created_at, project_id = json.loads(raw)
        moment = as_utc(datetime.fromisoformat(created_at))
        if not isinstance(project_id, str) or not is_id(project_id):
            raise TypeError(project_id)
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError):
        raise ValidationFailed("cursor is not one this service gave out.") from None
    return moment, project_id


async def list_projects(status: str | None, limit: int, cursor: str | None, *, ctx: Context) -> ProjectPage:
    query = select(Project)
    if ctx.owner is not None:
        query = query.where(Project.owner == ctx.owner)
    if status == EXPORTING:
        query = query.where(col(Project.status).in_([s.value for s in EXPORTING_CHILDREN]))
    elif status is not None:
        query = query.where(Project.status == status)
    if cursor is not None:
        after_at, after_id = _decode_cursor(cursor)
        query = query.where(
            or_(
                col(Project.created_at) < after_at,
                and_(col(Project.created_at) == after_at, col(Project.id) < after_id),
            )
        )
    query = query.order_by(col(Project.created_at).desc(), col(Project.id).desc()).limit(limit + 1)
    async with ctx.db.read() as session:
        projects = list((await session.exec(query)).all())
        page = projects[:limit]
        items = await cards(session, page)
    return ProjectPage(items=items, next_cursor=_encode_cursor(page[-1]) if len(projects) > limit else None)


async def delete_project(project_id: str, *, ctx: Context, if_match: str | None = None) -> None:
    async def work(uow: UnitOfWork) -> None:
        if uow.active_jobs:
            raise ProjectBusy(
                "A project cannot be deleted while an export is active; cancel it first.",
                job_id=uow.active_jobs[0].id,
            )
        uow.delete_project()

    await write(ctx, project_id, work, if_match=if_match)


async def project_history(project_id: str, *, ctx: Context) -> list[HistoryEntry]:
    async with ctx.db.read() as session:
        await visible_project(session, project_id, ctx.owner)
        rows = await session.exec(
            select(StatusChange).where(StatusChange.project_id == project_id).order_by(col(StatusChange.id))
        )
        return [HistoryEntry.of(row) for row in rows.all()]
