"""The dispatcher: a task in every server process that claims due deliveries, signs and sends them,
and records each attempt.

A claim sets a lease (`lease_until`, `lease_token`) on the rows it takes, in one transaction that
locks them with `FOR UPDATE SKIP LOCKED` on PostgreSQL (SQLite has one process and one writer), so
no two processes attempt one delivery at once; a process that dies mid-attempt leaves a lease that
runs out, and the delivery is attempted again. Only the first pending delivery of an endpoint and
project can be claimed, so a later event waits while an earlier one is pending. Attempts run
concurrently, at most `CONCURRENCY` at once, each bounded by the timeout, so one slow endpoint
holds one slot, never the others' deliveries.
"""

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
from sqlalchemy import ColumnElement, and_, exists, or_, update
from sqlalchemy.orm import aliased
from sqlmodel import col, select

from service import metrics
from service.context import Context
from service.errors import ValidationFailed
from service.schemas import as_utc
from service.tables import new_id, utcnow
from service.webhooks.signing import signed_headers
from service.webhooks.tables import (
    LAST_ERROR_MAX,
    DeliveryStatus,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)
from service.webhooks.urls import check_url

CONCURRENCY = 32
IDLE_POLL_S = 0.5
LEASE_MARGIN_S = 5.0
MAX_RETRY_WAIT_S = 3600.0
log = logging.getLogger("framestate")


@dataclass(frozen=True, slots=True)
class Claim:
    delivery_id: str
    lease_token: str
    attempts: int
    expires_at: datetime
    event_id: str
    body: str
    url: str
    secret: str


def retry_wait(attempts: int, base_s: float) -> float:
    """Full jitter: a random wait up to base × 2^n seconds after the n-th consecutive failure
    (n from 0), never over an hour."""
    return random.uniform(0, min(base_s * 2 ** min(attempts, 32), MAX_RETRY_WAIT_S))


def _is_due(now: datetime) -> ColumnElement[bool]:
    return and_(
        col(WebhookDelivery.status) == DeliveryStatus.PENDING.value,
        col(WebhookDelivery.next_attempt_at) <= now,
        or_(col(WebhookDelivery.lease_until).is_(None), col(WebhookDelivery.lease_until) < now),
    )


async def any_due(*, ctx: Context) -> bool:
    """One read, outside any write transaction: an idle dispatcher asks this twice a second, and on
    SQLite a claim's transaction would take the one write lock every time."""
    async with ctx.db.reading() as conn:
        found = await conn.scalar(exists().where(_is_due(utcnow())).select())
    return bool(found)


async def claim_due(limit: int, *, ctx: Context) -> list[Claim]:
    now = utcnow()
    delivery, earlier = WebhookDelivery, aliased(WebhookDelivery)
    waits_behind = exists().where(
        col(earlier.endpoint_id) == col(delivery.endpoint_id),
        col(earlier.project_id) == col(delivery.project_id),
        col(earlier.status) == DeliveryStatus.PENDING.value,
        col(earlier.seq) < col(delivery.seq),
    )
    due = (
        select(delivery.seq)
        .where(_is_due(now), ~waits_behind)
        .order_by(col(delivery.seq))
        .limit(limit)
        .with_for_update(skip_locked=True, of=delivery)
    )
    token = new_id()
    lease_until = now + timedelta(seconds=ctx.settings.webhook_timeout_s + LEASE_MARGIN_S)
    async with ctx.db.writing_session() as session:
        seqs = list((await session.exec(due)).all())
        if not seqs:
            return []
        await session.exec(
            update(WebhookDelivery)
            .where(col(WebhookDelivery.seq).in_(seqs))
            .values(lease_until=lease_until, lease_token=token)
        )
        rows = await session.exec(
            select(WebhookDelivery, WebhookEvent, WebhookEndpoint)
            .join(WebhookEvent, col(WebhookEvent.id) == col(WebhookDelivery.event_id))
            .join(WebhookEndpoint, col(WebhookEndpoint.id) == col(WebhookDelivery.endpoint_id))
            .where(col(WebhookDelivery.seq).in_(seqs))
            .order_by(col(WebhookDelivery.seq))
        )
        return [
            Claim(d.id, token, d.attempts, d.expires_at, e.id, e.body, endpoint.url, endpoint.secret)
            for d, e, endpoint in rows.all()
        ]


async def release_leases(*, ctx: Context) -> None:
    """On SQLite this process is the only one: a lease left in the database is a dead process's."""
    async with ctx.db.writing_session() as session:
        await session.exec(
            update(WebhookDelivery)
            .where(col(WebhookDelivery.lease_token).is_not(None))
            .values(lease_until=None, lease_token=None)
        )


async def record_attempt(claim: Claim, status_code: int | None, error: str | None, *, ctx: Context) -> str:
    """Write one attempt's outcome (`delivered`, `retried` or `failed`) on its delivery, unless the
    lease was lost meanwhile."""
    now = utcnow()
    attempts = claim.attempts + 1
    values: dict[str, object] = {
        "attempts": attempts,
        "last_status_code": status_code,
        "last_error": error[:LAST_ERROR_MAX] if error else None,
        "lease_until": None,
        "lease_token": None,
    }
    if error is None:
        outcome = "delivered"
        values.update(status=DeliveryStatus.DELIVERED.value, delivered_at=now, next_attempt_at=None)
    elif now >= as_utc(claim.expires_at):
        outcome = "failed"
        values.update(status=DeliveryStatus.FAILED.value, next_attempt_at=None)
    else:
        outcome = "retried"
        wait = retry_wait(claim.attempts, ctx.settings.webhook_retry_base_s)
        values.update(next_attempt_at=now + timedelta(seconds=wait))
    async with ctx.db.writing_session() as session:
        await session.exec(
            update(WebhookDelivery)
            .where(
                and_(
                    col(WebhookDelivery.id) == claim.delivery_id,
                    col(WebhookDelivery.lease_token) == claim.lease_token,
                )
            )
            .values(**values)
        )
    metrics.webhook_attempt(outcome)
    return outcome


class Dispatcher:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.timeout_s = ctx.settings.webhook_timeout_s
        self.client = httpx.AsyncClient(timeout=httpx.Timeout(self.timeout_s), follow_redirects=False)
        self.attempts: set[asyncio.Task[None]] = set()

    async def run(self) -> None:
        wake = self.ctx.webhooks.wake
        if self.ctx.settings.is_sqlite:
            try:
                await release_leases(ctx=self.ctx)
            except Exception:  # the database may not answer yet; the leases then run out by themselves
                log.exception("could not release the leases of webhook deliveries")
        while True:
            wake.clear()
            free = CONCURRENCY - len(self.attempts)
            claims: list[Claim] = []
            if free > 0:
                try:
                    if await any_due(ctx=self.ctx):
                        claims = await claim_due(free, ctx=self.ctx)
                except Exception:  # the dispatcher must outlive a database hiccup
                    log.exception("could not claim webhook deliveries; trying again")
            for claim in claims:
                task = asyncio.create_task(self.attempt(claim))
                self.attempts.add(task)
                task.add_done_callback(self._attempt_done)
            if claims and len(claims) == free:
                continue
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(IDLE_POLL_S):
                    await wake.wait()

    def _attempt_done(self, task: asyncio.Task[None]) -> None:
        self.attempts.discard(task)
        self.ctx.webhooks.wake.set()  # the next delivery of its endpoint and project may be due now

    async def attempt(self, claim: Claim) -> None:
        status_code, error = await self.send(claim)
        try:
            outcome = await record_attempt(claim, status_code, error, ctx=self.ctx)
        except Exception:  # the lease runs out and the delivery is attempted again
            log.exception("could not record the attempt of webhook delivery %s", claim.delivery_id)
            return
        log.info("webhook delivery %s to %s: %s (%s)", claim.delivery_id, claim.url, outcome, error or "ok")

    async def send(self, claim: Claim) -> tuple[int | None, str | None]:
        """The receiver's status code, and what went wrong (None: delivered)."""
        if not self.ctx.settings.webhook_allow_private:
            try:  # the name may resolve elsewhere now than when the webhook was made
                await check_url(claim.url, allow_private=False)
            except ValidationFailed as refused:
                return None, refused.detail
        headers = signed_headers(claim.secret, claim.event_id, int(time.time()), claim.body)
        try:
            async with (
                asyncio.timeout(self.timeout_s),
                self.client.stream("POST", claim.url, content=claim.body.encode(), headers=headers) as answer,
            ):
                status_code = answer.status_code
        except TimeoutError:
            return None, f"no answer within {self.timeout_s:g} s"
        except httpx.HTTPError as exc:
            return None, f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        if 200 <= status_code < 300:
            return status_code, None
        return status_code, f"answered {status_code}"

    async def close(self) -> None:
        for task in list(self.attempts):
            task.cancel()
        await asyncio.gather(*self.attempts, return_exceptions=True)
        await self.client.aclose()


@contextlib.asynccontextmanager
async def dispatching(ctx: Context) -> AsyncIterator[None]:
    """Run a dispatcher for the lifetime of the block."""
    dispatcher = Dispatcher(ctx)
    task = asyncio.create_task(dispatcher.run())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await dispatcher.close()
