"""oversight: provincial audit items get a source key, the responsible community or unit, the
thin flag, claim and outcome note, re-open count; history of outcomes; R22 threshold alerts.

Revision ID: 0008_oversight
Revises: 0007_actions
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

import cases.types

revision = "0008_oversight"
down_revision = "0007_actions"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("provincialaudititem", schema=None) as batch_op:
        batch_op.add_column(sa.Column("source_key", sqlmodel.sql.sqltypes.AutoString(), nullable=True))
        batch_op.add_column(sa.Column("responsible_kind", sqlmodel.sql.sqltypes.AutoString(), nullable=True))
        batch_op.add_column(sa.Column("responsible_code", sqlmodel.sql.sqltypes.AutoString(), nullable=True))
        batch_op.add_column(sa.Column("thin", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column("thin_reason", sqlmodel.sql.sqltypes.AutoString(), nullable=True))
        batch_op.add_column(sa.Column("claimed_by", sqlmodel.sql.sqltypes.AutoString(), nullable=True))
        batch_op.add_column(sa.Column("claimed_at", cases.types.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("note", sqlmodel.sql.sqltypes.AutoString(), nullable=True))
        batch_op.add_column(sa.Column("reopened_count", sa.Integer(), nullable=False, server_default="0"))
        batch_op.create_foreign_key("fk_provincialaudititem_claimed_by_user", "user", ["claimed_by"], ["id"])
        batch_op.create_index(batch_op.f("ix_provincialaudititem_source_key"), ["source_key"], unique=True)
        batch_op.create_index(batch_op.f("ix_provincialaudititem_responsible_code"), ["responsible_code"], unique=False)

    op.create_table(
        "audititemhistory",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("action", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("outcome", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("note", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("by_user_id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("at", cases.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["item_id"], ["provincialaudititem.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_audititemhistory_item_id", "audititemhistory", ["item_id"], unique=False)

    op.create_table(
        "thresholdalert",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("rule", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("area_level", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("area_code", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("threshold", sa.Float(), nullable=False),
        sa.Column("cases", sa.Integer(), nullable=False),
        sa.Column("notification_id", sa.Integer(), nullable=True),
        sa.Column("created_at", cases.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["notification_id"], ["notification.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("rule", "area_code", "period_start"),
    )
    op.create_index("ix_thresholdalert_area_code", "thresholdalert", ["area_code"], unique=False)

    op.create_table(
        "oversightcheck",
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("checked_at", cases.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )


def downgrade() -> None:
    op.drop_table("oversightcheck")
    op.drop_index("ix_thresholdalert_area_code", table_name="thresholdalert")
    op.drop_table("thresholdalert")
    op.drop_index("ix_audititemhistory_item_id", table_name="audititemhistory")
    op.drop_table("audititemhistory")
    with op.batch_alter_table("provincialaudititem", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_provincialaudititem_responsible_code"))
        batch_op.drop_index(batch_op.f("ix_provincialaudititem_source_key"))
        batch_op.drop_constraint("fk_provincialaudititem_claimed_by_user", type_="foreignkey")
        for column in ("reopened_count", "note", "claimed_at", "claimed_by", "thin_reason", "thin", "responsible_code", "responsible_kind", "source_key"):
            batch_op.drop_column(column)
