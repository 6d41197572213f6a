"""Webhooks at volume, through real receivers: progress is a state (coalesced, at most one delivery
of a job per endpoint and interval, never down, never after the job's end), the outbox is pruned
past its retention, and the metrics say how old the oldest due delivery is and how long deliveries
take."""

import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from typing import Any

import httpx
import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import text

from service.http.app import create_app
from service.settings import Settings
from service.store.db import create_engine
from service.webhooks import retention
from tests.api import Api
from tests.hooks import log_until, subscribe, webhook_settings
from tests.metrics import parse, value
from tests.polling import poll
from tests.receiver import HANG, Received, Receiver, always, receiving
from tests.servers import LOOPBACK_ONLY, running_server

pytestmark = pytest.mark.anyio
INTERVAL_S = 0.3


@asynccontextmanager
async def _api(settings: Settings, **changes: Any) -> AsyncIterator[Api]:
    changes = {"webhook_progress_interval_s": INTERVAL_S, **changes}
    async with AsyncTestClient(app=create_app(webhook_settings(settings, **changes))) as client:
        yield Api(client)


def _progress(receiver: Receiver, job_id: str) -> list[Received]:
    return [
        r
        for r in receiver.acknowledged()
        if r.type == "export.progress" and r.json["data"]["job"]["id"] == job_id
    ]


def _figure(request: Received) -> float:
    return float(request.json["data"]["job"]["progress"])


def _reached(job_id: str, figure: float, receiver: Receiver) -> bool:
    sent = _progress(receiver, job_id)
    return bool(sent) and _figure(sent[-1]) == figure


async def test_a_burst_of_reports_is_one_delivery_an_interval_with_the_newest_figure(
    fresh_url: str,
) -> None:
    """Against a server process, so that the receiver's clock is not the server's loop's."""
    env = {
        "FRAMESTATE_WEBHOOK_ALLOW_NETWORKS": LOOPBACK_ONLY,
        "FRAMESTATE_WEBHOOK_PROGRESS_INTERVAL_S": str(INTERVAL_S),
    }
    async with receiving() as receiver:
        with running_server(fresh_url, extra_env=env) as url:
            async with httpx.AsyncClient(base_url=url, timeout=30) as client:
                api = Api(client)
                await subscribe(api, receiver.url, ["export.progress", "export.succeeded"])
                project = await api.framed_project()
                job = await api.start(project["id"], "framing")
                for figure in range(1, 61):
                    await api.progress(job["id"], figure)
                await receiver.wait_until(partial(_reached, job["id"], 60))
                sent = _progress(receiver, job["id"])
                figures = [_figure(r) for r in sent]
                assert figures == sorted(set(figures))
                assert len(sent) < 60
                gaps = [b.at - a.at for a, b in itertools.pairwise(sent)]
                assert all(gap >= INTERVAL_S - 0.05 for gap in gaps), gaps
                await api.succeed(job["id"])
                await receiver.wait_until(lambda r: "export.succeeded" in r.types())
    assert receiver.types()[-1] == "export.succeeded"


async def test_a_waiting_progress_delivery_takes_the_newest_figures_under_its_own_id(
    settings: Settings,
) -> None:
    async with receiving() as receiver, _api(settings, webhook_progress_interval_s=1.0) as api:
        hook = await subscribe(api, receiver.url, ["export.progress"])
        project = await api.framed_project()
        job = await api.start(project["id"], "framing")
        await api.progress(job["id"], 10)
        await receiver.wait_until(lambda r: len(r.acknowledged()) == 1)
        for figure in (20, 30, 40):  # within the interval: they wait, folded into one delivery
            await api.progress(job["id"], figure)
        log = await log_until(api, hook["id"], lambda log: len(log) == 2)
        waiting = log[0]
        assert waiting["status"] == "pending"
        await receiver.wait_until(lambda r: len(r.acknowledged()) == 2)
        log = await log_until(api, hook["id"], lambda log: log[0]["status"] == "delivered")
        assert log[0]["id"] == waiting["id"]
        assert [_figure(r) for r in receiver.acknowledged()] == [10, 40]
        assert receiver.acknowledged()[1].at - receiver.acknowledged()[0].at >= 0.95


async def test_a_jobs_end_skips_its_waiting_progress(settings: Settings) -> None:
    """No progress of a job after its end: the one waiting for its interval is skipped first."""
    async with receiving() as receiver, _api(settings, webhook_progress_interval_s=30.0) as api:
        hook = await subscribe(api, receiver.url, ["export.progress", "export.succeeded"])
        project = await api.framed_project()
        job = await api.start(project["id"], "framing")
        await api.progress(job["id"], 10)
        await receiver.wait_until(lambda r: len(r.acknowledged()) == 1)
        await api.progress(job["id"], 50)  # waits 30 s for its turn
        await log_until(api, hook["id"], lambda log: len(log) == 2)
        await api.succeed(job["id"])
        await receiver.wait_until(lambda r: r.types() == ["export.progress", "export.succeeded"], within_s=5)
        log = await log_until(api, hook["id"], lambda log: log[0]["status"] == "delivered")
        assert [d["status"] for d in log] == ["delivered", "skipped", "delivered"]
        metrics = parse((await api.call("GET", "/metrics", 200)).text)
        assert value(metrics, "framestate_webhook_deliveries_total", outcome="skipped") >= 1


async def test_an_endpoint_not_asking_for_progress_costs_a_report_no_event(settings: Settings) -> None:
    async with receiving() as receiver, _api(settings) as api:
        await subscribe(api, receiver.url, ["export.succeeded"])
        project = await api.framed_project()
        job = await api.start(project["id"], "framing")
        for figure in range(1, 6):
            await api.progress(job["id"], figure * 10)
        engine = create_engine(settings)
        try:
            async with engine.connect() as conn:
                count = (
                    await conn.execute(
                        text("SELECT count(*) FROM webhook_event WHERE type = 'export.progress'")
                    )
                ).scalar_one()
        finally:
            await engine.dispose()
        assert count == 0


async def _rows(settings: Settings) -> tuple[int, int]:
    engine = create_engine(settings)
    try:
        async with engine.connect() as conn:
            events = (await conn.execute(text("SELECT count(*) FROM webhook_event"))).scalar_one()
            deliveries = (await conn.execute(text("SELECT count(*) FROM webhook_delivery"))).scalar_one()
    finally:
        await engine.dispose()
    return int(events), int(deliveries)


async def test_the_outbox_is_pruned_past_its_retention_and_pending_deliveries_are_kept(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(retention, "INTERVAL_S", 0.2)
    async with (
        receiving() as healthy,
        receiving(always(HANG)) as hanging,
        _api(settings, webhook_retention_s=0.5, webhook_timeout_s=60.0) as api,
    ):
        await subscribe(api, healthy.url, ["project.created"])
        await subscribe(api, hanging.url, ["project.created"])
        for name in range(3):
            await api.create_project(f"p{name}")
        await healthy.wait_until(lambda r: len(r.acknowledged()) == 3)
        # the delivered ones and their events go; the hanging endpoint's pending ones, and the events
        # they name, stay
        assert await poll(lambda: _rows(settings), lambda rows: rows[1] == 3, timeout_s=10) == (3, 3)


async def test_the_oldest_due_delivery_and_the_lag_are_in_the_metrics(settings: Settings) -> None:
    async with receiving(always(503)) as failing, receiving() as healthy, _api(settings) as api:
        before = parse((await api.call("GET", "/metrics", 200)).text)
        await subscribe(api, healthy.url, ["project.created"])
        await api.create_project()
        await healthy.wait_until(lambda r: len(r.acknowledged()) == 1)
        lags = "framestate_webhook_delivery_lag_seconds_count"

        async def delivered() -> float:
            return value(parse((await api.call("GET", "/metrics", 200)).text), lags) - value(before, lags)

        assert await poll(delivered, lambda count: count >= 1, timeout_s=5) == 1  # recorded on the next turn
        metrics = parse((await api.call("GET", "/metrics", 200)).text)
        assert value(metrics, "framestate_webhook_oldest_pending_seconds") == 0
        hook = await subscribe(api, failing.url, ["project.created"])
        await api.call("PATCH", f"/v1/webhooks/{hook['id']}", 200, json={"enabled": False})
        await api.create_project()
        await log_until(api, hook["id"], lambda log: len(log) == 1)

        async def oldest() -> float:
            return value(
                parse((await api.call("GET", "/metrics", 200)).text),
                "framestate_webhook_oldest_pending_seconds",
            )

        assert await poll(oldest, lambda age: age >= 0.3, timeout_s=5) >= 0.3
