"""Online orders when things go wrong between us and SYS-009: a create that timed out is sent again when
the customer asks again, compensation learns a trade it never heard of, two identical requests at the
same moment get the one order, compensation backs off 1, 2, 4 ... 60 minutes, and an order held for
review (amount mismatch) is no longer queried."""

from __future__ import annotations

import datetime as dt
import threading
from decimal import Decimal
from typing import Any

import pytest

from tests.integration.test_pay_orders import (
    ORDER,
    bound_member,
    ctx,
    make_due,
    order_body,
    txn,
)
from tests.support import call, charge_row, new_bills, sql_scalar


@pytest.fixture
def one_connection(monkeypatch: pytest.MonkeyPatch) -> Any:
    """The pool a Lambda has: one connection, no overflow. A request that opens a second unit of work
    while its first is still open waits for itself (and fails after the pool's timeout)."""
    from waterrev import db
    from waterrev.settings import reset_settings

    monkeypatch.setenv("WATERREV_DB_POOL_SIZE", "1")
    reset_settings()
    db.dispose_engine()
    yield
    monkeypatch.undo()
    reset_settings()
    db.dispose_engine()


def test_a_create_that_timed_out_is_sent_again_when_the_customer_asks_again(
    admin: str, sys009: Any, impatient_client: Any, one_connection: None
) -> None:
    """Given SYS-009 answering a create too late (the order INIT here, made there), when the customer sends
    the same request again, then the same order comes back PAYING with the platform's trade and pay URL:
    one order here and one trade there, not a bill held for two hours by an order nobody can pay. With
    one pooled connection, as in Lambda; the order's status reads the same."""
    sys009.behaviour(timeoutSeconds=1, dropNotifications=True)
    cust, (bill,) = new_bills(admin, ["2021-03"])
    member = bound_member(cust)
    first = call("POST", ORDER, order_body(cust, [bill]), token=member)
    sys009.behaviour(timeoutSeconds=0)
    assert first.code == 0 and (first.data["orderStatus"], first.data["tradeNo"]) == ("INIT", None), (
        first.body
    )
    trade = impatient_client.query_by_business_order(first.data["bizOrderNo"])["tradeNo"]

    again = call("POST", ORDER, order_body(cust, [bill]), token=member)

    assert again.code == 0, again.body
    assert again.data["bizOrderNo"] == first.data["bizOrderNo"]
    assert (again.data["orderStatus"], again.data["tradeNo"]) == ("PAYING", trade)
    assert again.data["payUrl"].endswith(f"/pay/{trade}")
    assert sql_scalar("SELECT count(*) FROM bk_transaction WHERE cust_id = :c", {"c": cust}) == 1
    status = call("GET", f"{ORDER}/{first.data['bizOrderNo']}", token=member)
    assert status.code == 0 and status.data["orderStatus"] == "PAYING", status.body
    sys009.pay(trade)
    assert sys009.wait_idle(10)
    make_due(first.data["bizOrderNo"])
    from waterrev.payments import orders as payments

    payments.compensate(ctx())
    assert txn(first.data["bizOrderNo"])["status"] == "SUCCESS" and charge_row(bill["id"])["status"] == "PAID"


def test_compensation_learns_a_trade_whose_create_answer_was_lost(
    admin: str, sys009: Any, impatient_client: Any
) -> None:
    """Given an INIT order whose create answer never arrived, when compensation queries it and the platform
    has it PAYING, then the order records the trade number and PAYING (and backs off); the customer asking
    again then gets the pay URL."""
    from waterrev.payments import orders as payments

    sys009.behaviour(timeoutSeconds=1, dropNotifications=True)
    cust, (bill,) = new_bills(admin, ["2021-04"])
    member = bound_member(cust)
    first = call("POST", ORDER, order_body(cust, [bill]), token=member)
    sys009.behaviour(timeoutSeconds=0)
    order_no = first.data["bizOrderNo"]
    trade = impatient_client.query_by_business_order(order_no)["tradeNo"]
    make_due(order_no)

    payments.compensate(ctx())

    row = txn(order_no)
    assert (row["status"], row["trade_no"], row["pay_url"]) == ("PAYING", trade, None)
    assert row["query_count"] == 1 and row["next_query_time"] > dt.datetime.now(dt.UTC)
    again = call("POST", ORDER, order_body(cust, [bill]), token=member)
    assert again.code == 0 and again.data["tradeNo"] == trade and again.data["payUrl"], again.body


def test_two_identical_requests_at_once_get_the_one_order(admin: str, sys009: Any) -> None:
    """Given a customer's bill, when the same order request arrives twice at the same moment (the second
    waiting on the account lock the first holds), then both get the same order: no 1_002_003_001."""
    sys009.behaviour(dropNotifications=True)
    cust, (bill,) = new_bills(admin, ["2021-05"])
    account = sql_scalar("SELECT id FROM biz_account WHERE cust_id = :c ORDER BY id LIMIT 1", {"c": cust})
    replies: list[Any] = []

    from sqlalchemy import create_engine, text
    from sqlalchemy.pool import NullPool

    from waterrev import db

    blocker = create_engine(db.database_url(), poolclass=NullPool).connect()
    blocker.execute(text("SELECT 1 FROM biz_account WHERE id = :a FOR UPDATE"), {"a": account})
    from waterrev.payments import orders as payments

    def order() -> None:  # the service itself: each Lambda environment runs one request at a time
        try:
            replies.append(
                payments.create_order(
                    ctx(),
                    cust_id=cust,
                    charge_ids=[bill["id"]],
                    channel="WECHAT",
                    amount=Decimal(bill["total_amount"]),
                    scene="ONLINE",
                )
            )
        except Exception as exc:  # the assertion below shows it
            replies.append(exc)

    threads = [threading.Thread(target=order) for _ in range(2)]
    for t in threads:
        t.start()
    waiting = 0
    for _ in range(200):  # both are queued behind the lock before it is let go
        waiting = int(
            sql_scalar(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%biz_account%'"
            )
        )
        if waiting >= 2:
            break
        threading.Event().wait(0.05)
    blocker.rollback()
    blocker.close()
    for t in threads:
        t.join(30)

    assert waiting >= 2
    assert all(isinstance(r, dict) for r in replies) and len(replies) == 2, replies
    assert replies[0]["bizOrderNo"] == replies[1]["bizOrderNo"]
    assert {r["orderStatus"] for r in replies} <= {"INIT", "PAYING"}
    assert sql_scalar("SELECT count(*) FROM bk_transaction WHERE cust_id = :c", {"c": cust}) == 1


def test_compensation_backs_off_one_two_four_up_to_sixty_minutes(admin: str, sys009: Any) -> None:
    """Given a live order the platform still has PAYING, when compensation queries it again and again, then
    the next query waits 1, 2, 4, 8, 16, 32, 60, 60 minutes."""
    from waterrev.payments import orders as payments

    sys009.behaviour(dropNotifications=True)
    cust, (bill,) = new_bills(admin, ["2021-06"])
    order = call("POST", ORDER, order_body(cust, [bill]), token=bound_member(cust))
    assert order.code == 0, order.body
    order_no = order.data["bizOrderNo"]

    waits = []
    for _ in range(8):
        make_due(order_no)
        payments.compensate(ctx())
        waits.append(
            round(
                float(
                    sql_scalar(
                        "SELECT EXTRACT(EPOCH FROM next_query_time - now()) / 60 FROM bk_transaction"
                        " WHERE biz_order_no = :o",
                        {"o": order_no},
                    )
                )
            )
        )

    assert waits == [1, 2, 4, 8, 16, 32, 60, 60]
    assert txn(order_no)["status"] == "PAYING"


def test_an_order_held_for_an_amount_mismatch_is_not_queried_again(
    admin: str, sys009: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Given an order the platform reports paid with another amount (no callback reaches us), when
    compensation settles it, then one AMOUNT_MISMATCH exception, the order held (bills still held, nothing
    written off, an ORDER_HOLD audit row), later runs neither query it nor add exceptions, and the same
    order request is refused with 1_002_003_001 (before and after the order's expiry), never re-used."""
    from waterrev.payments import orders as payments

    sys009.behaviour(dropNotifications=True, wrongAmount="-0.50")
    cust, (bill,) = new_bills(admin, ["2021-07"])
    order = call("POST", ORDER, order_body(cust, [bill]), token=bound_member(cust))
    assert order.code == 0, order.body
    order_no, trade = order.data["bizOrderNo"], order.data["tradeNo"]
    sys009.pay(trade)
    sys009.behaviour(wrongAmount=None)
    platform = payments._platform()
    queried: list[str] = []

    class Spy:
        def __getattr__(self, name: str) -> Any:
            return getattr(platform, name)

        def query_order(self, trade_no: str) -> Any:
            queried.append(trade_no)
            return platform.query_order(trade_no)

    monkeypatch.setattr(payments, "_platform", Spy)

    for _ in range(3):
        make_due(order_no)
        payments.compensate(ctx())

    assert queried.count(trade) == 1
    row = txn(order_no)
    assert (row["status"], row["hold_reason"]) == ("PAYING", "AMOUNT_MISMATCH")
    kinds = sql_scalar(
        "SELECT array_agg(exception_type) FROM bk_transaction_exception WHERE biz_order_no = :o",
        {"o": order_no},
    )
    assert kinds == ["AMOUNT_MISMATCH"]
    assert charge_row(bill["id"])["status"] == "UNPAID"
    assert sql_scalar(
        "SELECT bool_and(live) FROM biz_order_charge WHERE biz_order_no = :o", {"o": order_no}
    )  # the money arrived: its bills stay with the order until a person decides
    audit = sql_scalar(
        "SELECT count(*) FROM biz_operat_log WHERE operation = 'ORDER_HOLD' AND object_id = :i",
        {"i": str(row["id"])},
    )
    assert audit == 1
    # the customer asking again for the same bills is told they wait for review, also once expired
    member = bound_member(cust)
    again = call("POST", ORDER, order_body(cust, [bill]), token=member)
    make_due(order_no, expired=True)
    expired = call("POST", ORDER, order_body(cust, [bill]), token=member)
    for reply in (again, expired):
        assert reply.code == 1_002_003_001 and "人工复核" in reply.msg, reply.body
        assert reply.data["bizOrderNo"] == order_no
    assert sql_scalar("SELECT count(*) FROM bk_transaction WHERE cust_id = :c", {"c": cust}) == 1
