"""Legacy databases for the import's tests: the old app's schema under the contract's default names,
made on SQLite, PostgreSQL or MariaDB, and filled with rows given as plain dictionaries."""

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

JSON = dict[str, Any]
TABLES = ("projects", "clips", "working_videos", "export_jobs")


def ddl(dialect: str) -> list[str]:
    """The old app's tables: times and crop data as text on SQLite, typed columns on the servers."""
    time = "TEXT" if dialect == "sqlite" else "TIMESTAMP NULL"
    crop = {"sqlite": "TEXT", "postgresql": "JSON", "mysql": "JSON"}[dialect]
    word = "TEXT" if dialect == "sqlite" else "VARCHAR(200)"
    return [
        f"CREATE TABLE projects (id INTEGER PRIMARY KEY, name {word}, status {word},"
        f" working_video_id INTEGER, final_video_id INTEGER, created_at {time})",
        f"CREATE TABLE clips (id INTEGER PRIMARY KEY, project_id INTEGER, crop_data {crop})",
        f"CREATE TABLE working_videos (id INTEGER PRIMARY KEY, project_id INTEGER, version INTEGER,"
        f" created_at {time})",
        f"CREATE TABLE export_jobs (id INTEGER PRIMARY KEY, project_id INTEGER, type {word}, status {word},"
        f" progress REAL, created_at {time})",
    ]


@dataclass
class Legacy:
    """Rows of the old app's four tables; ids are given by the test."""

    projects: list[JSON] = field(default_factory=list)
    clips: list[JSON] = field(default_factory=list)
    working_videos: list[JSON] = field(default_factory=list)
    export_jobs: list[JSON] = field(default_factory=list)

    def project(
        self,
        project_id: int,
        status: str | None,
        *,
        name: str | None = None,
        working: int | None = None,
        final: int | None = None,
        created_at: str | None = "2024-03-01 09:30:00",
    ) -> None:
        self.projects.append(
            {
                "id": project_id,
                "name": name,
                "status": status,
                "working_video_id": working,
                "final_video_id": final,
                "created_at": created_at,
            }
        )

    def clip(self, clip_id: int, project_id: int | None, crop_data: str | None) -> None:
        self.clips.append({"id": clip_id, "project_id": project_id, "crop_data": crop_data})

    def video(self, video_id: int, project_id: int, version: int | None) -> None:
        self.working_videos.append(
            {
                "id": video_id,
                "project_id": project_id,
                "version": version,
                "created_at": "2024-03-02 10:00:00",
            }
        )

    def job(
        self,
        job_id: int,
        project_id: int | None,
        job_type: str,
        status: str,
        *,
        progress: float | None = None,
        created_at: str = "2024-03-03 11:00:00",
    ) -> None:
        self.export_jobs.append(
            {
                "id": job_id,
                "project_id": project_id,
                "type": job_type,
                "status": status,
                "progress": progress,
                "created_at": created_at,
            }
        )

    def rows(self) -> Iterable[tuple[str, list[JSON]]]:
        return ((name, getattr(self, name)) for name in TABLES)


def sync_url(url: str) -> str:
    """The URL a test's own synchronous engine uses to write the legacy database."""
    parsed = make_url(url)
    driver = {"sqlite": "sqlite", "postgresql": "postgresql+psycopg", "mysql": "mysql+pymysql"}
    return parsed.set(drivername=driver[parsed.get_backend_name()]).render_as_string(hide_password=False)


def write(url: str, legacy: Legacy, *, schema: bool = True) -> None:
    """Make the tables (with `schema`) and add the rows."""
    engine = create_engine(sync_url(url))
    try:
        with engine.begin() as conn:
            if schema:
                for statement in ddl(engine.dialect.name):
                    conn.execute(text(statement))
            for table, given in legacy.rows():
                rows = given if engine.dialect.name == "sqlite" else [_json_column(row) for row in given]
                if rows:
                    columns = list(rows[0])
                    conn.execute(
                        text(
                            f"INSERT INTO {table} ({', '.join(columns)}) "
                            f"VALUES ({', '.join(':' + c for c in columns)})"
                        ),
                        rows,
                    )
    finally:
        engine.dispose()


def _json_column(row: JSON) -> JSON:
    """A JSON column holds no empty text: the servers' legacy apps would have stored null."""
    return {**row, "crop_data": None} if row.get("crop_data") == "" else row


def sqlite_legacy(directory: Path, legacy: Legacy, *, name: str = "legacy.db") -> str:
    """A legacy SQLite file in `directory`; its URL."""
    url = f"sqlite:///{directory / name}"
    write(url, legacy)
    return url


def execute(url: str, *statements: str) -> None:
    """Change the legacy database as the old app would (or break it, as a test must)."""
    engine = create_engine(sync_url(url))
    try:
        with engine.begin() as conn:
            for statement in statements:
                conn.execute(text(statement))
    finally:
        engine.dispose()
