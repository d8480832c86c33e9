"""Per-caller rate limits (waterrev.limits): one row per route, caller and fixed window.

Revision ID: 0045
Revises: 0040
"""

from alembic import op

revision = "0045"
down_revision = "0040"
branch_labels = None
depends_on = None

DDL = r"""
CREATE TABLE sys_rate_limit (
    bucket       VARCHAR(200) NOT NULL,
    window_start BIGINT NOT NULL,
    hits         INTEGER NOT NULL,
    PRIMARY KEY (bucket, window_start)
);
COMMENT ON TABLE sys_rate_limit IS
    'Calls per route and signed-in caller in a fixed window (waterrev.limits); older windows of a bucket are deleted as a new one is counted';
COMMENT ON COLUMN sys_rate_limit.bucket IS 'route key | caller kind:user id';
COMMENT ON COLUMN sys_rate_limit.window_start IS 'the window''s start, seconds since the epoch';
COMMENT ON COLUMN sys_rate_limit.hits IS 'calls counted in the window, refused ones included';
"""


def upgrade() -> None:
    op.execute(DDL)


def downgrade() -> None:
    op.execute("DROP TABLE sys_rate_limit")
