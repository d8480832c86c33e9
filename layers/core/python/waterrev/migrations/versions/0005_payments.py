"""Payments and write-off: collections with their write-off lines, online orders and their bills,
platform transactions, callbacks, exceptions, and the account's money flow.

Revision ID: 0005
Revises: 0004
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

DDL = r"""
ALTER TABLE biz_collection ADD COLUMN account_id BIGINT REFERENCES biz_account (id);
ALTER TABLE biz_collection ADD COLUMN source VARCHAR(12) NOT NULL DEFAULT 'COUNTER';
    -- COUNTER | ONLINE | COUNTER_QR | BANK
ALTER TABLE biz_collection ADD COLUMN actual_amount NUMERIC(14,2);
ALTER TABLE biz_collection ADD COLUMN change_amount NUMERIC(14,2) NOT NULL DEFAULT 0;
ALTER TABLE biz_collection ADD COLUMN written_off NUMERIC(14,2) NOT NULL DEFAULT 0;
ALTER TABLE biz_collection ADD COLUMN to_balance NUMERIC(14,2) NOT NULL DEFAULT 0;
-- the outside serial that makes a payment idempotent (bank serial, platform trade number)
ALTER TABLE biz_collection ADD COLUMN idempotency_key VARCHAR(96);
CREATE UNIQUE INDEX ux_collection_idempotency ON biz_collection (idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE SEQUENCE biz_collection_code_seq;

-- What one collection wrote off on which bill.
CREATE TABLE biz_collection_item (
    id            BIGSERIAL PRIMARY KEY,
    collection_id BIGINT        NOT NULL REFERENCES biz_collection (id),
    charge_id     BIGINT        NOT NULL REFERENCES biz_charge (id),
    amount        NUMERIC(14,2) NOT NULL CHECK (amount > 0),
    create_time   TIMESTAMPTZ   NOT NULL DEFAULT now()
);
CREATE INDEX ix_collection_item_charge ON biz_collection_item (charge_id);
CREATE INDEX ix_collection_item_collection ON biz_collection_item (collection_id);

-- Platform transactions (SYS-009): one per business order.
CREATE TABLE bk_transaction (
    id              BIGSERIAL PRIMARY KEY,
    biz_order_no    VARCHAR(40)   NOT NULL UNIQUE,
    trade_no        VARCHAR(64)   UNIQUE,
    cust_id         BIGINT        NOT NULL REFERENCES biz_cust (id),
    channel_code    VARCHAR(12)   NOT NULL,
    scene           VARCHAR(12)   NOT NULL,               -- ONLINE | COUNTER_QR
    trade_amount    NUMERIC(14,2) NOT NULL,
    status          VARCHAR(8)    NOT NULL DEFAULT 'INIT', -- INIT | PAYING | SUCCESS | FAIL | CLOSED
    success_amount  NUMERIC(14,2),
    pay_url         VARCHAR(512),
    prepay_info     JSONB,
    expire_time     TIMESTAMPTZ   NOT NULL,
    paid_time       TIMESTAMPTZ,
    notify_time     TIMESTAMPTZ,
    request_key     VARCHAR(200)  NOT NULL,               -- custId|sorted chargeIds|channel|scene
    query_count     INT           NOT NULL DEFAULT 0,
    next_query_time TIMESTAMPTZ   NOT NULL DEFAULT now(),
    last_error      VARCHAR(512),
    operator_id     BIGINT,
    create_time     TIMESTAMPTZ   NOT NULL DEFAULT now(),
    update_time     TIMESTAMPTZ   NOT NULL DEFAULT now()
);
-- the same request again returns the same live order
CREATE UNIQUE INDEX ux_transaction_live_request ON bk_transaction (request_key) WHERE status IN ('INIT', 'PAYING');
CREATE INDEX ix_transaction_pending ON bk_transaction (next_query_time) WHERE status IN ('INIT', 'PAYING');

-- The bills of an order; a bill is in at most one live order.
CREATE TABLE biz_order_charge (
    biz_order_no VARCHAR(40)   NOT NULL REFERENCES bk_transaction (biz_order_no),
    charge_id    BIGINT        NOT NULL REFERENCES biz_charge (id),
    amount       NUMERIC(14,2) NOT NULL,
    live         BOOLEAN       NOT NULL DEFAULT true,
    PRIMARY KEY (biz_order_no, charge_id)
);
CREATE UNIQUE INDEX ux_order_charge_live ON biz_order_charge (charge_id) WHERE live;

-- Every notification the platform sent, verified or not; the key makes a repeat harmless.
CREATE TABLE bk_transaction_callback (
    id           BIGSERIAL PRIMARY KEY,
    trade_no     VARCHAR(64),
    trade_status VARCHAR(8),
    notify_time  VARCHAR(40),
    notify_id    VARCHAR(64),
    verified     BOOLEAN     NOT NULL,
    is_primary   BOOLEAN     NOT NULL DEFAULT false,  -- the first verified copy of a notification
    outcome      VARCHAR(16) NOT NULL,     -- PROCESSED | DUPLICATE | IGNORED | EXCEPTION | REJECTED
    headers      JSONB       NOT NULL,
    raw_body     TEXT        NOT NULL,
    create_time  TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX ux_callback_key ON bk_transaction_callback (trade_no, trade_status, notify_time)
    WHERE is_primary;
CREATE INDEX ix_callback_trade ON bk_transaction_callback (trade_no, create_time);

-- What needs a person: bad signatures, amount mismatches, money for bills paid elsewhere.
CREATE TABLE bk_transaction_exception (
    id             BIGSERIAL PRIMARY KEY,
    trade_no       VARCHAR(64),
    biz_order_no   VARCHAR(40),
    exception_type VARCHAR(24) NOT NULL,  -- SIGNATURE_INVALID | AMOUNT_MISMATCH | PAID_ELSEWHERE | ...
    detail         JSONB       NOT NULL,
    status         VARCHAR(10) NOT NULL DEFAULT 'OPEN',
    create_time    TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX ix_transaction_exception_open ON bk_transaction_exception (status, create_time);

-- The account's money flow: every balance change with its reason.
CREATE TABLE biz_account_flow (
    id            BIGSERIAL PRIMARY KEY,
    account_id    BIGINT        NOT NULL REFERENCES biz_account (id),
    change_amount NUMERIC(14,2) NOT NULL,
    balance_after NUMERIC(14,2) NOT NULL,
    biz_type      VARCHAR(16)   NOT NULL,  -- OVERPAY | PREPAY_USE | PAID_ELSEWHERE | DEPOSIT
    ref_no        VARCHAR(64)   NOT NULL,
    create_time   TIMESTAMPTZ   NOT NULL DEFAULT now()
);
CREATE INDEX ix_account_flow_account ON biz_account_flow (account_id, create_time);
ALTER TABLE biz_account ADD CONSTRAINT ck_account_balance CHECK (balance >= 0);
"""

DROP = r"""
ALTER TABLE biz_account DROP CONSTRAINT IF EXISTS ck_account_balance;
DROP TABLE IF EXISTS biz_account_flow, bk_transaction_exception, bk_transaction_callback, biz_order_charge,
    bk_transaction, biz_collection_item CASCADE;
DROP SEQUENCE IF EXISTS biz_collection_code_seq;
DROP INDEX IF EXISTS ux_collection_idempotency;
ALTER TABLE biz_collection DROP COLUMN IF EXISTS account_id, DROP COLUMN IF EXISTS source,
    DROP COLUMN IF EXISTS actual_amount, DROP COLUMN IF EXISTS change_amount, DROP COLUMN IF EXISTS written_off,
    DROP COLUMN IF EXISTS to_balance, DROP COLUMN IF EXISTS idempotency_key;
"""


def upgrade() -> None:
    op.execute(DDL)


def downgrade() -> None:
    op.execute(DROP)
