"""`GET /metrics`: every metric of the contract from start-up, each moved by the flow it counts."""

from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from litestar.testing import AsyncTestClient

from service.context import Context
from service.http.app import create_app
from service.operations.sweep import sweep_once
from service.settings import Settings
from service.store.tables import utcnow
from service.writes.unit_of_work import UnitOfWork, write
from tests.api import Api
from tests.metrics import Samples, parse, value
from tests.polling import poll
from tests.servers import running_server
from tests.sse import events

pytestmark = pytest.mark.anyio
TYPES = ("framing", "overlay")
OUTCOMES = ("succeeded", "failed", "cancelled", "timed_out", "superseded")


async def scrape(api: Api) -> Samples:
    response = await api.call("GET", "/metrics", 200)
    assert response.headers["content-type"].startswith("text/plain")
    return parse(response.text)


def test_every_metric_of_the_contract_is_there_from_start_up_at_zero(tmp_path: Path) -> None:
    with running_server(f"sqlite+aiosqlite:///{tmp_path}/m.db") as url:
        samples = parse(httpx.get(f"{url}/metrics").text)
    for job_type in TYPES:
        assert value(samples, "framestate_exports_started_total", type=job_type) == 0
        assert value(samples, "framestate_active_exports", type=job_type) == 0
        for outcome in OUTCOMES:
            assert value(samples, "framestate_exports_finished_total", type=job_type, outcome=outcome) == 0
            count = "framestate_export_duration_seconds_count"
            assert value(samples, count, type=job_type, outcome=outcome) == 0
    for stream in ("project", "all"):
        assert value(samples, "framestate_event_subscribers", stream=stream) == 0
    assert value(samples, "framestate_write_conflicts_total") == 0
    assert value(samples, "framestate_status_disagreements_total") == 0
    for outcome in ("delivered", "retried", "failed"):
        assert value(samples, "framestate_webhook_deliveries_total", outcome=outcome) == 0
    assert value(samples, "framestate_webhook_pending") == 0
    transition = {
        "action": "start_framing_export",
        "from_status": "in_progress",
        "to_status": "exporting_framing",
    }
    assert value(samples, "framestate_transitions_total", **transition) == 0


async def test_a_creation_is_counted_as_a_change_of_status_from_none(api: Api) -> None:
    created = {"action": "project_created", "from_status": "none", "to_status": "not_started"}
    before = await scrape(api)
    await api.create_project()
    await api.create_project()
    after = await scrape(api)
    assert (
        value(after, "framestate_transitions_total", **created)
        - value(before, "framestate_transitions_total", **created)
        == 2
    )


async def test_an_export_moves_the_transitions_started_active_finished_and_duration(api: Api) -> None:
    project = await api.framed_project()
    before = await scrape(api)
    job = await api.start(project["id"], "framing")
    during = await scrape(api)
    start = {"action": "start_framing_export", "from_status": "in_progress", "to_status": "exporting_framing"}
    moved = value(during, "framestate_transitions_total", **start) - value(
        before, "framestate_transitions_total", **start
    )
    assert moved == 1
    started = "framestate_exports_started_total"
    assert value(during, started, type="framing") - value(before, started, type="framing") == 1
    assert value(during, started, type="overlay") == value(before, started, type="overlay")
    assert value(during, "framestate_active_exports", type="framing") == 1
    assert value(during, "framestate_active_exports", type="overlay") == 0

    await api.succeed(job["id"])
    after = await scrape(api)
    done = {"type": "framing", "outcome": "succeeded"}
    assert (
        value(after, "framestate_exports_finished_total", **done)
        - value(before, "framestate_exports_finished_total", **done)
        == 1
    )
    count = "framestate_export_duration_seconds_count"
    assert value(after, count, **done) - value(before, count, **done) == 1
    assert value(after, "framestate_active_exports", type="framing") == 0
    succeeded = {"action": "job_succeeded", "from_status": "exporting_framing", "to_status": "framed"}
    assert (
        value(after, "framestate_transitions_total", **succeeded)
        - value(before, "framestate_transitions_total", **succeeded)
        == 1
    )


def finished(samples: Samples, job_type: str, outcome: str) -> float:
    return value(samples, "framestate_exports_finished_total", type=job_type, outcome=outcome)


async def test_each_way_an_export_ends_is_counted_under_its_outcome(api: Api, ctx: Context) -> None:
    complete = await api.complete_project()
    before = await scrape(api)
    await api.fail((await api.start(complete["id"], "overlay"))["id"])
    await api.cancel((await api.start(complete["id"], "overlay"))["id"])
    overlay = await api.start(complete["id"], "overlay")
    framing = await api.start(complete["id"], "framing")
    await api.succeed(framing["id"])  # the overlay's input is no longer current
    assert (await api.call("GET", f"/v1/exports/{overlay['id']}", 200)).json()["status"] == "superseded"
    await api.start(complete["id"], "framing")
    timeout = timedelta(seconds=ctx.settings.job_timeout_s)
    assert await sweep_once(ctx=ctx, now=utcnow() + timeout + timedelta(seconds=1)) == 1
    after = await scrape(api)
    expected = {
        ("overlay", "failed"): 1,
        ("overlay", "cancelled"): 1,
        ("overlay", "superseded"): 1,
        ("framing", "succeeded"): 1,
        ("framing", "timed_out"): 1,
        ("framing", "failed"): 0,
        ("overlay", "succeeded"): 0,
    }
    for (job_type, outcome), count in expected.items():
        assert finished(after, job_type, outcome) - finished(before, job_type, outcome) == count, (
            job_type,
            outcome,
        )
    timed_out = {"action": "job_timed_out", "from_status": "exporting_framing", "to_status": "framed"}
    assert (
        value(after, "framestate_transitions_total", **timed_out)
        - value(before, "framestate_transitions_total", **timed_out)
        == 1
    )


async def test_a_replayed_callback_counts_nothing(api: Api) -> None:
    project = await api.framed_project()
    job = await api.start(project["id"], "framing")
    await api.succeed(job["id"])
    before = await scrape(api)
    await api.succeed(job["id"])
    after = await scrape(api)
    assert finished(after, "framing", "succeeded") == finished(before, "framing", "succeeded")


async def test_a_write_that_lost_a_race_is_counted_as_a_conflict(
    api: Api, ctx: Context, database_kind: str
) -> None:
    if database_kind == "sqlite":
        pytest.skip("on SQLite writers queue on one lock: a write never loses a race")
    project = await api.create_project()
    before = await scrape(api)
    attempts = 0

    async def work(uow: UnitOfWork) -> None:
        nonlocal attempts
        attempts += 1
        if attempts == 1:  # another writer commits between this one's read and its compare-and-set
            await api.add_clip(project["id"])
        uow.touch()

    await write(ctx, project["id"], work)
    after = await scrape(api)
    assert attempts == 2
    conflicts = "framestate_write_conflicts_total"
    assert value(after, conflicts) - value(before, conflicts) == 1


async def test_open_event_streams_are_counted_per_kind(settings: Settings) -> None:
    with running_server(settings.database_url) as url:
        async with httpx.AsyncClient(base_url=url) as client:
            project = (await client.post("/v1/projects", json={"name": "watched"})).json()

            async def subscribers() -> Samples:
                return parse((await client.get("/metrics")).text)

            def counts(samples: Samples) -> tuple[float, float]:
                return (
                    value(samples, "framestate_event_subscribers", stream="all"),
                    value(samples, "framestate_event_subscribers", stream="project"),
                )

            async with events(client, "/v1/events"), events(client, f"/v1/projects/{project['id']}/events"):
                async with events(client, "/v1/events"):
                    assert counts(await subscribers()) == (2, 1)
                await poll(subscribers, lambda s: counts(s) == (1, 1), timeout_s=10)
            await poll(subscribers, lambda s: counts(s) == (0, 0), timeout_s=10)


async def test_metrics_and_health_are_open_with_auth_on(settings: Settings) -> None:
    secured = Settings(database_url=settings.database_url, jwt_secret="metrics-secret-" + "m" * 32)
    async with AsyncTestClient(app=create_app(secured)) as client:
        assert (await client.get("/v1/projects")).status_code == 401
        for path in ("/metrics", "/health/live", "/health/ready"):
            assert (await client.get(path)).status_code == 200, path
