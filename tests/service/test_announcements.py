"""What one process's announcer sends to the others: every change, in order, in as few
notifications as fit under PostgreSQL's 8,000-byte cap on a payload."""

import msgspec

from service.live.announcements import Announced, decode, payloads


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
