"""Worker callbacks that come twice or out of order, progress reports that change nothing, and
export starts that are idempotent by key, as the contract's "HTTP API" section says."""

import asyncio
from typing import Any, cast

import httpx
import pytest
from litestar.testing import transport as litestar_transport

from tests.api import CROP, JSON, Api, assert_problem

pytestmark = pytest.mark.anyio


async def version(api: Api, project_id: str) -> int:
    return (await api.project(project_id))["version"]  # type: ignore[no-any-return]


async def concurrently(api: Api, requests: list[httpx.Request]) -> list[httpx.Response]:
    """Send `requests` at once. Litestar's AsyncTestClient serves one request at a time (its
    transport blocks the event loop until the app has answered), so an asyncio.gather through
    `api.client` runs them one after the other; from threads, the app's own event loop (the
    client's blocking portal) serves them together."""
    transport = litestar_transport.TestClientTransport(client=cast(Any, api.client))

    def send(request: httpx.Request) -> httpx.Response:
        response = transport.handle_request(request)
        response.read()
        return response

    return await asyncio.gather(*(asyncio.to_thread(send, request) for request in requests))


def assert_job_not_active(response: httpx.Response, job_status: str) -> None:
    body = assert_problem(response, 409, "job_not_active")
    assert body["job_status"] == job_status, body
    assert body["title"]
    assert body["detail"]


async def running_job(api: Api, job_type: str) -> tuple[JSON, JSON]:
    """A project and its running job of `job_type` (at 40%)."""
    if job_type == "framing":
        project = await api.framed_project()
    else:
        project = await api.framed_project()
        await api.run_export(project["id"], "framing")
    started = await api.start(project["id"], job_type)
    return project, await api.progress(started["id"], 40, "rendering")


CALLBACKS = {
    "succeed": ("succeed", {"output_uri": "s3://renders/late.mp4"}),
    "fail": ("fail", {"error": "late failure"}),
    "cancel": ("cancel", None),
    "progress": ("progress", {"progress": 99, "message": "late"}),
}


async def callback(api: Api, job_id: str, name: str, body: JSON | None = None) -> httpx.Response:
    path, default = CALLBACKS[name]
    kwargs: dict[str, Any] = {}
    if body is not None:
        kwargs["json"] = body
    elif default is not None:
        kwargs["json"] = default
    return await api.call("POST", f"/v1/exports/{job_id}/{path}", **kwargs)


async def finish(api: Api, job_id: str, outcome: str) -> JSON:
    if outcome == "succeed":
        return await api.succeed(job_id, "s3://renders/first.mp4")
    if outcome == "fail":
        return await api.fail(job_id, "first failure")
    return await api.cancel(job_id)


# ---------------------------------------------------------------------------------------------
# The same outcome twice: 200, the same job, nothing changes


@pytest.mark.parametrize("job_type", ["framing", "overlay"])
@pytest.mark.parametrize(
    "second_body",
    [{"output_uri": "s3://renders/second.mp4"}, {"output_uri": None}, None],
    ids=["other-uri", "null-uri", "no-body"],
)
async def test_succeed_twice_changes_nothing(api: Api, job_type: str, second_body: JSON | None) -> None:
    project, started = await running_job(api, job_type)
    pid = project["id"]
    first = await api.succeed(started["id"], "s3://renders/first.mp4")
    assert first["status"] == "succeeded"
    kind = "working_video" if job_type == "framing" else "final_video"
    after_first = await api.project(pid)
    history = await api.history(pid)
    assert [row["action"] for row in history].count("job_succeeded") == (1 if job_type == "framing" else 2)
    assert after_first[kind]["id"] == first["output_video_id"]

    kwargs = {"json": second_body} if second_body is not None else {}
    second = (await api.call("POST", f"/v1/exports/{started['id']}/succeed", 200, **kwargs)).json()

    assert second == first
    assert await api.project(pid) == after_first
    assert await api.history(pid) == history
    assert after_first[kind]["uri"] == "s3://renders/first.mp4"
    assert after_first[kind]["version"] == 1
    # One video only: the next one of that kind is version 2, not 3.
    await api.run_export(pid, job_type)
    assert (await api.project(pid))[kind]["version"] == 2


@pytest.mark.parametrize("job_type", ["framing", "overlay"])
async def test_fail_twice_changes_nothing(api: Api, job_type: str) -> None:
    project, started = await running_job(api, job_type)
    pid = project["id"]
    first = await api.fail(started["id"], "first failure")
    assert first["status"] == "failed"
    assert first["error"] == "first failure"
    after_first = await api.project(pid)
    history = await api.history(pid)
    assert [row["action"] for row in history].count("job_failed") == 1

    second = await api.fail(started["id"], "second failure, another error")

    assert second == first
    assert second["error"] == "first failure"
    assert await api.project(pid) == after_first
    assert await api.history(pid) == history


@pytest.mark.parametrize("job_type", ["framing", "overlay"])
async def test_cancel_twice_changes_nothing(api: Api, job_type: str) -> None:
    project, started = await running_job(api, job_type)
    pid = project["id"]
    first = await api.cancel(started["id"])
    assert first["status"] == "cancelled"
    after_first = await api.project(pid)
    history = await api.history(pid)
    assert [row["action"] for row in history].count("job_cancelled") == 1

    second = await api.cancel(started["id"])

    assert second == first
    assert await api.project(pid) == after_first
    assert await api.history(pid) == history


async def test_concurrent_duplicate_succeeds_make_one_video(api: Api) -> None:
    project, started = await running_job(api, "framing")
    pid = project["id"]
    before = await version(api, pid)
    path = f"/v1/exports/{started['id']}/succeed"
    responses = await concurrently(
        api,
        [
            api.client.build_request("POST", path, json={"output_uri": f"s3://renders/{n}.mp4"})
            for n in range(10)
        ],
    )
    assert [r.status_code for r in responses] == [200] * 10, [r.text for r in responses]
    bodies = [r.json() for r in responses]
    assert {b["output_video_id"] for b in bodies} == {bodies[0]["output_video_id"]}
    assert {b["status"] for b in bodies} == {"succeeded"}
    assert await version(api, pid) == before + 1
    assert [row["action"] for row in await api.history(pid)].count("job_succeeded") == 1
    await api.run_export(pid, "framing")
    assert (await api.project(pid))["working_video"]["version"] == 2


# ---------------------------------------------------------------------------------------------
# Another callback on a finished job: 409 job_not_active, nothing changes


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("succeed", "fail"),
        ("succeed", "cancel"),
        ("succeed", "progress"),
        ("fail", "succeed"),
        ("fail", "cancel"),
        ("fail", "progress"),
        ("cancel", "succeed"),
        ("cancel", "fail"),
        ("cancel", "progress"),
    ],
)
@pytest.mark.parametrize("job_type", ["framing", "overlay"])
async def test_other_callback_on_finished_job_is_job_not_active(
    api: Api, job_type: str, first: str, second: str
) -> None:
    project, started = await running_job(api, job_type)
    pid = project["id"]
    finished = await finish(api, started["id"], first)
    after_first = await api.project(pid)
    history = await api.history(pid)

    assert_job_not_active(await callback(api, started["id"], second), finished["status"])

    assert await api.job(started["id"]) == finished
    assert await api.project(pid) == after_first
    assert await api.history(pid) == history


@pytest.mark.parametrize("progress", [0, 40, 100])
async def test_progress_after_finish_is_job_not_active(api: Api, progress: float) -> None:
    project, started = await running_job(api, "framing")
    finished = await api.succeed(started["id"])
    before = await api.project(project["id"])
    response = await callback(api, started["id"], "progress", {"progress": progress})
    assert_job_not_active(response, "succeeded")
    assert await api.job(started["id"]) == finished
    assert await api.project(project["id"]) == before


@pytest.mark.parametrize("name", ["succeed", "fail", "cancel", "progress"])
async def test_callbacks_on_a_superseded_job_are_job_not_active(api: Api, name: str) -> None:
    project, overlay = await running_job(api, "overlay")
    pid = project["id"]
    await api.run_export(pid, "framing")
    superseded = await api.job(overlay["id"])
    assert superseded["status"] == "superseded"
    before = await api.project(pid)
    history = await api.history(pid)

    assert_job_not_active(await callback(api, overlay["id"], name), "superseded")

    assert await api.job(overlay["id"]) == superseded
    assert await api.project(pid) == before
    assert await api.history(pid) == history


# ---------------------------------------------------------------------------------------------
# Progress reports


async def test_queued_job_becomes_running_on_its_first_progress(api: Api) -> None:
    project = await api.framed_project()
    pid = project["id"]
    started = await api.start(pid, "framing")
    assert started["status"] == "queued"
    assert started["progress"] == 0
    before = await version(api, pid)

    report = await api.progress(started["id"], 0)

    assert report["status"] == "running"
    assert report["progress"] == 0
    assert await api.job(started["id"]) == report
    assert await version(api, pid) == before + 1
    card = await api.project(pid)
    assert [j["status"] for j in card["active_exports"]] == ["running"]
    assert card["status"] == "exporting_framing"


async def test_lower_progress_is_ignored(api: Api) -> None:
    project, started = await running_job(api, "framing")
    pid = project["id"]
    high = await api.progress(started["id"], 60)
    before = await api.project(pid)

    low = await api.progress(started["id"], 30)

    assert low["id"] == started["id"]
    assert low["status"] == "running"
    assert low["progress"] == 60
    assert low == high
    assert await api.job(started["id"]) == high
    assert await api.project(pid) == before


async def test_lower_progress_with_a_new_message_keeps_the_max(api: Api) -> None:
    project, started = await running_job(api, "framing")
    pid = project["id"]
    await api.progress(started["id"], 60)
    before = await version(api, pid)

    report = await api.progress(started["id"], 10, "muxing audio")

    assert report["progress"] == 60
    assert report["message"] == "muxing audio"
    assert await version(api, pid) == before + 1


@pytest.mark.parametrize(
    "report",
    [
        {"progress": 40},
        {"progress": 40, "message": None},
        {"progress": 40, "message": "rendering"},
        {"progress": 12.5, "message": "rendering"},
        {"progress": 0},
    ],
    ids=["same", "same-null-message", "same-message", "lower-same-message", "zero"],
)
async def test_report_that_changes_nothing_commits_nothing(api: Api, report: JSON) -> None:
    project, started = await running_job(api, "framing")  # running, 40%, "rendering"
    pid = project["id"]
    before = await api.project(pid)
    history = await api.history(pid)

    answer = (await api.call("POST", f"/v1/exports/{started['id']}/progress", 200, json=report)).json()

    assert answer == started
    assert answer["message"] == "rendering"
    assert await api.job(started["id"]) == started
    assert await api.project(pid) == before
    assert await api.history(pid) == history


async def test_new_message_with_same_progress_is_a_change(api: Api) -> None:
    project, started = await running_job(api, "framing")  # running, 40%, "rendering"
    pid = project["id"]
    before = await version(api, pid)
    history = await api.history(pid)

    report = await api.progress(started["id"], 40, "muxing audio")

    assert report["progress"] == 40
    assert report["message"] == "muxing audio"
    assert await api.job(started["id"]) == report
    card = await api.project(pid)
    assert card["version"] == before + 1
    assert card["active_exports"][0]["message"] == "muxing audio"
    assert await api.history(pid) == history  # a change, but not of the status


async def test_higher_progress_is_a_change(api: Api) -> None:
    project, started = await running_job(api, "framing")
    pid = project["id"]
    before = await version(api, pid)
    report = await api.progress(started["id"], 40.5)
    assert report["progress"] == 40.5
    assert report["message"] == "rendering"
    assert await version(api, pid) == before + 1


@pytest.mark.parametrize("reported", [None, 0, 37.5, 100])
@pytest.mark.parametrize("job_type", ["framing", "overlay"])
async def test_succeeding_sets_progress_to_100(api: Api, job_type: str, reported: float | None) -> None:
    project = await api.framed_project()
    if job_type == "overlay":
        await api.run_export(project["id"], "framing")
    started = await api.start(project["id"], job_type)
    if reported is not None:
        await api.progress(started["id"], reported)
    done = await api.succeed(started["id"])
    assert done["progress"] == 100
    assert done["status"] == "succeeded"
    assert (await api.job(started["id"]))["progress"] == 100


# ---------------------------------------------------------------------------------------------
# Idempotency-Key on export starts


def start_path(project_id: str) -> str:
    return f"/v1/projects/{project_id}/exports"


async def start_with_key(api: Api, project_id: str, job_type: str, key: str) -> httpx.Response:
    return await api.call(
        "POST", start_path(project_id), json={"type": job_type}, headers={"Idempotency-Key": key}
    )


@pytest.mark.parametrize("job_type", ["framing", "overlay"])
async def test_same_key_twice_returns_the_same_job(api: Api, job_type: str) -> None:
    project = await api.framed_project()
    pid = project["id"]
    if job_type == "overlay":
        await api.run_export(pid, "framing")
    first = await api.start(pid, job_type, key="render-1")
    before = await api.project(pid)
    history = await api.history(pid)

    again = await start_with_key(api, pid, job_type, "render-1")

    assert again.status_code == 202, again.text
    assert again.json() == first
    assert [j["id"] for j in await api.jobs(pid) if j["type"] == job_type] == [first["id"]]
    assert await api.project(pid) == before
    assert await api.history(pid) == history


async def test_same_key_returns_a_running_job_as_it_is_now(api: Api) -> None:
    project = await api.framed_project()
    pid = project["id"]
    first = await api.start(pid, "framing", key="render-1")
    now = await api.progress(first["id"], 70, "almost")
    again = await start_with_key(api, pid, "framing", "render-1")
    assert again.status_code == 202, again.text
    assert again.json() == now


@pytest.mark.parametrize("outcome", ["succeed", "fail", "cancel"])
async def test_same_key_after_the_job_finished_returns_that_job(api: Api, outcome: str) -> None:
    project = await api.framed_project()
    pid = project["id"]
    first = await api.start(pid, "framing", key="render-1")
    finished = await finish(api, first["id"], outcome)
    before = await api.project(pid)
    assert "start_framing_export" in before["allowed_actions"]  # a new start would be allowed
    history = await api.history(pid)

    again = await start_with_key(api, pid, "framing", "render-1")

    assert again.status_code == 202, again.text
    assert again.json() == finished
    assert len(await api.jobs(pid)) == 1
    assert await api.project(pid) == before
    assert await api.history(pid) == history


async def test_same_key_returns_its_job_where_a_new_start_would_be_refused(api: Api) -> None:
    project = await api.create_project()
    pid = project["id"]
    clip = await api.add_clip(pid, CROP)
    first = await api.start(pid, "framing", key="render-1")
    cancelled = await api.cancel(first["id"])
    await api.call("DELETE", f"/v1/projects/{pid}/clips/{clip['id']}", 204)
    before = await api.project(pid)
    assert before["allowed_actions"] == []
    refused = await api.call("POST", start_path(pid), 409, json={"type": "framing"})
    assert refused.json()["code"] == "transition_not_allowed"

    again = await start_with_key(api, pid, "framing", "render-1")

    assert again.status_code == 202, again.text
    assert again.json() == cancelled
    assert await api.project(pid) == before


async def test_same_key_returns_its_job_where_the_export_is_already_active(api: Api) -> None:
    project = await api.framed_project()
    pid = project["id"]
    first = await api.start(pid, "framing", key="render-1")
    await api.cancel(first["id"])
    second = await api.start(pid, "framing", key="render-2")
    before = await api.project(pid)

    again = await start_with_key(api, pid, "framing", "render-1")

    assert again.status_code == 202, again.text
    assert again.json()["id"] == first["id"]
    assert again.json()["status"] == "cancelled"
    assert [j["id"] for j in await api.jobs(pid)] == [second["id"], first["id"]]
    assert await api.project(pid) == before


@pytest.mark.parametrize(("first_type", "second_type"), [("framing", "overlay"), ("overlay", "framing")])
async def test_same_key_with_another_type_is_idempotency_key_reused(
    api: Api, first_type: str, second_type: str
) -> None:
    project = await api.framed_project()
    pid = project["id"]
    await api.run_export(pid, "framing")
    first = await api.start(pid, first_type, key="render-1")
    await finish(api, first["id"], "succeed")
    before = await api.project(pid)
    history = await api.history(pid)
    all_jobs = await api.jobs(pid)
    assert f"start_{second_type}_export" in before["allowed_actions"]

    response = await start_with_key(api, pid, second_type, "render-1")

    body = assert_problem(response, 409, "idempotency_key_reused")
    assert body["detail"]
    assert await api.jobs(pid) == all_jobs
    assert await api.project(pid) == before
    assert await api.history(pid) == history


async def test_keys_belong_to_their_project(api: Api) -> None:
    one = await api.framed_project()
    two = await api.framed_project()
    job_one = await api.start(one["id"], "framing", key="render-1")
    job_two = await api.start(two["id"], "framing", key="render-1")
    assert job_two["id"] != job_one["id"]
    assert job_two["project_id"] == two["id"]
    assert (await api.start(one["id"], "framing", key="render-1"))["id"] == job_one["id"]
    assert (await api.start(two["id"], "framing", key="render-1"))["id"] == job_two["id"]


async def test_concurrent_starts_with_one_key_make_one_job(api: Api) -> None:
    project = await api.framed_project()
    pid = project["id"]
    before = await version(api, pid)
    responses = await asyncio.gather(
        *(
            api.client.post(
                start_path(pid), json={"type": "framing"}, headers={"Idempotency-Key": "render-1"}
            )
            for _ in range(10)
        )
    )
    assert [r.status_code for r in responses] == [202] * 10, [r.text for r in responses]
    ids = {r.json()["id"] for r in responses}
    assert len(ids) == 1
    listed = await api.jobs(pid)
    assert [j["id"] for j in listed] == list(ids)
    assert await version(api, pid) == before + 1
    assert [row["action"] for row in await api.history(pid)].count("start_framing_export") == 1


async def test_truly_concurrent_starts_with_one_key_make_one_job(api: Api) -> None:
    project = await api.framed_project()
    pid = project["id"]
    before = await version(api, pid)
    body, headers = {"type": "framing"}, {"Idempotency-Key": "render-1"}
    responses = await concurrently(
        api,
        [api.client.build_request("POST", start_path(pid), json=body, headers=headers) for _ in range(10)],
    )
    assert [r.status_code for r in responses] == [202] * 10, [r.text for r in responses]
    ids = {r.json()["id"] for r in responses}
    assert len(ids) == 1
    assert [j["id"] for j in await api.jobs(pid)] == list(ids)
    assert await version(api, pid) == before + 1
    assert [row["action"] for row in await api.history(pid)].count("start_framing_export") == 1


async def test_concurrent_progress_reports_keep_the_highest(api: Api) -> None:
    project, started = await running_job(api, "framing")  # 40%
    path = f"/v1/exports/{started['id']}/progress"
    values = [55, 90, 45, 70, 85, 50, 65, 75, 60, 80]
    responses = await concurrently(
        api, [api.client.build_request("POST", path, json={"progress": value}) for value in values]
    )
    assert [r.status_code for r in responses] == [200] * len(values), [r.text for r in responses]
    assert all(r.json()["progress"] >= value for r, value in zip(responses, values, strict=True))
    final = await api.job(started["id"])
    assert final["progress"] == 90
    assert final["status"] == "running"
    assert (await api.project(project["id"]))["active_exports"] == [final]
