"""The HTTP handlers: each parses, calls one service function, and shapes the answer."""

from typing import Annotated, Any, TypeVar
from urllib.parse import urlencode

from litestar import HttpMethod, Request, Response, delete, get, patch, post, route
from litestar.handlers import HTTPRouteHandler
from litestar.params import FromPath, FromQuery, HeaderParameter, JSONBody, QueryParameter
from litestar.response import Stream
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED, HTTP_202_ACCEPTED, HTTP_204_NO_CONTENT
from litestar.types import ControllerRouterHandler

from fsm.jobs import JobStatus
from service import clips, exports, projects, streams
from service.auth import ANYONE, CLIENTS, WORKERS
from service.cursors import Listed
from service.dependencies import Ctx
from service.limits import LIST_PAGE_DEFAULT, LIST_PAGE_MAX, PROJECT_PAGE_DEFAULT, PROJECT_PAGE_MAX
from service.meta_api import META_HANDLERS
from service.openapi import BODY, EVENT_STREAM, PAGED, STREAMS, WRITE, documented
from service.preconditions import etag
from service.schemas import (
    CancelRequest,
    ClipOut,
    ClipWrite,
    ExportJobOut,
    ExportStart,
    FailReport,
    HistoryEntry,
    ProgressReport,
    ProjectCreate,
    ProjectOut,
    ProjectPage,
    StatusFilter,
    SucceedReport,
)
from service.session import close_session, open_session
from service.sse import EventStream
from service.stream_limits import caller_of
from service.tables import IDEMPOTENCY_KEY_MAX

T = TypeVar("T")
IfMatch = Annotated[
    str | None,
    HeaderParameter(name="If-Match", description="Refuse (412) unless the project is at this ETag"),
]
IdempotencyKey = Annotated[
    str | None, HeaderParameter(name="Idempotency-Key", min_length=1, max_length=IDEMPOTENCY_KEY_MAX)
]


ListLimit = Annotated[int, QueryParameter(ge=1, le=LIST_PAGE_MAX, description="Items a page holds at most")]
Cursor = Annotated[
    str | None,
    QueryParameter(min_length=1, description="The next page: from the `Link` header (rel=next) of the last"),
]


def _paged(listed: Listed[T], request: Request[Any, Any, Any]) -> Response[list[T]]:
    """The page as a plain array; when more remain, `Link: <next page's URL>; rel="next"` (RFC 8288)."""
    if listed.next_cursor is None:
        return Response(listed.items)
    query = [(key, value) for key, value in request.query_params.multi_items() if key != "cursor"]
    next_url = request.url.with_replacements(query=urlencode([*query, ("cursor", listed.next_cursor)]))
    return Response(listed.items, headers={"Link": f'<{next_url}>; rel="next"'})


def _with_etag(card: ProjectOut, status_code: int = HTTP_200_OK) -> Response[ProjectOut]:
    return Response(card, status_code=status_code, headers={"ETag": etag(card.version)})


@post(
    "/v1/projects",
    status_code=HTTP_201_CREATED,
    opt=CLIENTS,
    **documented("createProject", "projects", "Create a project", errors=BODY),
)
async def create_project(data: JSONBody[ProjectCreate], ctx: Ctx) -> Response[ProjectOut]:
    return _with_etag(await projects.create_project(name=data.name, ctx=ctx), HTTP_201_CREATED)


@get(
    "/v1/projects",
    opt=CLIENTS,
    **documented("listProjects", "projects", "List projects, newest first", errors=("validation_error",)),
)
async def list_projects(
    ctx: Ctx,
    status: Annotated[StatusFilter | None, QueryParameter(name="status")] = None,
    limit: Annotated[int, QueryParameter(ge=1, le=PROJECT_PAGE_MAX)] = PROJECT_PAGE_DEFAULT,
    cursor: Annotated[str | None, QueryParameter(min_length=1)] = None,
) -> ProjectPage:
    return await projects.list_projects(status=status, limit=limit, cursor=cursor, ctx=ctx)


@get(
    "/v1/projects/{project_id:str}",
    opt=CLIENTS,
    **documented("getProject", "projects", "Get a project", errors=("not_found",)),
)
async def get_project(project_id: FromPath[str], ctx: Ctx) -> Response[ProjectOut]:
    return _with_etag(await projects.get_project(project_id, db=ctx.db, owner=ctx.owner))


@delete(
    "/v1/projects/{project_id:str}",
    opt=CLIENTS,
    **documented(
        "deleteProject",
        "projects",
        "Delete a project",
        errors=("not_found", "project_busy", "precondition_failed", *WRITE),
    ),
)
async def delete_project(project_id: FromPath[str], ctx: Ctx, if_match: IfMatch = None) -> None:
    await projects.delete_project(project_id, ctx=ctx, if_match=if_match)


@get(
    "/v1/projects/{project_id:str}/history",
    opt=CLIENTS,
    **documented(
        "getProjectHistory",
        "projects",
        "The status history of a project, oldest first",
        errors=("validation_error", "not_found"),
    ),
    response_headers=PAGED,
)
async def project_history(
    project_id: FromPath[str],
    ctx: Ctx,
    request: Request[Any, Any, Any],
    limit: ListLimit = LIST_PAGE_DEFAULT,
    cursor: Cursor = None,
) -> Response[list[HistoryEntry]]:
    return _paged(await projects.project_history(project_id, limit=limit, cursor=cursor, ctx=ctx), request)


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
    return _paged(await clips.list_clips(project_id, limit=limit, cursor=cursor, ctx=ctx), request)


@post(
    "/v1/projects/{project_id:str}/exports",
    status_code=HTTP_202_ACCEPTED,
    opt=CLIENTS,
    **documented(
        "startExport",
        "exports",
        "Start a framing or overlay export",
        errors=(
            *BODY,
            "not_found",
            "idempotency_key_reused",
            "export_already_active",
            "transition_not_allowed",
            "precondition_failed",
            *WRITE,
        ),
    ),
)
async def start_export(
    project_id: FromPath[str],
    data: JSONBody[ExportStart],
    ctx: Ctx,
    idempotency_key: IdempotencyKey = None,
    if_match: IfMatch = None,
) -> ExportJobOut:
    return await exports.start_export(
        project_id, job_type=data.type, key=idempotency_key, ctx=ctx, if_match=if_match
    )


@get(
    "/v1/projects/{project_id:str}/exports",
    opt=CLIENTS,
    **documented(
        "listExports",
        "exports",
        "List the export jobs of a project, newest first",
        errors=("validation_error", "not_found"),
    ),
    response_headers=PAGED,
)
async def list_exports(
    project_id: FromPath[str],
    ctx: Ctx,
    request: Request[Any, Any, Any],
    active: FromQuery[bool] = False,
    limit: ListLimit = LIST_PAGE_DEFAULT,
    cursor: Cursor = None,
) -> Response[list[ExportJobOut]]:
    listed = await exports.list_exports(project_id, active_only=active, limit=limit, cursor=cursor, ctx=ctx)
    return _paged(listed, request)


@get(
    "/v1/exports/{job_id:str}",
    opt=ANYONE,
    **documented("getExport", "exports", "Get an export job", errors=("not_found",)),
)
async def get_export(job_id: FromPath[str], ctx: Ctx) -> ExportJobOut:
    return await exports.get_export(job_id, ctx=ctx)


@post(
    "/v1/exports/{job_id:str}/progress",
    status_code=HTTP_200_OK,
    opt=WORKERS,
    **documented(
        "reportProgress",
        "exports",
        "A worker reports progress",
        errors=(*BODY, "not_found", "job_not_active", *WRITE),
    ),
)
async def report_progress(job_id: FromPath[str], data: JSONBody[ProgressReport], ctx: Ctx) -> ExportJobOut:
    return await exports.report_progress(job_id, progress=data.progress, message=data.message, ctx=ctx)


@post(
    "/v1/exports/{job_id:str}/succeed",
    status_code=HTTP_200_OK,
    opt=WORKERS,
    **documented(
        "succeedExport",
        "exports",
        "A worker reports success",
        errors=(*BODY, "not_found", "job_not_active", *WRITE),
    ),
)
async def succeed_export(
    job_id: FromPath[str], ctx: Ctx, data: JSONBody[SucceedReport | None] = None
) -> ExportJobOut:
    uri = data.output_uri if data else None
    return await exports.finish_job(job_id, outcome=JobStatus.SUCCEEDED, output_uri=uri, ctx=ctx)


@post(
    "/v1/exports/{job_id:str}/fail",
    status_code=HTTP_200_OK,
    opt=WORKERS,
    **documented(
        "failExport",
        "exports",
        "A worker reports failure",
        errors=(*BODY, "not_found", "job_not_active", *WRITE),
    ),
)
async def fail_export(job_id: FromPath[str], data: JSONBody[FailReport], ctx: Ctx) -> ExportJobOut:
    return await exports.finish_job(job_id, outcome=JobStatus.FAILED, error=data.error, ctx=ctx)


@post(
    "/v1/exports/{job_id:str}/cancel",
    status_code=HTTP_200_OK,
    opt=CLIENTS,
    **documented(
        "cancelExport", "exports", "Cancel an export", errors=(*BODY, "not_found", "job_not_active", *WRITE)
    ),
)
async def cancel_export(
    job_id: FromPath[str], ctx: Ctx, data: JSONBody[CancelRequest | None] = None
) -> ExportJobOut:
    reason = data.reason if data else None
    return await exports.finish_job(job_id, outcome=JobStatus.CANCELLED, reason=reason, ctx=ctx)


SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


@get(
    "/v1/projects/{project_id:str}/events",
    opt=CLIENTS,
    media_type=EVENT_STREAM,
    **documented("streamProjectEvents", "events", "Follow one project live", errors=("not_found", *STREAMS)),
)
async def project_events(project_id: FromPath[str], ctx: Ctx, request: Request[Any, Any, Any]) -> Stream:
    """Server-Sent Events: the project now, then the whole project after every committed change."""
    feed = await streams.project_events(project_id, ctx=ctx, caller=caller_of(request))
    return EventStream(feed, headers=SSE_HEADERS)


@get(
    "/v1/events",
    opt=CLIENTS,
    media_type=EVENT_STREAM,
    **documented("streamAllEvents", "events", "Follow every project live", errors=STREAMS),
)
async def all_events(ctx: Ctx, request: Request[Any, Any, Any]) -> Stream:
    """Server-Sent Events: every committed change of any project, and deletions."""
    return EventStream(streams.all_events(ctx=ctx, caller=caller_of(request)), headers=SSE_HEADERS)


def options_for(handlers: list[HTTPRouteHandler]) -> list[HTTPRouteHandler]:
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
    *META_HANDLERS,
    open_session,
    close_session,
]
ROUTES: list[ControllerRouterHandler] = [*options_for(API_HANDLERS), *API_HANDLERS]
