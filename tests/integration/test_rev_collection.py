"""IF-REV-006 缴费处理: counter collection over CASH, WECHAT, ALIPAY, BANK and PREPAY; write-off oldest bill
first when partial payment is allowed, 1_002_003_002 with the difference when it is not, 1_002_003_001 for a
bill already written off; change for cash, overpayment to the balance, PREPAY from the balance; every
collection with its biz_collection row, write-off lines, transaction row and audit."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from tests.support import (
    Reply,
    admin_login,
    audit_rows,
    call,
    charge_row,
    expect_error,
    new_bills,
    set_allow_partial,
    sql_all,
    sql_scalar,
    unique,
)

COLLECT = "/admin-api/revenue/collection/create"


@pytest.fixture(scope="module")
def admin() -> str:
    return admin_login()


@pytest.fixture
def partial_allowed(admin: str) -> Iterator[None]:
    set_allow_partial(admin, True)
    try:
        yield
    finally:
        set_allow_partial(admin, False)


def collect(
    token: str, cust_id: int, charge_ids: list[int], channel: str, amount: Any, **extra: Any
) -> Reply:
    body = {
        "custId": cust_id,
        "chargeIds": charge_ids,
        "paymentChannel": channel,
        "paymentAmount": str(amount),
        **extra,
    }
    return call("POST", COLLECT, body, token=token)


def balance(cust_id: int) -> Decimal:
    return Decimal(
        sql_scalar("SELECT balance FROM biz_account WHERE cust_id = :c ORDER BY id LIMIT 1", {"c": cust_id})
    )


def collections_of(cust_id: int) -> list[dict[str, Any]]:
    return sql_all("SELECT * FROM biz_collection WHERE cust_id = :c ORDER BY id", {"c": cust_id})


@pytest.mark.parametrize("channel", ["CASH", "WECHAT", "ALIPAY", "BANK"])
def test_a_full_payment_writes_the_bill_off(admin: str, channel: str) -> None:
    """Given an unpaid bill, when the counter collects exactly what is due over `channel`, then SUCCESS with
    nothing remaining and an invoice available; the bill is PAID; there is one biz_collection row with its
    write-off line, a transaction row and a WRITE_OFF audit entry."""
    cust, (bill,) = new_bills(admin, ["2020-01"])
    due = Decimal(bill["total_amount"])
    extra = {"tradeNo": unique("TN")} if channel != "CASH" else {}

    reply = collect(admin, cust, [bill["id"]], channel, due, outletCode="GL-01", **extra)

    assert reply.code == 0, reply.body
    data = reply.data
    assert data["writeOffStatus"] == "SUCCESS"
    assert Decimal(data["paidAmount"]) == due and Decimal(data["remainAmount"]) == 0
    assert data["invoiceAvailable"] is True
    assert data["chargeList"] == [{"chargeId": bill["id"], "amount": f"{due:.2f}", "payStatus": "PAID"}]
    after = charge_row(bill["id"])
    assert after["status"] == "PAID" and after["paid_amount"] == due and after["paid_time"] is not None
    (row,) = collections_of(cust)
    assert (row["id"], row["channel"], row["amount"], row["status"]) == (
        data["collectionId"],
        channel,
        due,
        "SUCCESS",
    )
    assert row["outlet_code"] == "GL-01" and row["source"] == "COUNTER"
    items = sql_all(
        "SELECT charge_id, amount FROM biz_collection_item WHERE collection_id = :c", {"c": row["id"]}
    )
    assert items == [{"charge_id": bill["id"], "amount": due}]
    txn = sql_all("SELECT * FROM bk_transaction WHERE biz_order_no = :c", {"c": row["code"]})
    assert len(txn) == 1 and txn[0]["status"] == "SUCCESS" and txn[0]["success_amount"] == due
    assert txn[0]["channel_code"] == channel and txn[0]["trade_no"] == extra.get("tradeNo")
    (audit,) = audit_rows("biz_collection", row["id"], "WRITE_OFF")
    assert audit["user_name"] == "admin" and audit["module"] == "REV-003"
    assert audit["after_data"]["lines"] == [{"chargeId": bill["id"], "amount": f"{due:.2f}"}]


def test_cash_takes_the_tendered_amount_and_returns_change(admin: str) -> None:
    """Given a bill, when the clerk collects it in cash with 100.00 more tendered, then the change is 100.00
    and the collection keeps both amounts."""
    cust, (bill,) = new_bills(admin, ["2020-02"])
    due = Decimal(bill["total_amount"])

    reply = collect(admin, cust, [bill["id"]], "CASH", due, actualAmount=str(due + 100))

    assert reply.code == 0, reply.body
    assert Decimal(reply.data["changeAmount"]) == Decimal("100.00")
    (row,) = collections_of(cust)
    assert row["actual_amount"] == due + 100 and row["change_amount"] == Decimal("100.00")
    assert balance(cust) == 0  # change is handed back, not kept


def test_a_short_amount_is_refused_with_the_difference_when_partial_payment_is_off(admin: str) -> None:
    """Given a bill and partial payment not allowed, when 1.00 less than due is offered, then 1_002_003_002
    with the difference; the bill is unchanged and nothing is collected."""
    cust, (bill,) = new_bills(admin, ["2020-03"])
    due = Decimal(bill["total_amount"])

    reply = collect(admin, cust, [bill["id"]], "CASH", due - 1)

    expect_error(reply, 1_002_003_002)
    assert Decimal(reply.data["difference"]) == Decimal("1.00") and Decimal(reply.data["dueAmount"]) == due
    assert charge_row(bill["id"])["status"] == "UNPAID" and collections_of(cust) == []


def test_a_short_amount_is_written_off_oldest_bill_first_when_partial_payment_is_allowed(
    admin: str, partial_allowed: None
) -> None:
    """Given two bills and partial payment allowed, when the newer bill is named first and the amount covers
    the older one and 1.00 of the newer, then PARTIAL: the older bill PAID, the newer PARTIAL with 1.00 paid,
    and remainAmount what is left of it."""
    cust, (older, newer) = new_bills(admin, ["2020-04", "2020-05"])
    amount = Decimal(older["total_amount"]) + 1

    reply = collect(admin, cust, [newer["id"], older["id"]], "CASH", amount)

    assert reply.code == 0, reply.body
    assert reply.data["writeOffStatus"] == "PARTIAL" and reply.data["invoiceAvailable"] is False
    assert Decimal(reply.data["remainAmount"]) == Decimal(newer["total_amount"]) - 1
    assert charge_row(older["id"])["status"] == "PAID"
    assert (charge_row(newer["id"])["status"], charge_row(newer["id"])["paid_amount"]) == (
        "PARTIAL",
        Decimal("1.00"),
    )
    (row,) = collections_of(cust)
    assert row["status"] == "PARTIAL" and row["written_off"] == amount and row["to_balance"] == 0


def test_an_overpayment_goes_to_the_balance_and_the_same_trade_again_is_the_same_answer(admin: str) -> None:
    """Given a bill, when 5.00 more than due arrives by WeChat with a trade number, then the bill is PAID,
    5.00 goes to the balance with an OVERPAY flow; sending the same trade again answers the same collection
    and changes nothing."""
    cust, (bill,) = new_bills(admin, ["2020-06"])
    due, trade = Decimal(bill["total_amount"]), unique("WX")

    first = collect(admin, cust, [bill["id"]], "WECHAT", due + 5, tradeNo=trade)
    again = collect(admin, cust, [bill["id"]], "WECHAT", due + 5, tradeNo=trade)

    assert first.code == 0 and first.data["writeOffStatus"] == "SUCCESS", first.body
    assert Decimal(first.data["balanceAdded"]) == Decimal("5.00") and balance(cust) == Decimal("5.00")
    flows = sql_all(
        "SELECT f.biz_type, f.change_amount FROM biz_account_flow f JOIN biz_account a ON a.id = f.account_id"
        " WHERE a.cust_id = :c",
        {"c": cust},
    )
    assert flows == [{"biz_type": "OVERPAY", "change_amount": Decimal("5.00")}]
    assert (
        again.code == 0 and again.data["collectionId"] == first.data["collectionId"] and again.data["replay"]
    )
    assert len(collections_of(cust)) == 1 and balance(cust) == Decimal("5.00")


def test_prepay_draws_on_the_balance_and_is_refused_when_the_balance_is_short(admin: str) -> None:
    """Given two bills, the first paid in cash with enough extra to cover the second, when the second is paid
    by PREPAY, then it is PAID, the balance is back to 0 with a PREPAY_USE flow; a PREPAY on a third bill with
    no balance left is 1_002_003_002."""
    cust, (first, second, third) = new_bills(admin, ["2020-07", "2020-08", "2020-09"])
    extra = Decimal(second["total_amount"])
    collect(admin, cust, [first["id"]], "CASH", Decimal(first["total_amount"]) + extra)
    assert balance(cust) == extra

    reply = collect(admin, cust, [second["id"]], "PREPAY", extra)
    short = collect(admin, cust, [third["id"]], "PREPAY", third["total_amount"])

    assert reply.code == 0 and reply.data["writeOffStatus"] == "SUCCESS", reply.body
    assert charge_row(second["id"])["status"] == "PAID" and balance(cust) == 0
    flows = sql_all(
        "SELECT f.biz_type, f.change_amount, f.balance_after FROM biz_account_flow f"
        " JOIN biz_account a ON a.id = f.account_id WHERE a.cust_id = :c ORDER BY f.id",
        {"c": cust},
    )
    assert [(f["biz_type"], f["change_amount"], f["balance_after"]) for f in flows] == [
        ("OVERPAY", extra, extra),
        ("PREPAY_USE", -extra, Decimal("0.00")),
    ]
    expect_error(short, 1_002_003_002)
    assert charge_row(third["id"])["status"] == "UNPAID"


def test_a_bill_already_written_off_is_refused(admin: str) -> None:
    """Given a bill paid at the counter, when it is paid again, then 1_002_003_001 naming the bill as
    SUCCESS; no second collection and the bill's paid amount is unchanged."""
    cust, (bill,) = new_bills(admin, ["2020-10"])
    due = Decimal(bill["total_amount"])
    assert collect(admin, cust, [bill["id"]], "CASH", due).code == 0

    reply = collect(admin, cust, [bill["id"]], "CASH", due)

    expect_error(reply, 1_002_003_001, mentions=bill["code"])
    assert reply.data == [
        {"chargeId": bill["id"], "payStatus": "PAID", "writeOffStatus": "SUCCESS", "liveOrder": None}
    ]
    assert len(collections_of(cust)) == 1 and charge_row(bill["id"])["paid_amount"] == due
