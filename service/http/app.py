"""The application factory: everything the service is made of, wired in one place."""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial

from litestar import Litestar

from service import lifecycle
from service.context import Context
from service.http.auth import auth_config, role_guard
from service.http.cookie_guard import cookie_write_guard
from service.http.dependencies import DEPENDENCIES
from service.http.observer import RequestObserver
from service.http.openapi_config import add_webhook_bodies, openapi_config
from service.http.page_headers import PAGE_HEADERS
from service.http.problems import EXCEPTION_HANDLERS
from service.http.request_checks import check_request
from service.http.routes import clips, events, exports, meta, projects, webhooks
from service.http.routes.options import options_for
from service.http.session import close_session, open_session, read_session
from service.limits import MAX_BODY_BYTES
from service.live.hub import Events
from service.live.slots import StreamSlots
from service.operations.projects import find_project
from service.operations.sweep import run_sweeps
from service.settings import Settings
from service.store.db import Database
from service.webhooks.dispatcher import dispatching

HANDLERS = [
    *projects.HANDLERS,
    *clips.HANDLERS,
    *exports.HANDLERS,
    *events.HANDLERS,
    *webhooks.HANDLERS,
    *meta.HANDLERS,
    open_session,
    close_session,
    read_session,
]


def create_app(settings: Settings | None = None) -> Litestar:
    settings = settings or Settings.from_env()
    logging.getLogger("framestate").setLevel(settings.log_level.upper())
    logging.getLogger("transitions").setLevel(logging.WARNING)  # it logs every trigger at INFO

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        db = Database.open(settings)
        events = Events(settings, partial(find_project, db=db))
        await events.start()
        ctx = app.state.ctx = Context(
            settings=settings,
            db=db,
            events=events,
            stream_slots=StreamSlots(settings.max_streams, settings.max_streams_total),
        )
        sweeper = asyncio.create_task(run_sweeps(ctx))

        async def drain() -> None:
            ctx.lifecycle.draining = True
            await events.stop()

        try:
            async with dispatching(ctx):
                with lifecycle.on_drain(drain):
                    yield
        finally:
            sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sweeper
            await events.stop()
            await db.close()

    app = Litestar(
        route_handlers=[*options_for(HANDLERS), *HANDLERS],
        dependencies=DEPENDENCIES,
        exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type]
        lifespan=[lifespan],
        request_max_body_size=MAX_BODY_BYTES,
        before_request=check_request,
        guards=[role_guard, cookie_write_guard] if settings.auth_on else [],
        response_headers=PAGE_HEADERS,
        logging_config=None,  # the process configures logging (service.logs), not each application
        openapi_config=openapi_config(),
        on_app_init=[auth_config(settings.jwt_secret).on_app_init] if settings.jwt_secret else [],
    )
    add_webhook_bodies(app)
    app.asgi_handler = RequestObserver(app.asgi_handler)
    return app
