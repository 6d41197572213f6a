"""What an attempt came to, and what it does to its delivery and its endpoint.

- A 2xx delivers. Anything else is retried after a random wait of up to base × 2^n seconds (full
  jitter, never over an hour), or no earlier than a 429's or 503's `Retry-After` (seconds or an
  HTTP date, at most an hour), until the delivery's max age, when it is `failed`.
- A 410 Gone disables the endpoint at once; so does a failed attempt when every attempt since the
  first failure of the unbroken run of failures it ends, `FRAMESTATE_WEBHOOK_DISABLE_AFTER_S` or
  more ago, has failed. A disabled endpoint's deliveries wait; enabling it sends them.
- Outcomes are written in batches (executemany), each unless its lease was lost meanwhile.
"""

import logging
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

from sqlalchemy import Table, bindparam, update
from sqlalchemy.ext.asyncio import AsyncConnection

from service.schemas import as_utc
from service.settings import Settings
from service.webhooks.claims import Claim
from service.webhooks.tables import LAST_ERROR_MAX, DeliveryStatus, WebhookDelivery, WebhookEndpoint

MAX_RETRY_WAIT_S = 3600.0
GONE = "gone"
FAILING = "failing"
DISABLED_BECAUSE = {
    GONE: "The receiver answered 410 Gone: the endpoint no longer exists.",
    FAILING: "Every attempt failed for longer than FRAMESTATE_WEBHOOK_DISABLE_AFTER_S.",
}
log = logging.getLogger("framestate")


@dataclass(frozen=True, slots=True)
class Attempted:
    """What one attempt came to, waiting to be written with the others of its batch."""

    claim: Claim
    status_code: int | None
    error: str | None
    retry_after_s: float | None = None
    """What a 429 or 503 asked for in `Retry-After`."""
    sent_at: datetime | None = None
    """When the request went out (the attempt may have waited for the loop since its claim)."""


def retry_after(value: str | None, now: datetime) -> float | None:
    """`Retry-After` in seconds from now: delta-seconds or an HTTP date; None when absent or bad."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(min(int(value), int(MAX_RETRY_WAIT_S)))
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return min(max((moment - now).total_seconds(), 0.0), MAX_RETRY_WAIT_S)


def retry_wait(attempts: int, base_s: float) -> float:
    """Full jitter: a random wait up to base × 2^n seconds after the n-th consecutive failure
    (n from 0), never over an hour."""
    return random.uniform(0, min(base_s * 2 ** min(attempts, 32), MAX_RETRY_WAIT_S))


DELIVERY: Table = WebhookDelivery.__table__  # type: ignore[attr-defined]
ENDPOINT: Table = WebhookEndpoint.__table__  # type: ignore[attr-defined]
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
        attempted_at=bindparam("b_sent_at"),
        lease_until=None,
        lease_token=None,
    )
)
"""One attempt's outcome on its delivery, unless the lease was lost meanwhile; run once for a
whole batch (executemany)."""


def outcome_of(attempted: Attempted, now: datetime, settings: Settings) -> tuple[str, dict[str, Any]]:
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
        "b_sent_at": attempted.sent_at or claim.started,
    }
    if error is None:
        row.update(b_status=DeliveryStatus.DELIVERED.value, b_delivered_at=now)
        return "delivered", row
    if now >= as_utc(claim.expires_at):
        row.update(b_status=DeliveryStatus.FAILED.value)
        return "failed", row
    wait = retry_wait(claim.attempts, settings.webhook_retry_base_s)
    if attempted.retry_after_s is not None:
        wait = max(wait, attempted.retry_after_s)
    row.update(b_next=now + timedelta(seconds=wait))
    return "retried", row


async def record_endpoints(
    conn: AsyncConnection, done: Sequence[Attempted], now: datetime, settings: Settings
) -> list[tuple[str, str]]:
    """What the batch's attempts say of their endpoints: the latest attempt of each decides whether
    its run of failures goes on (from its first failure) or is over; a 410, or a run of failures
    past the window, disables it. The (endpoint, reason) of each one disabled now. A batch of
    successes to endpoints that were not failing writes nothing here."""
    latest: dict[str, Attempted] = {}
    for attempted in sorted(done, key=lambda a: a.claim.started):
        latest[attempted.claim.endpoint_id] = attempted
    healthy = [e for e, a in latest.items() if a.error is None and a.claim.failing]
    failing = [e for e, a in latest.items() if a.error is not None]
    gone = [e for e, a in latest.items() if a.status_code == 410]
    if healthy:
        await conn.execute(
            update(ENDPOINT)
            .where(ENDPOINT.c.id.in_(healthy), ENDPOINT.c.failing_since.is_not(None))
            .values(failing_since=None)
        )
    if not failing:
        return []
    first_failure = min(a.claim.started for a in latest.values() if a.error is not None)
    await conn.execute(
        update(ENDPOINT)
        .where(ENDPOINT.c.id.in_(failing), ENDPOINT.c.failing_since.is_(None))
        .values(failing_since=first_failure)
    )
    window_start = now - timedelta(seconds=settings.webhook_disable_after_s)
    disabled: list[tuple[str, str]] = []
    for reason, condition in (
        (GONE, ENDPOINT.c.id.in_(gone)),
        (FAILING, ENDPOINT.c.id.in_(failing) & (ENDPOINT.c.failing_since <= window_start)),
    ):
        turned = await conn.execute(
            update(ENDPOINT)
            .where(condition, ENDPOINT.c.enabled)
            .values(enabled=False, disabled_reason=DISABLED_BECAUSE[reason])
            .returning(ENDPOINT.c.id)
        )
        disabled += [(endpoint_id, reason) for endpoint_id in turned.scalars().all()]
    for endpoint_id, reason in disabled:
        log.warning("webhook endpoint %s disabled: %s", endpoint_id, DISABLED_BECAUSE[reason])
    return disabled
