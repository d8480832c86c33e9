"""The message pipeline on biz_message (migration 0013): relay to SQS, delivery to SYS-010, SYS-010's
result callbacks, and the exceptions a person lists and replays (IF-EXT-008, issue 7).

biz_message.status stays the seed's four states (PENDING until SYS-010 reports a result, SUCCESS, FAIL,
MANUAL_VERIFIED); `dispatch_state` is where the message is on its way out: NEW (waiting for the relay),
QUEUED (on the queue), SENDING (a consumer holds it, the call is in flight), ACCEPTED (SYS-010 took it),
DEAD (retries spent: in the dead-letter queue and in biz_message_exception), CLOSED (nothing more to send:
SYS-010 refused it, or a person verified it by hand).

Revision ID: 0030
Revises: 0020
"""

from alembic import op

revision = "0030"
down_revision = "0020"
branch_labels = None
depends_on = None

DDL = r"""
ALTER TABLE biz_message
    ADD COLUMN dispatch_state      VARCHAR(12)  NOT NULL DEFAULT 'NEW',
    ADD COLUMN attempts            INT          NOT NULL DEFAULT 0,
    ADD COLUMN relay_count         INT          NOT NULL DEFAULT 0,
    ADD COLUMN relay_time          TIMESTAMPTZ,
    ADD COLUMN claim_time          TIMESTAMPTZ,
    ADD COLUMN accept_time         TIMESTAMPTZ,
    ADD COLUMN platform_message_id VARCHAR(64),
    ADD COLUMN last_error          VARCHAR(500),
    ADD COLUMN result_time         TIMESTAMPTZ,
    ADD COLUMN send_time           TIMESTAMPTZ,
    ADD COLUMN reach_status        VARCHAR(16),
    ADD COLUMN result_msg          VARCHAR(255),
    ADD COLUMN failure_reason      VARCHAR(255),
    ADD CONSTRAINT biz_message_dispatch
        CHECK (dispatch_state IN ('NEW', 'QUEUED', 'SENDING', 'ACCEPTED', 'DEAD', 'CLOSED'));
-- what the relay takes next: due messages not yet on the queue, oldest first
CREATE INDEX biz_message_due ON biz_message (not_before, id) WHERE dispatch_state = 'NEW';
COMMENT ON COLUMN biz_message.dispatch_state IS
    'Where the message is on its way to SYS-010: NEW, QUEUED, SENDING, ACCEPTED, DEAD (dead-letter queue), CLOSED';
COMMENT ON COLUMN biz_message.attempts IS 'Calls to SYS-010 so far (a timeout or a 5xx is retried with backoff)';
COMMENT ON COLUMN biz_message.relay_count IS 'Times put on the queue: each queue copy carries its number, so a dead-letter copy of a message replayed since is known as stale';
COMMENT ON COLUMN biz_message.claim_time IS 'When a consumer claimed it for a call: a lease, so a duplicate delivery does not call twice';
COMMENT ON COLUMN biz_message.platform_message_id IS 'SYS-010 messageId, from its acceptance or its result callback';

-- Every result callback SYS-010 sent, kept as received (verified or not) with what it did.
CREATE TABLE biz_message_callback (
    id                  BIGSERIAL PRIMARY KEY,
    message_id          BIGINT,                        -- biz_message.id when it names a message we sent
    platform_message_id VARCHAR(64),
    send_status         VARCHAR(16),
    reach_status        VARCHAR(16),
    verified            BOOLEAN      NOT NULL,
    outcome             VARCHAR(16)  NOT NULL,         -- APPLIED | RECEIPT | DUPLICATE | IGNORED | UNKNOWN | REJECTED | UNPARSABLE
    headers             JSONB,
    raw_body            TEXT,
    create_time         TIMESTAMPTZ  NOT NULL DEFAULT now()
);
CREATE INDEX ix_message_callback_message ON biz_message_callback (message_id, id);
COMMENT ON TABLE biz_message_callback IS
    'SYS-010 delivery-result callbacks (IF-EXT-008 回传执行结果) as received, with their outcome';

-- What could not be delivered or matched, for a person to list and replay (or dismiss).
CREATE TABLE biz_message_exception (
    id             BIGSERIAL PRIMARY KEY,
    exception_type VARCHAR(16)  NOT NULL,              -- DEAD_LETTER | UNKNOWN_RESULT
    message_id     BIGINT,                             -- biz_message.id (null: an SQS body we could not read, a result for no message)
    sqs_message_id VARCHAR(128),
    dedup_key      VARCHAR(200) NOT NULL,              -- one open exception per message / per result
    receive_count  INT,
    last_error     VARCHAR(500),
    detail         JSONB        NOT NULL DEFAULT '{}',
    status         VARCHAR(12)  NOT NULL DEFAULT 'OPEN',   -- OPEN | RESOLVED
    resolution     VARCHAR(12),                        -- REPLAYED | DISMISSED
    resolver_id    BIGINT,
    resolver_name  VARCHAR(64),
    resolve_remark VARCHAR(200),
    resolve_time   TIMESTAMPTZ,
    create_time    TIMESTAMPTZ  NOT NULL DEFAULT now(),
    CONSTRAINT biz_message_exception_status CHECK (status IN ('OPEN', 'RESOLVED'))
);
CREATE UNIQUE INDEX ux_message_exception_open ON biz_message_exception (dedup_key) WHERE status = 'OPEN';
CREATE INDEX ix_message_exception_list ON biz_message_exception (status, id DESC);
COMMENT ON TABLE biz_message_exception IS
    'Messages whose retries ended in the dead-letter queue, and results for messages we do not know: listed and replayed under IF-REV-013';
"""

DROP = r"""
DROP TABLE IF EXISTS biz_message_exception;
DROP TABLE IF EXISTS biz_message_callback;
DROP INDEX IF EXISTS biz_message_due;
ALTER TABLE biz_message DROP CONSTRAINT IF EXISTS biz_message_dispatch,
    DROP COLUMN IF EXISTS dispatch_state, DROP COLUMN IF EXISTS attempts, DROP COLUMN IF EXISTS relay_count, DROP COLUMN IF EXISTS relay_time,
    DROP COLUMN IF EXISTS claim_time, DROP COLUMN IF EXISTS accept_time, DROP COLUMN IF EXISTS platform_message_id,
    DROP COLUMN IF EXISTS last_error, DROP COLUMN IF EXISTS result_time, DROP COLUMN IF EXISTS send_time,
    DROP COLUMN IF EXISTS reach_status, DROP COLUMN IF EXISTS result_msg, DROP COLUMN IF EXISTS failure_reason;
"""


def upgrade() -> None:
    op.execute(DDL)


def downgrade() -> None:
    op.execute(DROP)
