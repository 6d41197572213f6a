"""Dead workers: a job with no report for the timeout is failed by the service itself."""

from collections.abc import Iterator
from datetime import datetime, timedelta

import httpx
import pytest

from service.context import Context
from service.operations.sweep import sweep_once
from service.store.tables import utcnow
from tests.api import Api
from tests.servers import running_server
from tests.sse import events

pytestmark = pytest.mark.anyio


async def test_a_silent_reframe_times_out_and_the_project_is_complete_again(api: Api, ctx: Context) -> None:
    complete = await api.complete_project()
    job = await api.start(complete["id"], "framing")
    await api.progress(job["id"], 30)
    timeout = timedelta(seconds=ctx.settings.job_timeout_s)

    assert await sweep_once(ctx=ctx, now=utcnow() + timeout - timedelta(seconds=5)) == 0
    assert (await api.project(complete["id"]))["status"] == "exporting_framing"

    assert await sweep_once(ctx=ctx, now=utcnow() + timeout + timedelta(seconds=1)) == 1
    card = await api.project(complete["id"])
    assert (card["status"], card["final_video"], card["active_exports"]) == (
        "complete",
        complete["final_video"],
        [],
    )
    timed_out = (await api.call("GET", f"/v1/exports/{job['id']}", 200)).json()
    assert timed_out["status"] == "failed"
    assert "Timed out" in timed_out["error"]
    assert timed_out["progress"] == 30
    last = (await api.history(complete["id"]))[-1]
    assert (last["action"], last["from_status"], last["to_status"], last["job_id"]) == (
        "job_timed_out",
        "exporting_framing",
        "complete",
        job["id"],
    )

    assert await sweep_once(ctx=ctx, now=utcnow() + timeout * 2) == 0, "a second sweep changes nothing"
    assert (await api.project(complete["id"]))["version"] == card["version"]
    late = await api.call("POST", f"/v1/exports/{job['id']}/progress", 409, json={"progress": 90})
    assert (late.json()["code"], late.json()["job_status"]) == ("job_not_active", "failed")


async def test_a_report_keeps_a_job_alive_and_only_silent_jobs_are_swept(api: Api, ctx: Context) -> None:
    project = await api.framed_project()
    await api.run_export(project["id"], "framing")
    framing = await api.start(project["id"], "framing")
    overlay = await api.start(project["id"], "overlay")
    reported = datetime.fromisoformat((await api.progress(overlay["id"], 5))["updated_at"])
    assert reported > datetime.fromisoformat(framing["updated_at"])
    assert await sweep_once(ctx=ctx, now=reported + timedelta(seconds=ctx.settings.job_timeout_s)) == 1
    assert (await api.call("GET", f"/v1/exports/{framing['id']}", 200)).json()["status"] == "failed"
    assert (await api.call("GET", f"/v1/exports/{overlay['id']}", 200)).json()["status"] == "running"
    assert (await api.project(project["id"]))["status"] == "exporting_overlay"


@pytest.fixture
def quick_timeout_server(sqlite_url: str) -> Iterator[str]:
    with running_server(sqlite_url, extra_env={"FRAMESTATE_JOB_TIMEOUT_S": "0.5"}) as base_url:
        yield base_url


async def test_a_running_server_sweeps_on_its_own(quick_timeout_server: str) -> None:
    async with httpx.AsyncClient(base_url=quick_timeout_server, timeout=30) as client:
        project = (await client.post("/v1/projects", json={"name": "Left alone"})).json()
        await client.post(f"/v1/projects/{project['id']}/clips", json={"crop_data": {"k": 1}})
        async with events(client, f"/v1/projects/{project['id']}/events") as stream:
            assert (await stream.next())[1]["status"] == "in_progress"
            job = (
                await client.post(f"/v1/projects/{project['id']}/exports", json={"type": "framing"})
            ).json()
            assert (await stream.next())[1]["status"] == "exporting_framing"
            name, card = await stream.next()
            assert (name, card["status"], card["active_exports"]) == ("project", "in_progress", [])
        swept = (await client.get(f"/v1/exports/{job['id']}")).json()
        assert swept["status"] == "failed"
        assert swept["error"] == "Timed out: the worker sent no report for 0.5 seconds."


async def test_a_report_that_changes_nothing_still_keeps_the_job_alive(api: Api, ctx: Context) -> None:
    project = await api.framed_project()
    job = await api.start(project["id"], "framing")
    running = await api.progress(job["id"], 20)
    version = (await api.project(project["id"]))["version"]
    await api.progress(job["id"], 20)
    assert (await api.project(project["id"]))["version"] == version, "a heartbeat commits no change"
    just_before = datetime.fromisoformat(running["updated_at"]) + timedelta(
        seconds=ctx.settings.job_timeout_s
    )
    assert await sweep_once(ctx=ctx, now=just_before + timedelta(milliseconds=1)) == 0
    assert (await api.call("GET", f"/v1/exports/{job['id']}", 200)).json()["status"] == "running"
