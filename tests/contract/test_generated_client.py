"""A stock generator trusts the served OpenAPI document: `openapi-python-client` turns it into a
client without a single warning, and that client plays a project's whole life against a real
server, reading a refused start as its typed 409 problem."""

import importlib
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import datetime
from functools import partial
from pathlib import Path
from types import ModuleType
from typing import Any

import anyio
import httpx
import pytest

from tests.api import Api
from tests.hooks import subscribe
from tests.polling import poll
from tests.receiver import Received, Receiver, receiving
from tests.servers import LOOPBACK_ONLY, running_server

pytestmark = pytest.mark.slow
GENERATOR = Path(sys.executable).with_name("openapi-python-client")


@pytest.fixture
def generated(server_url: str, tmp_path: Path) -> Iterator[ModuleType]:
    """The client generated from the served document, imported as a package of its own."""
    package = f"framestate_client_{uuid.uuid4().hex[:8]}"
    config = tmp_path / "config.yaml"
    config.write_text(f"package_name_override: {package}\n")
    result = subprocess.run(
        [
            str(GENERATOR),
            "generate",
            "--url",
            f"{server_url}/schema/openapi.json",
            "--meta",
            "none",
            "--config",
            str(config),
            "--output-path",
            str(tmp_path / package),
            "--fail-on-warning",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env={**os.environ, "PATH": f"{GENERATOR.parent}{os.pathsep}{os.environ.get('PATH', '')}"},
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "warning" not in output.lower(), output
    assert "skipping" not in output.lower(), output  # a post-processing step that did not run
    sys.path.insert(0, str(tmp_path))
    try:
        yield importlib.import_module(package)
    finally:
        sys.path.remove(str(tmp_path))
        for name in [name for name in sys.modules if name.split(".")[0] == package]:
            del sys.modules[name]


def _module(client: ModuleType, name: str) -> Any:
    return importlib.import_module(f"{client.__name__}.{name}")


def test_the_generated_client_plays_a_project_through_its_life(
    generated: ModuleType, server_url: str
) -> None:
    models = _module(generated, "models")
    projects = _module(generated, "api.projects")
    clips = _module(generated, "api.clips")
    exports = _module(generated, "api.exports")
    for name in ("create_project", "get_project", "get_project_history"):
        importlib.import_module(f"{projects.__name__}.{name}")
    for name in ("start_export", "report_progress", "succeed_export", "cancel_export"):
        importlib.import_module(f"{exports.__name__}.{name}")
    for name in ("add_clip", "remove_clip"):
        importlib.import_module(f"{clips.__name__}.{name}")
    status, action, job_type, job_status = models.Status, models.Action, models.JobType, models.JobStatus

    with generated.Client(base_url=server_url, raise_on_unexpected_status=True) as client:
        project = projects.create_project.sync(client=client, body=models.ProjectCreate(name="Surf trip"))
        assert isinstance(project, models.ProjectOut)
        assert project.status is status.NOT_STARTED
        keyframes = models.ClipWriteCropDataType0.from_dict({"keyframes": [{"t": 0, "x": 0.4}]})
        clip = clips.add_clip.sync(project.id, client=client, body=models.ClipWrite(crop_data=keyframes))
        assert isinstance(clip, models.ClipOut)

        def run(kind: Any, expect: Any) -> Any:
            job = exports.start_export.sync(project.id, client=client, body=models.ExportStart(type_=kind))
            assert isinstance(job, models.ExportJobOut), job
            assert (job.type_, job.status) == (kind, job_status.QUEUED)
            assert projects.get_project.sync(project.id, client=client).status is expect
            running = exports.report_progress.sync(
                job.id, client=client, body=models.ProgressReport(progress=40, message="encoding")
            )
            assert (running.status, running.progress) == (job_status.RUNNING, 40)
            done = exports.succeed_export.sync(
                job.id, client=client, body=models.SucceedReport(output_uri=f"s3://renders/{job.id}.mp4")
            )
            assert (done.status, done.progress) == (job_status.SUCCEEDED, 100)
            return projects.get_project.sync(project.id, client=client)

        assert run(job_type.FRAMING, status.EXPORTING_FRAMING).status is status.FRAMED
        complete = run(job_type.OVERLAY, status.EXPORTING_OVERLAY)
        assert complete.status is status.COMPLETE
        assert complete.allowed_actions == [action.START_FRAMING_EXPORT, action.START_OVERLAY_EXPORT]

        reframe = exports.start_export.sync(
            project.id, client=client, body=models.ExportStart(type_=job_type.FRAMING)
        )
        card = projects.get_project.sync(project.id, client=client)
        assert card.status is status.EXPORTING_FRAMING
        assert [job.id for job in card.active_exports] == [reframe.id]
        assert card.final_video.version == 1

        refused = exports.start_export.sync_detailed(
            project.id, client=client, body=models.ExportStart(type_=job_type.FRAMING)
        )
        assert refused.status_code == 409
        problem = refused.parsed
        assert isinstance(problem, models.Problem)
        assert (problem.code, problem.job_id) == ("export_already_active", reframe.id)

        cancelled = exports.cancel_export.sync(
            reframe.id, client=client, body=models.CancelRequest(reason="wrong clip")
        )
        assert (cancelled.status, cancelled.cancel_reason) == (job_status.CANCELLED, "wrong clip")
        assert clips.remove_clip.sync_detailed(project.id, clip.id, client=client).status_code == 204
        refused = exports.start_export.sync_detailed(
            project.id, client=client, body=models.ExportStart(type_=job_type.FRAMING)
        )
        assert refused.status_code == 409
        problem = refused.parsed
        assert isinstance(problem, models.Problem)
        assert problem.code == "transition_not_allowed"
        assert problem.project_status is status.COMPLETE
        assert problem.allowed_actions == [action.START_OVERLAY_EXPORT]

        history = projects.get_project_history.sync(project.id, client=client)
        assert isinstance(history[0], models.HistoryEntry)
        assert [(row.action, row.from_status, row.to_status) for row in history[-2:]] == [
            (action.START_FRAMING_EXPORT, status.COMPLETE, status.EXPORTING_FRAMING),
            (action.JOB_CANCELLED, status.EXPORTING_FRAMING, status.COMPLETE),
        ]
        assert (history[-1].job_id, history[-1].reason, history[-1].actor) == (reframe.id, "wrong clip", None)


TIMEOUT_S = 2.0
EVERY_TYPE = [
    "project.created",
    "project.status_changed",
    "project.deleted",
    "export.started",
    "export.progress",
    "export.succeeded",
    "export.failed",
    "export.cancelled",
    "export.timed_out",
    "export.superseded",
]


async def _every_event(base_url: str, receiver: Receiver) -> None:
    """Play what makes every event type happen, a test event included."""
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        api = Api(client)
        hook = await subscribe(api, receiver.url, EVERY_TYPE)
        await api.call("POST", f"/v1/webhooks/{hook['id']}/test", 202)
        project = await api.framed_project()
        pid = project["id"]
        framing = await api.start(pid, "framing")
        await api.progress(framing["id"], 50)
        await receiver.wait_until(lambda r: "export.progress" in r.types())  # else the end skips it
        await api.succeed(framing["id"], "s3://w1.mp4")
        overlay = await api.start(pid, "overlay")
        await api.succeed((await api.start(pid, "framing"))["id"], "s3://w2.mp4")
        assert (await api.job(overlay["id"]))["status"] == "superseded"
        await api.fail((await api.start(pid, "overlay"))["id"])
        await api.cancel((await api.start(pid, "overlay"))["id"])
        silent = await api.start(pid, "overlay")
        await poll(partial(api.job, silent["id"]), lambda job: job["status"] == "failed", timeout_s=10)
        await api.call("DELETE", f"/v1/projects/{pid}", 204)
        await receiver.wait_until(lambda r: {*EVERY_TYPE, "webhook.test"} <= set(r.types()), within_s=20)


def test_the_generated_types_parse_a_real_delivery_of_every_event_type(
    generated: ModuleType, sqlite_url: str
) -> None:
    """The document's `webhooks` section is exact enough for a generator: its body types read what a
    receiver really gets."""
    models = _module(generated, "models")
    env = {"FRAMESTATE_WEBHOOK_ALLOW_NETWORKS": LOOPBACK_ONLY, "FRAMESTATE_JOB_TIMEOUT_S": str(TIMEOUT_S)}

    async def play() -> list[Received]:
        async with receiving() as receiver:
            with running_server(sqlite_url, extra_env=env) as url:
                await _every_event(url, receiver)
            return receiver.acknowledged()

    received = anyio.run(play)
    parsed = {}
    for request in received:
        name = "".join(part.capitalize() for part in request.type.replace("_", ".").split(".")) + "Event"
        event = getattr(models, name).from_dict(request.json)
        assert (event.id, str(event.type_)) == (request.json["id"], request.type)
        assert event.timestamp == datetime.fromisoformat(request.json["timestamp"])
        parsed[request.type] = event
    assert set(parsed) == {*EVERY_TYPE, "webhook.test"}
    succeeded = parsed["export.succeeded"]
    assert isinstance(succeeded.data.project, models.ProjectOut)
    assert isinstance(succeeded.data.job, models.ExportJobOut)
