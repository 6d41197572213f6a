"""A thin, asserting client of the framestate API for the tests."""

from typing import Any

import httpx

JSON = dict[str, Any]
CROP: JSON = {"keyframes": [{"t": 0.0, "x": 0.25, "y": 0.1, "zoom": 1.4}]}
"""Crop data of a framed clip (the service keeps it as it is given)."""


class Api:
    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def call(self, method: str, path: str, expect: int | None = None, **kwargs: Any) -> httpx.Response:
        response = await self.client.request(method, path, **kwargs)
        if expect is not None:
            assert_status(response, expect)
        return response

    async def json(self, method: str, path: str, expect: int, **kwargs: Any) -> JSON:
        body: JSON = (await self.call(method, path, expect, **kwargs)).json()
        return body

    async def create_project(self, name: str = "Holiday reel") -> JSON:
        return await self.json("POST", "/v1/projects", 201, json={"name": name})

    async def project(self, project_id: str) -> JSON:
        return await self.json("GET", f"/v1/projects/{project_id}", 200)

    async def add_clip(self, project_id: str, crop_data: JSON | None = None) -> JSON:
        return await self.json("POST", f"/v1/projects/{project_id}/clips", 201, json={"crop_data": crop_data})

    async def change_clip(self, project_id: str, clip_id: str, crop_data: JSON | None) -> JSON:
        path = f"/v1/projects/{project_id}/clips/{clip_id}"
        return await self.json("PATCH", path, 200, json={"crop_data": crop_data})

    async def start(self, project_id: str, job_type: str, key: str | None = None) -> JSON:
        headers = {"Idempotency-Key": key} if key else {}
        path = f"/v1/projects/{project_id}/exports"
        return await self.json("POST", path, 202, json={"type": job_type}, headers=headers)

    async def progress(self, job_id: str, progress: float, message: str | None = None) -> JSON:
        body = {"progress": progress, "message": message}
        return await self.json("POST", f"/v1/exports/{job_id}/progress", 200, json=body)

    async def succeed(self, job_id: str, uri: str | None = None) -> JSON:
        return await self.json("POST", f"/v1/exports/{job_id}/succeed", 200, json={"output_uri": uri})

    async def fail(self, job_id: str, error: str = "encoder crashed") -> JSON:
        return await self.json("POST", f"/v1/exports/{job_id}/fail", 200, json={"error": error})

    async def cancel(self, job_id: str) -> JSON:
        return await self.json("POST", f"/v1/exports/{job_id}/cancel", 200)

    async def job(self, job_id: str) -> JSON:
        return await self.json("GET", f"/v1/exports/{job_id}", 200)

    async def jobs(self, project_id: str) -> list[JSON]:
        jobs: list[JSON] = (await self.call("GET", f"/v1/projects/{project_id}/exports", 200)).json()
        return jobs

    async def history(self, project_id: str) -> list[JSON]:
        rows: list[JSON] = (await self.call("GET", f"/v1/projects/{project_id}/history", 200)).json()
        return rows

    async def framed_project(self) -> JSON:
        project = await self.create_project()
        await self.add_clip(project["id"], CROP)
        return project

    async def run_export(self, project_id: str, job_type: str) -> JSON:
        job = await self.start(project_id, job_type)
        await self.progress(job["id"], 50)
        return await self.succeed(job["id"], f"s3://renders/{job['id']}.mp4")

    async def complete_project(self) -> JSON:
        project = await self.framed_project()
        await self.run_export(project["id"], "framing")
        await self.run_export(project["id"], "overlay")
        return await self.project(project["id"])


def assert_problem(response: httpx.Response, status: int, code: str) -> JSON:
    """`response` is problem JSON of `status` and `code`, with a title and a detail; its body."""
    assert_status(response, status)
    assert response.headers["content-type"].startswith("application/problem+json"), response.headers
    body: JSON = response.json()
    assert body["code"] == code, body
    assert body["status"] == status, body
    assert isinstance(body["title"], str), body
    assert body["title"], body
    assert isinstance(body["detail"], str), body
    assert body["detail"], body
    return body


def answered(response: httpx.Response, status: int) -> Any:
    """The JSON of `response`, which must have `status` (for the tests that drive a server process
    with a plain httpx client)."""
    assert_status(response, status)
    return response.json()


def assert_status(response: httpx.Response, status: int) -> None:
    where = f"{response.request.method} {response.request.url.path}"
    assert response.status_code == status, f"{where}: {response.status_code} {response.text}"
