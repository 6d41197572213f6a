"""The transactional outbox: a committed change writes its webhook events and their deliveries in
its own transaction, so there is never a change without its events nor an event without its change.

The write path calls `stage_write` (or `stage_created`) once, after it has saved the change and
before it commits. Whether any endpoint exists at all is read by the write's own first statement
(`ANY_ENDPOINT`, a column of the unit of work's load; on PostgreSQL read before the write's
`BEGIN`, as every read of a unit of work is), so a write costs nothing more while no webhook
exists, in any number of processes. A write that found an endpoint runs its statements in one
transaction, the events' and deliveries' included. Otherwise staging costs one
indexed query of the endpoints that want the change's event types; only when one does is the
project's card read and are rows written.
"""

import asyncio
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import msgspec
from sqlalchemy import Exists, exists, insert, literal
from sqlalchemy import select as core_select
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import col, select

from fsm.facts import Action
from fsm.jobs import ACTIVE_JOB_STATUSES, JobStatus
from service.schemas import ExportJobOut, ProjectOut
from service.store.cards import read_card
from service.store.records import JobRecord, ProjectRecord
from service.store.tables import new_id
from service.webhooks.schemas import EventType
from service.webhooks.tables import (
    DeliveryStatus,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
    WebhookSubscription,
)

if TYPE_CHECKING:
    from service.context import Context
    from service.writes.unit_of_work import UnitOfWork

ENDED_EVENTS: dict[str, EventType] = {
    JobStatus.SUCCEEDED.value: EventType.EXPORT_SUCCEEDED,
    JobStatus.FAILED.value: EventType.EXPORT_FAILED,
    JobStatus.CANCELLED.value: EventType.EXPORT_CANCELLED,
    JobStatus.SUPERSEDED.value: EventType.EXPORT_SUPERSEDED,
}


ANY_ENDPOINT: Exists = exists(core_select(literal(1)).select_from(WebhookEndpoint.__table__))  # type: ignore[attr-defined]
"""Whether any webhook endpoint exists: a column of the write's first statement."""


@dataclass(slots=True)
class Outbox:
    """A process's side of the outbox: `wake` tells the dispatcher that a commit staged deliveries."""

    wake: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass(frozen=True, slots=True)
class Event:
    type: EventType
    job: JobRecord | None = None


def events_of_write(uow: "UnitOfWork") -> list[Event]:
    """What one committed write means to a webhook, in order: the jobs it started or ended (or the
    progress it reported), then the status change (the history row) they caused."""
    if uow.announced_version is None:
        return [Event(EventType.PROJECT_DELETED)]
    changed = sorted(
        (job for job in uow.active_jobs if job.updated_at == uow.now),
        key=lambda job: job.status == JobStatus.SUPERSEDED,
    )
    events: list[Event] = []
    for job in changed:
        if job.status in ACTIVE_JOB_STATUSES:
            started = job.created_at == uow.now
            events.append(Event(EventType.EXPORT_STARTED if started else EventType.EXPORT_PROGRESS, job))
        elif job.status == JobStatus.FAILED and uow.action is Action.JOB_TIMED_OUT:
            events.append(Event(EventType.EXPORT_TIMED_OUT, job))
        else:
            events.append(Event(ENDED_EVENTS[job.status], job))
    if uow.project.status != uow.status.value:
        events.append(Event(EventType.PROJECT_STATUS_CHANGED, changed[0] if changed else None))
    return events


async def stage_write(conn: AsyncConnection, uow: "UnitOfWork", *, ctx: "Context") -> bool:
    """Stage the events of a saved, uncommitted write; True when deliveries were staged (the
    dispatcher is woken once the write has committed)."""
    events = events_of_write(uow)
    project = uow.project
    if not events:
        return False
    targets = await _endpoints_for(conn, {e.type for e in events}, project.owner, ctx)
    if not targets:
        return False
    if uow.announced_version is None:
        project_data: Any = {"id": project.id}
    else:
        project_data = await read_card(conn, project.id, None)
    await _add(conn, project, project_data, events, targets, uow.now, ctx)
    return True


async def stage_created(
    conn: AsyncConnection, project: ProjectRecord, card: ProjectOut, *, ctx: "Context"
) -> bool:
    """Stage `project.created` for a project inserted, uncommitted, on `conn`; True when deliveries
    were staged."""
    if not (await conn.execute(core_select(ANY_ENDPOINT))).scalar_one():
        return False
    targets = await _endpoints_for(conn, {EventType.PROJECT_CREATED}, project.owner, ctx)
    if not targets:
        return False
    await _add(conn, project, card, [Event(EventType.PROJECT_CREATED)], targets, project.created_at, ctx)
    return True


async def _endpoints_for(
    conn: AsyncConnection, types: set[EventType], owner: str | None, ctx: "Context"
) -> dict[EventType, list[str]]:
    """The endpoints that asked for each of `types` and may hear of this project: with auth on, only
    those of the project's owner."""
    query = (
        select(WebhookSubscription.event_type, WebhookSubscription.endpoint_id)
        .join(WebhookEndpoint, col(WebhookEndpoint.id) == col(WebhookSubscription.endpoint_id))
        .where(col(WebhookSubscription.event_type).in_([t.value for t in types]))
        .order_by(col(WebhookSubscription.endpoint_id))
    )
    if ctx.settings.auth_on:
        query = query.where(
            col(WebhookEndpoint.owner).is_(None) if owner is None else col(WebhookEndpoint.owner) == owner
        )
    targets: dict[EventType, list[str]] = {}
    for event_type, endpoint_id in (await conn.execute(query)).all():
        targets.setdefault(EventType(event_type), []).append(endpoint_id)
    return targets


async def _add(
    conn: AsyncConnection,
    project: ProjectRecord,
    project_data: Any,
    events: list[Event],
    targets: dict[EventType, list[str]],
    at: datetime,
    ctx: "Context",
) -> None:
    """Insert the events and their deliveries, in the events' order (the order of `seq`)."""
    expires_at = at + timedelta(seconds=ctx.settings.webhook_max_age_s)
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
                "project_id": project.id,
                "body": body.decode(),
                "created_at": at,
            }
        )
        delivery_rows.extend(
            {
                "id": new_id(),
                "endpoint_id": endpoint_id,
                "event_id": event_id,
                "project_id": project.id,
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
