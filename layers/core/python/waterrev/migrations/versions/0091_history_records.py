"""History queries and migration verification (历史查询与迁移校验接口口径).

A legacy data set is loaded, one CSV per object type (docs/MIGRATION.md), into biz_hist_record: one row
per legacy object with its original identifiers (legacy_no, legacy_batch_no), the new system's business
number it was migrated to (new_no) and that object's id resolved at import (new_id; NULL when no such
object exists), the searchable columns (customer number, ID number, mobile, meter number, period,
office, channel), amount and statuses, and every other CSV column in `detail`. biz_hist_import is one
row per file (a re-sent file, same object type and sha256, is the same import). History is read-only:
nothing but an import writes these tables, and an import never changes the business tables.

Revision ID: 0091
Revises: 0090
"""

from alembic import op

revision = "0091"
down_revision = "0090"
branch_labels = None
depends_on = None

DDL = r"""
CREATE TABLE biz_hist_import (
    id             BIGSERIAL    PRIMARY KEY,
    import_no      VARCHAR(40)  NOT NULL UNIQUE,
    object_type    VARCHAR(16)  NOT NULL,
    source_system  VARCHAR(32)  NOT NULL,
    file_name      VARCHAR(255),
    content_sha256 CHAR(64)     NOT NULL,
    row_count      INTEGER      NOT NULL,
    mapped_count   INTEGER      NOT NULL,
    operator_id    BIGINT,
    create_time    TIMESTAMPTZ  NOT NULL DEFAULT now(),
    UNIQUE (object_type, content_sha256)
);
COMMENT ON TABLE biz_hist_import IS 'A legacy data set file loaded into biz_hist_record (one object type per file; the same file twice is one import)';

CREATE TABLE biz_hist_record (
    id              BIGSERIAL     PRIMARY KEY,
    import_id       BIGINT        NOT NULL REFERENCES biz_hist_import (id),
    object_type     VARCHAR(16)   NOT NULL,
    line_no         INTEGER       NOT NULL,
    legacy_no       VARCHAR(64)   NOT NULL,
    legacy_batch_no VARCHAR(64),
    new_no          VARCHAR(64),
    new_id          BIGINT,
    cust_code       VARCHAR(32),
    cust_id         BIGINT,
    id_no           VARCHAR(32),
    mobile          VARCHAR(20),
    meter_no        VARCHAR(32),
    bill_period     CHAR(7),
    dept_id         BIGINT,
    channel         VARCHAR(16),
    amount          NUMERIC(14,2),
    status          VARCHAR(24),
    legacy_status   VARCHAR(32),
    biz_type        VARCHAR(32),
    event_time      TIMESTAMPTZ,
    detail          JSONB         NOT NULL DEFAULT '{}'::jsonb,
    CONSTRAINT ck_hist_object CHECK (object_type IN ('BILL', 'COLLECTION', 'ADJUSTMENT', 'INVOICE', 'REMINDER',
                                                     'PROCESS', 'METER', 'CONFIG')),
    UNIQUE (object_type, legacy_no)
);
CREATE INDEX ix_hist_record_import ON biz_hist_record (import_id);
CREATE INDEX ix_hist_record_cust ON biz_hist_record (cust_code, object_type);
CREATE INDEX ix_hist_record_id_no ON biz_hist_record (id_no) WHERE id_no IS NOT NULL;
CREATE INDEX ix_hist_record_mobile ON biz_hist_record (mobile) WHERE mobile IS NOT NULL;
CREATE INDEX ix_hist_record_meter ON biz_hist_record (meter_no) WHERE meter_no IS NOT NULL;
CREATE INDEX ix_hist_record_period ON biz_hist_record (object_type, bill_period, dept_id);
CREATE INDEX ix_hist_record_new ON biz_hist_record (object_type, new_id) WHERE new_id IS NOT NULL;
CREATE INDEX ix_hist_record_new_no ON biz_hist_record (new_no) WHERE new_no IS NOT NULL;
COMMENT ON TABLE biz_hist_record IS 'Legacy objects (history, read-only) with original <-> new identifiers: 最小历史查询保留集';
COMMENT ON COLUMN biz_hist_record.legacy_no IS '原系统标识: 原单号 / 原流水号 / 发票号 / 原业务单号 / 单据号 / 参数编码';
COMMENT ON COLUMN biz_hist_record.new_no IS '新系统业务单号, as the migration gave it';
COMMENT ON COLUMN biz_hist_record.new_id IS 'The new object''s id, resolved at import from new_no (NULL: not found in the new system)';
COMMENT ON COLUMN biz_hist_record.status IS 'The status in the new system''s codes (what verification compares); legacy_status keeps the original text';
COMMENT ON COLUMN biz_hist_record.bill_period IS 'Bill period; for collections and invoices the month of event_time when not given';
"""

DROP = "DROP TABLE IF EXISTS biz_hist_record, biz_hist_import"


def upgrade() -> None:
    op.execute(DDL)


def downgrade() -> None:
    op.execute(DROP)
