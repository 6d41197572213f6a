"""project owner: the client that created a project, when auth is on (null otherwise)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 04:36:00.458139
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("project", schema=None) as batch_op:
        batch_op.add_column(sa.Column("owner", sa.String(length=200), nullable=True))
        batch_op.create_index("ix_project_owner_created_at_id", ["owner", "created_at", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("project", schema=None) as batch_op:
        batch_op.drop_index("ix_project_owner_created_at_id")
        batch_op.drop_column("owner")
