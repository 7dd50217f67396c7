"""reporting: R23 municipal reporting obligations, the cities they bind, the cities' reports, events.

Revision ID: 0010_reporting
Revises: 0009_public
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

import cases.types

revision = "0010_reporting"
down_revision = "0009_public"
branch_labels = None
depends_on = None


def upgrade() -> None:
    ts = cases.types.UTCDateTime(timezone=True)
    text = sqlmodel.sql.sqltypes.AutoString()
    op.create_table(
        "reportingobligation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("title", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("due_at", ts, nullable=False),
        sa.Column("all_cities", sa.Boolean(), nullable=False),
        sa.Column("created_by", text, nullable=False),
        sa.Column("created_at", ts, nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "reportingobligationcity",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("obligation_id", sa.Integer(), nullable=False),
        sa.Column("city_code", text, nullable=False),
        sa.Column("due_at", ts, nullable=False),
        sa.Column("overdue_pending", sa.Boolean(), nullable=False),
        sa.Column("overdue_notified_at", ts, nullable=True),
        sa.ForeignKeyConstraint(["obligation_id"], ["reportingobligation.id"]),
        sa.ForeignKeyConstraint(["city_code"], ["region.code"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("obligation_id", "city_code"),
    )
    op.create_index("ix_reportingobligationcity_obligation_id", "reportingobligationcity", ["obligation_id"])
    op.create_index("ix_reportingobligationcity_city_code", "reportingobligationcity", ["city_code"])
    op.create_index("ix_reportingobligationcity_overdue", "reportingobligationcity", ["overdue_pending", "due_at"])
    op.create_table(
        "cityreport",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("obligation_id", sa.Integer(), nullable=False),
        sa.Column("city_code", text, nullable=False),
        sa.Column("status", sa.Enum("implemented", "partially_implemented", "not_implemented", name="implementationstatus"), nullable=False),
        sa.Column("implementation", sa.Text(), nullable=False),
        sa.Column("city_numbers", sa.JSON(), nullable=False),
        sa.Column("county_numbers", sa.JSON(), nullable=False),
        sa.Column("submitted_by", text, nullable=False),
        sa.Column("submitted_at", ts, nullable=False),
        sa.Column("amended_at", ts, nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["obligation_id"], ["reportingobligation.id"]),
        sa.ForeignKeyConstraint(["city_code"], ["region.code"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("obligation_id", "city_code"),
    )
    op.create_index("ix_cityreport_obligation_id", "cityreport", ["obligation_id"])
    op.create_index("ix_cityreport_city_code", "cityreport", ["city_code"])
    op.create_table(
        "reportingevent",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("obligation_id", sa.Integer(), nullable=False),
        sa.Column("city_code", text, nullable=True),
        sa.Column("action", text, nullable=False),
        sa.Column("actor", text, nullable=False),
        sa.Column("at", ts, nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["obligation_id"], ["reportingobligation.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_reportingevent_obligation_id", "reportingevent", ["obligation_id"])
    op.create_index("ix_reportingevent_city_code", "reportingevent", ["city_code"])


def downgrade() -> None:
    op.drop_table("reportingevent")
    op.drop_table("cityreport")
    op.drop_table("reportingobligationcity")
    op.drop_table("reportingobligation")
    sa.Enum(name="implementationstatus").drop(op.get_bind(), checkfirst=True)
