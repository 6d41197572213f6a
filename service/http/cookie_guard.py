"""Writes authenticated by the board's cookie must come from the board itself.

A browser attaches the cookie to requests other pages make, and some of those need no permission
from this service: a form post, or a `fetch` with `mode: "no-cors"` and a text/plain, form or
multipart body. So a write (POST, PUT, PATCH, DELETE) that the cookie authenticates, that is one
without an `Authorization` header, must

- be `application/json`, a type no page can send to another origin without this service's
  consent (which it never gives: it answers no CORS preflight); otherwise 415
  `unsupported_media_type`;
- come from this site: a `Sec-Fetch-Site: cross-site`, or an `Origin` other than the service's own
  (scheme, host and port the request was sent to), is 403 `cross_site_request`.

A caller with `Authorization: Bearer` is a program holding the token, not a browser acting on a
cookie, and is not affected.
"""

from typing import Any
from urllib.parse import urlsplit

from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

from service.errors import DomainError
from service.http.auth import principal

WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
DEFAULT_PORTS = {"http": 80, "https": 443}


class UnsupportedMediaType(DomainError):
    status, code, title = 415, "unsupported_media_type", "Unsupported media type"


class CrossSiteRequest(DomainError):
    status, code, title = 403, "cross_site_request", "Cross-site request"


def _origin_key(scheme: str, netloc: str) -> tuple[str, str, int | None] | None:
    try:
        parts = urlsplit(f"{scheme}://{netloc}")
        return parts.scheme.lower(), (parts.hostname or "").lower(), parts.port or DEFAULT_PORTS.get(scheme)
    except ValueError:
        return None


def _is_own_origin(connection: ASGIConnection[Any, Any, Any, Any], origin: str) -> bool:
    """Our origin is the scheme and `Host` the request came with; behind a TLS proxy the scheme is
    its `X-Forwarded-Proto`. Trusting that header is safe here: a page can make a browser send it
    only after a CORS preflight, which this service never grants."""
    scheme, _, netloc = origin.partition("://")
    theirs = _origin_key(scheme.lower(), netloc)
    forwarded = connection.headers.get("x-forwarded-proto", "").partition(",")[0].strip().lower()
    own_scheme = forwarded if forwarded in DEFAULT_PORTS else connection.scope["scheme"]
    ours = _origin_key(own_scheme, connection.headers.get("host", ""))
    return theirs is not None and theirs == ours


async def cookie_write_guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    if connection.scope.get("method") not in WRITES or "authorization" in connection.headers:
        return
    if principal(connection) is None:
        return  # auth is off, or the route is open: nothing was authenticated by the cookie
    media_type = connection.headers.get("content-type", "").partition(";")[0].strip().lower()
    if media_type != "application/json":
        raise UnsupportedMediaType(
            "A write authenticated by the session cookie must be application/json "
            f"(got {media_type or 'no Content-Type'!r})."
        )
    if connection.headers.get("sec-fetch-site", "").lower() == "cross-site":
        raise CrossSiteRequest("A write authenticated by the session cookie must come from this site.")
    origin = connection.headers.get("origin")
    if origin is not None and not _is_own_origin(connection, origin):
        raise CrossSiteRequest(f"A write authenticated by the session cookie may not come from {origin!r}.")
