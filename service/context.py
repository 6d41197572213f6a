"""What every service function needs: the database, the event announcer and the settings."""

from dataclasses import dataclass

from service.db import Database
from service.events import Events
from service.settings import Settings


@dataclass(frozen=True, slots=True)
class Context:
    settings: Settings
    db: Database
    events: Events
    owner: str | None = None
    """The client a request acts for, with auth on: it sees and changes only its own projects."""
