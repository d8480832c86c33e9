"""The daily reconciliation's timing differences (扩展, docs/BANK.md, decision 134).

Our side groups a trade by when we processed it (bk_transaction.paid_time), a channel by its own time: a
payment made at 23:59 and settled by our compensation at 00:05, or a withholding return the bank credited
on one day and we applied on the next, is on the channel's statement of one day and in our books of the
next. Such a one-sided difference whose other side has the same key and amount on the neighbouring day
is kept as CROSS_DAY with status INFO: informational, not open (it does not keep a day DIFFERENT), closed
(GONE) like an open one when a later run no longer finds it.

Revision ID: 0155
Revises: 0150
"""

from alembic import op

revision = "0155"
down_revision = "0150"
branch_labels = None
depends_on = None

UP = r"""
ALTER TABLE bk_daily_recon_diff DROP CONSTRAINT ck_daily_recon_diff_type,
    ADD CONSTRAINT ck_daily_recon_diff_type
        CHECK (diff_type IN ('OURS_ONLY', 'CHANNEL_ONLY', 'AMOUNT_DIFFERS', 'CREDIT_DIFFERS', 'CROSS_DAY')),
    DROP CONSTRAINT ck_daily_recon_diff_status,
    ADD CONSTRAINT ck_daily_recon_diff_status CHECK (status IN ('OPEN', 'RESOLVED', 'GONE', 'INFO'));
COMMENT ON COLUMN bk_daily_recon_diff.diff_type IS 'OURS_ONLY, CHANNEL_ONLY, AMOUNT_DIFFERS (per trade), CREDIT_DIFFERS (per channel), CROSS_DAY (a trade on the other side the day before or after: timing, informational)';
COMMENT ON COLUMN bk_daily_recon_diff.status IS 'OPEN, RESOLVED (by a person, with a reason; reopened when a later run finds other amounts), GONE (an open one a later run no longer found, its files read), INFO (CROSS_DAY: not open)';
COMMENT ON COLUMN bk_daily_recon_diff.resolve_reason IS 'A person''s reason (RESOLVED), or for CROSS_DAY the neighbouring day the other side has the trade on';
"""

DOWN = r"""
UPDATE bk_daily_recon_diff SET status = 'GONE' WHERE status = 'INFO';
DELETE FROM bk_daily_recon_diff WHERE diff_type = 'CROSS_DAY';
ALTER TABLE bk_daily_recon_diff DROP CONSTRAINT ck_daily_recon_diff_type,
    ADD CONSTRAINT ck_daily_recon_diff_type
        CHECK (diff_type IN ('OURS_ONLY', 'CHANNEL_ONLY', 'AMOUNT_DIFFERS', 'CREDIT_DIFFERS')),
    DROP CONSTRAINT ck_daily_recon_diff_status,
    ADD CONSTRAINT ck_daily_recon_diff_status CHECK (status IN ('OPEN', 'RESOLVED', 'GONE'));
"""


def upgrade() -> None:
    op.execute(UP)


def downgrade() -> None:
    op.execute(DOWN)
