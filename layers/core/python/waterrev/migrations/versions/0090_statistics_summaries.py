"""Statistics summaries (IF-REV-010): what the theme queries read, kept in the same transaction as the
business change.

One summary table per theme source, holding signed, pre-aggregated deltas: AFTER ... FOR EACH STATEMENT
triggers with transition tables on biz_charge, biz_collection, biz_meter_read, biz_reading_data,
biz_invoice and biz_cust append one row per touched group (a bill run's COPY of 5,000 bills adds a few
rows, a payment two or three). Rows are only ever appended, so concurrent payments never wait on a
shared summary row (no hot row, no deadlock between triggers); `stat_fold()` (job_stat_fold, and after
the benchmark's seeding) folds them into one row per group, incrementally, under an advisory lock. A
query sums whatever is there, folded or not, so it is exact either way (docs/STATISTICS.md).

A customer moved to another office, type or price family moves its history with it (the biz_cust
trigger re-attributes its rows), so a summary answers exactly as a scan of the live tables would.

The trigger functions' texts live in sql/functions/stat_*.sql (migrate.upgrade() applies them after the
revisions); this revision creates stubs so the triggers can exist, then backfills from the live tables.

Revision ID: 0090
Revises: 0080
"""

from alembic import op

revision = "0090"
down_revision = "0080"
branch_labels = None
depends_on = None

SOURCES = {
    # function: (table, its triggers' name stem)
    "stat_charge_changes": "biz_charge",
    "stat_collection_changes": "biz_collection",
    "stat_task_changes": "biz_meter_read",
    "stat_reading_changes": "biz_reading_data",
    "stat_invoice_changes": "biz_invoice",
    "stat_cust_changes": "biz_cust",
}

DDL = r"""
CREATE TABLE biz_stat_receivable (
    id            BIGSERIAL     PRIMARY KEY,
    bill_period   CHAR(7)       NOT NULL,
    dept_id       BIGINT        NOT NULL,
    cust_type     VARCHAR(16)   NOT NULL,
    price_code    VARCHAR(32)   NOT NULL,
    status        VARCHAR(12)   NOT NULL,
    due_date      DATE          NOT NULL,
    bill_count    BIGINT        NOT NULL,
    receivable    NUMERIC(16,2) NOT NULL,
    paid          NUMERIC(16,2) NOT NULL,
    usage_amount  NUMERIC(16,2) NOT NULL
);
CREATE INDEX ix_stat_receivable_period ON biz_stat_receivable (bill_period);
COMMENT ON TABLE biz_stat_receivable IS 'IF-REV-010 summary of biz_charge: signed deltas per bill period, office, customer type, price family, bill status and due date (trigger stat_charge_changes; folded by stat_fold)';
COMMENT ON COLUMN biz_stat_receivable.receivable IS 'sum of biz_charge.total_amount (应收)';
COMMENT ON COLUMN biz_stat_receivable.paid IS 'sum of biz_charge.paid_amount (principal written off on the bills)';

CREATE TABLE biz_stat_collection (
    id            BIGSERIAL     PRIMARY KEY,
    pay_date      DATE          NOT NULL,
    dept_id       BIGINT        NOT NULL,
    cust_type     VARCHAR(16)   NOT NULL,
    price_code    VARCHAR(32)   NOT NULL,
    channel       VARCHAR(12)   NOT NULL,
    status        VARCHAR(12)   NOT NULL,
    tx_count      BIGINT        NOT NULL,
    amount        NUMERIC(16,2) NOT NULL,
    written_off   NUMERIC(16,2) NOT NULL,
    to_balance    NUMERIC(16,2) NOT NULL
);
CREATE INDEX ix_stat_collection_date ON biz_stat_collection (pay_date);
COMMENT ON TABLE biz_stat_collection IS 'IF-REV-010 summary of biz_collection: signed deltas per payment day (Beijing), office, customer type, price family, channel and status (trigger stat_collection_changes)';

CREATE TABLE biz_stat_reading (
    id              BIGSERIAL   PRIMARY KEY,
    bill_period     CHAR(7)     NOT NULL,
    dept_id         BIGINT      NOT NULL,
    cust_type       VARCHAR(16) NOT NULL,
    price_code      VARCHAR(32) NOT NULL,
    task_count      BIGINT      NOT NULL,
    done_count      BIGINT      NOT NULL,
    reading_count   BIGINT      NOT NULL,
    abnormal_count  BIGINT      NOT NULL,
    estimated_count BIGINT      NOT NULL
);
CREATE INDEX ix_stat_reading_period ON biz_stat_reading (bill_period);
COMMENT ON TABLE biz_stat_reading IS 'IF-REV-010 summary of biz_meter_read (tasks, done = not OPEN) and biz_reading_data (readings not REJECTED/SUPERSEDED, abnormal, estimated) per bill period, office, customer type, price family';

CREATE TABLE biz_stat_invoice (
    id             BIGSERIAL     PRIMARY KEY,
    apply_date     DATE          NOT NULL,
    dept_id        BIGINT        NOT NULL,
    cust_type      VARCHAR(16)   NOT NULL,
    price_code     VARCHAR(32)   NOT NULL,
    invoice_type   VARCHAR(12)   NOT NULL,
    invoice_status VARCHAR(12)   NOT NULL,
    invoice_count  BIGINT        NOT NULL,
    amount         NUMERIC(16,2) NOT NULL
);
CREATE INDEX ix_stat_invoice_date ON biz_stat_invoice (apply_date);
COMMENT ON TABLE biz_stat_invoice IS 'IF-REV-010 summary of biz_invoice per application day (Beijing), office, customer type, price family, invoice type and status';

CREATE TABLE biz_stat_customer (
    id          BIGSERIAL   PRIMARY KEY,
    dept_id     BIGINT      NOT NULL,
    cust_type   VARCHAR(16) NOT NULL,
    price_code  VARCHAR(32) NOT NULL,
    status      VARCHAR(12) NOT NULL,
    cust_count  BIGINT      NOT NULL
);
COMMENT ON TABLE biz_stat_customer IS 'IF-REV-010 summary of biz_cust per office, customer type, price family and status';

-- The exports (IF-REV-010 /statistics/export): what was asked, by whom, the S3 object, its rows.
CREATE TABLE biz_stat_export (
    id           BIGSERIAL    PRIMARY KEY,
    export_no    VARCHAR(40)  NOT NULL UNIQUE,
    theme_code   VARCHAR(24)  NOT NULL,
    request      JSONB        NOT NULL,
    file_key     VARCHAR(255) NOT NULL,
    row_count    INTEGER      NOT NULL,
    operator_id  BIGINT,
    create_time  TIMESTAMPTZ  NOT NULL DEFAULT now()
);
COMMENT ON TABLE biz_stat_export IS 'IF-REV-010 exports: one row per XLSX written to the export bucket (the link handed out is presigned and short-lived)';
"""

BACKFILL = r"""
INSERT INTO biz_stat_receivable (bill_period, dept_id, cust_type, price_code, status, due_date, bill_count,
                                 receivable, paid, usage_amount)
SELECT ch.bill_period, c.dept_id, c.cust_type, COALESCE(c.price_code, ''), ch.status, ch.due_date, count(*),
       sum(ch.total_amount), sum(ch.paid_amount), sum(ch.usage_amount)
  FROM biz_charge ch JOIN biz_cust c ON c.id = ch.cust_id
 GROUP BY 1, 2, 3, 4, 5, 6;
INSERT INTO biz_stat_collection (pay_date, dept_id, cust_type, price_code, channel, status, tx_count, amount,
                                 written_off, to_balance)
SELECT (COALESCE(k.pay_time, k.create_time) AT TIME ZONE 'Asia/Shanghai')::date, c.dept_id, c.cust_type,
       COALESCE(c.price_code, ''), k.channel, k.status, count(*), sum(k.amount), sum(k.written_off),
       sum(k.to_balance)
  FROM biz_collection k JOIN biz_cust c ON c.id = k.cust_id
 GROUP BY 1, 2, 3, 4, 5, 6;
INSERT INTO biz_stat_reading (bill_period, dept_id, cust_type, price_code, task_count, done_count, reading_count,
                              abnormal_count, estimated_count)
SELECT t.bill_period, c.dept_id, c.cust_type, COALESCE(c.price_code, ''), count(*),
       count(*) FILTER (WHERE t.status <> 'OPEN'), 0, 0, 0
  FROM biz_meter_read t JOIN biz_cust c ON c.id = t.cust_id
 GROUP BY 1, 2, 3, 4;
INSERT INTO biz_stat_reading (bill_period, dept_id, cust_type, price_code, task_count, done_count, reading_count,
                              abnormal_count, estimated_count)
SELECT r.bill_period, c.dept_id, c.cust_type, COALESCE(c.price_code, ''), 0, 0, count(*),
       count(*) FILTER (WHERE r.abnormal_flag), count(*) FILTER (WHERE r.estimated)
  FROM biz_reading_data r JOIN biz_cust c ON c.id = r.cust_id
 WHERE r.status NOT IN ('REJECTED', 'SUPERSEDED')
 GROUP BY 1, 2, 3, 4;
INSERT INTO biz_stat_invoice (apply_date, dept_id, cust_type, price_code, invoice_type, invoice_status,
                              invoice_count, amount)
SELECT (i.create_time AT TIME ZONE 'Asia/Shanghai')::date, c.dept_id, c.cust_type, COALESCE(c.price_code, ''),
       i.invoice_type, i.invoice_status, count(*), sum(i.amount)
  FROM biz_invoice i JOIN biz_cust c ON c.id = i.cust_id
 GROUP BY 1, 2, 3, 4, 5, 6;
INSERT INTO biz_stat_customer (dept_id, cust_type, price_code, status, cust_count)
SELECT c.dept_id, c.cust_type, COALESCE(c.price_code, ''), c.status, count(*)
  FROM biz_cust c GROUP BY 1, 2, 3, 4;
"""


def _stub(name: str) -> str:
    return (
        f"CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$\n"
        "BEGIN\n  RETURN NULL;  -- stub: replaced from sql/functions by migrate.upgrade()\nEND\n$$;\n"
    )


def _triggers(name: str, table: str) -> str:
    stem = f"{table}_{name}"
    return (
        f"CREATE TRIGGER {stem}_ins AFTER INSERT ON {table} REFERENCING NEW TABLE AS n"
        f" FOR EACH STATEMENT EXECUTE FUNCTION {name}();\n"
        f"CREATE TRIGGER {stem}_upd AFTER UPDATE ON {table} REFERENCING OLD TABLE AS o NEW TABLE AS n"
        f" FOR EACH STATEMENT EXECUTE FUNCTION {name}();\n"
        f"CREATE TRIGGER {stem}_del AFTER DELETE ON {table} REFERENCING OLD TABLE AS o"
        f" FOR EACH STATEMENT EXECUTE FUNCTION {name}();\n"
    )


def upgrade() -> None:
    op.execute(DDL)
    op.execute(BACKFILL)
    op.execute("CREATE OR REPLACE FUNCTION stat_fold() RETURNS integer LANGUAGE sql AS $$ SELECT 0 $$;")
    for name, table in SOURCES.items():
        op.execute(_stub(name))
        op.execute(_triggers(name, table))


def downgrade() -> None:
    for name, table in SOURCES.items():
        stem = f"{table}_{name}"
        for suffix in ("ins", "upd", "del"):
            op.execute(f"DROP TRIGGER IF EXISTS {stem}_{suffix} ON {table}")
        op.execute(f"DROP FUNCTION IF EXISTS {name}()")
        op.execute(f"DELETE FROM schema_sql_object WHERE name = '{name}'")
    op.execute("DROP FUNCTION IF EXISTS stat_fold()")
    op.execute("DELETE FROM schema_sql_object WHERE name = 'stat_fold'")
    op.execute(
        "DROP TABLE IF EXISTS biz_stat_export, biz_stat_customer, biz_stat_invoice, biz_stat_reading,"
        " biz_stat_collection, biz_stat_receivable"
    )
