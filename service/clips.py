"""Clips: add, change, remove and list; each edit moves the project through the machine."""

from typing import Any

from sqlmodel import col, select

from fsm.facts import Action, Move
from service.context import Context
from service.errors import NotFound, ValidationFailed
from service.projects import visible_project
from service.schemas import ClipOut
from service.tables import Clip
from service.unit_of_work import UnitOfWork, write

MAX_CROP_DATA_DEPTH = 32


def _depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    return 0


def _check_crop_data(crop_data: dict[str, Any] | None) -> None:
    if crop_data is not None and _depth(crop_data) > MAX_CROP_DATA_DEPTH:
        raise ValidationFailed(f"crop_data is nested deeper than {MAX_CROP_DATA_DEPTH} levels.")


def _clip_move(uow: UnitOfWork, action: Action, clip_id: str, framed_delta: int, count_delta: int) -> None:
    project = uow.project
    project.clip_count += count_delta
    project.framed_clip_count += framed_delta
    move = Move(action, framed_clip_after=project.framed_clip_count > 0)
    uow.move(move, uow.decide(move))


async def _clip_of(uow: UnitOfWork, clip_id: str) -> Clip:
    clip = (
        await uow.session.exec(select(Clip).where(Clip.id == clip_id, Clip.project_id == uow.project.id))
    ).one_or_none()
    if clip is None:
        raise NotFound(f"No clip with id {clip_id!r} in project {uow.project.id!r}.")
    return clip


async def add_clip(
    project_id: str, crop_data: dict[str, Any] | None, *, ctx: Context, if_match: str | None = None
) -> ClipOut:
    _check_crop_data(crop_data)

    async def work(uow: UnitOfWork) -> Clip:
        clip = Clip(project_id=project_id, crop_data=crop_data, created_at=uow.now, updated_at=uow.now)
        uow.add(clip)
        _clip_move(uow, Action.CLIP_ADDED, clip.id, framed_delta=int(crop_data is not None), count_delta=1)
        return clip

    return ClipOut.of(await write(ctx, project_id, work, if_match=if_match))


async def change_clip(
    project_id: str,
    clip_id: str,
    crop_data: dict[str, Any] | None,
    *,
    ctx: Context,
    if_match: str | None = None,
) -> ClipOut:
    _check_crop_data(crop_data)

    async def work(uow: UnitOfWork) -> Clip:
        clip = await _clip_of(uow, clip_id)
        framed_delta = int(crop_data is not None) - int(clip.crop_data is not None)
        clip.crop_data = crop_data
        clip.updated_at = uow.now
        _clip_move(uow, Action.CLIP_CHANGED, clip.id, framed_delta=framed_delta, count_delta=0)
        return clip

    return ClipOut.of(await write(ctx, project_id, work, if_match=if_match))


async def remove_clip(project_id: str, clip_id: str, *, ctx: Context, if_match: str | None = None) -> None:
    async def work(uow: UnitOfWork) -> None:
        clip = await _clip_of(uow, clip_id)
        await uow.session.delete(clip)
        _clip_move(
            uow, Action.CLIP_REMOVED, clip.id, framed_delta=-int(clip.crop_data is not None), count_delta=-1
        )

    await write(ctx, project_id, work, if_match=if_match)


async def list_clips(project_id: str, *, ctx: Context) -> list[ClipOut]:
    async with ctx.db.read() as session:
        await visible_project(session, project_id, ctx.owner)
        rows = await session.exec(
            select(Clip).where(Clip.project_id == project_id).order_by(col(Clip.created_at), col(Clip.id))
        )
        return [ClipOut.of(clip) for clip in rows.all()]
