"""A send file's rename into place remembered before it is issued (DECISIONS 128).

`bk_withholding_batch.publish_time` is set, and committed, after the send file's partial copy
(`.<name>.part`) is written and before it is renamed to its name, the one the bank takes. An upload that
failed is resolved by looking at the bank's send directory with it: without publish_time the rename was
never issued (the bank cannot have the file: it is uploaded again); with it, the file in place or gone
with its partial gone means the rename happened (the batch is SENT, never uploaded again), and only a
partial still there means it did not (docs/BANK.md "Sending once").

Revision ID: 0140
Revises: 0120
"""

from __future__ import annotations

from alembic import op

revision = "0140"
down_revision = "0120"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        "ALTER TABLE bk_withholding_batch ADD COLUMN publish_time TIMESTAMPTZ;"
        " COMMENT ON COLUMN bk_withholding_batch.publish_time IS 'When the send file''s rename into place was"
        " about to be issued (its partial copy written): from then on the bank may have the file, and an upload"
        " error is resolved by looking at the send directory, never by uploading blindly again';"
    )


def downgrade() -> None:
    op.execute("ALTER TABLE bk_withholding_batch DROP COLUMN publish_time")
