"""heartbeat: long-lived processes (the flow dispatcher) report that they are alive; /healthz reads it.

Revision ID: 0005
Revises: 0003_calendar
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

import cases.types

revision = "0004_heartbeat"
down_revision = "0003_calendar"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "heartbeat",
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("host", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("state", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("started_at", cases.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("beat_at", cases.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )


def downgrade() -> None:
    op.drop_table("heartbeat")
