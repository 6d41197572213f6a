"""The event hub of one process: a subscriber that does not read is cut off alone."""

from functools import partial

import pytest

from service.db import Database
from service.events import Events
from service.projects import find_project
from service.settings import Settings
from tests.api import Api

pytestmark = pytest.mark.anyio


async def test_a_slow_subscriber_costs_only_its_own_buffer(api: Api, settings: Settings) -> None:
    if not settings.is_sqlite:
        pytest.skip("the hub's in-process path; on PostgreSQL changes arrive by LISTEN (see test_events)")
    db = Database.open(settings)
    events = Events(settings, partial(find_project, db=db), buffer=3)
    try:
        project = await api.create_project()
        slow = events.subscribe(None)
        reader = events.subscribe(project["id"])
        for expected_version in range(2, 10):
            await api.add_clip(project["id"])
            await events.committed(project["id"], expected_version, None)
            frame = await reader.queue.get()
            assert frame is not None
            assert frame.version == expected_version
        assert not reader.closed
        assert slow.closed
        assert slow.queue.qsize() <= 3
        drained = [slow.queue.get_nowait() for _ in range(slow.queue.qsize())]
        assert drained[-1] is None, "the stream is told to end once it has read what it has"
        events.unsubscribe(slow)
        assert events.subscriber_count == 1
    finally:
        await events.stop()
        await db.close()
