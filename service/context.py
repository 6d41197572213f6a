"""What every service function needs: the database, the event announcer and the settings."""

import asyncio
from dataclasses import dataclass, field

from service.lifecycle import Lifecycle
from service.live.hub import Events
from service.live.slots import StreamSlots
from service.settings import DEFAULT_MAX_STREAMS, Settings
from service.store.db import Database


@dataclass(frozen=True, slots=True)
class Context:
    settings: Settings
    db: Database
    events: Events
    stream_slots: StreamSlots = field(default_factory=lambda: StreamSlots(DEFAULT_MAX_STREAMS))
    """Event streams held per caller, shared by every request of the process."""
    owner: str | None = None
    """The client a request acts for, with auth on: it sees and changes only its own projects."""
    actor: str | None = None
    """Who makes the change, as the history records it: the token's `sub` with auth on, the sweep's
    own name for what it does; None where nothing is known."""
    webhook_wake: asyncio.Event = field(default_factory=asyncio.Event)
    """Set when a commit staged webhook deliveries: the dispatcher wakes. Shared by every copy of
    the context (one per request, with its owner and actor)."""
    lifecycle: Lifecycle = field(default_factory=Lifecycle)
