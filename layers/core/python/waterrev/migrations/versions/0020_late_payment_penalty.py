"""Late-payment penalty (违约金): the penalty paid as a ledger line of its own, the day a payment's penalty
was settled as of, an order's penalty per bill, the 低保 flag, and penalty waivers with a second person's
approval.

- biz_collection_item.item_type: PRINCIPAL (the water fee, as every line was before) or PENALTY. A
  payment's penalty is never mixed into the water fee: it is a line of its own on the same bill.
- biz_collection.penalty_as_of: the day the penalty a payment settled was computed for. The principal it
  paid stops accruing from the next day. Earlier collections: the Beijing day they were paid.
- biz_order_charge.penalty: what an online or counter-QR order asked for each bill's penalty (its amount
  being the principal), as of bk_transaction.penalty_as_of, the day the order was made: the settlement,
  even a day later, books exactly that.
- biz_cust.low_income: 低保 household; exempt from the penalty when revenue.penalty.exempt-low-income is on.
- biz_penalty_waiver: a request to waive all or part of a bill's penalty; it takes effect only when a
  second person approves it (the database refuses the requester as approver too).

Revision ID: 0020
Revises: 0015
"""

from alembic import op

revision = "0020"
down_revision = "0015"
branch_labels = None
depends_on = None

DDL = r"""
ALTER TABLE biz_cust ADD COLUMN low_income BOOLEAN NOT NULL DEFAULT false;
COMMENT ON COLUMN biz_cust.low_income IS '低保 household: exempt from the late-payment penalty when revenue.penalty.exempt-low-income is true';

ALTER TABLE biz_collection_item ADD COLUMN item_type VARCHAR(12) NOT NULL DEFAULT 'PRINCIPAL';
ALTER TABLE biz_collection_item ADD CONSTRAINT ck_collection_item_type CHECK (item_type IN ('PRINCIPAL', 'PENALTY'));
COMMENT ON COLUMN biz_collection_item.item_type IS
    'PRINCIPAL: the water fee written off on the bill; PENALTY: its late-payment penalty paid (a line of its own)';

ALTER TABLE biz_collection ADD COLUMN penalty_as_of DATE;
UPDATE biz_collection SET penalty_as_of = (COALESCE(pay_time, create_time) AT TIME ZONE 'Asia/Shanghai')::date;
ALTER TABLE biz_collection ALTER COLUMN penalty_as_of SET DEFAULT ((now() AT TIME ZONE 'Asia/Shanghai')::date);
ALTER TABLE biz_collection ALTER COLUMN penalty_as_of SET NOT NULL;
COMMENT ON COLUMN biz_collection.penalty_as_of IS
    'The day (Beijing) the penalty this payment settled was computed for; the principal it paid stops accruing from the next day';

ALTER TABLE biz_order_charge ADD COLUMN penalty NUMERIC(14,2) NOT NULL DEFAULT 0;
ALTER TABLE biz_order_charge ADD CONSTRAINT ck_order_charge_penalty CHECK (penalty >= 0);
COMMENT ON COLUMN biz_order_charge.amount IS 'The principal (water fee) owed on the bill when the order or trade was made';
COMMENT ON COLUMN biz_order_charge.penalty IS 'The late-payment penalty owed on the bill then (as of bk_transaction.penalty_as_of)';
ALTER TABLE bk_transaction ADD COLUMN penalty_as_of DATE;
COMMENT ON COLUMN bk_transaction.penalty_as_of IS 'The day the order''s penalties (biz_order_charge.penalty) were computed for; NULL before 0020';

CREATE SEQUENCE biz_penalty_waiver_seq;
CREATE TABLE biz_penalty_waiver (
    id               BIGSERIAL PRIMARY KEY,
    waiver_no        VARCHAR(32)   NOT NULL UNIQUE,     -- IF-REV-007 adjustmentNo
    charge_id        BIGINT        NOT NULL REFERENCES biz_charge (id),
    cust_id          BIGINT        NOT NULL REFERENCES biz_cust (id),
    requested_amount NUMERIC(14,2),                     -- NULL: the whole penalty owed when approved
    penalty_owed     NUMERIC(14,2) NOT NULL,            -- the penalty owed when it was asked for
    waived_amount    NUMERIC(14,2),                     -- what the approval waived
    penalty_as_of    DATE,                              -- the day waived_amount was computed for
    reason_code      VARCHAR(32)   NOT NULL,
    remark           VARCHAR(255),
    attachment_list  JSONB         NOT NULL DEFAULT '[]',
    status           VARCHAR(12)   NOT NULL DEFAULT 'PENDING',
    requested_by     BIGINT        NOT NULL,            -- system_users.id
    request_time     TIMESTAMPTZ   NOT NULL DEFAULT now(),
    decided_by       BIGINT,                            -- system_users.id: never the requester
    decision_remark  VARCHAR(200),
    decided_time     TIMESTAMPTZ,
    CONSTRAINT ck_penalty_waiver_status CHECK (status IN ('PENDING', 'APPROVED', 'REJECTED')),
    CONSTRAINT ck_penalty_waiver_amounts CHECK (requested_amount > 0 AND penalty_owed >= 0 AND waived_amount > 0),
    CONSTRAINT ck_penalty_waiver_decided CHECK ((status = 'PENDING') = (decided_by IS NULL)),
    CONSTRAINT ck_penalty_waiver_approved CHECK ((status = 'APPROVED') = (waived_amount IS NOT NULL)),
    CONSTRAINT ck_penalty_waiver_second_person CHECK (decided_by <> requested_by)
);
-- one open request per bill: a repeat while it waits is the same request
CREATE UNIQUE INDEX ux_penalty_waiver_pending ON biz_penalty_waiver (charge_id) WHERE status = 'PENDING';
CREATE INDEX ix_penalty_waiver_approved ON biz_penalty_waiver (charge_id) WHERE status = 'APPROVED';
CREATE INDEX ix_penalty_waiver_cust ON biz_penalty_waiver (cust_id, id DESC);
COMMENT ON TABLE biz_penalty_waiver IS
    'A request to waive all or part of a bill''s late-payment penalty (IF-REV-007 path); effective only once a second person approves it';
"""

DROP = r"""
DROP TABLE IF EXISTS biz_penalty_waiver;
DROP SEQUENCE IF EXISTS biz_penalty_waiver_seq;
ALTER TABLE bk_transaction DROP COLUMN IF EXISTS penalty_as_of;
ALTER TABLE biz_order_charge DROP COLUMN IF EXISTS penalty;
ALTER TABLE biz_collection DROP COLUMN IF EXISTS penalty_as_of;
ALTER TABLE biz_collection_item DROP COLUMN IF EXISTS item_type;
ALTER TABLE biz_cust DROP COLUMN IF EXISTS low_income;
"""


def upgrade() -> None:
    op.execute(DDL)


def downgrade() -> None:
    op.execute(DROP)
