"""The legacy database on each engine the import reads (SQLite, PostgreSQL, MariaDB), and the proof
that it is only ever read: a SQLite file's bytes are unchanged, and a server is read in read-only
transactions that refuse any write."""

from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from service.legacy.source import open_engine
from tests.legacy.run import import_legacy
from tests.legacy.run_checks import rows
from tests.legacy.scenes import EXPECTED, cut_over_app
from tests.legacy_db import TABLES, sqlite_legacy, write
from tests.servers import running_server


@pytest.fixture(params=["postgresql", "mariadb"])
def server_source(request: pytest.FixtureRequest) -> str:
    """A new, empty legacy database on a server, by the URL a user would give."""
    if request.param == "postgresql":
        url: str = request.getfixturevalue("postgres_url")
        return url.replace("postgresql+asyncpg://", "postgresql://")
    mariadb: str = request.getfixturevalue("mariadb_url")
    return mariadb


def _legacy_rows(source: str) -> dict[str, list[tuple[object, ...]]]:
    return {table: sorted(rows(source, f"SELECT * FROM {table}"), key=repr) for table in TABLES}


def test_a_server_source_is_imported_like_a_sqlite_one_and_left_as_it_was(
    server_source: str, fresh_url: str, tmp_path: Path
) -> None:
    write(server_source, cut_over_app())
    before = _legacy_rows(server_source)
    run = import_legacy(server_source, "--apply", database_url=fresh_url, report=tmp_path / "r.jsonl")
    assert run.code == 0, run.stderr
    assert [(line["id"], line["legacy_status"], line["status"], line["agrees"]) for line in run.report] == [
        (project_id, *expected) for project_id, expected in EXPECTED.items()
    ]
    assert set(run.outcomes().values()) == {"imported"}
    assert _legacy_rows(server_source) == before
    with running_server(fresh_url) as base_url, httpx.Client(base_url=base_url) as client:
        card = client.get("/v1/projects/1").json()
        assert (card["status"], card["created_at"], card["working_video"]["version"]) == (
            "exporting_framing",
            "2024-03-01T09:30:00Z",
            2,
        )
        clips = client.get("/v1/projects/1/clips").json()
        assert [clip["crop_data"] for clip in clips] == [{"keyframes": [{"t": 0, "x": 0.4}]}, None]
    again = import_legacy(server_source, "--apply", database_url=fresh_url, report=tmp_path / "r.jsonl")
    assert set(again.outcomes().values()) == {"unchanged"}


def test_a_server_source_is_read_in_read_only_transactions(server_source: str) -> None:
    write(server_source, cut_over_app())
    engine = open_engine(server_source)
    try:
        with engine.connect() as conn, conn.begin():
            assert conn.execute(text("SELECT count(*) FROM projects")).scalar_one() == 7
            with pytest.raises(DBAPIError, match=r"(?i)read.only"):
                conn.execute(text("INSERT INTO projects (id, status) VALUES (99, 'new')"))
    finally:
        engine.dispose()
    assert rows(server_source, "SELECT count(*) FROM projects") == [(7,)]


def test_a_sqlite_source_is_opened_read_only_and_its_bytes_never_change(
    fresh_url: str, tmp_path: Path
) -> None:
    source = sqlite_legacy(tmp_path, cut_over_app())
    before = (tmp_path / "legacy.db").read_bytes()
    engine = open_engine(source)
    try:
        with engine.connect() as conn, conn.begin(), pytest.raises(DBAPIError, match="readonly"):
            conn.execute(text("UPDATE projects SET status = 'done'"))
    finally:
        engine.dispose()
    for _ in range(2):
        assert import_legacy(source, "--apply", database_url=fresh_url, report=tmp_path / "r.jsonl").code == 0
    assert (tmp_path / "legacy.db").read_bytes() == before
    assert not list(tmp_path.glob("legacy.db-*"))
