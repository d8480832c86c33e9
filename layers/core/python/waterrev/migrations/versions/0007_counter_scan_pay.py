"""IF-CS-007 as the seed defines it: the counter that made a counter QR order.

`bk_transaction.operator_id` (0005) already records the counter operator (the authenticated user,
which the request's operatorId must equal); this adds the counter code (柜台编号, request
counterCode). Nullable: online orders (IF-CS-003) and counter QR orders made before this revision
have none. The scene stays `COUNTER_QR` (the SYS-009 scene value); the seed's COUNTER_SCAN_PAY is
the request's name for it (functions/cs_counter_scan_pay).

Revision ID: 0007
Revises: 0006
"""

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE bk_transaction ADD COLUMN counter_code VARCHAR(32)")


def downgrade() -> None:
    op.execute("ALTER TABLE bk_transaction DROP COLUMN counter_code")
