"""Payment results on every settled payment: every channel (counter, online and counter-QR callbacks and
their compensation, bank real-time) writes its collection through rev_write_off or pay_apply_status, so
an AFTER INSERT trigger on biz_collection queues the payment-result message in the same transaction.

The trigger function's text lives in sql/functions/msg_payment_result.sql (applied by migrate.upgrade()
after the revisions); this revision creates a stub of the same signature so the trigger can exist, and
the repeatable step replaces it in place (CREATE OR REPLACE: a trigger depends on it, it is never dropped).

Revision ID: 0032
Revises: 0031
"""

from alembic import op

revision = "0032"
down_revision = "0031"
branch_labels = None
depends_on = None

DDL = r"""
CREATE OR REPLACE FUNCTION msg_payment_result() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RETURN NULL;  -- stub: replaced from sql/functions/msg_payment_result.sql by migrate.upgrade()
END
$$;
CREATE TRIGGER biz_collection_payment_result AFTER INSERT ON biz_collection
    FOR EACH ROW EXECUTE FUNCTION msg_payment_result();
"""

DROP = r"""
DROP TRIGGER IF EXISTS biz_collection_payment_result ON biz_collection;
DROP FUNCTION IF EXISTS msg_payment_result();
DELETE FROM schema_sql_object WHERE name = 'msg_payment_result';
"""


def upgrade() -> None:
    op.execute(DDL)


def downgrade() -> None:
    op.execute(DROP)
