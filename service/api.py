"""The HTTP handlers: each parses, calls one service function, and shapes the answer."""

from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any

import msgspec
from litestar import HttpMethod, MediaType, Request, Response, delete, get, patch, post, route
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from litestar.handlers import HTTPRouteHandler
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, FromQuery, HeaderParameter, JSONBody, QueryParameter
from litestar.response import File, Stream
from litestar.static_files import create_static_files_router
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED, HTTP_202_ACCEPTED, HTTP_204_NO_CONTENT
from litestar.types import ControllerRouterHandler

from fsm.diagram import describe
from fsm.facts import JobStatus
from service import clips, exports, projects, streams
from service.auth import ANYONE, CLIENTS, WORKERS, Role, principal
from service.context import Context
from service.errors import PROBLEM_JSON, DatabaseUnavailable
from service.schemas import (
    ClipOut,
    ClipWrite,
    ExportJobOut,
    ExportStart,
    FailReport,
    Health,
    HistoryEntry,
    ProgressReport,
    ProjectCreate,
    ProjectOut,
    ProjectPage,
    StateMachineOut,
    StatusFilter,
    SucceedReport,
)
from service.tables import IDEMPOTENCY_KEY_MAX
from service.unit_of_work import etag


class Problem(msgspec.Struct):
    """An error, as RFC 9457 problem JSON; 409s add the fields their code names."""

    type: str
    status: int
    title: str
    detail: str
    code: str


def _errors(*statuses: int) -> dict[int, ResponseSpec]:
    return {
        status: ResponseSpec(data_container=Problem, media_type=PROBLEM_JSON, description="Problem JSON")
        for status in (*statuses, 413)
    }


def provide_context(state: State, request: Request[Any, Any, Any]) -> Context:
    """The app's context, acting for the caller: with auth on, a client sees only its projects."""
    ctx: Context = state.ctx
    caller = principal(request)
    if caller is not None and caller.role is Role.CLIENT:
        return replace(ctx, owner=caller.sub)
    return ctx


Ctx = NamedDependency[Context]
IfMatch = Annotated[
    str | None,
    HeaderParameter(name="If-Match", description="Refuse (412) unless the project is at this ETag"),
]
IdempotencyKey = Annotated[
    str | None, HeaderParameter(name="Idempotency-Key", min_length=1, max_length=IDEMPOTENCY_KEY_MAX)
]


def _with_etag(card: ProjectOut, status_code: int = HTTP_200_OK) -> Response[ProjectOut]:
    return Response(card, status_code=status_code, headers={"ETag": etag(card.version)})


@post("/v1/projects", status_code=HTTP_201_CREATED, responses=_errors(400), guards=CLIENTS)
async def create_project(data: JSONBody[ProjectCreate], ctx: Ctx) -> Response[ProjectOut]:
    return _with_etag(await projects.create_project(data.name, ctx=ctx), HTTP_201_CREATED)


@get("/v1/projects", responses=_errors(400), guards=CLIENTS)
async def list_projects(
    ctx: Ctx,
    status: Annotated[StatusFilter | None, QueryParameter(name="status")] = None,
    limit: Annotated[int, QueryParameter(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, QueryParameter(min_length=1)] = None,
) -> ProjectPage:
    return await projects.list_projects(status, limit, cursor, ctx=ctx)


@get("/v1/projects/{project_id:str}", responses=_errors(404), guards=CLIENTS)
async def get_project(project_id: FromPath[str], ctx: Ctx) -> Response[ProjectOut]:
    return _with_etag(await projects.get_project(project_id, ctx=ctx))


@delete("/v1/projects/{project_id:str}", responses=_errors(404, 409, 412), guards=CLIENTS)
async def delete_project(project_id: FromPath[str], ctx: Ctx, if_match: IfMatch = None) -> None:
    await projects.delete_project(project_id, ctx=ctx, if_match=if_match)


@get("/v1/projects/{project_id:str}/history", responses=_errors(404), guards=CLIENTS)
async def project_history(project_id: FromPath[str], ctx: Ctx) -> list[HistoryEntry]:
    return await projects.project_history(project_id, ctx=ctx)


@post("/v1/projects/{project_id:str}/clips", responses=_errors(400, 404, 412), guards=CLIENTS)
async def add_clip(
    project_id: FromPath[str], data: JSONBody[ClipWrite], ctx: Ctx, if_match: IfMatch = None
) -> ClipOut:
    return await clips.add_clip(project_id, data.crop_data, ctx=ctx, if_match=if_match)


@patch("/v1/projects/{project_id:str}/clips/{clip_id:str}", responses=_errors(400, 404, 412), guards=CLIENTS)
async def change_clip(
    project_id: FromPath[str],
    clip_id: FromPath[str],
    data: JSONBody[ClipWrite],
    ctx: Ctx,
    if_match: IfMatch = None,
) -> ClipOut:
    return await clips.change_clip(project_id, clip_id, data.crop_data, ctx=ctx, if_match=if_match)


@delete("/v1/projects/{project_id:str}/clips/{clip_id:str}", responses=_errors(404, 412), guards=CLIENTS)
async def remove_clip(
    project_id: FromPath[str], clip_id: FromPath[str], ctx: Ctx, if_match: IfMatch = None
) -> None:
    await clips.remove_clip(project_id, clip_id, ctx=ctx, if_match=if_match)


@get("/v1/projects/{project_id:str}/clips", responses=_errors(404), guards=CLIENTS)
async def list_clips(project_id: FromPath[str], ctx: Ctx) -> list[ClipOut]:
    return await clips.list_clips(project_id, ctx=ctx)


@post(
    "/v1/projects/{project_id:str}/exports",
    status_code=HTTP_202_ACCEPTED,
    responses=_errors(400, 404, 409, 412),
    guards=CLIENTS,
)
async def start_export(
    project_id: FromPath[str],
    data: JSONBody[ExportStart],
    ctx: Ctx,
    idempotency_key: IdempotencyKey = None,
    if_match: IfMatch = None,
) -> ExportJobOut:
    return await exports.start_export(project_id, data.type, idempotency_key, ctx=ctx, if_match=if_match)


@get("/v1/projects/{project_id:str}/exports", responses=_errors(400, 404), guards=CLIENTS)
async def list_exports(
    project_id: FromPath[str], ctx: Ctx, active: FromQuery[bool] = False
) -> list[ExportJobOut]:
    return await exports.list_exports(project_id, active, ctx=ctx)


@get("/v1/exports/{job_id:str}", responses=_errors(404), guards=ANYONE)
async def get_export(job_id: FromPath[str], ctx: Ctx) -> ExportJobOut:
    return await exports.get_export(job_id, ctx=ctx)


@post(
    "/v1/exports/{job_id:str}/progress",
    status_code=HTTP_200_OK,
    responses=_errors(400, 404, 409),
    guards=WORKERS,
)
async def report_progress(job_id: FromPath[str], data: JSONBody[ProgressReport], ctx: Ctx) -> ExportJobOut:
    return await exports.report_progress(job_id, data.progress, data.message, ctx=ctx)


@post(
    "/v1/exports/{job_id:str}/succeed",
    status_code=HTTP_200_OK,
    responses=_errors(400, 404, 409),
    guards=WORKERS,
)
async def succeed_export(
    job_id: FromPath[str], ctx: Ctx, data: JSONBody[SucceedReport | None] = None
) -> ExportJobOut:
    uri = data.output_uri if data else None
    return await exports.finish_job(job_id, JobStatus.SUCCEEDED, output_uri=uri, ctx=ctx)


@post(
    "/v1/exports/{job_id:str}/fail", status_code=HTTP_200_OK, responses=_errors(400, 404, 409), guards=WORKERS
)
async def fail_export(job_id: FromPath[str], data: JSONBody[FailReport], ctx: Ctx) -> ExportJobOut:
    return await exports.finish_job(job_id, JobStatus.FAILED, error=data.error, ctx=ctx)


@post("/v1/exports/{job_id:str}/cancel", status_code=HTTP_200_OK, responses=_errors(404, 409), guards=CLIENTS)
async def cancel_export(job_id: FromPath[str], ctx: Ctx) -> ExportJobOut:
    return await exports.finish_job(job_id, JobStatus.CANCELLED, ctx=ctx)


SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


@get("/v1/projects/{project_id:str}/events", responses=_errors(404), guards=CLIENTS)
async def project_events(project_id: FromPath[str], ctx: Ctx) -> Stream:
    """Server-Sent Events: the project now, then the whole project after every committed change."""
    frames = await streams.project_events(project_id, ctx=ctx)
    return Stream(frames, media_type="text/event-stream", headers=SSE_HEADERS)


@get("/v1/events", guards=CLIENTS)
async def all_events(ctx: Ctx) -> Stream:
    """Server-Sent Events: every committed change of any project, and deletions."""
    return Stream(streams.all_events(ctx=ctx), media_type="text/event-stream", headers=SSE_HEADERS)


@get("/v1/state-machine", sync_to_thread=False, guards=ANYONE)
def state_machine() -> StateMachineOut:
    return msgspec.convert(describe(), StateMachineOut)


BOARD_DIR = Path(__file__).parent / "board"


@get("/", include_in_schema=False, media_type=MediaType.HTML, sync_to_thread=False)
def board() -> File:
    """The project board: live project cards, from `/v1/events`."""
    return File(BOARD_DIR / "index.html", content_disposition_type="inline", media_type=MediaType.HTML)


board_assets = create_static_files_router(path="/board", directories=[BOARD_DIR], include_in_schema=False)


@get("/health", responses={503: ResponseSpec(data_container=Problem, media_type=PROBLEM_JSON)})
async def health(ctx: Ctx) -> Health:
    if not await ctx.db.ping():
        raise DatabaseUnavailable("The database does not answer.")
    return Health(status="ok")


def _options_for(handlers: list[HTTPRouteHandler]) -> list[HTTPRouteHandler]:
    """An OPTIONS answer per path, listing every method of the path in `Allow`. Litestar's own
    lists only the methods of the first handler registered for a path."""
    methods: dict[str, set[str]] = {}
    for handler in handlers:
        for path in handler.paths:
            methods.setdefault(path, {"OPTIONS"}).update(handler.http_methods)

    def answer(path: str, allow: str) -> HTTPRouteHandler:
        def options() -> Response[None]:
            return Response(None, status_code=HTTP_204_NO_CONTENT, headers={"Allow": allow})

        return route(path, http_method=[HttpMethod.OPTIONS], include_in_schema=False, sync_to_thread=False)(
            options
        )

    return [answer(path, ", ".join(sorted(allowed))) for path, allowed in methods.items()]


API_HANDLERS: list[HTTPRouteHandler] = [
    create_project,
    list_projects,
    get_project,
    delete_project,
    project_history,
    add_clip,
    change_clip,
    remove_clip,
    list_clips,
    start_export,
    list_exports,
    get_export,
    report_progress,
    succeed_export,
    fail_export,
    cancel_export,
    project_events,
    all_events,
    state_machine,
    health,
    board,
]
ROUTES: list[ControllerRouterHandler] = [*_options_for(API_HANDLERS), *API_HANDLERS, board_assets]
DEPENDENCIES = {"ctx": Provide(provide_context, sync_to_thread=False)}
