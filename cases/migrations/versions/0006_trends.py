"""trends: daily roll-ups per region (trend_daily, trend_rollup) and the indexes the roll-up reads.

Revision ID: 0006_trends
Revises: 0005_supervision
"""
import sqlalchemy as sa
from alembic import op

import cases.types

revision = "0006_trends"
down_revision = "0005_supervision"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "trend_daily",
        sa.Column("region_code", sa.String(length=12), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("level", sa.String(), nullable=False),
        sa.Column("submitted", sa.Integer(), nullable=False),
        sa.Column("decided", sa.Integer(), nullable=False),
        sa.Column("approved", sa.Integer(), nullable=False),
        sa.Column("rejected", sa.Integer(), nullable=False),
        sa.Column("auto_issued", sa.Integer(), nullable=False),
        sa.Column("decided_breached", sa.Integer(), nullable=False),
        sa.Column("breaches", sa.Integer(), nullable=False),
        sa.Column("complaints", sa.Integer(), nullable=False),
        sa.Column("decision_minutes", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("region_code", "day"),
    )
    op.create_table(
        "trend_rollup",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("rolled_at", cases.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("final", sa.Boolean(), nullable=False),
        sa.Column("cases", sa.Integer(), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("day"),
    )
    op.create_index("ix_trends_application_decided_at", "application", ["decided_at"])
    op.create_index("ix_trends_application_submitted_at", "application", ["submitted_at"])
    op.create_index("ix_trends_application_breached_at", "application", ["breached_at"])
    op.create_index("ix_trends_auditem_kind_created", "provincialaudititem", ["kind", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_trends_auditem_kind_created", table_name="provincialaudititem")
    op.drop_index("ix_trends_application_breached_at", table_name="application")
    op.drop_index("ix_trends_application_submitted_at", table_name="application")
    op.drop_index("ix_trends_application_decided_at", table_name="application")
    op.drop_table("trend_rollup")
    op.drop_table("trend_daily")
