"""IF-EXT-003: a bank asks what a customer owes and pays it; its serial number makes a repeat
harmless (also one racing the first) and another payment with it a conflict; the amount must match
what is due; a bill already paid or held by a live online order is refused (1_002_003_001); every
payment keeps a settled bk_transaction row compensation never touches; unsigned or badly signed
requests are refused."""

from __future__ import annotations

import json
import secrets
import time
from decimal import Decimal
from typing import Any

import pytest

from tests.integration.test_rev_collection import (
    first_held_at_commit,
    run_in_thread,
    system,
    wait_until_blocked_on_a_lock,
)
from tests.support import (
    Reply,
    admin_login,
    call,
    charge_generate,
    charge_of_reading,
    charge_row,
    expect_error,
    generate,
    metered,
    new_bills,
    sql_all,
    sql_exec,
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


def test_a_request_whose_body_is_not_utf8_is_400_not_a_crash() -> None:
    """Given a bank request whose bytes are not UTF-8 text, when sent, then 400 naming the body."""
    headers = {
        "x-waterrev-key-id": "bank-key-1",
        "x-waterrev-timestamp": str(int(time.time())),
        "x-waterrev-nonce": secrets.token_hex(8),
        "x-waterrev-signature": "0" * 64,
    }
    reply = call("POST", "/open-api/bank/charge/query", raw_body=b'{"custCode": "\xff"}', headers=headers)
    expect_error(reply, 400)
    assert "UTF-8" in reply.msg


def test_an_unknown_customer_answers_1_002_001_001() -> None:
    reply = bank("/open-api/bank/charge/query", {"bankCode": "ICBC", "custCode": "NO-SUCH-CUSTOMER"})

    assert reply.code == 1_002_001_001


# ---------------------------------------------------------------------------------------------
PAY = "/open-api/bank/charge/pay"
QUERY = "/open-api/bank/charge/query"


def customer_with_bills(periods: list[str]) -> tuple[int, str, list[dict[str, Any]]]:
    cust, bills = new_bills(admin_login(), periods)
    return cust, str(sql_scalar("SELECT code FROM biz_cust WHERE id = :c", {"c": cust})), bills


def pay_body(cust_code: str, amount: Any, serial: str | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "bankCode": "ICBC",
        "bankSerialNo": serial or unique("ICBC"),
        "custCode": cust_code,
        "amount": f"{Decimal(amount):.2f}",
        **extra,
    }


def items_of(charge_id: int) -> int:
    return int(sql_scalar("SELECT count(*) FROM biz_collection_item WHERE charge_id = :c", {"c": charge_id}))


def test_a_bill_already_paid_is_refused_with_1_002_003_001_and_nothing_is_written() -> None:
    """Given a customer whose only bill the bank has paid, when the bank pays that bill again under a new
    serial, then 1_002_003_001 naming the bill as PAID; with no bills named, 1_002_003_001 (nothing owed);
    the bill keeps its one write-off."""
    _, cust_code, (bill,) = customer_with_bills(["2022-01"])
    due = Decimal(bill["total_amount"])
    assert bank(PAY, pay_body(cust_code, due)).code == 0

    named = bank(PAY, pay_body(cust_code, due, chargeIds=[bill["id"]]))
    unnamed = bank(PAY, pay_body(cust_code, due))

    expect_error(named, 1_002_003_001, mentions=bill["code"])
    assert named.data == [
        {"chargeId": bill["id"], "payStatus": "PAID", "writeOffStatus": "SUCCESS", "liveOrder": None}
    ]
    expect_error(unnamed, 1_002_003_001, mentions=cust_code)
    assert items_of(bill["id"]) == 1 and charge_row(bill["id"])["paid_amount"] == due


def test_a_bill_held_by_a_live_online_order_is_neither_offered_nor_paid() -> None:
    """Given a customer with two bills, the older held by a live (PAYING) online order, when the bank
    queries, then only the newer bill is owed; paying the held bill by name is 1_002_003_001 naming the
    order; paying all that is owed pays the newer bill only, and the held bill stays UNPAID in its order."""
    cust, cust_code, (held, free) = customer_with_bills(["2022-02", "2022-03"])
    order_no = f"DD{unique('')}"
    sql_exec(
        "INSERT INTO bk_transaction (biz_order_no, trade_no, cust_id, channel_code, scene, trade_amount, status,"
        " expire_time, request_key, next_query_time) VALUES (:o, :t, :c, 'WECHAT', 'ONLINE', :amt, 'PAYING',"
        " now() + interval '2 hours', :k, now() + interval '1 day')",
        {
            "o": order_no,
            "t": unique("TC"),
            "c": cust,
            "amt": held["total_amount"],
            "k": f"{cust}|{held['id']}|WECHAT|ONLINE",
        },
    )
    sql_exec(
        "INSERT INTO biz_order_charge (biz_order_no, charge_id, amount) VALUES (:o, :c, :a)",
        {"o": order_no, "c": held["id"], "a": held["total_amount"]},
    )

    owed = bank(QUERY, {"bankCode": "ICBC", "custCode": cust_code})
    named = bank(PAY, pay_body(cust_code, held["total_amount"], chargeIds=[held["id"]]))
    everything = bank(PAY, pay_body(cust_code, free["total_amount"]))

    assert owed.code == 0 and [b["chargeId"] for b in owed.data["billList"]] == [free["id"]], owed.body
    assert owed.data["arrearsAmount"] == f"{free['total_amount']:.2f}"
    expect_error(named, 1_002_003_001, mentions=held["code"])
    assert named.data == [
        {"chargeId": held["id"], "payStatus": "UNPAID", "writeOffStatus": "PENDING", "liveOrder": order_no}
    ]
    assert everything.code == 0 and everything.data["writeOffStatus"] == "SUCCESS", everything.body
    assert charge_row(free["id"])["status"] == "PAID"
    assert charge_row(held["id"])["status"] == "UNPAID" and items_of(held["id"]) == 0
    assert sql_scalar("SELECT live FROM biz_order_charge WHERE biz_order_no = :o", {"o": order_no}) is True


def test_a_bank_payment_keeps_a_settled_transaction_that_compensation_leaves_alone(sys009: Any) -> None:
    """Given a bank payment of two bills, then bk_transaction holds it as a settled trade - the collection's
    code, trade number "<bankCode>:<serial>", channel and scene BANK, the amount, SUCCESS - with its bills
    (not live); when compensation runs with the row due, it is not looked up and stays as it was."""
    from waterrev.payments import orders as payments

    cust, cust_code, bills = customer_with_bills(["2022-04", "2022-05"])
    due = sum((Decimal(b["total_amount"]) for b in bills), Decimal("0"))
    serial = unique("ICBC")
    paid = bank(PAY, pay_body(cust_code, due, serial))
    assert paid.code == 0, paid.body
    code = paid.data["collectionCode"]

    (txn,) = sql_all("SELECT * FROM bk_transaction WHERE biz_order_no = :o", {"o": code})
    assert (txn["trade_no"], txn["channel_code"], txn["scene"], txn["status"]) == (
        f"ICBC:{serial}",
        "BANK",
        "BANK",
        "SUCCESS",
    )
    assert txn["cust_id"] == cust and txn["trade_amount"] == txn["success_amount"] == due
    assert txn["paid_time"] is not None and txn["request_key"] == f"BANK|ICBC|{serial}"
    held = sql_all(
        "SELECT charge_id, amount, live FROM biz_order_charge WHERE biz_order_no = :o ORDER BY charge_id",
        {"o": code},
    )
    assert held == [{"charge_id": b["id"], "amount": b["total_amount"], "live": False} for b in bills]
    collected = sql_all("SELECT amount, trade_no, source FROM biz_collection WHERE code = :o", {"o": code})
    assert collected == [{"amount": due, "trade_no": serial, "source": "BANK"}]

    sql_exec(
        "UPDATE bk_transaction SET next_query_time = now() - interval '1 hour' WHERE id = :i",
        {"i": txn["id"]},
    )
    payments.compensate(system())

    (after,) = sql_all("SELECT * FROM bk_transaction WHERE id = :i", {"i": txn["id"]})
    assert after["query_count"] == 0 and after["status"] == "SUCCESS" and after["last_error"] is None
    assert after["update_time"] == txn["update_time"]


def test_the_same_serial_for_another_customer_amount_or_bills_is_a_conflict() -> None:
    """Given a bank payment under a serial, when the same serial comes with another amount, other bills or
    another customer, then 409 CONFLICT naming what differs (for another customer only that), never the first
    result; nothing more is written off."""
    _, cust_code, (bill, other) = customer_with_bills(["2022-06", "2022-07"])
    _, stranger_code, (stranger_bill,) = customer_with_bills(["2022-06"])
    serial = unique("ICBC")
    first = bank(PAY, pay_body(cust_code, bill["total_amount"], serial, chargeIds=[bill["id"]]))
    assert first.code == 0, first.body

    amount = bank(PAY, pay_body(cust_code, Decimal(bill["total_amount"]) + 1, serial))
    bills = bank(PAY, pay_body(cust_code, bill["total_amount"], serial, chargeIds=[other["id"]]))
    stranger = bank(PAY, pay_body(stranger_code, stranger_bill["total_amount"], serial))
    same = bank(PAY, pay_body(cust_code, bill["total_amount"], serial, chargeIds=[bill["id"]]))

    for reply, mismatch in ((amount, ["amount"]), (bills, ["chargeIds"]), (stranger, ["custCode"])):
        expect_error(reply, 409, mentions=serial)
        assert reply.data == {"bankSerialNo": serial, "mismatch": mismatch}
        assert first.data["collectionCode"] not in reply.msg
    assert same.code == 0 and same.data["duplicate"] is True
    assert same.data["collectionCode"] == first.data["collectionCode"]
    assert (
        charge_row(other["id"])["status"] == "UNPAID"
        and charge_row(stranger_bill["id"])["status"] == "UNPAID"
    )


def test_a_bank_retry_that_waited_for_the_first_request_gets_the_first_result(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Given a bank payment written and not yet committed (the account locked), when the bank's retry with
    the same serial waits on that lock, and then the first commits, then the retry answers the first result
    (duplicate) - not 1_002_003_001 - and the bill is written off once."""
    from waterrev.payments import bank_realtime
    from waterrev.payments.commands import BankPay

    _, cust_code, (bill,) = customer_with_bills(["2022-08"])
    serial, due = unique("ICBC"), Decimal(bill["total_amount"])

    def pay() -> dict[str, Any]:
        return bank_realtime.pay(system(), BankPay("ICBC", serial, cust_code, None, due))

    first_waiting, release = first_held_at_commit(monkeypatch)
    first, first_out = run_in_thread("first", pay)
    assert first_waiting.wait(30)
    retry, retry_out = run_in_thread("retry", pay)
    wait_until_blocked_on_a_lock()

    release()
    first.join(30)
    retry.join(30)

    assert "error" not in first_out and "error" not in retry_out, (first_out, retry_out)
    assert first_out["value"]["duplicate"] is False and retry_out["value"]["duplicate"] is True
    assert retry_out["value"]["collectionCode"] == first_out["value"]["collectionCode"]
    assert items_of(bill["id"]) == 1 and charge_row(bill["id"])["paid_amount"] == due
    assert sql_scalar("SELECT count(*) FROM bk_transaction WHERE trade_no = :t", {"t": f"ICBC:{serial}"}) == 1


def test_the_same_serial_for_another_customer_racing_the_first_is_a_conflict_not_an_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Given a bank payment written and not yet committed, when a payment for another customer under the same
    serial runs into the unique index meanwhile, and then the first commits, then the second is 409 CONFLICT
    (never a 500) and its bill is untouched."""
    from waterrev.errors import AppError
    from waterrev.payments import bank_realtime
    from waterrev.payments.commands import BankPay

    _, cust_code, (bill,) = customer_with_bills(["2022-09"])
    _, other_code, (other_bill,) = customer_with_bills(["2022-09"])
    serial = unique("ICBC")

    def pay(code: str, amount: Any) -> Any:
        return lambda: bank_realtime.pay(system(), BankPay("ICBC", serial, code, None, amount))

    first_waiting, release = first_held_at_commit(monkeypatch)
    first, first_out = run_in_thread("first", pay(cust_code, Decimal(bill["total_amount"])))
    assert first_waiting.wait(30)
    second, second_out = run_in_thread("second", pay(other_code, Decimal(other_bill["total_amount"])))
    wait_until_blocked_on_a_lock()

    release()
    first.join(30)
    second.join(30)

    assert "error" not in first_out, first_out
    error = second_out.get("error")
    assert isinstance(error, AppError) and error.error.code == 409, second_out
    assert error.data == {"bankSerialNo": serial, "mismatch": ["custCode"]}
    assert charge_row(bill["id"])["status"] == "PAID" and charge_row(other_bill["id"])["status"] == "UNPAID"
