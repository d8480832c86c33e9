"""IF-EXT-003: a bank asks what a customer owes and pays it; its serial number makes a repeat
harmless; the amount must match what is due; unsigned or badly signed requests are refused."""

from __future__ import annotations

import json
import secrets
import time
from decimal import Decimal
from typing import Any

import pytest

from tests.support import (
    Reply,
    admin_login,
    call,
    charge_generate,
    charge_of_reading,
    generate,
    metered,
    sql_scalar,
    submit_reading,
    unique,
)
from waterrev.settings import reset_settings
from waterrev.webhook import sign

SECRET = "bank-secret-for-tests"


@pytest.fixture(autouse=True)
def _bank_key(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("WATERREV_WEBHOOK_KEYS", json.dumps({"BANK": {"bank-key-1": SECRET}}))
    reset_settings()
    yield
    monkeypatch.undo()
    reset_settings()


def bank(path: str, body: dict[str, Any], *, secret: str = SECRET) -> Reply:
    raw = json.dumps(body)
    ts, nonce = str(int(time.time())), secrets.token_hex(8)
    headers = {
        "x-waterrev-key-id": "bank-key-1",
        "x-waterrev-timestamp": ts,
        "x-waterrev-nonce": nonce,
        "x-waterrev-signature": sign(secret, ts, nonce, raw),
    }
    return call("POST", path, raw_body=raw.encode(), headers=headers)


def a_customer_owing(period: str, reading: int) -> tuple[str, dict[str, Any]]:
    admin = admin_login()
    meter, book = metered(admin)
    generate(admin, book, period)
    read = submit_reading(admin, meter, period, reading).data
    charge_generate(admin, period, meterReadIds=[read["meterReadId"]])
    charge = charge_of_reading(read["readingId"])
    assert charge is not None
    code = sql_scalar("SELECT code FROM biz_cust WHERE id = :c", {"c": charge["cust_id"]})
    return str(code), charge


def test_a_bank_queries_then_pays_and_a_repeated_serial_changes_nothing() -> None:
    """Given a customer owing one bill, when the bank queries and pays it with a serial number, then
    the bill is written off once; the same serial again answers the first result and writes nothing."""
    cust_code, charge = a_customer_owing("2027-03", 20)
    owed = bank("/open-api/bank/charge/query", {"bankCode": "ICBC", "custCode": cust_code})
    assert owed.code == 0, owed.body
    assert owed.data["arrearsAmount"] == f"{charge['total_amount']:.2f}"
    assert [b["chargeId"] for b in owed.data["billList"]] == [charge["id"]]
    serial = unique("ICBC")

    paid = bank(
        "/open-api/bank/charge/pay",
        {
            "bankCode": "ICBC",
            "bankSerialNo": serial,
            "custCode": cust_code,
            "amount": owed.data["arrearsAmount"],
        },
    )
    again = bank(
        "/open-api/bank/charge/pay",
        {
            "bankCode": "ICBC",
            "bankSerialNo": serial,
            "custCode": cust_code,
            "amount": owed.data["arrearsAmount"],
        },
    )

    assert paid.code == 0 and paid.data["writeOffStatus"] == "SUCCESS" and paid.data["duplicate"] is False
    assert again.code == 0 and again.data["duplicate"] is True
    assert again.data["collectionCode"] == paid.data["collectionCode"]
    assert sql_scalar("SELECT status FROM biz_charge WHERE id = :c", {"c": charge["id"]}) == "PAID"
    assert (
        sql_scalar("SELECT count(*) FROM biz_collection_item WHERE charge_id = :c", {"c": charge["id"]}) == 1
    )
    assert (
        sql_scalar("SELECT channel FROM biz_collection WHERE code = :c", {"c": paid.data["collectionCode"]})
        == "BANK"
    )


def test_an_amount_that_is_not_what_is_due_is_refused_with_the_difference() -> None:
    cust_code, charge = a_customer_owing("2027-04", 20)
    short = Decimal(charge["total_amount"]) - Decimal("1.00")

    reply = bank(
        "/open-api/bank/charge/pay",
        {"bankCode": "ICBC", "bankSerialNo": unique("ICBC"), "custCode": cust_code, "amount": str(short)},
    )

    assert reply.code == 1_002_003_002 and reply.data["difference"] == "1.00"
    assert sql_scalar("SELECT status FROM biz_charge WHERE id = :c", {"c": charge["id"]}) == "UNPAID"


def test_a_badly_signed_request_is_refused_and_writes_nothing() -> None:
    cust_code, charge = a_customer_owing("2027-05", 20)

    reply = bank(
        "/open-api/bank/charge/pay",
        {
            "bankCode": "ICBC",
            "bankSerialNo": unique("ICBC"),
            "custCode": cust_code,
            "amount": str(charge["total_amount"]),
        },
        secret="not-the-bank-secret",
    )

    assert reply.status == 401 and reply.code == 401
    assert sql_scalar("SELECT status FROM biz_charge WHERE id = :c", {"c": charge["id"]}) == "UNPAID"


def test_an_unknown_customer_answers_1_002_001_001() -> None:
    reply = bank("/open-api/bank/charge/query", {"bankCode": "ICBC", "custCode": "NO-SUCH-CUSTOMER"})

    assert reply.code == 1_002_001_001
