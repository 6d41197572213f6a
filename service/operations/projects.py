"""Projects: create, read one or a page of cards, delete, and the status history."""

from dataclasses import asdict

from sqlalchemy import insert
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from fsm.facts import Action
from fsm.table import INITIAL
from service.change import Change
from service.context import Context
from service.cursors import Listed, cursors_for
from service.errors import NotFound, ProjectBusy, ValidationFailed
from service.schemas import HistoryEntry, ProjectOut, ProjectPage
from service.store.cards import card_of_project, cards_of, page_statement, read_card
from service.store.db import Database
from service.store.owners import visible_to
from service.store.records import PROJECT, ProjectRecord
from service.store.tables import Project, StatusChange, new_id, utcnow
from service.webhooks import outbox
from service.writes.statements import INSERT_HISTORY
from service.writes.unit_of_work import UnitOfWork, committed, write

INSERT_PROJECT = insert(PROJECT)
PROJECTS = "projects"
HISTORY = "history"


async def create_project(*, name: str, ctx: Context) -> ProjectOut:
    if not name.strip():
        raise ValidationFailed("name must contain something other than white space.")
    now = utcnow()
    project = ProjectRecord(
        id=new_id(),
        name=name,
        owner=ctx.owner,
        status=INITIAL.value,
        version=1,
        clip_count=0,
        framed_clip_count=0,
        working_video_id=None,
        final_video_id=None,
        created_at=now,
        updated_at=now,
    )
    history = {
        "project_id": project.id,
        "at": now,
        "action": Action.PROJECT_CREATED.value,
        "from_status": None,
        "to_status": INITIAL.value,
        "actor": ctx.actor,
        "reason": None,
    }
    created = card_of_project(project)
    change = Change(
        project.id, project.owner, 0, project.version, Action.PROJECT_CREATED, None, INITIAL, now, ctx.actor
    )
    async with ctx.db.writing() as conn:
        await conn.execute(INSERT_PROJECT, asdict(project))
        await conn.execute(INSERT_HISTORY, history)
        staged = await outbox.any_endpoint(conn) and await outbox.stage(
            conn, change, settings=ctx.settings, card=created
        )
    await committed(ctx, change, staged=staged)
    return created


async def visible_project(session: AsyncSession, project_id: str, owner: str | None) -> Project:
    """The project, or 404 where it does not exist or belongs to another client."""
    project = await session.get(Project, project_id)
    if project is None or not visible_to(project.owner, owner):
        raise NotFound.project(project_id)
    return project


async def find_project(project_id: str, *, db: Database, owner: str | None = None) -> ProjectOut | None:
    """The card, or None where the project does not exist or belongs to another client."""
    async with db.reading() as conn:
        return await read_card(conn, project_id, owner)


async def get_project(project_id: str, *, db: Database, owner: str | None) -> ProjectOut:
    """As `find_project`, with 404 for None."""
    found = await find_project(project_id, db=db, owner=owner)
    if found is None:
        raise NotFound.project(project_id)
    return found


async def list_projects(*, status: str | None, limit: int, cursor: str | None, ctx: Context) -> ProjectPage:
    params: dict[str, object] = {"limit": limit + 1, "owner": ctx.owner, "status": status}
    if cursor is not None:
        params["after_at"], params["after_id"] = cursors_for(ctx.settings).after_moment(PROJECTS, "", cursor)
    query = page_statement(owner=ctx.owner is not None, status=status, after=cursor is not None)
    async with ctx.db.reading() as conn:
        rows = (await conn.execute(query, params)).all()
    items = cards_of(rows)
    page = items[:limit]
    next_cursor = None
    if len(items) > limit:
        next_cursor = cursors_for(ctx.settings).encode(PROJECTS, "", (page[-1].created_at, page[-1].id))
    return ProjectPage(items=page, next_cursor=next_cursor)


async def delete_project(project_id: str, *, ctx: Context, if_match: str | None = None) -> None:
    async def work(uow: UnitOfWork) -> None:
        if uow.active_jobs:
            raise ProjectBusy(
                "A project cannot be deleted while an export is active; cancel it first.",
                job_id=uow.active_jobs[0].id,
            )
        uow.delete_project()

    await write(ctx, project_id, work, if_match=if_match)


async def project_history(
    project_id: str, *, limit: int, cursor: str | None, ctx: Context
) -> Listed[HistoryEntry]:
    """Oldest first, by the rows' own sequence."""
    query = select(StatusChange).where(StatusChange.project_id == project_id)
    if cursor is not None:
        after = cursors_for(ctx.settings).after_number(HISTORY, project_id, cursor)
        query = query.where(col(StatusChange.id) > after)
    async with ctx.db.read() as session:
        await visible_project(session, project_id, ctx.owner)
        rows = list((await session.exec(query.order_by(col(StatusChange.id)).limit(limit + 1))).all())
    page = rows[:limit]
    next_cursor = None
    if len(rows) > limit:
        next_cursor = cursors_for(ctx.settings).encode(HISTORY, project_id, page[-1].id or 0)
    return Listed([HistoryEntry.of(row) for row in page], next_cursor)
