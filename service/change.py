"""What one committed write changed: the value the event streams, the webhook outbox and the
metrics take, so none of them needs to know how a write is made."""

from dataclasses import dataclass
from datetime import datetime

from fsm.facts import Action
from fsm.status import Status
from service.store.records import JobRecord


@dataclass(frozen=True, slots=True)
class Change:
    project_id: str
    owner: str | None
    version_before: int
    """0 for a creation."""
    version_after: int | None
    """None: the project was deleted."""
    action: Action | None
    """The move the machine accepted; None for a change that asked it nothing (a progress report)."""
    from_status: Status | None
    """None for a creation."""
    to_status: Status
    at: datetime
    actor: str | None = None
    job_id: str | None = None
    """The job the move was about, where it was about one."""
    started: tuple[JobRecord, ...] = ()
    reported: tuple[JobRecord, ...] = ()
    """Jobs still active whose progress or message this write changed."""
    ended: tuple[JobRecord, ...] = ()
    """Jobs this write finished, superseded ones last."""

    @property
    def deleted(self) -> bool:
        return self.version_after is None

    @property
    def created(self) -> bool:
        return self.from_status is None

    @property
    def status_moved(self) -> bool:
        """A move between two statuses (the history row after the creation)."""
        return self.from_status is not None and self.from_status is not self.to_status

    @property
    def timed_out(self) -> bool:
        return self.action is Action.JOB_TIMED_OUT
