"""What the processes serving one PostgreSQL database tell each other: the channel, the payload
of an announcement (the sender's origin and its committed changes, as few notifications as fit
under PostgreSQL's cap), the goodbye of a process that stops, and how a process finds the others'
LISTEN connections."""

import msgspec
from sqlalchemy import text

CHANNEL = "framestate"
NOTIFY = text("SELECT pg_notify(:channel, :payload)")
ANNOUNCE_EVERY_S = 0.01
"""At most one announcement a process per this many seconds: a lone change goes at once, a stream
of them in batches (at 500 writes a second, five changes a notification instead of one or two),
so the notifications' cost to PostgreSQL and to every listening process stays flat with the rate."""
PAYLOAD_BYTES = 7000
"""Below PostgreSQL's 8,000-byte cap on a notification's payload, with room for one more entry."""
LISTEN_NAME = "framestate-listen"
"""The LISTEN connection's `application_name`, to find it in `pg_stat_activity`."""
PEER_CHECK_S = 1.0
PEERS = "SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND datname = current_database()"
Announced = tuple[str, int | None, str | None]
"""A committed change: the project id, its version (None: deleted) and its owner."""


def payloads(origin: str, changes: list[Announced]) -> list[str]:
    """The `pg_notify` payloads that announce `changes`, as few as fit under PostgreSQL's cap:
    each a JSON array of the sender's `origin` and its changes."""
    out: list[str] = []
    batch: list[Announced] = []
    size = 0
    for change in changes:
        batch.append(change)
        size += len(msgspec.json.encode(change))
        if size >= PAYLOAD_BYTES:
            out.append(msgspec.json.encode([origin, batch]).decode())
            batch, size = [], 0
    if batch:
        out.append(msgspec.json.encode([origin, batch]).decode())
    return out


def goodbye(origin: str) -> str:
    """The last notification of a process that stops: no changes."""
    return msgspec.json.encode([origin, []]).decode()


_PAYLOAD = msgspec.json.Decoder(tuple[str, list[tuple[str, int | None, str | None]]])


def decode(payload: str) -> tuple[str, list[Announced]]:
    """The sender's origin and its changes; `msgspec.DecodeError` for what framestate did not send."""
    origin, changes = _PAYLOAD.decode(payload)
    return origin, [tuple(change) for change in changes]  # type: ignore[misc]
