"""Reminder tasks (IF-REV-013 催缴任务): the task a customer in arrears is reminded by, the generation
run that made it (monthly per office, or on demand), the customers a run skipped and why, and a guard
row per customer that serializes everyone creating reminders for that customer (frequency control and
the daily SMS cap are then plain reads).

Revision ID: 0031
Revises: 0030
"""

from alembic import op

revision = "0031"
down_revision = "0030"
branch_labels = None
depends_on = None

DDL = r"""
CREATE SEQUENCE biz_reminder_task_seq;
CREATE SEQUENCE biz_reminder_run_seq;

CREATE TABLE biz_reminder_run (
    id              BIGSERIAL PRIMARY KEY,
    run_no          VARCHAR(40)  NOT NULL UNIQUE,
    dept_id         BIGINT       NOT NULL,            -- the office (its subtree) the run covered
    trigger_type    VARCHAR(8)   NOT NULL,            -- AUTO (the monthly schedule) | MANUAL (on demand)
    strategy_code   VARCHAR(24),                      -- null: each customer's by how long it is overdue
    on_date         DATE         NOT NULL,            -- overdue days are counted to this date
    candidate_count INT          NOT NULL DEFAULT 0,
    created_count   INT          NOT NULL DEFAULT 0,  -- tasks with a message queued
    blocked_count   INT          NOT NULL DEFAULT 0,  -- tasks recorded FAIL: no usable contact (1_002_008_001)
    skipped_count   INT          NOT NULL DEFAULT 0,  -- frequency control, daily cap (biz_reminder_skip)
    arrears_amount  NUMERIC(14,2) NOT NULL DEFAULT 0,
    operator_id     BIGINT,
    operator_name   VARCHAR(64),
    create_time     TIMESTAMPTZ  NOT NULL DEFAULT now()
);
COMMENT ON TABLE biz_reminder_run IS 'One generation of reminder tasks for an office (IF-REV-013, scheduled or on demand)';

CREATE TABLE biz_reminder_task (
    id                   BIGSERIAL PRIMARY KEY,
    task_no              VARCHAR(32)   NOT NULL UNIQUE,   -- taskNo
    event_no             VARCHAR(64)   NOT NULL UNIQUE,   -- eventNo = biz_message.message_biz_no (SYS-010 eventNo)
    run_id               BIGINT,                          -- biz_reminder_run.id; null for a single task (POST .../task)
    cust_id              BIGINT        NOT NULL,
    dept_id              BIGINT        NOT NULL,          -- the customer's dept when created (data scope)
    charge_ids           BIGINT[]      NOT NULL,          -- the overdue bills reminded of
    bill_period          CHAR(7)       NOT NULL,          -- the oldest of them
    arrears_amount       NUMERIC(14,2) NOT NULL,          -- what is owed on them (rem_charge_arrears)
    strategy_code        VARCHAR(24)   NOT NULL,          -- FIRST_NOTICE | SECOND_NOTICE | PRE_STOP_NOTICE
    template_code        VARCHAR(64)   NOT NULL,          -- SYS-010 templateCode of the strategy
    channel_type         VARCHAR(16)   NOT NULL,          -- the channel chosen (preference: WECHAT, else SMS)
    result_channel       VARCHAR(16),                     -- the channel that reached the customer
    trigger_type         VARCHAR(8)    NOT NULL,          -- AUTO | MANUAL
    status               VARCHAR(16)   NOT NULL DEFAULT 'PENDING',
    failure_reason       VARCHAR(255),
    error_code           BIGINT,                          -- 1_002_008_001 when no usable contact
    result_time          TIMESTAMPTZ,
    related_disposal_ref VARCHAR(64),                     -- a stop/restore water order or work order
    manual_verify_note   VARCHAR(500),
    verifier_id          BIGINT,
    verifier_name        VARCHAR(64),
    verify_time          TIMESTAMPTZ,
    operator_id          BIGINT,
    operator_name        VARCHAR(64),
    create_time          TIMESTAMPTZ   NOT NULL DEFAULT now(),
    update_time          TIMESTAMPTZ   NOT NULL DEFAULT now(),
    CONSTRAINT biz_reminder_task_status CHECK (status IN ('PENDING', 'SUCCESS', 'FAIL', 'MANUAL_VERIFIED'))
);
-- frequency control: the same customer, period and template within the window
CREATE INDEX ix_reminder_task_freq ON biz_reminder_task (cust_id, bill_period, template_code, create_time);
CREATE INDEX ix_reminder_task_cust ON biz_reminder_task (cust_id, create_time DESC, id DESC);
CREATE INDEX ix_reminder_task_run ON biz_reminder_task (run_id) WHERE run_id IS NOT NULL;
CREATE INDEX ix_reminder_task_list ON biz_reminder_task (create_time DESC, id DESC);
COMMENT ON TABLE biz_reminder_task IS
    'IF-REV-013 催缴任务: one reminder of one customer''s overdue bills, in the seed''s four states; its messages are biz_message rows with message_biz_no = event_no';

CREATE TABLE biz_reminder_skip (
    id               BIGSERIAL PRIMARY KEY,
    run_id           BIGINT       NOT NULL,
    cust_id          BIGINT       NOT NULL,
    bill_period      CHAR(7)      NOT NULL,
    strategy_code    VARCHAR(24)  NOT NULL,
    arrears_amount   NUMERIC(14,2) NOT NULL,
    reason_code      VARCHAR(16)  NOT NULL,           -- FREQUENCY | DAILY_CAP
    reason           VARCHAR(255) NOT NULL,
    existing_task_no VARCHAR(32),                     -- FREQUENCY: the task inside the window
    create_time      TIMESTAMPTZ  NOT NULL DEFAULT now()
);
CREATE INDEX ix_reminder_skip_run ON biz_reminder_skip (run_id, id);
COMMENT ON TABLE biz_reminder_skip IS 'Customers a generation run did not remind, with the reason (频控: 返回被跳过对象与原因)';

CREATE TABLE biz_reminder_guard (
    cust_id   BIGINT      PRIMARY KEY,
    run_id    BIGINT,
    lock_time TIMESTAMPTZ NOT NULL DEFAULT now()
) WITH (fillfactor = 70);
COMMENT ON TABLE biz_reminder_guard IS
    'A row per customer ever reminded, locked by whoever creates a reminder for it: concurrent generations serialize per customer';
"""

DROP = r"""
DROP TABLE IF EXISTS biz_reminder_guard;
DROP TABLE IF EXISTS biz_reminder_skip;
DROP TABLE IF EXISTS biz_reminder_task;
DROP TABLE IF EXISTS biz_reminder_run;
DROP SEQUENCE IF EXISTS biz_reminder_run_seq;
DROP SEQUENCE IF EXISTS biz_reminder_task_seq;
"""


def upgrade() -> None:
    op.execute(DDL)


def downgrade() -> None:
    op.execute(DROP)
