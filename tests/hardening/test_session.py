"""The board's session cookie, and the guard on writes it authenticates."""

from collections.abc import AsyncIterator
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from service.http.app import create_app
from service.http.auth import Role
from service.settings import Settings
from tests.api import Api, assert_problem
from tests.auth import ALICE, auth_on, token
from tests.world import snapshot

pytestmark = pytest.mark.anyio
RENDERER = token("renderer", Role.WORKER)
BEARER = {"Authorization": f"Bearer {ALICE}"}
OWN = "http://testserver.local"


@pytest.fixture
async def api(settings: Settings) -> AsyncIterator[Api]:
    async with AsyncTestClient(app=create_app(auth_on(settings))) as client:
        yield Api(client)


def _attributes(set_cookie: str) -> tuple[str, dict[str, str]]:
    first, *rest = [part.strip() for part in set_cookie.split(";")]
    attributes = {}
    for part in rest:
        name, _, value = part.partition("=")
        attributes[name.lower()] = value
    return first, attributes


async def test_a_session_sets_an_httponly_strict_cookie_holding_the_token(api: Api) -> None:
    response = await api.call("POST", "/v1/session", 204, headers=BEARER)
    assert response.content == b""
    first, attributes = _attributes(response.headers["set-cookie"])
    assert first == f"framestate_token={ALICE}"
    assert "httponly" in attributes
    assert attributes["samesite"] == "Strict"
    assert attributes["path"] == "/"
    assert "secure" not in attributes
    assert int(attributes["max-age"]) > 29 * 86400  # as long as the token lives
    assert response.headers["cache-control"] == "no-store"
    assert api.client.cookies.get("framestate_token") == ALICE
    await api.call("POST", "/v1/projects", 201, json={"name": "By the cookie"})
    assert [p["name"] for p in (await api.json("GET", "/v1/projects", 200))["items"]] == ["By the cookie"]


async def test_the_cookie_is_secure_when_asked(settings: Settings) -> None:
    secure = auth_on(settings, cookie_secure=True)
    async with AsyncTestClient(app=create_app(secure)) as client:
        response = await client.post("/v1/session", headers=BEARER)
        assert response.status_code == 204
        assert "secure" in _attributes(response.headers["set-cookie"])[1]
        cleared = await client.delete("/v1/session")
        assert "secure" in _attributes(cleared.headers["set-cookie"])[1]


async def test_delete_clears_the_cookie(api: Api) -> None:
    await api.call("POST", "/v1/session", 204, headers=BEARER)
    response = await api.call("DELETE", "/v1/session", 204)
    first, attributes = _attributes(response.headers["set-cookie"])
    assert first in ('framestate_token=""', "framestate_token=")
    assert attributes["max-age"] == "0"
    assert (attributes["path"], attributes["samesite"]) == ("/", "Strict")
    assert "httponly" in attributes
    assert "framestate_token" not in api.client.cookies
    assert_problem(await api.call("GET", "/v1/projects"), 401, "unauthorized")


async def test_delete_needs_no_token(api: Api) -> None:
    api.client.cookies.set("framestate_token", "expired.or.garbage")
    await api.call("DELETE", "/v1/session", 204)


@pytest.mark.parametrize(
    ("headers", "status", "code"),
    [
        ({}, 401, "unauthorized"),
        ({"Authorization": f"Basic {ALICE}"}, 401, "unauthorized"),
        ({"Authorization": "Bearer garbage"}, 401, "unauthorized"),
        ({"Authorization": f"Bearer {RENDERER}"}, 403, "forbidden"),
        ({"Cookie": f"framestate_token={ALICE}", "Content-Type": "application/json"}, 401, "unauthorized"),
    ],
    ids=["none", "basic", "garbage", "worker", "cookie-only"],
)
async def test_a_session_needs_a_client_s_bearer_token(
    api: Api, headers: dict[str, str], status: int, code: str
) -> None:
    response = await api.call("POST", "/v1/session", headers=headers)
    assert_problem(response, status, code)
    assert "set-cookie" not in response.headers


async def test_with_auth_off_a_session_sets_nothing(settings: Settings) -> None:
    async with AsyncTestClient(app=create_app(settings)) as client:
        for method in ("POST", "DELETE"):
            response = await client.request(method, "/v1/session")
            assert response.status_code == 204
        assert "set-cookie" not in (await client.post("/v1/session")).headers


# The cookie-write guard: what a hostile page can make a browser send with the cookie attached.

HOSTILE: dict[str, dict[str, Any]] = {
    "text/plain": {"content": '{"name": "forged"}', "headers": {"Content-Type": "text/plain"}},
    "text/plain-charset": {
        "content": '{"name": "forged"}',
        "headers": {"Content-Type": "text/plain;charset=UTF-8"},
    },
    "form": {"data": {"name": "forged"}},
    "multipart": {"files": {"name": (None, "forged")}},
    "no-content-type": {"content": '{"name": "forged"}'},
    "json-look-alike": {"content": '{"name": "forged"}', "headers": {"Content-Type": "application/json-seq"}},
}


@pytest.fixture
async def cookie_api(api: Api) -> Api:
    await api.call("POST", "/v1/session", 204, headers=BEARER)
    return api


@pytest.mark.parametrize("request_kwargs", list(HOSTILE.values()), ids=list(HOSTILE))
async def test_a_cookie_write_that_is_not_json_is_415(
    cookie_api: Api, request_kwargs: dict[str, Any]
) -> None:
    before = await snapshot(cookie_api)
    response = await cookie_api.call("POST", "/v1/projects", **request_kwargs)
    assert_problem(response, 415, "unsupported_media_type")
    assert await snapshot(cookie_api) == before


async def test_cookie_writes_without_a_body_must_say_json_too(cookie_api: Api) -> None:
    project = await cookie_api.json("POST", "/v1/projects", 201, json={"name": "Keep"})
    await cookie_api.call("POST", f"/v1/projects/{project['id']}/clips", 201, json={"crop_data": {}})
    job = await cookie_api.json(
        "POST", f"/v1/projects/{project['id']}/exports", 202, json={"type": "framing"}
    )
    before = await snapshot(cookie_api)
    for method, path in (
        ("POST", f"/v1/exports/{job['id']}/cancel"),
        ("DELETE", f"/v1/projects/{project['id']}"),
    ):
        assert_problem(await cookie_api.call(method, path), 415, "unsupported_media_type")
    assert await snapshot(cookie_api) == before
    json_type = {"Content-Type": "application/json"}
    await cookie_api.call("POST", f"/v1/exports/{job['id']}/cancel", 200, headers=json_type)
    await cookie_api.call("DELETE", f"/v1/projects/{project['id']}", 204, headers=json_type)


CROSS_SITE: dict[str, dict[str, str]] = {
    "other-site": {"Origin": "https://evil.example"},
    "other-port": {"Origin": "http://testserver.local:8081"},
    "other-scheme": {"Origin": "https://testserver.local"},
    "sub-domain": {"Origin": "http://board.testserver.local"},
    "null": {"Origin": "null"},
    "garbage": {"Origin": "::not a url::"},
    "fetch-cross-site": {"Sec-Fetch-Site": "cross-site"},
    "fetch-cross-site-own-origin": {"Sec-Fetch-Site": "cross-site", "Origin": OWN},
}


@pytest.mark.parametrize("headers", list(CROSS_SITE.values()), ids=list(CROSS_SITE))
async def test_a_cross_site_cookie_write_is_403(cookie_api: Api, headers: dict[str, str]) -> None:
    before = await snapshot(cookie_api)
    response = await cookie_api.call("POST", "/v1/projects", json={"name": "forged"}, headers=headers)
    assert_problem(response, 403, "cross_site_request")
    assert await snapshot(cookie_api) == before


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Origin": OWN},
        {"Origin": "http://TESTSERVER.local:80"},
        {"Sec-Fetch-Site": "same-origin", "Origin": OWN},
    ],
    ids=["no-origin", "own-origin", "own-origin-spelled-out", "same-origin"],
)
async def test_a_same_site_json_cookie_write_is_taken(cookie_api: Api, headers: dict[str, str]) -> None:
    await cookie_api.call("POST", "/v1/projects", 201, json={"name": "mine"}, headers=headers)


async def test_cookie_reads_are_not_guarded(cookie_api: Api) -> None:
    await cookie_api.call("GET", "/v1/projects", 200, headers={"Origin": "https://evil.example"})


@pytest.mark.parametrize(
    "request_kwargs",
    [
        {"content": '{"name": "by program"}', "headers": {"Content-Type": "text/plain", **BEARER}},
        {"content": '{"name": "by program"}', "headers": BEARER},
        {"json": {"name": "by program"}, "headers": {"Origin": "https://elsewhere.example", **BEARER}},
        {"json": {"name": "by program"}, "headers": {"Sec-Fetch-Site": "cross-site", **BEARER}},
    ],
    ids=["text-plain", "no-content-type", "other-origin", "cross-site"],
)
async def test_bearer_callers_are_not_affected(cookie_api: Api, request_kwargs: dict[str, Any]) -> None:
    """Even with the cookie present too: the header is what authenticates."""
    await cookie_api.call("POST", "/v1/projects", 201, **request_kwargs)


async def test_with_auth_off_writes_are_not_guarded(settings: Settings) -> None:
    async with AsyncTestClient(app=create_app(settings)) as client:
        response = await client.post("/v1/projects", content='{"name": "local"}', headers={"Origin": "null"})
        assert response.status_code == 201


async def test_behind_a_tls_proxy_the_forwarded_scheme_is_the_service_s_own(cookie_api: Api) -> None:
    proxied = {"X-Forwarded-Proto": "https", "Origin": "https://testserver.local"}
    await cookie_api.call("POST", "/v1/projects", 201, json={"name": "via TLS"}, headers=proxied)
    downgraded = {"X-Forwarded-Proto": "https", "Origin": OWN}
    response = await cookie_api.call("POST", "/v1/projects", json={"name": "x"}, headers=downgraded)
    assert_problem(response, 403, "cross_site_request")


async def test_options_on_the_session_lists_its_methods(api: Api) -> None:
    response = await api.call("OPTIONS", "/v1/session", 204)
    assert response.headers["allow"] == "DELETE, GET, OPTIONS, POST"


async def test_the_session_says_who_is_signed_in_until_it_is_cleared(api: Api) -> None:
    """The board cannot read its cookie: it asks who it is signed in as."""
    assert_problem(await api.call("GET", "/v1/session"), 401, "unauthorized")
    await api.call("POST", "/v1/session", 204, headers=BEARER)
    session = await api.json("GET", "/v1/session", 200)
    assert (session["auth"], session["sub"], session["role"]) == (True, "alice", "client")
    assert session["expires_at"] > "2026"
    worker = await api.json("GET", "/v1/session", 200, headers={"Authorization": f"Bearer {RENDERER}"})
    assert (worker["sub"], worker["role"]) == ("renderer", "worker")
    await api.call("DELETE", "/v1/session", 204)
    assert_problem(await api.call("GET", "/v1/session"), 401, "unauthorized")


async def test_with_auth_off_the_session_says_so(settings: Settings) -> None:
    async with AsyncTestClient(app=create_app(settings)) as client:
        response = await client.get("/v1/session")
        assert response.json() == {"auth": False, "sub": None, "role": None, "expires_at": None}
