"""Bill run write costs: HOT status and arrears updates; no per-bill key-share locks.

A bill run changes biz_reading_data.status, biz_meter_read.status and biz_account.arrears_amount
for every bill. With `status` in an index (key or partial-index predicate) and full pages, each
such update rewrote every index of the row. The period indexes no longer mention status, and the
three tables keep free space per page so the new row version fits beside the old one.

Revision ID: 0004
Revises: 0003
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

# A run flips every reading and task of the period, so every row of a page needs room at once: half
# of each page is kept free there, and on accounts, whose arrears every bill of the run moves.
FILLFACTOR = {"biz_reading_data": 50, "biz_meter_read": 50, "biz_account": 50}


def upgrade() -> None:
    # The bill writer fills customer and account from rows it has just read in the same transaction,
    # and nothing deletes customers or accounts; the per-row key-share lock each check took on them
    # was a write per bill. The unpaid partial index duplicated (cust_id, bill_period).
    op.execute("ALTER TABLE biz_charge DROP CONSTRAINT IF EXISTS biz_charge_cust_id_fkey")
    op.execute("ALTER TABLE biz_charge DROP CONSTRAINT IF EXISTS biz_charge_account_id_fkey")
    op.execute("DROP INDEX IF EXISTS ix_biz_charge_cust_unpaid")
    # Lines are keyed by their bill and their place in it: no sequence draw and no second index per
    # line (a bill run writes ~8 lines per bill).
    op.execute("ALTER TABLE biz_charge_detail ADD COLUMN line_no SMALLINT")
    op.execute(
        "UPDATE biz_charge_detail d SET line_no = n.rn FROM (SELECT id, row_number() OVER"
        " (PARTITION BY charge_id ORDER BY id) AS rn FROM biz_charge_detail) n WHERE n.id = d.id"
    )
    op.execute("ALTER TABLE biz_charge_detail ALTER COLUMN line_no SET NOT NULL")
    op.execute("ALTER TABLE biz_charge_detail DROP CONSTRAINT biz_charge_detail_pkey")
    op.execute("DROP INDEX IF EXISTS ix_charge_detail_charge")
    op.execute("ALTER TABLE biz_charge_detail DROP COLUMN id")
    op.execute("ALTER TABLE biz_charge_detail ADD PRIMARY KEY (charge_id, line_no)")
    op.execute("DROP INDEX IF EXISTS ix_reading_ready")
    op.execute("CREATE INDEX ix_reading_period_cust ON biz_reading_data (bill_period, cust_id, id)")
    op.execute("DROP INDEX IF EXISTS ix_meter_read_period")
    op.execute("CREATE INDEX ix_meter_read_period ON biz_meter_read (bill_period)")
    for table in ("biz_reading_data", "biz_meter_read", "biz_account"):
        op.execute(f"ALTER TABLE {table} SET (fillfactor = {FILLFACTOR[table]})")


def downgrade() -> None:
    op.execute("ALTER TABLE biz_charge_detail DROP CONSTRAINT biz_charge_detail_pkey")
    op.execute("ALTER TABLE biz_charge_detail ADD COLUMN id BIGSERIAL PRIMARY KEY")
    op.execute("ALTER TABLE biz_charge_detail DROP COLUMN line_no")
    op.execute("CREATE INDEX ix_charge_detail_charge ON biz_charge_detail (charge_id)")
    op.execute(
        "CREATE INDEX ix_biz_charge_cust_unpaid ON biz_charge (cust_id, bill_period)"
        " WHERE status IN ('UNPAID', 'PARTIAL')"
    )
    op.execute(
        "ALTER TABLE biz_charge ADD CONSTRAINT biz_charge_account_id_fkey FOREIGN KEY (account_id)"
        " REFERENCES biz_account (id)"
    )
    op.execute(
        "ALTER TABLE biz_charge ADD CONSTRAINT biz_charge_cust_id_fkey FOREIGN KEY (cust_id)"
        " REFERENCES biz_cust (id)"
    )
    for table in ("biz_reading_data", "biz_meter_read", "biz_account"):
        op.execute(f"ALTER TABLE {table} RESET (fillfactor)")
    op.execute("DROP INDEX IF EXISTS ix_meter_read_period")
    op.execute("CREATE INDEX ix_meter_read_period ON biz_meter_read (bill_period, status)")
    op.execute("DROP INDEX IF EXISTS ix_reading_period_cust")
    op.execute(
        "CREATE INDEX ix_reading_ready ON biz_reading_data (bill_period, status) WHERE status = 'VALID'"
    )
