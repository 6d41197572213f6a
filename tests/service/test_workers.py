"""`framestate serve --workers N`: N processes on one port, on PostgreSQL; refused on SQLite."""

import asyncio
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.metrics import parse, value
from tests.servers import ROOT, ServerProcess, server_process
from tests.sse import EventReader, events

pytestmark = pytest.mark.anyio
WORKERS = 2
MAX_TRIES = 64
"""Connections (and writes) to open until each worker has one: the kernel spreads new connections
over the workers by a hash of their addresses, so a run of one worker is possible."""
BURST = 16


def test_several_workers_on_sqlite_are_refused_before_anything_starts(tmp_path: Path) -> None:
    database = tmp_path / "never.db"
    result = subprocess.run(
        [sys.executable, "-m", "service.commands.cli", "serve", "--workers", "2"],
        cwd=ROOT,
        env={"FRAMESTATE_DATABASE_URL": f"sqlite+aiosqlite:///{database}", "PATH": ""},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "--workers 2 needs PostgreSQL" in result.stderr
    assert not database.exists(), "nothing started: not even the migrations"


def _pid_of(server: ServerProcess, request_id: str) -> int:
    """The worker that answered a request, from its access line."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        for line in list(server.log):
            if line.startswith("{") and (record := json.loads(line)).get("request_id") == request_id:
                pid: int = record["pid"]
                return pid
        time.sleep(0.02)
    raise AssertionError(f"no access line of {request_id}")


def _workers_started(server: ServerProcess) -> None:
    deadline = time.monotonic() + 60
    while sum("Application startup complete" in line for line in list(server.log)) < WORKERS:
        assert time.monotonic() < deadline, "".join(server.log)
        time.sleep(0.05)


async def test_a_change_through_one_worker_reaches_a_stream_held_by_the_other(postgres_url: str) -> None:
    env = {"FRAMESTATE_LOG_FORMAT": "json"}
    with server_process(postgres_url, extra_env=env, args=("--workers", str(WORKERS))) as server:
        _workers_started(server)
        fresh = httpx.Limits(max_keepalive_connections=0)
        clients: list[httpx.AsyncClient] = []
        streams: dict[int, EventReader] = {}
        opened = []
        try:
            for attempt in range(MAX_TRIES):  # until a stream is held by each worker
                if len(streams) == WORKERS:
                    break
                client = httpx.AsyncClient(base_url=server.url, limits=httpx.Limits(max_connections=1))
                clients.append(client)
                probe = f"probe-{attempt}"
                await client.get("/health/live", headers={"X-Request-ID": probe})
                pid = _pid_of(server, probe)  # the stream follows on the same connection
                stream = events(client, "/v1/events")
                reader = await stream.__aenter__()
                opened.append(stream)
                streams.setdefault(pid, reader)
            assert len(streams) == WORKERS, "the kernel gave every connection to one worker"

            writers: dict[int, str] = {}
            made = 0
            async with httpx.AsyncClient(base_url=server.url, limits=fresh) as writer:
                for attempt in range(MAX_TRIES):  # until a change is made through each worker
                    if len(writers) == WORKERS:
                        break
                    request_id = f"write-{attempt}"
                    created = await writer.post(
                        "/v1/projects", json={"name": request_id}, headers={"X-Request-ID": request_id}
                    )
                    assert created.status_code == 201
                    made += 1
                    writers.setdefault(_pid_of(server, request_id), created.json()["id"])
                assert len(writers) == WORKERS
                samples = parse((await writer.get("/metrics")).text)
            created_total = value(
                samples, "framestate_http_requests_total", method="POST", route="/v1/projects", status="201"
            )
            assert created_total == made, "the metrics are the sum over the workers"

            for reader in streams.values():  # each worker's stream sees the changes made through both
                seen: set[str] = set()  # in any order: a worker's own changes reach its streams first
                while not seen >= set(writers.values()):
                    name, data = await reader.next()
                    if name == "project":
                        seen.add(data["id"])
        finally:
            for stream in reversed(opened):
                await stream.__aexit__(None, None, None)
            for client in clients:
                await client.aclose()
        server.process.send_signal(signal.SIGTERM)
        assert server.process.wait(20) == 0


async def test_a_burst_of_connections_is_spread_over_the_workers(postgres_url: str) -> None:
    """Each worker listens on a socket of its own on the port: the kernel spreads a burst of
    connections over them, where on one shared socket the worker that woke first took the lot.
    (All 16 on one worker of two by chance: one run in 32,768.)"""
    with server_process(
        postgres_url, extra_env={"FRAMESTATE_LOG_FORMAT": "json"}, args=("--workers", "2")
    ) as server:
        _workers_started(server)
        clients = [
            httpx.AsyncClient(base_url=server.url, limits=httpx.Limits(max_connections=1))
            for _ in range(BURST)
        ]
        try:
            answers = await asyncio.gather(
                *(
                    c.get("/health/live", headers={"X-Request-ID": f"burst-{n}"})
                    for n, c in enumerate(clients)
                )
            )
        finally:
            for client in clients:
                await client.aclose()
        assert all(answer.status_code == 200 for answer in answers)
        pids = [_pid_of(server, f"burst-{n}") for n in range(BURST)]
        assert len(set(pids)) == WORKERS, (
            f"connections per worker: {sorted(pids.count(p) for p in set(pids))}"
        )
