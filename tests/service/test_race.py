"""Races across replicas: two server processes on one PostgreSQL database, 32 concurrent clients for
10 seconds on 20 projects, issuing conflicting actions and callbacks. Afterwards: no 500, every
status equals its status-from-facts, every history row starts where the previous one ended, no job
has two outcomes, no video version is skipped or doubled."""

import asyncio
import itertools
import os
import random
import time
from collections import Counter

import asyncpg
import httpx
import pytest

from fsm.facts import Facts, status_from_facts
from service.settings import Settings
from tests.api import CROP
from tests.servers import running_server

pytestmark = pytest.mark.anyio
CLIENTS = 32
PROJECTS = 20
REQUESTS = int(os.environ.get("FRAMESTATE_RACE_REQUESTS", "400"))
DEADLINE_S = 300.0  # only a bound on a machine that is far too slow; the race ends by its count


@pytest.fixture
def pg_url(database_kind: str, request: pytest.FixtureRequest) -> str:
    if database_kind != "postgresql":
        pytest.skip("replicas share a PostgreSQL database; SQLite serves one process")
    url: str = request.getfixturevalue("postgres_url")
    return url


class Race:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.jobs: dict[str, list[str]] = {}
        self.clips: dict[str, list[str]] = {}
        self.statuses: Counter[int] = Counter()

    async def step(self, client: httpx.AsyncClient, project_id: str) -> None:
        rng = self.rng
        kind = rng.choice(
            ["framing", "overlay", "progress", "progress", "succeed", "fail", "cancel", "clip", "crop"]
        )
        if kind in ("framing", "overlay"):
            headers = {"Idempotency-Key": f"k{rng.randint(0, 30)}"} if rng.random() < 0.3 else {}
            response = await client.post(
                f"/v1/projects/{project_id}/exports", json={"type": kind}, headers=headers
            )
            if response.status_code == 202:
                self.jobs[project_id].append(response.json()["id"])
        elif kind == "clip":
            response = await client.post(
                f"/v1/projects/{project_id}/clips", json={"crop_data": rng.choice([None, CROP])}
            )
            if response.status_code == 201:
                self.clips[project_id].append(response.json()["id"])
        elif kind == "crop":
            clip = rng.choice(self.clips[project_id])
            crop = {"crop_data": rng.choice([None, CROP])}
            response = await client.patch(f"/v1/projects/{project_id}/clips/{clip}", json=crop)
        else:
            jobs = self.jobs[project_id]
            job = rng.choice(jobs[-3:]) if jobs else "0" * 32
            body = {"progress": {"progress": rng.uniform(0, 100)}, "fail": {"error": "worker died"}}.get(kind)
            response = await client.post(f"/v1/exports/{job}/{kind}", json=body)
        self.statuses[response.status_code] += 1


async def _facts(conn: asyncpg.Connection, project_id: str) -> Facts:
    row = await conn.fetchrow(
        "SELECT working_video_id, final_video_id, "
        "(SELECT count(*) FROM clip WHERE project_id = $1 AND crop_data IS NOT NULL) AS framed, "
        "(SELECT array_agg(type) FROM export_job "
        " WHERE project_id = $1 AND status IN ('queued', 'running')) AS active "
        "FROM project WHERE id = $1",
        project_id,
    )
    active = row["active"] or []
    return Facts(
        active_framing="framing" in active,
        active_overlay="overlay" in active,
        final_video=row["final_video_id"] is not None,
        working_video=row["working_video_id"] is not None,
        framed_clip=row["framed"] > 0,
    )


async def test_two_replicas_and_32_clients_leave_every_project_consistent(pg_url: str) -> None:
    with running_server(pg_url) as first, running_server(pg_url) as second:
        clients = [httpx.AsyncClient(base_url=url, timeout=60) for url in (first, second)]
        race = Race(seed=32)
        project_ids = []
        for n in range(PROJECTS):
            project = (await clients[0].post("/v1/projects", json={"name": f"race {n}"})).json()
            clip = (
                await clients[1].post(f"/v1/projects/{project['id']}/clips", json={"crop_data": CROP})
            ).json()
            project_ids.append(project["id"])
            race.jobs[project["id"]] = []
            race.clips[project["id"]] = [clip["id"]]
        deadline = time.monotonic() + DEADLINE_S

        async def client_loop(n: int) -> None:
            client = clients[n % 2]
            while sum(race.statuses.values()) < REQUESTS and time.monotonic() < deadline:
                await race.step(client, race.rng.choice(project_ids))

        await asyncio.gather(*(client_loop(n) for n in range(CLIENTS)))
        cards = [
            (await clients[n % 2].get(f"/v1/projects/{pid}")).json() for n, pid in enumerate(project_ids)
        ]
        histories = [(await clients[0].get(f"/v1/projects/{pid}/history")).json() for pid in project_ids]
        for client in clients:
            await client.aclose()

    total = sum(race.statuses.values())
    print(f"\nrace: {total} requests, answers {dict(sorted(race.statuses.items()))}")  # noqa: T201
    assert 500 not in race.statuses, race.statuses
    assert 503 not in race.statuses, race.statuses
    assert set(race.statuses) <= {200, 201, 202, 404, 409}, race.statuses
    assert total >= REQUESTS

    settings = Settings(database_url=pg_url)
    conn = await asyncpg.connect(settings.database_url.replace("postgresql+asyncpg", "postgresql"))
    try:
        for card, history in zip(cards, histories, strict=True):
            facts = await _facts(conn, card["id"])
            assert card["status"] == status_from_facts(facts), (card, facts)
            assert history[0]["action"] == "project_created"
            assert history[-1]["to_status"] == card["status"]
            for previous, row in itertools.pairwise(history):
                assert row["from_status"] == previous["to_status"], (previous, row)
        videos = await conn.fetch(
            "SELECT project_id, kind, version, job_id FROM video ORDER BY project_id, kind, version"
        )
        by_kind: dict[tuple[str, str], list[int]] = {}
        for video in videos:
            by_kind.setdefault((video["project_id"], video["kind"]), []).append(video["version"])
        for versions in by_kind.values():
            assert versions == list(range(1, len(versions) + 1)), versions
        outcomes = await conn.fetch(
            "SELECT j.id, j.status, count(v.id) AS videos "
            "FROM export_job j LEFT JOIN video v ON v.job_id = j.id GROUP BY j.id, j.status"
        )
        for job in outcomes:
            assert job["videos"] == (1 if job["status"] == "succeeded" else 0), dict(job)
        jobs_ended_twice = await conn.fetchval(
            "SELECT count(*) FROM (SELECT job_id FROM status_history WHERE action LIKE 'job_%' "
            "GROUP BY job_id HAVING count(*) > 1) twice"
        )
        assert jobs_ended_twice == 0
        active_per_type = await conn.fetchval(
            "SELECT count(*) FROM (SELECT project_id, type FROM export_job "
            "WHERE status IN ('queued', 'running') GROUP BY project_id, type HAVING count(*) > 1) doubled"
        )
        assert active_per_type == 0
    finally:
        await conn.close()
