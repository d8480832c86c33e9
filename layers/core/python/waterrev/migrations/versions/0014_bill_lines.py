"""Billing as a water company runs it: price families with a minimum usage and fixed charges, readings
that know their interval, bill lines that carry their part, and bills that say where they come from.

- biz_price_template.minimum_usage (最低计量水量) and biz_cost_component.fixed_amount (a component billed
  per period, quantity 1, e.g. a meter maintenance fee): part of a template version, like its tiers.
- biz_reading_data.previous_read_time: the start of the reading's interval, so a price version that
  takes effect between two readings splits the usage by days (调价分段) without a lookup per bill.
  Backfilled from the meter's earlier counted readings.
- biz_charge_detail: the version that priced the line, the mixed-use part (一表多价), the proration
  segment and its dates, the kind of line (USAGE | MINIMUM | FIXED | PRICE_DIFF) and, on a
  price-difference line, the line of the original bill it corrects. Existing lines get their bill's
  template.
- biz_charge.source_type (the seed's 来源类型: READING for a bill from a reading, PRICE_DIFF for a
  price-difference adjustment) and source_charge_id (the bill a PRICE_DIFF bill corrects). A price
  decrease is a credit bill: negative, settled at once into the account balance, so its paid amount
  equals its total. One PRICE_DIFF bill per original bill and corrected version (a unique index): the
  same correction twice bills nothing twice.

Revision ID: 0014
Revises: 0013
"""

from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

DDL = r"""
ALTER TABLE biz_price_template ADD COLUMN minimum_usage NUMERIC(12,2)
    CONSTRAINT ck_price_template_minimum CHECK (minimum_usage > 0);
COMMENT ON COLUMN biz_price_template.minimum_usage IS
    '最低计量水量 (m3 per bill period): a reading below it is billed as this much; the shortfall is on MINIMUM lines. NULL: none';
ALTER TABLE biz_cost_component ADD COLUMN fixed_amount NUMERIC(14,2)
    CONSTRAINT ck_cost_component_fixed CHECK (fixed_amount >= 0);
COMMENT ON COLUMN biz_cost_component.fixed_amount IS
    'A fixed charge per bill period (one FIXED line, quantity 1, this unit price); NULL for a component priced per m3 by tier';

ALTER TABLE biz_reading_data ADD COLUMN previous_read_time TIMESTAMPTZ;
COMMENT ON COLUMN biz_reading_data.previous_read_time IS
    'read_time of the meter''s previous counted reading when this one came in: the reading''s interval starts there (NULL: the first reading)';
UPDATE biz_reading_data r SET previous_read_time = (
    SELECT max(p.read_time) FROM biz_reading_data p
     WHERE p.meter_id = r.meter_id AND p.read_time < r.read_time AND p.status IN ('VALID', 'BILLED'));

ALTER TABLE biz_charge_detail
    ADD COLUMN price_template_id BIGINT,
    ADD COLUMN part_no SMALLINT NOT NULL DEFAULT 1,
    ADD COLUMN segment_no SMALLINT NOT NULL DEFAULT 1,
    ADD COLUMN segment_from DATE,
    ADD COLUMN segment_to DATE,
    ADD COLUMN line_kind VARCHAR(10) NOT NULL DEFAULT 'USAGE'
        CONSTRAINT ck_charge_detail_kind CHECK (line_kind IN ('USAGE', 'MINIMUM', 'FIXED', 'PRICE_DIFF')),
    ADD COLUMN ref_line_no SMALLINT;
COMMENT ON COLUMN biz_charge_detail.price_template_id IS 'The template version (biz_price_template.id) that priced this line';
COMMENT ON COLUMN biz_charge_detail.part_no IS 'Mixed-use part of the meter (一表多价, biz_meter_price_split.part_no); 1 for a meter of one price family';
COMMENT ON COLUMN biz_charge_detail.segment_no IS 'Proration segment (调价分段): 1.. in date order when a price version took effect inside the reading interval';
COMMENT ON COLUMN biz_charge_detail.segment_from IS 'First day of the proration segment (NULL: the reading was not prorated)';
COMMENT ON COLUMN biz_charge_detail.segment_to IS 'Day after the last day of the proration segment (NULL: not prorated)';
COMMENT ON COLUMN biz_charge_detail.line_kind IS 'USAGE (metered m3 by tier), MINIMUM (shortfall up to the minimum usage), FIXED (fixed charge per period), PRICE_DIFF (price-difference adjustment)';
COMMENT ON COLUMN biz_charge_detail.ref_line_no IS 'PRICE_DIFF: the line_no of the original bill''s line this one corrects';
UPDATE biz_charge_detail d SET price_template_id = c.price_template_id FROM biz_charge c WHERE c.id = d.charge_id;

ALTER TABLE biz_charge ADD COLUMN source_type VARCHAR(12) NOT NULL DEFAULT 'READING'
    CONSTRAINT ck_charge_source CHECK (source_type IN ('READING', 'PRICE_DIFF'));
ALTER TABLE biz_charge ADD COLUMN source_charge_id BIGINT;
COMMENT ON COLUMN biz_charge.source_type IS
    '来源类型: READING (billed from a reading, or migrated history) | PRICE_DIFF (价差调整 of source_charge_id)';
COMMENT ON COLUMN biz_charge.source_charge_id IS 'PRICE_DIFF: the bill whose prices this one corrects';
ALTER TABLE biz_charge DROP CONSTRAINT biz_charge_check;
ALTER TABLE biz_charge ADD CONSTRAINT biz_charge_check CHECK (
    (total_amount >= 0 AND paid_amount >= 0 AND paid_amount <= total_amount)
    OR (total_amount < 0 AND source_type = 'PRICE_DIFF' AND paid_amount = total_amount));
CREATE UNIQUE INDEX ux_charge_price_diff ON biz_charge (source_charge_id, price_template_id)
    WHERE source_type = 'PRICE_DIFF';
"""

DROP = r"""
DROP INDEX IF EXISTS ux_charge_price_diff;
ALTER TABLE biz_charge DROP CONSTRAINT IF EXISTS biz_charge_check;
ALTER TABLE biz_charge ADD CONSTRAINT biz_charge_check CHECK (paid_amount >= 0 AND paid_amount <= total_amount);
ALTER TABLE biz_charge DROP COLUMN IF EXISTS source_charge_id, DROP COLUMN IF EXISTS source_type;
ALTER TABLE biz_charge_detail DROP COLUMN IF EXISTS ref_line_no, DROP COLUMN IF EXISTS line_kind,
    DROP COLUMN IF EXISTS segment_to, DROP COLUMN IF EXISTS segment_from, DROP COLUMN IF EXISTS segment_no,
    DROP COLUMN IF EXISTS part_no, DROP COLUMN IF EXISTS price_template_id;
ALTER TABLE biz_reading_data DROP COLUMN IF EXISTS previous_read_time;
ALTER TABLE biz_cost_component DROP COLUMN IF EXISTS fixed_amount;
ALTER TABLE biz_price_template DROP COLUMN IF EXISTS minimum_usage;
"""


def upgrade() -> None:
    op.execute(DDL)


def downgrade() -> None:
    op.execute(DROP)
