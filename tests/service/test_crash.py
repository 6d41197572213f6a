"""A server killed mid-export (SIGKILL, no shutdown at all) loses nothing: a new one on the same
database answers the same card, accepts the worker's next report, and the history has no gap."""

import itertools
import signal

import httpx

from tests.api import CROP, answered
from tests.servers import running_server, server_process


def test_a_killed_server_loses_nothing(fresh_url: str) -> None:
    with server_process(fresh_url) as server, httpx.Client(base_url=server.url) as client:
        project = answered(client.post("/v1/projects", json={"name": "Crash test"}), 201)
        answered(client.post(f"/v1/projects/{project['id']}/clips", json={"crop_data": CROP}), 201)
        exports = f"/v1/projects/{project['id']}/exports"
        framing = answered(client.post(exports, json={"type": "framing"}), 202)
        answered(client.post(f"/v1/exports/{framing['id']}/succeed"), 200)
        job = answered(client.post(exports, json={"type": "overlay"}), 202)
        for progress in (12.5, 37, 61):
            sent = {"progress": progress, "message": f"at {progress}"}
            answered(client.post(f"/v1/exports/{job['id']}/progress", json=sent), 200)
        before = answered(client.get(f"/v1/projects/{project['id']}"), 200)
        history_before = answered(client.get(f"/v1/projects/{project['id']}/history"), 200)
        server.process.send_signal(signal.SIGKILL)
        assert server.process.wait(10) == -signal.SIGKILL

    with running_server(fresh_url) as url, httpx.Client(base_url=url) as client:
        after = client.get(f"/v1/projects/{project['id']}").json()
        assert after == before
        assert (after["status"], after["active_exports"][0]["progress"]) == ("exporting_overlay", 61)
        assert after["active_exports"][0]["message"] == "at 61"
        assert client.get(f"/v1/projects/{project['id']}/history").json() == history_before

        report = client.post(f"/v1/exports/{job['id']}/progress", json={"progress": 80})
        assert (report.status_code, report.json()["progress"]) == (200, 80)
        assert client.post(f"/v1/exports/{job['id']}/succeed").status_code == 200
        card = client.get(f"/v1/projects/{project['id']}").json()
        assert (card["status"], card["version"]) == ("complete", before["version"] + 2)
        history = client.get(f"/v1/projects/{project['id']}/history").json()
        assert history[: len(history_before)] == history_before
        assert [h["action"] for h in history[len(history_before) :]] == ["job_succeeded"]
        for previous, row in itertools.pairwise(history):
            assert row["from_status"] == previous["to_status"]
