"""Who did it and why: every history row carries `actor` (the token's `sub`, `system:sweep` for a
time-out, null with auth off) and `reason` (a fail's error, a cancel's reason, null otherwise)."""

from collections.abc import AsyncIterator
from datetime import timedelta
from functools import partial
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from service.context import Context
from service.http.app import create_app
from service.http.auth import Role
from service.live.hub import Events
from service.operations.projects import find_project
from service.operations.sweep import SWEEP_ACTOR, sweep_once
from service.settings import Settings
from service.store.db import Database
from service.store.tables import utcnow
from tests.api import JSON, Api
from tests.auth import auth_on, token

pytestmark = pytest.mark.anyio
CLIENT, WORKER = "alice", "renderer-7"
TOKENS = {CLIENT: token(CLIENT), WORKER: token(WORKER, Role.WORKER)}


class Caller:
    """Requests as one party: with auth on, each with its own token; with auth off, anonymous."""

    def __init__(self, api: Api, auth: bool) -> None:
        self.api, self.auth = api, auth

    def _headers(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {TOKENS[who]}"} if self.auth else {}

    async def json(self, who: str, method: str, path: str, expect: int, **kwargs: Any) -> Any:
        return await self.api.json(method, path, expect, headers=self._headers(who), **kwargs)

    async def no_content(self, who: str, method: str, path: str) -> None:
        await self.api.call(method, path, 204, headers=self._headers(who))

    def actor(self, who: str) -> str | None:
        return who if self.auth else None


@pytest.fixture(params=[False, True], ids=["auth-off", "auth-on"])
async def caller(request: pytest.FixtureRequest, settings: Settings) -> AsyncIterator[Caller]:
    auth: bool = request.param
    app = create_app(auth_on(settings) if auth else settings)
    async with AsyncTestClient(app=app) as client:
        yield Caller(Api(client), auth)


async def _framed(caller: Caller) -> tuple[str, str]:
    project = await caller.json(CLIENT, "POST", "/v1/projects", 201, json={"name": "Who"})
    clip = await caller.json(
        CLIENT, "POST", f"/v1/projects/{project['id']}/clips", 201, json={"crop_data": {"k": 1}}
    )
    return project["id"], clip["id"]


async def _start(caller: Caller, project_id: str, job_type: str = "framing") -> JSON:
    job: JSON = await caller.json(
        CLIENT, "POST", f"/v1/projects/{project_id}/exports", 202, json={"type": job_type}
    )
    return job


async def _history(caller: Caller, project_id: str) -> list[JSON]:
    rows: list[JSON] = await caller.json(CLIENT, "GET", f"/v1/projects/{project_id}/history", 200)
    return rows


def _who(rows: list[JSON]) -> list[tuple[str, str | None, str | None]]:
    return [(row["action"], row["actor"], row["reason"]) for row in rows]


async def test_creation_clip_edits_starts_and_callbacks_name_their_actor(caller: Caller) -> None:
    project_id, clip_id = await _framed(caller)
    job = await _start(caller, project_id)
    await caller.json(WORKER, "POST", f"/v1/exports/{job['id']}/progress", 200, json={"progress": 30})
    await caller.json(WORKER, "POST", f"/v1/exports/{job['id']}/succeed", 200, json={"output_uri": "s3://a"})
    await caller.json(CLIENT, "PATCH", f"/v1/projects/{project_id}/clips/{clip_id}", 200, json={})
    other = await caller.json(CLIENT, "POST", "/v1/projects", 201, json={"name": "Clip edits"})
    clip = await caller.json(CLIENT, "POST", f"/v1/projects/{other['id']}/clips", 201, json={"crop_data": {}})
    clip_path = f"/v1/projects/{other['id']}/clips/{clip['id']}"
    await caller.json(CLIENT, "PATCH", clip_path, 200, json={})
    await caller.json(CLIENT, "PATCH", clip_path, 200, json={"crop_data": {"k": 2}})
    await caller.no_content(CLIENT, "DELETE", clip_path)

    client, worker = caller.actor(CLIENT), caller.actor(WORKER)
    assert _who(await _history(caller, project_id)) == [
        ("project_created", client, None),
        ("clip_added", client, None),
        ("start_framing_export", client, None),
        ("job_succeeded", worker, None),
    ]  # the clip change on a framed project keeps the status: no row
    assert _who(await _history(caller, other["id"])) == [
        ("project_created", client, None),
        ("clip_added", client, None),
        ("clip_changed", client, None),
        ("clip_changed", client, None),
        ("clip_removed", client, None),
    ]


async def test_a_fail_records_its_error_and_a_cancel_its_reason(caller: Caller) -> None:
    project_id, _ = await _framed(caller)
    failing = await _start(caller, project_id)
    await caller.json(WORKER, "POST", f"/v1/exports/{failing['id']}/fail", 200, json={"error": "disk full"})
    cancelled = await _start(caller, project_id)
    job = await caller.json(
        CLIENT, "POST", f"/v1/exports/{cancelled['id']}/cancel", 200, json={"reason": "wrong clips"}
    )
    assert (job["status"], job["cancel_reason"], job["error"]) == ("cancelled", "wrong clips", None)
    silent = await _start(caller, project_id)
    job = await caller.json(CLIENT, "POST", f"/v1/exports/{silent['id']}/cancel", 200)
    assert job["cancel_reason"] is None
    client, worker = caller.actor(CLIENT), caller.actor(WORKER)
    assert _who((await _history(caller, project_id))[2:]) == [
        ("start_framing_export", client, None),
        ("job_failed", worker, "disk full"),
        ("start_framing_export", client, None),
        ("job_cancelled", client, "wrong clips"),
        ("start_framing_export", client, None),
        ("job_cancelled", client, None),
    ]
    assert (await caller.json(CLIENT, "GET", f"/v1/exports/{failing['id']}", 200))["cancel_reason"] is None


async def test_a_repeated_cancel_keeps_the_first_reason(caller: Caller) -> None:
    project_id, _ = await _framed(caller)
    job = await _start(caller, project_id)
    await caller.json(CLIENT, "POST", f"/v1/exports/{job['id']}/cancel", 200, json={"reason": "first"})
    again = await caller.json(
        CLIENT, "POST", f"/v1/exports/{job['id']}/cancel", 200, json={"reason": "second"}
    )
    assert again["cancel_reason"] == "first"
    assert [row["reason"] for row in await _history(caller, project_id)].count("first") == 1
    assert "second" not in [row["reason"] for row in await _history(caller, project_id)]


async def test_the_sweep_is_the_actor_of_a_time_out(caller: Caller, settings: Settings) -> None:
    project_id, _ = await _framed(caller)
    await _start(caller, project_id)
    db = Database.open(settings)
    try:
        ctx = Context(settings=settings, db=db, events=Events(settings, partial(find_project, db=db)))
        later = utcnow() + timedelta(seconds=settings.job_timeout_s + 1)
        assert await sweep_once(ctx=ctx, now=later) == 1
    finally:
        await db.close()
    assert _who(await _history(caller, project_id))[-1] == ("job_timed_out", SWEEP_ACTOR, None)


@pytest.mark.parametrize("body", [{}, {"reason": None}], ids=["empty-object", "reason-null"])
async def test_a_cancel_without_a_reason_records_none(caller: Caller, body: JSON) -> None:
    project_id, _ = await _framed(caller)
    job = await _start(caller, project_id)
    cancelled = await caller.json(CLIENT, "POST", f"/v1/exports/{job['id']}/cancel", 200, json=body)
    assert cancelled["cancel_reason"] is None
    assert _who(await _history(caller, project_id))[-1] == ("job_cancelled", caller.actor(CLIENT), None)
