"""calendar: imported official schedules, provisional deadlines

Revision ID: 0003_calendar
Revises: 0002
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

import cases.types

revision = "0003_calendar"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "calendaryear",
        sa.Column("year", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("imported_at", cases.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("imported_by", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("source_name", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("sha256", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("holidays", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("workdays", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("missing_notified_at", cases.types.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("year"),
    )
    with op.batch_alter_table("calendaroverride") as batch_op:
        batch_op.add_column(sa.Column("source", sqlmodel.sql.sqltypes.AutoString(), nullable=False, server_default="provincial"))
    with op.batch_alter_table("application") as batch_op:
        batch_op.add_column(sa.Column("sla_provisional", sa.Boolean(), nullable=False, server_default=sa.false()))
    with op.batch_alter_table("slatimer") as batch_op:
        batch_op.add_column(sa.Column("provisional", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("slatimer") as batch_op:
        batch_op.drop_column("provisional")
    with op.batch_alter_table("application") as batch_op:
        batch_op.drop_column("sla_provisional")
    with op.batch_alter_table("calendaroverride") as batch_op:
        batch_op.drop_column("source")
    op.drop_table("calendaryear")
