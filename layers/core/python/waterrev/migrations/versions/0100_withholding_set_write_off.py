"""The set-based write-off of a withholding return (banking.write_off_set, decision 109).

bk_withholding_stage: the checked success lines of one return file, one chunk at a time, with everything
the shared write-off (rev_write_off + payments.collection.record_trade) would write for each, computed
in Python (the amounts due by billing.dues); the write-off is then a handful of INSERT ... SELECT /
UPDATE ... FROM statements over it. Rows live only inside the return's transaction (written and deleted
there: no other transaction ever sees one), so the table is UNLOGGED; a real table rather than a
temporary one, so no session state pins an RDS Proxy connection.

Also: bk_withholding_item.status was VARCHAR(12), too short for its own WRITE_OFF_FAILED (16): a bill the
bank debited but the write-off refused (paid at the counter meanwhile) failed the whole return with
22001 instead of becoming a reconciliation difference. The twin test of this revision found it.

Revision ID: 0100
Revises: 0091
"""

from alembic import op

revision = "0100"
down_revision = "0091"
branch_labels = None
depends_on = None

DDL = r"""
ALTER TABLE bk_withholding_item ALTER COLUMN status TYPE VARCHAR(16);

CREATE UNLOGGED TABLE bk_withholding_stage (
    receipt_id      BIGINT        NOT NULL,
    item_id         BIGINT        NOT NULL,
    seq_no          INTEGER       NOT NULL,
    cust_id         BIGINT        NOT NULL,
    account_id      BIGINT        NOT NULL,
    charge_id       BIGINT        NOT NULL,
    amount          NUMERIC(14,2) NOT NULL,
    owed            NUMERIC(14,2) NOT NULL,
    penalty         NUMERIC(14,2) NOT NULL,
    paid_before     NUMERIC(14,2) NOT NULL,
    status_before   VARCHAR(16)   NOT NULL,
    penalty_first   BOOLEAN       NOT NULL,
    penalty_as_of   DATE          NOT NULL,
    collection_id   BIGINT        NOT NULL,
    code            VARCHAR(40)   NOT NULL,
    bank_serial_no  VARCHAR(64)   NOT NULL,
    result_code     VARCHAR(16),
    result_msg      VARCHAR(200),
    remark          VARCHAR(255),
    PRIMARY KEY (receipt_id, item_id)
);
COMMENT ON TABLE bk_withholding_stage IS 'Working rows of the set-based write-off of a withholding return (one chunk of success lines, written and deleted in the return''s transaction)';
COMMENT ON COLUMN bk_withholding_stage.receipt_id IS 'bk_withholding_return.id of the file being applied';
COMMENT ON COLUMN bk_withholding_stage.owed IS 'The bill''s principal still unpaid before the write-off (total - paid)';
COMMENT ON COLUMN bk_withholding_stage.penalty IS 'The bill''s late-payment penalty owed as of penalty_as_of (billing.dues)';
COMMENT ON COLUMN bk_withholding_stage.penalty_first IS 'The customer''s coverage order (revenue.penalty.coverage), as the audit of rev_write_off records it';
COMMENT ON COLUMN bk_withholding_stage.code IS 'The collection code drawn for the write-off (SF...)';
"""


def upgrade() -> None:
    op.execute(DDL)


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS bk_withholding_stage")
    op.execute("ALTER TABLE bk_withholding_item ALTER COLUMN status TYPE VARCHAR(12)")
