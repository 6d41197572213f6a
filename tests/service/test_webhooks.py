"""Webhooks in one process: the events of a workflow reach real receivers on loopback, in order,
signed so that `standardwebhooks` verifies them; retries, time-outs, max age and redelivery."""

import asyncio
import base64
from collections.abc import AsyncIterator
from datetime import datetime
from functools import partial
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from bench.servers import free_port
from service.http.app import create_app
from service.settings import Settings
from service.webhooks.claims import ENDPOINT_SHARE
from tests.api import JSON, Api, assert_problem
from tests.hooks import deliveries, list_webhooks, log_until, subscribe, webhook_settings
from tests.metrics import Samples, parse, value
from tests.polling import poll
from tests.receiver import HANG, Received, always, receiving, verify

pytestmark = pytest.mark.anyio
ALL_BUT_PROGRESS = [
    "project.created",
    "project.status_changed",
    "project.deleted",
    "export.started",
    "export.succeeded",
    "export.failed",
    "export.cancelled",
    "export.timed_out",
    "export.superseded",
]


@pytest.fixture
async def hooks(settings: Settings) -> AsyncIterator[Api]:
    async with AsyncTestClient(app=create_app(webhook_settings(settings))) as client:
        yield Api(client)


async def test_a_webhook_is_created_read_listed_and_deleted(hooks: Api) -> None:
    created = await subscribe(hooks, "https://127.0.0.1:9/framestate", ["project.created"])
    assert set(created) == {"id", "url", "events", "enabled", "disabled_reason", "secret", "created_at"}
    assert (created["enabled"], created["disabled_reason"]) == (True, None)
    assert created["url"] == "https://127.0.0.1:9/framestate"
    assert created["events"] == ["project.created"]
    assert created["secret"].startswith("whsec_")
    assert len(base64.b64decode(created["secret"].removeprefix("whsec_"))) >= 24
    datetime.fromisoformat(created["created_at"])
    shown = await hooks.json("GET", f"/v1/webhooks/{created['id']}", 200)
    assert shown == {k: v for k, v in created.items() if k != "secret"}
    assert await list_webhooks(hooks) == [shown]
    await hooks.call("DELETE", f"/v1/webhooks/{created['id']}", 204)
    for method in ("GET", "DELETE"):
        problem = await hooks.json(method, f"/v1/webhooks/{created['id']}", 404)
        assert problem["code"] == "not_found"
    assert await list_webhooks(hooks) == []


@pytest.mark.parametrize(
    "body",
    [
        {"url": "ftp://hooks.example.com/", "events": ["project.created"]},
        {"url": "hooks.example.com/x", "events": ["project.created"]},
        {"url": "http://", "events": ["project.created"]},
        {"url": "http://[::1", "events": ["project.created"]},
        {"url": "http://a:99999/", "events": ["project.created"]},
        {"url": "http://a b/", "events": ["project.created"]},
        {"url": "https://x.example.com/" + "a" * 2000, "events": ["project.created"]},
        {"url": "", "events": ["project.created"]},
        {"url": 7, "events": ["project.created"]},
        {"events": ["project.created"]},
        {"url": "https://hooks.example.com/"},
        {"url": "https://hooks.example.com/", "events": []},
        {"url": "https://hooks.example.com/", "events": ["project.renamed"]},
        {"url": "https://hooks.example.com/", "events": "project.created"},
        {"url": "https://hooks.example.com/", "events": [None]},
        [],
    ],
)
async def test_a_bad_webhook_is_refused_and_changes_nothing(hooks: Api, body: Any) -> None:
    assert_problem(await hooks.call("POST", "/v1/webhooks", 400, json=body), 400, "validation_error")
    assert await list_webhooks(hooks) == []


async def test_malformed_json_is_refused(hooks: Api) -> None:
    response = await hooks.call(
        "POST", "/v1/webhooks", 400, content=b"{nope", headers={"content-type": "application/json"}
    )
    assert response.json()["code"] == "validation_error"


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/hook",
        "http://127.8.9.10/hook",
        "http://[::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://10.1.2.3/hook",
        "http://172.16.5.4/hook",
        "https://192.168.1.10/hook",
        "http://[fd00::1]/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[fe80::1]/hook",
        "http://0.0.0.0:8000/hook",
        "http://[::]/hook",
        "http://localhost:8000/hook",
        "http://2130706433/hook",
        "http://no-such-host.invalid/hook",
    ],
)
async def test_private_and_unresolvable_urls_are_refused_without_the_setting(
    settings: Settings, url: str
) -> None:
    async with AsyncTestClient(app=create_app(settings)) as client:
        api = Api(client)
        problem = await api.json(
            "POST", "/v1/webhooks", 400, json={"url": url, "events": ["project.created"]}
        )
        assert problem["code"] == "validation_error"
        assert await list_webhooks(api) == []


async def test_the_setting_allows_loopback(hooks: Api) -> None:
    await subscribe(hooks, "http://localhost:9/hook", ["project.created"])


@pytest.mark.parametrize(
    "query", ["limit=0", "limit=201", "limit=x", "cursor=", "cursor=%%%", "cursor=bm9wZQ"]
)
async def test_bad_delivery_queries_are_refused(hooks: Api, query: str) -> None:
    webhook = await subscribe(hooks, "http://127.0.0.1:9/hook", ["project.created"])
    problem = await hooks.json("GET", f"/v1/webhooks/{webhook['id']}/deliveries?{query}", 400)
    assert problem["code"] == "validation_error"


async def test_unknown_webhooks_and_deliveries_are_404(hooks: Api) -> None:
    webhook = await subscribe(hooks, "http://127.0.0.1:9/hook", ["project.created"])
    for method, path in [
        ("GET", "/v1/webhooks/nope"),
        ("DELETE", "/v1/webhooks/nope"),
        ("GET", "/v1/webhooks/nope/deliveries"),
        ("POST", "/v1/webhooks/nope/deliveries/nope/redeliver"),
        ("POST", f"/v1/webhooks/{webhook['id']}/deliveries/nope/redeliver"),
        ("GET", "/v1/webhooks/%00"),
        ("DELETE", f"/v1/webhooks/{webhook['id']}%00"),
        ("GET", "/v1/webhooks/" + "é" * 32 + "/deliveries"),
        ("POST", f"/v1/webhooks/{webhook['id']}/deliveries/{'0' * 31}%00/redeliver"),
        ("POST", f"/v1/webhooks/{webhook['id']}/deliveries/{'9' * 40}/redeliver"),
    ]:
        assert (await hooks.json(method, path, 404))["code"] == "not_found"


async def _play_the_table(api: Api) -> str:
    """Every action of the contract's table once, and a deletion; the project's id."""
    project = await api.framed_project()
    pid = project["id"]
    framing = await api.start(pid, "framing")
    await api.progress(framing["id"], 50, "halfway")
    await api.succeed(framing["id"], "s3://w1.mp4")
    overlay = await api.start(pid, "overlay")
    reframe = await api.start(pid, "framing")
    await api.succeed(reframe["id"], "s3://w2.mp4")
    assert (await api.job(overlay["id"]))["status"] == "superseded"
    await api.fail((await api.start(pid, "overlay"))["id"])
    await api.cancel((await api.start(pid, "overlay"))["id"])
    await api.run_export(pid, "overlay")
    await api.call("DELETE", f"/v1/projects/{pid}", 204)
    return str(pid)


TABLE_EVENTS = [
    "project.created",
    "project.status_changed",  # clip added: in_progress
    "export.started",
    "project.status_changed",  # exporting_framing
    "export.progress",
    "export.succeeded",
    "project.status_changed",  # framed
    "export.started",
    "project.status_changed",  # exporting_overlay
    "export.started",
    "project.status_changed",  # exporting_framing, the overlay still running
    "export.succeeded",
    "export.superseded",
    "project.status_changed",  # framed
    "export.started",
    "project.status_changed",
    "export.failed",
    "project.status_changed",
    "export.started",
    "project.status_changed",
    "export.cancelled",
    "project.status_changed",
    "export.started",
    "project.status_changed",
    "export.progress",
    "export.succeeded",
    "project.status_changed",  # complete
    "project.deleted",
]


def _check_body(body: JSON, request: Received) -> None:
    assert set(body) == {"id", "type", "timestamp", "data"}
    assert body["id"] == request.id
    datetime.fromisoformat(body["timestamp"])
    data = body["data"]
    if body["type"] == "project.deleted":
        assert set(data["project"]) == {"id"}
        return
    assert {"id", "status", "version", "active_exports", "allowed_actions"} <= set(data["project"])
    if body["type"].startswith("export."):
        assert data["job"]["project_id"] == data["project"]["id"]
        ended = body["type"].removeprefix("export.")
        if ended in ("succeeded", "failed", "cancelled", "superseded"):
            assert data["job"]["status"] == ended


async def test_the_table_played_through_reaches_receivers_in_order_and_verified(hooks: Api) -> None:
    async with receiving() as everything, receiving() as no_progress:
        webhook = await subscribe(hooks, everything.url, [*ALL_BUT_PROGRESS, "export.progress"])
        quiet = await subscribe(hooks, no_progress.url, ALL_BUT_PROGRESS)
        pid = await _play_the_table(hooks)
        expected_quiet = [t for t in TABLE_EVENTS if t != "export.progress"]
        await everything.wait_until(lambda r: len(r.acknowledged()) >= len(expected_quiet))
        await no_progress.wait_until(lambda r: len(r.acknowledged()) >= len(expected_quiet))
        history = await log_until(
            hooks, webhook["id"], lambda log: all(d["status"] != "pending" for d in log)
        )
        # A job's progress that had not gone out when the job ended is skipped, never sent after.
        expected = [d["type"] for d in reversed(history) if d["status"] == "delivered"]
        assert everything.types() == expected
        assert no_progress.types() == expected_quiet
        versions = []
        for receiver, secret in ((everything, webhook["secret"]), (no_progress, quiet["secret"])):
            for request in receiver.acknowledged():
                body = verify(secret, request)
                assert body["data"]["project"]["id"] == pid
                _check_body(body, request)
                if receiver is everything and body["type"] != "project.deleted":
                    versions.append(body["data"]["project"]["version"])
        assert versions == sorted(versions)
        # A progress event fanned out together with its job's end event never becomes a delivery.
        logged = [d["type"] for d in reversed(history)]
        assert [t for t in logged if t != "export.progress"] == expected_quiet
        assert logged.count("export.progress") <= TABLE_EVENTS.count("export.progress")
        sent = [d for d in history if d["status"] == "delivered"]
        assert [d["type"] for d in reversed(sent)] == expected
        assert [d["attempts"] for d in sent] == [1] * len(sent)
        assert all(d["last_status_code"] == 204 and d["delivered_at"] for d in sent)
        assert {d["status"] for d in history} - {"delivered"} <= {"skipped"}


async def test_a_silent_job_times_out_as_export_timed_out(settings: Settings) -> None:
    app = create_app(webhook_settings(settings, job_timeout_s=0.2))
    async with AsyncTestClient(app=app) as client, receiving() as receiver:
        api = Api(client)
        await subscribe(api, receiver.url, ["export.timed_out", "project.status_changed"])
        project = await api.framed_project()
        job = await api.start(project["id"], "framing")
        await receiver.wait_until(lambda r: len(r.acknowledged()) >= 4)
        assert receiver.types() == [
            "project.status_changed",
            "project.status_changed",
            "export.timed_out",
            "project.status_changed",
        ]
        timed_out = receiver.acknowledged()[2].json["data"]
        assert timed_out["job"]["id"] == job["id"]
        assert timed_out["job"]["status"] == "failed"


async def test_a_failing_receiver_is_retried_with_growing_waits_and_later_events_wait(hooks: Api) -> None:
    async with receiving(lambda request: 500 if request.index < 3 else 200) as receiver:
        webhook = await subscribe(hooks, receiver.url, ["project.created", "project.status_changed"])
        await hooks.framed_project()
        await receiver.wait_until(lambda r: len(r.acknowledged()) >= 2)
        assert [r.type for r in receiver.received] == ["project.created"] * 4 + ["project.status_changed"]
        assert len({r.id for r in receiver.received[:4]}) == 1
        for request in receiver.received:
            verify(webhook["secret"], request)
        base = 0.05
        for n, (before, after) in enumerate(zip(receiver.received[:3], receiver.received[1:4], strict=True)):
            assert (
                after.at - before.at <= base * 2**n + 1.0
            )  # full jitter up to base × 2^n, and the 0.5 s poll
        log = await log_until(hooks, webhook["id"], lambda log: all(d["delivered_at"] for d in log))
        assert [d["type"] for d in log] == ["project.status_changed", "project.created"]
        created = log[1]
        assert created["status"] == "delivered"
        assert created["attempts"] == 4
        assert created["last_status_code"] == 200
        assert created["last_error"] is None
        assert created["next_attempt_at"] is None
        assert log[0]["attempts"] == 1


async def test_a_hanging_and_a_deaf_receiver_do_not_hold_up_the_others(settings: Settings) -> None:
    app = create_app(webhook_settings(settings, webhook_timeout_s=0.5))
    async with (
        AsyncTestClient(app=app) as client,
        receiving(always(HANG)) as hanging,
        receiving() as healthy,
    ):
        api = Api(client)
        deaf_url = f"http://127.0.0.1:{free_port()}/hook"
        hang = await subscribe(api, hanging.url, ["project.created"])
        deaf = await subscribe(api, deaf_url, ["project.created"])
        await subscribe(api, healthy.url, ["project.created"])
        for name in range(5):
            await api.create_project(f"p{name}")
        await healthy.wait_until(lambda r: len(r.acknowledged()) == 5, within_s=10)
        await hanging.wait_until(lambda r: len(r.received) > len({q.id for q in r.received}), within_s=30)
        for webhook, error in ((hang, "no answer within 0.5 s"), (deaf, "could not connect")):
            log = await deliveries(api, webhook["id"])
            assert all(d["status"] == "pending" for d in log)
            first = [d for d in log if d["attempts"] > 0]
            assert first
            assert all(error in d["last_error"] for d in first)
        assert len({r.id for r in hanging.received}) == 5


async def test_a_hanging_endpoint_holds_its_share_of_slots_and_no_more(settings: Settings) -> None:
    """Twenty projects' deliveries to one endpoint hang for far longer than the contract's second:
    the endpoint holds its share of the dispatcher's slots, the rest wait, and the healthy
    endpoint's deliveries still go out and are recorded."""
    app = create_app(webhook_settings(settings, webhook_timeout_s=60.0))
    hung = ENDPOINT_SHARE + 12
    async with (
        AsyncTestClient(app=app) as client,
        receiving(always(HANG)) as hanging,
        receiving() as healthy,
    ):
        api = Api(client)
        await subscribe(api, hanging.url, ["project.created"])
        for name in range(hung):
            await api.create_project(f"hung {name}")
        await hanging.wait_until(lambda r: len(r.received) == ENDPOINT_SHARE, within_s=10)
        webhook = await subscribe(api, healthy.url, ["project.created"])
        for name in range(3):
            await api.create_project(f"healthy {name}")
        await healthy.wait_until(lambda r: len(r.acknowledged()) == 3, within_s=10)
        log = await poll(
            partial(deliveries, api, webhook["id"]),
            lambda items: all(d["status"] == "delivered" for d in items),
            timeout_s=10,
        )
        assert len(log) == 3  # within seconds, while the hanging attempts have a minute to go
        assert len(hanging.received) == ENDPOINT_SHARE


async def test_past_max_age_a_delivery_fails_and_redelivery_sends_it_again(settings: Settings) -> None:
    app = create_app(webhook_settings(settings, webhook_max_age_s=0.3))
    answers = {"status": 503}
    async with AsyncTestClient(app=app) as client, receiving(lambda _r: answers["status"]) as receiver:
        api = Api(client)
        webhook = await subscribe(api, receiver.url, ["project.created"])
        await api.create_project()
        path = f"/v1/webhooks/{webhook['id']}/deliveries"
        await _until(api, path, lambda d: d["status"] == "failed")
        failed = (await deliveries(api, webhook["id"]))[0]
        assert failed["attempts"] >= 1
        assert failed["last_status_code"] == 503
        assert failed["next_attempt_at"] is None
        answers["status"] = 200
        again = await api.json("POST", f"{path}/{failed['id']}/redeliver", 202)
        assert again["id"] == failed["id"]
        assert again["status"] == "pending"
        await receiver.wait_until(lambda r: len(r.acknowledged()) == 1)
        assert receiver.acknowledged()[0].id == failed["event_id"]
        verify(webhook["secret"], receiver.acknowledged()[0])
        delivered = await _until(api, path, lambda d: d["status"] == "delivered")
        assert delivered["attempts"] == failed["attempts"] + 1


async def _until(api: Api, path: str, done: Any, within_s: float = 20.0) -> JSON:
    """Poll a webhook's newest delivery until `done` holds for it (the dispatcher works on its own)."""
    async with asyncio.timeout(within_s):
        while True:
            items: list[JSON] = (await api.json("GET", path, 200))["items"]
            if items and done(items[0]):
                return items[0]
            await asyncio.sleep(0.05)


async def test_delivery_attempts_and_pending_deliveries_are_in_the_metrics(hooks: Api) -> None:
    async def scrape() -> Samples:
        return parse((await hooks.call("GET", "/metrics", 200)).text)

    def attempts(samples: Samples, outcome: str) -> float:
        return value(samples, "framestate_webhook_deliveries_total", outcome=outcome)

    before = await scrape()
    assert value(before, "framestate_webhook_pending") == 0
    answers = {"status": 500}
    async with receiving(lambda _r: answers["status"]) as receiver:
        await subscribe(hooks, receiver.url, ["project.created"])
        await hooks.create_project()
        await receiver.wait_until(lambda r: len(r.received) >= 2)
        failing = await poll(
            scrape, lambda s: attempts(s, "retried") >= attempts(before, "retried") + 2, timeout_s=20
        )
        assert value(failing, "framestate_webhook_pending") == 1
        answers["status"] = 200
        await receiver.wait_until(lambda r: len(r.acknowledged()) == 1)
        after = await poll(scrape, lambda s: value(s, "framestate_webhook_pending") == 0, timeout_s=20)
    assert attempts(after, "delivered") == attempts(before, "delivered") + 1
    assert attempts(after, "failed") == attempts(before, "failed")
