"""Failed customer matches of the bind verification code (send-verify-code with custId + custName).

A channel user asking for a code names the customer by id and name; each request that matches no
bindable customer (unknown or stopped id, or a wrong name: one and the same answer) is kept here, in
a unit of work of its own after the request's has rolled back. Five inside 24 hours and the channel
user is refused codes (429) until the oldest ages out, so names cannot be guessed at scale.
`cust_id` is what was asked for, which need not exist: no foreign key.

Revision ID: 0011
Revises: 0010
"""

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

DDL = r"""
CREATE TABLE biz_verify_code_failure (
    id           BIGSERIAL PRIMARY KEY,
    channel_user BIGINT      NOT NULL REFERENCES biz_channel_user (id),
    cust_id      BIGINT      NOT NULL,             -- as asked for; may not exist
    create_time  TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX ix_verify_code_failure_user ON biz_verify_code_failure (channel_user, create_time DESC);
"""

DROP = r"""
DROP TABLE IF EXISTS biz_verify_code_failure;
"""


def upgrade() -> None:
    op.execute(DDL)


def downgrade() -> None:
    op.execute(DROP)
