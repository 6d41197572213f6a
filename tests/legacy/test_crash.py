"""An import killed midway (SIGKILL: no clean-up of any kind) leaves whole projects, and running it
again finishes it: every project once, each with its one history row."""

import asyncio
import signal
import subprocess
from pathlib import Path

import pytest
from sqlalchemy.exc import DBAPIError

from tests.legacy.run import CLI, command_env
from tests.legacy.run_checks import rows
from tests.legacy.scenes import CROP
from tests.legacy_db import Legacy, sqlite_legacy
from tests.polling import poll
from tests.servers import ROOT

PROJECTS = 20_000
KILL_AFTER = 500
"""Projects written when the run is killed; it writes 20 a transaction."""


def _many() -> Legacy:
    legacy = Legacy()
    for number in range(1, PROJECTS + 1):
        legacy.project(number, "complete", working=number)
        legacy.video(number, number, 1 + number % 3)
        legacy.clip(2 * number, number, CROP)
        legacy.clip(2 * number + 1, number, None)
        if number % 10 == 0:
            legacy.job(number, number, "overlay", "running", progress=30)
    return legacy


def _count(database_url: str, sql: str) -> int:
    try:
        return int(rows(database_url, sql)[0][0])
    except DBAPIError:  # not migrated yet
        return 0


def _half_written(database_url: str) -> list[str]:
    """Every way a project could be half there; each query counts the projects it finds."""
    return [
        sql
        for sql in (
            "SELECT count(*) FROM project p WHERE p.clip_count !="
            " (SELECT count(*) FROM clip c WHERE c.project_id = p.id)",
            "SELECT count(*) FROM project p WHERE NOT EXISTS"
            " (SELECT 1 FROM video v WHERE v.id = p.working_video_id)",
            "SELECT count(*) FROM project p WHERE (SELECT count(*) FROM status_history h"
            " WHERE h.project_id = p.id) != 1",
            "SELECT count(*) FROM project p WHERE NOT EXISTS"
            " (SELECT 1 FROM legacy_import m WHERE m.project_id = p.id)",
            "SELECT count(*) FROM project p WHERE p.status = 'exporting_overlay' AND NOT EXISTS"
            " (SELECT 1 FROM export_job j WHERE j.project_id = p.id)",
        )
        if _count(database_url, sql)
    ]


@pytest.mark.anyio
async def test_a_run_killed_midway_leaves_whole_projects_and_the_next_run_finishes(
    fresh_url: str, tmp_path: Path
) -> None:
    source = await asyncio.to_thread(sqlite_legacy, tmp_path, _many())
    args = [*CLI, source, "--apply", "--batch-size", "20", "--report", str(tmp_path / "r.jsonl")]
    process = await asyncio.create_subprocess_exec(
        *args, cwd=ROOT, env=command_env(fresh_url), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        written = await poll(
            lambda: asyncio.to_thread(_count, fresh_url, "SELECT count(*) FROM project"),
            lambda count: count >= KILL_AFTER,
            timeout_s=120,
            every_s=0.02,
        )
    finally:
        process.send_signal(signal.SIGKILL)
        await process.wait()
    assert process.returncode == -signal.SIGKILL
    killed_at = _count(fresh_url, "SELECT count(*) FROM project")
    assert written <= killed_at < PROJECTS
    assert await asyncio.to_thread(_half_written, fresh_url) == []

    again = await asyncio.to_thread(
        subprocess.run, args, cwd=ROOT, env=command_env(fresh_url), capture_output=True, text=True
    )
    assert again.returncode == 0, again.stderr
    assert again.stdout.splitlines()[-1] == (
        f"outcomes: imported {PROJECTS - killed_at:,}, synced 0, unchanged {killed_at:,}, diverged 0, "
        "conflict 0, problem 0"
    )
    assert _count(fresh_url, "SELECT count(*) FROM project") == PROJECTS
    assert _count(fresh_url, "SELECT count(*) FROM status_history") == PROJECTS
    assert _count(fresh_url, "SELECT count(*) FROM export_job") == PROJECTS // 10
    assert await asyncio.to_thread(_half_written, fresh_url) == []
