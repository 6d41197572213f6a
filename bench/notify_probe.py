"""How much `pg_notify` costs PostgreSQL's commits: the progress write (a compare-and-set of one
project row on its version), with and without `RETURNING pg_notify(...)`, at 1, 8, 32 and 64
concurrent writers, each on its own connection and its own projects, for a few seconds each.

PostgreSQL serialises the commits of transactions that sent a notification (they take one lock
on the notification queue at commit), so under many writers the notifying write could fall behind
the plain one. The third column is framestate's design: plain writes, while announcers (one per 8
writers, as if each served a process of 8 connections) each send one `pg_notify` of a batch of
changes every `ANNOUNCE_EVERY_S`, outside the writes. `make bench-notify` prints the table;
docs/scaling.md keeps the figures.

    python -m bench.notify_probe [--seconds 4] [--writers 1,8,32,64]
"""

import argparse
import asyncio
import time
import uuid
from dataclasses import dataclass

import asyncpg

from bench.common import PG_HOST, say
from bench.postgres import admin
from service.live.announcements import ANNOUNCE_EVERY_S, Announced, payloads

PROJECTS_PER_WRITER = 50
WRITERS_PER_ANNOUNCER = 8
BATCH: list[Announced] = [(uuid.uuid4().hex, 1234, None)] * 10  # what a busy process commits in 10 ms
PLAIN = "UPDATE probe SET version = version + 1, progress = $2 WHERE id = $1 AND version = $3"
NOTIFYING = PLAIN + " RETURNING pg_notify('framestate_probe', id || ':' || version)"


@dataclass(frozen=True)
class Figure:
    writers: int
    plain: float
    notifying: float
    batched: float

    @property
    def cost(self) -> float:
        return 1 - self.notifying / self.plain if self.plain else 0.0

    @property
    def batched_cost(self) -> float:
        return 1 - self.batched / self.plain if self.plain else 0.0


async def _writer(dsn: str, statement: str, ids: list[str], until: float) -> int:
    """Compare-and-set each of its projects in turn; a write that matched no row is a bug here."""
    conn = await asyncpg.connect(dsn)
    commits = 0
    try:
        rows = await conn.fetch("SELECT id, version FROM probe WHERE id = ANY($1::text[])", ids)
        versions = {row["id"]: row["version"] for row in rows}
        prepared = await conn.prepare(statement)
        while time.perf_counter() < until:
            for project_id in ids:
                await prepared.fetch(project_id, float(commits % 100), versions[project_id])
                if prepared.get_statusmsg() != "UPDATE 1":
                    raise RuntimeError(f"{project_id} was not written: {prepared.get_statusmsg()}")
                versions[project_id] += 1
                commits += 1
    finally:
        await conn.close()
    return commits


async def _announcer(dsn: str, until: float) -> int:
    """One process's announcer: a batch of changes in one `pg_notify`, at most every `ANNOUNCE_EVERY_S`."""
    conn = await asyncpg.connect(dsn)
    (payload,) = payloads(uuid.uuid4().hex, BATCH)
    try:
        while time.perf_counter() < until:
            began = time.perf_counter()
            await conn.execute("SELECT pg_notify('framestate_probe', $1)", payload)
            await asyncio.sleep(max(0.0, began + ANNOUNCE_EVERY_S - time.perf_counter()))
    finally:
        await conn.close()
    return 0  # announcements are not commits of writes


async def _rate(dsn: str, statement: str, writers: int, seconds: float, *, announce: bool = False) -> float:
    until = time.perf_counter() + seconds
    began = time.perf_counter()
    announcers = max(1, writers // WRITERS_PER_ANNOUNCER) if announce else 0
    counts = await asyncio.gather(
        *(
            _writer(dsn, statement, [f"w{w}-p{p}" for p in range(PROJECTS_PER_WRITER)], until)
            for w in range(writers)
        ),
        *(_announcer(dsn, until) for _ in range(announcers)),
    )
    return sum(counts) / (time.perf_counter() - began)


async def _prepare(dsn: str, writers: int) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS probe (id text PRIMARY KEY, version int NOT NULL, progress float)"
        )
        await conn.execute("TRUNCATE probe")
        await conn.executemany(
            "INSERT INTO probe VALUES ($1, 0, 0)",
            [(f"w{w}-p{p}",) for w in range(writers) for p in range(PROJECTS_PER_WRITER)],
        )
    finally:
        await conn.close()


async def probe(writer_counts: list[int], seconds: float) -> list[Figure]:
    name = f"framestate_notify_{uuid.uuid4().hex[:8]}"
    await admin(PG_HOST, f'CREATE DATABASE "{name}"')
    dsn = f"postgresql://{PG_HOST}/{name}"
    listener = await asyncpg.connect(dsn)  # a LISTENer, as every server process keeps one
    figures = []
    try:
        await _prepare(dsn, max(writer_counts))
        await listener.add_listener("framestate_probe", lambda *_: None)
        for writers in writer_counts:
            # Each kind runs twice, in the order A B C C B A, so that none gains from its place.
            first_plain = await _rate(dsn, PLAIN, writers, seconds / 2)
            first_notifying = await _rate(dsn, NOTIFYING, writers, seconds / 2)
            batched = await _rate(dsn, PLAIN, writers, seconds / 2, announce=True)
            batched = (batched + await _rate(dsn, PLAIN, writers, seconds / 2, announce=True)) / 2
            notifying = (first_notifying + await _rate(dsn, NOTIFYING, writers, seconds / 2)) / 2
            plain = (first_plain + await _rate(dsn, PLAIN, writers, seconds / 2)) / 2
            figures.append(Figure(writers, plain, notifying, batched))
            say(
                f"  {writers:>3} writers: {plain:8,.0f} commits/s plain, {notifying:8,.0f} with pg_notify, "
                f"{batched:8,.0f} plain while batches are announced"
            )
    finally:
        await listener.close()
        await admin(PG_HOST, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    return figures


def table(figures: list[Figure]) -> str:
    lines = [
        "| writers | commits/s, plain | with pg_notify in each write | its cost | plain, batches announced "
        "beside (framestate) | its cost |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {f.writers} | {f.plain:,.0f} | {f.notifying:,.0f} | {f.cost:.0%} | {f.batched:,.0f} "
        f"| {f.batched_cost:.0%} |"
        for f in figures
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description="pg_notify's cost to commits (see bench/notify_probe.py)")
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--writers", default="1,8,32,64")
    args = parser.parse_args()
    figures = asyncio.run(probe([int(w) for w in args.writers.split(",")], args.seconds))
    say(table(figures))


if __name__ == "__main__":
    main()
