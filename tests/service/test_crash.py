"""A server killed mid-export (SIGKILL, no shutdown at all) loses nothing: a new one on the same
database answers the same card, accepts the worker's next report, and the history has no gap."""

import itertools
import signal

import httpx

from tests.servers import running_server, server_process


def test_a_killed_server_loses_nothing(fresh_url: str) -> None:
    with server_process(fresh_url) as server, httpx.Client(base_url=server.url) as client:
        project = client.post("/v1/projects", json={"name": "Crash test"}).json()
        client.post(f"/v1/projects/{project['id']}/clips", json={"crop_data": {"k": 1}})
        framing = client.post(f"/v1/projects/{project['id']}/exports", json={"type": "framing"}).json()
        client.post(f"/v1/exports/{framing['id']}/succeed")
        job = client.post(f"/v1/projects/{project['id']}/exports", json={"type": "overlay"}).json()
        for progress in (12.5, 37, 61):
            client.post(
                f"/v1/exports/{job['id']}/progress", json={"progress": progress, "message": f"at {progress}"}
            )
        before = client.get(f"/v1/projects/{project['id']}").json()
        history_before = client.get(f"/v1/projects/{project['id']}/history").json()
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
