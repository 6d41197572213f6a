"""The transactional outbox: a committed change writes its webhook events and their deliveries in
its own transaction, so there is never a change without its events nor an event without its change.

The write path calls `stage` once with the `Change` it made, after it has saved the change and
before it commits. Whether any endpoint exists at all is read by the write's own first statement
(`ANY_ENDPOINT`, a column of the unit of work's load; on PostgreSQL read before the write's
`BEGIN`, as every read of a unit of work is), so a write costs nothing more while no webhook
exists, in any number of processes. A write that found an endpoint runs its statements in one
transaction, the events' and deliveries' included. Otherwise staging costs one
indexed query of the endpoints that want the change's event types; only when one does is the
project's card read and are rows written.
"""

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import msgspec
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import col, select

from fsm.jobs import JobStatus
from service.change import Change
from service.schemas import ExportJobOut, ProjectOut
from service.settings import Settings
from service.store.cards import read_card
from service.store.owners import owned_by
from service.store.records import JobRecord
from service.store.tables import new_id
from service.webhooks.schemas import EventType
from service.webhooks.tables import (
    ANY_ENDPOINT,
    DeliveryStatus,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
    WebhookSubscription,
)

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
    conn: AsyncConnection, change: Change, *, settings: Settings, card: ProjectOut | None = None
) -> bool:
    """Stage the events of a saved, uncommitted change on its connection; True when deliveries were
    staged (the dispatcher is woken once the change has committed). `card` is the project as the
    change left it, where the caller has it already."""
    events = events_of(change)
    if not events:
        return False
    targets = await _endpoints_for(conn, {e.type for e in events}, change.owner, settings)
    if not targets:
        return False
    project_data: Any = {"id": change.project_id}
    if not change.deleted:
        project_data = card or await read_card(conn, change.project_id, None)
    await _add(conn, change, project_data, events, targets, settings)
    return True


async def _endpoints_for(
    conn: AsyncConnection, types: set[EventType], owner: str | None, settings: Settings
) -> dict[EventType, list[str]]:
    """The endpoints that asked for each of `types` and may hear of this project: with auth on, only
    those of the project's owner."""
    query = (
        select(WebhookSubscription.event_type, WebhookSubscription.endpoint_id)
        .join(WebhookEndpoint, col(WebhookEndpoint.id) == col(WebhookSubscription.endpoint_id))
        .where(col(WebhookSubscription.event_type).in_([t.value for t in types]))
        .order_by(col(WebhookSubscription.endpoint_id))
    )
    if settings.auth_on:
        query = query.where(owned_by(col(WebhookEndpoint.owner), owner))
    targets: dict[EventType, list[str]] = {}
    for event_type, endpoint_id in (await conn.execute(query)).all():
        targets.setdefault(EventType(event_type), []).append(endpoint_id)
    return targets


async def _add(
    conn: AsyncConnection,
    change: Change,
    project_data: Any,
    events: list[Event],
    targets: dict[EventType, list[str]],
    settings: Settings,
) -> None:
    """Insert the events and their deliveries, in the events' order (the order of `seq`)."""
    at = change.at
    expires_at = at + timedelta(seconds=settings.webhook_max_age_s)
    event_rows: list[dict[str, Any]] = []
    delivery_rows: list[dict[str, Any]] = []
    for item in events:
        endpoint_ids = targets.get(item.type, [])
        if not endpoint_ids:
            continue
        event_id = new_id()
        data: dict[str, Any] = {"project": project_data}
        if item.type is not EventType.PROJECT_DELETED:
            data["job"] = ExportJobOut.of(item.job) if item.job else None
        body = msgspec.json.encode({"id": event_id, "type": item.type.value, "timestamp": at, "data": data})
        event_rows.append(
            {
                "id": event_id,
                "type": item.type.value,
                "project_id": change.project_id,
                "body": body.decode(),
                "created_at": at,
            }
        )
        delivery_rows.extend(
            {
                "id": new_id(),
                "endpoint_id": endpoint_id,
                "event_id": event_id,
                "project_id": change.project_id,
                "type": item.type.value,
                "status": DeliveryStatus.PENDING.value,
                "attempts": 0,
                "next_attempt_at": at,
                "expires_at": expires_at,
                "created_at": at,
            }
            for endpoint_id in endpoint_ids
        )
    if not event_rows:
        return
    await conn.execute(insert(WebhookEvent), event_rows)
    await conn.execute(insert(WebhookDelivery), delivery_rows)
