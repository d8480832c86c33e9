"""Meter assets (IF-METER-001..003): the archive's missing pieces, work orders, verification
certificates, the meter log, and stock movements with a warehouse balance that cannot go negative.

biz_meter gains where it is in stock (stock_status, warehouse_code) and its range (range_code).
A work order (biz_meter_work_order: CHANGE / MOVE / CALIBRATE / REPAIR; CREATED -> DISPATCHED -> DONE,
or CANCELLED) may come from an online application (process_id); one live order per meter. Every event of
a meter's life is a biz_meter_log row. A stock action is a biz_meter_in_out row, unique by action and
batchNo (a repeated batch answers the first result), with one biz_meter_in_out_rel line per meter
(SUCCESS / FAIL and why); biz_meter_stock holds the count in stock per warehouse and caliber, CHECK >= 0.

Revision ID: 0061
Revises: 0060
"""

from alembic import op

revision = "0061"
down_revision = "0060"
branch_labels = None
depends_on = None

DDL = r"""
ALTER TABLE biz_meter
    ADD COLUMN stock_status   VARCHAR(12),
    ADD COLUMN warehouse_code VARCHAR(32),
    ADD COLUMN range_code     VARCHAR(16);
COMMENT ON COLUMN biz_meter.stock_status IS 'IN_STOCK | ISSUED (领用出库) | INSTALLED | REMOVED (拆回) | SCRAPPED; NULL: installed before stock was kept';
COMMENT ON COLUMN biz_meter.warehouse_code IS 'the warehouse holding it (IN_STOCK), or that issued it';
CREATE INDEX ix_meter_stock ON biz_meter (warehouse_code, stock_status) WHERE stock_status IS NOT NULL;

CREATE SEQUENCE biz_meter_work_order_seq;
CREATE TABLE biz_meter_work_order (
    id           BIGSERIAL   PRIMARY KEY,
    order_no     VARCHAR(32) NOT NULL UNIQUE,
    order_type   VARCHAR(12) NOT NULL,  -- CHANGE | MOVE | CALIBRATE | REPAIR
    meter_id     BIGINT      NOT NULL REFERENCES biz_meter (id),
    cust_id      BIGINT      REFERENCES biz_cust (id),
    process_id   BIGINT      REFERENCES biz_process (id),
    status       VARCHAR(12) NOT NULL DEFAULT 'CREATED',  -- CREATED | DISPATCHED | DONE | CANCELLED
    reason       VARCHAR(255) NOT NULL,
    handler_id   BIGINT,
    new_meter_id BIGINT      REFERENCES biz_meter (id),
    result       JSONB,
    creator      BIGINT,
    create_time  TIMESTAMPTZ NOT NULL DEFAULT now(),
    update_time  TIMESTAMPTZ NOT NULL DEFAULT now(),
    finish_time  TIMESTAMPTZ
);
CREATE UNIQUE INDEX ux_work_order_live ON biz_meter_work_order (meter_id) WHERE status IN ('CREATED', 'DISPATCHED');
CREATE UNIQUE INDEX ux_work_order_process ON biz_meter_work_order (process_id)
    WHERE process_id IS NOT NULL AND status IN ('CREATED', 'DISPATCHED');
CREATE INDEX ix_work_order_cust ON biz_meter_work_order (cust_id);
COMMENT ON TABLE biz_meter_work_order IS '表务工单 (IF-METER-002): one live order per meter';

CREATE TABLE biz_meter_log (
    id            BIGSERIAL   PRIMARY KEY,
    meter_id      BIGINT      NOT NULL REFERENCES biz_meter (id),
    event         VARCHAR(24) NOT NULL,  -- STOCK_IN | STOCK_OUT | STOCK_RETURN | STOCK_SCRAP | WORK_ORDER_* | INSTALLED | REMOVED | MOVED | CALIBRATED | REPAIRED
    work_order_id BIGINT      REFERENCES biz_meter_work_order (id),
    in_out_id     BIGINT,
    detail        JSONB       NOT NULL DEFAULT '{}',
    operator_id   BIGINT,
    create_time   TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX ix_meter_log_meter ON biz_meter_log (meter_id, id DESC);
COMMENT ON TABLE biz_meter_log IS 'a meter''s life: stock movements, installation, removal, work orders';

CREATE TABLE biz_meter_certificate (
    id             BIGSERIAL   PRIMARY KEY,
    meter_id       BIGINT      NOT NULL REFERENCES biz_meter (id),
    certificate_no VARCHAR(64) NOT NULL UNIQUE,
    verify_result  VARCHAR(8)  NOT NULL,  -- PASS | FAIL
    verify_date    DATE        NOT NULL,
    valid_until    DATE,
    agency         VARCHAR(100),
    work_order_id  BIGINT      REFERENCES biz_meter_work_order (id),
    create_time    TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX ix_meter_certificate_meter ON biz_meter_certificate (meter_id, verify_date DESC);
COMMENT ON TABLE biz_meter_certificate IS '检定证书: one per verification of a meter';

CREATE TABLE biz_meter_in_out (
    id             BIGSERIAL    PRIMARY KEY,
    batch_no       VARCHAR(40)  NOT NULL,
    action         VARCHAR(8)   NOT NULL,  -- IN | OUT | RETURN | SCRAP
    warehouse_code VARCHAR(32),
    action_status  VARCHAR(8)   NOT NULL,  -- SUCCESS | PARTIAL | FAIL
    success_count  INT          NOT NULL,
    fail_count     INT          NOT NULL,
    remark         VARCHAR(255),
    operator_id    BIGINT       NOT NULL,
    create_time    TIMESTAMPTZ  NOT NULL DEFAULT now(),
    UNIQUE (action, batch_no)
);
COMMENT ON TABLE biz_meter_in_out IS '出入库单 (IF-METER-003): one per action and batchNo';

CREATE TABLE biz_meter_in_out_rel (
    id          BIGSERIAL    PRIMARY KEY,
    in_out_id   BIGINT       NOT NULL REFERENCES biz_meter_in_out (id),
    meter_id    BIGINT       NOT NULL,
    line_status VARCHAR(8)   NOT NULL,  -- SUCCESS | FAIL
    reason      VARCHAR(255),
    UNIQUE (in_out_id, meter_id)
);

CREATE TABLE biz_meter_stock (
    warehouse_code VARCHAR(32) NOT NULL,
    caliber        VARCHAR(16) NOT NULL,
    quantity       INT         NOT NULL DEFAULT 0 CHECK (quantity >= 0),
    update_time    TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (warehouse_code, caliber)
);
COMMENT ON TABLE biz_meter_stock IS 'meters IN_STOCK per warehouse and caliber; never negative';
"""

DROP = r"""
DROP TABLE IF EXISTS biz_meter_stock;
DROP TABLE IF EXISTS biz_meter_in_out_rel;
DROP TABLE IF EXISTS biz_meter_in_out;
DROP TABLE IF EXISTS biz_meter_certificate;
DROP TABLE IF EXISTS biz_meter_log;
DROP TABLE IF EXISTS biz_meter_work_order;
DROP SEQUENCE IF EXISTS biz_meter_work_order_seq;
DROP INDEX IF EXISTS ix_meter_stock;
ALTER TABLE biz_meter DROP COLUMN IF EXISTS stock_status, DROP COLUMN IF EXISTS warehouse_code,
    DROP COLUMN IF EXISTS range_code;
"""


def upgrade() -> None:
    op.execute(DDL)


def downgrade() -> None:
    op.execute(DROP)
