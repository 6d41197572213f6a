"""Clips: add, change, remove and list; each edit moves the project through the machine."""

from typing import Any

import msgspec
from sqlalchemy import and_, bindparam, delete, insert, or_, update
from sqlalchemy import select as core_select
from sqlmodel import col, select

from fsm.facts import Action, Move
from service.context import Context
from service.cursors import Listed, cursors_for
from service.errors import LimitReached, NotFound, ValidationFailed
from service.limits import MAX_CLIPS_PER_PROJECT, MAX_CROP_DATA_BYTES
from service.operations.projects import visible_project
from service.schemas import ClipOut
from service.store.records import CLIP, CLIP_COLUMNS, ClipRecord, clip_record
from service.store.tables import Clip, new_id
from service.writes.unit_of_work import UnitOfWork, write

CLIP_OF_PROJECT = core_select(*(CLIP.c[name] for name in CLIP_COLUMNS)).where(
    CLIP.c.id == bindparam("clip_id"), CLIP.c.project_id == bindparam("project_id")
)
INSERT_CLIP = insert(CLIP)
UPDATE_CLIP = update(CLIP).where(CLIP.c.id == bindparam("clip_id"))
DELETE_CLIP = delete(CLIP).where(CLIP.c.id == bindparam("clip_id"))
CLIPS = "clips"


def _check_crop_data(crop_data: dict[str, Any] | None) -> None:
    if crop_data is None:
        return
    if len(msgspec.json.encode(crop_data)) > MAX_CROP_DATA_BYTES:
        raise ValidationFailed(
            f"crop_data is longer than {MAX_CROP_DATA_BYTES // 1024} KiB as JSON text.",
            limit=MAX_CROP_DATA_BYTES,
        )


def _clip_move(uow: UnitOfWork, action: Action, *, framed_delta: int, count_delta: int) -> None:
    project = uow.project
    project.clip_count += count_delta
    project.framed_clip_count += framed_delta
    move = Move(action, framed_clip_after=project.framed_clip_count > 0)
    uow.accept(move, uow.decide(move))


async def _clip_of(uow: UnitOfWork, clip_id: str) -> ClipRecord:
    params = {"clip_id": clip_id, "project_id": uow.project.id}
    row = (await uow.conn.execute(CLIP_OF_PROJECT, params)).one_or_none()
    if row is None:
        raise NotFound(f"No clip with id {clip_id!r} in project {uow.project.id!r}.")
    return clip_record(row)


async def add_clip(
    project_id: str, *, crop_data: dict[str, Any] | None, ctx: Context, if_match: str | None = None
) -> ClipOut:
    _check_crop_data(crop_data)

    async def work(uow: UnitOfWork) -> ClipRecord:
        if uow.project.clip_count >= MAX_CLIPS_PER_PROJECT:
            raise LimitReached(
                f"A project holds at most {MAX_CLIPS_PER_PROJECT} clips; remove one first.",
                limit=MAX_CLIPS_PER_PROJECT,
            )
        clip = ClipRecord(new_id(), uow.project.id, crop_data, uow.now, uow.now)
        uow.stage(INSERT_CLIP, {name: getattr(clip, name) for name in CLIP_COLUMNS})
        _clip_move(uow, Action.CLIP_ADDED, framed_delta=int(crop_data is not None), count_delta=1)
        return clip

    return ClipOut.of(await write(ctx, project_id, work, if_match=if_match))


async def change_clip(
    project_id: str,
    clip_id: str,
    *,
    crop_data: dict[str, Any] | None,
    ctx: Context,
    if_match: str | None = None,
) -> ClipOut:
    _check_crop_data(crop_data)

    async def work(uow: UnitOfWork) -> ClipRecord:
        clip = await _clip_of(uow, clip_id)
        framed_delta = int(crop_data is not None) - int(clip.crop_data is not None)
        clip.crop_data = crop_data
        clip.updated_at = uow.now
        uow.stage(UPDATE_CLIP, {"clip_id": clip.id, "crop_data": crop_data, "updated_at": uow.now})
        _clip_move(uow, Action.CLIP_CHANGED, framed_delta=framed_delta, count_delta=0)
        return clip

    return ClipOut.of(await write(ctx, project_id, work, if_match=if_match))


async def remove_clip(project_id: str, clip_id: str, *, ctx: Context, if_match: str | None = None) -> None:
    async def work(uow: UnitOfWork) -> None:
        clip = await _clip_of(uow, clip_id)
        uow.stage(DELETE_CLIP, {"clip_id": clip.id})
        _clip_move(uow, Action.CLIP_REMOVED, framed_delta=-int(clip.crop_data is not None), count_delta=-1)

    await write(ctx, project_id, work, if_match=if_match)


async def list_clips(project_id: str, *, limit: int, cursor: str | None, ctx: Context) -> Listed[ClipOut]:
    """Oldest first."""
    query = select(Clip).where(Clip.project_id == project_id)
    if cursor is not None:
        at, clip_id = cursors_for(ctx.settings).after_moment(CLIPS, project_id, cursor)
        query = query.where(
            or_(col(Clip.created_at) > at, and_(col(Clip.created_at) == at, col(Clip.id) > clip_id))
        )
    query = query.order_by(col(Clip.created_at), col(Clip.id)).limit(limit + 1)
    async with ctx.db.read() as session:
        await visible_project(session, project_id, ctx.owner)
        rows = [ClipOut.of(clip) for clip in (await session.exec(query)).all()]
    page = rows[:limit]
    next_cursor = None
    if len(rows) > limit:
        next_cursor = cursors_for(ctx.settings).encode(CLIPS, project_id, (page[-1].created_at, page[-1].id))
    return Listed(page, next_cursor)
