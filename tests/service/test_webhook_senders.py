"""Webhooks like the best senders, against real receivers: Retry-After, 410 Gone, endpoints disabled
by a run of failures and enabled again, PATCH, secret rotation (verified with the published
`standardwebhooks`), recovery after an outage, test events, and the bad input of each."""

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from functools import partial
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from service.http.app import create_app
from service.settings import Settings
from tests.api import JSON, Api, assert_problem
from tests.auth import auth_on, bearer
from tests.hooks import deliveries, log_until, subscribe, webhook_settings
from tests.metrics import parse, value
from tests.polling import poll
from tests.receiver import Received, Receiver, always, receiving

pytestmark = pytest.mark.anyio


@asynccontextmanager
async def _api(settings: Settings, **changes: Any) -> AsyncIterator[Api]:
    async with AsyncTestClient(app=create_app(webhook_settings(settings, **changes))) as client:
        yield Api(client)


def _at(received: Received) -> float:
    return received.at


async def test_retry_after_in_seconds_and_as_a_date_is_waited_for(settings: Settings) -> None:
    answers: list[Any] = [(429, {"Retry-After": "1"}), (503, {"Retry-After": "HTTP-DATE"}), 204]

    def answer(request: Received) -> Any:
        given = answers[min(request.index, 2)]
        if isinstance(given, tuple) and given[1]["Retry-After"] == "HTTP-DATE":
            moment = datetime.now(UTC) + timedelta(seconds=2)
            return given[0], {"Retry-After": format_datetime(moment, usegmt=True)}
        return given

    async with receiving(answer) as receiver, _api(settings) as api:
        await subscribe(api, receiver.url, ["project.created"])
        await api.create_project()
        await receiver.wait_until(lambda r: len(r.acknowledged()) == 1, within_s=15)
    first, second, third = receiver.received[:3]
    assert second.at - first.at >= 1.0  # the base of the retries is 0.05 s: Retry-After ruled
    assert third.at - second.at >= 1.0  # an HTTP date two seconds ahead (to the second)


async def test_410_disables_the_endpoint_at_once_and_enabling_sends_what_waited(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    status = {"code": 410}
    caplog.set_level(logging.WARNING, logger="framestate")
    async with receiving(lambda _r: status["code"]) as receiver, _api(settings) as api:
        before = parse((await api.call("GET", "/metrics", 200)).text)
        hook = await subscribe(api, receiver.url, ["project.created"])
        await api.create_project("One")
        shown = await poll(
            lambda: api.json("GET", f"/v1/webhooks/{hook['id']}", 200),
            lambda h: not h["enabled"],
            timeout_s=10,
        )
        assert "410" in shown["disabled_reason"]
        await api.create_project("Two")  # kept for it, not attempted
        log = await log_until(api, hook["id"], lambda log: len(log) == 2)
        assert all(d["status"] == "pending" for d in log)
        assert len(receiver.received) == 1
        metrics = parse((await api.call("GET", "/metrics", 200)).text)
        name = "framestate_webhook_endpoints_disabled_total"
        assert value(metrics, name, reason="gone") - value(before, name, reason="gone") == 1
        assert any(hook["id"] in r.getMessage() and r.levelno == logging.WARNING for r in caplog.records)
        status["code"] = 204
        enabled = await api.json("PATCH", f"/v1/webhooks/{hook['id']}", 200, json={"enabled": True})
        assert (enabled["enabled"], enabled["disabled_reason"]) == (True, None)
        await receiver.wait_until(lambda r: len(r.acknowledged()) == 2, within_s=10)
    assert [r.json["data"]["project"]["name"] for r in receiver.acknowledged()] == ["One", "Two"]


async def test_a_run_of_failures_past_the_window_disables_the_endpoint(settings: Settings) -> None:
    async with receiving(always(500)) as receiver, _api(settings, webhook_disable_after_s=0.6) as api:
        before = parse((await api.call("GET", "/metrics", 200)).text)
        hook = await subscribe(api, receiver.url, ["project.created"])
        await api.create_project()
        shown = await poll(
            lambda: api.json("GET", f"/v1/webhooks/{hook['id']}", 200),
            lambda h: not h["enabled"],
            timeout_s=15,
        )
        assert "FRAMESTATE_WEBHOOK_DISABLE_AFTER_S" in shown["disabled_reason"]
        first_failure = receiver.received[0].at
        attempts = len(receiver.received)
        assert receiver.received[-1].at - first_failure >= 0.6
        metrics = parse((await api.call("GET", "/metrics", 200)).text)
        name = "framestate_webhook_endpoints_disabled_total"
        assert value(metrics, name, reason="failing") - value(before, name, reason="failing") == 1
        await api.create_project()
        await log_until(api, hook["id"], lambda log: len(log) == 2)
    assert len(receiver.received) == attempts  # nothing attempted once disabled


def _more_than(seen: int, receiver: Receiver) -> bool:
    return len(receiver.received) > seen


async def test_a_success_ends_a_run_of_failures(settings: Settings) -> None:
    """Failures with a success in between never add up to the window."""
    async with (
        receiving(lambda r: 500 if r.index % 3 else 204) as receiver,
        _api(settings, webhook_disable_after_s=1.5) as api,
    ):
        hook = await subscribe(api, receiver.url, ["project.created"])
        started = time.monotonic()
        while time.monotonic() - started < 2.5:
            seen = len(receiver.received)
            await api.create_project()
            await receiver.wait_until(partial(_more_than, seen), within_s=5)
        assert (await api.json("GET", f"/v1/webhooks/{hook['id']}", 200))["enabled"]


async def test_patch_changes_the_url_the_events_and_whether_it_is_enabled(settings: Settings) -> None:
    async with receiving() as old, receiving() as new, _api(settings) as api:
        hook = await subscribe(api, old.url, ["project.created"])
        path = f"/v1/webhooks/{hook['id']}"
        changed = await api.json(
            "PATCH", path, 200, json={"url": new.url, "events": ["project.created", "project.deleted"]}
        )
        assert changed["url"] == new.url
        assert changed["events"] == ["project.created", "project.deleted"]
        assert "secret" not in changed
        project = await api.create_project()
        await api.call("DELETE", f"/v1/projects/{project['id']}", 204)
        await new.wait_until(lambda r: r.types() == ["project.created", "project.deleted"])
        assert old.received == []
        paused = await api.json("PATCH", path, 200, json={"enabled": False})
        assert (paused["enabled"], paused["disabled_reason"]) == (False, "Disabled by its owner.")
        await api.create_project()
        await log_until(api, hook["id"], lambda log: len(log) == 3)
        assert len(new.received) == 2
        assert await api.json("GET", path, 200) == paused


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"url": None, "events": None, "enabled": None},
        {"events": []},
        {"events": ["project.renamed"]},
        {"events": ["webhook.test"]},
        {"url": "http://10.0.0.1/hook"},
        {"url": "ftp://127.0.0.1/hook"},
        {"enabled": "yes"},
        [],
    ],
)
async def test_a_bad_patch_is_refused_and_changes_nothing(settings: Settings, body: Any) -> None:
    async with _api(settings) as api:
        hook = await subscribe(api, "http://127.0.0.1:9/hook", ["project.created"])
        path = f"/v1/webhooks/{hook['id']}"
        before = await api.json("GET", path, 200)
        assert_problem(await api.call("PATCH", path, json=body), 400, "validation_error")
        assert await api.json("GET", path, 200) == before


def _verifies(secret: str, request: Received) -> bool:
    try:
        Webhook(secret).verify(request.body, request.headers)
    except WebhookVerificationError:
        return False
    return True


async def test_a_rotated_secret_signs_beside_the_old_one_for_the_overlap(settings: Settings) -> None:
    async with receiving() as receiver, _api(settings, webhook_old_secret_ttl_s=1.5) as api:
        hook = await subscribe(api, receiver.url, ["project.created"])
        old = hook["secret"]
        new = (await api.json("POST", f"/v1/webhooks/{hook['id']}/secret", 200))["secret"]
        assert new != old
        assert new.startswith("whsec_")
        await api.create_project("During")
        await receiver.wait_until(lambda r: len(r.acknowledged()) == 1)
        during = receiver.acknowledged()[0]
        assert len(during.headers["webhook-signature"].split(" ")) == 2
        assert _verifies(old, during)
        assert _verifies(new, during)
        await asyncio.sleep(1.6)  # the overlap is a span of time: nothing to await but its end
        await api.create_project("After")
        await receiver.wait_until(lambda r: len(r.acknowledged()) == 2)
        after = receiver.acknowledged()[1]
        assert len(after.headers["webhook-signature"].split(" ")) == 1
        assert _verifies(new, after)
        assert not _verifies(old, after)


async def test_recover_sends_again_what_failed_since_then(settings: Settings) -> None:
    status = {"code": 500}
    async with receiving(lambda _r: status["code"]) as receiver, _api(settings, webhook_max_age_s=0.3) as api:
        hook = await subscribe(api, receiver.url, ["project.created"])
        path = f"/v1/webhooks/{hook['id']}"
        since = datetime.now(UTC) - timedelta(seconds=1)
        for name in ("One", "Two"):
            await api.create_project(name)
        await log_until(api, hook["id"], lambda log: [d["status"] for d in log] == ["failed"] * 2)
        status["code"] = 204
        answer = await api.json("POST", f"{path}/recover", 202, json={"since": since.isoformat()})
        assert answer == {"recovered": 2}
        await receiver.wait_until(lambda r: len(r.acknowledged()) == 2, within_s=10)
        assert await api.json("POST", f"{path}/recover", 202, json={"since": since.isoformat()}) == {
            "recovered": 0
        }


@pytest.mark.parametrize(
    "body",
    [
        {"since": "yesterday"},
        {"since": "2026-13-01T00:00:00Z"},
        {"since": "2026-12-01T09:00:00"},
        {"since": (datetime.now(UTC) + timedelta(hours=1)).isoformat()},
        {"since": 1733216400},
        {},
        {"since": None},
    ],
)
async def test_a_bad_recover_is_refused(settings: Settings, body: Any) -> None:
    async with _api(settings) as api:
        hook = await subscribe(api, "http://127.0.0.1:9/hook", ["project.created"])
        response = await api.call("POST", f"/v1/webhooks/{hook['id']}/recover", json=body)
        assert_problem(response, 400, "validation_error")


async def test_a_test_event_goes_to_that_endpoint_alone_whatever_it_asked_for(settings: Settings) -> None:
    async with receiving() as one, receiving() as other, _api(settings) as api:
        hook = await subscribe(api, one.url, ["export.failed"])
        await subscribe(api, other.url, ["project.created"])
        sent = await api.json("POST", f"/v1/webhooks/{hook['id']}/test", 202)
        await one.wait_until(lambda r: len(r.acknowledged()) == 1)
        body = Webhook(hook["secret"]).verify(one.received[0].body, one.received[0].headers)
        assert (body["type"], body["data"]) == ("webhook.test", {})
        assert other.received == []
        log = await deliveries(api, hook["id"])
        assert [(d["id"], d["type"]) for d in log] == [(sent["delivery_id"], "webhook.test")]


async def test_another_owners_endpoint_is_404_to_every_new_operation(settings: Settings) -> None:
    async with AsyncTestClient(app=create_app(auth_on(webhook_settings(settings)))) as client:
        api = Api(client)
        hook: JSON = await subscribe(
            api, "http://127.0.0.1:9/hook", ["project.created"], headers=bearer("alice")
        )
        path = f"/v1/webhooks/{hook['id']}"
        since = {"since": datetime.now(UTC).isoformat()}
        for method, suffix, body in (
            ("PATCH", "", {"enabled": False}),
            ("POST", "/secret", None),
            ("POST", "/recover", since),
            ("POST", "/test", None),
        ):
            response = await api.call(method, path + suffix, json=body, headers=bearer("bob"))
            assert_problem(response, 404, "not_found")
        assert (await api.json("GET", path, 200, headers=bearer("alice")))["enabled"]
        assert await deliveries(api, hook["id"], headers=bearer("alice")) == []
