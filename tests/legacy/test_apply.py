"""`framestate import-legacy --apply`, then the real HTTP API: projects under their legacy ids with their
facts, legacy versions and history row; a legacy worker that goes on reporting on its job; the next
export's version; the timeout clock; running it again; the re-sync of the cut-over."""

import asyncio
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest
from litestar.testing import AsyncTestClient

from service.context import Context
from service.http.app import create_app
from service.http.auth import Role, mint_token
from service.live.hub import Events
from service.operations.projects import find_project
from service.operations.sweep import sweep_once
from service.settings import Settings
from service.store.db import Database
from service.store.tables import utcnow
from tests.legacy.run import Run, import_legacy
from tests.legacy.run_checks import rows
from tests.legacy.scenes import CROP, cut_over_app
from tests.legacy_db import execute, sqlite_legacy
from tests.polling import poll
from tests.servers import running_server
from tests.sse import events

JSON = dict[str, Any]
IMPORTED = {
    "action": "project_imported",
    "from_status": None,
    "job_id": None,
    "actor": "system:import",
}
TABLES = ("project", "clip", "video", "export_job", "status_history", "legacy_import")


def _apply(source: str, database_url: str, tmp_path: Path, *args: str) -> Run:
    run = import_legacy(source, "--apply", *args, database_url=database_url, report=tmp_path / "report.jsonl")
    assert run.code == 0, run.stderr
    return run


def _history(client: httpx.Client, project_id: str) -> list[JSON]:
    entries: list[JSON] = client.get(f"/v1/projects/{project_id}/history").json()
    return [{k: v for k, v in entry.items() if k != "at"} for entry in entries]


def test_imported_projects_keep_their_ids_facts_and_versions_and_a_legacy_worker_goes_on(
    fresh_url: str, tmp_path: Path
) -> None:
    run = _apply(sqlite_legacy(tmp_path, cut_over_app()), fresh_url, tmp_path)
    assert run.stdout.splitlines()[-1] == (
        "outcomes: imported 7, synced 0, unchanged 0, diverged 0, conflict 0, problem 0"
    )
    with running_server(fresh_url) as base_url, httpx.Client(base_url=base_url) as client:
        card = client.get("/v1/projects/1").json()
        job = card["active_exports"][0]
        assert {
            k: card[k] for k in ("id", "name", "status", "version", "clip_count", "framed_clip_count")
        } == {
            "id": "1",
            "name": "Holiday reel",
            "status": "exporting_framing",
            "version": 1,
            "clip_count": 2,
            "framed_clip_count": 1,
        }
        assert card["created_at"] == "2024-03-01T09:30:00Z"
        assert card["working_video"] == {
            "id": "10",
            "kind": "working",
            "version": 2,
            "uri": None,
            "job_id": None,
            "created_at": "2024-03-02T10:00:00Z",
        }
        assert (card["final_video"]["id"], card["final_video"]["version"]) == ("11", 1)
        assert (job["id"], job["type"], job["status"], job["progress"]) == ("500", "framing", "running", 40)
        assert _history(client, "1") == [
            {**IMPORTED, "to_status": "exporting_framing", "reason": "legacy status: complete"}
        ]
        overlay = client.get("/v1/projects/4").json()["active_exports"][0]
        assert (overlay["id"], overlay["status"], overlay["input_video_id"]) == ("501", "queued", "14")
        assert client.get("/v1/projects/5").json()["name"] == "Empty"
        assert client.get("/v1/projects/7").json()["status"] == "not_started"

        assert client.post("/v1/exports/500/progress", json={"progress": 70}).json()["progress"] == 70
        assert client.post("/v1/exports/500/succeed", json={"output_uri": "s3://r/1.mp4"}).status_code == 200
        reframed = client.get("/v1/projects/1").json()
        assert (reframed["status"], reframed["version"], reframed["final_video"]) == ("framed", 3, None)
        assert (reframed["working_video"]["version"], reframed["working_video"]["job_id"]) == (3, "500")
        started = client.post("/v1/projects/1/exports", json={"type": "overlay"}).json()
        client.post(f"/v1/exports/{started['id']}/succeed", json={})
        assert client.get("/v1/projects/1").json()["final_video"]["version"] == 2
        assert [entry["action"] for entry in _history(client, "1")] == [
            "project_imported",
            "job_succeeded",
            "start_overlay_export",
            "job_succeeded",
        ]

        client.post("/v1/exports/501/succeed", json={})
        completed = client.get("/v1/projects/4").json()
        assert (completed["status"], completed["final_video"]["version"]) == ("complete", 1)
        assert completed["working_video"]["version"] == 5


@pytest.mark.anyio
async def test_the_timeout_clock_of_an_imported_job_starts_at_the_import(
    fresh_url: str, tmp_path: Path
) -> None:
    """The legacy jobs started in 2024; an import now gives their workers a whole timeout from now."""
    began = utcnow()
    await asyncio.to_thread(_apply, sqlite_legacy(tmp_path, cut_over_app()), fresh_url, tmp_path)
    ended = utcnow()
    settings = Settings(database_url=fresh_url)
    db = Database.open(settings)
    try:
        ctx = Context(settings=settings, db=db, events=Events(settings, partial(find_project, db=db)))
        timeout = timedelta(seconds=settings.job_timeout_s)
        assert await sweep_once(ctx=ctx, now=began + timeout - timedelta(seconds=1)) == 0
        assert await sweep_once(ctx=ctx, now=ended + timeout + timedelta(seconds=1)) == 2
    finally:
        await db.close()


def _dump(database_url: str) -> dict[str, list[tuple[Any, ...]]]:
    return {table: sorted(rows(database_url, f"SELECT * FROM {table}"), key=repr) for table in TABLES}


def test_running_it_again_changes_nothing(fresh_url: str, tmp_path: Path) -> None:
    source = sqlite_legacy(tmp_path, cut_over_app())
    _apply(source, fresh_url, tmp_path)
    before = _dump(fresh_url)
    again = _apply(source, fresh_url, tmp_path)
    assert set(again.outcomes().values()) == {"unchanged"}
    assert _dump(fresh_url) == before
    assert len(before["status_history"]) == 7


def test_the_cut_over_syncs_legacy_changes_and_leaves_framestate_changes_alone(
    fresh_url: str, tmp_path: Path
) -> None:
    source = sqlite_legacy(tmp_path, cut_over_app())
    _apply(source, fresh_url, tmp_path)
    with running_server(fresh_url) as base_url, httpx.Client(base_url=base_url) as client:
        client.post("/v1/projects/5/clips", json={"crop_data": {"x": 1}})
        execute(
            source,
            # The old app's worker finished the re-frame: a new working video, the final one cleared.
            "UPDATE export_jobs SET status = 'done', progress = 100 WHERE id = 500",
            "INSERT INTO working_videos (id, project_id, version) VALUES (15, 1, 3)",
            "UPDATE projects SET working_video_id = 15, final_video_id = NULL WHERE id = 1",
            # A new export started in the old app.
            "INSERT INTO export_jobs (id, project_id, type, status) VALUES (502, 2, 'framing', 'queued')",
            # Clips edited in the old app.
            "UPDATE clips SET crop_data = '{\"x\": 0.9}' WHERE id = 103",
            f"INSERT INTO clips (id, project_id, crop_data) VALUES (108, 3, '{CROP}')",
            # Edited in both: framestate's change stands.
            f"INSERT INTO clips (id, project_id, crop_data) VALUES (109, 5, '{CROP}')",
        )
        run = _apply(source, fresh_url, tmp_path)
        assert run.outcomes() == {
            "1": "synced",
            "2": "synced",
            "3": "synced",
            "4": "unchanged",
            "5": "diverged",
            "6": "unchanged",
            "7": "unchanged",
        }
        one = client.get("/v1/projects/1").json()
        assert (one["status"], one["version"], one["final_video"], one["active_exports"]) == (
            "framed",
            2,
            None,
            [],
        )
        assert (one["working_video"]["id"], one["working_video"]["version"]) == ("15", 3)
        assert client.get("/v1/exports/500").json()["status"] == "succeeded"
        assert _history(client, "1")[1] == {
            **IMPORTED,
            "action": "project_synced",
            "from_status": "exporting_framing",
            "to_status": "framed",
            "reason": "legacy status: complete",
        }
        two = client.get("/v1/projects/2").json()
        assert (two["status"], two["version"], two["active_exports"][0]["id"]) == (
            "exporting_framing",
            2,
            "502",
        )
        three = client.get("/v1/projects/3").json()
        assert (three["version"], three["clip_count"]) == (2, 2)
        assert [entry["action"] for entry in _history(client, "3")] == ["project_imported"]
        assert {c["id"]: c["crop_data"] for c in client.get("/v1/projects/3/clips").json()}["103"] == {
            "x": 0.9
        }
        five = client.get("/v1/projects/5").json()
        assert (five["version"], five["clip_count"]) == (2, 1)
        assert client.get("/v1/projects/5/clips").json()[0]["id"] != "109"
        assert set(_apply(source, fresh_url, tmp_path).outcomes().values()) == {"unchanged", "diverged"}
        assert client.post("/v1/exports/502/progress", json={"progress": 5}).status_code == 200


@pytest.mark.anyio
async def test_imports_are_announced_on_postgresql_streams_and_send_no_webhook(
    postgres_url: str, tmp_path: Path
) -> None:
    source = sqlite_legacy(tmp_path, cut_over_app())
    env = {"FRAMESTATE_WEBHOOK_ALLOW_PRIVATE": "true"}
    with running_server(postgres_url, extra_env=env) as base_url:
        async with httpx.AsyncClient(base_url=base_url) as client:
            hook = (
                await client.post(
                    "/v1/webhooks",
                    json={
                        "url": "http://127.0.0.1:9/hook",
                        "events": ["project.created", "project.status_changed"],
                    },
                )
            ).json()
            seen: dict[str, int] = {}
            async with events(client, "/v1/events") as reader:
                done = asyncio.create_task(asyncio.to_thread(_apply, source, postgres_url, tmp_path))
                while len(seen) < 7:
                    name, data = await reader.next()
                    if name == "project":
                        seen[data["id"]] = data["version"]
                await done
            assert seen == {str(project_id): 1 for project_id in range(1, 8)}
            deliveries = f"/v1/webhooks/{hook['id']}/deliveries"
            assert (await client.get(deliveries)).json()["items"] == []
            await client.post("/v1/projects", json={"name": "Made here"})

            async def listed() -> list[JSON]:
                items: list[JSON] = (await client.get(deliveries)).json()["items"]
                return items

            made = await poll(listed, bool, timeout_s=10)
            assert [delivery["type"] for delivery in made] == ["project.created"]


@pytest.mark.anyio
async def test_with_auth_on_the_owner_given_sees_the_imported_projects(
    fresh_url: str, tmp_path: Path
) -> None:
    secret = "s" * 40
    await asyncio.to_thread(
        _apply, sqlite_legacy(tmp_path, cut_over_app()), fresh_url, tmp_path, "--owner", "alice"
    )
    app = create_app(Settings(database_url=fresh_url, jwt_secret=secret))
    async with AsyncTestClient(app=app) as client:
        for sub, seen in (("alice", 200), ("bob", 404)):
            token = mint_token(secret, sub, Role.CLIENT)
            response = await client.get("/v1/projects/1", headers={"Authorization": f"Bearer {token}"})
            assert response.status_code == seen
        worker = mint_token(secret, "renderer", Role.WORKER)
        report = await client.post(
            "/v1/exports/500/progress", json={"progress": 50}, headers={"Authorization": f"Bearer {worker}"}
        )
        assert report.status_code == 200
