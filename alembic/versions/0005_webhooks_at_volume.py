"""webhooks at volume and like the best senders: events fanned out by the dispatcher (their owner,
job, version and position; a flag once fanned out), progress coalesced per job, endpoints that can
be disabled and whose secret rotates, and the counters that grow with traffic 64-bit

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03 21:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SEQUENCE = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _widen(old: sa.types.TypeEngine[int], new: sa.types.TypeEngine[int]) -> None:
    """The two counters that grow with traffic, to 64 bits (and back). SQLite's INTEGER PRIMARY KEY
    is 64-bit already, and rebuilding its tables would cost a copy of them for nothing."""
    if op.get_bind().dialect.name == "sqlite":
        return
    for table, column in (("webhook_delivery", "seq"), ("status_history", "id")):
        op.alter_column(table, column, existing_type=old, type_=new, existing_nullable=False)
        size = "bigint" if isinstance(new, sa.BigInteger) else "integer"
        op.execute(f"ALTER SEQUENCE {table}_{column}_seq AS {size}")


def upgrade() -> None:
    op.add_column(
        "webhook_endpoint", sa.Column("enabled", sa.Boolean(), server_default=sa.true(), nullable=False)
    )
    op.add_column("webhook_endpoint", sa.Column("disabled_reason", sa.String(length=500), nullable=True))
    op.add_column("webhook_endpoint", sa.Column("failing_since", sa.DateTime(timezone=True), nullable=True))
    op.add_column("webhook_endpoint", sa.Column("old_secret", sa.String(length=100), nullable=True))
    op.add_column(
        "webhook_endpoint", sa.Column("old_secret_until", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column("webhook_event", sa.Column("owner", sa.String(length=200), nullable=True))
    op.add_column("webhook_event", sa.Column("job_id", sa.String(length=32), nullable=True))
    op.add_column("webhook_event", sa.Column("version", sa.Integer(), server_default="0", nullable=False))
    op.add_column("webhook_event", sa.Column("position", sa.Integer(), server_default="0", nullable=False))
    op.add_column(
        "webhook_event", sa.Column("fanned_out", sa.Boolean(), server_default=sa.true(), nullable=False)
    )
    op.create_index(
        "ix_webhook_event_unfanned_project_id_version_position",
        "webhook_event",
        ["project_id", "version", "position"],
        unique=False,
        postgresql_where=sa.text("NOT fanned_out"),
        sqlite_where=sa.text("NOT fanned_out"),
    )
    op.create_index("ix_webhook_event_created_at", "webhook_event", ["created_at"], unique=False)
    op.add_column("webhook_delivery", sa.Column("job_id", sa.String(length=32), nullable=True))
    op.add_column("webhook_delivery", sa.Column("attempted_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index(
        "ix_webhook_delivery_job_id_endpoint_id",
        "webhook_delivery",
        ["job_id", "endpoint_id"],
        unique=False,
        postgresql_where=sa.text("job_id IS NOT NULL"),
        sqlite_where=sa.text("job_id IS NOT NULL"),
    )
    op.create_index("ix_webhook_delivery_created_at", "webhook_delivery", ["created_at"], unique=False)
    op.create_index(
        "ix_webhook_delivery_pending_seq",
        "webhook_delivery",
        ["seq"],
        unique=False,
        postgresql_where=sa.text("status = 'pending'"),
        sqlite_where=sa.text("status = 'pending'"),
    )
    _widen(sa.Integer(), SEQUENCE)


def downgrade() -> None:
    _widen(SEQUENCE, sa.Integer())
    op.drop_index("ix_webhook_delivery_pending_seq", table_name="webhook_delivery")
    op.drop_index("ix_webhook_delivery_created_at", table_name="webhook_delivery")
    op.drop_index("ix_webhook_delivery_job_id_endpoint_id", table_name="webhook_delivery")
    op.drop_column("webhook_delivery", "attempted_at")
    op.drop_column("webhook_delivery", "job_id")
    op.drop_index("ix_webhook_event_created_at", table_name="webhook_event")
    op.drop_index("ix_webhook_event_unfanned_project_id_version_position", table_name="webhook_event")
    op.drop_column("webhook_event", "fanned_out")
    op.drop_column("webhook_event", "position")
    op.drop_column("webhook_event", "version")
    op.drop_column("webhook_event", "job_id")
    op.drop_column("webhook_event", "owner")
    op.drop_column("webhook_endpoint", "old_secret_until")
    op.drop_column("webhook_endpoint", "old_secret")
    op.drop_column("webhook_endpoint", "failing_since")
    op.drop_column("webhook_endpoint", "disabled_reason")
    op.drop_column("webhook_endpoint", "enabled")
