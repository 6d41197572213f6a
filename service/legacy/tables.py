"""What framestate remembers of an import: which projects it brought in, the version each was left
at, and a fingerprint of the legacy facts it was brought in line with. A project whose version has
moved since was changed in framestate (it has diverged); one whose legacy fingerprint has changed
is synced. The row goes with its project."""

from datetime import datetime

from sqlalchemy import Column, DateTime, ForeignKey, String
from sqlmodel import Field, SQLModel

from service.store.tables import ID_LENGTH

FINGERPRINT_LENGTH = 32


class LegacyImport(SQLModel, table=True):
    __tablename__ = "legacy_import"

    project_id: str = Field(
        sa_column=Column(String(ID_LENGTH), ForeignKey("project.id", ondelete="CASCADE"), primary_key=True)
    )
    version: int
    """The project's version when the import (or the last sync) left it."""
    fingerprint: str = Field(max_length=FINGERPRINT_LENGTH)
    """Of the legacy facts it was brought in line with (`service.legacy.plan.fingerprint`)."""
    imported_at: datetime = Field(sa_type=DateTime(timezone=True))
    synced_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
