"""The handlers that answer every error as problem JSON (RFC 9457): a refusal of the domain with
its code, the framework's own (unknown path, wrong method, bad parameter) in the same shape, a
database that is away as 503, and anything unexpected as a logged 500 that tells nothing."""

import logging
from typing import Any, cast

from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR

from service.errors import HTTP_CODES, PROBLEM_JSON, DatabaseUnavailable, DomainError, Problem
from service.logs import REQUEST_ID
from service.store.faults import is_connection_fault, is_pool_exhausted, mark_connection_fault

log = logging.getLogger("framestate")


def problem(
    status: int, code: str, title: str, detail: str, headers: dict[str, str] | None = None, **extra: Any
) -> Response[Problem]:
    body = Problem(type="about:blank", status=status, title=title, detail=detail, code=code)
    body.update(cast(Problem, extra))
    if (request_id := REQUEST_ID.get()) is not None:
        body["request_id"] = request_id
    return Response(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def domain_error_handler(_: Request[Any, Any, Any], exc: DomainError) -> Response[Problem]:
    headers = {"Retry-After": "1"} if exc.status == 503 else None
    return problem(exc.status, exc.code, exc.title, exc.detail, headers, **exc.extra)


def http_error_handler(_: Request[Any, Any, Any], exc: HTTPException) -> Response[Problem]:
    code, title = HTTP_CODES.get(exc.status_code, ("http_error", exc.__class__.__name__))
    extra: dict[str, Any] = {}
    detail = exc.detail
    if isinstance(exc, ValidationException) and isinstance(exc.extra, list):
        extra["errors"] = exc.extra
        messages = [
            f"{e.get('key', '')}: {e.get('message', '')}".strip(": ")
            for e in exc.extra
            if isinstance(e, dict)
        ]
        if messages:
            detail = "; ".join(messages)
    return problem(exc.status_code, code, title, detail, dict(exc.headers or {}), **extra)


def unexpected_error_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[Problem]:
    if is_pool_exhausted(exc):
        log.warning("no database connection free in time on %s %s", request.method, request.url.path)
        return domain_error_handler(
            request, DatabaseUnavailable("Every database connection is busy; try again shortly.")
        )
    if is_connection_fault(exc):
        mark_connection_fault(request.scope)
        log.warning("database connection fault on %s %s: %s", request.method, request.url.path, exc)
        return domain_error_handler(
            request, DatabaseUnavailable("The database is unavailable; try again shortly.")
        )
    log.exception("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    return problem(
        HTTP_500_INTERNAL_SERVER_ERROR,
        "internal_error",
        "Internal error",
        "The service failed; it has been logged.",
    )


EXCEPTION_HANDLERS = {
    DomainError: domain_error_handler,
    HTTPException: http_error_handler,
    Exception: unexpected_error_handler,
}
