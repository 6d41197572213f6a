"""PostgreSQL dropping every connection of the service, or restarting, under load: no answer is a
500; and a write whose connection breaks during COMMIT is 503, never run twice.

Two real server processes share one database while clients write and read; meanwhile every
connection of that database (pooled ones and the LISTEN ones) is terminated, again and again. Each
answer is counted: what broke before COMMIT was run again, what could not be is 503
`database_unavailable` with `Retry-After`. Afterwards both servers are ready again by themselves
and their event streams carry changes made through the other.
"""

import asyncio
import contextlib
import time
from collections import Counter
from functools import partial

import asyncpg
import httpx
import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import Connection, event
from sqlalchemy.engine import make_url
from sqlalchemy.util import await_only

from service.http.app import create_app
from service.settings import Settings
from service.store.faults import is_connection_fault
from service.store.migrations import upgrade
from tests.api import assert_problem
from tests.conftest import PG_ADMIN_DSN
from tests.polling import poll
from tests.servers import ServerProcess, server_process
from tests.sse import events
from tests.tcp_proxy import relay

pytestmark = pytest.mark.anyio
CLIENTS = 8
SECONDS = 6.0
RECOVERY_S = 20.0
KILL_EVERY_S = 0.4
RESTARTS = 2
RESTART_DOWN_S = 1.0


class Tally:
    def __init__(self) -> None:
        self.statuses: Counter[int] = Counter()
        self.bad: list[str] = []

    def count(self, response: httpx.Response) -> httpx.Response:
        self.statuses[response.status_code] += 1
        if response.status_code >= 500 and not (
            response.status_code == 503
            and response.json().get("code") == "database_unavailable"
            and response.headers.get("retry-after")
        ):
            self.bad.append(f"{response.request.method} {response.request.url.path}: {response.text}")
        return response


async def _client_loop(url: str, tally: Tally, deadline: float) -> None:
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        while time.monotonic() < deadline:
            created = tally.count(await client.post("/v1/projects", json={"name": "under fire"}))
            if created.status_code != 201:
                continue
            project_id = created.json()["id"]
            clip = tally.count(await client.post(f"/v1/projects/{project_id}/clips", json={"crop_data": {}}))
            if clip.status_code != 201:
                continue
            started = tally.count(
                await client.post(f"/v1/projects/{project_id}/exports", json={"type": "framing"})
            )
            if started.status_code == 202:
                job_id = started.json()["id"]
                tally.count(await client.post(f"/v1/exports/{job_id}/progress", json={"progress": 40}))
                tally.count(await client.post(f"/v1/exports/{job_id}/succeed", json={}))
            tally.count(await client.get(f"/v1/projects/{project_id}"))
            tally.count(await client.get("/v1/projects", params={"limit": 5}))


async def _terminate_every_connection(database: str, deadline: float) -> int:
    admin = await asyncpg.connect(PG_ADMIN_DSN)
    rounds = 0
    try:
        while time.monotonic() < deadline:
            await admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", database
            )
            rounds += 1
            await asyncio.sleep(KILL_EVERY_S)  # the fault's own rhythm, not a wait for something
    finally:
        await admin.close()
    return rounds


async def _both_recover(one: ServerProcess, two: ServerProcess) -> None:
    """Both servers turn ready again by themselves, and a change made through the second reaches an
    event stream held by the first (its LISTEN connection came back too)."""
    first, second = one.url, two.url
    async with httpx.AsyncClient(timeout=30) as client:
        for url in (first, second):
            try:
                await poll(
                    partial(client.get, f"{url}/health/ready"),
                    lambda r: r.status_code == 200,
                    timeout_s=RECOVERY_S,
                )
            except TimeoutError:
                detail = (await client.get(f"{url}/health/ready")).text
                log = "".join([*one.log, *two.log][-30:])
                raise AssertionError(f"{url} is not ready again: {detail}\n{log}") from None
        async with events(client, f"{first}/v1/events") as stream:
            created = await client.post(f"{second}/v1/projects", json={"name": "after the faults"})
            assert created.status_code == 201
            while True:
                name, data = await stream.next()
                if name == "project" and data["id"] == created.json()["id"]:
                    break


async def test_terminated_connections_under_load_give_no_500(postgres_url: str) -> None:
    database = make_url(postgres_url).database or ""
    with server_process(postgres_url) as one, server_process(postgres_url) as two:
        first, second = one.url, two.url
        tally = Tally()
        deadline = time.monotonic() + SECONDS
        loops = [_client_loop(url, tally, deadline) for url in (first, second) for _ in range(CLIENTS // 2)]
        killer = asyncio.create_task(_terminate_every_connection(database, deadline))
        await asyncio.gather(*loops)
        rounds = await killer
        assert rounds >= 5
        errors = [line for line in [*one.log, *two.log] if "ERROR" in line or "Error" in line]
        assert not tally.bad, "\n".join(tally.bad[:3] + errors[-40:])
        assert sum(tally.statuses.values()) > 30
        assert tally.statuses[201] > 0
        print(f"\nfaults: {rounds} rounds of terminations, answers {dict(sorted(tally.statuses.items()))}")  # noqa: T201

        await _both_recover(one, two)


async def test_a_database_restart_under_load_gives_no_500(postgres_url: str) -> None:
    """The database goes away and comes back, twice, while two servers take load: every connection
    cut at once, new ones refused for a while, then accepted again. The servers reach PostgreSQL
    through a relay that the test restarts, so the database the other tests share stays up."""
    database_url = make_url(postgres_url)
    async with relay(database_url.host or "127.0.0.1", database_url.port or 5432) as proxy:
        through = database_url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
        with contextlib.ExitStack() as stack:
            # Started from a thread: a server migrates through the relay, which runs on this loop.
            one = await asyncio.to_thread(stack.enter_context, server_process(through))
            two = await asyncio.to_thread(stack.enter_context, server_process(through))
            try:
                tally = Tally()
                deadline = time.monotonic() + SECONDS
                loops = [
                    _client_loop(url, tally, deadline)
                    for url in (one.url, two.url)
                    for _ in range(CLIENTS // 2)
                ]

                async def restarts() -> int:
                    for _ in range(RESTARTS):
                        await asyncio.sleep(SECONDS / (RESTARTS + 1))  # the fault's rhythm
                        await proxy.restart(RESTART_DOWN_S)
                    return RESTARTS

                done, _ = await asyncio.gather(restarts(), asyncio.gather(*loops))
                assert done == RESTARTS
                errors = [line for line in [*one.log, *two.log] if "ERROR" in line or "Error" in line]
                assert not tally.bad, "\n".join(tally.bad[:3] + errors[-40:])
                assert tally.statuses[201] > 0
                print(f"\nrestarts: {RESTARTS}, answers {dict(sorted(tally.statuses.items()))}")  # noqa: T201
                await _both_recover(one, two)
            finally:
                await asyncio.to_thread(stack.close)


def test_what_counts_as_a_connection_fault() -> None:
    assert is_connection_fault(ConnectionRefusedError())
    assert is_connection_fault(asyncpg.ConnectionDoesNotExistError("closed in the middle of operation"))
    assert is_connection_fault(
        asyncpg.AdminShutdownError("terminating connection due to administrator command")
    )
    assert not is_connection_fault(asyncpg.UniqueViolationError("duplicate key"))
    assert not is_connection_fault(ValueError("no"))


async def test_while_the_database_stays_away_reads_and_writes_are_503_with_retry_after() -> None:
    away = Settings(database_url="postgresql+asyncpg://postgres@127.0.0.1:1/test")  # nobody listens
    async with AsyncTestClient(app=create_app(away)) as client:
        for method, path, body in (
            ("GET", "/v1/projects", None),
            ("POST", "/v1/projects", {"name": "nowhere"}),
            ("GET", f"/v1/projects/{'a' * 32}", None),
        ):
            response = await client.request(method, path, json=body)
            assert_problem(response, 503, "database_unavailable")
            assert response.headers["retry-after"]


async def test_a_request_whose_pooled_connection_was_dropped_is_run_again(postgres_url: str) -> None:
    """The pool holds a connection that PostgreSQL has since terminated: the request that meets it
    fails before COMMIT, and is answered from a second run on a fresh connection, not with a 503."""
    settings = Settings(database_url=postgres_url)
    await asyncio.to_thread(upgrade, settings)
    database = make_url(postgres_url).database
    async with AsyncTestClient(app=create_app(settings)) as client:
        created = await client.post("/v1/projects", json={"name": "Dropped"})
        assert created.status_code == 201
        admin = await asyncpg.connect(PG_ADMIN_DSN)
        try:
            killed = await admin.fetchval(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = $1",
                database,
            )
        finally:
            await admin.close()
        assert killed >= 1
        again = await client.get(f"/v1/projects/{created.json()['id']}")
        assert again.status_code == 200, again.text
        renamed = await client.post("/v1/projects", json={"name": "After the drop"})
        assert renamed.status_code == 201, renamed.text


async def test_a_write_whose_connection_breaks_during_commit_is_503_and_not_run_again(
    postgres_url: str,
) -> None:
    """The backend of a write is terminated just as COMMIT is sent: whether the change is stored is
    unknown to the service, so it answers 503 `database_unavailable` (never a 500) and does not run
    the write a second time; the next request works on a fresh connection."""
    settings = Settings(database_url=postgres_url)
    await asyncio.to_thread(upgrade, settings)
    commits: list[int] = []

    def terminate_before_commit(connection: Connection) -> None:
        """Runs in the app's event loop (the test client's portal), as COMMIT is about to be sent."""
        driver = connection.connection.driver_connection
        assert driver is not None
        pid = await_only(driver.fetchval("SELECT pg_backend_pid()"))
        admin = await_only(asyncpg.connect(PG_ADMIN_DSN))
        try:
            await_only(admin.execute("SELECT pg_terminate_backend($1)", pid))
        finally:
            await_only(admin.close())
        commits.append(pid)

    async with AsyncTestClient(app=create_app(settings)) as client:
        engine = client.app.state.ctx.db.write_engine.sync_engine
        event.listen(engine, "commit", terminate_before_commit)
        try:
            answer = await client.post("/v1/projects", json={"name": "Lost in COMMIT"})
        finally:
            event.remove(engine, "commit", terminate_before_commit)
        assert answer.status_code == 503, answer.text
        assert answer.json()["code"] == "database_unavailable"
        assert "COMMIT" in answer.json()["detail"]
        assert answer.headers["retry-after"]
        assert len(commits) == 1, "a write whose COMMIT broke must not be run again"

        after = await client.post("/v1/projects", json={"name": "Next"})
        assert after.status_code == 201, after.text
        names = [p["name"] for p in (await client.get("/v1/projects")).json()["items"]]
        assert names == ["Next"]  # the backend died before COMMIT reached it: nothing stored
