"""The event streams, read from real server processes."""

from collections.abc import AsyncIterator

import httpx
import pytest

from service.settings import Settings
from tests.api import CROP, JSON
from tests.servers import running_server
from tests.sse import events

pytestmark = pytest.mark.anyio


@pytest.fixture
async def client(server_url: str, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server_url, timeout=30) as client:
        yield client


async def _post(client: httpx.AsyncClient, path: str, expect: int, body: object = None) -> JSON:
    response = await client.post(path, json=body)
    assert response.status_code == expect, response.text
    answer: JSON = response.json() if response.content else {}
    return answer


async def _complete_project(client: httpx.AsyncClient) -> JSON:
    project = await _post(client, "/v1/projects", 201, {"name": "Reel"})
    await _post(client, f"/v1/projects/{project['id']}/clips", 201, {"crop_data": CROP})
    for job_type in ("framing", "overlay"):
        job = await _post(client, f"/v1/projects/{project['id']}/exports", 202, {"type": job_type})
        await _post(client, f"/v1/exports/{job['id']}/succeed", 200, {"output_uri": f"mem://{job_type}"})
    card: JSON = (await client.get(f"/v1/projects/{project['id']}")).json()
    return card


async def test_a_reframe_as_a_project_subscriber_sees_it(client: httpx.AsyncClient) -> None:
    project = await _complete_project(client)
    async with events(client, f"/v1/projects/{project['id']}/events") as stream:
        name, first = await stream.next()
        assert (name, first) == ("project", project)
        job = await _post(client, f"/v1/projects/{project['id']}/exports", 202, {"type": "framing"})
        name, started = await stream.next()
        assert (name, started["status"], started["version"]) == (
            "project",
            "exporting_framing",
            project["version"] + 1,
        )
        assert started["final_video"] == project["final_video"]
        assert started["active_exports"][0]["id"] == job["id"]
        seen = []
        for progress in (10, 35, 60, 85):
            await _post(
                client,
                f"/v1/exports/{job['id']}/progress",
                200,
                {"progress": progress, "message": "encoding"},
            )
            name, card = await stream.next()
            assert name == "project"
            seen.append((card["status_label"], card["active_exports"][0]["progress"]))
        assert seen == [("Framing…", 10), ("Framing…", 35), ("Framing…", 60), ("Framing…", 85)]
        await _post(client, f"/v1/exports/{job['id']}/succeed", 200)
        name, done = await stream.next()
        assert (name, done["status"], done["final_video"], done["active_exports"]) == (
            "project",
            "framed",
            None,
            [],
        )
        assert done["working_video"]["version"] == 2
        assert done["version"] == project["version"] + 6


async def test_a_subscriber_joining_mid_export_gets_the_current_progress_first(
    client: httpx.AsyncClient,
) -> None:
    project = await _complete_project(client)
    job = await _post(client, f"/v1/projects/{project['id']}/exports", 202, {"type": "overlay"})
    await _post(client, f"/v1/exports/{job['id']}/progress", 200, {"progress": 64.5})
    async with events(client, f"/v1/projects/{project['id']}/events") as stream:
        name, first = await stream.next()
        assert (name, first["status"], first["active_exports"][0]["progress"]) == (
            "project",
            "exporting_overlay",
            64.5,
        )


async def test_a_refused_request_publishes_nothing(client: httpx.AsyncClient) -> None:
    project = await _post(client, "/v1/projects", 201, {"name": "Quiet"})
    async with events(client, f"/v1/projects/{project['id']}/events") as stream:
        assert (await stream.next())[1]["version"] == 1
        await _post(client, f"/v1/projects/{project['id']}/exports", 409, {"type": "framing"})
        await _post(client, f"/v1/projects/{project['id']}/exports", 400, {"type": "colour"})
        await _post(client, f"/v1/projects/{project['id']}/clips", 400, {"crop_data": [1]})
        await _post(client, f"/v1/projects/{project['id']}/clips", 201, {"crop_data": None})
        name, card = await stream.next()
        assert (name, card["version"], card["clip_count"]) == ("project", 2, 1)


async def test_the_all_projects_stream_sees_creation_changes_and_deletion(client: httpx.AsyncClient) -> None:
    async with events(client, "/v1/events") as stream:
        project = await _post(client, "/v1/projects", 201, {"name": "Board"})
        assert await stream.next() == ("project", project)
        await _post(client, f"/v1/projects/{project['id']}/clips", 201, {"crop_data": CROP})
        name, card = await stream.next()
        assert (name, card["id"], card["status"], card["version"]) == (
            "project",
            project["id"],
            "in_progress",
            2,
        )
        assert (await client.delete(f"/v1/projects/{project['id']}")).status_code == 204
        assert await stream.next() == ("deleted", {"id": project["id"]})


async def test_deleting_a_project_ends_its_stream(client: httpx.AsyncClient) -> None:
    project = await _post(client, "/v1/projects", 201, {"name": "Short-lived"})
    async with events(client, f"/v1/projects/{project['id']}/events") as stream:
        await stream.next()
        assert (await client.delete(f"/v1/projects/{project['id']}")).status_code == 204
        assert await stream.next() == ("deleted", {"id": project["id"]})
        assert await stream.ended()


async def test_the_stream_of_an_unknown_project_is_404(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/projects/nope/events")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


async def test_a_change_made_through_one_replica_reaches_a_subscriber_of_another(
    database_kind: str, migrated_settings: Settings, server_url: str
) -> None:
    if database_kind != "postgresql":
        pytest.skip("several replicas share a PostgreSQL database; SQLite serves one process")
    with running_server(migrated_settings.database_url) as other_url:
        async with (
            httpx.AsyncClient(base_url=server_url, timeout=30) as reader,
            httpx.AsyncClient(base_url=other_url, timeout=30) as writer,
            events(reader, "/v1/events") as board,
        ):
            project = await _post(writer, "/v1/projects", 201, {"name": "Across"})
            assert await board.next() == ("project", project)
            async with events(reader, f"/v1/projects/{project['id']}/events") as card:
                assert (await card.next())[1] == project
                await _post(writer, f"/v1/projects/{project['id']}/clips", 201, {"crop_data": CROP})
                name, changed = await card.next()
                assert (name, changed["status"], changed["version"]) == ("project", "in_progress", 2)
                assert (await board.next())[1] == changed
