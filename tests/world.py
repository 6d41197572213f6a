"""A world of two projects to refuse requests against, and what a client can see of it: the
bad-input and hardening tests send a request that must be refused and check that nothing changed."""

from dataclasses import dataclass
from typing import Any

from tests.api import CROP, JSON, Api, assert_problem

UNKNOWN = "0123456789abcdef0123456789abcdef"
"""An id of the right shape that names nothing."""


@dataclass
class World:
    """Two projects: `project` is exporting (a framed clip, a running framing job at 10%), `other`
    has a clip of its own."""

    project: JSON
    clip: JSON
    job: JSON
    other: JSON
    other_clip: JSON

    def fill(self, path: str) -> str:
        return path.format(
            project=self.project["id"],
            clip=self.clip["id"],
            job=self.job["id"],
            other=self.other["id"],
            other_clip=self.other_clip["id"],
            unknown=UNKNOWN,
        )


async def make_world(api: Api) -> World:
    project = await api.create_project("Exporting")
    clip = await api.add_clip(project["id"], CROP)
    job = await api.start(project["id"], "framing")
    job = await api.progress(job["id"], 10, "encoding")
    other = await api.create_project("Other")
    other_clip = await api.add_clip(other["id"], None)
    return World(project, clip, job, other, other_clip)


async def snapshot(api: Api) -> dict[str, Any]:
    """Everything a client can see of every project."""
    page = (await api.call("GET", "/v1/projects", 200, params={"limit": 200})).json()
    assert page["next_cursor"] is None
    seen: dict[str, Any] = {}
    for item in page["items"]:
        pid = item["id"]
        seen[pid] = {
            "project": await api.project(pid),
            "history": await api.history(pid),
            "clips": (await api.call("GET", f"/v1/projects/{pid}/clips", 200)).json(),
            "exports": await api.jobs(pid),
        }
    return seen


def assert_unchanged(before: dict[str, Any], after: dict[str, Any]) -> None:
    assert sorted(after) == sorted(before), "a project was created or deleted"
    for pid, was in before.items():
        now = after[pid]
        assert now["project"]["version"] == was["project"]["version"], f"version of {pid} moved"
        assert len(now["history"]) == len(was["history"]), f"a history row was added to {pid}"
        assert now == was, f"project {pid} changed"


async def refused(api: Api, status: int, code: str, method: str, path: str, **kwargs: Any) -> JSON:
    """Send one request that must be refused with `status`/`code`, and check that nothing changed."""
    before = await snapshot(api)
    response = await api.call(method, path, **kwargs)
    body = assert_problem(response, status, code)
    assert_unchanged(before, await snapshot(api))
    return body
