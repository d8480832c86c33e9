"""IF-REV-006 缴费处理: counter collection over CASH, WECHAT, ALIPAY, BANK and PREPAY; write-off oldest bill
first when partial payment is allowed, 1_002_003_002 with the difference when it is not, 1_002_003_001 for a
bill already written off; change for cash, overpayment to the balance, PREPAY from the balance; every
collection with its biz_collection row, write-off lines, transaction row and audit; remainAmount and
chargeList cover every chosen bill; a tradeNo answers its first collection only to the same request in
scope, also when the repeat raced the first."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import pytest

from tests.support import (
    TAIJIANG_DEPT,
    Reply,
    admin_login,
    audit_rows,
    call,
    charge_row,
    expect_error,
    new_admin_user,
    new_bills,
    new_customer,
    set_allow_partial,
    sql_all,
    sql_exec,
    sql_scalar,
    unique,
)

COLLECT = "/admin-api/revenue/collection/create"


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
    assert data["chargeList"] == [
        {
            "chargeId": bill["id"],
            "amount": f"{due:.2f}",
            "penaltyAmount": "0.00",
            "remainAmount": "0.00",
            "payStatus": "PAID",
        }
    ]
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
    assert audit["after_data"]["lines"] == [
        {"chargeId": bill["id"], "amount": f"{due:.2f}", "penalty": "0.00"}
    ]


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


def test_remain_and_charge_list_cover_a_chosen_bill_the_money_did_not_reach(
    admin: str, partial_allowed: None
) -> None:
    """Given two bills and partial payment allowed, when 1.00 is paid on both (so only the older bill gets a
    write-off line), then remainAmount is everything still owed on both bills and chargeList names both: the
    older PARTIAL with 1.00, the newer UNPAID with 0.00; the same trade again answers exactly the same."""
    cust, (older, newer) = new_bills(admin, ["2021-01", "2021-02"])
    owed = Decimal(older["total_amount"]) + Decimal(newer["total_amount"])
    trade = unique("WX")

    reply = collect(admin, cust, [older["id"], newer["id"]], "WECHAT", "1.00", tradeNo=trade)
    again = collect(admin, cust, [newer["id"], older["id"]], "WECHAT", "1.00", tradeNo=trade)

    assert reply.code == 0 and reply.data["writeOffStatus"] == "PARTIAL", reply.body
    assert Decimal(reply.data["remainAmount"]) == owed - 1
    assert reply.data["chargeList"] == [
        {
            "chargeId": older["id"],
            "amount": "1.00",
            "penaltyAmount": "0.00",
            "remainAmount": f"{Decimal(older['total_amount']) - 1:.2f}",
            "payStatus": "PARTIAL",
        },
        {
            "chargeId": newer["id"],
            "amount": "0.00",
            "penaltyAmount": "0.00",
            "remainAmount": f"{Decimal(newer['total_amount']):.2f}",
            "payStatus": "UNPAID",
        },
    ]
    assert again.code == 0 and again.data["replay"] is True, again.body
    assert {k: v for k, v in again.data.items() if k != "replay"} == {
        k: v for k, v in reply.data.items() if k != "replay"
    }
    assert len(collections_of(cust)) == 1


def test_a_trade_of_another_department_is_not_shown_and_another_request_with_it_is_a_conflict(
    admin: str,
) -> None:
    """Given a collection with a tradeNo for a 鼓楼 customer, when a 台江 operator sends that tradeNo with
    the 鼓楼 customer, then 1_002_001_001 (out of scope) and nothing of the collection; when he sends it
    with his own customer, then 409 CONFLICT naming only custId; nothing is collected either time."""
    cust, (bill,) = new_bills(admin, ["2021-03"])
    due, trade = Decimal(bill["total_amount"]), unique("WX")
    first = collect(admin, cust, [bill["id"]], "WECHAT", due, tradeNo=trade)
    assert first.code == 0, first.body
    taijiang = admin_login(new_admin_user("Passw0rd!", dept_id=TAIJIANG_DEPT), "Passw0rd!")
    own = int(new_customer(admin, dept_id=TAIJIANG_DEPT)["id"])

    hidden = collect(taijiang, cust, [bill["id"]], "WECHAT", due, tradeNo=trade)
    other = collect(taijiang, own, [bill["id"]], "WECHAT", due, tradeNo=trade)

    expect_error(hidden, 1_002_001_001)
    assert hidden.data is None and first.data["collectionCode"] not in hidden.msg
    expect_error(other, 409, mentions=trade)
    assert other.data == {"tradeNo": trade, "mismatch": ["custId"]}
    assert first.data["collectionCode"] not in other.msg
    assert len(collections_of(cust)) == 1 and collections_of(own) == []


@pytest.mark.parametrize(
    ("change", "mismatch"),
    [
        ({"bills": "both"}, ["chargeIds"]),
        ({"amount": "+1"}, ["paymentAmount"]),
        ({"channel": "ALIPAY"}, ["paymentChannel"]),
    ],
)
def test_the_same_trade_with_other_bills_amount_or_channel_is_a_conflict(
    admin: str, change: dict[str, str], mismatch: list[str]
) -> None:
    """Given a bill collected with a tradeNo, when the same tradeNo comes with other bills, another amount or
    another channel, then 409 CONFLICT naming what differs, not the earlier collection; nothing is written."""
    cust, (bill, other) = new_bills(admin, ["2021-04", "2021-05"])
    due, trade = Decimal(bill["total_amount"]), unique("WX")
    assert collect(admin, cust, [bill["id"]], "WECHAT", due, tradeNo=trade).code == 0
    bills = [bill["id"], other["id"]] if change.get("bills") else [bill["id"]]
    amount = due + 1 if change.get("amount") else due

    reply = collect(admin, cust, bills, change.get("channel", "WECHAT"), amount, tradeNo=trade)

    expect_error(reply, 409, mentions=trade)
    assert reply.data == {"tradeNo": trade, "mismatch": mismatch}
    assert len(collections_of(cust)) == 1 and charge_row(other["id"])["status"] == "UNPAID"


# ------------------------------------------------------------------------- concurrent repeats --
def first_held_at_commit(monkeypatch: pytest.MonkeyPatch) -> tuple[threading.Event, Callable[[], None]]:
    """Make the unit of work of the thread named "first" wait at its commit (all its writes done, its
    locks held) until released; returns (it is waiting, release)."""
    from waterrev.db import UnitOfWork

    real_commit, waiting, go = UnitOfWork.commit, threading.Event(), threading.Event()

    def commit(self: UnitOfWork) -> None:
        if threading.current_thread().name == "first":
            waiting.set()
            assert go.wait(30), "never released"
        real_commit(self)

    monkeypatch.setattr(UnitOfWork, "commit", commit)
    return waiting, go.set


def run_in_thread(name: str, fn: Callable[[], Any]) -> tuple[threading.Thread, dict[str, Any]]:
    out: dict[str, Any] = {}

    def target() -> None:
        try:
            out["value"] = fn()
        except Exception as exc:  # the test asserts on what came out, errors included
            out["error"] = exc

    thread = threading.Thread(target=target, name=name, daemon=True)
    thread.start()
    return thread, out


def wait_until_blocked_on_a_lock(count: int = 1) -> None:
    from tests.support import wait_for

    wait_for(
        lambda: (
            sql_scalar(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
            >= count
        ),
        what=f"{count} session(s) waiting on a lock",
    )


def counter_cmd(cust: int, bills: list[dict[str, Any]], amount: Any, trade: str) -> Any:
    from waterrev.payments.models.collection import CollectionCreate

    return CollectionCreate.model_validate(
        {
            "custId": cust,
            "chargeIds": [b["id"] for b in bills],
            "paymentChannel": "WECHAT",
            "paymentAmount": str(amount),
            "tradeNo": trade,
        }
    ).command()


def system() -> Any:
    from waterrev.context import SYSTEM, RequestContext

    return RequestContext(request_id=unique("race-"), principal=SYSTEM)


def test_a_repeat_that_waited_for_the_first_request_gets_its_answer(
    admin: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Given a collection with a tradeNo written and not yet committed (its account locked), when the same
    request arrives and waits on that lock, and then the first commits, then the repeat answers the first
    collection (replay) - not 1_002_003_001 - and the bill is written off once."""
    from waterrev.payments import collection

    cust, (bill,) = new_bills(admin, ["2021-06"])
    due, trade = Decimal(bill["total_amount"]), unique("WX")
    first_waiting, release = first_held_at_commit(monkeypatch)
    first, first_out = run_in_thread(
        "first", lambda: collection.collect(system(), counter_cmd(cust, [bill], due, trade))
    )
    assert first_waiting.wait(30)
    repeat, repeat_out = run_in_thread(
        "repeat", lambda: collection.collect(system(), counter_cmd(cust, [bill], due, trade))
    )
    wait_until_blocked_on_a_lock()

    release()
    first.join(30)
    repeat.join(30)

    assert "error" not in first_out and "error" not in repeat_out, (first_out, repeat_out)
    assert first_out["value"]["replay"] is False and repeat_out["value"]["replay"] is True
    assert repeat_out["value"]["collectionId"] == first_out["value"]["collectionId"]
    assert len(collections_of(cust)) == 1 and charge_row(bill["id"])["paid_amount"] == due
    assert sql_scalar("SELECT count(*) FROM biz_collection_item WHERE charge_id = :c", {"c": bill["id"]}) == 1


def test_the_same_trade_for_another_customer_racing_the_first_is_a_conflict_not_an_error(
    admin: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Given a collection with a tradeNo written and not yet committed, when another customer's collection
    with the same tradeNo runs into the unique index meanwhile, and then the first commits, then the second
    is 409 CONFLICT (never a 500), and only the first customer's bill is written off."""
    from waterrev.errors import AppError
    from waterrev.payments import collection

    cust, (bill,) = new_bills(admin, ["2021-07"])
    other_cust, (other_bill,) = new_bills(admin, ["2021-07"])
    trade = unique("WX")
    first_waiting, release = first_held_at_commit(monkeypatch)
    first, first_out = run_in_thread(
        "first", lambda: collection.collect(system(), counter_cmd(cust, [bill], bill["total_amount"], trade))
    )
    assert first_waiting.wait(30)
    second, second_out = run_in_thread(
        "second",
        lambda: collection.collect(
            system(), counter_cmd(other_cust, [other_bill], other_bill["total_amount"], trade)
        ),
    )
    wait_until_blocked_on_a_lock()

    release()
    first.join(30)
    second.join(30)

    assert "error" not in first_out, first_out
    error = second_out.get("error")
    assert isinstance(error, AppError) and error.error.code == 409, second_out
    assert error.data == {"tradeNo": trade, "mismatch": ["custId"]}
    assert charge_row(bill["id"])["status"] == "PAID" and charge_row(other_bill["id"])["status"] == "UNPAID"
    assert collections_of(other_cust) == []


def test_a_trade_number_another_channel_trade_already_has_is_a_conflict(admin: str) -> None:
    """Given an online order whose platform trade number is T, when the counter confirms a WeChat payment
    with tradeNo T, then 409 CONFLICT (never a 500) and nothing is written off."""
    cust, (bill,) = new_bills(admin, ["2021-08"])
    trade = unique("WX")
    sql_exec(
        "INSERT INTO bk_transaction (biz_order_no, trade_no, cust_id, channel_code, scene, trade_amount, status,"
        " expire_time, request_key, next_query_time) VALUES (:o, :t, :c, 'WECHAT', 'ONLINE', 1, 'FAIL',"
        " now(), :k, now() + interval '1 day')",
        {"o": f"DD{unique('')}", "t": trade, "c": cust, "k": unique("k")},
    )

    reply = collect(admin, cust, [bill["id"]], "WECHAT", bill["total_amount"], tradeNo=trade)

    expect_error(reply, 409, mentions=trade)
    assert reply.data == {"tradeNo": trade, "mismatch": ["tradeNo"]}
    assert collections_of(cust) == [] and charge_row(bill["id"])["status"] == "UNPAID"
