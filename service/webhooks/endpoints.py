"""Webhook endpoints and their delivery logs: create, read, delete, and redeliver. With auth on,
an endpoint belongs to the client that made it; another client's is as unknown as a missing one."""

from datetime import timedelta

from sqlalchemy import delete, func, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.context import Context
from service.cursors import cursors_for
from service.errors import LimitReached, NotFound
from service.limits import MAX_WEBHOOKS_PER_OWNER
from service.store.owners import owned_by, visible, visible_to
from service.store.tables import utcnow
from service.webhooks.schemas import DeliveryOut, DeliveryPage, WebhookCreate, WebhookCreated, WebhookOut
from service.webhooks.signing import new_secret
from service.webhooks.tables import DeliveryStatus, WebhookDelivery, WebhookEndpoint, WebhookSubscription
from service.webhooks.urls import TargetRule, check_url

DELIVERIES = "deliveries"


async def create_webhook(*, request: WebhookCreate, ctx: Context) -> WebhookCreated:
    await check_url(request.url, TargetRule.of(ctx.settings))
    events = list(dict.fromkeys(event.value for event in request.events))
    endpoint = WebhookEndpoint(url=request.url, events=events, secret=new_secret(), owner=ctx.owner)
    async with ctx.db.writing_session() as session:
        await _refuse_past_limit(session, ctx)
        session.add(endpoint)
        await session.flush()
        session.add_all(WebhookSubscription(endpoint_id=endpoint.id, event_type=event) for event in events)
    return WebhookCreated.of(endpoint)


async def _refuse_past_limit(session: AsyncSession, ctx: Context) -> None:
    """409 when the owner already has the most endpoints allowed. On PostgreSQL the owner's
    creations queue behind a lock held to COMMIT, so two at once cannot both take the last place;
    SQLite has one writer at a time anyway."""
    if not ctx.settings.is_sqlite:
        await session.exec(select(func.pg_advisory_xact_lock(func.hashtext(f"webhooks:{ctx.owner}"))))
    owned = select(func.count()).where(owned_by(col(WebhookEndpoint.owner), ctx.owner))
    if (await session.exec(owned)).one() >= MAX_WEBHOOKS_PER_OWNER:
        raise LimitReached(
            f"An owner may have at most {MAX_WEBHOOKS_PER_OWNER} webhooks; delete one first.",
            limit=MAX_WEBHOOKS_PER_OWNER,
        )


async def _visible_endpoint(session: AsyncSession, webhook_id: str, owner: str | None) -> WebhookEndpoint:
    endpoint = await session.get(WebhookEndpoint, webhook_id)
    if endpoint is None or not visible_to(endpoint.owner, owner):
        raise NotFound(f"No webhook with id {webhook_id!r}.")
    return endpoint


async def list_webhooks(*, ctx: Context) -> list[WebhookOut]:
    query = select(WebhookEndpoint).order_by(
        col(WebhookEndpoint.created_at).desc(), col(WebhookEndpoint.id).desc()
    )
    query = query.where(visible(col(WebhookEndpoint.owner), ctx.owner))
    async with ctx.db.read() as session:
        return [WebhookOut.of(endpoint) for endpoint in (await session.exec(query)).all()]


async def get_webhook(webhook_id: str, *, ctx: Context) -> WebhookOut:
    async with ctx.db.read() as session:
        return WebhookOut.of(await _visible_endpoint(session, webhook_id, ctx.owner))


async def delete_webhook(webhook_id: str, *, ctx: Context) -> None:
    async with ctx.db.writing_session() as session:
        endpoint = await _visible_endpoint(session, webhook_id, ctx.owner)
        await session.exec(delete(WebhookEndpoint).where(col(WebhookEndpoint.id) == endpoint.id))


async def list_deliveries(webhook_id: str, *, limit: int, cursor: str | None, ctx: Context) -> DeliveryPage:
    """Newest first."""
    query = select(WebhookDelivery).where(WebhookDelivery.endpoint_id == webhook_id)
    if cursor is not None:
        query = query.where(
            col(WebhookDelivery.seq) < cursors_for(ctx.settings).after_number(DELIVERIES, webhook_id, cursor)
        )
    query = query.order_by(col(WebhookDelivery.seq).desc()).limit(limit + 1)
    async with ctx.db.read() as session:
        await _visible_endpoint(session, webhook_id, ctx.owner)
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
    async with ctx.db.writing_session() as session:
        await _visible_endpoint(session, webhook_id, ctx.owner)
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
            .values(
                status=DeliveryStatus.PENDING.value,
                next_attempt_at=now,
                expires_at=now + timedelta(seconds=ctx.settings.webhook_max_age_s),
                delivered_at=None,
                lease_token=None,
            )
        )
        await session.refresh(found)
    ctx.webhook_wake.set()
    return DeliveryOut.of(found)
