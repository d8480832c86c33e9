"""IF-REV-001 客户信息查询: dept data permission, query types, and masking in answers and in logs."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator

import pytest

from tests.support import (
    GULOU_DEPT,
    TAIJIANG_DEPT,
    Reply,
    admin_login,
    call,
    customer_id,
    expect_error,
    new_admin_user,
    new_customer,
    sql_scalar,
    unique,
)

BY_CODE = "/admin-api/revenue/customer/get"
PAGE = "/admin-api/revenue/customer/page"
CREATE = "/admin-api/revenue/customer/create"
OWN, OTHER = "KH0000000001", "KH0000000002"  # demo: 鼓楼 (dept 2), 台江 (dept 3)


def by_id(cust_id: int, token: str, query: str = "") -> Reply:
    return call("GET", f"/admin-api/revenue/customer/{cust_id}", token=token, query=query)


# ------------------------------------------------------------------ data permission ----------
def test_clerk_sees_own_dept_customer_by_id_code_and_page() -> None:
    """Given gulou (鼓楼, DEPT_AND_CHILD), when it reads the 鼓楼 demo customer by id, by code and in
    the page search, then it is found each time."""
    token = admin_login("gulou", "gulou123")
    cust = customer_id(OWN)

    got_id = by_id(cust, token)
    got_code = call("GET", BY_CODE, token=token, query=f"code={OWN}")
    page = call("GET", PAGE, token=token, query="mobile=13800138000")

    assert got_id.code == 0 and got_id.data["code"] == OWN and got_id.data["deptName"] == "鼓楼营业所"
    assert got_code.code == 0 and got_code.data["id"] == cust
    assert cust in [c["id"] for c in page.data["list"]]


def test_other_dept_customer_looks_missing_to_the_clerk() -> None:
    """Given gulou, when it reads the 台江 demo customer by id and by code, then 1_002_001_001 exactly as
    for a customer that does not exist, and it is absent from the page search."""
    token = admin_login("gulou", "gulou123")
    cust = customer_id(OTHER)

    hidden_id = by_id(cust, token)
    missing_id = by_id(987_654_321, token)
    hidden_code = call("GET", BY_CODE, token=token, query=f"code={OTHER}")
    page_code = call("GET", PAGE, token=token, query=f"code={OTHER}")
    page_mobile = call("GET", PAGE, token=token, query="mobile=13900139000")

    expect_error(hidden_id, 1_002_001_001)
    expect_error(missing_id, 1_002_001_001)
    assert hidden_id.msg.replace(str(cust), "X") == missing_id.msg.replace("987654321", "X")
    assert hidden_id.data is None
    expect_error(hidden_code, 1_002_001_001)
    assert page_code.code == 0 and page_code.data["total"] == 0 and page_code.data["list"] == []
    assert cust not in [c["id"] for c in page_mobile.data["list"]]


def test_clerk_cannot_create_a_customer_in_another_dept() -> None:
    """Given gulou, when it creates a customer in 台江, then 403 naming deptId and nothing is written."""
    token = admin_login("gulou", "gulou123")
    name = unique("越权客户")

    reply = call(
        "POST",
        CREATE,
        {"name": name, "custType": "RESIDENT", "address": "台江区 1 号", "deptId": TAIJIANG_DEPT},
        token=token,
    )

    expect_error(reply, 403, mentions="deptId")
    assert sql_scalar("SELECT count(*) FROM biz_cust WHERE name = :n", {"n": name}) == 0


def test_admin_with_scope_all_sees_both_depts() -> None:
    """Given admin (ALL), when it reads both demo customers and searches, then both are visible."""
    token = admin_login()

    own = by_id(customer_id(OWN), token)
    other = call("GET", BY_CODE, token=token, query=f"code={OTHER}")
    page = call("GET", PAGE, token=token, query=f"code={OTHER}")

    assert own.code == 0 and other.code == 0 and other.data["deptId"] == TAIJIANG_DEPT
    assert page.data["total"] == 1 and page.data["list"][0]["code"] == OTHER


def test_user_without_create_permission_gets_403_on_create_but_can_query() -> None:
    """Given a user whose role grants only revenue:customer:query, when it creates a customer, then 403
    naming the missing permission; its queries still work."""
    username = new_admin_user(permissions=("revenue:customer:query",))
    token = admin_login(username, "Passw0rd!")
    name = unique("无权客户")

    created = call(
        "POST",
        CREATE,
        {"name": name, "custType": "RESIDENT", "address": "鼓楼区 1 号", "deptId": GULOU_DEPT},
        token=token,
    )
    read = by_id(customer_id(OWN), token)

    expect_error(created, 403, mentions="revenue:customer:create")
    assert sql_scalar("SELECT count(*) FROM biz_cust WHERE name = :n", {"n": name}) == 0
    assert read.code == 0


# --------------------------------------------------------------------------- masking ----------
INVOICE_BANK = "6222021234567890123"
COLLECTION_BANK = "6217001234567890"
WITHHOLDING_BANK = "6228480012345678901"


@pytest.fixture(scope="module")
def sensitive_customer() -> dict:
    """A 鼓楼 customer with every sensitive number: mobile, ID, contacts, invoice mobile, bank accounts."""
    admin = admin_login()
    return new_customer(
        admin,
        mobile="13912348000",
        idNo="350102199001011238",
        contactList=[
            {"name": "联系人甲", "mobile": "13712340001", "isPrimary": True},
            {"name": "联系人乙", "mobile": "15912340002", "relation": "FAMILY"},
        ],
        invoiceInfo={
            "invoiceTitle": "测试抬头",
            "mobile": "18612340003",
            "bankName": "工行",
            "bankAccount": INVOICE_BANK,
        },
        collectionRel={
            "bankCode": "ICBC",
            "bankAccount": COLLECTION_BANK,
            "accountName": "测试客户",
            "agreementNo": "AG001",
        },
        withholdingRel={"bankCode": "ABC", "bankAccount": WITHHOLDING_BANK, "accountName": "测试客户"},
    )


def test_answers_mask_mobile_id_contacts_invoice_mobile_and_bank_accounts(sensitive_customer: dict) -> None:
    """Given a customer with sensitive numbers, when read with queryType=all, then every one of them is
    masked (mobile 3+****+4, ID 6+********+4, bank accounts 4+stars+4) and no raw value appears."""
    reply = by_id(sensitive_customer["id"], admin_login())

    data = reply.data
    assert data["mobile"] == "139****8000"
    assert data["idNo"] == "350102********1238"
    assert [c["mobile"] for c in data["contactList"]] == ["137****0001", "159****0002"]
    assert data["invoiceInfo"]["mobile"] == "186****0003"
    assert data["invoiceInfo"]["bankAccount"] == "6222" + "*" * 11 + "0123"
    assert data["collectionRel"]["bankAccount"] == "6217" + "*" * 8 + "7890"
    assert data["withholdingRel"]["bankAccount"] == "6228" + "*" * 11 + "8901"
    raw = json.dumps(reply.body, ensure_ascii=False)
    for secret in (
        "13912348000",
        "350102199001011238",
        "13712340001",
        "15912340002",
        "18612340003",
        INVOICE_BANK,
        COLLECTION_BANK,
        WITHHOLDING_BANK,
    ):
        assert secret not in raw


def test_page_answers_mask_mobiles(sensitive_customer: dict) -> None:
    """Given the customer, when found by its full mobile in the page search, then the mobile is masked."""
    reply = call(
        "GET", PAGE, token=admin_login(), query=f"mobile=13912348000&code={sensitive_customer['code']}"
    )

    found = [c for c in reply.data["list"] if c["id"] == sensitive_customer["id"]]
    assert found and found[0]["mobile"] == "139****8000"
    assert "13912348000" not in json.dumps(reply.body)


def test_audit_trail_holds_only_masked_numbers(sensitive_customer: dict) -> None:
    """Given the customer's create, when its audit row is read, then the numbers are masked there too."""
    after = sql_scalar(
        "SELECT CAST(after_data AS text) FROM biz_operat_log WHERE object_type = 'biz_cust'"
        " AND object_id = :o AND operation = 'CUSTOMER_CREATE'",
        {"o": str(sensitive_customer["id"])},
    )

    assert after is not None and "139****8000" in after
    for secret in ("13912348000", "350102199001011238", INVOICE_BANK, COLLECTION_BANK, WITHHOLDING_BANK):
        assert secret not in after


@pytest.mark.parametrize(
    ("query_type", "present", "absent"),
    [
        ("base", {"contactList"}, {"accountInfo", "meterList", "invoiceInfo", "collectionRel"}),
        (
            "account",
            {"accountInfo", "accountList", "contactList", "collectionRel", "withholdingRel"},
            {"meterList", "invoiceInfo"},
        ),
        ("meter", {"meterList"}, {"accountInfo", "contactList", "invoiceInfo", "collectionRel"}),
        ("invoice", {"invoiceInfo"}, {"accountInfo", "contactList", "meterList", "collectionRel"}),
        (
            "all",
            {"accountInfo", "contactList", "meterList", "invoiceInfo", "collectionRel", "withholdingRel"},
            set(),
        ),
    ],
)
def test_query_type_selects_the_sections(
    sensitive_customer: dict, query_type: str, present: set[str], absent: set[str]
) -> None:
    """Given the customer, when read with a queryType, then exactly that type's sections appear, always
    with the core fields."""
    reply = by_id(sensitive_customer["id"], admin_login(), query=f"queryType={query_type}")

    assert reply.code == 0, reply.body
    assert present <= set(reply.data)
    assert not absent & set(reply.data)
    assert {"id", "code", "name", "custType", "mobile", "address", "status"} <= set(reply.data)


def test_account_section_has_money_as_two_decimal_strings() -> None:
    """Given the 鼓楼 demo customer with one unpaid bill, when its account is read, then balance and
    arrears are strings with two decimals."""
    reply = by_id(customer_id(OWN), admin_login(), query="queryType=account")

    account = reply.data["accountInfo"]
    assert account["balance"] == "0.00"
    assert isinstance(account["arrearsAmount"], str) and account["arrearsAmount"].split(".")[1].__len__() == 2
    assert float(account["arrearsAmount"]) > 0


def test_unknown_query_type_is_400_naming_query_type() -> None:
    """Given a bad queryType, when a customer is read, then 400 naming queryType."""
    reply = by_id(customer_id(OWN), admin_login(), query="queryType=everything")

    expect_error(reply, 400, mentions="queryType")


# ------------------------------------------------------------------------ log masking ---------
class _CurrentStdout:
    """Whatever sys.stdout is at the moment of writing (as in Lambda, where it is the process stdout)."""

    def write(self, text: str) -> int:
        return sys.stdout.write(text)

    def flush(self) -> None:
        sys.stdout.flush()


@pytest.fixture
def log_output(capfd: pytest.CaptureFixture[str]) -> Iterator[pytest.CaptureFixture[str]]:
    """capfd, with the shared logger writing to the current stdout (its handler keeps the stream it was
    built with, which under pytest is some earlier test's capture)."""
    from waterrev.logs import get_logger

    handler = get_logger().registered_handler
    assert isinstance(handler, logging.StreamHandler)
    previous = handler.stream
    handler.stream = _CurrentStdout()
    yield capfd
    handler.stream = previous


def test_logger_masks_numbers_in_message_and_extra_fields(log_output: pytest.CaptureFixture[str]) -> None:
    """Given the shared logger, when a line carries a raw mobile, ID number and bank account in the
    message and in extra fields, then the output holds only their masked forms."""
    from waterrev.logs import get_logger

    get_logger().info(
        "contact 13800138000 id 350102199001011234 card 6222021234567890123",
        extra={
            "payer_mobile": "13912345678",
            "payer_card": "6217001234567890",
            "nested": {"idNo": "11010519491231002X"},
        },
    )
    out = log_output.readouterr().out

    assert "138****8000" in out and "350102********1234" in out and "6222***********0123" in out
    assert "139****5678" in out and "6217********7890" in out and "110105********002X" in out
    for raw in (
        "13800138000",
        "350102199001011234",
        "6222021234567890123",
        "13912345678",
        "6217001234567890",
        "11010519491231002X",
    ):
        assert raw not in out


def test_unhandled_error_log_is_masked(
    monkeypatch: pytest.MonkeyPatch, log_output: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    """Given a failure deep in a handler whose exception text holds a raw mobile and ID number (as a
    database error quoting its parameters would), when it is answered 500, then the error log line
    (message, exception and trace) holds only the masked numbers, and no other logger (the resolver's
    own) records the raw exception either."""
    from waterrev.customers import master as customers

    def broken(*_: object, **__: object) -> None:
        raise RuntimeError("insert failed for mobile 13800138000, idNo 350102199001011234")

    import tests.support

    token = admin_login()
    monkeypatch.setattr(customers, "get_customer", broken)
    # A 500 is the one answer no operation documents: it is what an undeclared failure looks like.
    monkeypatch.setattr(tests.support, "check_documented", lambda *_: None)
    log_output.readouterr()
    reply = call("GET", BY_CODE, token=token, query="code=KH0000000001")
    out = log_output.readouterr().out

    expect_error(reply, 500)
    assert "13800138000" not in reply.msg
    assert "unhandled error" in out and "RuntimeError" in out and "138****8000" in out
    assert "13800138000" not in out and "350102199001011234" not in out
    assert "13800138000" not in caplog.text and "350102199001011234" not in caplog.text
