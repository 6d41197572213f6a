"""Who may do what, with Litestar's JWT support. Tokens carry `sub` (the owner) and `role`.

- a `client` sees and changes only its own projects (another owner's project answers 404) and may
  not report on jobs;
- a `worker` may read jobs and report on them (progress, succeed, fail), and nothing else.

The token comes in `Authorization: Bearer …` (no other scheme) or, for the board page and its event
stream (an EventSource cannot send headers), in the `framestate_token` cookie that
`POST /v1/session` sets (service/session.py). Missing or bad → 401, wrong role → 403, both problem
JSON. The board page, its files and icon, the health checks, `/metrics` and the OpenAPI document are
open.
Without `FRAMESTATE_JWT_SECRET`, auth is off: every request acts with every right.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

import jwt
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware import AuthenticationResult
from litestar.security.jwt import JWTCookieAuth, JWTCookieAuthenticationMiddleware, Token

from service.store.tables import OWNER_MAX

TOKEN_TTL = timedelta(days=30)
"""How long a token minted by `framestate token` is good for, unless told otherwise."""
COOKIE = "framestate_token"
ALGORITHM = "HS256"
OPEN_PATHS = ["^/$", "^/board/", "^/favicon\\.ico$", "^/health(/live|/ready)?$", "^/metrics$", "^/schema"]


class Role(StrEnum):
    CLIENT = "client"
    WORKER = "worker"


@dataclass(frozen=True, slots=True)
class Principal:
    sub: str
    role: Role


def mint_token(secret: str, sub: str, role: Role, ttl: timedelta = TOKEN_TTL) -> str:
    token = Token(exp=datetime.now(UTC) + ttl, sub=sub, extras={"role": role.value})
    return token.encode(secret, ALGORITHM)


def _principal_of(token: Token, _: ASGIConnection[Any, Any, Any, Any]) -> Principal | None:
    role = token.extras.get("role") if isinstance(token.extras, dict) else None
    if (
        not isinstance(role, str)
        or role not in tuple(Role)
        or not isinstance(token.sub, str)
        or not 1 <= len(token.sub) <= OWNER_MAX
        or not token.sub.isprintable()
    ):
        return None  # answered 401: the token is signed but names no caller we could store
    return Principal(token.sub, Role(role))


def bearer_token(authorization: str) -> str:
    """The token of an `Authorization` header; any scheme but Bearer (in any case) is refused."""
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise NotAuthorizedException(
            "Authorization takes the Bearer scheme: `Authorization: Bearer <token>`."
        )
    return token.strip()


class TokenMiddleware(JWTCookieAuthenticationMiddleware):
    """Litestar's JWT cookie middleware, stricter: it takes the part after any first word of the
    header as the token, and lets claims of unexpected types (an `extras` claim that is not an
    object) escape as errors that are not 401."""

    async def authenticate_request(
        self, connection: ASGIConnection[Any, Any, Any, Any]
    ) -> AuthenticationResult:
        header = connection.headers.get(self.auth_header)
        if header is not None:
            return await self.authenticate_token(encoded_token=bearer_token(header), connection=connection)
        return await super().authenticate_request(connection)

    async def authenticate_token(
        self, encoded_token: str, connection: ASGIConnection[Any, Any, Any, Any]
    ) -> AuthenticationResult:
        try:
            return await super().authenticate_token(encoded_token, connection)
        except NotAuthorizedException as exc:
            raise NotAuthorizedException(_why_refused(exc)) from exc
        except (TypeError, ValueError, AttributeError, KeyError) as exc:
            raise NotAuthorizedException(f"Invalid token: {CLAIMS}") from exc


CLAIMS = (
    "a token is an HS256 JWT with `sub` (1 to 200 printable characters), `role` (client or worker), "
    "`iat` (when it was made) and `exp` (when it expires), in seconds since 1970."
)


def _why_refused(exc: NotAuthorizedException) -> str:
    """What is wrong with a token, in words a person who made one by hand can act on."""
    cause = exc.__cause__
    if isinstance(cause, jwt.ExpiredSignatureError):
        return "The token has expired: mint a new one."
    if isinstance(cause, jwt.InvalidSignatureError):
        return "The token is not signed with this service's secret (FRAMESTATE_JWT_SECRET)."
    if isinstance(cause, KeyError | jwt.MissingRequiredClaimError):
        claim = cause.claim if isinstance(cause, jwt.MissingRequiredClaimError) else cause.args[0]
        return f"The token has no `{claim}` claim: {CLAIMS}"
    if isinstance(cause, jwt.InvalidAlgorithmError):
        return f"The token is not signed with {ALGORITHM}."
    if isinstance(cause, jwt.DecodeError):
        return "The token is not a JWT (three base64url parts separated by dots)."
    if cause is None:
        return f"The token names no caller: {CLAIMS}"
    return f"Invalid token: {CLAIMS}"


def auth_config(secret: str) -> JWTCookieAuth[Principal, Token]:
    return JWTCookieAuth[Principal, Token](
        token_secret=secret,
        retrieve_user_handler=_principal_of,
        algorithm=ALGORITHM,
        key=COOKIE,
        exclude=OPEN_PATHS,
        require_claims=["exp", "sub"],
        samesite="strict",
        authentication_middleware_class=TokenMiddleware,
    )


def principal(connection: ASGIConnection[Any, Any, Any, Any]) -> Principal | None:
    """The caller, or None where auth is off."""
    user = connection.scope.get("user")
    return user if isinstance(user, Principal) else None


def caller_of(connection: ASGIConnection[Any, Any, Any, Any]) -> str:
    """Who holds an event stream, for its cap: the token's `sub` with auth on, else the address."""
    caller = principal(connection)
    if caller is not None:
        return f"sub:{caller.sub}"
    client = connection.client
    return f"address:{client.host if client else 'unknown'}"


ROLES = "roles"
"""The key of a route's `opt` that names the roles that may call it."""
CLIENTS = {ROLES: (Role.CLIENT,)}
WORKERS = {ROLES: (Role.WORKER,)}
ANYONE = {ROLES: (Role.CLIENT, Role.WORKER)}


async def role_guard(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
    """With auth on, only the roles of the route's `opt` may call it (403 otherwise). One guard for
    the whole app, installed only when auth is on: Litestar copies the route handler for every
    guard it runs, and with auth off there is nothing to check. It is a coroutine because Litestar
    runs a plain-function guard in a worker thread."""
    roles = handler.opt.get(ROLES)
    caller = principal(connection)
    if roles is not None and caller is not None and caller.role not in roles:
        raise PermissionDeniedException(f"A {caller.role} token may not do this.")
