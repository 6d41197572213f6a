"""Who may do what, with Litestar's JWT support. Tokens carry `sub` (the owner) and `role`.

- a `client` sees and changes only its own projects (another owner's project answers 404) and may
  not report on jobs;
- a `worker` may read jobs and report on them (progress, succeed, fail), and nothing else.

The token comes in `Authorization: Bearer …` or, for the board page and its event stream (an
EventSource cannot send headers), in the `framestate_token` cookie. Missing or bad → 401, wrong
role → 403, both problem JSON. The board page, its files, `/health` and the OpenAPI document are
open. Without `FRAMESTATE_JWT_SECRET`, auth is off: every request acts with every right.
"""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from litestar.connection import ASGIConnection
from litestar.exceptions import PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from litestar.security.jwt import JWTCookieAuth, Token

COOKIE = "framestate_token"
ALGORITHM = "HS256"
OPEN_PATHS = ["^/$", "^/board/", "^/health$", "^/schema"]


class Role(StrEnum):
    CLIENT = "client"
    WORKER = "worker"


@dataclass(frozen=True, slots=True)
class Principal:
    sub: str
    role: Role


def mint_token(secret: str, sub: str, role: Role, ttl: timedelta = timedelta(days=30)) -> str:
    token = Token(exp=datetime.now(UTC) + ttl, sub=sub, extras={"role": role.value})
    return token.encode(secret, ALGORITHM)


def _principal_of(token: Token, _: ASGIConnection[Any, Any, Any, Any]) -> Principal | None:
    role = token.extras.get("role")
    if role not in tuple(Role) or not token.sub:
        return None  # answered 401: the token is signed but says nothing we can act on
    return Principal(token.sub, Role(role))


def auth_config(secret: str) -> JWTCookieAuth[Principal, Token]:
    return JWTCookieAuth[Principal, Token](
        token_secret=secret,
        retrieve_user_handler=_principal_of,
        algorithm=ALGORITHM,
        key=COOKIE,
        exclude=OPEN_PATHS,
        require_claims=["exp", "sub"],
        samesite="strict",
    )


def principal(connection: ASGIConnection[Any, Any, Any, Any]) -> Principal | None:
    """The caller, or None where auth is off."""
    user = connection.scope.get("user")
    return user if isinstance(user, Principal) else None


Guard = Callable[[ASGIConnection[Any, Any, Any, Any], BaseRouteHandler], Awaitable[None]]


def allow(*roles: Role) -> Guard:
    """A route guard: with auth on, only these roles may call the route (403 otherwise). It is a
    coroutine because Litestar runs a plain-function guard in a worker thread."""

    async def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        caller = principal(connection)
        if caller is not None and caller.role not in roles:
            raise PermissionDeniedException(f"A {caller.role} token may not do this.")

    return guard


CLIENTS = [allow(Role.CLIENT)]
WORKERS = [allow(Role.WORKER)]
ANYONE = [allow(Role.CLIENT, Role.WORKER)]
