"""Webhook endpoints: create, read, change (its URL, its events, enabled or not), rotate its secret,
delete. With auth on, an endpoint belongs to the client that made it; another client's is as
unknown as a missing one. Writes that a dispatcher's turn may run into (both lock an endpoint and
its deliveries) are run again when the database reports a deadlock."""

import asyncio
import random
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TypeVar

from sqlalchemy import delete, func, update
from sqlalchemy.exc import DBAPIError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.context import Context
from service.errors import LimitReached, NotFound, ValidationFailed
from service.limits import MAX_WEBHOOKS_PER_OWNER
from service.store.faults import is_retryable
from service.store.owners import owned_by, visible, visible_to
from service.store.tables import utcnow
from service.webhooks.schemas import (
    EventType,
    SecretOut,
    WebhookCreate,
    WebhookCreated,
    WebhookOut,
    WebhookPatch,
)
from service.webhooks.signing import new_secret
from service.webhooks.tables import DeliveryStatus, WebhookDelivery, WebhookEndpoint, WebhookSubscription
from service.webhooks.urls import TargetRule, check_url

DISABLED_BY_OWNER = "Disabled by its owner."


T = TypeVar("T")
ATTEMPTS = 5


async def retrying(ctx: Context, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run `work` in a write transaction, again when it ran into a deadlock or a busy database."""
    for attempt in range(ATTEMPTS):
        try:
            async with ctx.db.writing_session() as session:
                return await work(session)
        except DBAPIError as exc:
            if not is_retryable(exc) or attempt == ATTEMPTS - 1:
                raise
        await asyncio.sleep(random.uniform(0, 0.01 * (attempt + 1)))
    raise AssertionError("unreachable")


def _event_types(events: list[EventType]) -> list[str]:
    return list(dict.fromkeys(event.value for event in events))


async def create_webhook(*, request: WebhookCreate, ctx: Context) -> WebhookCreated:
    await check_url(request.url, TargetRule.of(ctx.settings))
    events = _event_types(request.events)
    endpoint = WebhookEndpoint(url=request.url, events=events, secret=new_secret(), owner=ctx.owner)

    async def work(session: AsyncSession) -> None:
        await _refuse_past_limit(session, ctx)
        session.add(endpoint)
        await session.flush()
        session.add_all(WebhookSubscription(endpoint_id=endpoint.id, event_type=event) for event in events)

    await retrying(ctx, work)
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


async def visible_endpoint(session: AsyncSession, webhook_id: str, owner: str | None) -> WebhookEndpoint:
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
        return WebhookOut.of(await visible_endpoint(session, webhook_id, ctx.owner))


async def delete_webhook(webhook_id: str, *, ctx: Context) -> None:
    async def work(session: AsyncSession) -> None:
        endpoint = await visible_endpoint(session, webhook_id, ctx.owner)
        await session.exec(delete(WebhookEndpoint).where(col(WebhookEndpoint.id) == endpoint.id))

    await retrying(ctx, work)


async def change_webhook(webhook_id: str, *, change: WebhookPatch, ctx: Context) -> WebhookOut:
    """Its URL, its events, or whether it is enabled; enabling it sends what waits for it now."""
    if change.url is None and change.events is None and change.enabled is None:
        raise ValidationFailed("Nothing to change: send url, events or enabled.")
    if change.url is not None:
        await check_url(change.url, TargetRule.of(ctx.settings))
    now = utcnow()

    async def work(session: AsyncSession) -> WebhookEndpoint:
        endpoint = await visible_endpoint(session, webhook_id, ctx.owner)
        if change.url is not None:
            endpoint.url = change.url
        if change.events is not None:
            endpoint.events = _event_types(change.events)
            await session.exec(
                delete(WebhookSubscription).where(col(WebhookSubscription.endpoint_id) == endpoint.id)
            )
            session.add_all(
                WebhookSubscription(endpoint_id=endpoint.id, event_type=event) for event in endpoint.events
            )
        if change.enabled is True and not endpoint.enabled:
            endpoint.enabled, endpoint.disabled_reason, endpoint.failing_since = True, None, None
            await session.exec(
                update(WebhookDelivery)
                .where(
                    col(WebhookDelivery.endpoint_id) == endpoint.id,
                    col(WebhookDelivery.status) == DeliveryStatus.PENDING.value,
                )
                .values(next_attempt_at=now)
            )
        elif change.enabled is False and endpoint.enabled:
            endpoint.enabled, endpoint.disabled_reason = False, DISABLED_BY_OWNER
        session.add(endpoint)
        return endpoint

    endpoint = await retrying(ctx, work)
    ctx.webhook_wake.set()
    return WebhookOut.of(endpoint)


async def rotate_secret(webhook_id: str, *, ctx: Context) -> SecretOut:
    """A new secret; attempts are signed with the one it replaces too, for the overlap."""
    now, secret = utcnow(), new_secret()

    async def work(session: AsyncSession) -> None:
        endpoint = await visible_endpoint(session, webhook_id, ctx.owner)
        endpoint.old_secret, endpoint.secret = endpoint.secret, secret
        endpoint.old_secret_until = now + timedelta(seconds=ctx.settings.webhook_old_secret_ttl_s)
        session.add(endpoint)

    await retrying(ctx, work)
    return SecretOut(secret)
