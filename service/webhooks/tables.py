"""The webhook tables: endpoints, what each subscribes to, events, and one delivery per event and
endpoint (its attempt log). Events are written by the change they describe, in its transaction."""

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    Exists,
    ForeignKey,
    Index,
    String,
    Text,
    exists,
    literal,
    select,
    text,
    true,
)
from sqlmodel import Field, SQLModel

from service.store.tables import ID_LENGTH, OWNER_MAX, SEQUENCE, new_id, utcnow

URL_MAX = 2000
EVENT_TYPE_MAX = 32
SECRET_MAX = 100
LAST_ERROR_MAX = 500
DISABLED_REASON_MAX = 500


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"
    SKIPPED = "skipped"
    """A progress delivery whose figures a newer one carries, or whose job ended before it went."""


def _fk(target: str) -> Any:
    return Field(
        sa_column_args=[ForeignKey(target, ondelete="CASCADE")], sa_type=String(ID_LENGTH), nullable=False
    )


class WebhookEndpoint(SQLModel, table=True):
    __tablename__ = "webhook_endpoint"
    __table_args__ = (Index("ix_webhook_endpoint_owner_created_at_id", "owner", "created_at", "id"),)

    id: str = Field(default_factory=new_id, primary_key=True, max_length=ID_LENGTH)
    owner: str | None = Field(default=None, sa_type=String(OWNER_MAX))
    url: str = Field(sa_type=String(URL_MAX))
    events: list[str] = Field(sa_column=Column(JSON, nullable=False))
    secret: str = Field(sa_type=String(SECRET_MAX))
    created_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))
    enabled: bool = Field(default=True, sa_column_kwargs={"server_default": true()})
    disabled_reason: str | None = Field(default=None, sa_type=String(DISABLED_REASON_MAX))
    failing_since: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    """When the unbroken run of failed attempts now going on began; None while attempts succeed."""
    old_secret: str | None = Field(default=None, sa_type=String(SECRET_MAX))
    old_secret_until: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    """After a rotation, attempts are signed with the old secret too until then."""


class WebhookSubscription(SQLModel, table=True):
    """One row per endpoint and event type it asked for: what the outbox matches a change against."""

    __tablename__ = "webhook_subscription"
    __table_args__ = (Index("ix_webhook_subscription_event_type", "event_type"),)

    endpoint_id: str = Field(
        sa_column_args=[ForeignKey("webhook_endpoint.id", ondelete="CASCADE")],
        sa_type=String(ID_LENGTH),
        primary_key=True,
    )
    event_type: str = Field(sa_type=String(EVENT_TYPE_MAX), primary_key=True)


FANNED_OUT_NOT = text("NOT fanned_out")


class WebhookEvent(SQLModel, table=True):
    """An event as sent: `body` is the exact JSON every endpoint receives and every signature signs.
    A change writes its events, one row each, in its own transaction; the dispatcher then makes
    their deliveries (`fanned_out`), in the order of the project's `version` and the event's
    `position` in its change, which is the order of their commits."""

    __tablename__ = "webhook_event"
    __table_args__ = (
        Index(
            "ix_webhook_event_unfanned_project_id_version_position",
            "project_id",
            "version",
            "position",
            postgresql_where=FANNED_OUT_NOT,
            sqlite_where=FANNED_OUT_NOT,
        ),
        Index("ix_webhook_event_created_at", "created_at"),
    )

    id: str = Field(default_factory=new_id, primary_key=True, max_length=ID_LENGTH)
    type: str = Field(sa_type=String(EVENT_TYPE_MAX))
    project_id: str = Field(sa_type=String(ID_LENGTH))
    body: str = Field(sa_type=Text)
    created_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))
    owner: str | None = Field(default=None, sa_type=String(OWNER_MAX))
    job_id: str | None = Field(default=None, sa_type=String(ID_LENGTH))
    version: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    position: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    fanned_out: bool = Field(default=False, sa_column_kwargs={"server_default": true()})


ANY_ENDPOINT: Exists = exists(select(literal(1)).select_from(WebhookEndpoint.__table__))  # type: ignore[attr-defined]
"""Whether any webhook endpoint exists: a column of the first statement of every write, so that a
write stages no event while none does."""
ANY_PROGRESS_SUBSCRIPTION: Exists = exists(
    select(literal(1))
    .select_from(WebhookSubscription.__table__)  # type: ignore[attr-defined]
    .where(text("event_type = 'export.progress'"))
)
"""Whether any endpoint asked for `export.progress`: a progress report stages its event only then."""


PENDING_ONLY = text("status = 'pending'")
WITH_JOB = text("job_id IS NOT NULL")
"""The claim asks whether an earlier delivery of the same endpoint and project is still pending:
an index of the pending ones only answers that in one probe, however many were delivered before."""


class WebhookDelivery(SQLModel, table=True):
    """One event to one endpoint. `seq` orders the deliveries of one endpoint and project; a claim
    holds `lease_token` until `lease_until`, so no two processes attempt one delivery at once."""

    __tablename__ = "webhook_delivery"
    __table_args__ = (
        Index("ix_webhook_delivery_status_next_attempt_at", "status", "next_attempt_at"),
        Index(
            "ix_webhook_delivery_pending_endpoint_id_project_id_seq",
            "endpoint_id",
            "project_id",
            "seq",
            postgresql_where=PENDING_ONLY,
            sqlite_where=PENDING_ONLY,
        ),
        Index("ix_webhook_delivery_endpoint_id_seq", "endpoint_id", "seq"),
        Index(
            "ix_webhook_delivery_job_id_endpoint_id",
            "job_id",
            "endpoint_id",
            postgresql_where=WITH_JOB,
            sqlite_where=WITH_JOB,
        ),
        Index(
            "ix_webhook_delivery_pending_seq", "seq", postgresql_where=PENDING_ONLY, sqlite_where=PENDING_ONLY
        ),
        Index("ix_webhook_delivery_created_at", "created_at"),
    )

    seq: int | None = Field(default=None, primary_key=True, sa_type=SEQUENCE)
    id: str = Field(default_factory=new_id, max_length=ID_LENGTH, unique=True)
    endpoint_id: str = _fk("webhook_endpoint.id")
    event_id: str = _fk("webhook_event.id")
    project_id: str = Field(sa_type=String(ID_LENGTH))
    type: str = Field(sa_type=String(EVENT_TYPE_MAX))
    status: str = Field(default=DeliveryStatus.PENDING.value, max_length=16)
    attempts: int = Field(default=0)
    last_status_code: int | None = Field(default=None)
    last_error: str | None = Field(default=None, sa_type=String(LAST_ERROR_MAX))
    next_attempt_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    expires_at: datetime = Field(sa_type=DateTime(timezone=True))
    lease_until: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    lease_token: str | None = Field(default=None, max_length=ID_LENGTH)
    created_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))
    delivered_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    job_id: str | None = Field(default=None, sa_type=String(ID_LENGTH))
    """The job of an `export.progress` delivery, by which progress is coalesced."""
    attempted_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    """When the last attempt began."""
