"""The two Server-Sent Events streams: one project, or every project."""

from typing import Any

from litestar import Request, get
from litestar.handlers import HTTPRouteHandler
from litestar.params import FromPath
from litestar.response import Stream

from service.http.auth import CLIENTS, caller_of
from service.http.dependencies import Ctx
from service.http.openapi import EVENT_STREAM, STREAMS, documented
from service.live.sse import EventStream
from service.operations import streams

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


HANDLERS: list[HTTPRouteHandler] = [project_events, all_events]
