"""Claiming due deliveries: which may be attempted now, by whom, and in what fair shares.

A claim sets a lease (`lease_until`, `lease_token`) on the rows it takes, in one transaction that
locks them with `FOR UPDATE SKIP LOCKED` on PostgreSQL (SQLite has one process and one writer), so
no two processes attempt one delivery at once; a process that dies mid-attempt leaves a lease that
runs out, and the delivery is attempted again. Only the first pending delivery of an endpoint and
project can be claimed, so a later event waits while an earlier one is pending, and a disabled
endpoint's deliveries are not claimed at all. Sending is fair: one endpoint holds at most
`ENDPOINT_SHARE` of a process's slots and one owner's endpoints together at most `OWNER_SHARE`, so
endpoints that hang (each attempt holding its slot until the timeout) leave slots free for other
owners and for the owner's other endpoints.
"""

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

from sqlalchemy import ColumnElement, and_, exists, literal_column, or_, update
from sqlalchemy.orm import aliased
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.context import Context
from service.limits import WEBHOOK_SLOTS
from service.schemas import as_utc
from service.store.tables import new_id, utcnow
from service.webhooks.fanout import ANY_UNFANNED
from service.webhooks.tables import DeliveryStatus, WebhookDelivery, WebhookEndpoint, WebhookEvent

CONCURRENCY = WEBHOOK_SLOTS
OWNER_SHARE = CONCURRENCY // 4
ENDPOINT_SHARE = CONCURRENCY // 16
"""With these, three owners whose every endpoint hangs still leave a quarter of the slots to the
others, and an owner's own healthy endpoints keep a slot while three of its endpoints hang."""
PENDING: ColumnElement[str] = literal_column(f"'{DeliveryStatus.PENDING.value}'")
"""Written into the SQL rather than bound, so that both planners may use the index of pending
deliveries (a partial index serves only a query whose condition it can see)."""
LEASE_MARGIN_S = 5.0


@dataclass(frozen=True, slots=True)
class Claim:
    delivery_id: str
    lease_token: str
    attempts: int
    expires_at: datetime
    event_id: str
    event_at: datetime
    body: str
    url: str
    secrets: tuple[str, ...]
    """The endpoint's secret, and after a rotation its old one too, for a while: each signs."""
    endpoint_id: str
    owner: str | None
    started: datetime
    job_id: str | None = None
    """The job of a progress delivery."""
    failing: bool = False
    """Whether the endpoint was in a run of failed attempts when this was claimed."""


def is_due(now: datetime) -> ColumnElement[bool]:
    return and_(
        col(WebhookDelivery.status) == PENDING,
        col(WebhookDelivery.next_attempt_at) <= now,
        or_(col(WebhookDelivery.lease_until).is_(None), col(WebhookDelivery.lease_until) < now),
    )


async def anything_to_do(*, ctx: Context) -> bool:
    """Whether a delivery is due or an event waits for its fan-out. One read, outside any write
    transaction: an idle dispatcher asks this twice a second, and on SQLite a claim's transaction
    would take the one write lock every time."""
    async with ctx.db.reading() as conn:
        found = await conn.scalar(select(or_(exists().where(is_due(utcnow())), ANY_UNFANNED)))
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
    of enabled endpoints, within the room each endpoint and owner has left, and no progress delivery
    within the progress interval of the last attempt at its job's progress to its endpoint (counted
    from when that attempt's request went out, once it is recorded); True with them when some were
    left for lack of room (a claim right away would find others)."""
    delivery, earlier, other = WebhookDelivery, aliased(WebhookDelivery), aliased(WebhookDelivery)
    waits_behind = exists().where(
        col(earlier.endpoint_id) == col(delivery.endpoint_id),
        col(earlier.project_id) == col(delivery.project_id),
        col(earlier.status) == PENDING,
        col(earlier.seq) < col(delivery.seq),
    )
    interval = timedelta(seconds=ctx.settings.webhook_progress_interval_s)
    progress_sent_lately = exists().where(
        col(other.job_id) == col(delivery.job_id),
        col(other.endpoint_id) == col(delivery.endpoint_id),
        col(other.seq) != col(delivery.seq),
        col(other.attempted_at) > now - interval,
    )
    spaced = or_(col(delivery.job_id).is_(None), ~progress_sent_lately)
    due = (
        select(delivery.seq, delivery.endpoint_id, WebhookEndpoint.owner)
        .join(WebhookEndpoint, col(WebhookEndpoint.id) == col(delivery.endpoint_id))
        .where(is_due(now), col(WebhookEndpoint.enabled), ~waits_behind, spaced, *_not_full(shares))
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
        .values(lease_until=lease_until, lease_token=token, attempted_at=now)
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
            delivery_id=d.id,
            lease_token=token,
            attempts=d.attempts,
            expires_at=d.expires_at,
            event_id=e.id,
            event_at=as_utc(e.created_at),
            body=e.body,
            url=endpoint.url,
            secrets=signing_secrets(endpoint, now),
            endpoint_id=endpoint.id,
            owner=endpoint.owner,
            started=now,
            job_id=d.job_id,
            failing=endpoint.failing_since is not None,
        )
        for d, e, endpoint in rows.all()
    ]
    return claims, len(seqs) < len(found)


def signing_secrets(endpoint: WebhookEndpoint, now: datetime) -> tuple[str, ...]:
    """The new secret first; the old one too until its overlap after a rotation ends."""
    until = endpoint.old_secret_until
    if endpoint.old_secret and until is not None and as_utc(until) > now:
        return (endpoint.secret, endpoint.old_secret)
    return (endpoint.secret,)


async def release_leases(*, ctx: Context) -> None:
    """On SQLite this process is the only one: a lease left in the database is a dead process's."""
    async with ctx.db.writing_session() as session:
        await session.exec(
            update(WebhookDelivery)
            .where(col(WebhookDelivery.lease_token).is_not(None))
            .values(lease_until=None, lease_token=None)
        )
