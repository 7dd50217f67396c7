"""caseevent is append-only: no UPDATE or DELETE path, enforced by the database.

Revision ID: 0002
Revises: 0001
"""
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            """
            CREATE OR REPLACE FUNCTION caseevent_append_only() RETURNS trigger AS $$
            BEGIN
                RAISE EXCEPTION 'caseevent is append-only (% refused)', TG_OP;
            END;
            $$ LANGUAGE plpgsql;
            """
        )
        op.execute("CREATE TRIGGER caseevent_no_update BEFORE UPDATE OR DELETE ON caseevent FOR EACH ROW EXECUTE FUNCTION caseevent_append_only()")
    else:
        op.execute("CREATE TRIGGER caseevent_no_update BEFORE UPDATE ON caseevent BEGIN SELECT RAISE(ABORT, 'caseevent is append-only (UPDATE refused)'); END")
        op.execute("CREATE TRIGGER caseevent_no_delete BEFORE DELETE ON caseevent BEGIN SELECT RAISE(ABORT, 'caseevent is append-only (DELETE refused)'); END")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS caseevent_no_update ON caseevent")
        op.execute("DROP FUNCTION IF EXISTS caseevent_append_only()")
    else:
        op.execute("DROP TRIGGER IF EXISTS caseevent_no_update")
        op.execute("DROP TRIGGER IF EXISTS caseevent_no_delete")
