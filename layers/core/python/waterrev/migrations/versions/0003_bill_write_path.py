"""Bill write path: drop the foreign keys that only the bill writer fills.

biz_charge_detail rows are written only together with their biz_charge, in the same COPY
transaction; biz_charge.meter_id / meter_read_id / reading_id / price_template_id are copied from
rows the writer has just locked. Checking them again per row cost the bill run ~3x (a key-share
lock on every referenced row). biz_charge.cust_id and account_id keep their foreign keys.

Revision ID: 0003
Revises: 0002
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

DROPPED = (
    ("biz_charge_detail", "biz_charge_detail_charge_id_fkey", "charge_id", "biz_charge"),
    ("biz_charge", "biz_charge_meter_id_fkey", "meter_id", "biz_meter"),
    ("biz_charge", "biz_charge_meter_read_id_fkey", "meter_read_id", "biz_meter_read"),
    ("biz_charge", "biz_charge_reading_id_fkey", "reading_id", "biz_reading_data"),
    ("biz_charge", "biz_charge_price_template_id_fkey", "price_template_id", "biz_price_template"),
)


def upgrade() -> None:
    for table, name, _, _ in DROPPED:
        op.execute(f"ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {name}")


def downgrade() -> None:
    for table, name, column, target in DROPPED:
        op.execute(
            f"ALTER TABLE {table} ADD CONSTRAINT {name} FOREIGN KEY ({column}) REFERENCES {target} (id)"
        )
