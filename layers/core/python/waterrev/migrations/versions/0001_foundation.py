"""Foundation: platform (system_*), customer master data, channel bindings, audit, bills.

Revision ID: 0001
Revises:
"""

from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

DDL = r"""
-- ---------------------------------------------------------------- platform (UP) -----------
CREATE TABLE system_dept (
    id          BIGSERIAL PRIMARY KEY,
    name        VARCHAR(64)  NOT NULL,
    parent_id   BIGINT       NOT NULL DEFAULT 0,
    tree_path   VARCHAR(512) NOT NULL,            -- '/1/3/' : the dept and its ancestors
    sort        INT          NOT NULL DEFAULT 0,
    status      SMALLINT     NOT NULL DEFAULT 0,  -- 0 enabled, 1 disabled
    create_time TIMESTAMPTZ  NOT NULL DEFAULT now()
);
CREATE INDEX ix_system_dept_tree_path ON system_dept (tree_path text_pattern_ops);

CREATE TABLE system_users (
    id               BIGSERIAL PRIMARY KEY,
    username         VARCHAR(30)  NOT NULL UNIQUE,
    password         VARCHAR(255) NOT NULL,       -- argon2id hash
    nickname         VARCHAR(30)  NOT NULL,
    dept_id          BIGINT REFERENCES system_dept (id),
    mobile           VARCHAR(20),
    status           SMALLINT     NOT NULL DEFAULT 0,
    login_fail_count INT          NOT NULL DEFAULT 0,
    lock_until       TIMESTAMPTZ,
    login_ip         VARCHAR(64),
    login_date       TIMESTAMPTZ,
    create_time      TIMESTAMPTZ  NOT NULL DEFAULT now()
);

CREATE TABLE system_role (
    id                  BIGSERIAL PRIMARY KEY,
    code                VARCHAR(64) NOT NULL UNIQUE,
    name                VARCHAR(64) NOT NULL,
    -- ALL | DEPT_AND_CHILD | DEPT_ONLY | DEPT_CUSTOM | SELF
    data_scope          VARCHAR(16) NOT NULL DEFAULT 'DEPT_AND_CHILD',
    data_scope_dept_ids BIGINT[]    NOT NULL DEFAULT '{}',
    status              SMALLINT    NOT NULL DEFAULT 0
);

CREATE TABLE system_menu (
    id         BIGSERIAL PRIMARY KEY,
    name       VARCHAR(64)  NOT NULL,
    permission VARCHAR(128) NOT NULL DEFAULT '',
    type       SMALLINT     NOT NULL,             -- 1 directory, 2 menu, 3 button
    parent_id  BIGINT       NOT NULL DEFAULT 0,
    path       VARCHAR(200),
    status     SMALLINT     NOT NULL DEFAULT 0,
    UNIQUE (name, parent_id)
);

CREATE TABLE system_role_menu (
    role_id BIGINT NOT NULL REFERENCES system_role (id),
    menu_id BIGINT NOT NULL REFERENCES system_menu (id),
    PRIMARY KEY (role_id, menu_id)
);

CREATE TABLE system_user_role (
    user_id BIGINT NOT NULL REFERENCES system_users (id),
    role_id BIGINT NOT NULL REFERENCES system_role (id),
    PRIMARY KEY (user_id, role_id)
);

-- user_type: ADMIN (system_users.id) or MEMBER (biz_channel_user.id)
CREATE TABLE system_oauth2_access_token (
    id                 BIGSERIAL PRIMARY KEY,
    user_id            BIGINT      NOT NULL,
    user_type          VARCHAR(8)  NOT NULL,
    access_token       CHAR(64)    NOT NULL UNIQUE,   -- sha256 of the token, never the token
    refresh_token      CHAR(64)    NOT NULL,
    client_id          VARCHAR(32) NOT NULL DEFAULT 'default',
    expires_time       TIMESTAMPTZ NOT NULL,
    revoked            BOOLEAN     NOT NULL DEFAULT false,
    create_time        TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX ix_access_token_refresh ON system_oauth2_access_token (refresh_token);

CREATE TABLE system_oauth2_refresh_token (
    id            BIGSERIAL PRIMARY KEY,
    refresh_token CHAR(64)    NOT NULL UNIQUE,
    user_id       BIGINT      NOT NULL,
    user_type     VARCHAR(8)  NOT NULL,
    client_id     VARCHAR(32) NOT NULL DEFAULT 'default',
    expires_time  TIMESTAMPTZ NOT NULL,
    revoked       BOOLEAN     NOT NULL DEFAULT false,
    create_time   TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE system_login_log (
    id          BIGSERIAL PRIMARY KEY,
    log_type    VARCHAR(16)  NOT NULL,            -- LOGIN_USERNAME | LOGOUT_SELF | LOGIN_CHANNEL
    trace_id    VARCHAR(64),
    user_id     BIGINT,
    user_type   VARCHAR(8)   NOT NULL,
    username    VARCHAR(64)  NOT NULL,
    result      VARCHAR(24)  NOT NULL,            -- SUCCESS | BAD_CREDENTIALS | LOCKED | DISABLED
    user_ip     VARCHAR(64),
    user_agent  VARCHAR(512),
    create_time TIMESTAMPTZ  NOT NULL DEFAULT now()
);
CREATE INDEX ix_login_log_user ON system_login_log (username, create_time DESC);

CREATE TABLE system_dict_type (
    id     BIGSERIAL PRIMARY KEY,
    name   VARCHAR(100) NOT NULL,
    type   VARCHAR(100) NOT NULL UNIQUE,
    status SMALLINT     NOT NULL DEFAULT 0
);

CREATE TABLE system_dict_data (
    id         BIGSERIAL PRIMARY KEY,
    dict_type  VARCHAR(100) NOT NULL REFERENCES system_dict_type (type),
    label      VARCHAR(100) NOT NULL,
    value      VARCHAR(100) NOT NULL,
    sort       INT          NOT NULL DEFAULT 0,
    color_type VARCHAR(32),
    status     SMALLINT     NOT NULL DEFAULT 0,
    UNIQUE (dict_type, value)
);

CREATE TABLE biz_parameter_settings (
    id             BIGSERIAL PRIMARY KEY,
    config_type    VARCHAR(16)  NOT NULL,          -- PRICE | RULE | PAGE | NOTICE
    config_code    VARCHAR(100) NOT NULL,
    config_value   TEXT         NOT NULL,
    config_version INT          NOT NULL DEFAULT 1,
    dept_id        BIGINT,
    effect_status  VARCHAR(8)   NOT NULL DEFAULT 'ACTIVE',  -- DRAFT | ACTIVE | EXPIRED
    effective_date DATE,
    visible        BOOLEAN      NOT NULL DEFAULT true,     -- false: secret/internal, never served
    create_time    TIMESTAMPTZ  NOT NULL DEFAULT now(),
    UNIQUE (config_code, config_version)
);

-- The audit log: who, what, which object, before/after, request id. Same transaction as the change.
CREATE TABLE biz_operat_log (
    id          BIGSERIAL PRIMARY KEY,
    request_id  VARCHAR(64),
    user_id     BIGINT,
    user_type   VARCHAR(8)   NOT NULL,
    user_name   VARCHAR(64),
    module      VARCHAR(32)  NOT NULL,
    operation   VARCHAR(64)  NOT NULL,
    object_type VARCHAR(32)  NOT NULL,
    object_id   VARCHAR(64)  NOT NULL,
    before_data JSONB,
    after_data  JSONB,
    remark      VARCHAR(512),
    create_time TIMESTAMPTZ  NOT NULL DEFAULT now()
);
CREATE INDEX ix_operat_log_object ON biz_operat_log (object_type, object_id, create_time);

-- ------------------------------------------------------------- customer master data --------
CREATE SEQUENCE biz_cust_code_seq START 100001;

CREATE TABLE biz_cust (
    id          BIGSERIAL PRIMARY KEY,
    code        VARCHAR(32)  NOT NULL UNIQUE,
    name        VARCHAR(100) NOT NULL,
    cust_type   VARCHAR(16)  NOT NULL,            -- RESIDENT | NON_RESIDENT | SPECIAL
    id_type     VARCHAR(16),                      -- ID_CARD | PASSPORT | USCC
    id_no       VARCHAR(32),
    mobile      VARCHAR(20),
    address     VARCHAR(255) NOT NULL,
    dept_id     BIGINT       NOT NULL REFERENCES system_dept (id),
    population  INT          NOT NULL DEFAULT 1,
    status      VARCHAR(12)  NOT NULL DEFAULT 'NORMAL',  -- NORMAL | STOPPED
    version     INT          NOT NULL DEFAULT 0,
    creator     BIGINT,
    create_time TIMESTAMPTZ  NOT NULL DEFAULT now(),
    update_time TIMESTAMPTZ  NOT NULL DEFAULT now()
);
CREATE INDEX ix_biz_cust_mobile ON biz_cust (mobile);
CREATE INDEX ix_biz_cust_dept ON biz_cust (dept_id);

CREATE TABLE biz_account (
    id             BIGSERIAL PRIMARY KEY,
    cust_id        BIGINT        NOT NULL REFERENCES biz_cust (id),
    account_no     VARCHAR(32)   NOT NULL UNIQUE,
    balance        NUMERIC(14,2) NOT NULL DEFAULT 0,
    arrears_amount NUMERIC(14,2) NOT NULL DEFAULT 0,
    status         VARCHAR(12)   NOT NULL DEFAULT 'NORMAL', -- NORMAL | FROZEN | RESTRICTED | CLOSED
    create_time    TIMESTAMPTZ   NOT NULL DEFAULT now()
);
CREATE INDEX ix_biz_account_cust ON biz_account (cust_id);

CREATE TABLE biz_cust_contact (
    id         BIGSERIAL PRIMARY KEY,
    cust_id    BIGINT       NOT NULL REFERENCES biz_cust (id),
    name       VARCHAR(64)  NOT NULL,
    mobile     VARCHAR(20),
    relation   VARCHAR(16)  NOT NULL DEFAULT 'SELF',
    is_primary BOOLEAN      NOT NULL DEFAULT false
);
CREATE INDEX ix_biz_cust_contact_cust ON biz_cust_contact (cust_id);
CREATE INDEX ix_biz_cust_contact_mobile ON biz_cust_contact (mobile);

CREATE TABLE biz_meter (
    id              BIGSERIAL PRIMARY KEY,
    meter_no        VARCHAR(32)   NOT NULL UNIQUE,
    caliber         VARCHAR(16)   NOT NULL,       -- DN15, DN20, ...
    model           VARCHAR(32),
    meter_type      VARCHAR(16)   NOT NULL DEFAULT 'MECHANICAL', -- MECHANICAL | IOT
    max_reading     NUMERIC(12,2) NOT NULL DEFAULT 99999,
    initial_reading NUMERIC(12,2) NOT NULL DEFAULT 0,
    install_address VARCHAR(255),
    install_date    DATE,
    status          VARCHAR(12)   NOT NULL DEFAULT 'ACTIVE', -- ACTIVE | STOPPED | REMOVED
    create_time     TIMESTAMPTZ   NOT NULL DEFAULT now()
);

CREATE TABLE biz_cust_meter (
    id          BIGSERIAL PRIMARY KEY,
    cust_id     BIGINT      NOT NULL REFERENCES biz_cust (id),
    meter_id    BIGINT      NOT NULL REFERENCES biz_meter (id),
    status      VARCHAR(12) NOT NULL DEFAULT 'ACTIVE',  -- ACTIVE | REMOVED
    bind_date   DATE        NOT NULL DEFAULT CURRENT_DATE,
    create_time TIMESTAMPTZ NOT NULL DEFAULT now()
);
-- a meter serves one customer at a time
CREATE UNIQUE INDEX ux_biz_cust_meter_active ON biz_cust_meter (meter_id) WHERE status = 'ACTIVE';
CREATE INDEX ix_biz_cust_meter_cust ON biz_cust_meter (cust_id);

CREATE TABLE biz_cust_invoice (
    id            BIGSERIAL PRIMARY KEY,
    cust_id       BIGINT       NOT NULL UNIQUE REFERENCES biz_cust (id),
    invoice_type  VARCHAR(12)  NOT NULL DEFAULT 'ELECTRONIC',  -- ELECTRONIC | PAPER
    title_type    VARCHAR(12)  NOT NULL DEFAULT 'PERSONAL',    -- PERSONAL | ENTERPRISE
    invoice_title VARCHAR(200) NOT NULL,
    tax_no        VARCHAR(32),
    email         VARCHAR(128),
    mobile        VARCHAR(20),
    bank_name     VARCHAR(100),
    bank_account  VARCHAR(40),
    address_phone VARCHAR(255)
);

CREATE TABLE biz_cust_collection_rel (
    id           BIGSERIAL PRIMARY KEY,
    cust_id      BIGINT       NOT NULL REFERENCES biz_cust (id),
    bank_code    VARCHAR(16)  NOT NULL,
    bank_account VARCHAR(40)  NOT NULL,
    account_name VARCHAR(100) NOT NULL,
    agreement_no VARCHAR(64),
    status       VARCHAR(12)  NOT NULL DEFAULT 'SIGNED',    -- SIGNED | TERMINATED
    create_time  TIMESTAMPTZ  NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX ux_collection_rel_signed ON biz_cust_collection_rel (cust_id) WHERE status = 'SIGNED';

CREATE TABLE biz_cust_withholding_rel (
    id           BIGSERIAL PRIMARY KEY,
    cust_id      BIGINT       NOT NULL REFERENCES biz_cust (id),
    bank_code    VARCHAR(16)  NOT NULL,
    bank_account VARCHAR(40)  NOT NULL,
    account_name VARCHAR(100) NOT NULL,
    sign_no      VARCHAR(64),
    status       VARCHAR(12)  NOT NULL DEFAULT 'SIGNED',
    create_time  TIMESTAMPTZ  NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX ux_withholding_rel_signed ON biz_cust_withholding_rel (cust_id) WHERE status = 'SIGNED';

-- ------------------------------------------------------------------ customer channel -------
CREATE TABLE biz_channel_user (
    id              BIGSERIAL PRIMARY KEY,
    channel_type    VARCHAR(12) NOT NULL,         -- WECHAT | ALIPAY | MINIAPP
    channel_user_id VARCHAR(64) NOT NULL,
    create_time     TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_login_time TIMESTAMPTZ,
    UNIQUE (channel_type, channel_user_id)
);

CREATE TABLE biz_cust_app_binds (
    id              BIGSERIAL PRIMARY KEY,
    channel_type    VARCHAR(12) NOT NULL,
    channel_user_id VARCHAR(64) NOT NULL,
    cust_id         BIGINT      NOT NULL REFERENCES biz_cust (id),
    account_id      BIGINT      NOT NULL REFERENCES biz_account (id),
    is_default      BOOLEAN     NOT NULL DEFAULT false,
    status          VARCHAR(8)  NOT NULL DEFAULT 'BOUND',  -- BOUND | UNBOUND
    bind_time       TIMESTAMPTZ NOT NULL DEFAULT now(),
    unbind_time     TIMESTAMPTZ,
    UNIQUE (channel_type, channel_user_id, cust_id)
);
CREATE UNIQUE INDEX ux_app_binds_default ON biz_cust_app_binds (channel_type, channel_user_id)
    WHERE is_default AND status = 'BOUND';
CREATE INDEX ix_app_binds_cust ON biz_cust_app_binds (cust_id) WHERE status = 'BOUND';

CREATE TABLE biz_verify_code (
    id          BIGSERIAL PRIMARY KEY,
    channel_user BIGINT      NOT NULL REFERENCES biz_channel_user (id),
    cust_id     BIGINT      NOT NULL REFERENCES biz_cust (id),
    purpose     VARCHAR(16) NOT NULL,             -- BIND
    code_hash   CHAR(64)    NOT NULL,
    expires_time TIMESTAMPTZ NOT NULL,
    attempts    INT         NOT NULL DEFAULT 0,
    used        BOOLEAN     NOT NULL DEFAULT false,
    create_time TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX ix_verify_code_lookup ON biz_verify_code (channel_user, cust_id, purpose, create_time DESC);

-- Channel-login nonces: a signed login is accepted once inside its replay window.
CREATE TABLE biz_channel_nonce (
    nonce       VARCHAR(64) PRIMARY KEY,
    create_time TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Messages for SYS-010 (SMS, WeChat template messages): written in the business transaction,
-- delivered afterwards. Bodies hold no plaintext secrets.
CREATE TABLE biz_message_outbox (
    id           BIGSERIAL PRIMARY KEY,
    message_type VARCHAR(32)  NOT NULL,
    receiver     VARCHAR(64)  NOT NULL,
    payload      JSONB        NOT NULL,
    status       VARCHAR(12)  NOT NULL DEFAULT 'PENDING',
    create_time  TIMESTAMPTZ  NOT NULL DEFAULT now()
);

-- ------------------------------------------------------------------------- bills ------------
CREATE TABLE biz_charge (
    id             BIGSERIAL PRIMARY KEY,
    code           VARCHAR(32)   NOT NULL UNIQUE,
    cust_id        BIGINT        NOT NULL REFERENCES biz_cust (id),
    account_id     BIGINT        NOT NULL REFERENCES biz_account (id),
    meter_id       BIGINT        REFERENCES biz_meter (id),
    bill_period    CHAR(7)       NOT NULL,        -- 2026-03
    usage_amount   NUMERIC(12,2) NOT NULL DEFAULT 0,
    total_amount   NUMERIC(14,2) NOT NULL,
    paid_amount    NUMERIC(14,2) NOT NULL DEFAULT 0,
    -- UNPAID | PARTIAL | PAID | CANCELLED
    status         VARCHAR(12)   NOT NULL DEFAULT 'UNPAID',
    invoice_status VARCHAR(12)   NOT NULL DEFAULT 'NONE',
    due_date       DATE          NOT NULL,
    paid_time      TIMESTAMPTZ,
    create_time    TIMESTAMPTZ   NOT NULL DEFAULT now(),
    CHECK (paid_amount >= 0 AND paid_amount <= total_amount)
);
-- IF-CS-002: a customer's most recent periods first
CREATE INDEX ix_biz_charge_cust_period ON biz_charge (cust_id, bill_period DESC, id DESC);
CREATE INDEX ix_biz_charge_cust_unpaid ON biz_charge (cust_id, bill_period) WHERE status IN ('UNPAID', 'PARTIAL');

CREATE TABLE biz_charge_detail (
    id              BIGSERIAL PRIMARY KEY,
    charge_id       BIGINT        NOT NULL REFERENCES biz_charge (id),
    cost_component  VARCHAR(32)   NOT NULL,
    tier_no         INT           NOT NULL DEFAULT 1,
    usage_amount    NUMERIC(12,2) NOT NULL,
    unit_price      NUMERIC(10,4) NOT NULL,
    amount          NUMERIC(14,2) NOT NULL,
    tax_rate        NUMERIC(6,4)  NOT NULL DEFAULT 0
);
CREATE INDEX ix_charge_detail_charge ON biz_charge_detail (charge_id);

CREATE TABLE biz_collection (
    id             BIGSERIAL PRIMARY KEY,
    code           VARCHAR(40)   NOT NULL UNIQUE,
    cust_id        BIGINT        NOT NULL REFERENCES biz_cust (id),
    amount         NUMERIC(14,2) NOT NULL,
    channel        VARCHAR(12)   NOT NULL,        -- CASH | WECHAT | ALIPAY | BANK | PREPAY
    trade_no       VARCHAR(64),
    status         VARCHAR(12)   NOT NULL,        -- SUCCESS | PARTIAL | PENDING | FAIL
    outlet_code    VARCHAR(32),
    operator_id    BIGINT,
    remark         VARCHAR(255),
    pay_time       TIMESTAMPTZ,
    create_time    TIMESTAMPTZ   NOT NULL DEFAULT now()
);
CREATE INDEX ix_biz_collection_cust ON biz_collection (cust_id, create_time DESC);

CREATE TABLE biz_invoice (
    id             BIGSERIAL PRIMARY KEY,
    application_no VARCHAR(40)   NOT NULL UNIQUE,
    cust_id        BIGINT        NOT NULL REFERENCES biz_cust (id),
    invoice_type   VARCHAR(12)   NOT NULL,
    invoice_status VARCHAR(12)   NOT NULL,        -- SUBMITTED | PENDING | SUCCESS | FAIL | INVALID | RED_INK
    invoice_code   VARCHAR(32),
    invoice_number VARCHAR(32),
    amount         NUMERIC(14,2) NOT NULL,
    file_url       VARCHAR(512),
    create_time    TIMESTAMPTZ   NOT NULL DEFAULT now()
);
CREATE INDEX ix_biz_invoice_cust ON biz_invoice (cust_id, create_time DESC);
"""

TABLES = [
    "biz_invoice",
    "biz_collection",
    "biz_charge_detail",
    "biz_charge",
    "biz_message_outbox",
    "biz_channel_nonce",
    "biz_verify_code",
    "biz_cust_app_binds",
    "biz_channel_user",
    "biz_cust_withholding_rel",
    "biz_cust_collection_rel",
    "biz_cust_invoice",
    "biz_cust_meter",
    "biz_meter",
    "biz_cust_contact",
    "biz_account",
    "biz_cust",
    "biz_operat_log",
    "biz_parameter_settings",
    "system_dict_data",
    "system_dict_type",
    "system_login_log",
    "system_oauth2_refresh_token",
    "system_oauth2_access_token",
    "system_user_role",
    "system_role_menu",
    "system_menu",
    "system_role",
    "system_users",
    "system_dept",
]


def upgrade() -> None:
    op.execute(DDL)


def downgrade() -> None:
    for table in TABLES:
        op.execute(f"DROP TABLE IF EXISTS {table} CASCADE")
    op.execute("DROP SEQUENCE IF EXISTS biz_cust_code_seq")
