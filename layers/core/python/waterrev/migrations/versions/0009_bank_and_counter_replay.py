"""Bank real-time and counter collection replays (helper B).

A bank real-time payment (IF-EXT-003) now keeps a settled bk_transaction row like every other
channel, its trade number "<bankCode>:<bankSerialNo>": a bank's serial is unique only within that
bank, and bk_transaction.trade_no is unique across every channel. A bank code (up to 16) and a
serial (up to 64) need 81 characters, so the column grows to 96 (a change of the type's length
only: no table rewrite, no index rebuild). The row's scene is BANK (the column holds 12).

Revision ID: 0009
Revises: 0008
"""

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE bk_transaction ALTER COLUMN trade_no TYPE VARCHAR(96)")


def downgrade() -> None:
    # fails while a trade number longer than 64 is kept, rather than cutting one short
    op.execute("ALTER TABLE bk_transaction ALTER COLUMN trade_no TYPE VARCHAR(64)")
