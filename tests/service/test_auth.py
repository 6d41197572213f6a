"""Authentication and authorisation with JWTs: clients own their projects, workers report on jobs."""

import time
from collections.abc import AsyncIterator, Iterator

import httpx
import jwt
import pytest
from litestar.testing import AsyncTestClient

from service.http.app import create_app
from service.http.auth import Role, mint_token
from service.settings import Settings
from tests.api import Api, assert_problem
from tests.auth import ALICE, BOB, SECRET, auth_on, token
from tests.servers import running_server
from tests.sse import events

pytestmark = pytest.mark.anyio
RENDERER = token("renderer-1", Role.WORKER)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
async def api(settings: Settings) -> AsyncIterator[Api]:
    async with AsyncTestClient(app=create_app(auth_on(settings))) as client:
        yield Api(client)


async def _alices_project(api: Api) -> tuple[str, str]:
    """A project of Alice's with a running framing export: (project id, job id)."""
    project = await api.json("POST", "/v1/projects", 201, json={"name": "Alice's"}, headers=bearer(ALICE))
    await api.json(
        "POST", f"/v1/projects/{project['id']}/clips", 201, json={"crop_data": {}}, headers=bearer(ALICE)
    )
    job = await api.json(
        "POST", f"/v1/projects/{project['id']}/exports", 202, json={"type": "framing"}, headers=bearer(ALICE)
    )
    return project["id"], job["id"]


@pytest.mark.parametrize(
    "headers",
    [
        {},
        bearer("not-a-token"),
        bearer(mint_token("another-secret-" + "x" * 32, "alice", Role.CLIENT)),
        bearer(jwt.encode({"sub": "alice", "role": "client", "exp": int(time.time()) - 5}, SECRET, "HS256")),
        {"Authorization": ALICE},
    ],
    ids=["missing", "garbage", "other-secret", "expired", "no-bearer"],
)
async def test_a_missing_or_bad_token_is_401_problem_json(api: Api, headers: dict[str, str]) -> None:
    for method, path in (("GET", "/v1/projects"), ("POST", "/v1/exports/" + "0" * 32 + "/progress")):
        response = await api.call(method, path, 401, json={"progress": 1}, headers=headers)
        assert_problem(response, 401, "unauthorized")


@pytest.mark.parametrize(
    "claims",
    [
        {"sub": "alice"},
        {"sub": "alice", "role": "admin"},
        {"role": "client"},
        {"sub": "alice", "role": "client"},
    ],
    ids=["no-role", "unknown-role", "no-sub", "no-exp"],
)
async def test_a_token_that_says_too_little_is_401(api: Api, claims: dict[str, object]) -> None:
    expiring = (
        claims if claims == {"sub": "alice", "role": "client"} else {**claims, "exp": int(time.time()) + 60}
    )
    token = jwt.encode(expiring, SECRET, "HS256")
    assert (await api.call("GET", "/v1/projects", 401, headers=bearer(token))).json()[
        "code"
    ] == "unauthorized"


async def test_the_board_the_health_check_and_the_schema_are_open(api: Api) -> None:
    for path in ("/", "/board/board.js", "/health", "/schema/openapi.json"):
        await api.call("GET", path, 200)


async def test_a_client_sees_and_changes_only_its_own_projects(api: Api) -> None:
    project_id, job_id = await _alices_project(api)
    mine = await api.json("GET", "/v1/projects", 200, headers=bearer(ALICE))
    assert [p["id"] for p in mine["items"]] == [project_id]
    assert (await api.json("GET", "/v1/projects", 200, headers=bearer(BOB)))["items"] == []
    hidden = [
        ("GET", f"/v1/projects/{project_id}", None),
        ("GET", f"/v1/projects/{project_id}/history", None),
        ("GET", f"/v1/projects/{project_id}/clips", None),
        ("GET", f"/v1/projects/{project_id}/exports", None),
        ("GET", f"/v1/projects/{project_id}/events", None),
        ("POST", f"/v1/projects/{project_id}/clips", {"crop_data": None}),
        ("POST", f"/v1/projects/{project_id}/exports", {"type": "overlay"}),
        ("DELETE", f"/v1/projects/{project_id}", None),
        ("GET", f"/v1/exports/{job_id}", None),
        ("POST", f"/v1/exports/{job_id}/cancel", None),
    ]
    before = await api.json("GET", f"/v1/projects/{project_id}", 200, headers=bearer(ALICE))
    for method, path, body in hidden:
        response = await api.call(method, path, 404, json=body, headers=bearer(BOB))
        assert response.json()["code"] == "not_found", (method, path)
    assert await api.json("GET", f"/v1/projects/{project_id}", 200, headers=bearer(ALICE)) == before
    await api.call("GET", f"/v1/exports/{job_id}", 200, headers=bearer(ALICE))
    await api.call("POST", f"/v1/exports/{job_id}/cancel", 200, headers=bearer(ALICE))


async def test_a_worker_reads_and_reports_on_jobs_and_does_nothing_else(api: Api) -> None:
    project_id, job_id = await _alices_project(api)
    await api.call("GET", f"/v1/exports/{job_id}", 200, headers=bearer(RENDERER))
    await api.call(
        "POST", f"/v1/exports/{job_id}/progress", 200, json={"progress": 40}, headers=bearer(RENDERER)
    )
    forbidden = [
        ("GET", "/v1/projects", None),
        ("POST", "/v1/projects", {"name": "worker's"}),
        ("GET", f"/v1/projects/{project_id}", None),
        ("POST", f"/v1/projects/{project_id}/exports", {"type": "overlay"}),
        ("POST", f"/v1/projects/{project_id}/clips", {"crop_data": None}),
        ("POST", f"/v1/exports/{job_id}/cancel", None),
        ("GET", "/v1/events", None),
    ]
    for method, path, body in forbidden:
        response = await api.call(method, path, 403, json=body, headers=bearer(RENDERER))
        assert response.json()["code"] == "forbidden", (method, path)
    await api.call(
        "POST", f"/v1/exports/{job_id}/succeed", 200, json={"output_uri": "s3://x"}, headers=bearer(RENDERER)
    )
    card = await api.json("GET", f"/v1/projects/{project_id}", 200, headers=bearer(ALICE))
    assert (card["status"], card["working_video"]["uri"]) == ("framed", "s3://x")


async def test_a_client_may_not_report_on_jobs(api: Api) -> None:
    _, job_id = await _alices_project(api)
    for callback, body in (("progress", {"progress": 5}), ("succeed", {}), ("fail", {"error": "x"})):
        response = await api.call(
            "POST", f"/v1/exports/{job_id}/{callback}", 403, json=body, headers=bearer(ALICE)
        )
        assert response.json()["code"] == "forbidden"
    job = await api.json("GET", f"/v1/exports/{job_id}", 200, headers=bearer(ALICE))
    assert (job["status"], job["progress"]) == ("queued", 0)


async def test_the_board_cookie_carries_the_token(api: Api) -> None:
    project_id, _ = await _alices_project(api)
    api.client.cookies.set("framestate_token", ALICE)
    try:
        assert (await api.json("GET", f"/v1/projects/{project_id}", 200))["id"] == project_id
    finally:
        api.client.cookies.clear()


@pytest.fixture
def secured_server(sqlite_url: str) -> Iterator[str]:
    with running_server(sqlite_url, extra_env={"FRAMESTATE_JWT_SECRET": SECRET}) as base_url:
        yield base_url


async def test_a_client_s_event_stream_carries_only_its_own_projects(secured_server: str) -> None:
    async with (
        httpx.AsyncClient(base_url=secured_server, headers=bearer(ALICE)) as alice,
        httpx.AsyncClient(base_url=secured_server, headers=bearer(BOB)) as bob,
        events(bob, "/v1/events") as bobs_board,
    ):
        assert (await alice.post("/v1/projects", json={"name": "Alice's secret"})).status_code == 201
        bobs = (await bob.post("/v1/projects", json={"name": "Bob's"})).json()
        name, first = await bobs_board.next()
        assert (name, first["id"], first["name"]) == ("project", bobs["id"], "Bob's")
