"""admin: the administration log (accounts, calendar upkeep, key rotations, unit refusals).

Revision ID: 0012_admin
Revises: 0011_recovery
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

import cases.types

revision = "0012_admin"
down_revision = "0011_recovery"
branch_labels = None
depends_on = None


def upgrade() -> None:
    text = sqlmodel.sql.sqltypes.AutoString()
    op.create_table(
        "adminevent",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", cases.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("actor", text, nullable=False),
        sa.Column("action", text, nullable=False),
        sa.Column("target", text, nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_adminevent_action", "adminevent", ["action"])
    op.create_index("ix_adminevent_target", "adminevent", ["target"])


def downgrade() -> None:
    op.drop_index("ix_adminevent_target", "adminevent")
    op.drop_index("ix_adminevent_action", "adminevent")
    op.drop_table("adminevent")
