"""history actor and reason, job cancel_reason: who made a change and why (null on older rows)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 15:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("status_history", schema=None) as batch_op:
        batch_op.add_column(sa.Column("actor", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("reason", sa.String(length=2000), nullable=True))
    with op.batch_alter_table("export_job", schema=None) as batch_op:
        batch_op.add_column(sa.Column("cancel_reason", sa.String(length=500), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("export_job", schema=None) as batch_op:
        batch_op.drop_column("cancel_reason")
    with op.batch_alter_table("status_history", schema=None) as batch_op:
        batch_op.drop_column("reason")
        batch_op.drop_column("actor")
