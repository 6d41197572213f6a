"""The application factory: everything the service is made of, wired in one place."""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial

from litestar import Litestar
from litestar.openapi import OpenAPIConfig

from service.api import DEPENDENCIES, ROUTES
from service.auth import auth_config
from service.context import Context
from service.db import Database
from service.errors import EXCEPTION_HANDLERS
from service.events import Events
from service.projects import find_project
from service.request_checks import check_request
from service.settings import Settings
from service.sweep import run_sweeps

MAX_BODY_BYTES = 1024 * 1024


def create_app(settings: Settings | None = None) -> Litestar:
    settings = settings or Settings.from_env()
    logging.getLogger("framestate").setLevel(settings.log_level.upper())
    logging.getLogger("transitions").setLevel(logging.WARNING)  # it logs every trigger at INFO

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        db = Database.open(settings)
        events = Events(settings, partial(find_project, db=db))
        await events.start()
        ctx = app.state.ctx = Context(settings=settings, db=db, events=events)
        sweeper = asyncio.create_task(run_sweeps(ctx))
        try:
            yield
        finally:
            sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sweeper
            await events.stop()
            await db.close()

    return Litestar(
        route_handlers=ROUTES,
        dependencies=DEPENDENCIES,
        exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type]
        lifespan=[lifespan],
        request_max_body_size=MAX_BODY_BYTES,
        before_request=check_request,
        openapi_config=OpenAPIConfig(title="framestate", version="1.0.0", path="/schema"),
        on_app_init=[auth_config(settings.jwt_secret).on_app_init] if settings.jwt_secret else [],
    )
