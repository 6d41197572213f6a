"""What one process's announcer sends to the others: every change, in order, in as few
notifications as fit under PostgreSQL's 8,000-byte cap on a payload; of changes that waited for it,
each project's newest."""

import asyncio

import asyncpg
import msgspec
import pytest
from sqlalchemy.engine import make_url

from service.live.announcements import CHANNEL, Announced, decode, payloads
from service.live.hub import Events
from service.settings import Settings


def test_many_changes_go_in_few_notifications_each_under_the_cap_and_arrive_whole() -> None:
    changes: list[Announced] = [
        (f"{i:032x}", i if i % 7 else None, None if i % 3 else "o" * 64) for i in range(1000)
    ]
    sent = payloads("origin-1", changes)
    assert 1 < len(sent) < 30
    assert all(len(p.encode()) < 8000 for p in sent)
    arrived: list[Announced] = []
    for payload in sent:
        origin, batch = decode(payload)
        assert origin == "origin-1"
        arrived.extend(batch)
    assert arrived == changes


def test_one_change_is_one_notification() -> None:
    sent = payloads("o", [("a" * 32, 3, None)])
    assert [msgspec.json.decode(p) for p in sent] == [["o", [["a" * 32, 3, None]]]]
    assert payloads("o", []) == []


async def _no_card(_project_id: str) -> None:
    return None


@pytest.mark.anyio
async def test_changes_that_waited_for_the_announcer_go_as_each_project_s_newest(postgres_url: str) -> None:
    """Committed before the process could announce (its LISTEN connection not up yet): what goes
    out is each project's newest change, in one notification, then the goodbye when it stops."""
    heard: asyncio.Queue[str] = asyncio.Queue()
    other = await asyncpg.connect(make_url(postgres_url).set(drivername="postgresql").render_as_string(False))
    await other.add_listener(CHANNEL, lambda _conn, _pid, _channel, payload: heard.put_nowait(payload))
    events = Events(Settings(database_url=postgres_url), _no_card)
    try:
        for project, version in [("a", 1), ("a", 2), ("b", 1), ("a", 3), ("b", None)]:
            events.committed(project * 32, version, None)
        await events.start()
        async with asyncio.timeout(10):
            origin, changes = decode(await heard.get())
            assert changes == [("a" * 32, 3, None), ("b" * 32, None, None)]
            await events.stop()
            assert decode(await heard.get()) == (origin, [])
    finally:
        await events.stop()
        await other.close()
