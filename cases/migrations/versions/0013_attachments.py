"""attachments: files uploaded with a supplement answer (bytes, filename, type, size, sha256).

Revision ID: 0013_attachments
Revises: 0012_admin
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

import cases.types

revision = "0013_attachments"
down_revision = "0012_admin"
branch_labels = None
depends_on = None


def upgrade() -> None:
    text = sqlmodel.sql.sqltypes.AutoString
    op.create_table(
        "attachment",
        sa.Column("id", text(), nullable=False),
        sa.Column("application_id", text(), nullable=False),
        sa.Column("item", text(length=200), nullable=False),
        sa.Column("filename", text(length=200), nullable=False),
        sa.Column("content_type", text(length=40), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", text(length=64), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("uploaded_at", cases.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["application_id"], ["application.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_attachment_application_id", "attachment", ["application_id"])


def downgrade() -> None:
    op.drop_index("ix_attachment_application_id", table_name="attachment")
    op.drop_table("attachment")
