"""ID numbers and mobiles at rest (issue 16, DECISIONS 115-117): written through the real use cases, none
of them is anywhere in the database in clear - every text, JSON and character column of every table is
scanned, as a dump would show it - while the lookups by mobile and ID number still find them; and migration
0120 seals what a database held in clear before it."""

from __future__ import annotations

import random
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from tests.integration.test_cs_process import apply as process_apply
from tests.integration.test_cs_process import attach, step
from tests.integration.test_history import csv_of, load
from tests.integration.test_installation import apply as install_apply
from tests.support import (
    bind,
    call,
    channel_login,
    new_customer,
    opened,
    receiver_of,
    sql_all,
    unique,
)
from waterrev import crypto
from waterrev.fields import _ID_CHECK, _ID_WEIGHTS
from waterrev.masking import mask_mobile

pytestmark = pytest.mark.integration

_TEXT_TYPES = ("character varying", "text", "character", "json", "jsonb", "bytea", "ARRAY")


@pytest.fixture(scope="module")
def s3() -> Iterator[str]:
    """The local S3 (moto's server) with the attachment bucket (service desk attachments)."""
    from waterrev.local import s3 as local_s3

    yield local_s3.start()


def a_mobile() -> str:
    return "13" + str(random.randint(5, 9)) + f"{random.randrange(10**8):08d}"


def an_id_no() -> str:
    body = f"350102{random.randint(1950, 2005)}{random.randint(1, 12):02d}{random.randint(1, 28):02d}"
    body += f"{random.randrange(1000):03d}"
    total = sum(int(d) * w for d, w in zip(body, _ID_WEIGHTS, strict=True))
    return body + _ID_CHECK[total % 11]


def found_in_clear(conn: Any, values: list[str]) -> list[str]:
    """Every (table.column, value) where a value shows in clear: the columns a dump prints as text (bytea
    as its bytes: a sealed value that were not sealed would show there too)."""
    columns = conn.execute(
        text(
            "SELECT c.table_name, c.column_name, c.data_type FROM information_schema.columns c"
            " JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name"
            " WHERE c.table_schema = 'public' AND t.table_type = 'BASE TABLE' AND c.data_type = ANY(:types)"
        ),
        {"types": list(_TEXT_TYPES)},
    ).all()
    pattern = "|".join(values)  # digits and X only: no regex metacharacters
    hits = []
    for table, column, data_type in columns:
        as_text = f"encode({column}, 'escape')" if data_type == "bytea" else f"CAST({column} AS text)"
        found = conn.execute(
            text(f'SELECT substring({as_text} from :p) FROM "{table}" WHERE {as_text} ~ :p LIMIT 1'),
            {"p": f"({pattern})"},
        ).first()
        if found is not None:
            hits.append(f"{table}.{column}: {found[0]}")
    assert len(columns) > 300, "the scan must see the whole schema"
    return hits


def dumped(url: str) -> str:
    """The database as pg_dump prints it (data only; bytea in hex), with the embedded server's own pg_dump."""
    from pathlib import Path

    import pgserver
    from sqlalchemy.engine import make_url

    where = make_url(url)
    host = where.query.get("unix_sock")
    host = str(Path(str(host)).parent) if host else where.host
    command = [str(Path(pgserver.__file__).parent / "pginstall" / "bin" / "pg_dump"), "--data-only"]
    command += ["-h", str(host), "-U", str(where.username or "postgres"), "-d", str(where.database)]
    if where.port:
        command += ["-p", str(where.port)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=True)
    assert "COPY public.biz_cust " in done.stdout, done.stderr[:500]
    return done.stdout


def test_what_the_use_cases_write_shows_no_mobile_or_id_number_in_clear(admin: str, db: str, s3: str) -> None:
    """Given a customer created with a mobile, an ID number, a contact's and an invoice mobile (and one with
    a passport number); a channel
    user sent a bind code to that mobile and bound; a transfer of ownership (new owner's ID number and
    mobile) applied for and approved; an installation applied for by another mobile; and a legacy history
    row with its own ID number and mobile imported
    When every character, text, JSON and bytea column of every table is scanned for those values
    Then none is found, while the customer is found by its mobile, the history by its ID number and
    mobile, and the SMS messages open to the mobiles they go to."""
    mobiles = {k: a_mobile() for k in ("cust", "contact", "invoice", "owner", "applicant", "history")}
    ids = {k: an_id_no() for k in ("cust", "owner", "history")}
    ids["passport"] = f"E{random.randrange(10**8):08d}"  # a form no log pattern knows
    account = f"6217{random.randrange(10**15):015d}"  # the invoice profile's 开户账号

    cust = new_customer(
        admin,
        mobile=mobiles["cust"],
        idNo=ids["cust"],
        contactList=[{"name": "联系人", "mobile": mobiles["contact"], "relation": "SELF", "isPrimary": True}],
        invoiceInfo={"invoiceType": "ELECTRONIC", "titleType": "PERSONAL", "invoiceTitle": "某人",
                     "mobile": mobiles["invoice"], "bankName": "建设银行", "bankAccount": account},
    )  # fmt: skip
    cust_id = int(cust["id"])
    traveller = new_customer(admin, mobile=a_mobile(), idType="PASSPORT", idNo=ids["passport"])
    assert opened("biz_cust", "id_no", "id = :c", {"c": traveller["id"]}, "id-no") == ids["passport"]
    openid = unique("pii")
    member = channel_login(openid)
    assert bind(member, openid, cust_id).code == 0
    code_sms = sql_all(
        "SELECT * FROM biz_message WHERE cust_id = :c AND template_code = 'BIND_VERIFY_CODE'", {"c": cust_id}
    )
    assert code_sms and receiver_of(code_sms[-1]) == mobiles["cust"]

    owner = {"newName": "新户主", "idType": "ID_CARD", "idNo": ids["owner"], "mobile": mobiles["owner"]}
    files = [attach(member, cust_id), attach(member, cust_id, b"%PDF deed")]
    created = process_apply(member, cust_id, "TRANSFER", owner, files)
    assert created.code == 0, created.body
    assert created.data["applyData"]["idNo"] != ids["owner"]  # answered masked
    pid = created.data["processId"]
    assert step(admin, "accept", pid).code == 0
    assert step(admin, "approve", pid).data["processStatus"] == "DONE"
    assert opened("biz_cust", "id_no", "id = :c", {"c": cust_id}, "id-no") == ids["owner"]

    assert install_apply(admin, mobile=mobiles["applicant"]).code == 0

    tag = unique("PII")
    history = csv_of(
        ["legacyNo", "status", "idNo", "mobile"], [[f"{tag}-1", "ACTIVE", ids["history"], mobiles["history"]]]
    )
    assert load(admin, "CONFIG", history).code == 0

    by_mobile = call(
        "GET", "/admin-api/revenue/customer/page", query=f"mobile={mobiles['owner']}", token=admin
    )
    assert [c["id"] for c in by_mobile.data["list"]] == [cust_id], by_mobile.body
    by_contact = call(
        "GET", "/admin-api/revenue/customer/page", query=f"mobile={mobiles['owner'][-6:]}", token=admin
    )
    assert cust_id in [c["id"] for c in by_contact.data["list"]], by_contact.body
    for criteria in ({"idNo": ids["history"]}, {"mobile": mobiles["history"]}):
        found = call(
            "POST", "/admin-api/revenue/history/query", {"objectType": "CONFIG", **criteria}, token=admin
        )
        assert [r["legacyNo"] for r in found.data["list"]] == [f"{tag}-1"], found.body

    engine = create_engine(db)
    try:
        with engine.connect() as conn:
            assert found_in_clear(conn, [*mobiles.values(), *ids.values(), account]) == []
            sealed = conn.execute(
                text("SELECT bank_account, bank_account_cipher FROM biz_cust_invoice WHERE cust_id = :c"),
                {"c": cust_id},
            ).one()
            assert sealed[0] == account[:4] + "*" * 11 + account[-4:]
            assert crypto.keys(conn).open(sealed[1]) == account
    finally:
        engine.dispose()
    shown = call("GET", f"/admin-api/revenue/customer/{cust_id}", query="queryType=invoice", token=admin)
    assert shown.data["invoiceInfo"]["bankAccount"] == account[:4] + "*" * 11 + account[-4:], shown.body
    dump = dumped(db)
    assert [v for v in [*mobiles.values(), *ids.values(), account] if v in dump] == []
    assert mask_mobile(mobiles["cust"]) in dump  # what it shows instead


def downgrade(engine: Any, revision: str) -> None:
    """Alembic's downgrade to `revision` in one transaction, rolled back whatever happens."""
    from alembic import command
    from alembic.config import Config

    from waterrev import migrate

    config = Config()
    config.set_main_option("script_location", str(migrate._HERE))
    with engine.connect() as connection:
        config.attributes["connection"] = connection
        try:
            command.downgrade(config, revision)
        finally:
            connection.rollback()


def test_rows_written_in_clear_before_0120_are_sealed_by_it(database_url: str) -> None:
    """Given a database at revision 0091 holding a customer's mobile and ID number, a contact's mobile, an
    SMS message to that mobile, a legacy history row, a transfer's applyData, a SYS-010 result naming the
    mobile, an audit row with a passport number and an invoice profile's bank account, all in clear (and
    the profile's mobile already a mask)
    When it is migrated to 0120, then to head (the key from the same settings as at runtime)
    Then each column keeps only the masked value, its seal opens to the value, its blind index is the
    value's, the mask is left unsealed, the message keeps its idempotency key, no value is left in clear
    anywhere, and neither 0150's nor 0120's downgrade runs while anything is sealed."""
    from waterrev import crypto, migrate
    from waterrev.local import pg

    mobile, contact, id_no, owner, passport = a_mobile(), a_mobile(), an_id_no(), an_id_no(), "E87654321"
    account = "6217" + f"{random.randrange(10**12):012d}"
    url = pg.create_database(database_url, unique("pii").lower())
    engine = create_engine(url)
    try:
        migrate.upgrade("0091", engine=engine)
        with engine.begin() as conn:
            dept = conn.execute(
                text("INSERT INTO system_dept (name, tree_path) VALUES ('d', '/') RETURNING id")
            ).scalar()
            cust = conn.execute(
                text(
                    "INSERT INTO biz_cust (code, name, cust_type, address, dept_id, mobile, id_type, id_no)"
                    " VALUES ('K1', 'k', 'RESIDENT', 'a', :d, :m, 'ID_CARD', :i) RETURNING id"
                ),
                {"d": dept, "m": mobile, "i": id_no},
            ).scalar()
            conn.execute(
                text("INSERT INTO biz_cust_contact (cust_id, name, mobile) VALUES (:c, 'n', :m)"),
                {"c": cust, "m": contact},
            )
            conn.execute(  # a bank account in clear; a mobile that is already a mask
                text(
                    "INSERT INTO biz_cust_invoice (cust_id, invoice_title, mobile, bank_account)"
                    " VALUES (:c, 'k', '137****0000', :a)"
                ),
                {"c": cust, "a": account},
            )
            conn.execute(
                text(
                    "INSERT INTO biz_message (message_biz_no, template_code, receiver, channel, cust_id, source,"
                    " payload) VALUES ('E1', 'T1', :m, 'SMS', :c, 'TEST', '{}')"
                ),
                {"m": mobile, "c": cust},
            )
            imp = conn.execute(
                text(
                    "INSERT INTO biz_hist_import (import_no, object_type, source_system, content_sha256,"
                    " row_count, mapped_count) VALUES ('HI1', 'CONFIG', 'X', repeat('0', 64), 1, 0) RETURNING id"
                )
            ).scalar()
            conn.execute(
                text(
                    "INSERT INTO biz_hist_record (import_id, object_type, line_no, legacy_no, id_no, mobile)"
                    " VALUES (:i, 'CONFIG', 2, 'L1', :n, :m)"
                ),
                {"i": imp, "n": id_no, "m": mobile},
            )
            process = conn.execute(
                text(
                    "INSERT INTO biz_process (code, business_type_code, cust_id, current_node, submit_digest)"
                    " VALUES ('YW1', 'TRANSFER', :c, 'SUBMITTED', repeat('0', 64)) RETURNING id"
                ),
                {"c": cust},
            ).scalar()
            conn.execute(
                text(
                    "INSERT INTO biz_business_datas (process_id, apply_data) VALUES (:p, CAST(:d AS jsonb))"
                ),
                {
                    "p": process,
                    "d": f'{{"newName": "n", "idType": "ID_CARD", "idNo": "{owner}", "mobile": "{contact}"}}',
                },
            )
            conn.execute(
                text(
                    "INSERT INTO biz_message_callback (verified, outcome, raw_body) VALUES (true, 'APPLIED', :b)"
                ),
                {"b": f'{{"eventNo": "E1", "receiver": {{"mobile": "{mobile}"}}}}'},
            )
            conn.execute(
                text(
                    "INSERT INTO biz_operat_log (user_type, module, operation, object_type, object_id, after_data)"
                    " VALUES ('ADMIN', 'REV-002', 'CUSTOMER_CREATE', 'biz_cust', :c, CAST(:a AS jsonb))"
                ),
                {"c": str(cust), "a": f'{{"idType": "PASSPORT", "idNo": "{passport}"}}'},
            )
        with engine.connect() as conn:  # the scan sees them where they are in clear
            assert (
                len(found_in_clear(conn, [mobile, contact, id_no, owner, passport, account])) == 10
            )  # a column each
        migrate.upgrade("0120", engine=engine)
        with pytest.raises(
            RuntimeError, match=r"downgrade of revision 0120 refused: .*biz_cust\.mobile_cipher"
        ):
            downgrade(engine, "0110")
        migrate.upgrade("head", engine=engine)
        with pytest.raises(RuntimeError, match=r"0150 refused: .*biz_cust_invoice\.bank_account_cipher"):
            downgrade(engine, "0120")
        with engine.begin() as conn:
            crypto.forget_keys()
            keys = crypto.keys(conn)
            for table, column, kind, value in (
                ("biz_cust", "mobile", crypto.MOBILE, mobile),
                ("biz_cust", "id_no", crypto.ID_NO, id_no),
                ("biz_cust_contact", "mobile", crypto.MOBILE, contact),
                ("biz_message", "receiver", crypto.MOBILE, mobile),
                ("biz_hist_record", "mobile", crypto.MOBILE, mobile),
                ("biz_hist_record", "id_no", crypto.ID_NO, id_no),
            ):
                masked, sealed, index = conn.execute(
                    text(f"SELECT {column}, {column}_cipher, {column}_index FROM {table}")
                ).one()
                assert masked == crypto.mask(kind, value), (table, column)
                assert keys.open_pii(kind, sealed) == value, (table, column)
                assert index == keys.pii_index(kind, value), (table, column)
            masked, sealed = conn.execute(
                text("SELECT bank_account, bank_account_cipher FROM biz_cust_invoice")
            ).one()
            assert masked == account[:4] + "*" * 8 + account[-4:] and keys.open(sealed) == account
            # a value that was already a mask stays as it is: no mask sealed as if it were the mobile
            assert conn.execute(
                text("SELECT mobile, mobile_cipher, mobile_index FROM biz_cust_invoice")
            ).one() == ("137****0000", None, None)
            # the same message queued again after the migration is still the same message
            again = conn.execute(
                text(
                    "INSERT INTO biz_message (message_biz_no, template_code, receiver, receiver_index, channel,"
                    " source, payload) VALUES ('E1', 'T1', :m, :i, 'SMS', 'TEST', '{}')"
                    " ON CONFLICT ON CONSTRAINT biz_message_key DO NOTHING RETURNING id"
                ),
                {"m": crypto.mask(crypto.MOBILE, mobile), "i": keys.pii_index(crypto.MOBILE, mobile)},
            ).first()
            assert again is None
            data = conn.execute(
                text("SELECT apply_data FROM biz_business_datas WHERE process_id = :p"), {"p": process}
            ).scalar()
            assert crypto.open_fields(keys, data, {"idNo": crypto.ID_NO, "mobile": crypto.MOBILE}) == {
                "newName": "n", "idType": "ID_CARD", "idNo": owner, "mobile": contact,
            }  # fmt: skip
            assert data["idNo"] == crypto.mask(crypto.ID_NO, owner)
            assert found_in_clear(conn, [mobile, contact, id_no, owner, passport, account]) == []
    finally:
        crypto.forget_keys()  # the suite's own database has other keys
        engine.dispose()
