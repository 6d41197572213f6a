"""Who sees what. With auth on, a client sees only what it owns (its projects, its webhooks); a
caller of no owner (auth off, or a worker) sees everything. Written once here, for Python and SQL."""

from typing import Any

from sqlalchemy import ColumnElement, true
from sqlalchemy.orm import Mapped

OwnerColumn = ColumnElement[Any] | Mapped[Any]


def visible_to(owner_of: str | None, viewer: str | None) -> bool:
    return viewer is None or owner_of == viewer


def visible(owner_column: OwnerColumn, viewer: str | None) -> ColumnElement[bool]:
    """`visible_to` as a condition on the owner column of rows."""
    return true() if viewer is None else owner_column == viewer


def owned_by(owner_column: OwnerColumn, owner: str | None) -> ColumnElement[bool]:
    """Rows of exactly this owner: with auth off, everything belongs to the one owner nobody."""
    return owner_column.is_(None) if owner is None else owner_column == owner
