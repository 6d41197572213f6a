"""Inserting many rows of one of framestate's tables at once, straight to the driver.

An import writes hundreds of thousands of rows. Through SQLAlchemy's own `executemany` each row's
parameters are built and each value goes through its column type's processing, which is most of
an import's time. Here the INSERT is compiled once for the database, and a row becomes a tuple in
the statement's order with only the values that need it converted as SQLAlchemy's types would:
times as SQLite stores them (UTC, `YYYY-MM-DD HH:MM:SS.ffffff`), JSON as text.
"""

import functools
import json
import operator
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Table, insert
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection


@functools.lru_cache(maxsize=8192)
def sqlite_time(value: datetime | None) -> str | None:
    """A time as SQLAlchemy's SQLite `DateTime` stores it (its storage format, the time in UTC)."""
    if value is None:
        return None
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.isoformat(" ", "microseconds")


def json_text(value: Any) -> str | None:
    """JSON as text (text is taken to be JSON already); None stays SQL NULL."""
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value)


def _as_is(value: Any) -> Any:
    return value


class Bulk:
    """The INSERT of `table`'s columns (but an autoincrement key), compiled for `dialect`."""

    def __init__(self, table: Table, dialect: Dialect) -> None:
        columns = [c for c in table.columns if c is not table.autoincrement_column]
        compiled = insert(table).values({c.name: None for c in columns}).compile(dialect=dialect)
        self.sql = compiled.string
        order: Sequence[str] = compiled.positiontup or []
        if not compiled.positional or sorted(order) != sorted(c.name for c in columns):
            raise RuntimeError(
                f"{dialect.name}: not a positional driver, or the columns of {table.name} moved"
            )
        sqlite = dialect.name == "sqlite"
        kinds = {c.name: c.type for c in table.columns}

        def converter(name: str) -> Callable[[Any], Any]:
            if isinstance(kinds[name], DateTime):
                return sqlite_time if sqlite else _as_is
            if isinstance(kinds[name], JSON):
                return json_text
            return _as_is

        self._pick = operator.itemgetter(*order)
        self._convert = [
            (i, converter(name)) for i, name in enumerate(order) if converter(name) is not _as_is
        ]

    def tuples(self, rows: Sequence[dict[str, Any]]) -> list[tuple[Any, ...]]:
        out = []
        pick, convert = self._pick, self._convert
        for row in rows:
            values = list(pick(row))
            for index, fn in convert:
                values[index] = fn(values[index])
            out.append(tuple(values))
        return out

    async def run(self, conn: AsyncConnection, rows: Sequence[dict[str, Any]]) -> None:
        if rows:
            await conn.exec_driver_sql(self.sql, self.tuples(rows))
