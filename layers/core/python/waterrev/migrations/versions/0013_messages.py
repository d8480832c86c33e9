"""The one message record every notification goes through (IF-EXT-008 / IF-REV-013's four states).

A use case writes its message here in the same transaction as the business change (an outbox); the
message pipeline (relay to SQS, consumer to SYS-010, SYS-010's result callback) moves it on. The seed's
idempotency key for a notification is messageBizNo + templateCode + receiver: a second write of the same
event to the same receiver is the same message, never a second one.

Revision ID: 0013
Revises: 0012
"""

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

DDL = r"""
CREATE TABLE biz_message (
    id             BIGSERIAL PRIMARY KEY,
    message_biz_no VARCHAR(64)  NOT NULL,          -- the business event (SYS-010 eventNo)
    template_code  VARCHAR(64)  NOT NULL,          -- SYS-010 templateCode
    receiver       VARCHAR(128) NOT NULL,          -- where it goes: a mobile, an openid, an e-mail address
    channel        VARCHAR(16)  NOT NULL,          -- SMS | WECHAT | INBOX | EMAIL
    cust_id        BIGINT,                         -- SYS-010 receiver.customerId
    source         VARCHAR(32)  NOT NULL,          -- what raised it: REMINDER, PAYMENT_RESULT, VERIFY_CODE, ...
    payload        JSONB        NOT NULL,          -- SYS-010 payload (amounts, periods, codes)
    status         VARCHAR(16)  NOT NULL DEFAULT 'PENDING',  -- PENDING | SUCCESS | FAIL | MANUAL_VERIFIED
    not_before     TIMESTAMPTZ  NOT NULL DEFAULT now(),      -- held until then (quiet hours)
    create_time    TIMESTAMPTZ  NOT NULL DEFAULT now(),
    update_time    TIMESTAMPTZ  NOT NULL DEFAULT now(),
    CONSTRAINT biz_message_key UNIQUE (message_biz_no, template_code, receiver),
    CONSTRAINT biz_message_status CHECK (status IN ('PENDING', 'SUCCESS', 'FAIL', 'MANUAL_VERIFIED'))
);
CREATE INDEX biz_message_pending ON biz_message (not_before, id) WHERE status = 'PENDING';
CREATE INDEX biz_message_cust ON biz_message (cust_id, create_time);
COMMENT ON TABLE biz_message IS
    'Every notification SYS-002 sends, written in the transaction of the business change that raised it; unique by the seed''s key messageBizNo + templateCode + receiver.';
COMMENT ON COLUMN biz_message.status IS 'IF-EXT-008 four states: PENDING until SYS-010 reports a result (a timeout keeps PENDING), SUCCESS, FAIL, or MANUAL_VERIFIED by a person';
"""

DROP = r"""
DROP TABLE IF EXISTS biz_message;
"""


def upgrade() -> None:
    op.execute(DDL)


def downgrade() -> None:
    op.execute(DROP)
