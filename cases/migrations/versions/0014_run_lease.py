"""run_lease: one worker at a time proposes a new state for a flow run (workers/housekeeping.py).

Revision ID: 0014_run_lease
Revises: 0013_attachments
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

import cases.types

revision = "0014_run_lease"
down_revision = "0013_attachments"
branch_labels = None
depends_on = None


def upgrade() -> None:
    text = sqlmodel.sql.sqltypes.AutoString
    op.create_table(
        "runlease",
        sa.Column("flow_run_id", text(), nullable=False),
        sa.Column("holder", text(), nullable=False),
        sa.Column("expires_at", cases.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("flow_run_id"),
    )
    op.create_index("ix_runlease_expires_at", "runlease", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_runlease_expires_at", table_name="runlease")
    op.drop_table("runlease")
