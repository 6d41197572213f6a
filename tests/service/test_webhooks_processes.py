"""Webhooks across processes and clients: a SIGKILLed server loses no pending event, two servers on
one PostgreSQL database never attempt one delivery at once, and with auth on a client's webhooks
are its own and hear only of its projects."""

import asyncio
import contextlib
import signal
from collections.abc import AsyncIterator

import httpx
import pytest
from litestar.testing import AsyncTestClient

from service.http.app import create_app
from service.settings import Settings
from tests.api import Api
from tests.auth import auth_on, bearer
from tests.hooks import list_webhooks
from tests.polling import poll
from tests.receiver import Received, Receiver, receiving, verify
from tests.servers import LOOPBACK, LOOPBACK_ONLY, ServerProcess, server_process

pytestmark = pytest.mark.anyio
WEBHOOK_ENV = {
    "FRAMESTATE_WEBHOOK_ALLOW_NETWORKS": LOOPBACK_ONLY,
    "FRAMESTATE_WEBHOOK_RETRY_BASE_S": "0.05",
    "FRAMESTATE_WEBHOOK_TIMEOUT_S": "2",
}
EVERY_TYPE = [
    "project.created",
    "project.status_changed",
    "export.started",
    "export.progress",
    "export.succeeded",
]


async def start(stack: contextlib.ExitStack, fresh_url: str) -> ServerProcess:
    """A server process, started in a thread so that the receivers keep answering meanwhile."""
    return await asyncio.to_thread(stack.enter_context, server_process(fresh_url, extra_env=WEBHOOK_ENV))


async def play(client: httpx.AsyncClient, name: str, progress_reports: int) -> str:
    """Create a project, frame it, start its framing export and report progress: its id."""
    project = (await client.post("/v1/projects", json={"name": name})).json()
    pid = project["id"]
    assert (await client.post(f"/v1/projects/{pid}/clips", json={"crop_data": {}})).status_code == 201
    job = (await client.post(f"/v1/projects/{pid}/exports", json={"type": "framing"})).json()
    for n in range(progress_reports):
        report = await client.post(f"/v1/exports/{job['id']}/progress", json={"progress": n + 1})
        assert report.status_code == 200
    return str(pid)


BEFORE_PROGRESS = ["project.created", "project.status_changed", "export.started", "project.status_changed"]


def per_project(receiver: Receiver) -> dict[str, list[Received]]:
    """Each project's events, in the order they were first acknowledged."""
    events: dict[str, list[Received]] = {}
    for request in receiver.acknowledged():
        events.setdefault(request.json["data"]["project"]["id"], []).append(request)
    return events


def settled(receiver: Receiver, projects: list[str], reports: int) -> bool:
    """Every project's newest progress has arrived: reports in between may be folded into it."""
    events = per_project(receiver)
    return all(
        pid in events and events[pid][-1].json["data"]["job"]["progress"] == reports
        for pid in projects
        if pid in events and events[pid][-1].type == "export.progress"
    ) and all(pid in events and events[pid][-1].type == "export.progress" for pid in projects)


def assert_in_order(receiver: Receiver, projects: list[str], reports: int) -> None:
    """Each project's events in order, its progress never going down and ending at the newest."""
    events = per_project(receiver)
    assert sorted(events) == sorted(projects)
    for pid in projects:
        types = [request.type for request in events[pid]]
        assert types[: len(BEFORE_PROGRESS)] == BEFORE_PROGRESS
        figures = [request.json["data"]["job"]["progress"] for request in events[pid][len(BEFORE_PROGRESS) :]]
        assert set(types[len(BEFORE_PROGRESS) :]) == {"export.progress"}
        assert figures == sorted(set(figures))
        assert figures[-1] == reports


@pytest.mark.slow
async def test_a_killed_server_loses_no_pending_event(fresh_url: str) -> None:
    answer = {"status": 503}
    async with receiving(lambda _request: answer["status"]) as receiver:
        with contextlib.ExitStack() as stack:
            server = await start(stack, fresh_url)
            async with httpx.AsyncClient(base_url=server.url) as client:
                hook = (
                    await client.post("/v1/webhooks", json={"url": receiver.url, "events": EVERY_TYPE})
                ).json()
                projects = [await play(client, f"p{n}", 3) for n in range(3)]
            await receiver.wait_until(lambda r: len(r.received) > len({q.id for q in r.received}))
            server.process.send_signal(signal.SIGKILL)
            assert await asyncio.to_thread(server.process.wait, 10) == -signal.SIGKILL
        assert receiver.acknowledged() == []
        answer["status"] = 200
        with contextlib.ExitStack() as stack:
            await start(stack, fresh_url)
            await receiver.wait_until(lambda r: settled(r, projects, 3), within_s=60)
        assert_in_order(receiver, projects, 3)
        for request in receiver.acknowledged():
            verify(hook["secret"], request)


@pytest.mark.slow
async def test_two_servers_on_postgresql_attempt_each_delivery_once_at_a_time(
    database_kind: str, fresh_url: str
) -> None:
    if database_kind != "postgresql":
        pytest.skip("several server processes share a PostgreSQL database only")
    projects, reports = 20, 6  # 20 × (create, clip, start, 7 reports) = 200 changes
    async with receiving(delay_s=0.01) as receiver:
        with contextlib.ExitStack() as stack:
            first = await start(stack, fresh_url)
            second = await start(stack, fresh_url)
            async with (
                httpx.AsyncClient(base_url=first.url) as one,
                httpx.AsyncClient(base_url=second.url) as two,
            ):
                body = {"url": receiver.url, "events": EVERY_TYPE}
                hook = (await one.post("/v1/webhooks", json=body)).json()
                ids = await asyncio.gather(
                    *(play(one if n % 2 else two, f"p{n}", reports + 1) for n in range(projects))
                )
                await receiver.wait_until(lambda r: settled(r, list(ids), reports + 1), within_s=120)
        assert receiver.overlaps == 0
        assert_in_order(receiver, list(ids), reports + 1)
        for request in receiver.acknowledged():
            verify(hook["secret"], request)


ALICE, BOB = bearer("alice"), bearer("bob")


@pytest.fixture
async def api(settings: Settings) -> AsyncIterator[Api]:
    on = auth_on(settings, webhook_allow_networks=LOOPBACK, webhook_retry_base_s=0.05)
    async with AsyncTestClient(app=create_app(on)) as client:
        yield Api(client)


async def test_with_auth_a_clients_webhooks_are_its_own_and_hear_only_its_projects(api: Api) -> None:
    async with receiving() as alices, receiving() as bobs:
        body = {"events": ["project.created"]}
        hook = await api.json("POST", "/v1/webhooks", 201, json={**body, "url": alices.url}, headers=ALICE)
        await api.json("POST", "/v1/webhooks", 201, json={**body, "url": bobs.url}, headers=BOB)
        path = f"/v1/webhooks/{hook['id']}"
        for method, other in [
            ("GET", path),
            ("GET", f"{path}/deliveries"),
            ("DELETE", path),
            ("POST", f"{path}/deliveries/{'0' * 32}/redeliver"),
        ]:
            assert (await api.json(method, other, 404, headers=BOB))["code"] == "not_found"
        assert [w["id"] for w in await list_webhooks(api, headers=ALICE)] == [hook["id"]]
        assert hook["id"] not in [w["id"] for w in await list_webhooks(api, headers=BOB)]
        bobs_project = await api.json("POST", "/v1/projects", 201, json={"name": "Bob's"}, headers=BOB)
        alices_project = await api.json("POST", "/v1/projects", 201, json={"name": "Alice's"}, headers=ALICE)
        await alices.wait_until(lambda r: len(r.acknowledged()) == 1)
        await bobs.wait_until(lambda r: len(r.acknowledged()) == 1)
        assert alices.acknowledged()[0].json["data"]["project"]["id"] == alices_project["id"]
        assert bobs.acknowledged()[0].json["data"]["project"]["id"] == bobs_project["id"]
        log = await api.json("GET", f"{path}/deliveries", 200, headers=ALICE)
        assert len(log["items"]) == 1
        await api.call("DELETE", path, 204, headers=ALICE)


@pytest.mark.slow
async def test_a_410_seen_by_one_server_stops_the_other_and_a_rotation_signs_in_both(
    database_kind: str, fresh_url: str
) -> None:
    if database_kind != "postgresql":
        pytest.skip("several server processes share a PostgreSQL database only")
    answers = {"status": 410}
    async with receiving(lambda _request: answers["status"]) as receiver:
        with contextlib.ExitStack() as stack:
            first = await start(stack, fresh_url)
            second = await start(stack, fresh_url)
            async with (
                httpx.AsyncClient(base_url=first.url) as one,
                httpx.AsyncClient(base_url=second.url) as two,
            ):
                hook = (
                    await one.post("/v1/webhooks", json={"url": receiver.url, "events": EVERY_TYPE})
                ).json()
                await two.post("/v1/projects", json={"name": "Gone"})
                await receiver.wait_until(lambda r: len(r.received) == 1)
                shown = await poll(
                    lambda: two.get(f"/v1/webhooks/{hook['id']}"),
                    lambda answer: not answer.json()["enabled"],
                    timeout_s=10,
                )
                assert "410" in shown.json()["disabled_reason"]
                for client in (one, two):  # neither process attempts it any more
                    await client.post("/v1/projects", json={"name": "Kept"})
                log = await poll(
                    lambda: one.get(f"/v1/webhooks/{hook['id']}/deliveries"),
                    lambda answer: len(answer.json()["items"]) == 3,
                    timeout_s=10,
                )
                assert len(receiver.received) == 1
                assert [d["status"] for d in log.json()["items"]] == ["pending"] * 3
                rotated = (await one.post(f"/v1/webhooks/{hook['id']}/secret")).json()["secret"]
                answers["status"] = 204
                await two.patch(f"/v1/webhooks/{hook['id']}", json={"enabled": True})
                for client in (one, two, one, two):
                    await client.post("/v1/projects", json={"name": "Signed"})
                await receiver.wait_until(lambda r: len(r.acknowledged()) == 7, within_s=30)
    for request in receiver.acknowledged():
        verify(hook["secret"], request)  # the old secret, for the overlap
        verify(rotated, request)
