"""Bank agreements (扩展接口表 代扣签约/解约、托收签约/解约、客户状态查询): the account number sealed at rest,
found by its blind index, masked wherever it leaves; one signed agreement per kind; a customer another
dept's clerk may not see answers as one that does not exist."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.support import (
    admin_login,
    audit_rows,
    call,
    expect_error,
    new_admin_user,
    new_customer,
    sql_all,
    sql_scalar,
)

pytestmark = pytest.mark.integration
ACCOUNT = "6222020200009876543"


BASE = "/admin-api/revenue/bank/withholding"
KIND = {"withholding": "WITHHOLDING", "collection": "COLLECTION"}


def sign(token: str, path: str, cust_id: int, account: str = ACCOUNT, **extra: Any) -> Any:
    body = {
        "agreementType": KIND[path],
        "custId": cust_id,
        "bankCode": "ICBC",
        "bankAccount": account,
        "accountName": "签约测试",
        "channelCode": "ICBC",
        **extra,
    }
    return call("POST", f"{BASE}/signing", body, token=token)


@pytest.mark.parametrize(
    ("path", "table"),
    [("withholding", "biz_cust_withholding_rel"), ("collection", "biz_cust_collection_rel")],
)
def test_sign_check_and_terminate_with_the_account_sealed(admin: str, path: str, table: str) -> None:
    """Given a customer
    When an agreement is signed, checked (by customer and by account number) and terminated
    Then every reply shows the account masked; the table holds only the masked number in clear, the sealed
    number and its blind index (a dump shows no account number); the audit rows are masked; signing the
    same account again answers the agreement there is, another account is a conflict until terminated."""
    cust = new_customer(admin)["id"]
    signed = sign(admin, path, cust, mobile="13900001111", requestNo=f"REQ-{path}-{cust}")
    assert signed.code == 0, signed.body
    assert signed.data["signStatus"] == "SIGNED" and signed.data["bankAccount"] == "6222" + "*" * 11 + "6543"
    assert signed.data["mobile"] == "139****1111"
    row = sql_all(f"SELECT * FROM {table} WHERE cust_id = :c", {"c": cust})[0]
    assert row["bank_account"] == "6222" + "*" * 11 + "6543"
    assert ACCOUNT.encode() not in bytes(row["bank_account_cipher"]) and len(row["bank_account_index"]) == 64
    assert ACCOUNT not in json.dumps(
        [r["after_data"] for r in audit_rows(table, row["id"])], ensure_ascii=False
    )

    repeat = sign(admin, path, cust, requestNo=f"REQ-{path}-{cust}")
    assert repeat.code == 0 and repeat.data["duplicate"] is True
    same = sign(admin, path, cust)
    assert same.code == 0 and same.data["duplicate"] is True and same.data["signNo"] == signed.data["signNo"]
    expect_error(sign(admin, path, cust, account="6222020200001111111"), 409)

    by_cust = call(
        "GET", f"{BASE}/customer-check", token=admin, query=f"custId={cust}&agreementType={KIND[path]}"
    )
    assert by_cust.code == 0 and by_cust.data["list"][0]["signStatus"] == "SIGNED"
    by_account = call(
        "GET",
        f"{BASE}/customer-check",
        token=admin,
        query=f"bankAccount={ACCOUNT}&agreementType={KIND[path]}",
    )
    assert cust in [a["custId"] for a in by_account.data["list"]]
    assert ACCOUNT not in json.dumps(by_account.body)

    end = {"custId": cust, "reason": "客户申请", "agreementType": KIND[path]}
    ended = call("POST", f"{BASE}/termination", end, token=admin)
    assert ended.code == 0 and ended.data["signStatus"] == "TERMINATED", ended.body
    again = call("POST", f"{BASE}/termination", end, token=admin)
    assert again.code == 0 and again.data["duplicate"] is True
    assert sign(admin, path, cust, account="6222020200001111111").code == 0  # a new account once terminated


def test_a_customer_of_another_dept_answers_as_one_that_does_not_exist(admin: str) -> None:
    """Given a customer of 台江 and a 鼓楼 clerk (data scope 鼓楼) who may sign and check agreements
    When the clerk signs for it, checks it, and signs for a customer id that does not exist
    Then the first two answer exactly as the last: 1_002_001_001 naming only what was asked."""
    from tests.support import TAIJIANG_DEPT

    clerk = admin_login(
        new_admin_user(permissions=("revenue:bank:agreement", "revenue:bank:query")), "Passw0rd!"
    )
    cust = new_customer(admin, dept_id=TAIJIANG_DEPT)["id"]
    missing = int(sql_scalar("SELECT max(id) FROM biz_cust")) + 1000

    theirs = expect_error(sign(clerk, "withholding", cust), 1_002_001_001)
    nobody = expect_error(sign(clerk, "withholding", missing), 1_002_001_001)
    assert theirs.msg.replace(str(cust), "#") == nobody.msg.replace(str(missing), "#")
    checked = call("GET", f"{BASE}/customer-check", token=clerk, query=f"custId={cust}")
    expect_error(checked, 1_002_001_001)


def test_the_customer_master_seals_its_bank_relations_too(admin: str) -> None:
    """Given IF-REV-002 creating a customer with a withholding relation (the older path)
    When the row is read behind the API
    Then it holds the masked number, the sealed number and its blind index: the agreement check finds it by
    the account number."""
    account = "6228480402564890018"
    cust = new_customer(
        admin, withholdingRel={"bankCode": "ABC", "bankAccount": account, "accountName": "主档户"}
    )["id"]
    row = sql_all("SELECT * FROM biz_cust_withholding_rel WHERE cust_id = :c", {"c": cust})[0]
    assert row["bank_account"] == "6228" + "*" * 11 + "0018" and row["bank_account_cipher"] is not None
    found = call(
        "GET",
        f"{BASE}/customer-check",
        token=admin,
        query=f"bankAccount={account}",
    )
    assert cust in [a["custId"] for a in found.data["list"]]
