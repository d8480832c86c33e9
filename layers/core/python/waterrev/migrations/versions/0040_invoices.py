"""Electronic invoices (IF-REV-008, IF-REV-009, IF-EXT-006/007, IF-CS-004).

biz_invoice grows the seed's columns (sysRequestNo, the compensation context, post-processing
reasons, pushStatus, chargeBindStatus) and ours (the bills' key, the S3 object of the file, the title
as applied for). Its lines are biz_invoice_taxrate (one per cost component and tax rate: 多税率拆票),
its bills biz_invoice_charge. A void or red-ink request is a biz_process_invoice_modifys row (the
seed's post-processing context, with the red-letter confirmation form of a 数电票). Every signed
writeback is kept in biz_invoice_callback, unique by the seed's key requestNo + invoiceStatus; a
result that conflicts with a terminal state is a biz_invoice_exception a person lists and resolves.

Revision ID: 0040
Revises: 0032
"""

from alembic import op

revision = "0040"
down_revision = "0032"
branch_labels = None
depends_on = None

DDL = r"""
ALTER TABLE biz_invoice
    ADD COLUMN sys_request_no          VARCHAR(64),
    ADD COLUMN charge_key              VARCHAR(64),
    ADD COLUMN title_type              VARCHAR(12),
    ADD COLUMN invoice_title           VARCHAR(200),
    ADD COLUMN tax_no                  VARCHAR(32),
    ADD COLUMN email                   VARCHAR(128),
    ADD COLUMN mobile                  VARCHAR(20),
    ADD COLUMN source_channel          VARCHAR(24),
    ADD COLUMN remark                  VARCHAR(255),
    ADD COLUMN tax_amount              NUMERIC(14,2),
    ADD COLUMN fail_reason             VARCHAR(255),
    ADD COLUMN issue_time              TIMESTAMPTZ,
    ADD COLUMN file_key                VARCHAR(255),
    ADD COLUMN push_status             VARCHAR(12)  NOT NULL DEFAULT 'NONE',
    ADD COLUMN push_channel            VARCHAR(8),
    ADD COLUMN push_message_id         BIGINT,
    ADD COLUMN push_fail_reason        VARCHAR(255),
    ADD COLUMN charge_bind_status      VARCHAR(8)   NOT NULL DEFAULT 'UNBOUND',
    ADD COLUMN last_try_time           TIMESTAMPTZ,
    ADD COLUMN next_plan_time          TIMESTAMPTZ,
    ADD COLUMN try_count               INT          NOT NULL DEFAULT 0,
    ADD COLUMN latest_result           VARCHAR(255),
    ADD COLUMN latest_error            VARCHAR(255),
    ADD COLUMN invalid_reason          VARCHAR(200),
    ADD COLUMN invalid_remark          VARCHAR(255),
    ADD COLUMN red_ink_reason          VARCHAR(200),
    ADD COLUMN red_ink_remark          VARCHAR(255),
    ADD COLUMN original_invoice_code   VARCHAR(32),
    ADD COLUMN original_invoice_number VARCHAR(32),
    ADD COLUMN operator_id             BIGINT,
    ADD COLUMN update_time             TIMESTAMPTZ  NOT NULL DEFAULT now();
ALTER TABLE biz_invoice ADD CONSTRAINT ck_biz_invoice_status CHECK (invoice_status IN
    ('SUBMITTED', 'PENDING', 'SUCCESS', 'FAIL', 'REJECTED', 'INVALID', 'RED_INK'));
ALTER TABLE biz_invoice ADD CONSTRAINT ck_biz_invoice_push CHECK (push_status IN ('NONE', 'PUSHED', 'FAIL'));
ALTER TABLE biz_invoice ADD CONSTRAINT ck_biz_invoice_bind CHECK (charge_bind_status IN ('UNBOUND', 'BOUND'));
CREATE UNIQUE INDEX ux_biz_invoice_sys_request ON biz_invoice (sys_request_no) WHERE sys_request_no IS NOT NULL;
-- the seed's idempotency key custId + chargeIds: one live or issued invoice per set of bills
CREATE UNIQUE INDEX ux_biz_invoice_charges ON biz_invoice (cust_id, charge_key)
    WHERE invoice_status IN ('SUBMITTED', 'PENDING', 'SUCCESS');
-- the compensation sweep: invoices without a result, by when they are due
CREATE INDEX ix_biz_invoice_due ON biz_invoice (next_plan_time, id) WHERE invoice_status IN ('SUBMITTED', 'PENDING');
COMMENT ON COLUMN biz_invoice.sys_request_no IS 'SYS-008 受理号 (sysRequestNo)';
COMMENT ON COLUMN biz_invoice.charge_key IS 'the invoiced bills, sorted ids joined by commas (idempotency key custId + chargeIds)';
COMMENT ON COLUMN biz_invoice.file_url IS 'the file address SYS-008 wrote back (a platform URL; customers get a time-limited S3 link instead)';
COMMENT ON COLUMN biz_invoice.file_key IS 'the S3 object key of our copy of the invoice file (extension)';
COMMENT ON COLUMN biz_invoice.charge_bind_status IS 'UNBOUND | BOUND: the bills are marked invoiced by this invoice';
COMMENT ON COLUMN biz_invoice.next_plan_time IS 'when the compensation sweep queries SYS-008 next (backoff)';

-- a bill's invoice status: NONE (invoiceable when PAID), PENDING (held by a live application),
-- SUCCESS (invoiced); changed in the transaction that changes its invoice
ALTER TABLE biz_charge ADD CONSTRAINT ck_biz_charge_invoice_status
    CHECK (invoice_status IN ('NONE', 'PENDING', 'SUCCESS'));

-- applicationNo (FP...), void (ZF...) and red-ink (HC...) request numbers
CREATE SEQUENCE biz_invoice_no_seq;
-- SUCCESS invoices whose file has not been copied to S3 yet (the compensation job copies them)
CREATE INDEX ix_biz_invoice_file_missing ON biz_invoice (id)
    WHERE invoice_status = 'SUCCESS' AND file_key IS NULL AND file_url IS NOT NULL;

CREATE TABLE biz_invoice_charge (
    invoice_id BIGINT        NOT NULL REFERENCES biz_invoice (id),
    charge_id  BIGINT        NOT NULL REFERENCES biz_charge (id),
    amount     NUMERIC(14,2) NOT NULL,
    PRIMARY KEY (invoice_id, charge_id)
);
CREATE INDEX ix_biz_invoice_charge_charge ON biz_invoice_charge (charge_id);
COMMENT ON TABLE biz_invoice_charge IS 'the whole paid bills an invoice covers (IF-REV-008 chargeIds)';

CREATE TABLE biz_invoice_taxrate (
    invoice_id     BIGINT        NOT NULL REFERENCES biz_invoice (id),
    line_no        SMALLINT      NOT NULL,
    cost_component VARCHAR(32)   NOT NULL,
    item_name      VARCHAR(64)   NOT NULL,
    tax_code       VARCHAR(32)   NOT NULL,
    tax_rate       NUMERIC(6,4)  NOT NULL,
    amount         NUMERIC(14,2) NOT NULL,
    amount_ex_tax  NUMERIC(14,2) NOT NULL,
    tax_amount     NUMERIC(14,2) NOT NULL,
    PRIMARY KEY (invoice_id, line_no),
    CHECK (amount = amount_ex_tax + tax_amount)
);
COMMENT ON TABLE biz_invoice_taxrate IS 'an invoice''s lines: one per cost component and tax rate (多税率拆票), amounts tax included, split half-up to the fen';

CREATE TABLE biz_process_invoice_modifys (
    id                      BIGSERIAL PRIMARY KEY,
    modify_no               VARCHAR(40)  NOT NULL UNIQUE,
    invoice_id              BIGINT       NOT NULL REFERENCES biz_invoice (id),
    modify_type             VARCHAR(12)  NOT NULL,            -- INVALIDATE | RED_INK
    trigger_source          VARCHAR(20)  NOT NULL,            -- ADMIN_INVALIDATE | ADMIN_RED_INK
    target_status           VARCHAR(12)  NOT NULL,            -- INVALID | RED_INK
    status                  VARCHAR(12)  NOT NULL DEFAULT 'SUBMITTED',  -- SUBMITTED | PENDING | SUCCESS | FAIL
    reason                  VARCHAR(200) NOT NULL,
    remark                  VARCHAR(255),
    original_invoice_code   VARCHAR(32),
    original_invoice_number VARCHAR(32),
    red_form_no             VARCHAR(40),
    red_form_status         VARCHAR(2),
    red_invoice_code        VARCHAR(32),
    red_invoice_number      VARCHAR(32),
    red_file_url            VARCHAR(512),
    fail_reason             VARCHAR(255),
    operator_id             BIGINT,
    operator_name           VARCHAR(64),
    try_count               INT          NOT NULL DEFAULT 0,
    last_try_time           TIMESTAMPTZ,
    next_plan_time          TIMESTAMPTZ  NOT NULL DEFAULT now(),
    latest_result           VARCHAR(255),
    latest_error            VARCHAR(255),
    create_time             TIMESTAMPTZ  NOT NULL DEFAULT now(),
    update_time             TIMESTAMPTZ  NOT NULL DEFAULT now(),
    CHECK (modify_type IN ('INVALIDATE', 'RED_INK')),
    CHECK (status IN ('SUBMITTED', 'PENDING', 'SUCCESS', 'FAIL'))
);
-- one void or red-ink at a time per invoice
CREATE UNIQUE INDEX ux_invoice_modify_live ON biz_process_invoice_modifys (invoice_id)
    WHERE status IN ('SUBMITTED', 'PENDING');
CREATE INDEX ix_invoice_modify_due ON biz_process_invoice_modifys (next_plan_time, id)
    WHERE status IN ('SUBMITTED', 'PENDING');
COMMENT ON TABLE biz_process_invoice_modifys IS 'void (作废) and red-ink (红冲) requests: who, why, the original invoice, SYS-008''s progress and the red-letter confirmation form (红字确认单) of a 数电票';
COMMENT ON COLUMN biz_process_invoice_modifys.red_form_status IS '红字确认单状态: 01 无需确认, 02 销方录入待购方确认, 03 购方录入待销方确认, 04 购销双方已确认, 05/06 作废（对方否认）, 07 作废（超72小时未确认）, 08 作废（发起方撤销）';

CREATE TABLE biz_invoice_callback (
    id             BIGSERIAL PRIMARY KEY,
    request_no     VARCHAR(64)  NOT NULL,
    invoice_status VARCHAR(12)  NOT NULL,
    invoice_id     BIGINT,
    outcome        VARCHAR(12)  NOT NULL,   -- APPLIED | IGNORED | CONFLICT | UNKNOWN
    receive_count  INT          NOT NULL DEFAULT 1,
    body           JSONB        NOT NULL,
    create_time    TIMESTAMPTZ  NOT NULL DEFAULT now(),
    last_time      TIMESTAMPTZ  NOT NULL DEFAULT now(),
    CONSTRAINT biz_invoice_callback_key UNIQUE (request_no, invoice_status)
);
COMMENT ON TABLE biz_invoice_callback IS 'IF-EXT-007 writebacks, one row per requestNo + invoiceStatus (the seed''s idempotency key); a repeat only counts on the row';

CREATE TABLE biz_invoice_exception (
    id              BIGSERIAL PRIMARY KEY,
    invoice_id      BIGINT       NOT NULL REFERENCES biz_invoice (id),
    exception_type  VARCHAR(24)  NOT NULL,   -- STATE_CONFLICT
    source          VARCHAR(16)  NOT NULL,   -- CALLBACK | MANUAL | AUTO_COMPENSATE | CALLBACK_VERIFY
    current_status  VARCHAR(12)  NOT NULL,
    reported_status VARCHAR(12)  NOT NULL,
    detail          JSONB        NOT NULL,
    status          VARCHAR(10)  NOT NULL DEFAULT 'OPEN',  -- OPEN | RESOLVED
    resolve_remark  VARCHAR(200),
    resolved_by     BIGINT,
    resolved_time   TIMESTAMPTZ,
    create_time     TIMESTAMPTZ  NOT NULL DEFAULT now(),
    CHECK (status IN ('OPEN', 'RESOLVED')),
    CHECK (status <> 'RESOLVED' OR (resolve_remark IS NOT NULL AND resolved_time IS NOT NULL))
);
-- a conflict reported again (by the callback and the compensation query) is one open exception
CREATE UNIQUE INDEX ux_invoice_exception_open ON biz_invoice_exception (invoice_id, reported_status)
    WHERE status = 'OPEN';
COMMENT ON TABLE biz_invoice_exception IS 'results that conflict with a terminal invoice state (a FAIL after SUCCESS): kept for a person, the state unchanged';
"""

DROP = r"""
DROP TABLE IF EXISTS biz_invoice_exception;
DROP TABLE IF EXISTS biz_invoice_callback;
DROP TABLE IF EXISTS biz_process_invoice_modifys;
DROP TABLE IF EXISTS biz_invoice_taxrate;
DROP TABLE IF EXISTS biz_invoice_charge;
DROP SEQUENCE IF EXISTS biz_invoice_no_seq;
DROP INDEX IF EXISTS ix_biz_invoice_file_missing;
ALTER TABLE biz_charge DROP CONSTRAINT IF EXISTS ck_biz_charge_invoice_status;
DROP INDEX IF EXISTS ix_biz_invoice_due;
DROP INDEX IF EXISTS ux_biz_invoice_charges;
DROP INDEX IF EXISTS ux_biz_invoice_sys_request;
ALTER TABLE biz_invoice DROP CONSTRAINT IF EXISTS ck_biz_invoice_bind,
    DROP CONSTRAINT IF EXISTS ck_biz_invoice_push, DROP CONSTRAINT IF EXISTS ck_biz_invoice_status;
ALTER TABLE biz_invoice
    DROP COLUMN sys_request_no, DROP COLUMN charge_key, DROP COLUMN title_type, DROP COLUMN invoice_title,
    DROP COLUMN tax_no, DROP COLUMN email, DROP COLUMN mobile, DROP COLUMN source_channel, DROP COLUMN remark,
    DROP COLUMN tax_amount, DROP COLUMN fail_reason, DROP COLUMN issue_time, DROP COLUMN file_key,
    DROP COLUMN push_status, DROP COLUMN push_channel, DROP COLUMN push_message_id,
    DROP COLUMN push_fail_reason, DROP COLUMN charge_bind_status, DROP COLUMN last_try_time,
    DROP COLUMN next_plan_time, DROP COLUMN try_count, DROP COLUMN latest_result, DROP COLUMN latest_error,
    DROP COLUMN invalid_reason, DROP COLUMN invalid_remark, DROP COLUMN red_ink_reason,
    DROP COLUMN red_ink_remark, DROP COLUMN original_invoice_code, DROP COLUMN original_invoice_number,
    DROP COLUMN operator_id, DROP COLUMN update_time;
"""


def upgrade() -> None:
    op.execute(DDL)


def downgrade() -> None:
    op.execute(DROP)
