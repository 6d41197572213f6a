"""The service's own routes, beside the API: the state machine, health, metrics and the board's
files."""

from pathlib import Path

import msgspec
from litestar import MediaType, get
from litestar.handlers import HTTPRouteHandler
from litestar.params import FromPath
from litestar.response import File

from fsm.diagram import describe
from service import metrics
from service.context import Context
from service.errors import NotFound, NotReady
from service.http.auth import ANYONE
from service.http.dependencies import Ctx
from service.http.openapi import documented
from service.operations import health
from service.schemas import Health, StateMachineOut


@get(
    "/v1/state-machine",
    sync_to_thread=False,
    opt=ANYONE,
    **documented("getStateMachine", "meta", "The state machine: states, transitions, diagram"),
)
def state_machine(ctx: Ctx) -> StateMachineOut:
    """The machine, and the silence after which the service fails an active job (`job_timed_out`)."""
    return msgspec.convert({**describe(), "job_timeout_s": ctx.settings.job_timeout_s}, StateMachineOut)


BOARD_DIR = Path(__file__).resolve().parent.parent / "board"


@get("/", include_in_schema=False, media_type=MediaType.HTML, sync_to_thread=False)
def board() -> File:
    """The project board: live project cards, from `/v1/events`."""
    return File(BOARD_DIR / "index.html", content_disposition_type="inline", media_type=MediaType.HTML)


BOARD_MEDIA_TYPES = {".css": "text/css", ".js": "text/javascript"}
ICON = "image/vnd.microsoft.icon"
BOARD_ASSETS = {path.name: path for path in BOARD_DIR.iterdir() if path.suffix in BOARD_MEDIA_TYPES}


@get("/board/{name:str}", include_in_schema=False, sync_to_thread=False)
def board_asset(name: FromPath[str]) -> File:
    """The board's own files, by name from a fixed list: a requested path never reaches the file system."""
    if name not in BOARD_ASSETS:
        raise NotFound(f"No board file {name!r}.")
    path = BOARD_ASSETS[name]
    return File(path, content_disposition_type="inline", media_type=BOARD_MEDIA_TYPES[path.suffix])


@get("/favicon.ico", include_in_schema=False, sync_to_thread=False)
def favicon() -> File:
    """The board's icon, where browsers look for one."""
    return File(BOARD_DIR / "favicon.ico", content_disposition_type="inline", media_type=ICON)


@get(
    "/health/live",
    sync_to_thread=False,
    **documented("getLiveness", "meta", "Whether the process runs", guarded=False),
)
def live() -> Health:
    return Health(status="ok")


async def _ready(ctx: Context) -> Health:
    """200 when the database answers, the LISTEN connection (PostgreSQL) is up and the process is
    not shutting down; else 503 `not_ready` saying which."""
    if reasons := await health.not_ready_because(ctx):
        raise NotReady(f"Not ready: {'; '.join(reasons)}.")
    return Health(status="ok")


@get(
    "/health/ready",
    **documented(
        "getReadiness",
        "meta",
        "Whether this process should get traffic",
        errors=("not_ready",),
        guarded=False,
    ),
)
async def ready(ctx: Ctx) -> Health:
    return await _ready(ctx)


@get(
    "/health",
    **documented("health", "meta", "Readiness, as /health/ready", errors=("not_ready",), guarded=False),
)
async def health_check(ctx: Ctx) -> Health:
    return await _ready(ctx)


@get("/metrics", media_type=metrics.CONTENT_TYPE, include_in_schema=False)
async def prometheus_metrics(ctx: Ctx) -> bytes:
    """Prometheus text format."""
    return await metrics.exposition(ctx.db)


HANDLERS: list[HTTPRouteHandler] = [
    state_machine,
    live,
    ready,
    health_check,
    prometheus_metrics,
    board,
    board_asset,
    favicon,
]
