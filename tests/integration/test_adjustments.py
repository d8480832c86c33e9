"""IF-REV-007 账务调整 (/admin-api/revenue/accounting/adjust): USAGE, AMOUNT, REFUND, REVERSE and BAD_DEBT on
the real database, each a new entry; approval by a second person above the threshold or for chosen types;
idempotent (also under concurrent duplicates); every error code and state; refunds through the SYS-009
simulator's refund call and its signed notification; the ledger's invariants after each."""

from __future__ import annotations

import json
import threading
from decimal import Decimal
from typing import Any

import pytest

from tests.support import (
    admin_login,
    audit_rows,
    call,
    charge_row,
    expect_error,
    new_admin_user,
    new_bills,
    new_dept,
    set_param,
    signed_notification,
    sql_all,
    sql_exec,
    sql_scalar,
    unique,
    wait_for,
)

ADJUST = "/admin-api/revenue/accounting/adjust"
COLLECT = "/admin-api/revenue/collection/create"
ORDER = "/app-api/customer/payment/order"
APPROVER = (
    "revenue:adjust:approve",
    "revenue:adjust:query",
    "revenue:penalty:approve",
    "revenue:penalty:query",
)
THRESHOLD = "100"


@pytest.fixture(scope="module")
def admin_id() -> int:
    return int(sql_scalar("SELECT id FROM system_users WHERE username = 'admin'"))


@pytest.fixture(scope="module")
def approver() -> str:
    """A second person who may approve adjustments (and waivers), data scope ALL."""
    return admin_login(new_admin_user(permissions=APPROVER, data_scope="ALL"), "Passw0rd!")


@pytest.fixture(scope="module")
def dept(admin: str) -> int:
    """A dept of its own: approval above 100.00, and for BAD_DEBT and REVERSE (the default types)."""
    dept = new_dept()
    set_param(admin, "revenue.adjust.approval-threshold", THRESHOLD, dept_id=dept)
    set_param(admin, "revenue.adjust.approval-types", "BAD_DEBT,REVERSE", dept_id=dept)
    return dept


def ask(token: str, charge_id: int, operator: int, kind: str, **extra: Any) -> Any:
    body = {"chargeId": charge_id, "adjustType": kind, "reasonCode": "TEST", "operatorId": operator, **extra}
    return call("POST", ADJUST, body, token=token)


def decide(token: str, action: str, number: str, remark: str = "已核实") -> Any:
    return call("POST", f"{ADJUST}/{action}", {"adjustmentNo": number, "remark": remark}, token=token)


def pay_cash(admin: str, cust: int, bills: list[int], amount: Any, **extra: Any) -> Any:
    body = {
        "custId": cust,
        "chargeIds": bills,
        "paymentChannel": "CASH",
        "paymentAmount": str(amount),
        **extra,
    }
    reply = call("POST", COLLECT, body, token=admin)
    assert reply.code == 0, reply.body
    return reply.data


def account(cust: int) -> dict[str, Any]:
    return sql_all("SELECT * FROM biz_account WHERE cust_id = :c", {"c": cust})[0]


def ledger_holds(cust: int) -> None:
    """The money invariant and the bill invariant hold for the customer (docs/LEDGER.md)."""
    from waterrev.accounting import ledger
    from waterrev.db import UnitOfWork

    with UnitOfWork() as uow:
        found = ledger.measure(uow, [cust])
    assert found["customersBroken"] == [] and found["billsBroken"] == [], found
    assert found["totals"]["difference"] == 0


def due_of(bill: dict[str, Any]) -> Decimal:
    """What the counter asks for the bill now (principal and any penalty)."""
    from waterrev.billing.dues import amount_due
    from waterrev.db import UnitOfWork

    with UnitOfWork() as uow:
        return amount_due(uow, int(bill["cust_id"]), charge_ids=[int(bill["id"])]).total


# ------------------------------------------------------------------------------------- AMOUNT --
def test_an_amount_adjustment_below_the_threshold_is_a_new_bill_at_once(
    admin: str, admin_id: int, dept: int
) -> None:
    """Given a bill, when 30.00 more is billed (AMOUNT, under the 100.00 threshold), then SUCCESS at once:
    a new ADJUST bill of 30.00 (source: the bill), UNPAID, the arrears 30.00 higher, the original bill as
    it was; a credit of -20.00 is a PAID bill of -20.00 whose money is on the balance. Audited; the
    same request again is the same adjustment (replay); the ledger holds."""
    cust, (bill,) = new_bills(admin, ["2021-01"], dept_id=dept)
    before = account(cust)

    more = ask(admin, bill["id"], admin_id, "AMOUNT", adjustAmount="30.00", remark="补收，电话 13812345678")
    again = ask(admin, bill["id"], admin_id, "AMOUNT", adjustAmount="30.00", remark="补收，电话 13812345678")
    credit = ask(admin, bill["id"], admin_id, "AMOUNT", adjustAmount="-20.00")

    assert more.code == 0, more.body
    d = more.data
    assert (d["resultStatus"], d["writeBackStatus"], d["approvalRequired"], d["replay"]) == (
        "SUCCESS",
        "SUCCESS",
        False,
        False,
    )
    assert "13812345678" not in (d["remark"] or "")
    new = charge_row(d["newChargeId"])
    assert (new["source_type"], new["source_charge_id"], new["total_amount"], new["status"]) == (
        "ADJUST",
        bill["id"],
        Decimal("30.00"),
        "UNPAID",
    )
    assert charge_row(bill["id"])["total_amount"] == bill["total_amount"]
    assert (
        again.code == 0 and again.data["replay"] is True and again.data["adjustmentNo"] == d["adjustmentNo"]
    )
    assert credit.code == 0, credit.body
    back = charge_row(credit.data["newChargeId"])
    assert (back["total_amount"], back["paid_amount"], back["status"]) == (
        Decimal("-20.00"),
        Decimal("-20.00"),
        "PAID",
    )
    after = account(cust)
    assert after["arrears_amount"] == before["arrears_amount"] + Decimal("30.00")
    assert after["balance"] == before["balance"] + Decimal("20.00")
    assert audit_rows(
        "biz_adjustment",
        d["adjustmentNo"]
        and sql_scalar("SELECT id FROM biz_adjustment WHERE adjustment_no = :n", {"n": d["adjustmentNo"]}),
        "ADJUST_EXECUTE",
    )
    ledger_holds(cust)


def test_the_request_is_checked_field_by_field(admin: str, admin_id: int, dept: int) -> None:
    """Given a bill, then: REVERSE or REFUND without sourceTradeNo, sourceTradeNo on AMOUNT, USAGE without
    adjustUsage, AMOUNT of 0, REFUND of a negative amount, adjustAmount on REVERSE: 400 naming the field;
    an operatorId that is not the caller: 403; a bill that does not exist or is outside the caller's data
    scope: 404 alike; nothing written."""
    cust, (bill,) = new_bills(admin, ["2021-02"], dept_id=dept)
    cases = [
        ("REVERSE", {}, "sourceTradeNo"),
        ("REFUND", {"adjustAmount": "1.00"}, "sourceTradeNo"),
        ("AMOUNT", {"adjustAmount": "1.00", "sourceTradeNo": "X1"}, "sourceTradeNo"),
        ("USAGE", {}, "adjustUsage"),
        ("AMOUNT", {"adjustAmount": "0.00"}, "adjustAmount"),
        ("REFUND", {"adjustAmount": "-1.00", "sourceTradeNo": "X1"}, "adjustAmount"),
        ("REVERSE", {"adjustAmount": "1.00", "sourceTradeNo": "X1"}, "adjustAmount"),
    ]
    for kind, extra, field in cases:
        expect_error(ask(admin, bill["id"], admin_id, kind, **extra), 400, mentions=field)
    expect_error(
        ask(admin, bill["id"], admin_id + 999, "AMOUNT", adjustAmount="1.00"), 403, mentions="operatorId"
    )
    expect_error(ask(admin, 9_000_000_000, admin_id, "AMOUNT", adjustAmount="1.00"), 404)
    clerk_name = new_admin_user(data_scope="DEPT_ONLY")  # of 鼓楼: cannot see the test dept's customers
    clerk = admin_login(clerk_name, "Passw0rd!")
    clerk_id = int(sql_scalar("SELECT id FROM system_users WHERE username = :u", {"u": clerk_name}))
    hidden = ask(clerk, bill["id"], clerk_id, "AMOUNT", adjustAmount="1.00")
    absent = ask(clerk, 9_000_000_000, clerk_id, "AMOUNT", adjustAmount="1.00")
    assert (hidden.status, hidden.code) == (absent.status, absent.code) == (404, 404)
    assert sql_scalar("SELECT count(*) FROM biz_adjustment WHERE cust_id = :c", {"c": cust}) == 0


def test_a_request_number_is_the_idempotency_key_and_refuses_other_content(
    admin: str, admin_id: int, dept: int
) -> None:
    """Given requestNo R used for +5.00, then the same again is a replay, and R with +6.00 is 409 naming
    adjustAmount; five concurrent copies of one new request make one adjustment and one bill."""
    cust, (bill,) = new_bills(admin, ["2021-03"], dept_id=dept)
    number = unique("R")
    first = ask(admin, bill["id"], admin_id, "AMOUNT", adjustAmount="5.00", requestNo=number)
    same = ask(admin, bill["id"], admin_id, "AMOUNT", adjustAmount="5.00", requestNo=number)
    other = ask(admin, bill["id"], admin_id, "AMOUNT", adjustAmount="6.00", requestNo=number)
    assert first.code == 0 and same.data["replay"] is True
    expect_error(other, 409, mentions="adjustAmount")

    concurrent = unique("C")
    replies: list[Any] = []

    def go() -> None:
        replies.append(ask(admin, bill["id"], admin_id, "AMOUNT", adjustAmount="7.00", requestNo=concurrent))

    threads = [threading.Thread(target=go) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [r.code for r in replies] == [0] * 5
    assert (
        len({r.data["adjustmentNo"] for r in replies}) == 1
        and sum(not r.data["replay"] for r in replies) == 1
    )
    assert (
        sql_scalar(
            "SELECT count(*) FROM biz_charge WHERE source_charge_id = :b AND total_amount = 7.00",
            {"b": bill["id"]},
        )
        == 1
    )
    ledger_holds(cust)


# ----------------------------------------------------------------------------------- approval --
def test_above_the_threshold_a_second_person_approves_and_nothing_moves_before(
    admin: str, admin_id: int, approver: str, dept: int
) -> None:
    """Given the dept's threshold of 100.00, when 150.00 more is asked, then PENDING_APPROVAL / PENDING,
    no bill yet; the requester approving is 403 (also refused by the database); the approver approving
    makes it SUCCESS with the new bill, approved by someone else; approving again is a replay, rejecting
    it now 1_002_004_001 with the current state. Another request rejected is FAIL / NONE and then cannot
    be approved (1_002_004_001). Both listed by the page (PENDING_APPROVAL while they wait)."""
    cust, (bill,) = new_bills(admin, ["2021-04"], dept_id=dept)
    asked = ask(admin, bill["id"], admin_id, "AMOUNT", adjustAmount="150.00")
    assert asked.code == 0, asked.body
    no = asked.data["adjustmentNo"]
    assert (asked.data["resultStatus"], asked.data["writeBackStatus"], asked.data["approvalRequired"]) == (
        "PENDING_APPROVAL",
        "PENDING",
        True,
    )
    assert asked.data["newChargeId"] is None
    waiting = call(
        "GET", f"{ADJUST}/page", token=approver, query=f"custId={cust}&resultStatus=PENDING_APPROVAL"
    )
    assert [i["adjustmentNo"] for i in waiting.data["list"]] == [no]

    expect_error(decide(admin, "approve", no), 403, mentions="申请人以外")
    approved = decide(approver, "approve", no)
    again = decide(approver, "approve", no)
    late_reject = decide(approver, "reject", no)

    assert approved.code == 0, approved.body
    assert (approved.data["resultStatus"], approved.data["writeBackStatus"]) == ("SUCCESS", "SUCCESS")
    assert approved.data["decidedBy"] != approved.data["requestedBy"]
    assert charge_row(approved.data["newChargeId"])["total_amount"] == Decimal("150.00")
    assert again.data["replay"] is True
    expect_error(late_reject, 1_002_004_001)
    assert late_reject.data["adjustStatus"] == "SUCCESS"

    other = ask(admin, bill["id"], admin_id, "AMOUNT", adjustAmount="-120.00").data["adjustmentNo"]
    rejected = decide(approver, "reject", other, "依据不足")
    assert (
        rejected.data["resultStatus"],
        rejected.data["writeBackStatus"],
        rejected.data["adjustStatus"],
    ) == (
        "FAIL",
        "NONE",
        "REJECTED",
    )
    expect_error(decide(approver, "approve", other), 1_002_004_001)
    with pytest.raises(Exception, match="ck_adjustment_second_person"):
        sql_exec("UPDATE biz_adjustment SET decided_by = requested_by WHERE adjustment_no = :n", {"n": other})
    done = call("GET", f"{ADJUST}/page", token=approver, query=f"custId={cust}")
    assert {i["adjustmentNo"]: i["resultStatus"] for i in done.data["list"]} == {no: "SUCCESS", other: "FAIL"}
    assert audit_rows(
        "biz_adjustment",
        sql_scalar("SELECT id FROM biz_adjustment WHERE adjustment_no = :n", {"n": no}),
        "ADJUST_APPROVE",
    )
    ledger_holds(cust)


# ----------------------------------------------------------------------------------- BAD_DEBT --
def test_bad_debt_writes_off_what_is_still_owed_after_approval(
    admin: str, admin_id: int, approver: str, dept: int
) -> None:
    """Given a bill partly paid (BAD_DEBT needs approval by type), when its remaining principal is written
    off and approved, then the bill is BAD_DEBT, the arrears fall by it, a BAD_DEBT line records it and the
    bill is no longer payable; an amount other than what is owed, and bad debt on a PAID bill, are
    1_002_004_001."""
    cust, (bill, paid_bill) = new_bills(admin, ["2021-05", "2021-06"], dept_id=dept)
    pay_cash(admin, cust, [paid_bill["id"]], due_of(paid_bill))
    owed = Decimal(bill["total_amount"])
    expect_error(
        ask(admin, bill["id"], admin_id, "BAD_DEBT", adjustAmount=str(owed + 1)),
        1_002_004_001,
        mentions="adjustAmount",
    )
    expect_error(ask(admin, paid_bill["id"], admin_id, "BAD_DEBT"), 1_002_004_001)
    before = account(cust)

    asked = ask(admin, bill["id"], admin_id, "BAD_DEBT")
    assert asked.data["resultStatus"] == "PENDING_APPROVAL" and asked.data["approvalRequired"] is True
    approved = decide(approver, "approve", asked.data["adjustmentNo"])

    assert approved.data["resultStatus"] == "SUCCESS", approved.body
    assert charge_row(bill["id"])["status"] == "BAD_DEBT"
    assert account(cust)["arrears_amount"] == before["arrears_amount"] - owed
    assert (
        sql_scalar(
            "SELECT amount FROM biz_adjustment_line WHERE charge_id = :c AND line_type = 'BAD_DEBT'",
            {"c": bill["id"]},
        )
        == owed
    )
    refused = call(
        "POST",
        COLLECT,
        {"custId": cust, "chargeIds": [bill["id"]], "paymentChannel": "CASH", "paymentAmount": "1.00"},
        token=admin,
    )
    expect_error(refused, 1_002_003_001)
    ledger_holds(cust)


# ------------------------------------------------------------------------------------ REVERSE --
def test_a_cash_collection_is_reversed_its_bills_unpaid_again_and_the_money_paid_out(
    admin: str, admin_id: int, approver: str, dept: int
) -> None:
    """Given two bills paid in cash with 10.00 more than due (10.00 on the balance), when the collection is
    reversed (REVERSE needs approval) and approved, then both bills are UNPAID with nothing paid, the
    arrears are back, the 10.00 comes off the balance and the whole amount is a refund recorded as paid
    out at the counter (COUNTER, SUCCESS); reversing it again, or naming a bill it did not pay, is
    1_002_004_001; the ledger holds. The reversed principal is owed again: the counter asks for it."""
    cust, bills = new_bills(admin, ["2021-07", "2021-08"], dept_id=dept)
    owed = sum((due_of(b) for b in bills), Decimal("0"))
    trade = unique("CASH")
    collection = pay_cash(admin, cust, [b["id"] for b in bills], owed + 10, tradeNo=trade)
    assert Decimal(collection["balanceAdded"]) == 10
    before = account(cust)
    _, (stranger,) = new_bills(admin, ["2021-09"], dept_id=dept)
    expect_error(ask(admin, stranger["id"], admin_id, "REVERSE", sourceTradeNo=trade), 404)
    unpaid = ask(admin, bills[0]["id"], admin_id, "AMOUNT", adjustAmount="1.00").data["newChargeId"]
    expect_error(
        ask(admin, unpaid, admin_id, "REVERSE", sourceTradeNo=trade),
        1_002_004_001,
        mentions="chargeId",
    )
    before = account(cust)

    asked = ask(admin, bills[0]["id"], admin_id, "REVERSE", sourceTradeNo=trade)
    assert asked.data["resultStatus"] == "PENDING_APPROVAL", asked.body
    again_asked = ask(admin, bills[1]["id"], admin_id, "REVERSE", sourceTradeNo=trade, remark="另一次")
    expect_error(again_asked, 1_002_004_001)
    approved = decide(approver, "approve", asked.data["adjustmentNo"])

    assert approved.code == 0 and approved.data["resultStatus"] == "SUCCESS", approved.body
    assert (approved.data["refundMethod"], approved.data["refundStatus"]) == ("COUNTER", "SUCCESS")
    for b in bills:
        row = charge_row(b["id"])
        assert (row["status"], row["paid_amount"]) == ("UNPAID", Decimal("0.00"))
    after = account(cust)
    assert after["balance"] == before["balance"] - 10
    principal = sum((Decimal(b["total_amount"]) for b in bills), Decimal("0"))
    assert after["arrears_amount"] == before["arrears_amount"] + principal
    refund = sql_all(
        "SELECT * FROM biz_refund WHERE adjustment_id = (SELECT id FROM biz_adjustment WHERE adjustment_no = :n)",
        {"n": asked.data["adjustmentNo"]},
    )[0]
    assert refund["amount"] == Decimal(collection["paidAmount"]) and refund["booked"] is True
    assert due_of(bills[0]) >= Decimal(bills[0]["total_amount"])
    expect_error(
        ask(admin, bills[0]["id"], admin_id, "REVERSE", sourceTradeNo=trade, remark="再次"), 1_002_004_001
    )
    ledger_holds(cust)


def test_a_prepaid_collection_is_reversed_back_onto_the_balance(
    admin: str, admin_id: int, approver: str, dept: int
) -> None:
    """Given a balance from an overpayment that then pays a bill (PREPAY), when that PREPAY collection is
    reversed, then the bill is UNPAID again and the money is back on the balance; no refund."""
    cust, (first, second) = new_bills(admin, ["2021-11", "2021-12"], dept_id=dept)
    pay_cash(admin, cust, [first["id"]], due_of(first) + due_of(second) + 5)
    balance = account(cust)["balance"]
    prepay = pay_cash(admin, cust, [second["id"]], due_of(second), paymentChannel="PREPAY")
    spent = Decimal(prepay["paidAmount"])

    asked = ask(admin, second["id"], admin_id, "REVERSE", sourceTradeNo=prepay["collectionCode"])
    approved = decide(approver, "approve", asked.data["adjustmentNo"])

    assert approved.data["resultStatus"] == "SUCCESS", approved.body
    assert approved.data["refundNo"] is None
    assert charge_row(second["id"])["status"] == "UNPAID"
    assert account(cust)["balance"] == balance
    assert balance - spent + spent == account(cust)["balance"]
    ledger_holds(cust)


def test_an_approval_that_can_no_longer_be_carried_out_ends_fail(
    admin: str, admin_id: int, approver: str, dept: int
) -> None:
    """Given a pending reversal of a cash collection whose 8.00 surplus went to the balance, when that 8.00 is
    refunded before the approval, then approving ends the adjustment FAIL (failReason, writeBackStatus
    NONE) and nothing moves."""
    cust, (first, second) = new_bills(admin, ["2022-01", "2022-02"], dept_id=dept)
    trade = unique("CASH")
    pay_cash(admin, cust, [first["id"]], due_of(first) + 8, tradeNo=trade)
    asked = ask(admin, first["id"], admin_id, "REVERSE", sourceTradeNo=trade)
    spent = ask(admin, second["id"], admin_id, "REFUND", adjustAmount="8.00", sourceTradeNo=trade)
    assert spent.data["resultStatus"] == "SUCCESS", spent.body
    approved = decide(approver, "approve", asked.data["adjustmentNo"])

    assert (
        approved.data["resultStatus"],
        approved.data["adjustStatus"],
        approved.data["writeBackStatus"],
    ) == (
        "FAIL",
        "FAIL",
        "NONE",
    ), approved.body
    assert "余额" in approved.data["failReason"]
    assert charge_row(first["id"])["status"] == "PAID"


# ------------------------------------------------------------------------------------- REFUND --
def test_a_refund_from_the_balance_is_checked_against_the_original_trade(
    admin: str, admin_id: int, dept: int
) -> None:
    """Given 40.00 paid in cash beyond the bill (on the balance), when 25.00 is refunded against that trade,
    then the balance is 25.00 lower and a COUNTER refund of 25.00 is SUCCESS (writeBackStatus NONE: no
    bill changes); then 20.00 more is more than the trade has left (1_002_004_001); an unknown trade
    is 404; the ledger holds."""
    cust, (bill,) = new_bills(admin, ["2022-03"], dept_id=dept)
    trade = unique("CASH")
    pay_cash(admin, cust, [bill["id"]], due_of(bill) + 40, tradeNo=trade)
    balance = account(cust)["balance"]

    refunded = ask(admin, bill["id"], admin_id, "REFUND", adjustAmount="25.00", sourceTradeNo=trade)
    assert refunded.code == 0, refunded.body
    assert (refunded.data["resultStatus"], refunded.data["writeBackStatus"]) == ("SUCCESS", "NONE")
    assert (refunded.data["refundMethod"], refunded.data["refundStatus"]) == ("COUNTER", "SUCCESS")
    assert account(cust)["balance"] == balance - 25
    expect_error(
        ask(admin, bill["id"], admin_id, "REFUND", adjustAmount="20.00", sourceTradeNo=trade),
        1_002_004_001,
        mentions="adjustAmount",
    )
    expect_error(
        ask(admin, bill["id"], admin_id, "REFUND", adjustAmount="1.00", sourceTradeNo=unique("NO")), 404
    )
    ledger_holds(cust)


def online_payment(
    admin: str, sys009: Any, dept: int, periods: list[str]
) -> tuple[int, list[dict[str, Any]], dict[str, Any]]:
    """A customer's bills paid online through SYS-009 (its notification settled them)."""
    from tests.integration.test_pay_orders import bound_member, settled

    cust, bills = new_bills(admin, periods, dept_id=dept)
    member = bound_member(cust)
    total = sum((due_of(b) for b in bills), Decimal("0"))
    body = {
        "custId": cust,
        "chargeIds": [b["id"] for b in bills],
        "paymentChannel": "WECHAT",
        "paymentAmount": str(total),
    }
    order = call("POST", ORDER, body, token=member)
    assert order.code == 0, order.body
    sys009.pay(order.data["tradeNo"])
    settled(order.data["bizOrderNo"])
    return cust, bills, order.data


def test_a_reversed_online_payment_is_refunded_through_sys009_and_its_notification(
    admin: str, admin_id: int, approver: str, dept: int, sys009: Any
) -> None:
    """Given bills paid online (a SYS-009 trade), when the payment is reversed and approved, then a SYS009
    refund of the whole amount is PROCESSING at the platform; when SYS-009 settles it, its signed refund
    notification (IF-EXT-005's refund route) makes it SUCCESS, once even if sent twice."""
    sys009.behaviour(duplicate=2)
    cust, bills, order = online_payment(admin, sys009, dept, ["2022-04"])
    asked = ask(admin, bills[0]["id"], admin_id, "REVERSE", sourceTradeNo=order["tradeNo"])
    approved = decide(approver, "approve", asked.data["adjustmentNo"])
    assert (approved.data["refundMethod"], approved.data["refundStatus"]) == ("SYS009", "PROCESSING"), (
        approved.body
    )
    refund_no = approved.data["refundNo"]
    assert sys009.refund(refund_no)["refundStatus"] == "PROCESSING"

    sys009.finish_refunds()

    wait_for(
        lambda: (
            sql_scalar("SELECT status FROM biz_refund WHERE refund_no = :n", {"n": refund_no}) == "SUCCESS"
        ),
        what="refund SUCCESS",
    )
    sys009.wait_idle()
    assert (
        sql_scalar(
            "SELECT count(*) FROM biz_refund_callback WHERE refund_no = :n AND outcome = 'APPLIED'",
            {"n": refund_no},
        )
        == 1
    )
    assert charge_row(bills[0]["id"])["status"] == "UNPAID"
    ledger_holds(cust)


def test_a_refund_sys009_fails_puts_the_money_back_on_the_balance(
    admin: str, admin_id: int, dept: int, sys009: Any
) -> None:
    """Given a bill paid online and 30.00 on the balance (a cash overpayment of another bill), when 30.00 is
    refunded against the online trade (at most its amount) and SYS-009 fails the refund, then the refund
    is FAIL and the 30.00 is back on the balance (REFUND_FAIL); the ledger holds throughout."""
    cust, bills, order = online_payment(admin, sys009, dept, ["2022-05"])
    extra = ask(admin, bills[0]["id"], admin_id, "AMOUNT", adjustAmount="10.00").data["newChargeId"]
    pay_cash(admin, cust, [extra], Decimal("40.00"))
    balance = account(cust)["balance"]
    sys009.behaviour(refundResult="FAIL")

    refunded = ask(
        admin, bills[0]["id"], admin_id, "REFUND", adjustAmount="30.00", sourceTradeNo=order["tradeNo"]
    )
    assert refunded.data["refundStatus"] == "PROCESSING", refunded.body
    assert account(cust)["balance"] == balance - 30
    ledger_holds(cust)
    sys009.finish_refunds()

    wait_for(
        lambda: (
            sql_scalar("SELECT status FROM biz_refund WHERE refund_no = :n", {"n": refunded.data["refundNo"]})
            == "FAIL"
        ),
        what="refund FAIL",
    )
    assert account(cust)["balance"] == balance
    ledger_holds(cust)


def test_a_refund_notification_with_a_bad_signature_is_refused_and_kept(sys009: Any) -> None:
    """Given a refund notification signed with a key SYS-009 does not publish, then 1_002_003_003 and it is
    kept as REJECTED; an unknown refundNo correctly signed is 404 (kept as UNKNOWN)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    stranger = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        .private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        .decode()
    )
    body = {
        "id": unique("n"),
        "refundNo": "TK0000",
        "tradeNo": "T1",
        "refundAmount": "1.00",
        "refundStatus": "SUCCESS",
        "notifyTime": "2026-12-05T09:00:00+08:00",
    }
    headers, raw = signed_notification(stranger, body)
    expect_error(call("POST", "/open-api/pay/refund-notify", raw_body=raw, headers=headers), 1_002_003_003)
    assert (
        sql_scalar(
            "SELECT count(*) FROM biz_refund_callback WHERE outcome = 'REJECTED' AND raw_body LIKE :b",
            {"b": f"%{body['id']}%"},
        )
        == 1
    )


# -------------------------------------------------------------------------------------- USAGE --
def test_a_usage_correction_is_priced_again_by_the_tariff_and_the_difference_billed(
    admin: str, admin_id: int, dept: int
) -> None:
    """Given a bill for 20 m3, when its usage is corrected by -5 m3, then the difference between the
    tariff's lines for 15 and for 20 m3 is a credit ADJUST bill (negative, settled into the balance) with
    one line per component and tier that changed; a correction below 0 m3 in all is 400 naming
    adjustUsage."""
    from waterrev.db import UnitOfWork
    from waterrev.pricing.config import load_tariff
    from waterrev.pricing.tariff import price, total

    cust, (bill,) = new_bills(admin, ["2022-06"], dept_id=dept)
    usage = Decimal(bill["usage_amount"])
    with UnitOfWork() as uow:
        tariff = load_tariff(uow, int(bill["price_template_id"]))
        population = int(sql_scalar("SELECT population FROM biz_cust WHERE id = :c", {"c": cust}))
    expected = total(price(tariff, usage - 5, population)) - total(price(tariff, usage, population))

    reply = ask(admin, bill["id"], admin_id, "USAGE", adjustUsage="-5")
    assert reply.code == 0, reply.body
    new = charge_row(reply.data["newChargeId"])
    assert new["total_amount"] == expected < 0 and new["status"] == "PAID"
    assert reply.data["adjustUsage"] == "-5.00"
    expect_error(
        ask(admin, bill["id"], admin_id, "USAGE", adjustUsage=str(-usage)), 400, mentions="adjustUsage"
    )
    ledger_holds(cust)


# ---------------------------------------------------------------------------- penalty waivers --
def test_a_penalty_waiver_is_decided_through_the_adjustment_approval(
    admin: str, admin_id: int, approver: str
) -> None:
    """Given a penalty waiver request (JM...), when the approver approves it on the adjustment route, then
    it is answered as an adjustment (adjustType PENALTY_WAIVER, SUCCESS) and the waiver is APPROVED; it is
    listed by the adjustment page."""
    import datetime as dt

    from tests.integration.test_penalty import one_bill, penalised_dept
    from tests.integration.test_penalty_waiver import ask as ask_waiver
    from waterrev import clock

    dept = penalised_dept(admin)
    cust, bill, _ = one_bill(admin, dept)
    original = clock.today
    clock.today = lambda: dt.date(2020, 3, 1)  # type: ignore[assignment]
    try:
        waiver = ask_waiver(admin, bill["id"], admin_id)
        assert waiver.code == 0, waiver.body
        listed = call(
            "GET", f"{ADJUST}/page", token=approver, query=f"custId={cust}&resultStatus=PENDING_APPROVAL"
        )
        approved = decide(approver, "approve", waiver.data["adjustmentNo"])
    finally:
        clock.today = original  # type: ignore[assignment]
    assert [i["adjustType"] for i in listed.data["list"]] == ["PENALTY_WAIVER"]
    assert (approved.data["adjustType"], approved.data["resultStatus"]) == ("PENALTY_WAIVER", "SUCCESS"), (
        approved.body
    )
    assert (
        sql_scalar(
            "SELECT status FROM biz_penalty_waiver WHERE waiver_no = :n", {"n": waiver.data["adjustmentNo"]}
        )
        == "APPROVED"
    )


# --------------------------------------------------------------------------------- the check --
def test_the_nightly_check_records_each_run_and_names_a_customer_whose_money_does_not_add_up(
    admin: str, dept: int
) -> None:
    """Given a customer whose balance was raised by hand (money from nowhere), then the check names it with
    the difference; the scheduled handler with its sample event records a run and publishes the metric
    LedgerViolations (embedded metric format)."""
    import io
    import pathlib
    from contextlib import redirect_stdout

    from functions.job_ledger_check.handler import handler
    from waterrev.accounting import ledger
    from waterrev.context import SYSTEM, RequestContext
    from waterrev.local.gateway import FakeLambdaContext

    cust, (bill,) = new_bills(admin, ["2022-07"], dept_id=dept)
    pay_cash(admin, cust, [bill["id"]], due_of(bill))
    ledger_holds(cust)
    sql_exec("UPDATE biz_account SET balance = balance + 1.23 WHERE cust_id = :c", {"c": cust})

    found = ledger.check(RequestContext(request_id="t", principal=SYSTEM), [cust])
    assert found["violations"] == 1
    assert (
        found["customersBroken"][0]["custId"] == cust and found["customersBroken"][0]["difference"] == "-1.23"
    )
    sql_exec("UPDATE biz_account SET balance = balance - 1.23 WHERE cust_id = :c", {"c": cust})

    event = json.loads(
        (pathlib.Path(__file__).parents[2] / "events/job_ledger_check/scheduled.json").read_text()
    )
    out = io.StringIO()
    with redirect_stdout(out):
        summary = handler(event, FakeLambdaContext("job_ledger_check"))
    assert (
        sql_scalar("SELECT violations FROM biz_ledger_check WHERE id = :i", {"i": summary["checkId"]})
        == summary["violations"]
    )
    emf = [json.loads(line) for line in out.getvalue().splitlines() if '"_aws"' in line]
    assert (emf and emf[-1]["LedgerViolations"] == [float(summary["violations"])]) or emf[-1][
        "LedgerViolations"
    ] == summary["violations"]


def test_a_lost_refund_notification_is_made_good_by_the_compensation_job(
    admin: str, admin_id: int, approver: str, dept: int, sys009: Any
) -> None:
    """Given a reversed online payment whose refund SYS-009 settled without its notification arriving, when
    the scheduled compensation job runs with its sample event, then it queries SYS-009 and the refund is
    SUCCESS; a later FAIL notification for it (correctly signed) changes nothing: the first final status
    stands."""
    import pathlib

    from functions.job_pay_compensate.handler import handler
    from waterrev.local.gateway import FakeLambdaContext

    cust, bills, order = online_payment(admin, sys009, dept, ["2022-09"])
    sys009.behaviour(dropNotifications=True)
    asked = ask(admin, bills[0]["id"], admin_id, "REVERSE", sourceTradeNo=order["tradeNo"])
    refund_no = decide(approver, "approve", asked.data["adjustmentNo"]).data["refundNo"]
    sys009.finish_refunds()
    assert sql_scalar("SELECT status FROM biz_refund WHERE refund_no = :n", {"n": refund_no}) == "PROCESSING"
    sql_exec(
        "UPDATE biz_refund SET next_try_time = now() - interval '1 minute' WHERE refund_no = :n",
        {"n": refund_no},
    )
    event = json.loads(
        (pathlib.Path(__file__).parents[2] / "events/job_pay_compensate/scheduled.json").read_text()
    )

    counts = handler(event, FakeLambdaContext("job_pay_compensate"))

    assert counts["refunds"]["settled"] >= 1
    assert sql_scalar("SELECT status FROM biz_refund WHERE refund_no = :n", {"n": refund_no}) == "SUCCESS"
    late = {
        "id": unique("n"),
        "eventType": "REFUND",
        "refundNo": refund_no,
        "tradeNo": order["tradeNo"],
        "refundAmount": "1.00",
        "refundStatus": "FAIL",
        "notifyTime": "2026-12-05T09:00:00+08:00",
    }
    headers, raw = signed_notification(sys009._keys[-1].private_pem, late)
    answer = call("POST", "/open-api/pay/refund-notify", raw_body=raw, headers=headers)
    assert answer.code == 0 and answer.data["refundStatus"] == "SUCCESS", answer.body
    assert sql_scalar("SELECT status FROM biz_refund WHERE refund_no = :n", {"n": refund_no}) == "SUCCESS"
    ledger_holds(cust)


def test_only_a_waiver_approver_decides_a_waiver_on_the_adjustment_route(admin: str) -> None:
    """Given a user who may approve adjustments but not penalty waivers, when it approves a JM number on the
    adjustment route, then 403 and the waiver is untouched."""
    token = admin_login(
        new_admin_user(permissions=("revenue:adjust:approve",), data_scope="ALL"), "Passw0rd!"
    )
    expect_error(decide(token, "approve", "JM2026120500000001"), 403, mentions="revenue:penalty:approve")


def test_a_refund_decided_by_the_payment_exception_review_is_paid_through_sys009(
    admin: str, sys009: Any
) -> None:
    """Given money that arrived for a bill paid elsewhere (PAID_ELSEWHERE, on the balance), when the review
    decides REFUND, then a booked SYS009 refund is PENDING in the same transaction; the compensation job
    sends it to SYS-009, whose signed refund notification settles it SUCCESS, and the exception shows
    refundStatus SUCCESS; the ledger holds."""
    from tests.integration.test_payment_review import paid_elsewhere, resolve
    from waterrev.accounting import refunds

    sys009.behaviour(dropNotifications=True)
    order, (bill,), exception_id = paid_elsewhere(admin, sys009, ["2022-10"])
    sys009.pay(order["tradeNo"])  # the platform's side of the trade: paid
    decided = resolve(admin, exception_id, "REFUND", "客户要求退回重复支付")
    assert decided.code == 0 and decided.data["refundStatus"] == "PENDING", decided.body
    (refund,) = sql_all("SELECT * FROM biz_refund WHERE exception_id = :e", {"e": exception_id})
    assert (refund["status"], refund["method"], refund["booked"]) == ("PENDING", "SYS009", True)
    sys009.behaviour(dropNotifications=False)

    assert refunds.compensate()["sent"] >= 1
    sys009.finish_refunds()

    wait_for(
        lambda: (
            sql_scalar(
                "SELECT refund_status FROM bk_transaction_exception WHERE id = :e", {"e": exception_id}
            )
            == "SUCCESS"
        ),
        what="the review's refund settled",
    )
    assert sql_scalar("SELECT status FROM biz_refund WHERE id = :r", {"r": refund["id"]}) == "SUCCESS"
    ledger_holds(int(bill["cust_id"]))


def test_a_refund_call_that_times_out_is_sent_again_with_the_same_refund_number(
    admin: str, admin_id: int, approver: str, dept: int, sys009: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Given SYS-009 answering the refund call too late (it took the refund all the same), when a reversal is
    approved, then the refund stays PENDING with the error kept; when the compensation job sends it again
    with the same refundNo, SYS-009 answers the refund it already has (one refund there), it is PROCESSING,
    and its notification settles it SUCCESS."""
    from waterrev.accounting import refunds
    from waterrev.adapters import sys009 as adapter
    from waterrev.settings import get_settings

    s = get_settings()
    impatient = adapter.Sys009Client(
        s.sys009_base_url or "", s.sys009_app_id or "", s.sys009_app_secret or "", timeout_s=0.3
    )
    monkeypatch.setattr(adapter, "client_from_settings", lambda: impatient)
    cust, bills, order = online_payment(admin, sys009, dept, ["2022-11"])
    sys009.behaviour(timeoutSeconds=1)
    asked = ask(admin, bills[0]["id"], admin_id, "REVERSE", sourceTradeNo=order["tradeNo"])
    approved = decide(approver, "approve", asked.data["adjustmentNo"])
    refund_no = approved.data["refundNo"]
    assert approved.data["refundStatus"] == "PENDING", approved.body
    assert "no answer" in sql_scalar(
        "SELECT last_error FROM biz_refund WHERE refund_no = :n", {"n": refund_no}
    )
    sys009.behaviour(timeoutSeconds=0)
    sql_exec("UPDATE biz_refund SET next_try_time = now() WHERE refund_no = :n", {"n": refund_no})

    assert refunds.compensate()["sent"] >= 1

    assert sql_scalar("SELECT status FROM biz_refund WHERE refund_no = :n", {"n": refund_no}) == "PROCESSING"
    assert sys009.refund(refund_no)["refundStatus"] == "PROCESSING"
    sys009.finish_refunds()
    wait_for(
        lambda: (
            sql_scalar("SELECT status FROM biz_refund WHERE refund_no = :n", {"n": refund_no}) == "SUCCESS"
        ),
        what="refund SUCCESS",
    )
    ledger_holds(cust)
