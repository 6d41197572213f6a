"""Following projects live: the two Server-Sent Events streams, one project or every project.

A stream takes its caller's slot, then subscribes before it reads its snapshot, so no change falls
between the two.
"""

import msgspec

from service.context import Context
from service.live.feed import OPENING, Feed, end
from service.live.hub import Subscriber, sse_frame
from service.operations.projects import get_project


def _subscribe(ctx: Context, project_id: str | None) -> Subscriber:
    subscriber = ctx.events.subscribe(project_id, ctx.owner)
    if ctx.lifecycle.draining:
        subscriber.close()  # this process is going away: the client reconnects to another
    return subscriber


async def project_events(project_id: str, *, ctx: Context, caller: str) -> Feed:
    give_back = ctx.stream_slots.take(caller)
    subscriber = _subscribe(ctx, project_id)
    try:
        snapshot = await get_project(project_id, db=ctx.db, owner=ctx.owner)
    except BaseException:
        end(ctx.events, subscriber, give_back)
        raise
    first = OPENING + sse_frame("project", msgspec.json.encode(snapshot))
    return Feed(ctx.events, subscriber, first, snapshot.version, give_back)


def all_events(*, ctx: Context, caller: str) -> Feed:
    give_back = ctx.stream_slots.take(caller)
    return Feed(ctx.events, _subscribe(ctx, None), OPENING, 0, give_back)
