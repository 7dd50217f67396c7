"""public: the directory (entries + change log), complaints, the hotline role (R20)

Revision ID: 0009_public
Revises: 0008_oversight
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

import cases.types

revision = "0009_public"
down_revision = "0008_oversight"
branch_labels = None
depends_on = None

S = sqlmodel.sql.sqltypes.AutoString


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        # PostgreSQL 12+ allows this inside the migration's transaction (the value is not used in it).
        op.execute("ALTER TYPE role ADD VALUE IF NOT EXISTS 'hotline'")
    op.create_table(
        "directoryentry",
        sa.Column("region_code", S(length=12), nullable=False),
        sa.Column("county_code", S(length=12), nullable=False),
        sa.Column("complaint_phone", S(), nullable=True),
        sa.Column("service_account", sa.JSON(), nullable=True),
        sa.Column("app", sa.JSON(), nullable=True),
        sa.Column("address", S(), nullable=True),
        sa.Column("phone", S(), nullable=True),
        sa.Column("hours", S(), nullable=True),
        sa.Column("updated_at", cases.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_by", S(), nullable=False),
        sa.ForeignKeyConstraint(["region_code"], ["region.code"]),
        sa.PrimaryKeyConstraint("region_code"),
    )
    op.create_index(op.f("ix_directoryentry_county_code"), "directoryentry", ["county_code"], unique=False)
    op.create_table(
        "directorychange",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("region_code", S(length=12), nullable=False),
        sa.Column("county_code", S(length=12), nullable=False),
        sa.Column("field", S(), nullable=False),
        sa.Column("before", S(), nullable=True),
        sa.Column("after", S(), nullable=True),
        sa.Column("note", S(), nullable=True),
        sa.Column("actor", S(), nullable=False),
        sa.Column("at", cases.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_directorychange_region_code"), "directorychange", ["region_code"], unique=False)
    op.create_index(op.f("ix_directorychange_county_code"), "directorychange", ["county_code"], unique=False)
    op.create_table(
        "complaint",
        sa.Column("id", S(), nullable=False),
        sa.Column("reference", S(length=32), nullable=False),
        sa.Column("token_hash", S(), nullable=False),
        sa.Column("channel", S(), nullable=False),
        sa.Column("category", S(), nullable=False),
        sa.Column("region_code", S(length=12), nullable=False),
        sa.Column("county_code", S(length=12), nullable=False),
        sa.Column("application_id", S(), nullable=True),
        sa.Column("contact_name", S(), nullable=True),
        sa.Column("contact_phone", S(), nullable=True),
        sa.Column("description", S(), nullable=False),
        sa.Column("status", S(), nullable=False),
        sa.Column("created_at", cases.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("due_at", cases.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("recorded_by", S(), nullable=True),
        sa.Column("audit_item_id", sa.Integer(), nullable=True),
        sa.Column("response", S(), nullable=True),
        sa.Column("responded_at", cases.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("responded_by", S(), nullable=True),
        sa.ForeignKeyConstraint(["application_id"], ["application.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    for column, unique in (("reference", True), ("region_code", False), ("county_code", False), ("application_id", False), ("status", False), ("created_at", False)):
        op.create_index(op.f(f"ix_complaint_{column}"), "complaint", [column], unique=unique)
    op.create_table(
        "complaintevent",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("complaint_id", S(), nullable=False),
        sa.Column("at", cases.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("actor", S(), nullable=False),
        sa.Column("action", S(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["complaint_id"], ["complaint.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_complaintevent_complaint_id"), "complaintevent", ["complaint_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_complaintevent_complaint_id"), table_name="complaintevent")
    op.drop_table("complaintevent")
    for column in ("reference", "region_code", "county_code", "application_id", "status", "created_at"):
        op.drop_index(op.f(f"ix_complaint_{column}"), table_name="complaint")
    op.drop_table("complaint")
    op.drop_index(op.f("ix_directorychange_county_code"), table_name="directorychange")
    op.drop_index(op.f("ix_directorychange_region_code"), table_name="directorychange")
    op.drop_table("directorychange")
    op.drop_index(op.f("ix_directoryentry_county_code"), table_name="directoryentry")
    op.drop_table("directoryentry")
    # PostgreSQL cannot drop an enum value; 'hotline' stays in the type (unused).
