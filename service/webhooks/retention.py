"""Pruning the outbox: delivered, failed and skipped deliveries, and events none of whose
deliveries is left, are deleted once older than `FRAMESTATE_WEBHOOK_RETENTION_S`, so the outbox does
not grow with time; pending ones never are. Deliveries of a disabled endpoint that outlive their
max age are marked failed here, since no attempt comes to do it.

Every process runs the pass every few seconds; on PostgreSQL an advisory lock, tried and not waited
for, lets one of them do it at a time. Each statement deletes a bounded batch, so a pass never holds
locks long nor makes one large transaction while reports flow.
"""

import asyncio
import logging
from datetime import datetime, timedelta

from sqlalchemy import Table, and_, delete, exists, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from service.context import Context
from service.store.faults import log_failure
from service.store.tables import utcnow
from service.webhooks.tables import DeliveryStatus, WebhookDelivery, WebhookEndpoint, WebhookEvent

INTERVAL_S = 5.0
"""A pass this often: anything past its retention goes within twice this."""
BATCH = 5000
LOCK = 0x66727274  # "frrt"
FINISHED = (DeliveryStatus.DELIVERED.value, DeliveryStatus.FAILED.value, DeliveryStatus.SKIPPED.value)
DELIVERY: Table = WebhookDelivery.__table__  # type: ignore[attr-defined]
EVENT: Table = WebhookEvent.__table__  # type: ignore[attr-defined]
ENDPOINT: Table = WebhookEndpoint.__table__  # type: ignore[attr-defined]
log = logging.getLogger("framestate")


async def _expire_waiting(conn: AsyncConnection, now: datetime) -> None:
    disabled = select(ENDPOINT.c.id).where(~ENDPOINT.c.enabled)
    await conn.execute(
        update(DELIVERY)
        .where(
            DELIVERY.c.status == DeliveryStatus.PENDING.value,
            DELIVERY.c.expires_at < now,
            DELIVERY.c.endpoint_id.in_(disabled),
        )
        .values(status=DeliveryStatus.FAILED.value, next_attempt_at=None, last_error="expired while disabled")
    )


async def prune(conn: AsyncConnection, *, now: datetime, retention_s: float) -> int:
    """One batch of each deletion; how many rows went."""
    cutoff = now - timedelta(seconds=retention_s)
    await _expire_waiting(conn, now)
    old_deliveries = (
        select(DELIVERY.c.seq)
        .where(DELIVERY.c.status.in_(FINISHED), DELIVERY.c.created_at < cutoff)
        .limit(BATCH)
    )
    gone = (await conn.execute(delete(DELIVERY).where(DELIVERY.c.seq.in_(old_deliveries)))).rowcount
    unused = exists().where(DELIVERY.c.event_id == EVENT.c.id)
    old_events = (
        select(EVENT.c.id).where(and_(EVENT.c.fanned_out, EVENT.c.created_at < cutoff, ~unused)).limit(BATCH)
    )
    gone += (await conn.execute(delete(EVENT).where(EVENT.c.id.in_(old_events)))).rowcount
    return int(gone)


async def prune_once(ctx: Context) -> int:
    total = 0
    while True:
        async with ctx.db.writing() as conn:
            if (
                not ctx.settings.is_sqlite
                and not (await conn.execute(select(func.pg_try_advisory_xact_lock(LOCK)))).scalar_one()
            ):
                return total
            gone = await prune(conn, now=utcnow(), retention_s=ctx.settings.webhook_retention_s)
        total += gone
        if gone < BATCH:
            return total


async def run(ctx: Context) -> None:
    while True:
        await asyncio.sleep(INTERVAL_S)
        try:
            await prune_once(ctx)
        except Exception as exc:  # the next pass tries again
            log_failure(log, "could not prune the webhook outbox", exc)
