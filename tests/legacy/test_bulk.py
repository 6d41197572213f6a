"""The import's rows go to the driver without SQLAlchemy's column types: on SQLite its times must be
stored exactly as those types store them, or a page cursor would compare them wrongly."""

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import DateTime
from sqlalchemy.dialects import sqlite

from service.legacy.bulk import json_text, sqlite_time


@pytest.mark.parametrize(
    "moment",
    [
        datetime(2024, 3, 1, 9, 30, tzinfo=UTC),
        datetime(2026, 12, 3, 19, 53, 47, 150952, tzinfo=UTC),
        datetime(1, 1, 1, tzinfo=UTC),
    ],
)
def test_sqlite_times_are_stored_as_sqlalchemy_stores_them(moment: datetime) -> None:
    dialect = sqlite.dialect()
    process = DateTime(timezone=True).dialect_impl(dialect).bind_processor(dialect)
    assert process is not None
    assert sqlite_time(moment) == process(moment)


def test_a_time_with_another_offset_is_stored_in_utc() -> None:
    moment = datetime(2024, 3, 1, 11, 30, tzinfo=timezone(timedelta(hours=2)))
    assert sqlite_time(moment) == "2024-03-01 09:30:00.000000"
    assert sqlite_time(None) is None


def test_json_is_text() -> None:
    assert json_text({"x": [1, None]}) == '{"x": [1, null]}'
    assert json_text('{"x": 1}') == '{"x": 1}'
    assert json_text(None) is None
