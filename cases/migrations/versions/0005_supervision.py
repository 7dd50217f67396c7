"""supervision: indexes for the supervisor dashboard (issue 13).

- ix_application_open_due: open audit work (awaiting_audit, awaiting_applicant) in due order,
  partial; on PostgreSQL it INCLUDEs the columns the SLA-state counts read, so the summary
  per child region is an index-only scan of the open part of the table.
- ix_application_auto_issued: auto-issued passes (R12) newest first, partial.
- ix_responsibilityrecord_breach_at: breaches (R13) newest first.

Revision ID: 0005_supervision
Revises: 0004_heartbeat
"""
import sqlalchemy as sa
from alembic import op

revision = "0005_supervision"
down_revision = "0004_heartbeat"
branch_labels = None
depends_on = None

OPEN_WORK_WHERE = "status IN ('awaiting_audit', 'awaiting_applicant')"


def upgrade() -> None:
    op.create_index(
        "ix_application_open_due", "application", ["sla_due_at", "id"],
        postgresql_where=sa.text(OPEN_WORK_WHERE), sqlite_where=sa.text(OPEN_WORK_WHERE),
        postgresql_include=["city_code", "county_code", "community_code", "channel", "status", "breached_at", "decision"],
    )
    op.create_index(
        "ix_application_auto_issued", "application", ["decided_at"],
        postgresql_where=sa.text("decision = 'auto_issue'"), sqlite_where=sa.text("decision = 'auto_issue'"),
    )
    op.create_index("ix_responsibilityrecord_breach_at", "responsibilityrecord", ["breach_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_responsibilityrecord_breach_at", table_name="responsibilityrecord")
    op.drop_index("ix_application_auto_issued", table_name="application")
    op.drop_index("ix_application_open_due", table_name="application")
