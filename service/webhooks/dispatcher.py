"""The dispatcher: a task in every server process that claims due deliveries, signs and sends them,
and records each attempt.

A claim sets a lease (`lease_until`, `lease_token`) on the rows it takes, in one transaction that
locks them with `FOR UPDATE SKIP LOCKED` on PostgreSQL (SQLite has one process and one writer), so
no two processes attempt one delivery at once; a process that dies mid-attempt leaves a lease that
runs out, and the delivery is attempted again. Only the first pending delivery of an endpoint and
project can be claimed, so a later event waits while an earlier one is pending. Attempts run
concurrently, at most `CONCURRENCY` at once, each bounded by the timeout. Sending is fair: one
endpoint holds at most `ENDPOINT_SHARE` of the slots and one owner's endpoints together at most
`OWNER_SHARE`, so endpoints that hang (each attempt holding its slot until the timeout) leave
slots free for other owners and for the owner's other endpoints. The outcomes of finished
attempts are written together, in the transaction of the next claim.
"""

import asyncio
import contextlib
import logging
import random
import time
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

import httpx
from sqlalchemy import ColumnElement, Table, and_, bindparam, exists, literal_column, or_, update
from sqlalchemy.orm import aliased
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service import metrics
from service.context import Context
from service.errors import ValidationFailed
from service.limits import WEBHOOK_SLOTS
from service.schemas import as_utc
from service.store.faults import log_failure
from service.store.tables import new_id, utcnow
from service.webhooks.signing import signed_headers
from service.webhooks.tables import (
    LAST_ERROR_MAX,
    DeliveryStatus,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)
from service.webhooks.transport import Transport
from service.webhooks.urls import TargetRule, checked_target

CONCURRENCY = WEBHOOK_SLOTS
OWNER_SHARE = CONCURRENCY // 4
ENDPOINT_SHARE = CONCURRENCY // 16
"""With these, three owners whose every endpoint hangs still leave a quarter of the slots to the
others, and an owner's own healthy endpoints keep a slot while three of its endpoints hang."""
MAX_HOLD_S = 0.5
"""While more than half the slots are busy, the dispatcher holds back writing outcomes and claiming
more until the slots free up, so that one transaction serves many attempts; but never longer than
this, so that attempts hanging until their timeout delay neither the others' records nor a due
delivery (attempted within a second, as the contract says)."""
PENDING: ColumnElement[str] = literal_column(f"'{DeliveryStatus.PENDING.value}'")
"""Written into the SQL rather than bound, so that both planners may use the index of pending
deliveries (a partial index serves only a query whose condition it can see)."""
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
    endpoint_id: str
    owner: str | None


def retry_wait(attempts: int, base_s: float) -> float:
    """Full jitter: a random wait up to base × 2^n seconds after the n-th consecutive failure
    (n from 0), never over an hour."""
    return random.uniform(0, min(base_s * 2 ** min(attempts, 32), MAX_RETRY_WAIT_S))


def _is_due(now: datetime) -> ColumnElement[bool]:
    return and_(
        col(WebhookDelivery.status) == PENDING,
        col(WebhookDelivery.next_attempt_at) <= now,
        or_(col(WebhookDelivery.lease_until).is_(None), col(WebhookDelivery.lease_until) < now),
    )


async def any_due(*, ctx: Context) -> bool:
    """One read, outside any write transaction: an idle dispatcher asks this twice a second, and on
    SQLite a claim's transaction would take the one write lock every time."""
    async with ctx.db.reading() as conn:
        found = await conn.scalar(exists().where(_is_due(utcnow())).select())
    return bool(found)


class Shares:
    """The slots each endpoint and owner holds in this process, and what room they have left."""

    def __init__(self) -> None:
        self.by_endpoint: Counter[str] = Counter()
        self.by_owner: Counter[str | None] = Counter()

    def full(self) -> tuple[list[str], list[str | None]]:
        return (
            [endpoint for endpoint, held in self.by_endpoint.items() if held >= ENDPOINT_SHARE],
            [owner for owner, held in self.by_owner.items() if held >= OWNER_SHARE],
        )

    def pick(self, found: Sequence[tuple[int, str, str | None]]) -> list[int]:
        """The `(seq, endpoint, owner)` of `found`, in order, that fit in the room left."""
        endpoints, owners = Counter(self.by_endpoint), Counter(self.by_owner)
        picked = []
        for seq, endpoint_id, owner in found:
            if endpoints[endpoint_id] < ENDPOINT_SHARE and owners[owner] < OWNER_SHARE:
                endpoints[endpoint_id] += 1
                owners[owner] += 1
                picked.append(seq)
        return picked

    def hold(self, claim: Claim) -> None:
        self.by_endpoint[claim.endpoint_id] += 1
        self.by_owner[claim.owner] += 1

    def give_back(self, claim: Claim) -> None:
        _less(self.by_endpoint, claim.endpoint_id)
        _less(self.by_owner, claim.owner)


K = TypeVar("K")


def _less(counter: Counter[K], key: K) -> None:
    if counter[key] > 1:
        counter[key] -= 1
    else:
        del counter[key]


def _not_full(shares: Shares) -> list[ColumnElement[bool]]:
    full_endpoints, full_owners = shares.full()
    conditions: list[ColumnElement[bool]] = []
    if full_endpoints:
        conditions.append(col(WebhookDelivery.endpoint_id).not_in(full_endpoints))
    owner = col(WebhookEndpoint.owner)
    if None in full_owners:
        conditions.append(owner.is_not(None))
    if named := [o for o in full_owners if o is not None]:
        conditions.append(or_(owner.is_(None), owner.not_in(named)))
    return conditions


async def claim_due(
    session: AsyncSession, limit: int, now: datetime, shares: Shares, *, ctx: Context
) -> tuple[list[Claim], bool]:
    """Lease up to `limit` due deliveries, each the first pending one of its endpoint and project,
    within the room each endpoint and owner has left; True with them when some were left for lack
    of room (a claim right away would find others)."""
    delivery, earlier = WebhookDelivery, aliased(WebhookDelivery)
    waits_behind = exists().where(
        col(earlier.endpoint_id) == col(delivery.endpoint_id),
        col(earlier.project_id) == col(delivery.project_id),
        col(earlier.status) == PENDING,
        col(earlier.seq) < col(delivery.seq),
    )
    due = (
        select(delivery.seq, delivery.endpoint_id, WebhookEndpoint.owner)
        .join(WebhookEndpoint, col(WebhookEndpoint.id) == col(delivery.endpoint_id))
        .where(_is_due(now), ~waits_behind, *_not_full(shares))
        .order_by(col(delivery.seq))
        .limit(limit)
        .with_for_update(skip_locked=True, of=delivery)
    )
    token = new_id()
    lease_until = now + timedelta(seconds=ctx.settings.webhook_timeout_s + LEASE_MARGIN_S)
    found = [(seq or 0, endpoint_id, owner) for seq, endpoint_id, owner in (await session.exec(due)).all()]
    seqs = shares.pick(found)
    if not seqs:
        return [], bool(found)
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
    claims = [
        Claim(
            d.id,
            token,
            d.attempts,
            d.expires_at,
            e.id,
            e.body,
            endpoint.url,
            endpoint.secret,
            endpoint.id,
            endpoint.owner,
        )
        for d, e, endpoint in rows.all()
    ]
    return claims, len(seqs) < len(found)


async def release_leases(*, ctx: Context) -> None:
    """On SQLite this process is the only one: a lease left in the database is a dead process's."""
    async with ctx.db.writing_session() as session:
        await session.exec(
            update(WebhookDelivery)
            .where(col(WebhookDelivery.lease_token).is_not(None))
            .values(lease_until=None, lease_token=None)
        )


@dataclass(frozen=True, slots=True)
class Attempted:
    """What one attempt came to, waiting to be written with the others of its batch."""

    claim: Claim
    status_code: int | None
    error: str | None


DELIVERY: Table = WebhookDelivery.__table__  # type: ignore[attr-defined]
RECORD = (
    update(DELIVERY)
    .where(DELIVERY.c.id == bindparam("b_id"), DELIVERY.c.lease_token == bindparam("b_token"))
    .values(
        status=bindparam("b_status"),
        attempts=bindparam("b_attempts"),
        last_status_code=bindparam("b_code"),
        last_error=bindparam("b_error"),
        delivered_at=bindparam("b_delivered_at"),
        next_attempt_at=bindparam("b_next"),
        lease_until=None,
        lease_token=None,
    )
)
"""One attempt's outcome on its delivery, unless the lease was lost meanwhile; run once for a
whole batch (executemany)."""


def outcome_of(attempted: Attempted, now: datetime, retry_base_s: float) -> tuple[str, dict[str, Any]]:
    """`delivered`, `retried` or `failed`, and the parameters of `RECORD` that write it."""
    claim, error = attempted.claim, attempted.error
    row: dict[str, Any] = {
        "b_id": claim.delivery_id,
        "b_token": claim.lease_token,
        "b_attempts": claim.attempts + 1,
        "b_code": attempted.status_code,
        "b_error": error[:LAST_ERROR_MAX] if error else None,
        "b_status": DeliveryStatus.PENDING.value,
        "b_delivered_at": None,
        "b_next": None,
    }
    if error is None:
        row.update(b_status=DeliveryStatus.DELIVERED.value, b_delivered_at=now)
        return "delivered", row
    if now >= as_utc(claim.expires_at):
        row.update(b_status=DeliveryStatus.FAILED.value)
        return "failed", row
    row.update(b_next=now + timedelta(seconds=retry_wait(claim.attempts, retry_base_s)))
    return "retried", row


class Dispatcher:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.timeout_s = ctx.settings.webhook_timeout_s
        self.rule = TargetRule.of(ctx.settings)
        self.transport = Transport(self.timeout_s)
        self.attempts: set[asyncio.Task[None]] = set()
        self.finished: list[Attempted] = []
        self.holding_since = 0.0
        self.shares = Shares()

    async def run(self) -> None:
        wake = self.ctx.webhook_wake
        if self.ctx.settings.is_sqlite:
            try:
                await release_leases(ctx=self.ctx)
            except Exception as exc:  # the database may not answer yet; the leases then run out by themselves
                log_failure(log, "could not release the leases of webhook deliveries", exc)
        while True:
            wake.clear()
            free = CONCURRENCY - len(self.attempts)
            if free < CONCURRENCY // 2:  # plenty in flight: their outcomes gather into one batch
                now = time.monotonic()
                self.holding_since = self.holding_since or now
                if (remaining := MAX_HOLD_S - (now - self.holding_since)) > 0:
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(remaining):
                            await wake.wait()
                    continue
            self.holding_since = 0.0
            claims: list[Claim] = []
            more = False
            try:
                claims, more = await self.record_and_claim(free)
            except Exception as exc:  # the dispatcher must outlive a database hiccup
                log_failure(log, "could not record or claim webhook deliveries; trying again", exc)
            for claim in claims:
                self.shares.hold(claim)
                task = asyncio.create_task(self.attempt(claim))
                self.attempts.add(task)
                task.add_done_callback(self._attempt_done)
            if more or (claims and len(claims) == free):
                continue
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(IDLE_POLL_S):
                    await wake.wait()

    async def record_and_claim(self, free: int) -> tuple[list[Claim], bool]:
        """Write every finished attempt and claim what is due, in one transaction: at a thousand
        deliveries a second, a transaction per attempt would keep the one SQLite writer busy. An
        idle dispatcher only reads. Attempts whose batch fails to be written are attempted again
        once their leases run out."""
        done, self.finished = self.finished, []
        if not done and (free <= 0 or not await any_due(ctx=self.ctx)):
            return [], False
        now = utcnow()
        outcomes = [outcome_of(attempted, now, self.ctx.settings.webhook_retry_base_s) for attempted in done]
        async with self.ctx.db.writing_session() as session:
            if outcomes:
                await (await session.connection()).execute(RECORD, [row for _, row in outcomes])
            claims, more = (
                await claim_due(session, free, now, self.shares, ctx=self.ctx) if free > 0 else ([], False)
            )
        for attempted, (outcome, _) in zip(done, outcomes, strict=True):
            metrics.webhook_attempt(outcome)
            log.info(
                "webhook delivery %s to %s: %s (%s)",
                attempted.claim.delivery_id,
                attempted.claim.url,
                outcome,
                attempted.error or "ok",
            )
        return claims, more

    def _attempt_done(self, task: asyncio.Task[None]) -> None:
        self.attempts.discard(task)
        self.ctx.webhook_wake.set()  # its outcome is to be written; the next delivery may be due

    async def attempt(self, claim: Claim) -> None:
        try:
            status_code, error = await self.send(claim)
        finally:
            self.shares.give_back(claim)
        self.finished.append(Attempted(claim, status_code, error))

    async def send(self, claim: Claim) -> tuple[int | None, str | None]:
        """The receiver's status code, and what went wrong (None: delivered)."""
        try:
            async with asyncio.timeout(self.timeout_s):
                try:  # the name may resolve elsewhere now than when the webhook was made
                    target = await checked_target(claim.url, self.rule)
                except ValidationFailed as refused:
                    return None, refused.detail
                headers = signed_headers(claim.secret, claim.event_id, int(time.time()), claim.body)
                status_code = await self.transport.post(target, claim.body.encode(), headers)
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
        await self.transport.close()


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
        try:
            await dispatcher.record_and_claim(0)
        except Exception as exc:  # their leases run out, and those deliveries are attempted again
            log_failure(log, "could not record the last webhook attempts", exc)
