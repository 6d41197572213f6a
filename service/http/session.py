"""The board's session: its client token moved into a cookie that page scripts cannot read.

`POST /v1/session` with a client's `Authorization: Bearer` sets `framestate_token` as an HttpOnly,
SameSite=Strict cookie for the whole site, living as long as the token; `DELETE /v1/session` clears
it (it needs no token, so an expired one can be cleared too). With auth off there is no token to
keep: both answer 204 and set nothing. `GET /v1/session` says whether auth is on and, since no page
script can read the cookie, who the board is signed in as and until when (401 when nobody is).
"""

from datetime import UTC, datetime
from typing import Any

import msgspec
from litestar import Request, Response, delete, get, post
from litestar.datastructures import State
from litestar.exceptions import NotAuthorizedException
from litestar.openapi.datastructures import ResponseSpec
from litestar.security.jwt import Token
from litestar.status_codes import HTTP_204_NO_CONTENT

from service.context import Context
from service.http.auth import ANYONE, CLIENTS, COOKIE, Role, bearer_token, principal
from service.http.cookie_guard import CrossSiteRequest, UnsupportedMediaType
from service.http.openapi import documented


def _cookie(value: str, max_age: int, *, secure: bool) -> str:
    return f"{COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}" + (
        "; Secure" if secure else ""
    )


NO_STORE = {"Cache-Control": "no-store"}


class SessionOut(msgspec.Struct):
    """Who a request acts as: what the board shows as "signed in as"."""

    auth: bool
    """Whether the service checks tokens. When false, nobody signs in and the rest is null."""
    sub: str | None
    role: Role | None
    expires_at: datetime | None


@get(
    "/v1/session",
    opt=ANYONE,
    **documented("getSession", "meta", "Who the board (or any caller) is signed in as"),
)
async def read_session(request: Request[Any, Any, Any], state: State) -> Response[SessionOut]:
    """With auth on, the token's `sub`, role and expiry (the cookie's, for the board); 401 without one."""
    ctx: Context = state.ctx
    caller = principal(request) if ctx.settings.auth_on else None
    if caller is None:
        return Response(SessionOut(ctx.settings.auth_on, None, None, None), headers=NO_STORE)
    token: Token = request.auth
    return Response(SessionOut(True, caller.sub, caller.role, token.exp), headers=NO_STORE)


@post(
    "/v1/session",
    status_code=HTTP_204_NO_CONTENT,
    opt=CLIENTS,
    **documented(
        "openSession",
        "meta",
        "Keep a client token in the board's HttpOnly cookie",
        errors=(UnsupportedMediaType.code, CrossSiteRequest.code),
        answered=ResponseSpec(data_container=None, description="The cookie is set"),
    ),
)
async def open_session(request: Request[Any, Any, Any], state: State) -> Response[None]:
    """Keep the client token of `Authorization: Bearer` in an HttpOnly cookie, for the board."""
    ctx: Context = state.ctx
    if not ctx.settings.auth_on:
        return Response(None, status_code=HTTP_204_NO_CONTENT, headers=NO_STORE)
    header = request.headers.get("authorization")
    if header is None:
        raise NotAuthorizedException("A session is opened with `Authorization: Bearer <client token>`.")
    token: Token = request.auth
    lifetime = max(0, int((token.exp - datetime.now(UTC)).total_seconds()))
    cookie = _cookie(bearer_token(header), lifetime, secure=ctx.settings.cookie_secure)
    return Response(None, status_code=HTTP_204_NO_CONTENT, headers={**NO_STORE, "Set-Cookie": cookie})


@delete(
    "/v1/session",
    exclude_from_auth=True,
    **documented(
        "closeSession",
        "meta",
        "Clear the board's cookie",
        errors=(UnsupportedMediaType.code, CrossSiteRequest.code),
        guarded=False,
        answered=ResponseSpec(data_container=None, description="The cookie is cleared"),
    ),
)
async def close_session(state: State) -> Response[None]:
    """Clear the board's cookie."""
    ctx: Context = state.ctx
    headers = {**NO_STORE, "Set-Cookie": _cookie('""', 0, secure=ctx.settings.cookie_secure)}
    return Response(None, status_code=HTTP_204_NO_CONTENT, headers=headers)
