"""The dispatcher: a task in every server process that fans new events out into deliveries, claims
the due ones, signs and sends them, and records each attempt.

A committed change wakes it once (`Context.webhook_wake`); otherwise it looks twice a second. Each
turn is one transaction: the outcomes of the attempts that finished since the last turn, their
endpoints' health, the fan-out of a batch of new events (`service.webhooks.fanout`), and a claim
of what is due (`service.webhooks.claims`). Attempts run concurrently, at most `CONCURRENCY` at
once, each bounded by the timeout; while more than half the slots are busy, the turn waits a
little for more of them to finish, so that one transaction serves many attempts.
"""

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator

from service import metrics
from service.context import Context
from service.errors import ValidationFailed
from service.store.faults import log_failure
from service.store.tables import utcnow
from service.webhooks import retention
from service.webhooks.claims import (
    CONCURRENCY,
    Claim,
    Shares,
    anything_to_do,
    claim_due,
    release_leases,
)
from service.webhooks.fanout import BATCH, fan_out
from service.webhooks.outcomes import (
    RECORD,
    Attempted,
    outcome_of,
    record_endpoints,
    retry_after,
)
from service.webhooks.signing import signed_headers
from service.webhooks.transport import ERRORS, Transport, failure
from service.webhooks.urls import TargetRule, checked_target

MAX_HOLD_S = 0.5
"""While more than half the slots are busy, the dispatcher holds back writing outcomes and claiming
more until the slots free up, so that one transaction serves many attempts; but never longer than
this, so that attempts hanging until their timeout delay neither the others' records nor a due
delivery (attempted within a second, as the contract says)."""
IDLE_POLL_S = 0.5
RETRY_AFTER_STATUSES = (429, 503)
log = logging.getLogger("framestate")


class Dispatcher:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.timeout_s = ctx.settings.webhook_timeout_s
        self.rule = TargetRule.of(ctx.settings)
        self.transport = Transport(self.timeout_s, CONCURRENCY)
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
                claims, more = await self.turn(free)
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

    async def turn(self, free: int) -> tuple[list[Claim], bool]:
        """Write every finished attempt, fan out new events and claim what is due, in one
        transaction: at a thousand deliveries a second, a transaction per attempt would keep the
        one SQLite writer busy. An idle dispatcher only reads. Attempts whose batch fails to be
        written are attempted again once their leases run out. True with the claims when there is
        more to do at once."""
        done, self.finished = self.finished, []
        if not done and (free <= 0 or not await anything_to_do(ctx=self.ctx)):
            return [], False
        now = utcnow()
        settings = self.ctx.settings
        outcomes = [outcome_of(attempted, now, settings) for attempted in done]
        async with self.ctx.db.writing_session() as session:
            conn = await session.connection()
            disabled = []
            if outcomes:  # endpoints before deliveries: the order in which deleting an endpoint locks them
                disabled = await record_endpoints(conn, done, now, settings)
                await conn.execute(RECORD, [row for _, row in outcomes])
            fanned = await fan_out(conn, settings=settings, now=now) if free > 0 else None
            claims, more = (
                await claim_due(session, free, now, self.shares, ctx=self.ctx) if free > 0 else ([], False)
            )
        for attempted, (outcome, _) in zip(done, outcomes, strict=True):
            metrics.webhook_attempt(outcome)
            if outcome == "delivered":
                metrics.webhook_delivered((now - attempted.claim.event_at).total_seconds())
            log.info(
                "webhook delivery %s to %s: %s (%s)",
                attempted.claim.delivery_id,
                attempted.claim.url,
                outcome,
                attempted.error or "ok",
            )
        for _, reason in disabled:
            metrics.webhook_endpoint_disabled(reason)
        if fanned is not None:
            metrics.webhook_skipped(fanned.skipped)
            more = more or fanned.events == BATCH
        return claims, more

    def _attempt_done(self, task: asyncio.Task[None]) -> None:
        self.attempts.discard(task)
        self.ctx.webhook_wake.set()  # its outcome is to be written; the next delivery may be due

    async def attempt(self, claim: Claim) -> None:
        try:
            attempted = await self.send(claim)
        finally:
            self.shares.give_back(claim)
        self.finished.append(attempted)

    async def send(self, claim: Claim) -> Attempted:
        """One attempt: resolve and check the receiver's address, sign, POST, and read its answer."""
        try:
            async with asyncio.timeout(self.timeout_s):
                try:  # the name may resolve elsewhere now than when the webhook was made
                    target = await checked_target(claim.url, self.rule)
                except ValidationFailed as refused:
                    return Attempted(claim, None, refused.detail)
                headers = signed_headers(claim.secrets, claim.event_id, int(time.time()), claim.body)
                sent_at = utcnow()
                answer = await self.transport.post(target, claim.body.encode(), headers)
        except TimeoutError:
            return Attempted(claim, None, f"no answer within {self.timeout_s:g} s", sent_at=claim.started)
        except ERRORS as exc:
            return Attempted(claim, None, failure(exc), sent_at=claim.started)
        if 200 <= answer.status < 300:
            return Attempted(claim, answer.status, None, sent_at=sent_at)
        wait = retry_after(answer.retry_after, utcnow()) if answer.status in RETRY_AFTER_STATUSES else None
        return Attempted(claim, answer.status, f"answered {answer.status}", wait, sent_at)

    async def close(self) -> None:
        for task in list(self.attempts):
            task.cancel()
        await asyncio.gather(*self.attempts, return_exceptions=True)
        await self.transport.close()


@contextlib.asynccontextmanager
async def dispatching(ctx: Context) -> AsyncIterator[None]:
    """Run a dispatcher, and the outbox's pruning, for the lifetime of the block."""
    dispatcher = Dispatcher(ctx)
    tasks = [asyncio.create_task(dispatcher.run()), asyncio.create_task(retention.run(ctx))]
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await dispatcher.close()
        try:
            await dispatcher.turn(0)
        except Exception as exc:  # their leases run out, and those deliveries are attempted again
            log_failure(log, "could not record the last webhook attempts", exc)
