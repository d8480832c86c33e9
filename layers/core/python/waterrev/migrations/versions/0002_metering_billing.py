"""Metering and billing: meter books, reading tasks, readings, prices, bill runs.

Revision ID: 0002
Revises: 0001
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

DDL = r"""
CREATE TABLE biz_meter_book (
    id          BIGSERIAL PRIMARY KEY,
    code        VARCHAR(32)  NOT NULL UNIQUE,
    name        VARCHAR(100) NOT NULL,
    area_code   VARCHAR(32)  NOT NULL,
    dept_id     BIGINT       NOT NULL REFERENCES system_dept (id),
    read_cycle  VARCHAR(12)  NOT NULL,             -- MONTHLY | ODD_MONTH | EVEN_MONTH | QUARTERLY
    reader_id   BIGINT       REFERENCES system_users (id),
    status      VARCHAR(8)   NOT NULL DEFAULT 'ACTIVE',
    create_time TIMESTAMPTZ  NOT NULL DEFAULT now()
);

ALTER TABLE biz_meter ADD COLUMN book_id BIGINT REFERENCES biz_meter_book (id);
CREATE INDEX ix_biz_meter_book ON biz_meter (book_id) WHERE status = 'ACTIVE';

-- How a customer is settled, and which price template family applies (default: its cust_type).
ALTER TABLE biz_cust ADD COLUMN settle_type VARCHAR(16) NOT NULL DEFAULT 'ACTUAL_USAGE';
    -- ACTUAL_USAGE | FIXED_VOLUME | PER_POPULATION | MINIMUM_CHARGE
ALTER TABLE biz_cust ADD COLUMN settle_volume NUMERIC(12,2);
    -- FIXED_VOLUME: m3 per period; PER_POPULATION: m3 per person; MINIMUM_CHARGE: minimum m3
ALTER TABLE biz_cust ADD COLUMN price_code VARCHAR(32);

-- One reading task per meter and period.
CREATE TABLE biz_meter_read (
    id               BIGSERIAL PRIMARY KEY,
    book_id          BIGINT      REFERENCES biz_meter_book (id),
    meter_id         BIGINT      NOT NULL REFERENCES biz_meter (id),
    cust_id          BIGINT      NOT NULL REFERENCES biz_cust (id),
    bill_period      CHAR(7)     NOT NULL,
    reading_batch_no VARCHAR(40),
    status           VARCHAR(8)  NOT NULL DEFAULT 'OPEN',  -- OPEN | READ | REVIEW | BILLED | CLOSED
    create_time      TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (meter_id, bill_period)
);
CREATE INDEX ix_meter_read_period ON biz_meter_read (bill_period, status);
CREATE INDEX ix_meter_read_batch ON biz_meter_read (reading_batch_no);

CREATE TABLE biz_reading_data (
    id               BIGSERIAL PRIMARY KEY,
    meter_read_id    BIGINT        NOT NULL REFERENCES biz_meter_read (id),
    meter_id         BIGINT        NOT NULL REFERENCES biz_meter (id),
    cust_id          BIGINT        NOT NULL REFERENCES biz_cust (id),
    bill_period      CHAR(7)       NOT NULL,
    read_time        TIMESTAMPTZ   NOT NULL,
    previous_reading NUMERIC(12,2) NOT NULL,
    current_reading  NUMERIC(12,2) NOT NULL,
    usage_amount     NUMERIC(12,2) NOT NULL,
    read_type        VARCHAR(8)    NOT NULL,          -- MANUAL | IOT | IMPORT | ESTIMATE
    estimated        BOOLEAN       NOT NULL DEFAULT false,
    rollover         BOOLEAN       NOT NULL DEFAULT false,
    validate_status  VARCHAR(8)    NOT NULL,          -- PASS | WARN | REJECT
    abnormal_flag    BOOLEAN       NOT NULL DEFAULT false,
    -- VALID (ready for billing) | PENDING_REVIEW | REJECTED | BILLED | SUPERSEDED
    status           VARCHAR(16)   NOT NULL,
    file_serial_no   VARCHAR(64),
    photo_list       JSONB         NOT NULL DEFAULT '[]',
    gps              VARCHAR(64),
    remark           VARCHAR(255),
    operator_id      BIGINT,
    create_time      TIMESTAMPTZ   NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX ux_reading_file_serial ON biz_reading_data (file_serial_no) WHERE file_serial_no IS NOT NULL;
CREATE UNIQUE INDEX ux_reading_iot_time ON biz_reading_data (meter_id, read_time) WHERE read_type = 'IOT';
CREATE INDEX ix_reading_meter ON biz_reading_data (meter_id, read_time DESC);
CREATE INDEX ix_reading_ready ON biz_reading_data (bill_period, status) WHERE status = 'VALID';
CREATE INDEX ix_reading_cust ON biz_reading_data (cust_id, bill_period DESC);

-- The last valid reading of each meter: the base of the next usage.
CREATE TABLE biz_last_reading (
    meter_id      BIGINT        PRIMARY KEY REFERENCES biz_meter (id),
    reading_id    BIGINT        REFERENCES biz_reading_data (id),
    reading_value NUMERIC(12,2) NOT NULL,
    read_time     TIMESTAMPTZ,
    estimated     BOOLEAN       NOT NULL DEFAULT false,
    -- negative usage left over when a real reading comes in below an estimate: deducted next time
    carry_usage   NUMERIC(12,2) NOT NULL DEFAULT 0,
    update_time   TIMESTAMPTZ   NOT NULL DEFAULT now()
);

CREATE TABLE biz_reading_logs (
    id            BIGSERIAL PRIMARY KEY,
    reading_id    BIGINT,
    meter_read_id BIGINT,
    meter_id      BIGINT       NOT NULL,
    action        VARCHAR(16)  NOT NULL,   -- SUBMIT | ESTIMATE | REVIEW | IOT_PUSH
    result        VARCHAR(16)  NOT NULL,   -- PASS | WARN | REJECT | DUPLICATE
    remark        VARCHAR(512),
    operator_id   BIGINT,
    create_time   TIMESTAMPTZ  NOT NULL DEFAULT now()
);
CREATE INDEX ix_reading_logs_meter ON biz_reading_logs (meter_id, create_time DESC);

-- An approved review allows a reading below the last one (meter reset, wrong previous reading).
CREATE TABLE biz_reading_review (
    id            BIGSERIAL PRIMARY KEY,
    meter_id      BIGINT        NOT NULL REFERENCES biz_meter (id),
    meter_read_id BIGINT        REFERENCES biz_meter_read (id),
    reading_value NUMERIC(12,2) NOT NULL,
    status        VARCHAR(10)   NOT NULL DEFAULT 'PENDING',  -- PENDING | APPROVED | REJECTED | USED
    reason        VARCHAR(255)  NOT NULL,
    approver_id   BIGINT,
    create_time   TIMESTAMPTZ   NOT NULL DEFAULT now()
);

-- A meter change: the old meter's final usage is added to the new meter's first reading.
CREATE TABLE biz_meter_change (
    id                  BIGSERIAL PRIMARY KEY,
    old_meter_id        BIGINT        NOT NULL REFERENCES biz_meter (id),
    new_meter_id        BIGINT        NOT NULL REFERENCES biz_meter (id),
    old_final_reading   NUMERIC(12,2) NOT NULL,
    new_initial_reading NUMERIC(12,2) NOT NULL,
    carried_usage       NUMERIC(12,2) NOT NULL,
    settled             BOOLEAN       NOT NULL DEFAULT false,
    change_time         TIMESTAMPTZ   NOT NULL DEFAULT now()
);

CREATE TABLE biz_meter_device_status (
    id            BIGSERIAL PRIMARY KEY,
    meter_id      BIGINT      NOT NULL REFERENCES biz_meter (id),
    device_status VARCHAR(16) NOT NULL,    -- ONLINE | OFFLINE | FAULT
    alarm_codes   JSONB       NOT NULL DEFAULT '[]',
    battery_level NUMERIC(5,2),
    signal        INT,
    report_time   TIMESTAMPTZ NOT NULL,
    create_time   TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX ix_device_status_meter ON biz_meter_device_status (meter_id, report_time DESC);

-- ---------------------------------------------------------------------------- prices ------
CREATE TABLE biz_price_template (
    id              BIGSERIAL PRIMARY KEY,
    code            VARCHAR(32)  NOT NULL,         -- family, e.g. RESIDENT
    name            VARCHAR(100) NOT NULL,
    version         INT          NOT NULL,
    tier_mode       VARCHAR(8)   NOT NULL,         -- MONTHLY | ANNUAL
    base_population INT          NOT NULL DEFAULT 4,
    status          VARCHAR(8)   NOT NULL DEFAULT 'DRAFT',  -- DRAFT | ACTIVE | EXPIRED
    effective_date  DATE,
    expire_date     DATE,
    dept_id         BIGINT,
    create_time     TIMESTAMPTZ  NOT NULL DEFAULT now(),
    UNIQUE (code, version)
);

CREATE TABLE biz_price_tier_adjustment (
    id              BIGSERIAL PRIMARY KEY,
    template_id     BIGINT        NOT NULL REFERENCES biz_price_template (id),
    tier_no         INT           NOT NULL,
    upper_bound     NUMERIC(12,2),                  -- cumulative; NULL for the open last tier
    population_step NUMERIC(12,2) NOT NULL DEFAULT 0,
    UNIQUE (template_id, tier_no)
);

CREATE TABLE biz_cost_component (
    id          BIGSERIAL PRIMARY KEY,
    template_id BIGINT       NOT NULL REFERENCES biz_price_template (id),
    code        VARCHAR(32)  NOT NULL,             -- WATER_FEE | SEWAGE_FEE | RESOURCE_FEE
    name        VARCHAR(64)  NOT NULL,
    tax_rate    NUMERIC(6,4) NOT NULL,
    sort        INT          NOT NULL DEFAULT 0,
    UNIQUE (template_id, code)
);

CREATE TABLE biz_cost_component_price (
    component_id BIGINT        NOT NULL REFERENCES biz_cost_component (id),
    tier_no      INT           NOT NULL,
    unit_price   NUMERIC(10,4) NOT NULL CHECK (unit_price >= 0),
    PRIMARY KEY (component_id, tier_no)
);

-- ----------------------------------------------------------------------------- bills -------
ALTER TABLE biz_charge ADD COLUMN meter_read_id BIGINT REFERENCES biz_meter_read (id);
ALTER TABLE biz_charge ADD COLUMN reading_id BIGINT REFERENCES biz_reading_data (id);
ALTER TABLE biz_charge ADD COLUMN price_template_id BIGINT REFERENCES biz_price_template (id);
ALTER TABLE biz_charge ADD COLUMN settle_type VARCHAR(16) NOT NULL DEFAULT 'ACTUAL_USAGE';
ALTER TABLE biz_charge ADD COLUMN bill_run_id BIGINT;
-- one bill per reading: generating the same period twice creates no second bill
CREATE UNIQUE INDEX ux_biz_charge_reading ON biz_charge (reading_id) WHERE reading_id IS NOT NULL;
CREATE SEQUENCE biz_charge_code_seq;

CREATE TABLE biz_bill_run (
    id            BIGSERIAL PRIMARY KEY,
    run_no        VARCHAR(40)   NOT NULL UNIQUE,
    bill_period   CHAR(7)       NOT NULL,
    due_date      DATE          NOT NULL,
    status        VARCHAR(12)   NOT NULL DEFAULT 'RUNNING',  -- RUNNING | SUCCEEDED | PARTIAL | FAILED
    reading_count INT           NOT NULL DEFAULT 0,
    success_count INT           NOT NULL DEFAULT 0,
    failure_count INT           NOT NULL DEFAULT 0,
    total_amount  NUMERIC(16,2) NOT NULL DEFAULT 0,
    summary       JSONB,
    execution_arn VARCHAR(255),
    start_time    TIMESTAMPTZ   NOT NULL DEFAULT now(),
    end_time      TIMESTAMPTZ
);

CREATE TABLE biz_bill_failure (
    id          BIGSERIAL PRIMARY KEY,
    bill_run_id BIGINT       REFERENCES biz_bill_run (id),
    reading_id  BIGINT       NOT NULL,
    cust_id     BIGINT,
    error_code  BIGINT       NOT NULL,
    reason      VARCHAR(512) NOT NULL,
    create_time TIMESTAMPTZ  NOT NULL DEFAULT now()
);
CREATE INDEX ix_bill_failure_run ON biz_bill_failure (bill_run_id);
"""

DROP = r"""
DROP TABLE IF EXISTS biz_bill_failure, biz_bill_run, biz_cost_component_price, biz_cost_component,
    biz_price_tier_adjustment, biz_meter_device_status, biz_meter_change, biz_reading_review,
    biz_reading_logs, biz_last_reading CASCADE;
DROP INDEX IF EXISTS ux_biz_charge_reading;
ALTER TABLE biz_charge DROP COLUMN IF EXISTS meter_read_id, DROP COLUMN IF EXISTS reading_id,
    DROP COLUMN IF EXISTS price_template_id, DROP COLUMN IF EXISTS settle_type, DROP COLUMN IF EXISTS bill_run_id;
DROP SEQUENCE IF EXISTS biz_charge_code_seq;
DROP TABLE IF EXISTS biz_reading_data, biz_meter_read, biz_price_template CASCADE;
ALTER TABLE biz_cust DROP COLUMN IF EXISTS settle_type, DROP COLUMN IF EXISTS settle_volume,
    DROP COLUMN IF EXISTS price_code;
ALTER TABLE biz_meter DROP COLUMN IF EXISTS book_id;
DROP TABLE IF EXISTS biz_meter_book CASCADE;
"""


def upgrade() -> None:
    op.execute(DDL)


def downgrade() -> None:
    op.execute(DROP)
