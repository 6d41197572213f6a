"""A webhook's deliveries: its log, sending one again, sending again what failed since a moment, and
a test event while a receiver is being set up."""

from datetime import datetime, timedelta

import msgspec
from sqlalchemy import insert, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.context import Context
from service.cursors import cursors_for
from service.errors import NotFound, ValidationFailed
from service.store.tables import new_id, utcnow
from service.webhooks.endpoints import retrying, visible_endpoint
from service.webhooks.schemas import TEST_EVENT, DeliveryOut, DeliveryPage, Recovered, SentTestEvent
from service.webhooks.tables import DeliveryStatus, WebhookDelivery, WebhookEvent

DELIVERIES = "deliveries"


def _again(now: datetime, max_age_s: float) -> dict[str, object]:
    """The values that make a delivery pending again, due now, with a max age from now on."""
    return {
        "status": DeliveryStatus.PENDING.value,
        "next_attempt_at": now,
        "expires_at": now + timedelta(seconds=max_age_s),
        "delivered_at": None,
        "lease_token": None,
    }


async def list_deliveries(webhook_id: str, *, limit: int, cursor: str | None, ctx: Context) -> DeliveryPage:
    """Newest first."""
    query = select(WebhookDelivery).where(WebhookDelivery.endpoint_id == webhook_id)
    if cursor is not None:
        query = query.where(
            col(WebhookDelivery.seq) < cursors_for(ctx.settings).after_number(DELIVERIES, webhook_id, cursor)
        )
    query = query.order_by(col(WebhookDelivery.seq).desc()).limit(limit + 1)
    async with ctx.db.read() as session:
        await visible_endpoint(session, webhook_id, ctx.owner)
        rows = list((await session.exec(query)).all())
    page = rows[:limit]
    next_cursor = None
    if len(rows) > limit:
        next_cursor = cursors_for(ctx.settings).encode(DELIVERIES, webhook_id, page[-1].seq or 0)
    return DeliveryPage(items=[DeliveryOut.of(row) for row in page], next_cursor=next_cursor)


async def redeliver(webhook_id: str, delivery_id: str, *, ctx: Context) -> DeliveryOut:
    """Send a delivery again now, whatever its status, retried as a new one would be (for the max
    age from now on), and still after any earlier pending event of its project. An attempt in
    flight keeps its lease, but its outcome is no longer recorded: the delivery is attempted again
    once that lease ends."""
    now = utcnow()

    async def work(session: AsyncSession) -> WebhookDelivery:
        await visible_endpoint(session, webhook_id, ctx.owner)
        found = (
            await session.exec(
                select(WebhookDelivery).where(
                    WebhookDelivery.id == delivery_id, WebhookDelivery.endpoint_id == webhook_id
                )
            )
        ).one_or_none()
        if found is None:
            raise NotFound(f"No delivery with id {delivery_id!r} for webhook {webhook_id!r}.")
        await session.exec(
            update(WebhookDelivery)
            .where(col(WebhookDelivery.seq) == found.seq)
            .values(**_again(now, ctx.settings.webhook_max_age_s))
        )
        await session.refresh(found)
        return found

    found = await retrying(ctx, work)
    ctx.webhook_wake.set()
    return DeliveryOut.of(found)


async def recover(webhook_id: str, *, since: datetime, ctx: Context) -> Recovered:
    """Send again every failed delivery of the endpoint made since `since` (after an outage)."""
    now = utcnow()
    if since > now:
        raise ValidationFailed("since lies in the future: recover sends again what failed before now.")

    async def work(session: AsyncSession) -> int:
        await visible_endpoint(session, webhook_id, ctx.owner)
        result = await session.exec(
            update(WebhookDelivery)
            .where(
                col(WebhookDelivery.endpoint_id) == webhook_id,
                col(WebhookDelivery.status) == DeliveryStatus.FAILED.value,
                col(WebhookDelivery.created_at) >= since,
            )
            .values(**_again(now, ctx.settings.webhook_max_age_s))
        )
        return int(result.rowcount)

    recovered = await retrying(ctx, work)
    ctx.webhook_wake.set()
    return Recovered(recovered)


async def send_test(webhook_id: str, *, ctx: Context) -> SentTestEvent:
    """A `webhook.test` event (data `{}`) to this endpoint alone, whatever it subscribed to. Test
    events queue among themselves (their `project_id` is the endpoint's id), not behind projects."""
    now, event_id, delivery_id = utcnow(), new_id(), new_id()
    body = msgspec.json.encode({"id": event_id, "type": TEST_EVENT, "timestamp": now, "data": {}}).decode()

    async def work(session: AsyncSession) -> None:
        endpoint = await visible_endpoint(session, webhook_id, ctx.owner)
        await session.exec(
            insert(WebhookEvent).values(
                id=event_id,
                type=TEST_EVENT,
                project_id=endpoint.id,
                owner=endpoint.owner,
                body=body,
                created_at=now,
                fanned_out=True,
            )
        )
        await session.exec(
            insert(WebhookDelivery).values(
                id=delivery_id,
                endpoint_id=endpoint.id,
                event_id=event_id,
                project_id=endpoint.id,
                type=TEST_EVENT,
                status=DeliveryStatus.PENDING.value,
                attempts=0,
                next_attempt_at=now,
                expires_at=now + timedelta(seconds=ctx.settings.webhook_max_age_s),
                created_at=now,
            )
        )

    await retrying(ctx, work)
    ctx.webhook_wake.set()
    return SentTestEvent(delivery_id)
