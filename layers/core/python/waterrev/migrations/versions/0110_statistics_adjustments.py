"""Statistics reflect IF-REV-007 adjustments (IF-REV-010): reversals (冲正) and refunds in the collection
summary, bad debt beside the receivables.

- biz_stat_collection gains `reversed` and `refunded`. A reversal's ledger lines (biz_adjustment_line of a
  REVERSE adjustment) append, on the reversal's day (Beijing) and in the reversed collection's channel and
  status, the signed change of what the collection counted: its write-offs come back (PRINCIPAL / PENALTY
  lines), the part that had gone to the balance is taken back (BALANCE), and the money is no longer
  received (`amount` down, `reversed` up by what goes back: the REFUND line, or for a PREPAY collection the
  BALANCE line that returns the deduction to the balance). A refund (biz_refund booked, not FAIL, not the
  pay-back of a reversal, which the reversal already counted) is `refunded` on its day and channel, status
  SUCCESS when paid out, PENDING while on its way; a FAIL takes it away again.
- the bill summary (biz_stat_receivable) already follows the bills: a reversal makes them UNPAID / PARTIAL
  again (arrears), a bad debt makes one BAD_DEBT (out of arrears), a USAGE / AMOUNT adjustment is a new
  ADJUST bill of the original's period (receivable). Nothing to add there; the queries read BAD_DEBT.

`stat_adjust_collection_v` is the one definition of those rows (what the LIVE statistics read, the
customer-move trigger re-attributes, and this revision backfills); the statement triggers
(sql/functions/stat_adjust_line_changes.sql, stat_refund_changes.sql) append the same rows in the business
transaction. Ledger lines are only ever inserted (never edited or deleted: ck and docs/LEDGER.md), so the
line trigger is INSERT only; refunds change status, so theirs covers every event.

Revision ID: 0110
Revises: 0101
"""

from alembic import op

revision = "0110"
down_revision = "0101"
branch_labels = None
depends_on = None

VIEW = r"""
CREATE VIEW stat_adjust_collection_v AS
SELECT l.id AS line_id, CAST(NULL AS bigint) AS refund_id, l.cust_id,
       (l.create_time AT TIME ZONE 'Asia/Shanghai')::date AS pay_date, k.channel, k.status,
       CASE WHEN l.line_type = 'REFUND' AND k.channel <> 'PREPAY' THEN -l.amount
            WHEN l.line_type = 'BALANCE' AND k.channel = 'PREPAY' THEN -l.amount ELSE 0 END AS amount,
       CASE WHEN l.line_type IN ('PRINCIPAL', 'PENALTY') THEN l.amount ELSE 0 END AS written_off,
       CASE WHEN l.line_type = 'BALANCE' AND k.channel <> 'PREPAY' THEN l.amount ELSE 0 END AS to_balance,
       CASE WHEN l.line_type = 'REFUND' AND k.channel <> 'PREPAY' THEN l.amount
            WHEN l.line_type = 'BALANCE' AND k.channel = 'PREPAY' THEN l.amount ELSE 0 END AS reversed,
       CAST(0 AS numeric) AS refunded
  FROM biz_adjustment_line l
  JOIN biz_adjustment a ON a.id = l.adjustment_id AND a.adjust_type = 'REVERSE'
  JOIN biz_collection k ON k.id = a.source_collection_id
UNION ALL
SELECT NULL, f.id, f.cust_id, (f.create_time AT TIME ZONE 'Asia/Shanghai')::date, COALESCE(f.channel_code, ''),
       CASE WHEN f.status = 'SUCCESS' THEN 'SUCCESS' ELSE 'PENDING' END, 0, 0, 0, 0, f.amount
  FROM biz_refund f LEFT JOIN biz_adjustment a ON a.id = f.adjustment_id
 WHERE f.booked AND f.status <> 'FAIL' AND f.cust_id IS NOT NULL AND a.adjust_type IS DISTINCT FROM 'REVERSE';
COMMENT ON VIEW stat_adjust_collection_v IS 'IF-REV-010: what reversals (their ledger lines) and refunds change in the collection statistics, one row per line or refund (docs/STATISTICS.md)';
"""

DDL = r"""
ALTER TABLE biz_stat_collection ADD COLUMN reversed NUMERIC(16,2) NOT NULL DEFAULT 0;
ALTER TABLE biz_stat_collection ADD COLUMN refunded NUMERIC(16,2) NOT NULL DEFAULT 0;
COMMENT ON COLUMN biz_stat_collection.reversed IS 'money of reversed (冲正) collections, on the reversal''s day in the collection''s channel (stat_adjust_collection_v); amount is already net of it';
COMMENT ON COLUMN biz_stat_collection.refunded IS 'money refunded (biz_refund booked, not FAIL, not a reversal''s pay-back) on the refund''s day and channel';
CREATE INDEX ix_adjustment_line_adjustment ON biz_adjustment_line (adjustment_id);
CREATE INDEX ix_refund_cust ON biz_refund (cust_id) WHERE cust_id IS NOT NULL;
"""

BACKFILL = r"""
INSERT INTO biz_stat_collection (pay_date, dept_id, cust_type, price_code, channel, status, tx_count, amount,
                                 written_off, to_balance, reversed, refunded)
SELECT v.pay_date, c.dept_id, c.cust_type, COALESCE(c.price_code, ''), v.channel, v.status, 0, sum(v.amount),
       sum(v.written_off), sum(v.to_balance), sum(v.reversed), sum(v.refunded)
  FROM stat_adjust_collection_v v JOIN biz_cust c ON c.id = v.cust_id
 GROUP BY 1, 2, 3, 4, 5, 6;
"""

TRIGGERS = {
    "stat_adjust_line_changes": ("biz_adjustment_line", ("ins",)),
    "stat_refund_changes": ("biz_refund", ("ins", "upd", "del")),
}
_EVENTS = {
    "ins": "AFTER INSERT ON {t} REFERENCING NEW TABLE AS n",
    "upd": "AFTER UPDATE ON {t} REFERENCING OLD TABLE AS o NEW TABLE AS n",
    "del": "AFTER DELETE ON {t} REFERENCING OLD TABLE AS o",
}


def upgrade() -> None:
    op.execute(DDL)
    op.execute(VIEW)
    op.execute(BACKFILL)
    for name, (table, events) in TRIGGERS.items():
        op.execute(
            f"CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$\n"
            "BEGIN\n  RETURN NULL;  -- stub: replaced from sql/functions by migrate.upgrade()\nEND\n$$;\n"
        )
        for event in events:
            op.execute(
                f"CREATE TRIGGER {table}_{name}_{event} {_EVENTS[event].format(t=table)}"
                f" FOR EACH STATEMENT EXECUTE FUNCTION {name}()"
            )


def downgrade() -> None:
    for name, (table, events) in TRIGGERS.items():
        for event in events:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_{name}_{event} ON {table}")
        op.execute(f"DROP FUNCTION IF EXISTS {name}()")
        op.execute(f"DELETE FROM schema_sql_object WHERE name = '{name}'")
    op.execute(BACKFILL.replace("sum(", "-sum("))  # take the rows this revision's sources added away again
    op.execute("DROP VIEW IF EXISTS stat_adjust_collection_v")
    op.execute("DROP INDEX IF EXISTS ix_refund_cust")
    op.execute("DROP INDEX IF EXISTS ix_adjustment_line_adjustment")
    op.execute("ALTER TABLE biz_stat_collection DROP COLUMN refunded, DROP COLUMN reversed")
