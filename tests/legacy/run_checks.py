"""What the import's tests look at in framestate's database from outside: which tables it has (a dry
run and a refused run make none), and the rows of a table."""

from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

from tests.legacy_db import sync_url


def framestate_tables(database_url: str) -> set[str]:
    """The tables of framestate's database; none where it does not even exist (SQLite)."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite" and not Path(url.database or "").exists():
        return set()
    engine = create_engine(sync_url(database_url))
    try:
        with engine.connect() as conn:
            return set(inspect(conn).get_table_names())
    finally:
        engine.dispose()


def rows(database_url: str, sql: str, **params: Any) -> list[tuple[Any, ...]]:
    engine = create_engine(sync_url(database_url))
    try:
        with engine.connect() as conn:
            return [tuple(row) for row in conn.execute(text(sql), params)]
    finally:
        engine.dispose()
