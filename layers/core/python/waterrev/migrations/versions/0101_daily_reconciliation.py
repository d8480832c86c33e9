"""The daily three-way reconciliation over every channel (issue 13, beyond the seed; docs/BANK.md).

For a business day (Beijing): our collections per channel (the settled bk_transaction rows: COUNTER,
ONLINE, COUNTER_QR, BANK_REALTIME, WITHHOLDING), each channel's statement file and the bank's credit file
(SYS-009 and the bank, docs/SYS009.md) are compared.

- bk_daily_recon: one row per business day (re-run in place: run_count, last_run_time), its totals.
- bk_daily_recon_file: each file a run read or missed (status OK | MISSING | INVALID, with why): the
  exception record a person lists when a channel sent nothing or something unreadable.
- bk_daily_recon_diff: the differences, one per (day, channel, key, class): OURS_ONLY, CHANNEL_ONLY,
  AMOUNT_DIFFERS, CREDIT_DIFFERS. A re-run adds the new ones, closes (GONE) an OPEN one no longer found,
  and never touches a RESOLVED one.

Revision ID: 0101
Revises: 0100
"""

from alembic import op

revision = "0101"
down_revision = "0100"
branch_labels = None
depends_on = None

DDL = r"""
CREATE TABLE bk_daily_recon (
    id               BIGSERIAL     PRIMARY KEY,
    biz_date         DATE          NOT NULL UNIQUE,
    status           VARCHAR(12)   NOT NULL,
    our_count        INTEGER       NOT NULL DEFAULT 0,
    our_amount       NUMERIC(16,2) NOT NULL DEFAULT 0,
    channel_count    INTEGER       NOT NULL DEFAULT 0,
    channel_amount   NUMERIC(16,2) NOT NULL DEFAULT 0,
    credited_amount  NUMERIC(16,2) NOT NULL DEFAULT 0,
    open_diff_count  INTEGER       NOT NULL DEFAULT 0,
    file_error_count INTEGER       NOT NULL DEFAULT 0,
    run_count        INTEGER       NOT NULL DEFAULT 1,
    last_run_time    TIMESTAMPTZ   NOT NULL DEFAULT now(),
    create_time      TIMESTAMPTZ   NOT NULL DEFAULT now(),
    CONSTRAINT ck_daily_recon_status CHECK (status IN ('BALANCED', 'DIFFERENT', 'INCOMPLETE'))
);
COMMENT ON TABLE bk_daily_recon IS 'The daily three-way reconciliation of a business day (Beijing) over every channel: ours, the channels'' statements, the bank''s credits';
COMMENT ON COLUMN bk_daily_recon.status IS 'BALANCED (no open difference, every file read), DIFFERENT (open differences), INCOMPLETE (a file missing or unreadable)';
COMMENT ON COLUMN bk_daily_recon.credited_amount IS 'What the bank''s credit file says it credited for the day, all channels';

CREATE TABLE bk_daily_recon_file (
    id           BIGSERIAL    PRIMARY KEY,
    recon_id     BIGINT       NOT NULL REFERENCES bk_daily_recon (id),
    biz_date     DATE         NOT NULL,
    channel      VARCHAR(16)  NOT NULL,
    file_kind    VARCHAR(12)  NOT NULL,
    file_name    VARCHAR(255) NOT NULL,
    status       VARCHAR(8)   NOT NULL,
    error        VARCHAR(512),
    line_count   INTEGER      NOT NULL DEFAULT 0,
    file_sha256  CHAR(64),
    update_time  TIMESTAMPTZ  NOT NULL DEFAULT now(),
    UNIQUE (biz_date, channel, file_kind),
    CONSTRAINT ck_daily_recon_file_status CHECK (status IN ('OK', 'MISSING', 'INVALID'))
);
COMMENT ON TABLE bk_daily_recon_file IS 'Each file the daily reconciliation read or missed: a missing or unreadable one is an exception a person lists';
COMMENT ON COLUMN bk_daily_recon_file.file_kind IS 'STATEMENT (a channel''s statement) or CREDIT (the bank''s credit file, channel BANK)';

CREATE TABLE bk_daily_recon_diff (
    id               BIGSERIAL     PRIMARY KEY,
    recon_id         BIGINT        NOT NULL REFERENCES bk_daily_recon (id),
    biz_date         DATE          NOT NULL,
    channel          VARCHAR(16)   NOT NULL,
    diff_type        VARCHAR(16)   NOT NULL,
    match_key        VARCHAR(96)   NOT NULL,
    our_amount       NUMERIC(16,2),
    channel_amount   NUMERIC(16,2),
    credited_amount  NUMERIC(16,2),
    status           VARCHAR(8)    NOT NULL DEFAULT 'OPEN',
    resolve_reason   VARCHAR(255),
    resolver_id      BIGINT,
    resolve_time     TIMESTAMPTZ,
    create_time      TIMESTAMPTZ   NOT NULL DEFAULT now(),
    UNIQUE (biz_date, channel, match_key, diff_type),
    CONSTRAINT ck_daily_recon_diff_type CHECK (diff_type IN ('OURS_ONLY', 'CHANNEL_ONLY', 'AMOUNT_DIFFERS', 'CREDIT_DIFFERS')),
    CONSTRAINT ck_daily_recon_diff_status CHECK (status IN ('OPEN', 'RESOLVED', 'GONE'))
);
CREATE INDEX ix_daily_recon_diff_recon ON bk_daily_recon_diff (recon_id, status);
COMMENT ON TABLE bk_daily_recon_diff IS 'A difference the daily reconciliation found: one per business day, channel, key and class';
COMMENT ON COLUMN bk_daily_recon_diff.match_key IS 'The trade''s key: our order / collection number (COUNTER, ONLINE, COUNTER_QR), the bank''s serial (BANK_REALTIME, WITHHOLDING); the channel itself for CREDIT_DIFFERS';
COMMENT ON COLUMN bk_daily_recon_diff.status IS 'OPEN, RESOLVED (by a person, with a reason: never reopened), GONE (an open one a later run no longer found)';
"""


def upgrade() -> None:
    op.execute(DDL)


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS bk_daily_recon_diff, bk_daily_recon_file, bk_daily_recon")
