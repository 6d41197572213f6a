"""The worker's side of the contract, pinned by the typed client export workers use
(`service/commands/worker_client.py`, also behind `framestate simulate-export`), against a real server."""

import io
from collections.abc import AsyncIterator

import httpx
import pytest

from fsm.facts import JobType
from service.commands.outcomes import CannotRun, Exit
from service.commands.simulate import simulate_export
from service.commands.worker_client import (
    ExportAlreadyActiveError,
    FramestateError,
    JobNotActiveError,
    WorkerClient,
)

pytestmark = pytest.mark.anyio


@pytest.fixture
async def project_id(server_url: str) -> AsyncIterator[str]:
    async with httpx.AsyncClient(base_url=server_url) as http:
        project = (await http.post("/v1/projects", json={"name": "Worker side"})).json()
        await http.post(f"/v1/projects/{project['id']}/clips", json={"crop_data": {"k": 1}})
        yield project["id"]


async def test_a_worker_runs_an_export_through_the_client(server_url: str, project_id: str) -> None:
    async with WorkerClient(server_url) as worker:
        job = await worker.start_export(project_id, JobType.FRAMING, idempotency_key="render-1")
        assert (job.type, job.status, job.progress) == ("framing", "queued", 0)
        again = await worker.start_export(project_id, JobType.FRAMING, idempotency_key="render-1")
        assert again.id == job.id
        running = await worker.progress(job.id, 40, "pass 1")
        assert (running.status, running.progress, running.message) == ("running", 40, "pass 1")
        assert (await worker.progress(job.id, 10)).progress == 40
        done = await worker.succeed(job.id, "s3://out/v1.mp4")
        assert (done.status, done.progress, done.output_video_id is not None) == ("succeeded", 100, True)
        assert (await worker.succeed(job.id, "s3://ignored.mp4")).output_video_id == done.output_video_id
        assert (await worker.job(job.id)) == done


async def test_the_client_raises_typed_errors(server_url: str, project_id: str) -> None:
    async with WorkerClient(server_url) as worker:
        job = await worker.start_export(project_id, JobType.FRAMING)
        with pytest.raises(ExportAlreadyActiveError) as active:
            await worker.start_export(project_id, JobType.FRAMING)
        assert active.value.job_id == job.id
        await worker.cancel(job.id)
        with pytest.raises(JobNotActiveError) as finished:
            await worker.progress(job.id, 50)
        assert (finished.value.status, finished.value.job_status) == (409, "cancelled")
        with pytest.raises(FramestateError) as missing:
            await worker.job("0" * 32)
        assert (missing.value.status, missing.value.code) == (404, "not_found")
        with pytest.raises(FramestateError) as refused:
            await worker.start_export(project_id, JobType.OVERLAY)
        assert refused.value.code == "transition_not_allowed"
        assert refused.value.body["allowed_actions"] == ["start_framing_export"]


async def test_simulate_export_plays_a_worker_to_the_end(server_url: str, project_id: str) -> None:
    out = io.StringIO()
    assert await simulate_export(server_url, project_id, JobType.FRAMING, seconds=0.3, out=out) == 0
    assert "succeeded: video" in out.getvalue()
    failing = io.StringIO()
    assert (
        await simulate_export(server_url, project_id, JobType.OVERLAY, seconds=0.3, fail=True, out=failing)
        == 0
    )
    assert "failed (as asked)" in failing.getvalue()
    async with httpx.AsyncClient(base_url=server_url) as http:
        card = (await http.get(f"/v1/projects/{project_id}")).json()
    assert (card["status"], card["working_video"]["version"], card["final_video"]) == ("framed", 1, None)
    with pytest.raises(CannotRun) as refused:
        await simulate_export(server_url, "0" * 32, JobType.FRAMING, seconds=0.1, out=io.StringIO())
    assert refused.value.status == Exit.REFUSED
    assert "refused the export" in str(refused.value)
