"""Fan-out: the dispatcher makes the deliveries of new events, in batches, outside the transactions
of the changes that wrote them. An endpoint gets the events of changes made since it was created,
not those that were only waiting for their fan-out when it was.

Events are taken in the order of their project's `version` and their `position` in the change,
which is the order in which they were committed, and their deliveries are inserted in that order,
so a delivery's `seq` orders the deliveries of one endpoint and project. One fan-out runs at a time
(on PostgreSQL under an advisory lock held to its COMMIT; SQLite has one process), so no two
processes interleave the deliveries of one project.

`export.progress` is a state, not a log. Per job and endpoint at most one progress delivery waits:
a newer report's event takes the place of the waiting one's (same delivery, newest figures) as
long as nothing else of the project waits behind it for that endpoint; otherwise the waiting one is
skipped and the newest goes behind the rest, so the receiver still sees the project in order. A
new progress delivery is not due before the last attempt at the job's progress plus the progress
interval. When a job's end event is fanned out, its waiting progress deliveries are skipped first,
so a receiver never sees a job's progress after its end, nor a figure lower than one before.
"""

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Table, bindparam, delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from service.schemas import as_utc
from service.settings import Settings
from service.store.tables import new_id
from service.webhooks.schemas import EventType
from service.webhooks.tables import (
    DeliveryStatus,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
    WebhookSubscription,
)

BATCH = 500
LOCK = 0x66726E6F  # "frno": the advisory lock that keeps fan-outs one at a time on PostgreSQL
PROGRESS = EventType.EXPORT_PROGRESS.value
ENDS = frozenset(
    t.value
    for t in (
        EventType.EXPORT_SUCCEEDED,
        EventType.EXPORT_FAILED,
        EventType.EXPORT_CANCELLED,
        EventType.EXPORT_TIMED_OUT,
        EventType.EXPORT_SUPERSEDED,
    )
)
EVENT: Table = WebhookEvent.__table__  # type: ignore[attr-defined]
DELIVERY: Table = WebhookDelivery.__table__  # type: ignore[attr-defined]
ENDPOINT: Table = WebhookEndpoint.__table__  # type: ignore[attr-defined]
SUBSCRIPTION: Table = WebhookSubscription.__table__  # type: ignore[attr-defined]

UNFANNED = (
    select(EVENT.c.id, EVENT.c.type, EVENT.c.project_id, EVENT.c.owner, EVENT.c.job_id, EVENT.c.created_at)
    .where(~EVENT.c.fanned_out)
    .order_by(EVENT.c.project_id, EVENT.c.version, EVENT.c.position)
    .limit(BATCH)
)
ANY_UNFANNED = select(EVENT.c.id).where(~EVENT.c.fanned_out).limit(1).exists()
INSERT_DELIVERY = insert(DELIVERY)
REPLACE_EVENT = (
    update(DELIVERY).where(DELIVERY.c.seq == bindparam("b_seq")).values(event_id=bindparam("b_event"))
)
MARK_FANNED = update(EVENT).where(EVENT.c.id.in_(bindparam("ids", expanding=True))).values(fanned_out=True)
DROP_EVENTS = delete(EVENT).where(EVENT.c.id.in_(bindparam("ids", expanding=True)))


@dataclass(slots=True)
class _Waiting:
    """A delivery waiting for its endpoint: in the database (`seq`) or made by this batch (`row`)."""

    seq: int | None = None
    row: dict[str, Any] | None = None
    leased: bool = False


@dataclass(slots=True)
class FanOut:
    """What one fan-out did: deliveries made, and progress deliveries skipped."""

    made: int = 0
    skipped: int = 0
    events: int = 0


@dataclass(slots=True)
class _Batch:
    settings: Settings
    now: datetime
    rows: list[dict[str, Any]] = field(default_factory=list)
    replaced: dict[int, str] = field(default_factory=dict)
    skipped: set[int] = field(default_factory=set)
    progress: dict[tuple[str, str], _Waiting] = field(default_factory=dict)
    """The waiting progress delivery of each (endpoint, job)."""
    last: dict[tuple[str, str], _Waiting] = field(default_factory=dict)
    """The last waiting delivery of each (endpoint, project)."""
    attempted: dict[tuple[str, str], datetime] = field(default_factory=dict)
    """When the progress of each (endpoint, job) was last attempted."""
    used: set[str] = field(default_factory=set)

    def deliver(self, event: Any, endpoint_id: str) -> None:
        key = (endpoint_id, event.project_id)
        if event.type == PROGRESS:
            self._progress(event, endpoint_id)
            return
        if event.type in ENDS:
            self._drop_progress(endpoint_id, event.job_id)
        self.last[key] = self._new(event, endpoint_id, self.now)

    def _progress(self, event: Any, endpoint_id: str) -> None:
        key, slot = (endpoint_id, event.job_id), self.progress.get((endpoint_id, event.job_id))
        if slot is not None and not slot.leased and self.last.get((endpoint_id, event.project_id)) is slot:
            if slot.row is not None:
                slot.row["event_id"] = event.id
            elif slot.seq is not None:
                self.replaced[slot.seq] = event.id
            self.used.add(event.id)
            return
        self._drop_progress(endpoint_id, event.job_id)
        interval = timedelta(seconds=self.settings.webhook_progress_interval_s)
        last_attempt = self.attempted.get(key)
        due = max(self.now, last_attempt + interval) if last_attempt else self.now
        self.progress[key] = self.last[(endpoint_id, event.project_id)] = self._new(event, endpoint_id, due)

    def _drop_progress(self, endpoint_id: str, job_id: str | None) -> None:
        slot = self.progress.get((endpoint_id, job_id or ""))
        if slot is None or slot.leased:
            return
        del self.progress[(endpoint_id, job_id or "")]
        if slot.row is not None:
            self.rows.remove(slot.row)
        elif slot.seq is not None:
            self.skipped.add(slot.seq)
            self.replaced.pop(slot.seq, None)

    def _new(self, event: Any, endpoint_id: str, due: datetime) -> _Waiting:
        created = as_utc(event.created_at)
        row = {
            "id": new_id(),
            "endpoint_id": endpoint_id,
            "event_id": event.id,
            "project_id": event.project_id,
            "type": event.type,
            "job_id": event.job_id if event.type == PROGRESS else None,
            "status": DeliveryStatus.PENDING.value,
            "attempts": 0,
            "next_attempt_at": due,
            "expires_at": created + timedelta(seconds=self.settings.webhook_max_age_s),
            "created_at": created,
        }
        self.rows.append(row)
        self.used.add(event.id)
        return _Waiting(row=row)


async def _subscribers(
    conn: AsyncConnection, types: set[str]
) -> dict[str, list[tuple[str, str | None, datetime]]]:
    """The endpoints subscribed to each type, with their owner and when they were made."""
    query = (
        select(SUBSCRIPTION.c.event_type, ENDPOINT.c.id, ENDPOINT.c.owner, ENDPOINT.c.created_at)
        .join(ENDPOINT, ENDPOINT.c.id == SUBSCRIPTION.c.endpoint_id)
        .where(SUBSCRIPTION.c.event_type.in_(types))
        .order_by(ENDPOINT.c.id)
    )
    found: dict[str, list[tuple[str, str | None, datetime]]] = defaultdict(list)
    for event_type, endpoint_id, owner, created_at in (await conn.execute(query)).all():
        found[event_type].append((endpoint_id, owner, as_utc(created_at)))
    return found


async def _load_waiting(conn: AsyncConnection, batch: _Batch, events: Sequence[Any], postgres: bool) -> None:
    """What of the progress of these events' jobs waits or was attempted already, and the last
    waiting delivery of their projects. The waiting progress rows are locked on PostgreSQL, so that
    no other process's claim takes one while this batch replaces or skips it."""
    jobs = {e.job_id for e in events if e.job_id and (e.type == PROGRESS or e.type in ENDS)}
    if not jobs:
        return
    projects = {e.project_id for e in events if e.job_id in jobs}
    waiting = select(DELIVERY.c.seq, DELIVERY.c.endpoint_id, DELIVERY.c.job_id, DELIVERY.c.lease_until).where(
        DELIVERY.c.job_id.in_(jobs),
        DELIVERY.c.status == DeliveryStatus.PENDING.value,
    )
    if postgres:
        waiting = waiting.with_for_update()
    now = batch.now
    for seq, endpoint_id, job_id, lease_until in (await conn.execute(waiting)).all():
        leased = lease_until is not None and as_utc(lease_until) >= now
        batch.progress[(endpoint_id, job_id)] = _Waiting(seq=seq, leased=leased)
    attempted = (
        select(DELIVERY.c.endpoint_id, DELIVERY.c.job_id, func.max(DELIVERY.c.attempted_at))
        .where(DELIVERY.c.job_id.in_(jobs))
        .group_by(DELIVERY.c.endpoint_id, DELIVERY.c.job_id)
    )
    for endpoint_id, job_id, at in (await conn.execute(attempted)).all():
        if at is not None:
            batch.attempted[(endpoint_id, job_id)] = as_utc(at)
    by_seq = {slot.seq: slot for slot in batch.progress.values()}
    last = (
        select(DELIVERY.c.endpoint_id, DELIVERY.c.project_id, func.max(DELIVERY.c.seq))
        .where(DELIVERY.c.project_id.in_(projects), DELIVERY.c.status == DeliveryStatus.PENDING.value)
        .group_by(DELIVERY.c.endpoint_id, DELIVERY.c.project_id)
    )
    for endpoint_id, project_id, seq in (await conn.execute(last)).all():
        batch.last[(endpoint_id, project_id)] = by_seq.get(seq) or _Waiting(seq=seq)


async def fan_out(conn: AsyncConnection, *, settings: Settings, now: datetime) -> FanOut:
    """Make the deliveries of a batch of events not fanned out yet, in the caller's transaction."""
    postgres = not settings.is_sqlite
    if postgres and not (await conn.execute(select(func.pg_try_advisory_xact_lock(LOCK)))).scalar_one():
        return FanOut()  # another process is fanning out; it takes these events too
    events = (await conn.execute(UNFANNED)).all()
    if not events:
        return FanOut()
    subscribers = await _subscribers(conn, {e.type for e in events})
    batch = _Batch(settings, now)
    await _load_waiting(conn, batch, events, postgres)
    for event in events:
        happened = as_utc(event.created_at)
        for endpoint_id, owner, since in subscribers.get(event.type, ()):
            if happened >= since and (not settings.auth_on or owner == event.owner):
                batch.deliver(event, endpoint_id)
    if batch.skipped:
        await conn.execute(
            update(DELIVERY)
            .where(DELIVERY.c.seq.in_(batch.skipped), DELIVERY.c.status == DeliveryStatus.PENDING.value)
            .values(status=DeliveryStatus.SKIPPED.value, next_attempt_at=None)
        )
    if batch.replaced:
        await conn.execute(REPLACE_EVENT, [{"b_seq": s, "b_event": e} for s, e in batch.replaced.items()])
    if batch.rows:
        await conn.execute(INSERT_DELIVERY, batch.rows)
    ids = [event.id for event in events]
    if fanned := [i for i in ids if i in batch.used]:
        await conn.execute(MARK_FANNED, {"ids": fanned})
    if unwanted := [i for i in ids if i not in batch.used]:
        await conn.execute(DROP_EVENTS, {"ids": unwanted})
    return FanOut(made=len(batch.rows), skipped=len(batch.skipped), events=len(events))
