"""The legacy app's database the import rows read: a SQLite file of `LEGACY_PROJECTS` projects in the
old app's schema (the contract's default names, with the indexes such an app has), in the mix of
the bench's seed (bench/seeding.py): every status, 10% with a running export, and three clips a
project. Its stored status is what a forward-only status column shows, so a re-framed or re-overlaid
project still says `complete`: the statuses that lie after a backward step."""

import json
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from fsm.facts import Facts, status_from_facts
from fsm.status import Status

LEGACY_PROJECTS = 100_000
CLIPS_A_PROJECT = 3
SCHEMA = (
    "CREATE TABLE projects (id INTEGER PRIMARY KEY, name TEXT, status TEXT, working_video_id INTEGER,"
    " final_video_id INTEGER, created_at TEXT)",
    "CREATE TABLE clips (id INTEGER PRIMARY KEY, project_id INTEGER, crop_data TEXT)",
    "CREATE INDEX clips_project_id ON clips (project_id)",
    "CREATE TABLE working_videos (id INTEGER PRIMARY KEY, project_id INTEGER, version INTEGER,"
    " created_at TEXT)",
    "CREATE TABLE export_jobs (id INTEGER PRIMARY KEY, project_id INTEGER, type TEXT, status TEXT,"
    " progress REAL, created_at TEXT)",
    "CREATE INDEX export_jobs_project_id ON export_jobs (project_id)",
)
LEGACY_WORDS = {
    Status.NOT_STARTED: "draft",
    Status.IN_PROGRESS: "editing",
    Status.FRAMED: "framed",
    Status.EXPORTING_FRAMING: "framing",
    Status.EXPORTING_OVERLAY: "overlay",
    Status.COMPLETE: "complete",
}
CROP = json.dumps({"keyframes": [{"t": 0, "x": 0.4, "y": 0.5, "zoom": 1.2}, {"t": 2.5, "x": 0.6}]})
# The seed's facts by `index % 10`: framed clips, a working video, a final video (kind 0 exports).
FACTS = {
    1: (0, False, False),
    2: (0, False, False),
    3: (1, False, False),
    4: (1, False, False),
    5: (2, True, False),
    6: (2, True, False),
    7: (2, True, True),
    8: (2, True, True),
    9: (2, True, True),
}


def _project(index: int, first: datetime) -> Iterator[tuple[str, tuple[Any, ...]]]:
    """The rows of one project, by table (ids derived from the project's own)."""
    project_id = index + 1
    kind, sub = index % 10, (index // 10) % 5
    exporting = kind == 0
    framed, working, final = (1, sub >= 1, sub in (2, 4)) if exporting else FACTS[kind]
    created = (first + timedelta(seconds=60 * index)).isoformat(sep=" ")
    for number in range(CLIPS_A_PROJECT):
        clip_id = project_id * CLIPS_A_PROJECT + number
        yield "clips", (clip_id, project_id, CROP if number < framed else None)
    videos: list[int | None] = []
    for offset, present in ((0, working), (1, final)):
        video_id = 2 * project_id + offset if present else None
        videos.append(video_id)
        if video_id is not None:
            yield "working_videos", (video_id, project_id, 1 + index % 3, created)
            job_type = "framing" if offset == 0 else "overlay"
            yield "export_jobs", (4 * project_id + offset, project_id, job_type, "done", 100.0, created)
    if exporting:
        job_type = "framing" if sub <= 2 else "overlay"
        yield "export_jobs", (4 * project_id + 2, project_id, job_type, "running", 10.0, created)
    status = status_from_facts(
        Facts(
            active_framing=exporting and sub <= 2,
            active_overlay=exporting and sub >= 3,
            final_video=final,
            working_video=working,
            framed_clip=framed > 0,
        )
    )
    shown = "complete" if final or (exporting and working and index % 20 == 0) else LEGACY_WORDS[status]
    yield "projects", (project_id, f"Project {index:06d}", shown, videos[0], videos[1], created)


def make_legacy_file(path: Path, projects: int = LEGACY_PROJECTS) -> Path:
    """Write the file anew; its path."""
    path.unlink(missing_ok=True)
    first = datetime(2024, 1, 1, tzinfo=UTC)
    conn = sqlite3.connect(path)
    try:
        for statement in SCHEMA:
            conn.execute(statement)
        rows: dict[str, list[tuple[Any, ...]]] = {}
        for index in range(projects):
            for table, row in _project(index, first):
                rows.setdefault(table, []).append(row)
        for table, batch in rows.items():
            marks = ", ".join("?" * len(batch[0]))
            conn.executemany(f"INSERT INTO {table} VALUES ({marks})", batch)
        conn.commit()
        conn.execute("ANALYZE")
    finally:
        conn.close()
    return path
