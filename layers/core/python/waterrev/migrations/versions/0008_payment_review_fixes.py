"""Settlement fixes from the payments review: an order held for review stops being queried, and money
for bills paid elsewhere is measured bill by bill.

- An order whose paid amount differs from the order (AMOUNT_MISMATCH) is money received that nobody
  may write off without a person's decision. It is now held (`bk_transaction.hold_reason`):
  compensation no longer queries it every run, each run adding another exception row, and a repeat of
  the same mismatch adds no second open exception. A person resolves it through the payment
  exception review (人工复核入口).
- A bill counts as paid elsewhere when what is still owed on it is less than what the order holds for
  it, not only when it is fully PAID: a bill someone part-paid at the counter meanwhile also sends the
  surplus to the balance *and* raises the PAID_ELSEWHERE exception. The exception records what went
  to the balance (`toBalance`), not the whole trade amount, so a refund is never larger than the
  surplus.
- A counter QR order's collection records the counter (`outlet_code` = the order's `counter_code`,
  migration 0007) and the operator who made the order, as a counter payment does.

Revision ID: 0008
Revises: 0007
"""

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

# pay_apply_status, which this revision re-created with the fixes above, now lives in
# waterrev/sql/functions/pay_apply_status.sql, applied by waterrev.migrate (migration 0012).
DDL = r"""
ALTER TABLE bk_transaction ADD COLUMN hold_reason VARCHAR(24);  -- set: held for a person's review
"""


def upgrade() -> None:
    op.execute(DDL)


def downgrade() -> None:
    # The functions are not versioned here any more: pay_apply_status stays as its file has it.
    op.execute("ALTER TABLE bk_transaction DROP COLUMN hold_reason")
