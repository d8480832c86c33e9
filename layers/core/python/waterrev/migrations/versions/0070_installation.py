"""Connection applications (报装: IF-INST-001..005) with e-signature.

An application is a business process (biz_process, process_type INSTALL) with its typed form
(installation_apply), its trail (biz_process_transfer), its survey results (biz_business_datas, one row
per scheme version) and its documents (biz_content_attach: the S3 object, size, type and SHA-256 of
every attachment, the contract and the signed contract). A contract (installation_contract) is sent to
the e-signature service once per signing request; the service's verdict is one installation_signature
row per request (written once: a repeat is IGNORE_REPEAT), its evidence (存证) an installation_evidence
row; every callback received is logged in installation_sign_callback. An archive batch
(installation_archive) records what it archived and the evidence hash over every document of the
application (an installation_evidence row of type ARCHIVE).

biz_process, biz_process_transfer, biz_content_attach and biz_business_datas are shared with IF-CS-006
(业务办理), built at the same time on another branch: they are created only if missing and the columns
used here are added only if missing, all nullable or defaulted (docs/DECISIONS.md 140).

Revision ID: 0070
Revises: 0040
"""

from alembic import op

revision = "0070"
down_revision = "0040"
branch_labels = None
depends_on = None

DDL = r"""
CREATE TABLE IF NOT EXISTS biz_process (id BIGSERIAL PRIMARY KEY);
ALTER TABLE biz_process
    ADD COLUMN IF NOT EXISTS code           VARCHAR(32),
    ADD COLUMN IF NOT EXISTS process_type   VARCHAR(32),
    ADD COLUMN IF NOT EXISTS process_status VARCHAR(16),
    ADD COLUMN IF NOT EXISTS current_node   VARCHAR(32),
    ADD COLUMN IF NOT EXISTS cust_id        BIGINT REFERENCES biz_cust (id),
    ADD COLUMN IF NOT EXISTS dept_id        BIGINT REFERENCES system_dept (id),
    ADD COLUMN IF NOT EXISTS source_channel VARCHAR(16),
    ADD COLUMN IF NOT EXISTS creator        BIGINT,
    ADD COLUMN IF NOT EXISTS create_time    TIMESTAMPTZ NOT NULL DEFAULT now(),
    ADD COLUMN IF NOT EXISTS update_time    TIMESTAMPTZ NOT NULL DEFAULT now();
CREATE UNIQUE INDEX IF NOT EXISTS ux_biz_process_code ON biz_process (code);
CREATE INDEX IF NOT EXISTS ix_biz_process_type_status ON biz_process (process_type, process_status);
COMMENT ON COLUMN biz_process.process_status IS 'processStatus; for process_type INSTALL the 报装 lifecycle (domain/states.py INSTALL)';
COMMENT ON COLUMN biz_process.current_node IS 'the node the process waits at (nextNode)';

CREATE TABLE IF NOT EXISTS biz_process_transfer (id BIGSERIAL PRIMARY KEY);
ALTER TABLE biz_process_transfer
    ADD COLUMN IF NOT EXISTS process_id  BIGINT REFERENCES biz_process (id),
    ADD COLUMN IF NOT EXISTS action      VARCHAR(32),
    ADD COLUMN IF NOT EXISTS from_status VARCHAR(16),
    ADD COLUMN IF NOT EXISTS to_status   VARCHAR(16),
    ADD COLUMN IF NOT EXISTS to_node     VARCHAR(32),
    ADD COLUMN IF NOT EXISTS operator_id BIGINT,
    ADD COLUMN IF NOT EXISTS remark      VARCHAR(500),
    ADD COLUMN IF NOT EXISTS idem_key    VARCHAR(128),
    ADD COLUMN IF NOT EXISTS create_time TIMESTAMPTZ NOT NULL DEFAULT now();
CREATE INDEX IF NOT EXISTS ix_biz_process_transfer_process ON biz_process_transfer (process_id, id);
CREATE UNIQUE INDEX IF NOT EXISTS ux_biz_process_transfer_idem ON biz_process_transfer (idem_key)
    WHERE idem_key IS NOT NULL;
COMMENT ON COLUMN biz_process_transfer.idem_key IS 'the idempotency key of the step that wrote it (a repeat answers this row)';

CREATE TABLE IF NOT EXISTS biz_content_attach (id BIGSERIAL PRIMARY KEY);
ALTER TABLE biz_content_attach
    ADD COLUMN IF NOT EXISTS process_id       BIGINT REFERENCES biz_process (id),
    ADD COLUMN IF NOT EXISTS category         VARCHAR(16),
    ADD COLUMN IF NOT EXISTS file_name        VARCHAR(200),
    ADD COLUMN IF NOT EXISTS file_key         VARCHAR(255),
    ADD COLUMN IF NOT EXISTS content_type     VARCHAR(64),
    ADD COLUMN IF NOT EXISTS file_size        BIGINT,
    ADD COLUMN IF NOT EXISTS sha256           CHAR(64),
    ADD COLUMN IF NOT EXISTS archive_batch_no VARCHAR(32),
    ADD COLUMN IF NOT EXISTS create_time      TIMESTAMPTZ NOT NULL DEFAULT now();
CREATE UNIQUE INDEX IF NOT EXISTS ux_biz_content_attach_digest ON biz_content_attach (process_id, category, sha256)
    WHERE sha256 IS NOT NULL;
COMMENT ON COLUMN biz_content_attach.category IS '报装: APPLY | SURVEY | CONTRACT | SIGNED | ACCEPT | CHECK | FINISH (archiveType)';
COMMENT ON COLUMN biz_content_attach.sha256 IS 'the SHA-256 of the object as stored in S3 (hex), checked when it was taken';

CREATE TABLE IF NOT EXISTS biz_business_datas (id BIGSERIAL PRIMARY KEY);
ALTER TABLE biz_business_datas
    ADD COLUMN IF NOT EXISTS process_id   BIGINT REFERENCES biz_process (id),
    ADD COLUMN IF NOT EXISTS data_type    VARCHAR(32),
    ADD COLUMN IF NOT EXISTS data_version VARCHAR(32),
    ADD COLUMN IF NOT EXISTS data         JSONB,
    ADD COLUMN IF NOT EXISTS create_time  TIMESTAMPTZ NOT NULL DEFAULT now();
CREATE INDEX IF NOT EXISTS ix_biz_business_datas_process ON biz_business_datas (process_id, data_type);

CREATE TABLE installation_apply (
    process_id      BIGINT        PRIMARY KEY REFERENCES biz_process (id),
    apply_type      VARCHAR(24)   NOT NULL CHECK (apply_type IN ('NEW', 'REBUILD', 'ONE_METER_ONE_HOME')),
    applicant_name  VARCHAR(100)  NOT NULL,
    mobile          VARCHAR(20)   NOT NULL,
    address         VARCHAR(255)  NOT NULL,
    water_use_type  VARCHAR(16)   NOT NULL,
    source_channel  VARCHAR(16)   NOT NULL,
    dept_id         BIGINT        NOT NULL REFERENCES system_dept (id),
    apply_key       CHAR(64)      NOT NULL,
    live            BOOLEAN       NOT NULL DEFAULT true,
    scheme_version  VARCHAR(32),
    estimate_amount NUMERIC(14,2),
    meter_no        VARCHAR(32),
    caliber         VARCHAR(16),
    initial_reading NUMERIC(12,2),
    install_date    DATE,
    cust_id         BIGINT        REFERENCES biz_cust (id),
    account_id      BIGINT        REFERENCES biz_account (id),
    meter_id        BIGINT        REFERENCES biz_meter (id),
    completed_time  TIMESTAMPTZ
);
-- one live application per applicant, type and address: a repeated submission answers the first
CREATE UNIQUE INDEX ux_installation_apply_live ON installation_apply (apply_key) WHERE live;
COMMENT ON TABLE installation_apply IS '报装申请 (IF-INST-001): the application form of an INSTALL process, and what it became';
COMMENT ON COLUMN installation_apply.apply_key IS 'SHA-256 of applyType, mobile and the normalised address: the idempotency key while the application is live';
COMMENT ON COLUMN installation_apply.meter_no IS 'the meter installed, recorded by the CHECK (验收) archive';
COMMENT ON COLUMN installation_apply.cust_id IS 'the customer created when the application completed (FINISH archive)';

CREATE SEQUENCE installation_no_seq;

CREATE TABLE installation_contract (
    id              BIGSERIAL     PRIMARY KEY,
    process_id      BIGINT        NOT NULL REFERENCES biz_process (id),
    contract_no     VARCHAR(32)   NOT NULL UNIQUE,
    request_no      VARCHAR(40)   NOT NULL UNIQUE,
    contract_amount NUMERIC(14,2) NOT NULL,
    signer_name     VARCHAR(100)  NOT NULL,
    signer_mobile   VARCHAR(20)   NOT NULL,
    document        TEXT          NOT NULL,
    file_key        VARCHAR(255)  NOT NULL,
    file_sha256     CHAR(64)      NOT NULL,
    contract_status VARCHAR(12)   NOT NULL DEFAULT 'SIGNING'
        CHECK (contract_status IN ('SIGNING', 'SIGNED', 'FAILED', 'CANCELLED')),
    send_status     VARCHAR(8)    NOT NULL DEFAULT 'PENDING' CHECK (send_status IN ('PENDING', 'SENT')),
    task_no         VARCHAR(64),
    sign_url        VARCHAR(512),
    send_error      VARCHAR(255),
    operator_id     BIGINT,
    create_time     TIMESTAMPTZ   NOT NULL DEFAULT now(),
    update_time     TIMESTAMPTZ   NOT NULL DEFAULT now()
);
-- one contract in signing or signed per application
CREATE UNIQUE INDEX ux_installation_contract_live ON installation_contract (process_id)
    WHERE contract_status IN ('SIGNING', 'SIGNED');
COMMENT ON TABLE installation_contract IS '报装合同 (IF-INST-003): the document sent for signature, one signing request (request_no) each';
COMMENT ON COLUMN installation_contract.send_status IS 'PENDING until the e-signature service accepted the request; initiating again re-sends it';

CREATE TABLE installation_signature (
    id               BIGSERIAL    PRIMARY KEY,
    contract_id      BIGINT       NOT NULL REFERENCES installation_contract (id),
    request_no       VARCHAR(40)  NOT NULL UNIQUE,
    signature_status VARCHAR(8)   NOT NULL CHECK (signature_status IN ('SUCCESS', 'FAIL', 'CANCEL')),
    signer_id        VARCHAR(64),
    signature_time   TIMESTAMPTZ,
    file_url         VARCHAR(512),
    file_key         VARCHAR(255),
    result_msg       VARCHAR(500),
    create_time      TIMESTAMPTZ  NOT NULL DEFAULT now()
);
COMMENT ON TABLE installation_signature IS '签章结果 (IF-INST-004): the verdict on one signing request, written once';

CREATE TABLE installation_evidence (
    id               BIGSERIAL    PRIMARY KEY,
    process_id       BIGINT       NOT NULL REFERENCES biz_process (id),
    evidence_type    VARCHAR(12)  NOT NULL CHECK (evidence_type IN ('SIGNATURE', 'ARCHIVE')),
    contract_id      BIGINT       REFERENCES installation_contract (id),
    signature_id     BIGINT       REFERENCES installation_signature (id),
    evidence_no      VARCHAR(64),
    hash_value       VARCHAR(128) NOT NULL,
    archive_batch_no VARCHAR(32),
    document_count   INT,
    create_time      TIMESTAMPTZ  NOT NULL DEFAULT now()
);
CREATE INDEX ix_installation_evidence_process ON installation_evidence (process_id);
COMMENT ON TABLE installation_evidence IS '存证: the e-signature service''s evidence of a signature (SIGNATURE), or our evidence hash over every document of an archive batch (ARCHIVE)';

CREATE TABLE installation_sign_callback (
    id           BIGSERIAL    PRIMARY KEY,
    request_no   VARCHAR(40),
    sign_status  VARCHAR(8),
    outcome      VARCHAR(16)  NOT NULL,
    reason       VARCHAR(500),
    body         JSONB        NOT NULL,
    create_time  TIMESTAMPTZ  NOT NULL DEFAULT now()
);
CREATE INDEX ix_installation_sign_callback_failed ON installation_sign_callback (id) WHERE outcome = 'FAIL';
COMMENT ON TABLE installation_sign_callback IS 'every verified signing callback and what became of it (SUCCESS, IGNORE_REPEAT, FAIL): FAIL rows are the exceptions a person lists';

CREATE TABLE installation_archive (
    id             BIGSERIAL    PRIMARY KEY,
    batch_no       VARCHAR(32)  NOT NULL UNIQUE,
    process_id     BIGINT       NOT NULL REFERENCES biz_process (id),
    archive_type   VARCHAR(12)  NOT NULL CHECK (archive_type IN ('APPLY', 'ACCEPT', 'CHECK', 'CONTRACT', 'FINISH')),
    archive_status VARCHAR(8)   NOT NULL CHECK (archive_status IN ('SUCCESS', 'PARTIAL', 'FAIL')),
    archive_count  INT          NOT NULL,
    fail_list      JSONB        NOT NULL DEFAULT '[]',
    evidence_id    BIGINT       REFERENCES installation_evidence (id),
    request_key    CHAR(64)     NOT NULL,
    operator_id    BIGINT,
    create_time    TIMESTAMPTZ  NOT NULL DEFAULT now()
);
-- a successful batch is archived once: the same request again answers it
CREATE UNIQUE INDEX ux_installation_archive_request ON installation_archive (request_key)
    WHERE archive_status = 'SUCCESS';
CREATE INDEX ix_installation_archive_process ON installation_archive (process_id);
COMMENT ON TABLE installation_archive IS '归档批次 (IF-INST-005)';
"""

DROP = r"""
DROP TABLE IF EXISTS installation_archive, installation_sign_callback, installation_evidence,
    installation_signature, installation_contract, installation_apply;
DROP SEQUENCE IF EXISTS installation_no_seq;
"""


def upgrade() -> None:
    op.execute(DDL)


def downgrade() -> None:
    # the shared process tables stay: IF-CS-006 owns them as much as we do
    op.execute(DROP)
