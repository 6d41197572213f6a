"""The legacy database, only ever read: opened read-only, its tables and columns checked against the
mapping, then streamed in batches of projects (keyset pagination on the projects' id), each batch
with the clips and jobs of its range of project ids and the videos its pointers name.

A batch is read in one read-only transaction, so each project's facts come from one snapshot
while the old app goes on writing; no transaction spans the run, so the old app's writers never
wait on the import for longer than one batch. The ranges of successive batches leave no gap (the
first starts at the lowest id, the last has no end and takes the rows with no project id too), so
a clip or job whose project does not exist falls in exactly one batch, which reports it.

The source is read through a synchronous SQLAlchemy engine: any SQLAlchemy URL works, with
the standard library's sqlite3, psycopg (3) for `postgresql://` and PyMySQL for MySQL and MariaDB.
"""

import urllib.parse
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    TableClause,
    and_,
    bindparam,
    column,
    create_engine,
    event,
    func,
    inspect,
    null,
    or_,
    select,
    table,
    union_all,
)
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, NoSuchTableError
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler

from service.legacy.errors import CannotRun
from service.legacy.mapping import Mapping, TableMap

DRIVERS = {
    "sqlite": "sqlite+pysqlite",
    "sqlite+aiosqlite": "sqlite+pysqlite",
    "postgres": "postgresql+psycopg",
    "postgresql": "postgresql+psycopg",
    "postgresql+asyncpg": "postgresql+psycopg",
    "mysql": "mysql+pymysql",
    "mariadb": "mariadb+pymysql",
}
"""The driver a source URL is read with where it names none, or one that cannot read synchronously."""
READ_ONLY_SESSION = {
    "postgresql": "SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY",
    "mysql": "SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY",
    "mariadb": "SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY",
}
"""Every transaction of the import's connections to a server is read-only, and sees one snapshot."""


@dataclass(slots=True)
class RawBatch:
    """The rows of one batch, each with the columns of its table's spec in order (an optional column
    the table lacks reads as None)."""

    projects: Sequence[Sequence[Any]]
    clips: Sequence[Sequence[Any]]
    jobs: Sequence[Sequence[Any]]
    videos: Sequence[Sequence[Any]]


def source_url(raw: str) -> URL:
    try:
        url = make_url(raw)
    except ArgumentError:
        raise CannotRun(f"SOURCE_URL {raw!r} is not a database URL (e.g. sqlite:///legacy.db)") from None
    url = url.set(drivername=DRIVERS.get(url.drivername, url.drivername))
    if url.get_backend_name() != "sqlite":
        return url
    if not url.database or url.database == ":memory:":
        raise CannotRun("SOURCE_URL names no SQLite file (sqlite:///path/to/legacy.db)")
    path = Path(url.database).resolve()
    if not path.is_file():
        raise CannotRun(f"the source does not answer: there is no SQLite file {path}")
    return url.set(database=f"file:{urllib.parse.quote(str(path))}", query={"mode": "ro", "uri": "true"})


def _sqlite_snapshots(engine: Engine) -> None:
    """pysqlite begins a transaction only before a write; a batch's reads begin one here, so they
    read one snapshot."""

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN")


def _read_only_sessions(engine: Engine, statement: str) -> None:
    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute(statement)
        cursor.close()
        dbapi_connection.commit()


def open_engine(raw: str) -> Engine:
    """An engine that can only read the source (SQLite opened with `mode=ro`, servers in read-only
    transactions)."""
    url = source_url(raw)
    backend = url.get_backend_name()
    if backend != "sqlite" and backend not in READ_ONLY_SESSION:
        raise CannotRun(
            f"SOURCE_URL: {backend} databases are not read (SQLite, PostgreSQL, MySQL and MariaDB are)"
        )
    try:
        engine = create_engine(url)
    except (NoSuchModuleError, ImportError) as exc:
        raise CannotRun(f"no driver for {url.drivername}:// sources is installed ({exc})") from None
    except ArgumentError as exc:
        raise CannotRun(f"SOURCE_URL cannot be used: {exc}") from None
    if backend == "sqlite":
        _sqlite_snapshots(engine)
    else:
        _read_only_sessions(engine, READ_ONLY_SESSION[backend])
    return engine


def first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _split(name: str) -> tuple[str | None, str]:
    schema, _, table_name = name.rpartition(".")
    return schema or None, table_name


@dataclass(frozen=True, slots=True)
class Resolved:
    """One legacy table as the reads select it: its columns by key, the absent optional ones NULL."""

    table: TableClause
    columns: dict[str, ColumnElement[Any]]

    def selected(self, keys: Sequence[str]) -> list[ColumnElement[Any]]:
        return [self.columns[key] for key in keys]


def _resolve(conn: Connection, mapped: TableMap) -> Resolved:
    schema, name = _split(mapped.table)
    section = mapped.spec.section
    try:
        found = [c["name"] for c in inspect(conn).get_columns(name, schema=schema)]
    except NoSuchTableError:
        found = []
    if not found:
        hint = "" if mapped.table != section else " (--mapping names another)"
        raise CannotRun(f"the source has no table {mapped.table!r}: the {section} table{hint}")
    by_lower = {c.lower(): c for c in found}
    legacy = table(name, *(column(c) for c in found), schema=schema)
    columns: dict[str, ColumnElement[Any]] = {}
    for key, wanted in mapped.columns.items():
        actual = wanted if wanted in found else by_lower.get(wanted.lower())
        if actual is not None:
            columns[key] = legacy.c[actual]
        elif mapped.must_exist(key):
            raise CannotRun(f"table {mapped.table!r} has no column {wanted!r} ({section}.{key})")
        else:
            columns[key] = null()
    return Resolved(legacy, columns)


class Source:
    """The legacy database, read in batches (`batches`) from one thread at a time."""

    def __init__(self, engine: Engine, mapping: Mapping, resolved: dict[str, Resolved]) -> None:
        self.engine = engine
        self.mapping = mapping
        self._projects = resolved["projects"]
        self._clips = resolved["clips"]
        self._jobs = resolved["export_jobs"]
        self._videos = resolved["working_videos"]
        self._compiled: dict[tuple[str, bool, bool], _Compiled] = {}

    @classmethod
    def open(cls, raw_url: str, mapping: Mapping) -> "Source":
        """The source, with every table and required column checked; `CannotRun` names what is
        missing, or why the source does not answer."""
        engine = open_engine(raw_url)
        try:
            with engine.connect() as conn:
                resolved = {mapped.spec.section: _resolve(conn, mapped) for mapped in mapping.tables}
        except CannotRun:
            engine.dispose()
            raise
        except DBAPIError as exc:
            engine.dispose()
            raise CannotRun(f"the source does not answer: {first_line(exc)}") from None
        return cls(engine, mapping, resolved)

    def close(self) -> None:
        self.engine.dispose()

    def count(self) -> int:
        with self.engine.connect() as conn:
            total = conn.execute(select(func.count()).select_from(self._projects.table)).scalar_one()
        return int(total)

    def batches(self, size: int) -> Iterator[RawBatch]:
        """Every project, `size` at a time, in the order of their id. The statements, each built
        and compiled once, run on the driver's own cursor: its rows are plain tuples."""
        after: Any = None
        started = False
        sqlite = self.engine.dialect.name == "sqlite"
        while True:
            conn = self.engine.raw_connection()
            try:
                cursor = conn.cursor()
                if sqlite:
                    cursor.execute("BEGIN")
                params: dict[str, Any] = {"after": after, "size": size}
                projects = self._run(cursor, "page", params, after=started, last=False)
                tail = len(projects) < size
                params["last"] = None if tail else projects[-1][0]
                clips = self._run(cursor, "clips", params, after=started, last=not tail)
                jobs = self._run(cursor, "export_jobs", params, after=started, last=not tail)
                videos = self._run(cursor, "working_videos", params, after=started, last=not tail)
            finally:
                conn.rollback()
                conn.close()
            yield RawBatch(projects, clips, jobs, videos)
            if tail:
                return
            started, after = True, params["last"]

    def _run(self, cursor: Any, what: str, params: dict[str, Any], *, after: bool, last: bool) -> list[Any]:
        key = (what, after, last)
        if (compiled := self._compiled.get(key)) is None:
            compiled = self._compiled[key] = _Compiled(
                self._statement(what, after=after, last=last), self.engine
            )
        cursor.execute(compiled.sql, compiled.parameters(params))
        rows: list[Any] = cursor.fetchall()
        return rows

    def _statement(self, what: str, *, after: bool, last: bool) -> ClauseElement:
        if what == "page":
            projects = self._projects
            page = select(*projects.selected(self.mapping.projects.spec.keys))
            page = page.order_by(projects.columns["id"]).limit(bindparam("size"))
            return page.where(projects.columns["id"] > bindparam("after")) if after else page
        if what == "working_videos":
            return self._current_videos(after=after, last=last)
        resolved = self._clips if what == "clips" else self._jobs
        keys = (self.mapping.clips if what == "clips" else self.mapping.jobs).spec.keys
        project_id = resolved.columns["project_id"]
        query = select(*resolved.selected(keys))
        bounds = _bounds(project_id, after=after, last=last)
        if last:
            return query.where(and_(*bounds))
        return query.where(or_(*bounds, project_id.is_(None))) if bounds else query

    def _current_videos(self, *, after: bool, last: bool) -> ClauseElement:
        """The videos the batch's projects point at: two joins on the video table's key."""
        keys = self.mapping.videos.spec.keys
        projects = self._projects.columns
        halves = []
        for pointer in ("working_video_id", "final_video_id"):
            joined = self._projects.table.join(
                self._videos.table, self._videos.columns["id"] == projects[pointer]
            )
            half = select(*self._videos.selected(keys)).select_from(joined)
            bounds = _bounds(projects["id"], after=after, last=last)
            halves.append(half.where(and_(*bounds)) if bounds else half)
        return union_all(*halves)


def _bounds(column: ColumnElement[Any], *, after: bool, last: bool) -> list[ColumnElement[bool]]:
    """(after, last] of a batch's project ids; without `last`, every one past `after`."""
    bounds = []
    if after:
        bounds.append(column > bindparam("after"))
    if last:
        bounds.append(column <= bindparam("last"))
    return bounds


class _Compiled:
    """A statement as the driver takes it, and its parameters in the driver's style."""

    def __init__(self, statement: ClauseElement, engine: Engine) -> None:
        compiled = cast(SQLCompiler, statement.compile(dialect=engine.dialect))
        self.sql: str = compiled.string
        self.defaults = dict(compiled.params)
        self.order: Sequence[str] | None = compiled.positiontup if compiled.positional else None

    def parameters(self, given: dict[str, Any]) -> Any:
        values = {**self.defaults, **given}
        if self.order is None:
            return values
        return [values[name] for name in self.order]
