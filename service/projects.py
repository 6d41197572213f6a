"""Projects: create, read one or a page of cards, delete, and the status history."""

import base64
import binascii
import json
from dataclasses import asdict
from datetime import datetime

from sqlalchemy import insert
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from fsm.facts import Action
from fsm.table import INITIAL
from service import metrics
from service.context import Context
from service.db import Database
from service.errors import NotFound, ProjectBusy, ValidationFailed
from service.reading import card_of_project, cards_of, page_statement, read_card, visible_to
from service.records import PROJECT, ProjectRecord
from service.schemas import HistoryEntry, ProjectOut, ProjectPage, as_utc
from service.tables import Project, StatusChange, is_id, new_id, utcnow
from service.unit_of_work import UnitOfWork, announce, write
from service.webhooks import outbox
from service.write_statements import INSERT_HISTORY

INSERT_PROJECT = insert(PROJECT)
PAGE_LIMIT_DEFAULT = 50
PAGE_LIMIT_MAX = 200


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
    async with ctx.db.writing() as conn:
        await conn.execute(INSERT_PROJECT, asdict(project))
        await conn.execute(INSERT_HISTORY, history)
        await ctx.events.stage(conn, project.id, project.version, project.owner)
        staged = await outbox.stage_created(conn, project, created, ctx=ctx)
    metrics.project_created()
    await announce(ctx, project.id, project.version, project.owner, staged=staged)
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


def _encode_cursor(project: ProjectOut) -> str:
    raw = json.dumps([project.created_at.isoformat(), project.id]).encode()
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


async def list_projects(*, status: str | None, limit: int, cursor: str | None, ctx: Context) -> ProjectPage:
    params: dict[str, object] = {"limit": limit + 1, "owner": ctx.owner, "status": status}
    if cursor is not None:
        params["after_at"], params["after_id"] = _decode_cursor(cursor)
    query = page_statement(owner=ctx.owner is not None, status=status, after=cursor is not None)
    async with ctx.db.reading() as conn:
        rows = (await conn.execute(query, params)).all()
    items = cards_of(rows)
    page = items[:limit]
    return ProjectPage(items=page, next_cursor=_encode_cursor(page[-1]) if len(items) > limit else None)


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
