"""The event hub of one process: a subscriber that does not read is cut off alone; a change that
cannot be loaded ends the streams that would show it."""

import asyncio
from functools import partial
from pathlib import Path

import pytest

from service.live.hub import Events
from service.operations.projects import find_project
from service.settings import Settings
from service.store.db import Database
from tests.api import Api

pytestmark = pytest.mark.anyio


async def test_a_slow_subscriber_costs_only_its_own_buffer(api: Api, settings: Settings) -> None:
    """On both databases a process's own changes reach its streams without a round trip."""
    db = Database.open(settings)
    events = Events(settings, partial(find_project, db=db), buffer=3)
    try:
        project = await api.create_project()
        slow = events.subscribe(None)
        reader = events.subscribe(project["id"])
        for expected_version in range(2, 10):
            await api.add_clip(project["id"])
            events.committed(project["id"], expected_version, None)
            assert [frame.version for frame in await reader.take()] == [expected_version]
        assert not reader.closed
        assert slow.closed
        assert [frame.version for frame in await slow.take()] == [2, 3, 4]
        assert await slow.take() == [], "the stream is told to end once it has read what it has"
        events.unsubscribe(slow)
        assert events.subscriber_count == 1
    finally:
        await events.stop()
        await db.close()


async def test_a_change_whose_card_cannot_be_loaded_ends_the_streams_that_would_show_it(
    settings: Settings, tmp_path: Path
) -> None:
    """The database fails the load of a changed project: the streams of every project and of that
    project end (their clients reconnect for a fresh snapshot); another project's stream goes on."""
    if not settings.is_sqlite:
        pytest.skip("runs once: its database is a SQLite file of its own")
    away = Settings(database_url=f"sqlite+aiosqlite:///{tmp_path}/no/such/folder/framestate.db")
    db = Database.open(away)
    events = Events(away, partial(find_project, db=db))
    try:
        everything, watching, elsewhere = (
            events.subscribe(None),
            events.subscribe("a" * 32),
            events.subscribe("b" * 32),
        )
        events.committed("a" * 32, 2, None)
        async with asyncio.timeout(10):
            assert await everything.take() == []
            assert await watching.take() == []
        assert not elsewhere.closed
    finally:
        await events.stop()
        await db.close()
