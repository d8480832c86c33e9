"""Bank withholding and collection (IF-REV-011, IF-EXT-001, IF-EXT-002): agreements with the account
number sealed, transfer configuration, batches and their items, return files, reconciliation,
settlement.

- bk_data_key: the data keys that seal personal data, stored only wrapped (waterrev.crypto); the first
  is made here when a key-encryption key is configured (KMS in the cloud, a key file locally).
- biz_cust_withholding_rel / biz_cust_collection_rel (代扣 / 托收 agreements) keep `bank_account` as the
  MASKED number only; the number itself is `bank_account_cipher` (AES-256-GCM) and its blind index
  `bank_account_index` (HMAC-SHA256). Rows written before this revision are sealed here.
- bk_transfer_config: SFTP/FTP settings by scope (TENANT_CHANNEL > TENANT > CHANNEL > DEFAULT), field by
  field; credentials only by reference.
- bk_withholding_batch / bk_withholding_item: a batch (batchNo unique: never sent twice) with the
  resolved protocol, directories and paths kept on it, and one item per bill.
- bk_withholding_return: each return file processed once (batchNo + fileSerialNo unique).
- bk_reconcile_batch / bk_reconcile_diff / bk_settlement_batch: reconciliation against our ledger, the
  return and the bank's statement; the differences a person resolves; the settlement.
- bk_withholding_reversal: a write-off the bank's statement contradicts, reversed by a new entry.

Revision ID: 0050
Revises: 0045
"""

from alembic import op

revision = "0050"
down_revision = "0045"
branch_labels = None
depends_on = None

DDL = r"""
CREATE TABLE bk_data_key (
    id           INTEGER PRIMARY KEY,
    wrapper      VARCHAR(16) NOT NULL,
    wrapped_key  BYTEA NOT NULL,
    create_time  TIMESTAMPTZ NOT NULL DEFAULT now()
);
COMMENT ON TABLE bk_data_key IS 'Data keys sealing personal data (waterrev.crypto), stored wrapped by KMS or the local key file: useless without it';

ALTER TABLE biz_cust_withholding_rel
    ADD COLUMN bank_account_cipher BYTEA,
    ADD COLUMN bank_account_index  CHAR(64),
    ADD COLUMN channel_code        VARCHAR(16),
    ADD COLUMN mobile              VARCHAR(20),
    ADD COLUMN request_no          VARCHAR(64),
    ADD COLUMN sign_time           TIMESTAMPTZ NOT NULL DEFAULT now(),
    ADD COLUMN terminate_time      TIMESTAMPTZ,
    ADD COLUMN terminate_reason    VARCHAR(200);
ALTER TABLE biz_cust_collection_rel
    ADD COLUMN bank_account_cipher BYTEA,
    ADD COLUMN bank_account_index  CHAR(64),
    ADD COLUMN channel_code        VARCHAR(16),
    ADD COLUMN mobile              VARCHAR(20),
    ADD COLUMN request_no          VARCHAR(64),
    ADD COLUMN sign_time           TIMESTAMPTZ NOT NULL DEFAULT now(),
    ADD COLUMN terminate_time      TIMESTAMPTZ,
    ADD COLUMN terminate_reason    VARCHAR(200);
COMMENT ON COLUMN biz_cust_withholding_rel.bank_account IS 'The account number MASKED (6228********8901): the number is bank_account_cipher';
COMMENT ON COLUMN biz_cust_withholding_rel.bank_account_cipher IS 'The account number sealed (AES-256-GCM under a bk_data_key data key)';
COMMENT ON COLUMN biz_cust_withholding_rel.bank_account_index IS 'Blind index of the account number (HMAC-SHA256): lookups without opening';
COMMENT ON COLUMN biz_cust_withholding_rel.request_no IS 'The signing request number: a repeat answers the first signing';
COMMENT ON COLUMN biz_cust_collection_rel.bank_account IS 'The account number MASKED: the number is bank_account_cipher';
COMMENT ON COLUMN biz_cust_collection_rel.bank_account_cipher IS 'The account number sealed (AES-256-GCM under a bk_data_key data key)';
COMMENT ON COLUMN biz_cust_collection_rel.bank_account_index IS 'Blind index of the account number (HMAC-SHA256)';
CREATE UNIQUE INDEX ux_withholding_rel_request ON biz_cust_withholding_rel (request_no) WHERE request_no IS NOT NULL;
CREATE UNIQUE INDEX ux_collection_rel_request ON biz_cust_collection_rel (request_no) WHERE request_no IS NOT NULL;
CREATE INDEX ix_withholding_rel_account ON biz_cust_withholding_rel (bank_account_index);
CREATE INDEX ix_collection_rel_account ON biz_cust_collection_rel (bank_account_index);

CREATE TABLE bk_transfer_config (
    id                 BIGSERIAL PRIMARY KEY,
    tenant_id          BIGINT,
    channel_code       VARCHAR(16),
    protocol           VARCHAR(8),
    host               VARCHAR(255),
    port               INTEGER,
    username           VARCHAR(64),
    credential_ref     VARCHAR(128),
    host_key           VARCHAR(1024),
    send_dir           VARCHAR(255),
    back_dir           VARCHAR(255),
    reconcile_dir      VARCHAR(255),
    send_file_template VARCHAR(128),
    back_file_template VARCHAR(128),
    reconcile_file_template VARCHAR(128),
    enabled            BOOLEAN NOT NULL DEFAULT true,
    update_time        TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT ck_transfer_protocol CHECK (protocol IS NULL OR protocol IN ('SFTP', 'FTP')),
    CONSTRAINT ck_transfer_port CHECK (port IS NULL OR port BETWEEN 1 AND 65535)
);
CREATE UNIQUE INDEX ux_transfer_config_scope ON bk_transfer_config (COALESCE(tenant_id, 0), COALESCE(channel_code, ''));
COMMENT ON TABLE bk_transfer_config IS 'Bank file transfer settings by scope: tenant and channel (TENANT_CHANNEL), tenant (TENANT), channel (CHANNEL), neither (DEFAULT); a NULL field falls back to the next scope';
COMMENT ON COLUMN bk_transfer_config.credential_ref IS 'Name of the credential (Secrets Manager in the cloud, the local secret file): never the password or key itself';
COMMENT ON COLUMN bk_transfer_config.host_key IS 'The server''s pinned host key ("ssh-ed25519 AAAA..."): any other key is refused';

CREATE SEQUENCE bk_withholding_batch_no_seq;
CREATE TABLE bk_withholding_batch (
    id                  BIGSERIAL PRIMARY KEY,
    batch_no            VARCHAR(40) NOT NULL UNIQUE,
    biz_kind            VARCHAR(12) NOT NULL DEFAULT 'WITHHOLDING',
    channel_code        VARCHAR(16) NOT NULL,
    tenant_id           BIGINT NOT NULL,
    bill_period         CHAR(7) NOT NULL,
    status              VARCHAR(12) NOT NULL DEFAULT 'CREATED',
    item_count          INTEGER NOT NULL DEFAULT 0,
    total_amount        NUMERIC(14,2) NOT NULL DEFAULT 0,
    success_count       INTEGER NOT NULL DEFAULT 0,
    fail_count          INTEGER NOT NULL DEFAULT 0,
    success_amount      NUMERIC(14,2) NOT NULL DEFAULT 0,
    protocol            VARCHAR(8),
    host                VARCHAR(255),
    port                INTEGER,
    username            VARCHAR(64),
    credential_ref      VARCHAR(128),
    host_key            VARCHAR(1024),
    source_scope        VARCHAR(16),
    send_dir            VARCHAR(255),
    send_file_path      VARCHAR(512),
    file_name           VARCHAR(128),
    back_protocol       VARCHAR(8),
    back_dir            VARCHAR(255),
    back_file_path      VARCHAR(512),
    reconcile_dir       VARCHAR(255),
    reconcile_file_path VARCHAR(512),
    file_sha256         CHAR(64),
    task_token          TEXT,
    execution_arn       VARCHAR(512),
    send_time           TIMESTAMPTZ,
    taken_time          TIMESTAMPTZ,
    return_time         TIMESTAMPTZ,
    cancel_time         TIMESTAMPTZ,
    cancel_reason       VARCHAR(200),
    reconcile_status    VARCHAR(12) NOT NULL DEFAULT 'NONE',
    settlement_status   VARCHAR(12) NOT NULL DEFAULT 'NONE',
    last_error          VARCHAR(512),
    creator             BIGINT,
    create_time         TIMESTAMPTZ NOT NULL DEFAULT now(),
    update_time         TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT ck_withholding_batch_status CHECK (status IN ('CREATED', 'SENDING', 'SENT', 'RETURNED', 'RECONCILED', 'SETTLED', 'CANCELLED')),
    CONSTRAINT ck_withholding_batch_kind CHECK (biz_kind IN ('WITHHOLDING', 'COLLECTION'))
);
CREATE INDEX ix_withholding_batch_period ON bk_withholding_batch (bill_period, channel_code);
COMMENT ON TABLE bk_withholding_batch IS 'A bank withholding (代扣) or collection (托收) batch: its file and where it went (resolved once, kept), its state';
COMMENT ON COLUMN bk_withholding_batch.source_scope IS 'The scope the transfer configuration resolved from (the most specific row that gave a field): TENANT_CHANNEL, TENANT, CHANNEL or DEFAULT';
COMMENT ON COLUMN bk_withholding_batch.task_token IS 'The Step Functions task token of the execution waiting for the return file';
COMMENT ON COLUMN bk_withholding_batch.taken_time IS 'When we saw the bank had taken the send file (it is no longer in the send directory): no cancelling after';

CREATE TABLE bk_withholding_item (
    id                BIGSERIAL PRIMARY KEY,
    batch_id          BIGINT NOT NULL REFERENCES bk_withholding_batch (id),
    seq_no            INTEGER NOT NULL,
    cust_id           BIGINT NOT NULL REFERENCES biz_cust (id),
    charge_id         BIGINT NOT NULL REFERENCES biz_charge (id),
    agreement_id      BIGINT NOT NULL,
    sign_no           VARCHAR(64),
    amount            NUMERIC(14,2) NOT NULL,
    principal         NUMERIC(14,2) NOT NULL,
    penalty           NUMERIC(14,2) NOT NULL DEFAULT 0,
    status            VARCHAR(12) NOT NULL DEFAULT 'PENDING',
    result_code       VARCHAR(8),
    result_msg        VARCHAR(200),
    bank_serial_no    VARCHAR(64),
    bank_amount       NUMERIC(14,2),
    collection_id     BIGINT,
    CONSTRAINT ck_withholding_item_status CHECK (status IN ('PENDING', 'SUCCESS', 'FAIL', 'WRITE_OFF_FAILED')),
    CONSTRAINT ck_withholding_item_amount CHECK (amount > 0),
    UNIQUE (batch_id, seq_no),
    UNIQUE (batch_id, charge_id)
);
CREATE INDEX ix_withholding_item_charge ON bk_withholding_item (charge_id);
COMMENT ON COLUMN bk_withholding_item.status IS 'PENDING (no result yet), SUCCESS (debited and written off), FAIL (the bank''s failure: the bill keeps its arrears), WRITE_OFF_FAILED (debited but our write-off refused it: a reconciliation difference)';

CREATE TABLE bk_withholding_return (
    id              BIGSERIAL PRIMARY KEY,
    batch_no        VARCHAR(40) NOT NULL,
    file_serial_no  VARCHAR(32) NOT NULL,
    batch_id        BIGINT REFERENCES bk_withholding_batch (id),
    file_path       VARCHAR(512) NOT NULL,
    file_sha256     CHAR(64),
    status          VARCHAR(10) NOT NULL,
    item_count      INTEGER NOT NULL DEFAULT 0,
    success_count   INTEGER NOT NULL DEFAULT 0,
    fail_count      INTEGER NOT NULL DEFAULT 0,
    error           VARCHAR(512),
    receipt_count   INTEGER NOT NULL DEFAULT 1,
    create_time     TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT ck_withholding_return_status CHECK (status IN ('APPLIED', 'INVALID')),
    UNIQUE (batch_no, file_serial_no)
);
COMMENT ON TABLE bk_withholding_return IS 'Each bank return file, processed once (the seed''s key batchNo + fileSerialNo); a repeat only counts';

CREATE TABLE bk_reconcile_batch (
    id                  BIGSERIAL PRIMARY KEY,
    batch_id            BIGINT NOT NULL UNIQUE REFERENCES bk_withholding_batch (id),
    status              VARCHAR(12) NOT NULL,
    statement_file_path VARCHAR(512),
    our_count           INTEGER NOT NULL DEFAULT 0,
    our_amount          NUMERIC(14,2) NOT NULL DEFAULT 0,
    bank_count          INTEGER NOT NULL DEFAULT 0,
    bank_amount         NUMERIC(14,2) NOT NULL DEFAULT 0,
    diff_count          INTEGER NOT NULL DEFAULT 0,
    create_time         TIMESTAMPTZ NOT NULL DEFAULT now(),
    update_time         TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT ck_reconcile_status CHECK (status IN ('BALANCED', 'DIFF', 'RESOLVED'))
);
COMMENT ON COLUMN bk_reconcile_batch.status IS 'BALANCED (no difference), DIFF (differences open), RESOLVED (every difference resolved by a person)';

CREATE TABLE bk_reconcile_diff (
    id              BIGSERIAL PRIMARY KEY,
    reconcile_id    BIGINT NOT NULL REFERENCES bk_reconcile_batch (id),
    item_id         BIGINT REFERENCES bk_withholding_item (id),
    diff_type       VARCHAR(24) NOT NULL,
    cust_id         BIGINT,
    charge_id       BIGINT,
    bank_serial_no  VARCHAR(64),
    our_amount      NUMERIC(14,2),
    bank_amount     NUMERIC(14,2),
    status          VARCHAR(10) NOT NULL DEFAULT 'OPEN',
    resolution      VARCHAR(12),
    reason          VARCHAR(200),
    resolved_by     BIGINT,
    resolved_time   TIMESTAMPTZ,
    collection_id   BIGINT,
    create_time     TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT ck_reconcile_diff_type CHECK (diff_type IN ('BANK_PAID_OURS_UNPAID', 'OURS_PAID_BANK_FAILED', 'AMOUNT_MISMATCH', 'BANK_ONLY', 'OURS_ONLY')),
    CONSTRAINT ck_reconcile_diff_status CHECK (status IN ('OPEN', 'RESOLVED')),
    CONSTRAINT ck_reconcile_diff_resolved CHECK (status = 'OPEN' OR (resolution IN ('WRITE_OFF', 'REVERSE', 'IGNORE') AND resolved_time IS NOT NULL)),
    CONSTRAINT ck_reconcile_diff_reason CHECK (resolution IS DISTINCT FROM 'IGNORE' OR length(reason) > 0)
);
CREATE INDEX ix_reconcile_diff_open ON bk_reconcile_diff (reconcile_id) WHERE status = 'OPEN';

CREATE TABLE bk_settlement_batch (
    id              BIGSERIAL PRIMARY KEY,
    batch_id        BIGINT NOT NULL UNIQUE REFERENCES bk_withholding_batch (id),
    settlement_no   VARCHAR(40) NOT NULL UNIQUE,
    status          VARCHAR(12) NOT NULL DEFAULT 'SETTLED',
    settle_count    INTEGER NOT NULL,
    settle_amount   NUMERIC(14,2) NOT NULL,
    operator_id     BIGINT,
    create_time     TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE bk_withholding_reversal (
    id              BIGSERIAL PRIMARY KEY,
    diff_id         BIGINT NOT NULL UNIQUE REFERENCES bk_reconcile_diff (id),
    collection_id   BIGINT NOT NULL,
    charge_id       BIGINT NOT NULL,
    principal       NUMERIC(14,2) NOT NULL,
    penalty         NUMERIC(14,2) NOT NULL,
    reason          VARCHAR(200) NOT NULL,
    operator_id     BIGINT,
    create_time     TIMESTAMPTZ NOT NULL DEFAULT now()
);
COMMENT ON TABLE bk_withholding_reversal IS 'A withholding write-off the bank''s statement contradicts, reversed: the bill owes again; the collection itself is never edited';
"""

DROP = r"""
DROP TABLE IF EXISTS bk_withholding_reversal;
DROP TABLE IF EXISTS bk_settlement_batch;
DROP TABLE IF EXISTS bk_reconcile_diff;
DROP TABLE IF EXISTS bk_reconcile_batch;
DROP TABLE IF EXISTS bk_withholding_return;
DROP TABLE IF EXISTS bk_withholding_item;
DROP TABLE IF EXISTS bk_withholding_batch;
DROP SEQUENCE IF EXISTS bk_withholding_batch_no_seq;
DROP TABLE IF EXISTS bk_transfer_config;
DROP INDEX IF EXISTS ux_withholding_rel_request;
DROP INDEX IF EXISTS ux_collection_rel_request;
DROP INDEX IF EXISTS ix_withholding_rel_account;
DROP INDEX IF EXISTS ix_collection_rel_account;
ALTER TABLE biz_cust_withholding_rel DROP COLUMN bank_account_cipher, DROP COLUMN bank_account_index,
    DROP COLUMN channel_code, DROP COLUMN mobile, DROP COLUMN request_no, DROP COLUMN sign_time,
    DROP COLUMN terminate_time, DROP COLUMN terminate_reason;
ALTER TABLE biz_cust_collection_rel DROP COLUMN bank_account_cipher, DROP COLUMN bank_account_index,
    DROP COLUMN channel_code, DROP COLUMN mobile, DROP COLUMN request_no, DROP COLUMN sign_time,
    DROP COLUMN terminate_time, DROP COLUMN terminate_reason;
DROP TABLE IF EXISTS bk_data_key;
"""


def _seal_existing() -> None:
    """Agreements written before this revision: seal their numbers, keep only the masked form in clear."""
    from waterrev import crypto
    from waterrev.masking import mask_bank_account

    bind = op.get_bind()
    if not crypto.create_first_key(bind):
        from sqlalchemy import text

        if bind.execute(text("SELECT 1 FROM bk_data_key LIMIT 1")).first() is None:
            return  # no key configured (a schema-only run): nothing can be sealed, nothing is
    from sqlalchemy import text

    crypto.forget_keys()  # keys cached for another database of this process are not this one's
    keys = crypto.keys(bind)
    for table in ("biz_cust_withholding_rel", "biz_cust_collection_rel"):
        rows = bind.execute(
            text(f"SELECT id, bank_account FROM {table} WHERE bank_account_cipher IS NULL")
        ).all()
        for row_id, account in rows:
            number = crypto.normalize_account(account)
            bind.execute(
                text(
                    f"UPDATE {table} SET bank_account = :m, bank_account_cipher = :c, bank_account_index = :i WHERE id = :id"
                ),
                {
                    "m": mask_bank_account(number),
                    "c": keys.seal(number),
                    "i": keys.index(number),
                    "id": row_id,
                },
            )
    crypto.forget_keys()


def upgrade() -> None:
    op.execute(DDL)
    _seal_existing()


def downgrade() -> None:
    op.execute(DROP)
