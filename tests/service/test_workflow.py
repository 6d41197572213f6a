"""The contract's walk through a project's life, one row a test, on each database."""

import pytest

from tests.api import CROP, JSON, Api

pytestmark = pytest.mark.anyio


async def test_create_a_project(api: Api) -> None:
    project = await api.create_project("Surf trip")
    assert project["status"] == "not_started"
    assert project["status_label"] == "Not Started"
    assert project["name"] == "Surf trip"
    assert project["version"] == 1
    assert project["is_exporting"] is False
    assert project["active_exports"] == []
    assert project["allowed_actions"] == []
    assert project["working_video"] is None
    assert project["final_video"] is None
    assert project == await api.project(project["id"])


async def test_add_clips_without_crop_data(api: Api) -> None:
    project = await api.create_project()
    await api.add_clip(project["id"])
    await api.add_clip(project["id"])
    card = await api.project(project["id"])
    assert card["status"] == "not_started"
    assert (card["clip_count"], card["framed_clip_count"]) == (2, 0)
    assert card["allowed_actions"] == []


async def test_give_one_clip_crop_data(api: Api) -> None:
    project = await api.create_project()
    clip = await api.add_clip(project["id"])
    await api.add_clip(project["id"])
    changed = await api.change_clip(project["id"], clip["id"], CROP)
    assert changed["crop_data"] == CROP
    card = await api.project(project["id"])
    assert card["status"] == "in_progress"
    assert card["status_label"] == "In Progress"
    assert (card["clip_count"], card["framed_clip_count"]) == (2, 1)
    assert card["allowed_actions"] == ["start_framing_export"]


async def test_start_a_framing_export(api: Api) -> None:
    project = await api.framed_project()
    job = await api.start(project["id"], "framing")
    assert (job["type"], job["status"], job["progress"], job["input_video_id"]) == (
        "framing",
        "queued",
        0,
        None,
    )
    card = await api.project(project["id"])
    assert card["status"] == "exporting_framing"
    assert card["status_label"] == "Framing…"
    assert card["is_exporting"] is True
    assert [j["id"] for j in card["active_exports"]] == [job["id"]]
    assert card["allowed_actions"] == []


async def test_the_framing_job_succeeds(api: Api) -> None:
    project = await api.framed_project()
    job = await api.run_export(project["id"], "framing")
    assert (job["status"], job["progress"]) == ("succeeded", 100)
    card = await api.project(project["id"])
    assert card["status"] == "framed"
    assert card["active_exports"] == []
    assert card["working_video"]["version"] == 1
    assert card["working_video"]["id"] == job["output_video_id"]
    assert card["working_video"]["uri"] == f"s3://renders/{job['id']}.mp4"
    assert card["allowed_actions"] == ["start_framing_export", "start_overlay_export"]


async def test_start_an_overlay_export(api: Api) -> None:
    project = await api.framed_project()
    await api.run_export(project["id"], "framing")
    working = (await api.project(project["id"]))["working_video"]
    job = await api.start(project["id"], "overlay")
    assert job["input_video_id"] == working["id"]
    card = await api.project(project["id"])
    assert card["status"] == "exporting_overlay"
    assert card["status_label"] == "Overlay…"
    assert card["allowed_actions"] == ["start_framing_export"]


async def test_the_overlay_job_succeeds(api: Api) -> None:
    project = await api.framed_project()
    await api.run_export(project["id"], "framing")
    job = await api.run_export(project["id"], "overlay")
    card = await api.project(project["id"])
    assert card["status"] == "complete"
    assert card["status_label"] == "Complete"
    assert card["final_video"]["id"] == job["output_video_id"]
    assert card["final_video"]["version"] == 1
    assert card["final_video"]["kind"] == "final"


async def test_reframe_the_complete_project_keeps_its_final_video(api: Api) -> None:
    complete = await api.complete_project()
    job = await api.start(complete["id"], "framing")
    card = await api.project(complete["id"])
    assert card["status"] == "exporting_framing"
    assert card["final_video"] == complete["final_video"]
    assert card["working_video"] == complete["working_video"]
    assert card["active_exports"][0]["id"] == job["id"]


async def test_that_reframe_fails_and_the_project_is_complete_again(api: Api) -> None:
    complete = await api.complete_project()
    job = await api.start(complete["id"], "framing")
    failed = await api.fail(job["id"], "out of disk")
    assert (failed["status"], failed["error"]) == ("failed", "out of disk")
    card = await api.project(complete["id"])
    assert card["status"] == "complete"
    assert card["final_video"] == complete["final_video"]
    assert card["active_exports"] == []


async def test_reframe_again_and_it_succeeds(api: Api) -> None:
    complete = await api.complete_project()
    failed = await api.start(complete["id"], "framing")
    await api.fail(failed["id"])
    await api.run_export(complete["id"], "framing")
    card = await api.project(complete["id"])
    assert card["status"] == "framed"
    assert card["final_video"] is None
    assert card["working_video"]["version"] == 2


async def test_reoverlay_a_complete_project(api: Api) -> None:
    complete = await api.complete_project()
    job = await api.start(complete["id"], "overlay")
    card = await api.project(complete["id"])
    assert card["status"] == "exporting_overlay"
    assert card["final_video"] == complete["final_video"]
    await api.progress(job["id"], 30)
    await api.succeed(job["id"])
    card = await api.project(complete["id"])
    assert card["status"] == "complete"
    assert card["final_video"]["version"] == complete["final_video"]["version"] + 1


async def test_final_video_versions_never_repeat_after_being_cleared(api: Api) -> None:
    complete = await api.complete_project()
    await api.run_export(complete["id"], "framing")
    assert (await api.project(complete["id"]))["final_video"] is None
    await api.run_export(complete["id"], "overlay")
    card = await api.project(complete["id"])
    assert (card["working_video"]["version"], card["final_video"]["version"]) == (2, 2)


async def test_cancel_returns_to_the_facts(api: Api) -> None:
    project = await api.framed_project()
    job = await api.start(project["id"], "framing")
    cancelled = await api.cancel(job["id"])
    assert cancelled["status"] == "cancelled"
    assert cancelled["finished_at"] is not None
    assert (await api.project(project["id"]))["status"] == "in_progress"


async def test_clip_edits_follow_the_facts_only_before_any_video(api: Api) -> None:
    project = await api.create_project()
    clip = await api.add_clip(project["id"], CROP)
    assert (await api.project(project["id"]))["status"] == "in_progress"
    await api.change_clip(project["id"], clip["id"], None)
    assert (await api.project(project["id"]))["status"] == "not_started"
    await api.change_clip(project["id"], clip["id"], CROP)
    await api.run_export(project["id"], "framing")
    await api.call("DELETE", f"/v1/projects/{project['id']}/clips/{clip['id']}", 204)
    card = await api.project(project["id"])
    assert (card["status"], card["clip_count"], card["framed_clip_count"]) == ("framed", 0, 0)
    assert card["allowed_actions"] == ["start_overlay_export"]
    assert (await api.call("GET", f"/v1/projects/{project['id']}/clips", 200)).json() == []


async def test_delete_a_project(api: Api) -> None:
    project = await api.complete_project()
    response = await api.call("DELETE", f"/v1/projects/{project['id']}", 204)
    assert response.content == b""
    await api.call("GET", f"/v1/projects/{project['id']}", 404)
    await api.call("GET", f"/v1/projects/{project['id']}/history", 404)


async def test_list_exports_newest_first_and_active_filter(api: Api) -> None:
    project = await api.framed_project()
    first = await api.run_export(project["id"], "framing")
    second = await api.start(project["id"], "overlay")
    path = f"/v1/projects/{project['id']}/exports"
    assert [j["id"] for j in (await api.call("GET", path, 200)).json()] == [second["id"], first["id"]]
    active = (await api.call("GET", path, 200, params={"active": "true"})).json()
    assert [j["id"] for j in active] == [second["id"]]
    assert await api.job(second["id"]) == active[0]


def _ids(page: JSON) -> list[str]:
    return [item["id"] for item in page["items"]]


async def test_list_projects_newest_first_with_cursor_and_filter(api: Api) -> None:
    created = [await api.create_project(f"p{i}") for i in range(5)]
    exporting = created[1]
    await api.add_clip(exporting["id"], CROP)
    await api.start(exporting["id"], "framing")
    newest_first = [p["id"] for p in reversed(created)]
    first = (await api.call("GET", "/v1/projects", 200, params={"limit": 2})).json()
    assert _ids(first) == newest_first[:2]
    second = (
        await api.call("GET", "/v1/projects", 200, params={"limit": 2, "cursor": first["next_cursor"]})
    ).json()
    assert _ids(second) == newest_first[2:4]
    third = (
        await api.call("GET", "/v1/projects", 200, params={"limit": 2, "cursor": second["next_cursor"]})
    ).json()
    assert (_ids(third), third["next_cursor"]) == (newest_first[4:], None)
    for status in ("exporting", "exporting_framing"):
        page = (await api.call("GET", "/v1/projects", 200, params={"status": status})).json()
        assert _ids(page) == [exporting["id"]]
        assert page["items"][0]["active_exports"][0]["type"] == "framing"
    page = (await api.call("GET", "/v1/projects", 200, params={"status": "not_started"})).json()
    assert len(page["items"]) == 4
    assert (await api.call("GET", "/v1/projects", 200)).json()["next_cursor"] is None
