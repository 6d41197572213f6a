"""The SQLModel tables. Constraints are declared here, next to their columns, and nowhere else.

Clip counts and the current videos are kept on the project row: every change to them goes
through the unit of work, which also moves the row's `version`, so they cannot drift, and a card
or the facts of a decision need no aggregate query.
"""

import re
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlmodel import Field, SQLModel

ID_LENGTH = 32
NAME_MAX = 200
ERROR_MAX = 2000
MESSAGE_MAX = 2000
URI_MAX = 2000
IDEMPOTENCY_KEY_MAX = 200
OWNER_MAX = 200
CANCEL_REASON_MAX = 500


ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,32}")
"""The ids rows here can have: those this service makes (32 lower-case hex characters) and those
`framestate import-legacy` keeps from an existing app's database (integers as decimal text, and
text ids of 1 to 32 letters, digits, `-` or `_`)."""


SEQUENCE = BigInteger().with_variant(Integer(), "sqlite")
"""A 64-bit counter; on SQLite an INTEGER PRIMARY KEY, which is 64-bit and counts by itself."""


def new_id() -> str:
    return uuid.uuid4().hex


def is_id(value: str) -> bool:
    """Whether `value` could be the id of a row here (any other is simply unknown)."""
    return ID_PATTERN.fullmatch(value) is not None


def utcnow() -> datetime:
    return datetime.now(UTC)


def _id() -> Any:
    return Field(default_factory=new_id, primary_key=True, max_length=ID_LENGTH)


def _project_fk() -> Any:
    return Field(
        sa_column_args=[ForeignKey("project.id", ondelete="CASCADE")],
        sa_type=String(ID_LENGTH),
        nullable=False,
    )


class Project(SQLModel, table=True):
    __tablename__ = "project"
    __table_args__ = (
        Index("ix_project_created_at_id", "created_at", "id"),
        Index("ix_project_status_created_at_id", "status", "created_at", "id"),
        Index("ix_project_owner_created_at_id", "owner", "created_at", "id"),
    )

    id: str = _id()
    name: str = Field(sa_type=String(NAME_MAX))
    owner: str | None = Field(default=None, sa_type=String(OWNER_MAX))
    status: str = Field(max_length=32)
    version: int = Field(default=1)
    clip_count: int = Field(default=0)
    framed_clip_count: int = Field(default=0)
    working_video_id: str | None = Field(default=None, max_length=ID_LENGTH)
    final_video_id: str | None = Field(default=None, max_length=ID_LENGTH)
    created_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))
    updated_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))


class Clip(SQLModel, table=True):
    __tablename__ = "clip"
    __table_args__ = (Index("ix_clip_project_id_created_at", "project_id", "created_at"),)

    id: str = _id()
    project_id: str = _project_fk()
    crop_data: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON(none_as_null=True)))
    created_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))
    updated_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))


class Video(SQLModel, table=True):
    __tablename__ = "video"
    __table_args__ = (
        UniqueConstraint("project_id", "kind", "version", name="uq_video_project_kind_version"),
    )

    id: str = _id()
    project_id: str = _project_fk()
    kind: str = Field(max_length=16)
    version: int
    uri: str | None = Field(default=None, sa_type=Text)
    job_id: str | None = Field(default=None, max_length=ID_LENGTH)
    """The job that made it; null for a video brought in by `import-legacy`."""
    created_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))


class ExportJob(SQLModel, table=True):
    __tablename__ = "export_job"
    __table_args__ = (
        Index("ix_export_job_project_id_status", "project_id", "status"),
        Index("ix_export_job_status_reported_at", "status", "reported_at"),
        UniqueConstraint("project_id", "idempotency_key", name="uq_export_job_project_idempotency_key"),
    )

    id: str = _id()
    project_id: str = _project_fk()
    type: str = Field(max_length=16)
    status: str = Field(max_length=16)
    progress: float = Field(default=0.0)
    message: str | None = Field(default=None, sa_type=Text)
    error: str | None = Field(default=None, sa_type=String(ERROR_MAX))
    input_video_id: str | None = Field(default=None, max_length=ID_LENGTH)
    output_video_id: str | None = Field(default=None, max_length=ID_LENGTH)
    idempotency_key: str | None = Field(default=None, sa_type=String(IDEMPOTENCY_KEY_MAX))
    created_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))
    updated_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))
    reported_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))
    finished_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    cancel_reason: str | None = Field(default=None, sa_type=String(CANCEL_REASON_MAX))


class StatusChange(SQLModel, table=True):
    __tablename__ = "status_history"
    __table_args__ = (Index("ix_status_history_project_id_id", "project_id", "id"),)

    id: int | None = Field(default=None, primary_key=True, sa_type=SEQUENCE)
    project_id: str = _project_fk()
    at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))
    action: str = Field(max_length=32)
    from_status: str | None = Field(default=None, max_length=32)
    to_status: str = Field(max_length=32)
    job_id: str | None = Field(default=None, max_length=ID_LENGTH)
    actor: str | None = Field(default=None, sa_type=Text)
    """The token `sub` that made the change, `system:sweep` for a time-out, null when unknown."""
    reason: str | None = Field(default=None, sa_type=String(ERROR_MAX))
    """The `error` of a fail or the reason of a cancel."""
