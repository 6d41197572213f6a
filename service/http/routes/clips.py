"""Clips: add, change, remove and list the clips of a project."""

from typing import Any

from litestar import Request, Response, delete, get, patch, post
from litestar.handlers import HTTPRouteHandler
from litestar.params import FromPath, JSONBody

from service.http.auth import CLIENTS
from service.http.dependencies import Ctx
from service.http.openapi import BODY, PAGED, WRITE, documented
from service.http.routes.params import Cursor, IfMatch, ListLimit, paged
from service.limits import LIST_PAGE_DEFAULT
from service.operations import clips
from service.schemas import (
    ClipOut,
    ClipWrite,
)


@post(
    "/v1/projects/{project_id:str}/clips",
    opt=CLIENTS,
    **documented(
        "addClip",
        "clips",
        "Add a clip",
        errors=(*BODY, "not_found", "limit_reached", "precondition_failed", *WRITE),
    ),
)
async def add_clip(
    project_id: FromPath[str], data: JSONBody[ClipWrite], ctx: Ctx, if_match: IfMatch = None
) -> ClipOut:
    return await clips.add_clip(project_id, crop_data=data.crop_data, ctx=ctx, if_match=if_match)


@patch(
    "/v1/projects/{project_id:str}/clips/{clip_id:str}",
    opt=CLIENTS,
    **documented(
        "changeClip",
        "clips",
        "Change a clip's crop data",
        errors=(*BODY, "not_found", "precondition_failed", *WRITE),
    ),
)
async def change_clip(
    project_id: FromPath[str],
    clip_id: FromPath[str],
    data: JSONBody[ClipWrite],
    ctx: Ctx,
    if_match: IfMatch = None,
) -> ClipOut:
    return await clips.change_clip(project_id, clip_id, crop_data=data.crop_data, ctx=ctx, if_match=if_match)


@delete(
    "/v1/projects/{project_id:str}/clips/{clip_id:str}",
    opt=CLIENTS,
    **documented("removeClip", "clips", "Remove a clip", errors=("not_found", "precondition_failed", *WRITE)),
)
async def remove_clip(
    project_id: FromPath[str], clip_id: FromPath[str], ctx: Ctx, if_match: IfMatch = None
) -> None:
    await clips.remove_clip(project_id, clip_id, ctx=ctx, if_match=if_match)


@get(
    "/v1/projects/{project_id:str}/clips",
    opt=CLIENTS,
    response_headers=PAGED,
    **documented(
        "listClips",
        "clips",
        "List the clips of a project, oldest first",
        errors=("validation_error", "not_found"),
    ),
)
async def list_clips(
    project_id: FromPath[str],
    ctx: Ctx,
    request: Request[Any, Any, Any],
    limit: ListLimit = LIST_PAGE_DEFAULT,
    cursor: Cursor = None,
) -> Response[list[ClipOut]]:
    return paged(await clips.list_clips(project_id, limit=limit, cursor=cursor, ctx=ctx), request)


HANDLERS: list[HTTPRouteHandler] = [add_clip, change_clip, remove_clip, list_clips]
