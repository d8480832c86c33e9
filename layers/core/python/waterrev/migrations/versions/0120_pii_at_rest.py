"""ID numbers and mobiles at rest as bank accounts are since 0050 (waterrev.crypto, DECISIONS 115-117).

Every column that holds an ID number or a mobile keeps only the MASKED value in clear; beside it
`<column>_cipher` holds the value sealed (AES-256-GCM under a bk_data_key data key, purpose "id-no" or
"mobile") and `<column>_index` its blind index (HMAC-SHA256), which is what lookups compare. Rows written
before this revision are sealed here, in batches, with the key the runtime uses (the same settings:
WATERREV_KMS_KEY_ID or WATERREV_DATA_KEY_FILE). A message's receiver is sealed only for SMS (a WeChat
openid or an inbox is no mobile), and the message's idempotency key now compares the receiver's blind index
where there is one (receiver_key), so two mobiles with the same mask stay two receivers.

Revision ID: 0120
Revises: 0110
"""

from __future__ import annotations

import json
from typing import Any

from alembic import op

revision = "0120"
down_revision = "0110"
branch_labels = None
depends_on = None

MOBILE = "mobile"
ID_NO = "id-no"

# (table, column, kind, which rows hold a value of that kind)
SEALED: tuple[tuple[str, str, str, str], ...] = (
    ("biz_cust", "mobile", MOBILE, "true"),
    ("biz_cust", "id_no", ID_NO, "true"),
    ("biz_cust_contact", "mobile", MOBILE, "true"),
    ("biz_cust_invoice", "mobile", MOBILE, "true"),
    ("biz_cust_withholding_rel", "mobile", MOBILE, "true"),
    ("biz_cust_collection_rel", "mobile", MOBILE, "true"),
    ("biz_invoice", "mobile", MOBILE, "true"),
    ("biz_hist_record", "mobile", MOBILE, "true"),
    ("biz_hist_record", "id_no", ID_NO, "true"),
    ("biz_message", "receiver", MOBILE, "channel = 'SMS'"),
    ("biz_message_outbox", "receiver", MOBILE, "receiver ~ '^1[3-9][0-9]{9}$'"),  # unused since 0013
    ("installation_apply", "mobile", MOBILE, "true"),
    ("installation_contract", "signer_mobile", MOBILE, "true"),
    ("system_users", "mobile", MOBILE, "true"),
)

BATCH = 1000


def _ddl() -> str:
    parts = []
    for table, column, kind, _where in SEALED:
        parts.append(
            f"ALTER TABLE {table} ADD COLUMN {column}_cipher BYTEA, ADD COLUMN {column}_index CHAR(64);\n"
            f"CREATE INDEX ix_{table}_{column}_index ON {table} ({column}_index) WHERE {column}_index IS NOT NULL;\n"
            f"COMMENT ON COLUMN {table}.{column} IS 'masked only; the value is {column}_cipher';\n"
            f"COMMENT ON COLUMN {table}.{column}_cipher IS 'The {kind} sealed (AES-256-GCM under a bk_data_key data key)';\n"
            f"COMMENT ON COLUMN {table}.{column}_index IS 'Blind index of the {kind} (HMAC-SHA256): lookups without opening';\n"
        )
    return "".join(parts) + (
        "DROP INDEX IF EXISTS ix_biz_cust_mobile;\n"
        "DROP INDEX IF EXISTS ix_biz_cust_contact_mobile;\n"
        "DROP INDEX IF EXISTS ix_hist_record_id_no;\n"
        "DROP INDEX IF EXISTS ix_hist_record_mobile;\n"
        "ALTER TABLE biz_message DROP CONSTRAINT biz_message_key;\n"
        "ALTER TABLE biz_message ADD COLUMN receiver_key VARCHAR(128)"
        " GENERATED ALWAYS AS (COALESCE(receiver_index, receiver)) STORED;\n"
        "ALTER TABLE biz_message ADD CONSTRAINT biz_message_key"
        " UNIQUE (message_biz_no, template_code, receiver_key);\n"
        "COMMENT ON COLUMN biz_message.receiver_key IS"
        " 'The receiver as the idempotency key compares it: its blind index for a sealed mobile';\n"
    )


def _seal_existing() -> None:
    """Rows written before this revision: seal each value, keep only its masked form in clear."""
    from sqlalchemy import text

    from waterrev import crypto

    bind = op.get_bind()
    crypto.create_first_key(bind)
    if bind.execute(text("SELECT 1 FROM bk_data_key LIMIT 1")).first() is None:
        return  # no key configured (a schema-only run): nothing can be sealed, nothing is
    crypto.forget_keys()  # keys cached for another database of this process are not this one's
    keys = crypto.keys(bind)
    for table, column, kind, where in SEALED:
        key = "process_id" if table == "installation_apply" else "id"
        last = 0
        while True:
            rows = bind.execute(
                text(
                    f"SELECT {key}, {column} FROM {table} WHERE {key} > :last AND {where}"
                    f" AND {column} IS NOT NULL AND {column} <> '' AND {column}_cipher IS NULL"
                    f" AND position('*' in {column}) = 0"  # a mask is left as it is (crypto.is_masked)
                    f" ORDER BY {key} LIMIT {BATCH}"
                ),
                {"last": last},
            ).all()
            if not rows:
                break
            last = rows[-1][0]
            sealed = [keys.pii(kind, value) for _row_id, value in rows]
            bind.execute(  # one statement a batch (unnest): a province's book is millions of rows
                text(
                    f"UPDATE {table} t SET {column} = v.m, {column}_cipher = v.c, {column}_index = v.i"
                    " FROM (SELECT unnest(CAST(:ids AS bigint[])) AS id, unnest(CAST(:m AS varchar[])) AS m,"
                    " unnest(CAST(:c AS bytea[])) AS c, unnest(CAST(:i AS varchar[])) AS i) v"
                    f" WHERE t.{key} = v.id"
                ),
                {
                    "ids": [row_id for row_id, _value in rows],
                    "m": [s.masked for s in sealed],
                    "c": [s.cipher for s in sealed],
                    "i": [s.index for s in sealed],
                },
            )
    _rekey_live_applications(bind, keys)
    _seal_apply_data(bind, keys)
    _mask_kept_text(bind)
    crypto.forget_keys()


def _rekey_live_applications(bind: object, keys: object) -> None:
    """A live installation application's idempotency key hashed its mobile; it now takes the mobile's
    blind index (an unkeyed hash of a mobile is as good as the mobile)."""
    from sqlalchemy import text

    from waterrev import crypto
    from waterrev.installation import rules

    assert isinstance(keys, crypto.Keys)
    rows = bind.execute(  # type: ignore[attr-defined]
        text(
            "SELECT process_id, apply_type, mobile_index, address FROM installation_apply"
            " WHERE live AND mobile_index IS NOT NULL"
        )
    ).all()
    for process_id, apply_type, index, address in rows:
        bind.execute(  # type: ignore[attr-defined]
            text("UPDATE installation_apply SET apply_key = :k WHERE process_id = :p"),
            {"k": rules.apply_key(apply_type, index.strip(), address), "p": process_id},
        )


def _seal_apply_data(bind: Any, keys: Any) -> None:
    """The service desk's applyData (biz_business_datas): a new owner's ID number and mobile, a new
    reserved mobile - sealed beside their masks as the runtime keeps them (crypto.seal_fields)."""
    from sqlalchemy import text

    from waterrev import crypto

    fields = {"mobile": MOBILE, "idNo": ID_NO}
    last = 0
    while True:
        rows = bind.execute(
            text(
                "SELECT process_id, apply_data FROM biz_business_datas WHERE process_id > :last"
                " AND (apply_data ? 'mobile' OR apply_data ? 'idNo') ORDER BY process_id LIMIT :n"
            ),
            {"last": last, "n": BATCH},
        ).all()
        if not rows:
            break
        last = rows[-1][0]
        for row_id, data in rows:
            unmasked = {f: k for f, k in fields.items() if not crypto.is_masked(str(data.get(f) or ""))}
            sealed = crypto.seal_fields(keys, dict(data), unmasked)
            if sealed != data:
                bind.execute(
                    text(
                        "UPDATE biz_business_datas SET apply_data = CAST(:d AS jsonb) WHERE process_id = :id"
                    ),
                    {"d": json.dumps(sealed, ensure_ascii=False), "id": row_id},
                )


def _mask_kept_text(bind: Any) -> None:
    """What was kept as written and may name a mobile or an ID number: SYS-010's result callbacks (their
    receiver) and the audit trail's before/after (masked by pattern when written; now by field name too,
    for passports and foreign mobiles). Masked in place; nothing else in them changes."""
    from sqlalchemy import text

    from waterrev.masking import mask_named, mask_text

    last = 0
    while True:
        rows = bind.execute(
            text("SELECT id, raw_body FROM biz_message_callback WHERE id > :last ORDER BY id LIMIT :n"),
            {"last": last, "n": BATCH},
        ).all()
        if not rows:
            break
        last = rows[-1][0]
        for row_id, raw in rows:
            if raw is not None and mask_text(raw) != raw:
                bind.execute(
                    text("UPDATE biz_message_callback SET raw_body = :b WHERE id = :id"),
                    {"b": mask_text(raw), "id": row_id},
                )
    named = (
        "'\"(idNo|id_no|mobile|signerMobile|signer_mobile|pushMobile|push_mobile|bankAccount|bank_account)\"'"
    )
    last = 0
    while True:
        rows = bind.execute(
            text(
                "SELECT id, before_data, after_data FROM biz_operat_log WHERE id > :last"
                f" AND (CAST(before_data AS text) ~ {named} OR CAST(after_data AS text) ~ {named})"
                " ORDER BY id LIMIT :n"
            ),
            {"last": last, "n": BATCH},
        ).all()
        if not rows:
            break
        last = rows[-1][0]
        for row_id, before, after in rows:
            masked = (mask_named(before), mask_named(after))
            if masked != (before, after):
                bind.execute(
                    text(
                        "UPDATE biz_operat_log SET before_data = CAST(:b AS jsonb), after_data = CAST(:a AS jsonb)"
                        " WHERE id = :id"
                    ),
                    {
                        "b": None if masked[0] is None else json.dumps(masked[0], ensure_ascii=False),
                        "a": None if masked[1] is None else json.dumps(masked[1], ensure_ascii=False),
                        "id": row_id,
                    },
                )


def upgrade() -> None:
    op.execute(_ddl())
    _seal_existing()


def downgrade() -> None:
    # Refused while anything is sealed: the clear columns hold only masks, so dropping the seals would lose
    # the values, and a re-upgrade would seal the masks (the plain values are not restored: that would need
    # the key and would undo the point of 0120).
    from waterrev import crypto

    crypto.refuse_downgrade_if_sealed(
        op.get_bind(), revision, [(table, f"{column}_cipher") for table, column, _kind, _where in SEALED]
    )
    parts = [
        "ALTER TABLE biz_message DROP CONSTRAINT biz_message_key;",
        "ALTER TABLE biz_message DROP COLUMN receiver_key;",
        "ALTER TABLE biz_message ADD CONSTRAINT biz_message_key UNIQUE (message_biz_no, template_code, receiver);",
        "CREATE INDEX ix_biz_cust_mobile ON biz_cust (mobile);",
        "CREATE INDEX ix_biz_cust_contact_mobile ON biz_cust_contact (mobile);",
        "CREATE INDEX ix_hist_record_id_no ON biz_hist_record (id_no) WHERE id_no IS NOT NULL;",
        "CREATE INDEX ix_hist_record_mobile ON biz_hist_record (mobile) WHERE mobile IS NOT NULL;",
    ]
    for table, column, _kind, _where in SEALED:
        parts.append(f"ALTER TABLE {table} DROP COLUMN {column}_cipher, DROP COLUMN {column}_index;")
    op.execute("\n".join(parts))
