"""legacy import: the projects `import-legacy` brought in (version left, legacy fingerprint), and
videos that no framestate job made (video.job_id nullable)

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "legacy_import",
        sa.Column("project_id", sa.String(length=32), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("fingerprint", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("synced_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["project_id"], ["project.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("project_id"),
    )
    with op.batch_alter_table("video", schema=None) as batch_op:
        batch_op.alter_column(
            "job_id", existing_type=sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True
        )


def downgrade() -> None:
    """An imported video has no job: it gets the empty text, the column's old shape allows no null."""
    op.execute("UPDATE video SET job_id = '' WHERE job_id IS NULL")
    with op.batch_alter_table("video", schema=None) as batch_op:
        batch_op.alter_column(
            "job_id", existing_type=sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False
        )
    op.drop_table("legacy_import")
