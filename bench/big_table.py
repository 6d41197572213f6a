"""`make bench-big`: framestate's hot reads on a PostgreSQL database of 10 million projects, and
what each kind of row costs on disk.

A database `framestate_big` is made, migrated by `framestate migrate` (the real schema and its
indexes), and filled inside PostgreSQL with `generate_series` (fast enough for 10 million rows):
projects in the benchmark's mix over one year of `created_at` (10% exporting with a running job,
half with a working video, 30% complete with a final one). Clips and history take no part in a card
or a page (the project row carries the counts), so they are not made per project; a sample of
history rows, finished jobs and the webhook outbox is made instead to measure their bytes a row.

Then one `framestate serve` on it, and one client reading one request at a time (latency, not
throughput): random cards, the first page, pages filtered by status, and pages deep down the
cursor chain. PostgreSQL's own counters show whether any of them scanned a table.

    .venv/bin/python -m bench.big_table [--projects 10000000] [--keep]
"""

import argparse
import asyncio
import hashlib
import os
import random
import subprocess
import sys
import time
from typing import Any

import asyncpg
import httpx

from bench.common import PG_HOST, ROOT, SERVER_ENV, say
from bench.postgres import admin, postgres_error
from bench.servers import framestate_command, free_port, start_server
from bench.stats import percentile

DATABASE = "framestate_big"
CHUNK = 1_000_000
SAMPLE = 500_000
DEEP_PAGES = 150
YEAR_S = 365 * 24 * 3600

PROJECTS_SQL = """
INSERT INTO project (id, name, owner, status, version, clip_count, framed_clip_count,
                     working_video_id, final_video_id, created_at, updated_at)
SELECT md5('p' || i), 'Project ' || i, NULL,
       CASE WHEN i % 20 = 0 THEN 'exporting_framing' WHEN i % 20 = 10 THEN 'exporting_overlay'
            WHEN i % 10 = 1 THEN 'not_started' WHEN i % 10 IN (2, 3, 4) THEN 'in_progress'
            WHEN i % 10 IN (5, 6) THEN 'framed' ELSE 'complete' END,
       5, CASE WHEN i % 10 = 1 THEN 0 ELSE 2 END, CASE WHEN i % 10 IN (1, 4) THEN 0 ELSE 1 END,
       CASE WHEN i % 10 >= 5 OR i % 20 = 10 THEN md5('w' || i) END,
       CASE WHEN i % 10 >= 7 THEN md5('f' || i) END,
       $3::timestamptz + make_interval(secs => i * $4::float8),
       $3::timestamptz + make_interval(secs => i * $4::float8)
FROM generate_series($1::bigint, $2::bigint) AS i
"""
VIDEOS_SQL = """
INSERT INTO video (id, project_id, kind, version, uri, job_id, created_at)
SELECT md5(k || i), md5('p' || i), CASE k WHEN 'w' THEN 'working' ELSE 'final' END, 1,
       's3://renders/' || md5(k || i) || '.mp4', NULL, now()
FROM generate_series($1::bigint, $2::bigint) AS i, (VALUES ('w'), ('f')) AS kinds(k)
WHERE (k = 'w' AND (i % 10 >= 5 OR i % 20 = 10)) OR (k = 'f' AND i % 10 >= 7)
"""
JOBS_SQL = """
INSERT INTO export_job (id, project_id, type, status, progress, message, created_at, updated_at,
                        reported_at)
SELECT md5('j' || i), md5('p' || i), CASE WHEN i % 20 = 0 THEN 'framing' ELSE 'overlay' END,
       'running', 10, 'seeded', now(), now(), now()
FROM generate_series($1::bigint, $2::bigint) AS i
WHERE i % 10 = 0
"""
SAMPLES_SQL = [
    # History: the rows a project's life leaves (created, then one per status change).
    """INSERT INTO status_history (project_id, at, action, from_status, to_status, job_id, actor)
       SELECT md5('p' || (i % 1000 + 1)), now(), 'job_succeeded', 'exporting_framing', 'framed',
              md5('h' || i), 'app:editor-7'
       FROM generate_series(1, $1::bigint) AS i""",
    # Finished jobs: what every export leaves behind.
    """INSERT INTO export_job (id, project_id, type, status, progress, message, output_video_id,
                               created_at, updated_at, reported_at, finished_at)
       SELECT md5('d' || i), md5('p' || (i % 1000 + 1)), 'framing', 'succeeded', 100,
              'encoding 1080p', md5('o' || i), now(), now(), now(), now()
       FROM generate_series(1, $1::bigint) AS i""",
    # The outbox: an event (its body is what a receiver gets) and its deliveries.
    """INSERT INTO webhook_event (id, type, project_id, body, created_at, owner, job_id, version,
                                  position, fanned_out)
       SELECT md5('e' || i), 'export.progress', md5('p' || (i % 1000 + 1)), $2, now(), NULL,
              md5('j' || i), 7, 0, true
       FROM generate_series(1, $1::bigint) AS i""",
    """INSERT INTO webhook_endpoint (id, owner, url, events, secret, created_at, enabled)
       SELECT md5('endpoint'), NULL, 'http://127.0.0.1:9/hook', '["export.progress"]',
              'whsec_' || md5('secret'), now(), true
       WHERE $1::bigint > 0""",
    """INSERT INTO webhook_delivery (id, endpoint_id, event_id, project_id, type, status, attempts,
                                     last_status_code, expires_at, created_at, delivered_at,
                                     attempted_at)
       SELECT md5('x' || i), md5('endpoint'), md5('e' || i), md5('p' || (i % 1000 + 1)),
              'export.progress', 'delivered', 1, 204, now(), now(), now(), now()
       FROM generate_series(1, $1::bigint) AS i""",
]
EVENT_BODY = (
    '{"id":"0f1e2d3c4b5a69788796a5b4c3d2e1f0","type":"export.progress","timestamp":'
    '"2026-12-04T12:00:00.000000Z","data":{"project":{"id":"9a8b7c6d5e4f30211203f4e5d6c7b8a9",'
    '"name":"Surf trip","owner":null,"status":"exporting","status_detail":"exporting_framing",'
    '"status_label":"Framing…","version":7,"clip_count":3,"framed_clip_count":3,'
    '"working_video":null,"final_video":null,"active_exports":[{"id":"1b2c3d4e5f60718293a4b5c6d7e8f901",'
    '"type":"framing","status":"running","progress":42.5,"message":"encoding 1080p",'
    '"created_at":"2026-12-04T11:59:00.000000Z","reported_at":"2026-12-04T12:00:00.000000Z"}],'
    '"created_at":"2026-12-01T09:00:00.000000Z","updated_at":"2026-12-04T12:00:00.000000Z"},'
    '"job":{"id":"1b2c3d4e5f60718293a4b5c6d7e8f901","type":"framing","status":"running",'
    '"progress":42.5,"message":"encoding 1080p"}}}'
)


async def _fill(dsn: str, projects: int) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("SET synchronous_commit = off")
        began = time.perf_counter()
        start = await conn.fetchval("SELECT now() - interval '365 days'")
        step = YEAR_S / projects
        for first in range(1, projects + 1, CHUNK):
            last = min(projects, first + CHUNK - 1)
            async with conn.transaction():
                await conn.execute(PROJECTS_SQL, first, last, start, step)
                await conn.execute(VIDEOS_SQL, first, last)
                await conn.execute(JOBS_SQL, first, last)
            say(f"  {last:,} projects ({time.perf_counter() - began:.0f} s)")
        for sql in SAMPLES_SQL:
            await conn.execute(sql, SAMPLE, *([EVENT_BODY] if "$2" in sql else []))
        say(f"  samples of history, finished jobs and the outbox ({time.perf_counter() - began:.0f} s)")
        await conn.execute("VACUUM ANALYZE")
    finally:
        await conn.close()


async def _sizes(dsn: str) -> list[tuple[str, int, int, int]]:
    """Each table's rows, heap bytes and index bytes."""
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(
            """SELECT c.relname, c.reltuples::bigint, pg_table_size(c.oid), pg_indexes_size(c.oid)
               FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
               WHERE n.nspname = 'public' AND c.relkind = 'r' AND c.relname <> 'alembic_version'
               ORDER BY pg_total_relation_size(c.oid) DESC"""
        )
        return [(r[0], r[1], r[2], r[3]) for r in rows]
    finally:
        await conn.close()


async def _scans(dsn: str) -> dict[str, tuple[int, int]]:
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch("SELECT relname, seq_scan, coalesce(idx_scan, 0) FROM pg_stat_user_tables")
        return {r[0]: (r[1], r[2]) for r in rows}
    finally:
        await conn.close()


def _timed(client: httpx.Client, paths: list[str]) -> tuple[list[float], Any]:
    took, last = [], None
    for path in paths:
        began = time.perf_counter()
        answer = client.get(path)
        took.append(time.perf_counter() - began)
        answer.raise_for_status()
        last = answer.json()
    return took, last


def _line(name: str, took: list[float]) -> str:
    return (
        f"| {name} | {len(took)} | {percentile(took, 50) * 1000:.2f} | {percentile(took, 99) * 1000:.2f} "
        f"| {max(took) * 1000:.2f} |"
    )


def measure(url: str, projects: int) -> list[str]:
    rng = random.Random(7)
    with httpx.Client(base_url=url, timeout=30) as client:
        _timed(client, ["/v1/projects?limit=50"] * 20)  # warm the connection and the caches
        lines = ["| read | requests | p50 ms | p99 ms | max ms |", "|---|---:|---:|---:|---:|"]
        ids = [hashlib.md5(f"p{rng.randint(1, projects)}".encode()).hexdigest() for _ in range(500)]
        lines.append(
            _line("one card, a random project of all", _timed(client, [f"/v1/projects/{i}" for i in ids])[0])
        )
        lines.append(
            _line("first page of 50 (newest first)", _timed(client, ["/v1/projects?limit=50"] * 200)[0])
        )
        for status in ("exporting", "complete", "not_started"):
            took, _ = _timed(client, [f"/v1/projects?limit=50&status={status}"] * 200)
            lines.append(_line(f"first page of 50, `status={status}`", took))
        path: str | None = "/v1/projects?limit=50"
        deep: list[float] = []
        while path is not None and len(deep) < DEEP_PAGES:
            began = time.perf_counter()
            page = client.get(path).raise_for_status().json()
            deep.append(time.perf_counter() - began)
            path = f"/v1/projects?limit=50&cursor={page['next_cursor']}" if page["next_cursor"] else None
        lines.append(_line(f"pages 1 to {len(deep)} along the cursor chain", deep))
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="hot reads at 10 million projects (see bench/big_table.py)")
    parser.add_argument("--projects", type=int, default=10_000_000)
    parser.add_argument("--keep", action="store_true", help="leave the database for another look")
    args = parser.parse_args(argv)
    if (error := postgres_error(PG_HOST)) is not None:
        say(f"bench-big: PostgreSQL at {PG_HOST} does not answer ({error})")
        return 2
    asyncio.run(admin(PG_HOST, f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)'))
    asyncio.run(admin(PG_HOST, f'CREATE DATABASE "{DATABASE}"'))
    url = f"postgresql+asyncpg://{PG_HOST}/{DATABASE}"
    dsn = f"postgresql://{PG_HOST}/{DATABASE}"
    env = {**SERVER_ENV, "FRAMESTATE_DATABASE_URL": url}
    try:
        subprocess.run(
            [sys.executable, "-m", "service.commands.cli", "migrate"],
            cwd=ROOT,
            env={**os.environ, **env},
            check=True,
            capture_output=True,
        )
        say(f"bench-big: {args.projects:,} projects into {DATABASE}")
        asyncio.run(_fill(dsn, args.projects))
        say("\n| table | rows | heap MiB | indexes MiB | bytes a row, all in |\n|---|---:|---:|---:|---:|")
        for name, rows, heap, indexes in asyncio.run(_sizes(dsn)):
            per_row = (heap + indexes) / rows if rows > 0 else 0
            say(f"| {name} | {rows:,} | {heap / 2**20:,.0f} | {indexes / 2**20:,.0f} | {per_row:,.0f} |")
        port = free_port()
        server = start_server(
            "framestate-big", framestate_command(port), f"http://127.0.0.1:{port}", "/health", url
        )
        try:
            before = asyncio.run(_scans(dsn))
            lines = measure(server.url, args.projects)
            after = asyncio.run(_scans(dsn))
        finally:
            server.stop()
        say(f"\nReads on {args.projects:,} projects, one at a time over one connection:\n")
        for line in lines:
            say(line)
        scanned = {t: after[t][0] - before.get(t, (0, 0))[0] for t in after}
        indexed = {t: after[t][1] - before.get(t, (0, 0))[1] for t in after}
        say(
            "\nTable scans meanwhile: "
            + ", ".join(
                f"{t} {n}" for t, n in sorted(scanned.items()) if t in ("project", "video", "export_job")
            )
            + "; index scans: "
            + ", ".join(
                f"{t} {n:,}" for t, n in sorted(indexed.items()) if t in ("project", "video", "export_job")
            )
        )
    finally:
        if not args.keep:
            asyncio.run(admin(PG_HOST, f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)'))
    return 0


if __name__ == "__main__":
    sys.exit(main())
