"""Tokens: only the Bearer scheme, in any case; a signed token whose claims have the wrong types is
401, like any other bad token, never a 500."""

import base64
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from service.http.app import create_app
from service.settings import Settings
from tests.api import Api, assert_problem
from tests.auth import ALICE, SECRET, auth_on

pytestmark = pytest.mark.anyio


@pytest.fixture
async def api(settings: Settings) -> AsyncIterator[Api]:
    async with AsyncTestClient(app=create_app(auth_on(settings))) as client:
        yield Api(client)


@pytest.mark.parametrize("scheme", ["Bearer", "bearer", "BEARER", "bEaReR"])
async def test_the_bearer_scheme_in_any_case_is_taken(api: Api, scheme: str) -> None:
    await api.call("GET", "/v1/projects", 200, headers={"Authorization": f"{scheme} {ALICE}"})


@pytest.mark.parametrize(
    "value",
    [
        f"Basic {ALICE}",
        f"Token {ALICE}",
        f"JWT {ALICE}",
        f"Digest {ALICE}",
        f"Bearerx {ALICE}",
        f"Bearer: {ALICE}",
        ALICE,
        "Bearer",
        "Bearer ",
        "",
        f"Basic {ALICE} Bearer {ALICE}",
    ],
    ids=[
        "basic",
        "token",
        "jwt",
        "digest",
        "bearerx",
        "bearer-colon",
        "bare",
        "no-token",
        "blank",
        "empty",
        "mixed",
    ],
)
async def test_any_other_scheme_is_401(api: Api, value: str) -> None:
    before = (await api.json("GET", "/v1/projects", 200, headers={"Authorization": f"Bearer {ALICE}"}))[
        "items"
    ]
    for method, path, body in (("GET", "/v1/projects", None), ("POST", "/v1/projects", {"name": "x"})):
        response = await api.call(method, path, json=body, headers={"Authorization": value})
        assert_problem(response, 401, "unauthorized")
    after = (await api.json("GET", "/v1/projects", 200, headers={"Authorization": f"Bearer {ALICE}"}))[
        "items"
    ]
    assert after == before


async def test_a_bad_scheme_is_not_rescued_by_a_good_cookie(api: Api) -> None:
    api.client.cookies.set("framestate_token", ALICE)
    try:
        assert_problem(
            await api.call("GET", "/v1/projects", headers={"Authorization": f"Basic {ALICE}"}),
            401,
            "unauthorized",
        )
    finally:
        api.client.cookies.clear()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _signed(**changes: Any) -> str:
    """A correctly signed HS256 token with these claims, signed by hand: PyJWT refuses to encode
    some of the types a forger may choose."""
    now = int(time.time())
    claims: dict[str, Any] = {"sub": "alice", "role": "client", "iat": now, "exp": now + 600, **changes}
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    signing_input = f"{header}.{_b64(json.dumps(claims).encode())}"
    signature = hmac.new(SECRET.encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(signature)}"


async def test_the_hand_signed_token_is_taken_when_its_claims_are_right(api: Api) -> None:
    await api.call("GET", "/v1/projects", 200, headers={"Authorization": f"Bearer {_signed()}"})


WRONG_TYPES = {
    "sub-int": {"sub": 42},
    "sub-list": {"sub": ["alice"]},
    "sub-object": {"sub": {"id": "alice"}},
    "sub-null": {"sub": None},
    "role-list": {"role": ["client"]},
    "role-int": {"role": 1},
    "role-object": {"role": {"client": True}},
    "exp-string": {"exp": "tomorrow"},
    "exp-huge": {"exp": 1e300},
    "exp-list": {"exp": [1]},
    "exp-bool": {"exp": True},
    "iat-string": {"iat": "now"},
    "iat-huge": {"iat": -1e300},
    "nbf-string": {"nbf": "soon"},
    "iss-int": {"iss": 7},
    "aud-int": {"aud": 7},
    "jti-int": {"jti": 7},
    "extras-string": {"extras": "x"},
    "extras-list": {"extras": ["x"]},
    "extras-int": {"extras": 3},
}


@pytest.mark.parametrize("changes", list(WRONG_TYPES.values()), ids=list(WRONG_TYPES))
async def test_a_signed_token_with_claims_of_the_wrong_types_is_401(
    api: Api, changes: dict[str, Any]
) -> None:
    token = _signed(**changes)
    for headers in ({"Authorization": f"Bearer {token}"}, {"Cookie": f"framestate_token={token}"}):
        assert_problem(await api.call("GET", "/v1/projects", headers=headers), 401, "unauthorized")


BAD_SUBS = {
    "empty": "",
    "201-characters": "a" * 201,
    "10000-characters": "a" * 10_000,
    "nul": "ali\x00ce",
    "newline": "alice\nbob",
    "escape": "\x1b[31malice",
    "delete": "alice\x7f",
    "line-separator": "alice\u2028",
}


@pytest.mark.parametrize("sub", list(BAD_SUBS.values()), ids=list(BAD_SUBS))
async def test_a_token_whose_sub_is_not_1_to_200_printable_characters_is_401(api: Api, sub: str) -> None:
    token = _signed(sub=sub)
    for headers in ({"Authorization": f"Bearer {token}"}, {"Cookie": f"framestate_token={token}"}):
        for method, path, body in (("GET", "/v1/projects", None), ("POST", "/v1/projects", {"name": "x"})):
            response = await api.call(method, path, json=body, headers=headers)
            assert_problem(response, 401, "unauthorized")


@pytest.mark.parametrize("sub", ["a", "a" * 200, "Zoë Ålander", "svc:render-worker/7", "アリス"])
async def test_a_sub_of_1_to_200_printable_characters_is_taken_and_owns_its_projects(
    api: Api, sub: str
) -> None:
    headers = {"Authorization": f"Bearer {_signed(sub=sub)}"}
    created = await api.json("POST", "/v1/projects", 201, json={"name": "Mine"}, headers=headers)
    assert [p["id"] for p in (await api.json("GET", "/v1/projects", 200, headers=headers))["items"]] == [
        created["id"]
    ]
    history = (await api.call("GET", f"/v1/projects/{created['id']}/history", 200, headers=headers)).json()
    assert history[0]["actor"] == sub


def _without(claim: str) -> str:
    now = int(time.time())
    claims = {"sub": "alice", "role": "client", "iat": now, "exp": now + 600}
    del claims[claim]
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    signing_input = f"{header}.{_b64(json.dumps(claims).encode())}"
    signature = hmac.new(SECRET.encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(signature)}"


@pytest.mark.parametrize(
    ("token", "words"),
    [
        (_without("exp"), "no `exp` claim"),
        (_without("iat"), "no `iat` claim"),
        (_without("sub"), "no `sub` claim"),
        (_signed(exp=int(time.time()) - 60), "has expired"),
        (_signed()[:-4] + "AAAA", "not signed with this service's secret"),
        ("not-a-jwt", "not a JWT"),
    ],
    ids=["no-exp", "no-iat", "no-sub", "expired", "other-secret", "not-a-jwt"],
)
async def test_a_refused_token_s_401_says_what_is_wrong_with_it(api: Api, token: str, words: str) -> None:
    """A token made by hand is refused with the reason, and what a token needs."""
    body = assert_problem(
        await api.call("GET", "/v1/projects", headers={"Authorization": f"Bearer {token}"}),
        401,
        "unauthorized",
    )
    assert words in body["detail"]
