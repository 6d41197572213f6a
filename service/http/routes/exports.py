"""Exports: start one, list and read them, and the worker's reports."""

from typing import Any

from litestar import Request, Response, get, post
from litestar.handlers import HTTPRouteHandler
from litestar.params import FromPath, FromQuery, JSONBody
from litestar.status_codes import HTTP_200_OK, HTTP_202_ACCEPTED

from fsm.jobs import JobStatus
from service.http.auth import ANYONE, CLIENTS, WORKERS
from service.http.dependencies import Ctx
from service.http.openapi import BODY, PAGED, WRITE, documented
from service.http.routes.params import Cursor, IdempotencyKey, IfMatch, ListLimit, paged
from service.limits import LIST_PAGE_DEFAULT
from service.operations import exports
from service.schemas import (
    CancelRequest,
    ExportJobOut,
    ExportStart,
    FailReport,
    ProgressReport,
    SucceedReport,
)


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
    return paged(listed, request)


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


HANDLERS: list[HTTPRouteHandler] = [
    start_export,
    list_exports,
    get_export,
    report_progress,
    succeed_export,
    fail_export,
    cancel_export,
]
