"""Service desk: outlets (IF-CS-005) and online business handling (IF-CS-006).

biz_business_types lists what can be handled (the seed's CS-006 types: 更名、过户、联系方式变更、开票方式
变更、一户多人口、自主抄表、换表申请、低保) and whether online. biz_outlets are the offices with their hours,
coordinates and the types each handles (biz_outlet_business). A customer's application is a biz_process
(status INIT / ACCEPTED / PROCESSING / DONE / REJECTED, its current node); its fields are
biz_business_datas; each step is a biz_process_transfer row (the trail), and a repeated submission of
the same content is refused by the seed's key processId + action + attachmentDigest (a unique index on
the trail). Attachments are biz_content_attach rows: a presigned upload to S3 is issued first (PENDING),
checked (size, type, SHA-256) when an application or supplement names it (UPLOADED, linked to the process).

Revision ID: 0060
Revises: 0050
"""

from alembic import op

revision = "0060"
down_revision = "0050"
branch_labels = None
depends_on = None

DDL = r"""
CREATE TABLE biz_business_types (
    code            VARCHAR(32)  PRIMARY KEY,
    name            VARCHAR(64)  NOT NULL,
    online          BOOLEAN      NOT NULL DEFAULT true,
    min_attachments INT          NOT NULL DEFAULT 0 CHECK (min_attachments >= 0),
    description     VARCHAR(255),
    sort            INT          NOT NULL DEFAULT 0,
    status          VARCHAR(8)   NOT NULL DEFAULT 'ENABLED'  -- ENABLED | DISABLED
);
COMMENT ON TABLE biz_business_types IS 'what the service desk handles (CS-005 可办事项, CS-006 业务类型)';
COMMENT ON COLUMN biz_business_types.min_attachments IS 'attachments an application of this type must carry';

INSERT INTO biz_business_types (code, name, min_attachments, description, sort) VALUES
 ('RENAME', '更名', 1, '客户名称变更（产权人不变），附身份证明', 10),
 ('TRANSFER', '过户', 2, '产权人变更：新户主姓名、证件、手机号，附产权证明与身份证明', 20),
 ('CONTACT_CHANGE', '联系方式变更', 0, '变更预留手机号', 30),
 ('INVOICE_CHANGE', '开票方式变更', 0, '变更发票类型、抬头、税号、收票邮箱', 40),
 ('POPULATION', '一户多人口', 1, '登记用水人口，阶梯水量按人口加宽，附户口簿', 50),
 ('SELF_READING', '自主抄表', 1, '客户自报读数，按抄表校验规则入账，附表盘照片', 60),
 ('METER_CHANGE', '换表申请', 0, '水表故障或到期换表，生成表务换表工单', 70),
 ('LOW_INCOME', '低保', 1, '低保户登记（免滞纳金等），附低保证', 80);

CREATE TABLE biz_outlets (
    id              BIGSERIAL    PRIMARY KEY,
    code            VARCHAR(32)  NOT NULL UNIQUE,
    name            VARCHAR(100) NOT NULL,
    dept_id         BIGINT       REFERENCES system_dept (id),
    district        VARCHAR(32)  NOT NULL,
    address         VARCHAR(255) NOT NULL,
    phone           VARCHAR(32)  NOT NULL,
    longitude       NUMERIC(10,6) NOT NULL CHECK (longitude BETWEEN -180 AND 180),
    latitude        NUMERIC(10,6) NOT NULL CHECK (latitude BETWEEN -90 AND 90),
    opening_hours   JSONB        NOT NULL DEFAULT '[]',
    appointment_url VARCHAR(255),
    status          VARCHAR(8)   NOT NULL DEFAULT 'OPEN',  -- OPEN | CLOSED
    remark          VARCHAR(255),
    update_time     TIMESTAMPTZ  NOT NULL DEFAULT now(),
    create_time     TIMESTAMPTZ  NOT NULL DEFAULT now()
);
CREATE INDEX ix_outlets_district ON biz_outlets (district) WHERE status = 'OPEN';
COMMENT ON TABLE biz_outlets IS '营业网点 (IF-CS-005)';
COMMENT ON COLUMN biz_outlets.opening_hours IS '[{"weekdays": [1..7] (ISO, Monday 1), "open": "HH:MM", "close": "HH:MM"}], Beijing time';

CREATE TABLE biz_outlet_business (
    outlet_id          BIGINT      NOT NULL REFERENCES biz_outlets (id) ON DELETE CASCADE,
    business_type_code VARCHAR(32) NOT NULL REFERENCES biz_business_types (code),
    PRIMARY KEY (outlet_id, business_type_code)
);
CREATE INDEX ix_outlet_business_type ON biz_outlet_business (business_type_code);

CREATE SEQUENCE biz_process_code_seq;
CREATE TABLE biz_process (
    id                  BIGSERIAL    PRIMARY KEY,
    code                VARCHAR(32)  NOT NULL UNIQUE,
    business_type_code  VARCHAR(32)  NOT NULL REFERENCES biz_business_types (code),
    cust_id             BIGINT       NOT NULL REFERENCES biz_cust (id),
    status              VARCHAR(12)  NOT NULL DEFAULT 'INIT',  -- INIT | ACCEPTED | PROCESSING | DONE | REJECTED
    current_node        VARCHAR(32)  NOT NULL,
    attachment_required BOOLEAN      NOT NULL DEFAULT false,
    submit_digest       CHAR(64)     NOT NULL,
    channel_type        VARCHAR(12),
    channel_user_id     VARCHAR(64),
    handler_id          BIGINT,
    result_msg          VARCHAR(255),
    work_order_no       VARCHAR(32),
    step_no             INT          NOT NULL DEFAULT 1,
    finish_time         TIMESTAMPTZ,
    create_time         TIMESTAMPTZ  NOT NULL DEFAULT now(),
    update_time         TIMESTAMPTZ  NOT NULL DEFAULT now()
);
-- one live application of a type per customer: a double submission is answered with the first
CREATE UNIQUE INDEX ux_process_live ON biz_process (cust_id, business_type_code)
    WHERE status IN ('INIT', 'ACCEPTED', 'PROCESSING');
CREATE INDEX ix_process_cust ON biz_process (cust_id, create_time DESC);
CREATE INDEX ix_process_status ON biz_process (status, create_time);
COMMENT ON TABLE biz_process IS '业务办理单 (IF-CS-006): one online application';
COMMENT ON COLUMN biz_process.submit_digest IS 'SHA-256 of the type, applyData and attachment digests: a repeated CREATE of the same content is the same application';
COMMENT ON COLUMN biz_process.step_no IS 'how many steps the trail holds: each notice of a step is keyed by it';

CREATE TABLE biz_business_datas (
    process_id  BIGINT      PRIMARY KEY REFERENCES biz_process (id),
    apply_data  JSONB       NOT NULL,
    update_time TIMESTAMPTZ NOT NULL DEFAULT now()
);
COMMENT ON TABLE biz_business_datas IS 'applyData of an application (masked when shown)';

CREATE TABLE biz_process_transfer (
    id                BIGSERIAL   PRIMARY KEY,
    process_id        BIGINT      NOT NULL REFERENCES biz_process (id),
    step_no           INT         NOT NULL,
    action            VARCHAR(16) NOT NULL,  -- CREATE | SUPPLEMENT | ACCEPT | TRANSFER | ASK_SUPPLEMENT | APPROVE | REJECT | WORK_ORDER | DONE
    from_status       VARCHAR(12),
    to_status         VARCHAR(12) NOT NULL,
    from_node         VARCHAR(32),
    to_node           VARCHAR(32) NOT NULL,
    attachment_digest CHAR(64),
    operator_type     VARCHAR(8)  NOT NULL,  -- ADMIN | MEMBER | SYSTEM
    operator_id       BIGINT,
    operator_name     VARCHAR(64),
    to_handler_id     BIGINT,
    remark            VARCHAR(255),
    create_time       TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (process_id, step_no)
);
-- the seed's 幂等键 (业务补件): processId + action + attachmentDigest
CREATE UNIQUE INDEX ux_process_transfer_digest ON biz_process_transfer (process_id, action, attachment_digest)
    WHERE attachment_digest IS NOT NULL;
COMMENT ON TABLE biz_process_transfer IS '流转轨迹: every step of an application, in order';

CREATE TABLE biz_content_attach (
    id             BIGSERIAL    PRIMARY KEY,
    file_key       VARCHAR(200) NOT NULL UNIQUE,
    cust_id        BIGINT       NOT NULL REFERENCES biz_cust (id),
    process_id     BIGINT       REFERENCES biz_process (id),
    file_name      VARCHAR(128) NOT NULL,
    content_type   VARCHAR(64)  NOT NULL,
    file_size      BIGINT       NOT NULL CHECK (file_size > 0),
    sha256         CHAR(64)     NOT NULL,
    status         VARCHAR(10)  NOT NULL DEFAULT 'PENDING',  -- PENDING | UPLOADED
    expire_time    TIMESTAMPTZ  NOT NULL,
    uploaded_time  TIMESTAMPTZ,
    create_time    TIMESTAMPTZ  NOT NULL DEFAULT now()
);
CREATE INDEX ix_content_attach_process ON biz_content_attach (process_id);
COMMENT ON TABLE biz_content_attach IS 'attachments: S3 object, declared size, type and SHA-256 (checked against the object before use)';
"""

DROP = r"""
DROP TABLE IF EXISTS biz_content_attach;
DROP TABLE IF EXISTS biz_process_transfer;
DROP TABLE IF EXISTS biz_business_datas;
DROP TABLE IF EXISTS biz_process;
DROP SEQUENCE IF EXISTS biz_process_code_seq;
DROP TABLE IF EXISTS biz_outlet_business;
DROP TABLE IF EXISTS biz_outlets;
DROP TABLE IF EXISTS biz_business_types;
"""


def upgrade() -> None:
    op.execute(DDL)


def downgrade() -> None:
    op.execute(DROP)
