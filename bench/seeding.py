"""Seeding the benchmark's database: 10,000 projects through the real tables, every one
consistent with the contract."""

import asyncio
import os
import subprocess
import sys
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Table, text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlmodel import SQLModel

import service.store.tables  # noqa: F401  (registers the tables on SQLModel.metadata)
from bench.common import EXPORT_WORKERS, PROJECTS, ROOT, SERVER_ENV
from fsm.facts import Action, Facts, status_from_facts
from fsm.status import Status


@dataclass
class Seeded:
    project_ids: list[str]
    active_job_ids: list[str]
    export_projects: dict[str, list[str]]  # who runs whole exports on them -> project ids


def _seed_rows(now: datetime) -> tuple[dict[str, list[dict[str, Any]]], Seeded]:
    rows: dict[str, list[dict[str, Any]]] = {
        "project": [],
        "clip": [],
        "video": [],
        "export_job": [],
        "status_history": [],
    }
    project_ids: list[str] = []
    active: list[str] = []
    framed_spares: list[str] = []
    crop = {"keyframes": [{"t": 0, "x": 0.4, "y": 0.5, "zoom": 1.2}, {"t": 2.5, "x": 0.6}]}
    first = now - timedelta(days=10)

    def job(project_id: str, job_type: str, status: str, at: datetime, **more: Any) -> str:
        job_id = uuid.uuid4().hex
        finished = status not in ("queued", "running")
        rows["export_job"].append(
            {
                "id": job_id,
                "project_id": project_id,
                "type": job_type,
                "status": status,
                "progress": 100.0 if finished else 10.0,
                "message": "seeded",
                "error": None,
                "input_video_id": None,
                "output_video_id": None,
                "idempotency_key": None,
                "created_at": at,
                "updated_at": at,
                "reported_at": now if not finished else at,
                "finished_at": at if finished else None,
                **more,
            }
        )
        return job_id

    def video(project_id: str, kind: str, at: datetime, input_video: str | None = None) -> str:
        video_id = uuid.uuid4().hex
        job_type = "framing" if kind == "working" else "overlay"
        job_id = job(
            project_id, job_type, "succeeded", at, input_video_id=input_video, output_video_id=video_id
        )
        rows["video"].append(
            {
                "id": video_id,
                "project_id": project_id,
                "kind": kind,
                "version": 1,
                "uri": f"s3://renders/{video_id}.mp4",
                "job_id": job_id,
                "created_at": at,
            }
        )
        return video_id

    for index in range(PROJECTS):
        project_id = uuid.uuid4().hex
        created = first + timedelta(seconds=60 * index, microseconds=index)
        later = created + timedelta(seconds=30)
        kind = index % 10
        sub = (index // 10) % 5
        exporting = kind == 0
        # The facts: framed clips, unframed clips, a working video, a final video.
        framed, unframed, working, final = {
            0: (1, 0, sub in (1, 2, 3, 4), sub in (2, 4)),
            1: (0, 0, False, False),
            2: (0, 1, False, False),
            3: (1, 0, False, False),
            4: (1, 1, False, False),
            5: (2, 0, True, False),
            6: (2, 0, True, False),
            7: (2, 0, True, True),
            8: (2, 0, True, True),
            9: (2, 0, True, True),
        }[kind]
        for number in range(framed + unframed):
            rows["clip"].append(
                {
                    "id": uuid.uuid4().hex,
                    "project_id": project_id,
                    "crop_data": crop if number < framed else None,
                    "created_at": created,
                    "updated_at": created,
                }
            )
        working_id = video(project_id, "working", later) if working else None
        final_id = video(project_id, "final", later, working_id) if final else None
        status = status_from_facts(
            Facts(
                active_framing=exporting and sub <= 2,
                active_overlay=exporting and sub >= 3,
                final_video=final,
                working_video=working,
                framed_clip=framed > 0,
            )
        )
        if exporting:
            job_type = "framing" if sub <= 2 else "overlay"
            active.append(
                job(
                    project_id,
                    job_type,
                    "running",
                    now - timedelta(minutes=1),
                    input_video_id=working_id if job_type == "overlay" else None,
                )
            )
        elif kind in (5, 6):
            framed_spares.append(project_id)
        rows["project"].append(
            {
                "id": project_id,
                "name": f"Project {index:05d}",
                "status": status.value,
                "version": 2 + framed + unframed + (2 if working else 0) + (2 if final else 0) + exporting,
                "clip_count": framed + unframed,
                "framed_clip_count": framed,
                "working_video_id": working_id,
                "final_video_id": final_id,
                "created_at": created,
                "updated_at": later,
            }
        )
        history: list[tuple[str, str | None, str, datetime]] = [
            (Action.PROJECT_CREATED.value, None, Status.NOT_STARTED.value, created)
        ]
        if status is not Status.NOT_STARTED:
            history.append(("job_succeeded", Status.NOT_STARTED.value, status.value, later))
        rows["status_history"].extend(
            {"project_id": project_id, "at": at, "action": action, "from_status": source, "to_status": dest}
            for action, source, dest, at in history
        )
        project_ids.append(project_id)
    spares = {
        "framestate": framed_spares[:EXPORT_WORKERS],
        "baseline": framed_spares[EXPORT_WORKERS : 2 * EXPORT_WORKERS],
    }
    return rows, Seeded(project_ids, active, spares)


async def _insert(url: str, rows: dict[str, list[dict[str, Any]]], postgres: bool) -> None:
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            for name in ("project", "clip", "export_job", "video", "status_history"):
                table: Table = SQLModel.metadata.tables[name]
                batch = rows[name]
                for start in range(0, len(batch), 2000):
                    await conn.execute(table.insert(), batch[start : start + 2000])
        async with engine.connect() as conn:
            if postgres:
                await conn.execution_options(isolation_level="AUTOCOMMIT")
                await conn.execute(text("ANALYZE"))
            else:
                await conn.execute(text("ANALYZE"))
                await conn.commit()
    finally:
        await engine.dispose()


def seed(url: str, postgres: bool) -> Seeded:
    env = {**os.environ, "FRAMESTATE_DATABASE_URL": url, **SERVER_ENV}
    subprocess.run(
        [sys.executable, "-m", "service.commands.cli", "migrate"],
        cwd=ROOT,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    rows, seeded = _seed_rows(datetime.now(UTC))
    asyncio.run(_insert(url, rows, postgres))
    return seeded
