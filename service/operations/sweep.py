"""The sweep of dead workers: an active job with no report for `FRAMESTATE_JOB_TIMEOUT_S` seconds is
failed by the service itself (action `job_timed_out`), and its project falls back to what its facts
say. Every replica runs the sweep; each failure is a guarded write, so running it twice is safe."""

import asyncio
import logging
from dataclasses import replace
from datetime import datetime, timedelta

from service.context import Context
from service.operations.exports import silent_jobs, time_out_job
from service.store.faults import log_failure
from service.store.tables import utcnow

BATCH = 100
SWEEP_ACTOR = "system:sweep"
log = logging.getLogger("framestate")


def sweep_interval(timeout_s: float) -> float:
    """How often to look: a tenth of the timeout, between 50 ms and 30 s."""
    return min(max(timeout_s / 10, 0.05), 30.0)


async def sweep_once(*, ctx: Context, now: datetime | None = None) -> int:
    """Fail every job silent for longer than the timeout at `now`; the number failed."""
    silent_since = (now or utcnow()) - timedelta(seconds=ctx.settings.job_timeout_s)
    ctx = replace(ctx, owner=None, actor=SWEEP_ACTOR)
    failed = 0
    while batch := await silent_jobs(silent_since=silent_since, limit=BATCH, ctx=ctx):
        for job_id, project_id in batch:
            if await time_out_job(job_id, project_id=project_id, silent_since=silent_since, ctx=ctx):
                failed += 1
                log.warning("export job %s of project %s timed out", job_id, project_id)
        if len(batch) < BATCH:
            break
    return failed


async def run_sweeps(ctx: Context) -> None:
    interval = sweep_interval(ctx.settings.job_timeout_s)
    while True:
        await asyncio.sleep(interval)
        try:
            await sweep_once(ctx=ctx)
        except Exception as exc:  # the sweep must outlive a database hiccup; the next round retries
            log_failure(log, f"the sweep of silent export jobs failed; trying again in {interval:.1f} s", exc)
