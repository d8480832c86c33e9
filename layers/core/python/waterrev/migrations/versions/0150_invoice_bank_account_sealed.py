"""The invoice profile's bank account (biz_cust_invoice.bank_account, 开户账号 printed on a special VAT
invoice) at rest as the agreements' accounts are since 0050 (waterrev.crypto, DECISIONS 132).

`bank_account` keeps only the MASKED number; `bank_account_cipher` holds the number sealed (AES-256-GCM
under a bk_data_key data key, purpose "bank-account"). No blind index: nothing looks an invoice profile up
by its account. Rows written before this revision are sealed here, in batches, with the key the runtime
uses (WATERREV_KMS_KEY_ID or WATERREV_DATA_KEY_FILE); a value that is already a mask is left as it is
(sealing it would keep the mask as the number). The downgrade is refused while any number is sealed.

Revision ID: 0150
Revises: 0140
"""

from __future__ import annotations

from alembic import op

revision = "0150"
down_revision = "0140"
branch_labels = None
depends_on = None

BATCH = 1000


def _seal_existing() -> None:
    from sqlalchemy import text

    from waterrev import crypto
    from waterrev.masking import mask_bank_account

    bind = op.get_bind()
    crypto.create_first_key(bind)
    if bind.execute(text("SELECT 1 FROM bk_data_key LIMIT 1")).first() is None:
        return  # no key configured (a schema-only run): nothing can be sealed, nothing is
    crypto.forget_keys()  # keys cached for another database of this process are not this one's
    keys = crypto.keys(bind)
    last = 0
    while True:
        rows = bind.execute(
            text(
                "SELECT id, bank_account FROM biz_cust_invoice WHERE id > :last AND bank_account IS NOT NULL"
                " AND btrim(bank_account) <> '' AND bank_account_cipher IS NULL"
                " AND position('*' in bank_account) = 0 ORDER BY id LIMIT :n"
            ),
            {"last": last, "n": BATCH},
        ).all()
        if not rows:
            break
        last = rows[-1][0]
        numbers = [crypto.normalize_account(value) for _row_id, value in rows]
        bind.execute(  # one statement a batch (unnest)
            text(
                "UPDATE biz_cust_invoice t SET bank_account = v.m, bank_account_cipher = v.c"
                " FROM (SELECT unnest(CAST(:ids AS bigint[])) AS id, unnest(CAST(:m AS varchar[])) AS m,"
                " unnest(CAST(:c AS bytea[])) AS c) v WHERE t.id = v.id"
            ),
            {
                "ids": [row_id for row_id, _value in rows],
                "m": [mask_bank_account(n) for n in numbers],
                "c": [keys.seal(n) for n in numbers],
            },
        )
    crypto.forget_keys()


def upgrade() -> None:
    op.execute(
        "ALTER TABLE biz_cust_invoice ADD COLUMN bank_account_cipher BYTEA;\n"
        "COMMENT ON COLUMN biz_cust_invoice.bank_account IS 'masked only; the number is bank_account_cipher';\n"
        "COMMENT ON COLUMN biz_cust_invoice.bank_account_cipher IS"
        " 'The bank account sealed (AES-256-GCM under a bk_data_key data key)';\n"
    )
    _seal_existing()


def downgrade() -> None:
    from waterrev import crypto

    crypto.refuse_downgrade_if_sealed(op.get_bind(), revision, [("biz_cust_invoice", "bank_account_cipher")])
    op.execute("ALTER TABLE biz_cust_invoice DROP COLUMN bank_account_cipher;")
