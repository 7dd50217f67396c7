"""actions: supervisors acknowledge notifications (who and when), and nudge one issuer.

Revision ID: 0007_actions
Revises: 0006_trends
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

import cases.types

revision = "0007_actions"
down_revision = "0006_trends"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("notification", sa.Column("acknowledged_by", sqlmodel.sql.sqltypes.AutoString(), nullable=True))
    op.add_column("notification", sa.Column("acknowledged_at", cases.types.UTCDateTime(timezone=True), nullable=True))
    # A nudge goes to one issuer (the one holding the task), not to the whole community.
    op.add_column("notification", sa.Column("recipient_user_id", sqlmodel.sql.sqltypes.AutoString(), nullable=True))
    op.create_index("ix_notification_recipient_user_id", "notification", ["recipient_user_id"])
    op.create_index("ix_notification_created_at", "notification", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_notification_created_at", table_name="notification")
    op.drop_index("ix_notification_recipient_user_id", table_name="notification")
    with op.batch_alter_table("notification") as batch:
        batch.drop_column("recipient_user_id")
        batch.drop_column("acknowledged_at")
        batch.drop_column("acknowledged_by")
