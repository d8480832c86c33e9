"""Adjustments with approval (IF-REV-007 账务调整: USAGE, AMOUNT, REFUND, REVERSE, BAD_DEBT) and refunds.

biz_adjustment is one adjustment request (the seed's response fields, the approval boundary: who asked,
who decided - never the same person, ck_adjustment_second_person), unique by its request key (the
caller's requestNo, or the request's content and day: a duplicate answers the first). What it did to the
ledger are new rows, never edits of posted amounts: biz_adjustment_line (principal and penalty taken
back off a bill by a reversal, a bad-debt write-off, a balance movement, money refunded), an ADJUST bill
(biz_charge source_type ADJUST, like PRICE_DIFF: a difference bill of source_charge_id; a negative one
is a credit settled into the balance) and biz_refund (money paid back through SYS-009's refund call, or
at the counter). A collection is reversed at most once (ux_adjustment_reverse). The ledger's
invariants (docs/LEDGER.md) are checked nightly by job_ledger_check, which records each run in
biz_ledger_check.

Revision ID: 0080
Revises: 0070
"""

from alembic import op

revision = "0080"
down_revision = "0070"
branch_labels = None
depends_on = None

DDL = r"""
CREATE SEQUENCE biz_adjustment_seq;
CREATE SEQUENCE biz_refund_seq;

CREATE TABLE biz_adjustment (
    id                   BIGSERIAL PRIMARY KEY,
    adjustment_no        VARCHAR(24) NOT NULL UNIQUE,
    adjust_type          VARCHAR(16) NOT NULL,
    charge_id            BIGINT NOT NULL REFERENCES biz_charge(id),
    cust_id              BIGINT NOT NULL REFERENCES biz_cust(id),
    account_id           BIGINT NOT NULL REFERENCES biz_account(id),
    adjust_amount        NUMERIC(14,2),
    adjust_usage         NUMERIC(12,2),
    source_trade_no      VARCHAR(96),
    source_collection_id BIGINT REFERENCES biz_collection(id),
    reason_code          VARCHAR(32) NOT NULL,
    remark               VARCHAR(255),
    attachment_list      JSONB NOT NULL DEFAULT '[]',
    status               VARCHAR(16) NOT NULL,
    write_back_status    VARCHAR(12) NOT NULL,
    approval_required    BOOLEAN NOT NULL,
    effect_amount        NUMERIC(14,2) NOT NULL DEFAULT 0,
    request_key          VARCHAR(200) NOT NULL,
    requested_by         BIGINT NOT NULL,
    request_time         TIMESTAMPTZ NOT NULL DEFAULT now(),
    decided_by           BIGINT,
    decision_remark      VARCHAR(200),
    decided_time         TIMESTAMPTZ,
    executed_time        TIMESTAMPTZ,
    new_charge_id        BIGINT REFERENCES biz_charge(id),
    fail_reason          VARCHAR(255),
    result               JSONB,
    CONSTRAINT ck_adjustment_type CHECK (adjust_type IN ('USAGE', 'AMOUNT', 'REFUND', 'REVERSE', 'BAD_DEBT')),
    CONSTRAINT ck_adjustment_status CHECK (status IN ('PENDING_APPROVAL', 'SUCCESS', 'REJECTED', 'FAIL')),
    CONSTRAINT ck_adjustment_write_back CHECK (write_back_status IN ('NONE', 'PENDING', 'SUCCESS')),
    CONSTRAINT ck_adjustment_second_person CHECK (decided_by IS NULL OR decided_by <> requested_by)
);
COMMENT ON TABLE biz_adjustment IS 'IF-REV-007 账务调整: one adjustment request, its approval and what it did';
COMMENT ON COLUMN biz_adjustment.status IS 'PENDING_APPROVAL (waits for a second person) | SUCCESS (done) | REJECTED (answered resultStatus FAIL) | FAIL (approved but could no longer be done)';
COMMENT ON COLUMN biz_adjustment.effect_amount IS 'The money the adjustment moves (absolute), compared with revenue.adjust.approval-threshold';
COMMENT ON COLUMN biz_adjustment.request_key IS 'Idempotency: RNO:<operator>:<requestNo>, or H:<sha256 of the request and the business day>';
CREATE UNIQUE INDEX ux_adjustment_request ON biz_adjustment (request_key);
CREATE UNIQUE INDEX ux_adjustment_reverse ON biz_adjustment (source_collection_id)
    WHERE adjust_type = 'REVERSE' AND status IN ('PENDING_APPROVAL', 'SUCCESS');
CREATE INDEX ix_adjustment_charge ON biz_adjustment (charge_id);
CREATE INDEX ix_adjustment_pending ON biz_adjustment (request_time) WHERE status = 'PENDING_APPROVAL';

CREATE TABLE biz_adjustment_line (
    id             BIGSERIAL PRIMARY KEY,
    adjustment_id  BIGINT NOT NULL REFERENCES biz_adjustment(id),
    cust_id        BIGINT NOT NULL REFERENCES biz_cust(id),
    account_id     BIGINT NOT NULL REFERENCES biz_account(id),
    charge_id      BIGINT REFERENCES biz_charge(id),
    collection_id  BIGINT REFERENCES biz_collection(id),
    line_type      VARCHAR(12) NOT NULL,
    amount         NUMERIC(14,2) NOT NULL,
    as_of          DATE NOT NULL DEFAULT ((now() AT TIME ZONE 'Asia/Shanghai')::date),
    create_time    TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT ck_adjustment_line_type CHECK (line_type IN ('PRINCIPAL', 'PENALTY', 'BAD_DEBT', 'BALANCE', 'REFUND')),
    CONSTRAINT ck_adjustment_line_amount CHECK (amount <> 0),
    CONSTRAINT ck_adjustment_line_bill CHECK (line_type NOT IN ('PRINCIPAL', 'PENALTY', 'BAD_DEBT') OR charge_id IS NOT NULL)
);
COMMENT ON TABLE biz_adjustment_line IS 'The ledger entries of an adjustment (docs/LEDGER.md): never edited';
COMMENT ON COLUMN biz_adjustment_line.line_type IS 'PRINCIPAL / PENALTY: change of what was written off on the bill (a reversal: negative) | BAD_DEBT: principal written off as bad debt | BALANCE: change of the account balance | REFUND: money paid back to the customer';
COMMENT ON COLUMN biz_adjustment_line.as_of IS 'PRINCIPAL: the day (Beijing) from the end of which the principal is unpaid again (the penalty accrues again)';
CREATE INDEX ix_adjustment_line_charge ON biz_adjustment_line (charge_id) WHERE charge_id IS NOT NULL;
CREATE INDEX ix_adjustment_line_cust ON biz_adjustment_line (cust_id);

CREATE TABLE biz_refund (
    id               BIGSERIAL PRIMARY KEY,
    refund_no        VARCHAR(32) NOT NULL UNIQUE,
    adjustment_id    BIGINT REFERENCES biz_adjustment(id),
    exception_id     BIGINT REFERENCES bk_transaction_exception(id),
    cust_id          BIGINT REFERENCES biz_cust(id),
    account_id       BIGINT REFERENCES biz_account(id),
    amount           NUMERIC(14,2) NOT NULL,
    booked           BOOLEAN NOT NULL,
    method           VARCHAR(8) NOT NULL,
    source_trade_no  VARCHAR(96),
    channel_code     VARCHAR(12),
    status           VARCHAR(10) NOT NULL DEFAULT 'PENDING',
    sys_refund_no    VARCHAR(64),
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_try_time    TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_error       VARCHAR(512),
    operator_id      BIGINT,
    paid_time        TIMESTAMPTZ,
    create_time      TIMESTAMPTZ NOT NULL DEFAULT now(),
    update_time      TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT ck_refund_amount CHECK (amount > 0),
    CONSTRAINT ck_refund_method CHECK (method IN ('SYS009', 'COUNTER')),
    CONSTRAINT ck_refund_status CHECK (status IN ('PENDING', 'PROCESSING', 'SUCCESS', 'FAIL')),
    CONSTRAINT ck_refund_origin CHECK (adjustment_id IS NOT NULL OR exception_id IS NOT NULL)
);
COMMENT ON TABLE biz_refund IS 'Money paid back: through SYS-009 (refund call + signed notification) or at the counter';
COMMENT ON COLUMN biz_refund.booked IS 'true: the money was in the ledger (taken off the balance or a reversed collection; a FAIL puts it back on the balance); false: money SYS-009 received that never became a collection (payment exception review)';
COMMENT ON COLUMN biz_refund.status IS 'PENDING (not yet accepted by SYS-009) | PROCESSING (accepted, no result yet) | SUCCESS (paid back) | FAIL';
CREATE UNIQUE INDEX ux_refund_exception ON biz_refund (exception_id) WHERE exception_id IS NOT NULL;
CREATE INDEX ix_refund_due ON biz_refund (next_try_time) WHERE status IN ('PENDING', 'PROCESSING');
CREATE INDEX ix_refund_trade ON biz_refund (source_trade_no);

CREATE TABLE biz_refund_callback (
    id            BIGSERIAL PRIMARY KEY,
    refund_no     VARCHAR(32),
    refund_status VARCHAR(10),
    notify_id     VARCHAR(64),
    verified      BOOLEAN NOT NULL,
    outcome       VARCHAR(16) NOT NULL,
    raw_body      TEXT NOT NULL,
    create_time   TIMESTAMPTZ NOT NULL DEFAULT now()
);
COMMENT ON TABLE biz_refund_callback IS 'Every SYS-009 refund notification received, verified or not';
CREATE UNIQUE INDEX ux_refund_callback ON biz_refund_callback (notify_id) WHERE verified AND outcome = 'APPLIED';

CREATE TABLE biz_ledger_check (
    id            BIGSERIAL PRIMARY KEY,
    check_time    TIMESTAMPTZ NOT NULL DEFAULT now(),
    customers     INTEGER NOT NULL,
    violations    INTEGER NOT NULL,
    totals        JSONB NOT NULL,
    detail        JSONB NOT NULL
);
COMMENT ON TABLE biz_ledger_check IS 'Each run of the nightly ledger invariant check (docs/LEDGER.md): totals and the customers that break it';

ALTER TABLE biz_charge DROP CONSTRAINT ck_charge_source;
ALTER TABLE biz_charge ADD CONSTRAINT ck_charge_source CHECK (source_type IN ('READING', 'PRICE_DIFF', 'ADJUST'));
ALTER TABLE biz_charge DROP CONSTRAINT biz_charge_check;
ALTER TABLE biz_charge ADD CONSTRAINT biz_charge_check CHECK (
    (total_amount >= 0 AND paid_amount >= 0 AND paid_amount <= total_amount)
    OR (total_amount < 0 AND source_type IN ('PRICE_DIFF', 'ADJUST') AND paid_amount = total_amount));
COMMENT ON COLUMN biz_charge.source_type IS '来源类型: READING (billed from a reading, or migrated history) | PRICE_DIFF (价差调整 of source_charge_id) | ADJUST (IF-REV-007 usage or amount adjustment of source_charge_id)';
ALTER TABLE biz_charge_detail DROP CONSTRAINT ck_charge_detail_kind;
ALTER TABLE biz_charge_detail ADD CONSTRAINT ck_charge_detail_kind
    CHECK (line_kind IN ('USAGE', 'MINIMUM', 'FIXED', 'PRICE_DIFF', 'ADJUST'));
CREATE INDEX ix_charge_source ON biz_charge (source_charge_id) WHERE source_charge_id IS NOT NULL;
"""

DROP = r"""
DROP INDEX IF EXISTS ix_charge_source;
ALTER TABLE biz_charge_detail DROP CONSTRAINT ck_charge_detail_kind;
ALTER TABLE biz_charge_detail ADD CONSTRAINT ck_charge_detail_kind
    CHECK (line_kind IN ('USAGE', 'MINIMUM', 'FIXED', 'PRICE_DIFF'));
ALTER TABLE biz_charge DROP CONSTRAINT biz_charge_check;
ALTER TABLE biz_charge ADD CONSTRAINT biz_charge_check CHECK (
    (total_amount >= 0 AND paid_amount >= 0 AND paid_amount <= total_amount)
    OR (total_amount < 0 AND source_type = 'PRICE_DIFF' AND paid_amount = total_amount));
ALTER TABLE biz_charge DROP CONSTRAINT ck_charge_source;
ALTER TABLE biz_charge ADD CONSTRAINT ck_charge_source CHECK (source_type IN ('READING', 'PRICE_DIFF'));
DROP TABLE IF EXISTS biz_ledger_check;
DROP TABLE IF EXISTS biz_refund_callback;
DROP TABLE IF EXISTS biz_refund;
DROP TABLE IF EXISTS biz_adjustment_line;
DROP TABLE IF EXISTS biz_adjustment;
DROP SEQUENCE IF EXISTS biz_refund_seq;
DROP SEQUENCE IF EXISTS biz_adjustment_seq;
"""


def upgrade() -> None:
    op.execute(DDL)


def downgrade() -> None:
    op.execute(DROP)
