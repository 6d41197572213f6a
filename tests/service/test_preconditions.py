"""Optimistic concurrency for clients: project answers carry an ETag (the version); a change sent
with an If-Match that names another version is refused with 412 and changes nothing."""

import pytest

from tests.api import CROP, Api, assert_problem

pytestmark = pytest.mark.anyio


async def _etag(api: Api, project_id: str) -> str:
    response = await api.call("GET", f"/v1/projects/{project_id}", 200)
    assert response.headers["etag"] == f'"{response.json()["version"]}"'
    return response.headers["etag"]


async def test_project_answers_carry_their_version_as_etag(api: Api) -> None:
    created = await api.call("POST", "/v1/projects", 201, json={"name": "Tagged"})
    assert created.headers["etag"] == '"1"'
    await api.add_clip(created.json()["id"], CROP)
    assert await _etag(api, created.json()["id"]) == '"2"'


@pytest.mark.parametrize(
    ("method", "path", "body", "success"),
    [
        ("POST", "/v1/projects/{p}/clips", {"crop_data": CROP}, 201),
        ("PATCH", "/v1/projects/{p}/clips/{c}", {"crop_data": None}, 200),
        ("DELETE", "/v1/projects/{p}/clips/{c}", None, 204),
        ("POST", "/v1/projects/{p}/exports", {"type": "framing"}, 202),
        ("DELETE", "/v1/projects/{p}", None, 204),
    ],
)
async def test_a_stale_if_match_is_412_and_the_current_one_passes(
    api: Api, method: str, path: str, body: dict[str, object] | None, success: int
) -> None:
    project = await api.create_project()
    clip = await api.add_clip(project["id"], CROP)
    url = path.format(p=project["id"], c=clip["id"])
    current = await _etag(api, project["id"])
    history = await api.history(project["id"])
    for stale in ('"1"', "W/" + current, "garbage"):
        response = await api.call(method, url, 412, json=body, headers={"If-Match": stale})
        assert assert_problem(response, 412, "precondition_failed")["current_version"] == 2
    assert await _etag(api, project["id"]) == current
    assert await api.history(project["id"]) == history
    await api.call(method, url, success, json=body, headers={"If-Match": f'"0", {current}'})


async def test_if_match_star_passes_while_the_project_exists(api: Api) -> None:
    project = await api.framed_project()
    await api.call(
        "POST",
        f"/v1/projects/{project['id']}/exports",
        202,
        json={"type": "framing"},
        headers={"If-Match": "*"},
    )


async def test_an_idempotent_replay_answers_as_before_whatever_if_match_says(api: Api) -> None:
    project = await api.framed_project()
    etag = await _etag(api, project["id"])
    path = f"/v1/projects/{project['id']}/exports"
    headers = {"If-Match": etag, "Idempotency-Key": "render-7"}
    first = await api.call("POST", path, 202, json={"type": "framing"}, headers=headers)
    replay = await api.call("POST", path, 202, json={"type": "framing"}, headers=headers)
    assert replay.json() == first.json()


async def test_refusals_come_in_order_existence_before_the_precondition(api: Api) -> None:
    response = await api.call("DELETE", "/v1/projects/" + "0" * 32, 404, headers={"If-Match": '"9"'})
    assert response.json()["code"] == "not_found"
