"""Payment exception review (人工复核入口): a person's decision on a bk_transaction_exception row.

The decision (`resolution`: WRITE_OFF_PAID | REFUND | KEEP_BALANCE | DISMISS), the reason given
(`resolve_remark`), who decided and when, and what the decision did (`resolve_result`: the
collection, the amounts, the balance after) are kept on the exception row itself, so a repeat of the
same decision answers the stored result and a different one is refused with it. A refund decided
here is recorded as `refund_status` PENDING with its amount; paying it back is IF-REV-007's job.
`refund_amount` is unconstrained NUMERIC: it is exactly what the platform reported as paid, which
for an AMOUNT_MISMATCH may be a fraction of a cent off.

Revision ID: 0010
Revises: 0009
"""

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

DDL = r"""
ALTER TABLE bk_transaction_exception
    ADD COLUMN resolution     VARCHAR(16),   -- WRITE_OFF_PAID | REFUND | KEEP_BALANCE | DISMISS
    ADD COLUMN resolve_remark VARCHAR(200),
    ADD COLUMN resolved_by    BIGINT,        -- system_users.id
    ADD COLUMN resolved_time  TIMESTAMPTZ,
    ADD COLUMN resolve_result JSONB,
    ADD COLUMN refund_status  VARCHAR(10),   -- PENDING (IF-REV-007 pays it back) | NULL
    ADD COLUMN refund_amount  NUMERIC;
ALTER TABLE bk_transaction_exception ADD CONSTRAINT ck_transaction_exception_resolved
    CHECK (status <> 'RESOLVED' OR (resolution IS NOT NULL AND resolved_time IS NOT NULL));
CREATE INDEX ix_transaction_exception_order ON bk_transaction_exception (biz_order_no);
CREATE INDEX ix_transaction_exception_trade ON bk_transaction_exception (trade_no);
"""

DROP = r"""
DROP INDEX IF EXISTS ix_transaction_exception_trade;
DROP INDEX IF EXISTS ix_transaction_exception_order;
ALTER TABLE bk_transaction_exception DROP CONSTRAINT IF EXISTS ck_transaction_exception_resolved;
ALTER TABLE bk_transaction_exception
    DROP COLUMN IF EXISTS resolution, DROP COLUMN IF EXISTS resolve_remark, DROP COLUMN IF EXISTS resolved_by,
    DROP COLUMN IF EXISTS resolved_time, DROP COLUMN IF EXISTS resolve_result,
    DROP COLUMN IF EXISTS refund_status, DROP COLUMN IF EXISTS refund_amount;
"""


def upgrade() -> None:
    op.execute(DDL)


def downgrade() -> None:
    op.execute(DROP)
