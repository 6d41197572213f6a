"""The transactional outbox: a committed change writes its webhook events in its own transaction, so
there is never a change without its events nor an event without its change. It writes one row an
event, however many endpoints want it: their deliveries are made afterwards, in batches, by the
dispatcher (`service.webhooks.fanout`), so a write costs the same with one endpoint or a hundred.

The write path calls `stage` once with the `Change` it made, after it has saved the change and
before it commits. Whether any endpoint exists at all is read by the write's own first statement
(`ANY_ENDPOINT`, a column of the unit of work's load; on PostgreSQL read before the write's
`BEGIN`, as every read of a unit of work is), so a write costs nothing more while no webhook
exists, in any number of processes; a progress report writes its event only while some endpoint
asked for `export.progress` (`ANY_PROGRESS_SUBSCRIPTION`, read the same way). A write that stages
events runs its statements in one transaction, the events' included.
"""

from dataclasses import dataclass
from typing import Any

import msgspec
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import select

from fsm.jobs import JobStatus
from service.change import Change
from service.schemas import ExportJobOut, ProjectOut
from service.settings import Settings
from service.store.cards import read_card
from service.store.records import JobRecord
from service.store.tables import new_id
from service.webhooks.schemas import EventType
from service.webhooks.tables import ANY_ENDPOINT, WebhookEvent

INSERT_EVENT = insert(WebhookEvent)

ENDED_EVENTS: dict[str, EventType] = {
    JobStatus.SUCCEEDED.value: EventType.EXPORT_SUCCEEDED,
    JobStatus.FAILED.value: EventType.EXPORT_FAILED,
    JobStatus.CANCELLED.value: EventType.EXPORT_CANCELLED,
    JobStatus.SUPERSEDED.value: EventType.EXPORT_SUPERSEDED,
}


@dataclass(frozen=True, slots=True)
class Event:
    type: EventType
    job: JobRecord | None = None


def events_of(change: Change) -> list[Event]:
    """What one committed change means to a webhook, in order: its creation or deletion; else the
    jobs it started, reported on or ended, then the status change (the history row) they caused."""
    if change.created:
        return [Event(EventType.PROJECT_CREATED)]
    if change.deleted:
        return [Event(EventType.PROJECT_DELETED)]
    events = [Event(EventType.EXPORT_STARTED, job) for job in change.started]
    events += [Event(EventType.EXPORT_PROGRESS, job) for job in change.reported]
    for job in change.ended:
        timed_out = job.status == JobStatus.FAILED and change.timed_out
        events.append(Event(EventType.EXPORT_TIMED_OUT if timed_out else ENDED_EVENTS[job.status], job))
    if change.status_moved:
        jobs = (*change.started, *change.reported, *change.ended)
        events.append(Event(EventType.PROJECT_STATUS_CHANGED, jobs[0] if jobs else None))
    return events


async def any_endpoint(conn: AsyncConnection) -> bool:
    """Whether any webhook endpoint exists, for a write whose first statement did not say."""
    return bool((await conn.execute(select(ANY_ENDPOINT))).scalar_one())


async def stage(
    conn: AsyncConnection,
    change: Change,
    *,
    settings: Settings,
    card: ProjectOut | None = None,
    progress_wanted: bool = True,
) -> bool:
    """Write the events of a saved, uncommitted change, one row each, on its connection; True when
    it wrote any (the dispatcher is woken once the change has committed, and makes their
    deliveries). `card` is the project as the change left it, where the caller has it already;
    without `progress_wanted` (no endpoint asked for `export.progress`) a report writes nothing."""
    events = [e for e in events_of(change) if progress_wanted or e.type is not EventType.EXPORT_PROGRESS]
    if not events:
        return False
    project_data: Any = {"id": change.project_id}
    if not change.deleted:
        project_data = card or await read_card(conn, change.project_id, None)
    version = change.version_after if change.version_after is not None else change.version_before + 1
    rows = []
    for position, item in enumerate(events):
        event_id = new_id()
        data: dict[str, Any] = {"project": project_data}
        if item.type is not EventType.PROJECT_DELETED:
            data["job"] = ExportJobOut.of(item.job) if item.job else None
        body = {"id": event_id, "type": item.type.value, "timestamp": change.at, "data": data}
        rows.append(
            {
                "id": event_id,
                "type": item.type.value,
                "project_id": change.project_id,
                "owner": change.owner,
                "job_id": item.job.id if item.job else None,
                "version": version,
                "position": position,
                "fanned_out": False,
                "body": msgspec.json.encode(body).decode(),
                "created_at": change.at,
            }
        )
    await conn.execute(INSERT_EVENT, rows)
    return True
