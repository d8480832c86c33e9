"""Write-off and platform settlement as database functions: one round trip, locks held briefly.

`rev_write_off` is the one write-off every payment goes through (counter, bank, online, counter
QR); `pay_apply_status` settles a platform result (callback or compensation query) on its order;
`pay_notify_accept` keeps a verified IF-EXT-005 notification and settles it. Each runs inside the
caller's transaction, so nothing here commits; the caller commits once. Why in the database: see
docs/DECISIONS.md ("Settlement runs in the database").

Amounts in the audit rows are written as text with two places, as the Python audit writes
Decimals. These functions audit codes, ids, amounts, channels and trade numbers - no personal data -
and write them unmasked: a bank serial or platform trade number is kept whole so that an auditor can
trace it, where the Python audit's text masking would starve a digit run that happens to look like a
card, ID or mobile number.

Revision ID: 0006
Revises: 0005
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

# The functions' text lives in waterrev/sql/functions/ (rev_audit.sql, rev_write_off.sql,
# pay_apply_status.sql, pay_notify_accept.sql), one file each, applied by waterrev.migrate after the
# revisions (migration 0012). This revision created them; a database that has it already got them.

DROP = r"""
DO $$
DECLARE
  f text;
BEGIN  -- by name: the signatures are their files' now, not this revision's
  FOR f IN SELECT CAST(CAST(oid AS regprocedure) AS text) FROM pg_proc
           WHERE proname IN ('pay_notify_accept', 'pay_apply_status', 'rev_write_off', 'rev_audit')
             AND pronamespace = CAST(current_schema() AS regnamespace) LOOP
    EXECUTE 'DROP FUNCTION ' || f;
  END LOOP;
END
$$;
"""


def upgrade() -> None:
    """Nothing left: the functions are created from their files (see above)."""


def downgrade() -> None:
    op.execute(DROP)
