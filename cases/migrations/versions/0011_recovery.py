"""recovery: one-time codes that get an applicant back into a case after losing its link

Revision ID: 0011_recovery
Revises: 0010_reporting
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

import cases.types

revision = "0011_recovery"
down_revision = "0010_reporting"
branch_labels = None
depends_on = None


def upgrade() -> None:
    ts = cases.types.UTCDateTime(timezone=True)
    text = sqlmodel.sql.sqltypes.AutoString()
    op.create_table(
        "recoverychallenge",
        sa.Column("id", text, nullable=False),
        sa.Column("application_id", text, nullable=True),
        sa.Column("matched", sa.Boolean(), nullable=False),
        sa.Column("code_hash", text, nullable=False),
        sa.Column("created_at", ts, nullable=False),
        sa.Column("expires_at", ts, nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("used_at", ts, nullable=True),
        sa.Column("client", text, nullable=False),
        sa.ForeignKeyConstraint(["application_id"], ["application.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_recoverychallenge_application_id", "recoverychallenge", ["application_id"])


def downgrade() -> None:
    op.drop_index("ix_recoverychallenge_application_id", table_name="recoverychallenge")
    op.drop_table("recoverychallenge")
