"""Exports that overlap, refreshes from a new client or a restarted app, the history, and a race."""

import asyncio
import itertools
import random

import httpx
import pytest
from litestar.testing import AsyncTestClient

from fsm.facts import Facts, status_from_facts
from service.http.app import create_app
from service.settings import Settings
from tests.api import CROP, JSON, Api
from tests.servers import running_server

pytestmark = pytest.mark.anyio


async def test_overlay_started_during_framing_is_superseded_when_framing_succeeds(api: Api) -> None:
    project = await api.framed_project()
    await api.run_export(project["id"], "framing")
    framing = await api.start(project["id"], "framing")
    overlay = await api.start(project["id"], "overlay")
    card = await api.project(project["id"])
    assert card["status"] == "exporting_framing"
    assert [(j["id"], j["type"]) for j in card["active_exports"]] == [
        (framing["id"], "framing"),
        (overlay["id"], "overlay"),
    ]
    await api.succeed(framing["id"])
    card = await api.project(project["id"])
    assert card["status"] == "framed"
    assert card["active_exports"] == []
    superseded = (await api.call("GET", f"/v1/exports/{overlay['id']}", 200)).json()
    assert superseded["status"] == "superseded"
    assert superseded["finished_at"] is not None
    for callback, body in (
        ("progress", {"progress": 90}),
        ("succeed", {}),
        ("fail", {"error": "x"}),
        ("cancel", None),
    ):
        response = await api.call("POST", f"/v1/exports/{overlay['id']}/{callback}", 409, json=body)
        assert response.json()["code"] == "job_not_active"
        assert response.json()["job_status"] == "superseded"
    assert (await api.project(project["id"]))["version"] == card["version"]


async def test_framing_started_during_overlay_takes_precedence(api: Api) -> None:
    project = await api.framed_project()
    await api.run_export(project["id"], "framing")
    overlay = await api.start(project["id"], "overlay")
    framing = await api.start(project["id"], "framing")
    card = await api.project(project["id"])
    assert card["status"] == "exporting_framing"
    assert [j["id"] for j in card["active_exports"]] == [framing["id"], overlay["id"]]
    await api.fail(framing["id"])
    assert (await api.project(project["id"]))["status"] == "exporting_overlay"


async def test_a_fresh_client_and_a_restarted_app_see_the_same_card(api: Api, settings: Settings) -> None:
    complete = await api.complete_project()
    job = await api.start(complete["id"], "framing")
    await api.progress(job["id"], 42.5, "encoding pass 1")
    before = await api.project(complete["id"])
    assert before["active_exports"][0]["progress"] == 42.5
    async with AsyncTestClient(app=create_app(settings)) as fresh:
        after = Api(fresh)
        assert await after.project(complete["id"]) == before
        page = (await fresh.get("/v1/projects")).json()
        assert page["items"][0] == before
    await api.succeed(job["id"])
    async with AsyncTestClient(app=create_app(settings)) as fresh:
        assert (await Api(fresh).project(complete["id"]))["status"] == "framed"


async def test_history_lists_every_change_of_status_in_order(api: Api) -> None:
    project = await api.create_project()
    clip = await api.add_clip(project["id"])
    await api.change_clip(project["id"], clip["id"], CROP)
    framing = await api.run_export(project["id"], "framing")
    overlay = await api.run_export(project["id"], "overlay")
    reframe = await api.start(project["id"], "framing")
    await api.progress(reframe["id"], 10)
    await api.fail(reframe["id"])
    history = await api.history(project["id"])
    assert [(h["action"], h["from_status"], h["to_status"], h["job_id"]) for h in history] == [
        ("project_created", None, "not_started", None),
        ("clip_changed", "not_started", "in_progress", None),
        ("start_framing_export", "in_progress", "exporting_framing", framing["id"]),
        ("job_succeeded", "exporting_framing", "framed", framing["id"]),
        ("start_overlay_export", "framed", "exporting_overlay", overlay["id"]),
        ("job_succeeded", "exporting_overlay", "complete", overlay["id"]),
        ("start_framing_export", "complete", "exporting_framing", reframe["id"]),
        ("job_failed", "exporting_framing", "complete", reframe["id"]),
    ]
    times = [h["at"] for h in history]
    assert times == sorted(times)
    assert all(t.endswith("Z") for t in times)


async def _facts_of(api: Api, project_id: str) -> Facts:
    card = await api.project(project_id)
    types = {job["type"] for job in card["active_exports"]}
    return Facts(
        active_framing="framing" in types,
        active_overlay="overlay" in types,
        final_video=card["final_video"] is not None,
        working_video=card["working_video"] is not None,
        framed_clip=card["framed_clip_count"] > 0,
    )


async def _random_request(
    api: Api, project_id: str, clips: list[str], jobs: list[str], rng: random.Random
) -> int:
    kind = rng.choice(["framing", "overlay", "progress", "succeed", "fail", "cancel", "clip", "crop"])
    if kind in ("framing", "overlay"):
        response = await api.client.post(f"/v1/projects/{project_id}/exports", json={"type": kind})
        if response.status_code == 202:
            jobs.append(response.json()["id"])
    elif kind == "clip":
        response = await api.client.post(f"/v1/projects/{project_id}/clips", json={"crop_data": CROP})
    elif kind == "crop":
        crop = {"crop_data": rng.choice([None, CROP])}
        response = await api.client.patch(f"/v1/projects/{project_id}/clips/{rng.choice(clips)}", json=crop)
    else:
        job = rng.choice(jobs) if jobs else "none"
        bodies: dict[str, JSON] = {"progress": {"progress": rng.randint(0, 100)}, "fail": {"error": "died"}}
        response = await api.client.post(f"/v1/exports/{job}/{kind}", json=bodies.get(kind, {}))
    return response.status_code


async def test_twenty_concurrent_requests_leave_status_equal_to_the_facts(settings: Settings) -> None:
    """Against a real server: the in-process test client runs one request at a time."""
    with running_server(settings.database_url) as base_url:
        async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:
            await _race(Api(client))


async def _race(api: Api) -> None:
    rng = random.Random(20)
    project = await api.framed_project()
    clips = [c["id"] for c in (await api.call("GET", f"/v1/projects/{project['id']}/clips", 200)).json()]
    jobs: list[str] = []
    for _round in range(5):
        statuses = await asyncio.gather(
            *(_random_request(api, project["id"], clips, jobs, rng) for _ in range(20))
        )
        assert 500 not in statuses
        assert set(statuses) <= {200, 201, 202, 404, 409}
        card = await api.project(project["id"])
        assert card["status"] == status_from_facts(await _facts_of(api, project["id"]))
        history = await api.history(project["id"])
        assert history[-1]["to_status"] == card["status"]
        for previous, row in itertools.pairwise(history):
            assert row["from_status"] == previous["to_status"]
