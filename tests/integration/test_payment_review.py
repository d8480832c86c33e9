"""IF-REV-006 payment exception review (人工复核入口与操作日志): the exceptions the settlement raised, listed
within the user's data scope, and a person's decision on each - WRITE_OFF_PAID or REFUND for an amount
mismatch, KEEP_BALANCE or REFUND for money on bills paid elsewhere, DISMISS for the rest. Exceptions are
made through the real paths (signed SYS-009 notifications, counter collection); every decision is checked
on the books, which must balance, and in the audit log."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from tests.support import (
    GULOU_DEPT,
    TAIJIANG_DEPT,
    Reply,
    admin_login,
    audit_rows,
    bind,
    call,
    channel_login,
    charge_row,
    expect_error,
    new_admin_user,
    new_bills,
    notify_payload,
    set_allow_partial,
    signed_notification,
    sql_all,
    sql_exec,
    sql_scalar,
    unique,
)

PAGE = "/admin-api/revenue/collection/exception/page"
RESOLVE = "/admin-api/revenue/collection/exception/resolve"
NOTIFY = "/open-api/pay/notify"
PERMISSION = "revenue:collection:exception"


@pytest.fixture
def platform(sys009: Any) -> Any:
    """SYS-009 that sends nothing by itself: the tests post the notifications."""
    sys009.behaviour(dropNotifications=True)
    return sys009


@pytest.fixture
def partial_allowed(admin: str) -> Iterator[None]:
    set_allow_partial(admin, True)
    try:
        yield
    finally:
        set_allow_partial(admin, False)


# ---------------------------------------------------------------------------------- helpers --
def online_order(
    token: str, periods: list[str], ordered: int | None = None
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(order, bills): a new customer's bills (one per period, oldest first), the first `ordered` of them
    (all by default) ordered online together by its bound WeChat user."""
    cust, all_bills = new_bills(token, periods)
    bills = all_bills[: ordered or len(all_bills)]
    openid = unique("wx-review-")
    member = channel_login(openid)
    assert bind(member, openid, cust).code == 0
    total = sum((Decimal(b["total_amount"]) for b in bills), Decimal("0.00"))
    body = {
        "custId": cust,
        "chargeIds": [b["id"] for b in bills],
        "paymentChannel": "WECHAT",
        "paymentAmount": str(total),
    }
    reply = call("POST", "/app-api/customer/payment/order", body, token=member)
    assert reply.code == 0 and reply.data["orderStatus"] == "PAYING", reply.body
    return reply.data, all_bills


def notify(sim: Any, order: dict[str, Any], status: str, amount: Any, **kw: Any) -> Reply:
    payload = notify_payload(
        order["tradeNo"], order["bizOrderNo"], status, amount, notify_time=kw.pop("at", None)
    )
    headers, raw = signed_notification(str(sim._keys[-1].private_pem), payload, **kw)
    return call("POST", NOTIFY, raw_body=raw, headers=headers)


def exception_of(order_no: str, kind: str) -> dict[str, Any]:
    (row,) = sql_all(
        "SELECT * FROM bk_transaction_exception WHERE biz_order_no = :o AND exception_type = :k",
        {"o": order_no, "k": kind},
    )
    return row


def mismatch(
    token: str, sim: Any, periods: list[str], paid: Any = None, delta: str = "-1.00"
) -> tuple[dict[str, Any], list[dict[str, Any]], int, Decimal]:
    """An order paid with another amount than its own (AMOUNT_MISMATCH): (order, bills, exception id, paid)."""
    order, bills = online_order(token, periods)
    amount = Decimal(order["paymentAmount"]) + Decimal(delta) if paid is None else paid
    reply = notify(sim, order, "SUCCESS", amount)
    assert reply.code == 0 and reply.data["writeBackStatus"] == "EXCEPTION", reply.body
    row = exception_of(order["bizOrderNo"], "AMOUNT_MISMATCH")
    assert txn(order["bizOrderNo"])["hold_reason"] == "AMOUNT_MISMATCH"
    return order, bills, int(row["id"]), amount if isinstance(amount, Decimal) else Decimal(str(amount))


def paid_elsewhere(
    token: str, sim: Any, periods: list[str], ordered: int | None = None
) -> tuple[dict[str, Any], list[dict[str, Any]], int]:
    """An order that failed, its first bill then paid at the counter, and a SUCCESS for the order after all:
    the money for that bill goes to the balance with a PAID_ELSEWHERE exception. (order, bills, exception id)."""
    order, bills = online_order(token, periods, ordered)
    first = bills[0]
    assert notify(sim, order, "FAIL", order["paymentAmount"], at="2026-01-01T10:00:00+08:00").code == 0
    counter = call(
        "POST",
        "/admin-api/revenue/collection/create",
        {
            "custId": first["cust_id"],
            "chargeIds": [first["id"]],
            "paymentChannel": "CASH",
            "paymentAmount": str(first["total_amount"]),
        },
        token=token,
    )
    assert counter.code == 0, counter.body
    reply = notify(sim, order, "SUCCESS", order["paymentAmount"], at="2026-01-01T10:01:00+08:00")
    assert reply.code == 0 and reply.data["writeBackStatus"] == "SUCCESS", reply.body
    return order, bills, int(exception_of(order["bizOrderNo"], "PAID_ELSEWHERE")["id"])


def signature_invalid(sim: Any, order: dict[str, Any]) -> int:
    """A notification signed under an unknown serial: rejected, a SIGNATURE_INVALID exception (no order)."""
    mark = int(sql_scalar("SELECT COALESCE(max(id), 0) FROM bk_transaction_exception"))
    expect_error(notify(sim, order, "SUCCESS", order["paymentAmount"], serial="F" * 40), 1_002_003_003)
    return int(
        sql_scalar(
            "SELECT min(id) FROM bk_transaction_exception WHERE id > :m AND exception_type = 'SIGNATURE_INVALID'",
            {"m": mark},
        )
    )


def resolve(token: str, exception_id: int, action: str, remark: str = "已与支付平台核对") -> Reply:
    return call("POST", RESOLVE, {"id": exception_id, "action": action, "remark": remark}, token=token)


def page(token: str, query: str = "") -> Reply:
    return call("GET", PAGE, token=token, query=query)


def txn(order_no: str) -> dict[str, Any]:
    return sql_all("SELECT * FROM bk_transaction WHERE biz_order_no = :o", {"o": order_no})[0]


def account(cust_id: int) -> dict[str, Any]:
    return sql_all("SELECT * FROM biz_account WHERE cust_id = :c ORDER BY id LIMIT 1", {"c": cust_id})[0]


def flows(cust_id: int) -> list[dict[str, Any]]:
    return sql_all(
        "SELECT f.biz_type, f.change_amount, f.balance_after, f.ref_no FROM biz_account_flow f"
        " JOIN biz_account a ON a.id = f.account_id WHERE a.cust_id = :c ORDER BY f.id",
        {"c": cust_id},
    )


def held(order_no: str) -> list[bool]:
    return [
        r["live"]
        for r in sql_all(
            "SELECT live FROM biz_order_charge WHERE biz_order_no = :o ORDER BY charge_id", {"o": order_no}
        )
    ]


def exception_row(exception_id: int) -> dict[str, Any]:
    return sql_all("SELECT * FROM bk_transaction_exception WHERE id = :i", {"i": exception_id})[0]


def assert_books_balance(cust_id: int) -> None:
    """The balance is the sum of its flows; each bill's paid amount is the sum of its write-off lines and
    its status follows; each collection is what it wrote off plus what went to the balance; the arrears
    are what the bills still owe."""
    acct = account(cust_id)
    assert acct["balance"] == sum((f["change_amount"] for f in flows(cust_id)), Decimal("0.00"))
    bills = sql_all("SELECT * FROM biz_charge WHERE cust_id = :c", {"c": cust_id})
    for bill in bills:
        lines = sql_scalar(
            "SELECT COALESCE(sum(amount), 0) FROM biz_collection_item WHERE charge_id = :c", {"c": bill["id"]}
        )
        assert bill["paid_amount"] == lines, bill
        expected = "PAID" if lines >= bill["total_amount"] else ("PARTIAL" if lines > 0 else "UNPAID")
        assert bill["status"] == expected, bill
    for col in sql_all("SELECT * FROM biz_collection WHERE cust_id = :c", {"c": cust_id}):
        lines = sql_scalar(
            "SELECT COALESCE(sum(amount), 0) FROM biz_collection_item WHERE collection_id = :c",
            {"c": col["id"]},
        )
        assert col["written_off"] == lines and col["amount"] == col["written_off"] + col["to_balance"], col
    owed = sum((b["total_amount"] - b["paid_amount"] for b in bills), Decimal("0.00"))
    assert acct["arrears_amount"] == owed


def resolve_audit(exception_id: int) -> list[dict[str, Any]]:
    return audit_rows("bk_transaction_exception", exception_id, "EXCEPTION_RESOLVE")


# ------------------------------------------------------------------------------ AMOUNT_MISMATCH --
def test_write_off_paid_books_a_short_amount_oldest_bill_first(admin: str, platform: Any) -> None:
    """Given an order of two bills paid 1.00 short (AMOUNT_MISMATCH, the order and bills held), when a person
    accepts the money received (WRITE_OFF_PAID), then the older bill is PAID, the newer one PARTIAL by 1.00,
    the order SUCCESS with the amount received and no hold, the bills released, one collection with its
    lines, the exception RESOLVED with who/when/why, an audit row - and the books balance."""
    order, (old, new), exception_id, paid = mismatch(admin, platform, ["2021-01", "2021-02"])
    cust = int(old["cust_id"])
    arrears_before = account(cust)["arrears_amount"]

    reply = resolve(admin, exception_id, "WRITE_OFF_PAID", "平台实收少 1 元，客户确认按实收核销")

    assert reply.code == 0, reply.body
    data = reply.data
    assert (data["status"], data["resolution"], data["replay"]) == ("RESOLVED", "WRITE_OFF_PAID", False)
    assert data["remark"] == "平台实收少 1 元，客户确认按实收核销" and data["resolvedByName"] == "admin"
    assert data["resolvedTime"] and data["refundStatus"] is None and data["allowedActions"] == []
    result = data["result"]
    assert (result["orderStatus"], result["writeOffStatus"]) == ("SUCCESS", "PARTIAL")
    assert Decimal(result["writtenOffAmount"]) == paid and Decimal(result["balanceAdded"]) == 0
    assert Decimal(result["remainAmount"]) == Decimal("1.00")
    assert (
        charge_row(old["id"])["status"] == "PAID"
        and charge_row(old["id"])["paid_amount"] == old["total_amount"]
    )
    newer = charge_row(new["id"])
    assert newer["status"] == "PARTIAL" and newer["paid_amount"] == new["total_amount"] - Decimal("1.00")
    t = txn(order["bizOrderNo"])
    assert (t["status"], t["success_amount"], t["hold_reason"]) == ("SUCCESS", paid, None)
    assert t["paid_time"] is not None and held(order["bizOrderNo"]) == [False, False]
    (col,) = sql_all("SELECT * FROM biz_collection WHERE code = :o", {"o": order["bizOrderNo"]})
    assert (col["amount"], col["written_off"], col["to_balance"], col["trade_no"]) == (
        paid,
        paid,
        0,
        order["tradeNo"],
    )
    assert account(cust)["arrears_amount"] == arrears_before - paid and account(cust)["balance"] == 0
    stored = exception_row(exception_id)
    admin_id = sql_scalar("SELECT id FROM system_users WHERE username = 'admin'")
    assert (stored["status"], stored["resolution"], stored["resolved_by"]) == (
        "RESOLVED",
        "WRITE_OFF_PAID",
        admin_id,
    )
    assert stored["resolved_time"] is not None and stored["resolve_remark"].startswith("平台实收少")
    (logged,) = resolve_audit(exception_id)
    assert (
        logged["before_data"]["status"] == "OPEN"
        and logged["before_data"]["exceptionType"] == "AMOUNT_MISMATCH"
    )
    assert logged["after_data"]["resolution"] == "WRITE_OFF_PAID" and logged["user_name"] == "admin"
    assert logged["module"] == "REV-003" and logged["remark"]
    assert audit_rows("biz_collection", col["id"], "WRITE_OFF")
    assert audit_rows("bk_transaction", t["id"], "ORDER_SUCCESS")
    assert_books_balance(cust)

    # a late SUCCESS callback with the order's amount changes nothing: the order is settled
    late = notify(platform, order, "SUCCESS", order["paymentAmount"], at="2026-01-02T10:00:00+08:00")
    assert late.code == 0 and late.data["writeBackStatus"] == "SUCCESS", late.body
    assert charge_row(new["id"])["paid_amount"] == newer["paid_amount"]
    assert_books_balance(cust)


def test_write_off_paid_puts_a_surplus_on_the_balance(admin: str, platform: Any) -> None:
    """Given an order paid 5.00 more than it asked, when WRITE_OFF_PAID, then the bill is PAID and the 5.00
    goes to the balance with an OVERPAY flow."""
    order, (bill,), exception_id, paid = mismatch(admin, platform, ["2021-03"], delta="5.00")
    cust = int(bill["cust_id"])

    reply = resolve(admin, exception_id, "WRITE_OFF_PAID")

    assert reply.code == 0, reply.body
    assert reply.data["result"]["writeOffStatus"] == "SUCCESS"
    assert Decimal(reply.data["result"]["balanceAdded"]) == Decimal("5.00")
    assert charge_row(bill["id"])["status"] == "PAID"
    assert account(cust)["balance"] == Decimal("5.00")
    assert flows(cust) == [
        {
            "biz_type": "OVERPAY",
            "change_amount": Decimal("5.00"),
            "balance_after": Decimal("5.00"),
            "ref_no": order["bizOrderNo"],
        }
    ]
    assert txn(order["bizOrderNo"])["success_amount"] == paid
    assert_books_balance(cust)


def test_refund_closes_the_order_frees_the_bills_and_records_a_pending_refund(
    admin: str, platform: Any
) -> None:
    """Given an AMOUNT_MISMATCH, when a person decides REFUND, then the order is CLOSED (reading orderStatus
    FAIL) and held as REFUND (a later SUCCESS for the trade books nothing), its bills are free (the counter can collect them),
    nothing is written off, and the exception records a PENDING refund of the amount received (paid
    back by IF-REV-007)."""
    order, (bill,), exception_id, paid = mismatch(admin, platform, ["2021-04"])
    cust = int(bill["cust_id"])

    reply = resolve(admin, exception_id, "REFUND", "客户要求原路退回")

    assert reply.code == 0, reply.body
    assert (reply.data["refundStatus"], Decimal(reply.data["refundAmount"])) == ("PENDING", paid)
    assert reply.data["result"]["orderStatus"] == "CLOSED"  # the record of what the decision did to the row
    assert reply.data["orderStatus"] == "FAIL"  # the order as the seed names its states
    t = txn(order["bizOrderNo"])
    assert (t["status"], t["hold_reason"]) == ("CLOSED", "REFUND") and held(order["bizOrderNo"]) == [False]
    assert charge_row(bill["id"])["status"] == "UNPAID"
    late = notify(platform, order, "SUCCESS", order["paymentAmount"], at="2026-01-03T10:00:00+08:00")
    assert late.code == 0 and txn(order["bizOrderNo"])["status"] == "CLOSED", late.body
    assert sql_scalar("SELECT count(*) FROM biz_collection WHERE code = :o", {"o": order["bizOrderNo"]}) == 0
    stored = exception_row(exception_id)
    assert (stored["refund_status"], stored["refund_amount"]) == ("PENDING", paid)
    assert audit_rows("bk_transaction", t["id"], "ORDER_CLOSED")
    counter = call(
        "POST",
        "/admin-api/revenue/collection/create",
        {
            "custId": cust,
            "chargeIds": [bill["id"]],
            "paymentChannel": "CASH",
            "paymentAmount": str(bill["total_amount"]),
        },
        token=admin,
    )
    assert counter.code == 0, counter.body
    assert_books_balance(cust)


def test_an_amount_the_books_cannot_hold_can_only_be_refunded(admin: str, platform: Any) -> None:
    """Given a paid amount a fraction of a cent off, when WRITE_OFF_PAID, then 409 and nothing moves; REFUND
    records exactly the amount reported."""
    order, (bill,), exception_id, paid = mismatch(admin, platform, ["2021-05"], delta="0.004")

    refused = expect_error(resolve(admin, exception_id, "WRITE_OFF_PAID"), 409)

    assert refused.data["allowedActions"] == ["REFUND"]
    assert (
        exception_row(exception_id)["status"] == "OPEN"
        and txn(order["bizOrderNo"])["hold_reason"] == "AMOUNT_MISMATCH"
    )
    reply = resolve(admin, exception_id, "REFUND")
    assert reply.code == 0, reply.body
    assert reply.data["refundAmount"] == str(paid) and exception_row(exception_id)["refund_amount"] == paid
    assert_books_balance(int(bill["cust_id"]))


def test_the_same_decision_again_answers_the_stored_result_and_another_is_refused(
    admin: str, platform: Any
) -> None:
    """Given a resolved AMOUNT_MISMATCH, when the same id and action come again, then the stored result
    (replay) and no second effect; when another action comes, then 409 with the current resolution."""
    order, (bill,), exception_id, _ = mismatch(admin, platform, ["2021-06"])
    first = resolve(admin, exception_id, "WRITE_OFF_PAID")
    assert first.code == 0, first.body

    again = resolve(admin, exception_id, "WRITE_OFF_PAID", "重复提交")
    other = resolve(admin, exception_id, "REFUND")

    assert again.code == 0 and again.data["replay"] is True
    assert {k: v for k, v in again.data.items() if k != "replay"} == {
        k: v for k, v in first.data.items() if k != "replay"
    }
    assert sql_scalar("SELECT count(*) FROM biz_collection WHERE code = :o", {"o": order["bizOrderNo"]}) == 1
    assert len(resolve_audit(exception_id)) == 1
    expect_error(other, 409)
    assert other.data["resolution"] == "WRITE_OFF_PAID" and other.data["status"] == "RESOLVED"
    assert txn(order["bizOrderNo"])["status"] == "SUCCESS"
    assert_books_balance(int(bill["cust_id"]))


def test_concurrent_decisions_take_effect_exactly_once(admin: str, platform: Any) -> None:
    """Given one AMOUNT_MISMATCH, when 8 threads resolve it at once (half WRITE_OFF_PAID, half REFUND)
    through the service, then exactly one decision takes effect: the others with the same action answer its
    stored result, the ones with the other action a 409; one audit row, and the books balance."""
    from waterrev.context import RequestContext
    from waterrev.db import UnitOfWork
    from waterrev.errors import AppError, ErrorCode
    from waterrev.payments import review as payment_review
    from waterrev.payments.models.collection import ExceptionResolve
    from waterrev.security import load_admin

    order, (bill,), exception_id, _ = mismatch(admin, platform, ["2021-07"])
    with UnitOfWork() as uow:
        principal = load_admin(uow, int(sql_scalar("SELECT id FROM system_users WHERE username = 'admin'")))
    assert principal is not None
    barrier = threading.Barrier(8)
    outcomes: list[tuple[str, Any]] = []

    def decide(n: int) -> None:
        action = "WRITE_OFF_PAID" if n % 2 else "REFUND"
        ctx = RequestContext(request_id=f"race-{exception_id}-{n}", principal=principal)
        cmd = ExceptionResolve(id=exception_id, action=action, remark=f"并发 {n}").command()
        barrier.wait()
        try:
            outcomes.append((action, payment_review.resolve(ctx, cmd)))
        except AppError as exc:
            outcomes.append((action, exc))

    threads = [threading.Thread(target=decide, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)

    assert len(outcomes) == 8
    won = [(a, r) for a, r in outcomes if isinstance(r, dict) and not r["replay"]]
    assert len(won) == 1
    winner = won[0][0]
    for action, result in outcomes:
        if action == winner:
            assert isinstance(result, dict) and result["resolution"] == winner
        else:
            assert isinstance(result, AppError) and result.error is ErrorCode.CONFLICT
    assert len(resolve_audit(exception_id)) == 1
    collections = sql_scalar(
        "SELECT count(*) FROM biz_collection WHERE code = :o", {"o": order["bizOrderNo"]}
    )
    assert collections == (1 if winner == "WRITE_OFF_PAID" else 0)
    assert txn(order["bizOrderNo"])["status"] == ("SUCCESS" if winner == "WRITE_OFF_PAID" else "CLOSED")
    assert_books_balance(int(bill["cust_id"]))


# ------------------------------------------------------------------------------- PAID_ELSEWHERE --
def test_keep_balance_leaves_the_money_on_the_balance(admin: str, platform: Any) -> None:
    """Given money for a bill paid elsewhere on the balance (PAID_ELSEWHERE), when KEEP_BALANCE, then the
    balance and flows stay as they were and the exception is RESOLVED without a refund."""
    _, (first, second), exception_id = paid_elsewhere(admin, platform, ["2021-08", "2021-09"])
    cust = int(first["cust_id"])
    before = (account(cust)["balance"], flows(cust))
    assert before[0] == Decimal(first["total_amount"]) and charge_row(second["id"])["status"] == "PAID"

    reply = resolve(admin, exception_id, "KEEP_BALANCE", "客户同意留作预存")

    assert reply.code == 0, reply.body
    assert (reply.data["resolution"], reply.data["refundStatus"]) == ("KEEP_BALANCE", None)
    assert (account(cust)["balance"], flows(cust)) == before
    assert len(resolve_audit(exception_id)) == 1
    assert_books_balance(cust)


def test_refund_takes_the_surplus_off_the_balance(admin: str, platform: Any) -> None:
    """Given PAID_ELSEWHERE money on the balance, when REFUND, then exactly that amount leaves the balance
    with a REFUND flow and the exception records a PENDING refund."""
    order, (bill,), exception_id = paid_elsewhere(admin, platform, ["2021-10"])
    cust = int(bill["cust_id"])
    due = Decimal(bill["total_amount"])

    reply = resolve(admin, exception_id, "REFUND", "客户要求退回重复支付")

    assert reply.code == 0, reply.body
    assert (reply.data["refundStatus"], Decimal(reply.data["refundAmount"])) == ("PENDING", due)
    assert account(cust)["balance"] == 0
    assert flows(cust) == [
        {
            "biz_type": "PAID_ELSEWHERE",
            "change_amount": due,
            "balance_after": due,
            "ref_no": order["bizOrderNo"],
        },
        {"biz_type": "REFUND", "change_amount": -due, "balance_after": 0, "ref_no": order["bizOrderNo"]},
    ]
    assert txn(order["bizOrderNo"])["status"] == "SUCCESS"
    (logged,) = resolve_audit(exception_id)
    assert logged["after_data"]["refundStatus"] == "PENDING"
    assert_books_balance(cust)


def test_refund_is_refused_when_the_balance_no_longer_covers_it(
    admin: str, platform: Any, partial_allowed: None
) -> None:
    """Given PAID_ELSEWHERE money on the balance, spent meanwhile on another bill (PREPAY), when REFUND,
    then 409 naming the balance, nothing moves and the exception stays OPEN; KEEP_BALANCE still works."""
    _, (first, third), exception_id = paid_elsewhere(admin, platform, ["2021-11", "2021-12"], ordered=1)
    cust = int(first["cust_id"])
    assert charge_row(third["id"])["status"] == "UNPAID"  # not in the order
    balance = account(cust)["balance"]
    spend = min(balance, Decimal(third["total_amount"]))
    prepay = call(
        "POST",
        "/admin-api/revenue/collection/create",
        {"custId": cust, "chargeIds": [third["id"]], "paymentChannel": "PREPAY", "paymentAmount": str(spend)},
        token=admin,
    )
    assert prepay.code == 0, prepay.body
    left = account(cust)["balance"]
    assert left < Decimal(first["total_amount"])

    refused = expect_error(resolve(admin, exception_id, "REFUND"), 409, mentions="余额")

    assert Decimal(refused.data["balance"]) == left
    assert account(cust)["balance"] == left and exception_row(exception_id)["status"] == "OPEN"
    assert resolve(admin, exception_id, "KEEP_BALANCE").code == 0
    assert_books_balance(cust)


# -------------------------------------------------------------------------- other types, page --
def test_a_rejected_signature_is_dismissed_with_its_log(admin: str, platform: Any) -> None:
    """Given a SIGNATURE_INVALID exception (no order), when DISMISS, then RESOLVED with the remark and an
    audit row; an action other than DISMISS is a parameter error naming `action`."""
    order, _ = online_order(admin, ["2022-02"])
    exception_id = signature_invalid(platform, order)

    wrong = expect_error(resolve(admin, exception_id, "REFUND"), 400, mentions="action")
    reply = resolve(admin, exception_id, "DISMISS", "证书轮换期间的旧签名，已确认无资金影响")

    assert "DISMISS" in wrong.msg
    assert reply.code == 0 and reply.data["resolution"] == "DISMISS", reply.body
    assert reply.data["custId"] is None and reply.data["refundStatus"] is None
    (logged,) = resolve_audit(exception_id)
    assert (
        logged["after_data"]["resolution"] == "DISMISS"
        and logged["before_data"]["exceptionType"] == "SIGNATURE_INVALID"
    )


def test_an_action_not_allowed_for_the_type_names_the_field_and_the_allowed_values(
    admin: str, platform: Any
) -> None:
    """Given an AMOUNT_MISMATCH, when resolved with KEEP_BALANCE, DISMISS or an unknown action, then 400
    naming `action` (with the allowed values for a known action) and the exception stays OPEN."""
    _, _, exception_id, _ = mismatch(admin, platform, ["2022-03"])

    for action in ("KEEP_BALANCE", "DISMISS"):
        reply = expect_error(resolve(admin, exception_id, action), 400, mentions="action")
        assert "WRITE_OFF_PAID" in reply.msg and "REFUND" in reply.msg
    expect_error(resolve(admin, exception_id, "PAY_TWICE"), 400, mentions="action")
    assert exception_row(exception_id)["status"] == "OPEN"


@pytest.mark.parametrize(
    "body",
    [
        {"action": "DISMISS"},
        {"action": "DISMISS", "remark": "   "},
        {"action": "DISMISS", "remark": "x" * 201},
    ],
    ids=["missing", "blank", "too-long"],
)
def test_a_decision_needs_a_remark(admin: str, platform: Any, body: dict[str, Any]) -> None:
    """Given any exception, when resolved without a usable remark (1-200 characters), then 400 naming
    `remark` and nothing changes."""
    order, _ = online_order(admin, ["2022-04"])
    exception_id = signature_invalid(platform, order)

    expect_error(call("POST", RESOLVE, {"id": exception_id, **body}, token=admin), 400, mentions="remark")

    assert exception_row(exception_id)["status"] == "OPEN"


def test_an_unknown_exception_is_not_found(admin: str) -> None:
    expect_error(resolve(admin, 9_000_000_000, "DISMISS"), 404, mentions="id")


def test_the_page_filters_and_keeps_to_the_users_data_scope(admin: str, platform: Any) -> None:
    """Given a Gulou customer's AMOUNT_MISMATCH and an order-less SIGNATURE_INVALID, then the admin (every
    dept) finds both by their filters; a Gulou user sees the mismatch but not the order-less one; a Taijiang
    user sees neither and cannot resolve the mismatch (404, as if absent)."""
    order, (bill,), mismatch_id, _ = mismatch(admin, platform, ["2022-05"])
    signature_id = signature_invalid(platform, order)
    gulou = admin_login(new_admin_user(dept_id=GULOU_DEPT, permissions=(PERMISSION,)), "Passw0rd!")
    taijiang = admin_login(new_admin_user(dept_id=TAIJIANG_DEPT, permissions=(PERMISSION,)), "Passw0rd!")

    by_order = page(admin, f"bizOrderNo={order['bizOrderNo']}")
    assert by_order.code == 0, by_order.body
    assert by_order.data["total"] == 1 and (by_order.data["pageNo"], by_order.data["pageSize"]) == (1, 10)
    (item,) = by_order.data["list"]
    assert (item["id"], item["exceptionType"], item["status"], item["tradeNo"]) == (
        mismatch_id,
        "AMOUNT_MISMATCH",
        "OPEN",
        order["tradeNo"],
    )
    assert item["custId"] == bill["cust_id"] and item["custCode"] and item["orderStatus"] == "PAYING"
    assert item["paymentAmount"] == order["paymentAmount"]  # SYS-002's name for the trade amount
    assert item["detail"]["successAmount"] and item["createTime"] and item["resolution"] is None
    assert item["allowedActions"] == ["WRITE_OFF_PAID", "REFUND"]
    assert page(admin, f"tradeNo={order['tradeNo']}&exceptionType=AMOUNT_MISMATCH").data["total"] == 1
    assert page(admin, f"bizOrderNo={order['bizOrderNo']}&status=RESOLVED").data["total"] == 0
    assert page(admin, f"bizOrderNo={order['bizOrderNo']}&exceptionType=PAID_ELSEWHERE").data["total"] == 0
    signatures = page(admin, "exceptionType=SIGNATURE_INVALID&status=OPEN&pageSize=100").data["list"]
    assert signature_id in [i["id"] for i in signatures]

    assert page(gulou, f"bizOrderNo={order['bizOrderNo']}").data["total"] == 1
    gulou_all = page(gulou, "pageSize=100&exceptionType=SIGNATURE_INVALID").data
    assert gulou_all["total"] == 0 and gulou_all["list"] == []
    assert page(taijiang, f"bizOrderNo={order['bizOrderNo']}").data["total"] == 0
    assert all(i["custId"] is not None for i in page(taijiang, "pageSize=100").data["list"])
    expect_error(resolve(taijiang, mismatch_id, "REFUND"), 404)
    expect_error(resolve(gulou, signature_id, "DISMISS"), 404)
    assert exception_row(mismatch_id)["status"] == "OPEN"

    assert resolve(gulou, mismatch_id, "REFUND").code == 0
    resolved = page(admin, f"bizOrderNo={order['bizOrderNo']}&status=RESOLVED").data["list"]
    assert [(i["id"], i["resolution"], i["refundStatus"]) for i in resolved] == [
        (mismatch_id, "REFUND", "PENDING")
    ]


@pytest.mark.parametrize("query", ["pageNo=0", "pageSize=101", "status=DONE", "exceptionType=bad type"])
def test_bad_page_parameters_are_named(admin: str, query: str) -> None:
    expect_error(page(admin, query), 400, mentions=query.split("=")[0])


def test_a_counter_clerk_without_the_permission_is_refused(admin: str, platform: Any) -> None:
    """Given the demo counter clerk (no revenue:collection:exception), then both routes answer 403 and the
    exception stays OPEN; the demo admin role holds the permission."""
    _, _, exception_id, _ = mismatch(admin, platform, ["2022-06"])
    clerk = admin_login("gulou", "gulou123")

    expect_error(page(clerk), 403, mentions=PERMISSION)
    expect_error(resolve(clerk, exception_id, "REFUND"), 403, mentions=PERMISSION)

    assert exception_row(exception_id)["status"] == "OPEN"
    assert (
        sql_scalar(
            "SELECT count(*) FROM system_role_menu rm JOIN system_role r ON r.id = rm.role_id"
            " JOIN system_menu m ON m.id = rm.menu_id WHERE r.code = 'super_admin' AND m.permission = :p",
            {"p": PERMISSION},
        )
        == 1
    )


def test_a_second_mismatch_row_for_a_settled_order_can_only_be_dismissed(admin: str, platform: Any) -> None:
    """Given an AMOUNT_MISMATCH resolved WRITE_OFF_PAID and a second open AMOUNT_MISMATCH row for the same
    order (as rows written before orders were held could be), then that row offers only DISMISS: REFUND
    is refused naming `action`, and DISMISS resolves it without touching the settled order."""
    order, (bill,), exception_id, _ = mismatch(admin, platform, ["2021-09"])
    assert resolve(admin, exception_id, "WRITE_OFF_PAID").code == 0
    settled = charge_row(bill["id"])
    second = sql_exec(
        "INSERT INTO bk_transaction_exception (trade_no, biz_order_no, exception_type, detail)"
        " SELECT trade_no, biz_order_no, exception_type, detail FROM bk_transaction_exception WHERE id = :i"
        " RETURNING id",
        {"i": exception_id},
    )

    listed = page(admin, f"bizOrderNo={order['bizOrderNo']}&status=OPEN")
    refused = resolve(admin, int(second), "REFUND")
    dismissed = resolve(admin, int(second), "DISMISS", "重复记录，订单已按实收入账")

    assert [i["allowedActions"] for i in listed.data["list"]] == [["DISMISS"]], listed.body
    expect_error(refused, 400, mentions="action")
    assert dismissed.code == 0 and dismissed.data["resolution"] == "DISMISS", dismissed.body
    assert txn(order["bizOrderNo"])["status"] == "SUCCESS" and charge_row(bill["id"]) == settled
    assert_books_balance(int(bill["cust_id"]))


def test_two_mismatch_rows_of_one_order_refunded_at_once_refund_once(admin: str, platform: Any) -> None:
    """Given two open AMOUNT_MISMATCH rows for one order (as older rows could be), when two reviewers
    decide REFUND on each at the same moment, then one refund is recorded and the other is a 409: the
    money is never sent back twice."""
    from waterrev.context import RequestContext
    from waterrev.db import UnitOfWork
    from waterrev.errors import AppError, ErrorCode
    from waterrev.payments import review as payment_review
    from waterrev.payments.models.collection import ExceptionResolve
    from waterrev.security import load_admin

    order, _, first_id, _ = mismatch(admin, platform, ["2021-10"])
    second_id = int(
        sql_exec(
            "INSERT INTO bk_transaction_exception (trade_no, biz_order_no, exception_type, detail)"
            " SELECT trade_no, biz_order_no, exception_type, detail FROM bk_transaction_exception WHERE id = :i"
            " RETURNING id",
            {"i": first_id},
        )
    )
    with UnitOfWork() as uow:
        principal = load_admin(uow, int(sql_scalar("SELECT id FROM system_users WHERE username = 'admin'")))
    assert principal is not None
    outcomes: list[Any] = []

    def decide(exception_id: int) -> None:
        ctx = RequestContext(request_id=f"refund-race-{exception_id}", principal=principal)
        try:
            outcomes.append(
                payment_review.resolve(
                    ctx, ExceptionResolve(id=exception_id, action="REFUND", remark="退").command()
                )
            )
        except AppError as exc:
            outcomes.append(exc)

    # Both decisions get past their first look (the order PAYING, not held) and queue on the order's
    # lock, held here until both wait: the one that goes second sees the first's REFUND only there.
    from sqlalchemy import create_engine, text
    from sqlalchemy.pool import NullPool

    from waterrev import db

    blocker = create_engine(db.database_url(), poolclass=NullPool).connect()
    blocker.execute(
        text("SELECT 1 FROM bk_transaction WHERE biz_order_no = :o FOR UPDATE"), {"o": order["bizOrderNo"]}
    )
    threads = [threading.Thread(target=decide, args=(i,)) for i in (first_id, second_id)]
    for t in threads:
        t.start()
    waiting = 0
    for _ in range(200):
        waiting = int(
            sql_scalar(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%bk_transaction%'"
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
    assert len([o for o in outcomes if isinstance(o, dict)]) == 1, outcomes
    assert [o.error for o in outcomes if isinstance(o, AppError)] in (
        [ErrorCode.CONFLICT],
        [ErrorCode.BAD_REQUEST],
    )
    pending = sql_scalar(
        "SELECT count(*) FROM bk_transaction_exception WHERE biz_order_no = :o AND refund_status = 'PENDING'",
        {"o": order["bizOrderNo"]},
    )
    assert pending == 1


def test_a_remark_is_kept_and_shown_masked(admin: str, platform: Any) -> None:
    """Given a remark that quotes a mobile and an ID number, then the stored, returned and listed remark
    show them masked."""
    order, _, exception_id, _ = mismatch(admin, platform, ["2021-11"])
    remark = "客户电话13800001111，身份证350102199001011234，要求原路退回"

    reply = resolve(admin, exception_id, "REFUND", remark)

    assert reply.code == 0, reply.body
    listed = page(admin, f"bizOrderNo={order['bizOrderNo']}")
    for shown in (
        reply.data["remark"],
        listed.data["list"][0]["remark"],
        exception_row(exception_id)["resolve_remark"],
    ):
        assert "13800001111" not in shown and "350102199001011234" not in shown and "要求原路退回" in shown
