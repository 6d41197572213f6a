"""The JSON shapes of the webhook API, and the event types a webhook may ask for."""

from datetime import datetime
from enum import StrEnum
from typing import Annotated

import msgspec

from service.schemas import NO_NUL, as_utc, as_utc_or_none
from service.webhooks.tables import URL_MAX, WebhookDelivery, WebhookEndpoint


class EventType(StrEnum):
    PROJECT_CREATED = "project.created"
    PROJECT_STATUS_CHANGED = "project.status_changed"
    PROJECT_DELETED = "project.deleted"
    EXPORT_STARTED = "export.started"
    EXPORT_PROGRESS = "export.progress"
    EXPORT_SUCCEEDED = "export.succeeded"
    EXPORT_FAILED = "export.failed"
    EXPORT_CANCELLED = "export.cancelled"
    EXPORT_TIMED_OUT = "export.timed_out"
    EXPORT_SUPERSEDED = "export.superseded"


class WebhookCreate(msgspec.Struct):
    url: Annotated[str, msgspec.Meta(min_length=1, max_length=URL_MAX, pattern=NO_NUL)]
    events: Annotated[list[EventType], msgspec.Meta(min_length=1, max_length=len(EventType))]


TEST_EVENT = "webhook.test"
"""The type of the event `POST /v1/webhooks/{id}/test` sends: it cannot be subscribed to."""


class WebhookPatch(msgspec.Struct):
    """What `PATCH /v1/webhooks/{id}` changes: each field left out (or null) stays as it is."""

    url: Annotated[str, msgspec.Meta(min_length=1, max_length=URL_MAX, pattern=NO_NUL)] | None = None
    events: Annotated[list[EventType], msgspec.Meta(min_length=1, max_length=len(EventType))] | None = None
    enabled: bool | None = None


class WebhookOut(msgspec.Struct):
    id: str
    url: str
    events: list[str]
    enabled: bool
    disabled_reason: str | None
    created_at: datetime

    @classmethod
    def of(cls, endpoint: WebhookEndpoint) -> "WebhookOut":
        return cls(
            endpoint.id,
            endpoint.url,
            endpoint.events,
            endpoint.enabled,
            endpoint.disabled_reason,
            as_utc(endpoint.created_at),
        )


class WebhookCreated(msgspec.Struct):
    """The answer to a creation: the only one, with a rotation's, that shows the signing secret."""

    id: str
    url: str
    events: list[str]
    enabled: bool
    disabled_reason: str | None
    secret: str
    created_at: datetime

    @classmethod
    def of(cls, endpoint: WebhookEndpoint) -> "WebhookCreated":
        return cls(
            endpoint.id,
            endpoint.url,
            endpoint.events,
            endpoint.enabled,
            endpoint.disabled_reason,
            endpoint.secret,
            as_utc(endpoint.created_at),
        )


class SecretOut(msgspec.Struct):
    secret: str


class RecoverRequest(msgspec.Struct):
    since: Annotated[datetime, msgspec.Meta(tz=True)]
    """Failed deliveries made since then are sent again (an RFC 3339 time with its offset)."""


class Recovered(msgspec.Struct):
    recovered: int
    """How many failed deliveries are pending again."""


class SentTestEvent(msgspec.Struct):
    delivery_id: str


class DeliveryOut(msgspec.Struct):
    id: str
    event_id: str
    type: str
    status: str
    attempts: int
    last_status_code: int | None
    last_error: str | None
    next_attempt_at: datetime | None
    created_at: datetime
    delivered_at: datetime | None

    @classmethod
    def of(cls, delivery: WebhookDelivery) -> "DeliveryOut":
        return cls(
            id=delivery.id,
            event_id=delivery.event_id,
            type=delivery.type,
            status=delivery.status,
            attempts=delivery.attempts,
            last_status_code=delivery.last_status_code,
            last_error=delivery.last_error,
            next_attempt_at=as_utc_or_none(delivery.next_attempt_at),
            created_at=as_utc(delivery.created_at),
            delivered_at=as_utc_or_none(delivery.delivered_at),
        )


class DeliveryPage(msgspec.Struct):
    items: list[DeliveryOut]
    next_cursor: str | None
