"""Connection applications (报装: IF-INST-001..005) with e-signature.

An application is a process (installation_process: processId, processCode, processStatus) with its typed
form (installation_apply), its trail (installation_transfer), its survey results (installation_survey,
one row per scheme version recorded) and its documents (installation_document: the S3 object, size, type
and SHA-256 of every attachment, the contract and the signed contract). They play the seed's biz_process,
biz_process_transfer, biz_business_datas and biz_content_attach for IF-INST; IF-CS-006 has those, with a
customer required, which an application for a new connection does not have yet (docs/DECISIONS.md 92).
A contract (installation_contract) is sent to the e-signature service once per signing request; the
service's verdict is one installation_signature row per request (written once: a repeat is
IGNORE_REPEAT), its evidence (存证) an installation_evidence row; every callback received is logged in
installation_sign_callback. An archive batch (installation_archive) records what it archived and the
evidence hash over every document of the application (an installation_evidence row of type ARCHIVE).

Revision ID: 0070
Revises: 0061
"""

from alembic import op

revision = "0070"
down_revision = "0061"
branch_labels = None
depends_on = None

DDL = r"""
CREATE TABLE installation_process (
    id             BIGSERIAL    PRIMARY KEY,
    code           VARCHAR(32)  NOT NULL UNIQUE,
    process_type   VARCHAR(32)  NOT NULL DEFAULT 'INSTALL',
    process_status VARCHAR(16)  NOT NULL CHECK (process_status IN
        ('SURVEYING', 'SURVEYED', 'SIGNING', 'SIGNED', 'CONSTRUCTED', 'COMPLETED', 'REJECTED')),
    current_node   VARCHAR(32)  NOT NULL,
    cust_id        BIGINT       REFERENCES biz_cust (id),
    dept_id        BIGINT       NOT NULL REFERENCES system_dept (id),
    source_channel VARCHAR(16)  NOT NULL,
    creator        BIGINT,
    create_time    TIMESTAMPTZ  NOT NULL DEFAULT now(),
    update_time    TIMESTAMPTZ  NOT NULL DEFAULT now()
);
CREATE INDEX ix_installation_process_status ON installation_process (process_status, dept_id);
COMMENT ON TABLE installation_process IS '报装流程 (the seed''s biz_process for IF-INST: processId, processCode, processStatus)';
COMMENT ON COLUMN installation_process.process_status IS 'processStatus: the 报装 lifecycle (domain/states.py INSTALL)';
COMMENT ON COLUMN installation_process.current_node IS 'the node the process waits at (nextNode)';
COMMENT ON COLUMN installation_process.cust_id IS 'the customer it became (set when it completed)';

CREATE TABLE installation_transfer (
    id          BIGSERIAL    PRIMARY KEY,
    process_id  BIGINT       NOT NULL REFERENCES installation_process (id),
    action      VARCHAR(32)  NOT NULL,
    from_status VARCHAR(16),
    to_status   VARCHAR(16)  NOT NULL,
    to_node     VARCHAR(32)  NOT NULL,
    operator_id BIGINT,
    remark      VARCHAR(500),
    idem_key    VARCHAR(128) UNIQUE,
    create_time TIMESTAMPTZ  NOT NULL DEFAULT now()
);
CREATE INDEX ix_installation_transfer_process ON installation_transfer (process_id, id);
COMMENT ON TABLE installation_transfer IS '报装流转轨迹 (the seed''s biz_process_transfer for IF-INST: transferId)';
COMMENT ON COLUMN installation_transfer.idem_key IS 'the idempotency key of the step that wrote it (a repeat answers this row)';

CREATE TABLE installation_document (
    id               BIGSERIAL    PRIMARY KEY,
    process_id       BIGINT       NOT NULL REFERENCES installation_process (id),
    category         VARCHAR(16)  NOT NULL,
    file_name        VARCHAR(200) NOT NULL,
    file_key         VARCHAR(255) NOT NULL,
    content_type     VARCHAR(64)  NOT NULL,
    file_size        BIGINT       NOT NULL,
    sha256           CHAR(64)     NOT NULL,
    archive_batch_no VARCHAR(32),
    create_time      TIMESTAMPTZ  NOT NULL DEFAULT now(),
    UNIQUE (process_id, category, sha256)
);
COMMENT ON TABLE installation_document IS '报装文件 (the seed''s biz_content_attach for IF-INST): every attachment, contract and signed copy in S3';
COMMENT ON COLUMN installation_document.category IS 'APPLY | SURVEY | CONTRACT | SIGNED | ACCEPT | CHECK | FINISH (archiveType)';
COMMENT ON COLUMN installation_document.sha256 IS 'the SHA-256 of the object as stored in S3 (hex), checked when it was taken';

CREATE TABLE installation_survey (
    id           BIGSERIAL    PRIMARY KEY,
    process_id   BIGINT       NOT NULL REFERENCES installation_process (id),
    data_type    VARCHAR(32)  NOT NULL,
    data_version VARCHAR(32)  NOT NULL,
    data         JSONB        NOT NULL,
    create_time  TIMESTAMPTZ  NOT NULL DEFAULT now()
);
CREATE INDEX ix_installation_survey_process ON installation_survey (process_id);
COMMENT ON TABLE installation_survey IS '踏勘结果 (the seed''s biz_business_datas for IF-INST-002): one row per scheme version recorded';

CREATE TABLE installation_apply (
    process_id      BIGINT        PRIMARY KEY REFERENCES installation_process (id),
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
    process_id      BIGINT        NOT NULL REFERENCES installation_process (id),
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
    process_id       BIGINT       NOT NULL REFERENCES installation_process (id),
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
    process_id     BIGINT       NOT NULL REFERENCES installation_process (id),
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
    installation_signature, installation_contract, installation_survey, installation_document,
    installation_transfer, installation_apply, installation_process;
DROP SEQUENCE IF EXISTS installation_no_seq;
"""


def upgrade() -> None:
    op.execute(DDL)


def downgrade() -> None:
    op.execute(DROP)
