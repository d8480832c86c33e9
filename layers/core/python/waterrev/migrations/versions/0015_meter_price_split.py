"""Mixed-use meters (一表多价): how one meter's usage is split between price families.

Master data of the meter, maintained through IF-REV-002 (meterList[].priceSplit, priceSplits) and shown
by IF-REV-001's meterList. A split is a set of parts with one effective date (a version): each part
names a price code and takes either a fixed quantity (the first N m3, in part order) or a ratio of
what the quantities leave; the ratios sum to 1, and the RATIO part with the largest ratio takes the
rounding remainder.
A new version ends the previous one the day before it starts; ending a split sets the expire date.

Revision ID: 0015
Revises: 0014
"""

from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

DDL = r"""
CREATE TABLE biz_meter_price_split (
    id             BIGSERIAL    PRIMARY KEY,
    meter_id       BIGINT       NOT NULL REFERENCES biz_meter (id),
    part_no        SMALLINT     NOT NULL CHECK (part_no BETWEEN 1 AND 10),
    price_code     VARCHAR(32)  NOT NULL,
    split_mode     VARCHAR(8)   NOT NULL CHECK (split_mode IN ('RATIO', 'QUANTITY')),
    ratio          NUMERIC(5,4) CHECK (ratio > 0 AND ratio <= 1),
    quantity       NUMERIC(12,2) CHECK (quantity > 0),
    effective_date DATE         NOT NULL,
    expire_date    DATE,
    operator_id    BIGINT,
    create_time    TIMESTAMPTZ  NOT NULL DEFAULT now(),
    CONSTRAINT ck_meter_price_split_value CHECK (
        (split_mode = 'RATIO' AND ratio IS NOT NULL AND quantity IS NULL)
        OR (split_mode = 'QUANTITY' AND quantity IS NOT NULL AND ratio IS NULL)),
    CONSTRAINT ck_meter_price_split_dates CHECK (expire_date IS NULL OR expire_date >= effective_date - 1),
    UNIQUE (meter_id, effective_date, part_no)
);
COMMENT ON TABLE biz_meter_price_split IS
    '一表多价: one meter''s usage split between price families, effective-dated; one row per part of a version (meter_id, effective_date)';
COMMENT ON COLUMN biz_meter_price_split.split_mode IS
    'QUANTITY: the part takes the first `quantity` m3 (parts in order); RATIO: the part takes `ratio` of what the quantities leave (ratios sum to 1; the largest RATIO part takes the rounding remainder, the minimum usage and the fixed charges)';
COMMENT ON COLUMN biz_meter_price_split.expire_date IS
    'Last day of the version (the day before the next version starts, or when the split was ended); NULL: open';
"""

DROP = r"""
DROP TABLE IF EXISTS biz_meter_price_split;
"""


def upgrade() -> None:
    op.execute(DDL)


def downgrade() -> None:
    op.execute(DROP)
