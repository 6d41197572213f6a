"""The baseline of the benchmark: a bare Litestar app that answers the benchmark's requests with the
same SQL written by hand, on the same tables, driver and uvicorn as framestate.

No ORM (SQLAlchemy Core `text()` on framestate's own engines from `service.store.db`: reads of one
statement in autocommit, writes with `BEGIN IMMEDIATE` on SQLite), no state machine (the
few rules the benchmark's paths need are plain `if`s or `WHERE` clauses), no history, no
compare-and-set, no request checks beyond Litestar's own parse. It serves the framestate paths
that the benchmark uses, so one load script drives both:

- `GET /v1/projects/{id}`: one SELECT of the card's facts (the project, its two current videos
  and its active jobs, joined);
- `GET /v1/projects?limit=&cursor=`: one SELECT, as framestate sends it (the page of projects in a
  subquery, joined with their current videos and active jobs), with the same opaque cursor;
- `POST /v1/exports/{id}/progress`: one UPDATE in a transaction;
- `POST /v1/projects/{id}/exports` and `POST /v1/exports/{id}/succeed`: the whole export;
- `GET /v1/events`: every progress report's card, loaded once and handed to every subscriber;
- `GET /hello`: the bare framework's ceiling.

Only the paths the benchmark drives are complete: it is a yardstick, not a second implementation.
Run it as `python -m bench.baseline --port N` with `FRAMESTATE_DATABASE_URL` set.
"""

import argparse
import asyncio
import base64
import json
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import msgspec
import uvicorn
from litestar import Litestar, Request, Response, get, post
from litestar.datastructures import State
from litestar.response import Stream
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.sql.elements import TextClause

from bench.baseline_sql import (
    CARD_SQL,
    EXPORTING,
    INSERT_JOB_SQL,
    INSERT_VIDEO_SQL,
    LABELS,
    NEXT_VIDEO_VERSION_SQL,
    OPENING,
    PAGE_AFTER_SQL,
    PAGE_SQL,
    START_SQL,
    SUBSCRIBER_BUFFER,
    SUCCEED_JOB_SQL,
    SUCCEED_PROJECT_SQL,
    progress_sql,
)
from service.commands.serving import freeze_heap
from service.settings import Settings
from service.store.db import Database

# Rows to JSON, by hand.


def _ts(value: Any) -> Any:
    """SQLite hands back SQLAlchemy's text form of a UTC time; asyncpg an aware datetime."""
    if isinstance(value, str):
        return value[:10] + "T" + value[11:] + "Z"
    return value


def _job(row: Sequence[Any]) -> dict[str, Any]:
    return {
        "id": row[0],
        "project_id": row[1],
        "type": row[2],
        "status": row[3],
        "progress": row[4],
        "message": row[5],
        "error": row[6],
        "input_video_id": row[7],
        "output_video_id": row[8],
        "created_at": _ts(row[9]),
        "updated_at": _ts(row[10]),
        "finished_at": _ts(row[11]),
    }


def _video(row: Sequence[Any]) -> dict[str, Any] | None:
    if row[0] is None:
        return None
    return {
        "id": row[0],
        "kind": row[1],
        "version": row[2],
        "uri": row[3],
        "job_id": row[4],
        "created_at": _ts(row[5]),
    }


def _card(
    p: Sequence[Any],
    jobs: list[dict[str, Any]],
    working: dict[str, Any] | None,
    final: dict[str, Any] | None,
) -> dict[str, Any]:
    status = p[2]
    framing = any(job["type"] == "framing" for job in jobs)
    overlay = any(job["type"] == "overlay" for job in jobs)
    allowed = []
    if p[5] > 0 and not framing:
        allowed.append("start_framing_export")
    if p[6] is not None and not overlay:
        allowed.append("start_overlay_export")
    return {
        "id": p[0],
        "name": p[1],
        "status": status,
        "status_label": LABELS[status],
        "is_exporting": status in EXPORTING,
        "active_exports": jobs,
        "allowed_actions": allowed,
        "working_video": working,
        "final_video": final,
        "clip_count": p[4],
        "framed_clip_count": p[5],
        "version": p[3],
        "created_at": _ts(p[8]),
        "updated_at": _ts(p[9]),
    }


def _card_of_rows(rows: Sequence[Row[Any]]) -> dict[str, Any]:
    """The rows of CARD_SQL: one per active job (at least one)."""
    first: Sequence[Any] = rows[0]
    jobs = [_job(row[22:]) for row in map(tuple, rows) if row[22] is not None]
    return _card(first, jobs, _video(first[10:16]), _video(first[16:22]))


async def _load_card(conn: AsyncConnection, project_id: str) -> dict[str, Any] | None:
    rows = (await conn.execute(CARD_SQL, {"id": project_id})).all()
    return _card_of_rows(rows) if rows else None


def _encode_cursor(created_at: Any, project_id: str) -> str:
    """framestate's cursor shape (the payload, a dot, a signature), signed with nothing: the
    baseline makes no checks."""
    moment = datetime.fromisoformat(created_at) if isinstance(created_at, str) else created_at
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    raw = json.dumps(["projects", "", moment.isoformat(), project_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=") + "."


def _decode_cursor(cursor: str) -> tuple[datetime, str]:
    """The position in a cursor of framestate's (the bench's pages come from framestate); its
    signature is not checked."""
    encoded = cursor.partition(".")[0]
    *_, created_at, project_id = json.loads(base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)))
    moment = datetime.fromisoformat(created_at)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC), project_id


# Live cards: one load per change, the same bytes to every subscriber.


@dataclass
class Hub:
    subscribers: set["asyncio.Queue[bytes]"] = field(default_factory=set)
    tasks: set["asyncio.Task[None]"] = field(default_factory=set)

    def publish(self, frame: bytes) -> None:
        for queue in list(self.subscribers):
            try:
                queue.put_nowait(frame)
            except asyncio.QueueFull:
                self.subscribers.discard(queue)

    def changed(self, engine: AsyncEngine, project_id: str) -> None:
        if self.subscribers:
            task = asyncio.get_running_loop().create_task(self._fan_out(engine, project_id))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

    async def _fan_out(self, engine: AsyncEngine, project_id: str) -> None:
        async with engine.connect() as conn:
            card = await _load_card(conn, project_id)
        if card is not None:
            self.publish(b"event: project\ndata: " + msgspec.json.encode(card) + b"\n\n")

    async def frames(self) -> AsyncIterator[bytes]:
        queue: asyncio.Queue[bytes] = asyncio.Queue(SUBSCRIBER_BUFFER)
        self.subscribers.add(queue)
        try:
            yield OPENING
            while True:
                out = [await queue.get()]
                while not queue.empty():
                    out.append(queue.get_nowait())
                yield b"".join(out)
        finally:
            self.subscribers.discard(queue)


@dataclass
class Db:
    engine: AsyncEngine
    writer: AsyncEngine
    progress_sql: TextClause
    hub: Hub


class ProgressIn(msgspec.Struct):
    progress: float
    message: str | None = None


class StartIn(msgspec.Struct):
    type: str


class SucceedIn(msgspec.Struct):
    output_uri: str | None = None


def _db(state: State) -> Db:
    db: Db = state.db
    return db


def _missing(what: str) -> Response[dict[str, Any]]:
    return Response({"status": 404, "code": "not_found", "detail": f"No {what}."}, status_code=404)


def _refused(what: str) -> Response[dict[str, Any]]:
    return Response({"status": 409, "code": "refused", "detail": what}, status_code=409)


@get("/hello", sync_to_thread=False)
def hello() -> dict[str, str]:
    return {"hello": "world"}


@get("/v1/projects/{project_id:str}")
async def get_project(project_id: str, state: State) -> Response[dict[str, Any]]:
    async with _db(state).engine.connect() as conn:
        card = await _load_card(conn, project_id)
    return Response(card) if card is not None else _missing("project")


@get("/v1/projects")
async def list_projects(state: State, limit: int = 50, cursor: str | None = None) -> dict[str, Any]:
    async with _db(state).engine.connect() as conn:
        if cursor is None:
            result = await conn.execute(PAGE_SQL, {"limit": limit + 1})
        else:
            at, after_id = _decode_cursor(cursor)
            result = await conn.execute(PAGE_AFTER_SQL, {"limit": limit + 1, "at": at, "after_id": after_id})
        rows = result.all()
    by_project: dict[str, list[Row[Any]]] = {}
    for row in rows:
        by_project.setdefault(row[0], []).append(row)
    cards = [_card_of_rows(project_rows) for project_rows in by_project.values()]
    items = cards[:limit]
    last = items[-1] if len(cards) > limit else None
    return {"items": items, "next_cursor": _encode_cursor(last["created_at"], last["id"]) if last else None}


@post("/v1/exports/{job_id:str}/progress", status_code=200)
async def report_progress(job_id: str, data: ProgressIn, state: State) -> Response[dict[str, Any]]:
    db = _db(state)
    params = {"id": job_id, "progress": data.progress, "message": data.message, "now": datetime.now(UTC)}
    async with db.writer.begin() as conn:
        row = (await conn.execute(db.progress_sql, params)).one_or_none()
    if row is None:
        return _missing("active export job")
    job = _job(row)
    db.hub.changed(db.engine, job["project_id"])
    return Response(job)


@post("/v1/projects/{project_id:str}/exports", status_code=202)
async def start_export(project_id: str, data: StartIn, state: State) -> Response[dict[str, Any]]:
    db = _db(state)
    now = datetime.now(UTC)
    job_id = uuid.uuid4().hex
    async with db.writer.begin() as conn:
        moved = (await conn.execute(START_SQL[data.type], {"id": project_id, "now": now})).first()
        if moved is None:
            return _refused(f"cannot start a {data.type} export now")
        input_video_id = moved[0] if data.type == "overlay" else None
        job = {"id": job_id, "project_id": project_id, "type": data.type, "now": now}
        await conn.execute(INSERT_JOB_SQL, {**job, "input_video_id": input_video_id})
    stamp = _ts(now)
    body = {
        "id": job_id,
        "project_id": project_id,
        "type": data.type,
        "status": "queued",
        "progress": 0.0,
        "message": None,
        "error": None,
        "input_video_id": input_video_id,
        "output_video_id": None,
        "created_at": stamp,
        "updated_at": stamp,
        "finished_at": None,
    }
    return Response(body, status_code=202)


@post("/v1/exports/{job_id:str}/succeed", status_code=200)
async def succeed_export(
    job_id: str, state: State, request: Request[Any, Any, Any]
) -> Response[dict[str, Any]]:
    db = _db(state)
    raw = await request.body()
    uri = msgspec.json.decode(raw, type=SucceedIn).output_uri if raw else None
    now = datetime.now(UTC)
    video_id = uuid.uuid4().hex
    async with db.writer.begin() as conn:
        row = (await conn.execute(SUCCEED_JOB_SQL, {"id": job_id, "video_id": video_id, "now": now})).first()
        if row is None:
            return _missing("active export job")
        project_id, job_type = row[1], row[2]
        kind = "working" if job_type == "framing" else "final"
        version = (
            await conn.execute(NEXT_VIDEO_VERSION_SQL, {"project_id": project_id, "kind": kind})
        ).scalar_one()
        video = {"id": video_id, "project_id": project_id, "kind": kind, "version": version}
        await conn.execute(INSERT_VIDEO_SQL, {**video, "uri": uri, "job_id": job_id, "now": now})
        await conn.execute(
            SUCCEED_PROJECT_SQL[job_type], {"id": project_id, "video_id": video_id, "now": now}
        )
    return Response(_job(row))


@get("/v1/events")
async def all_events(state: State) -> Stream:
    return Stream(
        _db(state).hub.frames(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"}
    )


def create_baseline(settings: Settings) -> Litestar:
    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        # framestate's own engines: reads in autocommit, writes with BEGIN IMMEDIATE on SQLite.
        database = Database.open(settings)
        reader, writer = database.one_statement, database.write_engine
        app.state.db = Db(reader, writer, progress_sql(settings.is_sqlite), Hub())
        try:
            yield
        finally:
            await database.close()

    return Litestar(
        route_handlers=[
            hello,
            get_project,
            list_projects,
            report_progress,
            start_export,
            succeed_export,
            all_events,
        ],
        lifespan=[lifespan],
        openapi_config=None,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description="The benchmark's baseline app (see bench/baseline.py).")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    args = parser.parse_args()
    app = create_baseline(Settings.from_env())
    app.on_startup.append(freeze_heap)  # the same process set-up as `framestate serve`
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", proxy_headers=False)


if __name__ == "__main__":
    main()
