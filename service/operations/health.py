"""Liveness and readiness: what a load balancer or an orchestrator asks before sending traffic."""

import asyncio

from service.context import Context

PING_TIMEOUT_S = 2.0


async def not_ready_because(ctx: Context) -> list[str]:
    """Why this process should get no traffic now; empty when it is ready."""
    reasons = []
    if ctx.lifecycle.draining:
        reasons.append("the process is shutting down")
    try:
        answered = await asyncio.wait_for(ctx.db.ping(), PING_TIMEOUT_S)
    except TimeoutError:
        answered = False
    if not answered:
        reasons.append("the database does not answer")
    if not ctx.events.listening:
        reasons.append("the PostgreSQL LISTEN connection is down")
    return reasons
