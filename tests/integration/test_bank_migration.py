"""Migration 0050 on a database that already holds bank agreements in clear (IF-REV-002 wrote them before):
after it, the table keeps only the masked number, the sealed number opens to the original, and the blind
index finds it."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text

from tests.support import unique

pytestmark = pytest.mark.integration


def test_agreements_written_before_0050_are_sealed_by_it(database_url: str) -> None:
    """Given a database at revision 0040 with a withholding and a collection agreement holding their account
    numbers in clear
    When it is migrated to head (a key file configured, as in the tests and `make run`)
    Then a data key exists (wrapped), each row's bank_account is masked, its seal opens to the number and its
    blind index is the number's."""
    from waterrev import crypto, migrate
    from waterrev.local import pg

    url = pg.create_database(database_url, unique("seal").lower())
    engine = create_engine(url)
    try:
        migrate.upgrade("0040", engine=engine)
        with engine.begin() as conn:
            dept = conn.execute(
                text("INSERT INTO system_dept (name, tree_path) VALUES ('d', '/') RETURNING id")
            ).scalar()
            cust = conn.execute(
                text(
                    "INSERT INTO biz_cust (code, name, cust_type, address, dept_id) VALUES ('K1', 'k', 'RESIDENT', 'a', :d)"
                    " RETURNING id"
                ),
                {"d": dept},
            ).scalar()
            for table in ("biz_cust_withholding_rel", "biz_cust_collection_rel"):
                conn.execute(
                    text(
                        f"INSERT INTO {table} (cust_id, bank_code, bank_account, account_name) VALUES (:c, 'ICBC', :a, 'k')"
                    ),
                    {"c": cust, "a": "6222020200001234567"},
                )
        migrate.upgrade("head", engine=engine)
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM bk_data_key")).scalar() == 1
            crypto.forget_keys()
            keys = crypto.keys(conn)
            for table in ("biz_cust_withholding_rel", "biz_cust_collection_rel"):
                masked, sealed, index = conn.execute(
                    text(f"SELECT bank_account, bank_account_cipher, bank_account_index FROM {table}")
                ).one()
                assert masked == "6222" + "*" * 11 + "4567"
                assert keys.open(sealed) == "6222020200001234567"
                assert index == keys.index("6222020200001234567")
    finally:
        crypto.forget_keys()  # the suite's own database has other keys
        engine.dispose()
