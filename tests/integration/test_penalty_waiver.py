"""Penalty waivers under IF-REV-007 (违约金减免): a recorded request that takes effect only when a second
person with the approval permission approves it - never the requester, also in the database; the waived
amount lowers what the bill owes everywhere; a waiver of all that was left settles a bill whose water fee
was paid; one open request per bill (the same request again is a replay, another one a conflict);
decisions are idempotent and final; out of data scope reads as absent; audited."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy.exc import DBAPIError

from tests.integration.test_penalty import (
    RATE,
    collect,
    counter_row,
    one_bill,
    penalised_dept,
    rounded,
)
from tests.support import (
    TAIJIANG_DEPT,
    admin_login,
    audit_rows,
    call,
    charge_row,
    expect_error,
    new_admin_user,
    sql_all,
    sql_scalar,
    sql_scratch,
)

WAIVER = "/admin-api/revenue/accounting/penalty-waiver"
APPROVER_PERMISSIONS = ("revenue:penalty:approve", "revenue:penalty:query", "revenue:collection:query")


def user_id(token_user: str) -> int:
    return int(sql_scalar("SELECT id FROM system_users WHERE username = :u", {"u": token_user}))


@pytest.fixture(scope="module")
def approver() -> str:
    """A second person: may approve waivers (data scope ALL), may not ask for them."""
    return admin_login(new_admin_user(permissions=APPROVER_PERMISSIONS, data_scope="ALL"), "Passw0rd!")


def ask(token: str, charge_id: int, operator: int, **extra: Any) -> Any:
    body = {
        "chargeId": charge_id,
        "adjustType": "PENALTY_WAIVER",
        "reasonCode": "HARDSHIP",
        "operatorId": operator,
    }
    return call("POST", WAIVER, {**body, **extra}, token=token)


def decide(token: str, action: str, waiver_no: str, remark: str = "已核实") -> Any:
    return call("POST", f"{WAIVER}/{action}", {"adjustmentNo": waiver_no, "remark": remark}, token=token)


@pytest.fixture(scope="module")
def admin_id() -> int:
    return user_id("admin")


def test_a_waiver_takes_effect_only_when_a_second_person_approves_it(
    admin: str, admin_id: int, approver: str, on: Any
) -> None:
    """Given a bill owing a penalty, when the admin asks to waive 0.20 of it, then PENDING_APPROVAL and the
    bill still owes all of it; the admin approving its own request is 403; the second person approving it
    makes it SUCCESS: the bill owes 0.20 less (waivedAmount 0.20 as of that day), audited; approving again
    answers the same (replay) and rejecting it now is 1_002_004_001 with the current state."""
    dept = penalised_dept(admin)
    cust, bill, principal = one_bill(admin, dept)
    on(dt.date(2020, 3, 1))
    penalty = rounded(principal * RATE * 10)
    part = Decimal("0.20")
    assert penalty > part

    asked = ask(
        admin, bill["id"], admin_id, adjustAmount=str(part), remark="困难户，身份证 350102199001011238"
    )
    assert asked.code == 0, asked.body
    no = asked.data["adjustmentNo"]
    assert (asked.data["resultStatus"], asked.data["writeBackStatus"], asked.data["approvalRequired"]) == (
        "PENDING_APPROVAL",
        "PENDING",
        True,
    )
    assert Decimal(asked.data["penaltyOwed"]) == penalty and "350102199001011238" not in asked.data["remark"]
    assert Decimal(counter_row(admin, cust, bill["id"])["penaltyAmount"]) == penalty

    own = decide(admin, "approve", no)
    approved = decide(approver, "approve", no)
    again = decide(approver, "approve", no)
    rejected = decide(approver, "reject", no)

    expect_error(own, 403, mentions="申请人以外")
    assert approved.code == 0, approved.body
    assert (
        approved.data["resultStatus"],
        approved.data["writeBackStatus"],
        approved.data["waiverStatus"],
    ) == (
        "SUCCESS",
        "SUCCESS",
        "APPROVED",
    )
    assert approved.data["waivedAmount"] == f"{part}" and approved.data["penaltyAsOf"] == "2020-03-01"
    assert approved.data["decidedBy"] != approved.data["requestedBy"] and approved.data["replay"] is False
    assert again.code == 0 and again.data["replay"] is True
    expect_error(rejected, 1_002_004_001)
    assert rejected.data["waiverStatus"] == "APPROVED"
    row = counter_row(admin, cust, bill["id"])
    assert (
        Decimal(row["penaltyAmount"]) == penalty - part
        and Decimal(row["dueAmount"]) == principal + penalty - part
    )
    waiver_id = sql_scalar("SELECT id FROM biz_penalty_waiver WHERE waiver_no = :n", {"n": no})
    assert [a["operation"] for a in audit_rows("biz_penalty_waiver", waiver_id)] == [
        "PENALTY_WAIVER_REQUEST",
        "PENALTY_WAIVER_APPROVE",
    ]
    paid = collect(admin, cust, [bill["id"]], principal + penalty - part)
    assert paid.code == 0 and paid.data["writeOffStatus"] == "SUCCESS", paid.body


def test_the_database_refuses_the_requester_as_approver() -> None:
    """Given a pending waiver row, setting it APPROVED by the user who asked for it violates a constraint."""
    with sql_scratch() as uow:
        bill = uow.one("SELECT id, cust_id FROM biz_charge ORDER BY id LIMIT 1")
        assert bill is not None
        with pytest.raises(DBAPIError, match="ck_penalty_waiver_second_person"):
            uow.execute(
                "INSERT INTO biz_penalty_waiver (waiver_no, charge_id, cust_id, penalty_owed, reason_code,"
                " requested_by, status, decided_by, waived_amount)"
                " VALUES ('JM0000000000000001', :c, :k, 1, 'X', 7, 'APPROVED', 7, 1)",
                {"c": bill["id"], "k": bill["cust_id"]},
            )


def test_whole_waiver_of_a_paid_water_fee_settles_the_bill(
    admin: str, admin_id: int, approver: str, on: Any
) -> None:
    """Given principal first and a bill whose water fee was paid, leaving only its penalty (PARTIAL), when a
    waiver of the whole penalty is approved, then the bill is PAID and owes nothing."""
    dept = penalised_dept(
        admin,
        **{"revenue.collection.allow-partial": "true", "revenue.penalty.coverage": "PRINCIPAL_FIRST"},
    )
    cust, bill, principal = one_bill(admin, dept)
    on(dt.date(2020, 3, 1))
    assert collect(admin, cust, [bill["id"]], principal).code == 0
    assert charge_row(bill["id"])["status"] == "PARTIAL"

    asked = ask(admin, bill["id"], admin_id)
    approved = decide(approver, "approve", asked.data["adjustmentNo"])

    assert asked.code == 0 and asked.data["adjustAmount"] is None, asked.body
    assert approved.code == 0 and approved.data["waivedAmount"] == asked.data["penaltyOwed"], approved.body
    assert approved.data["payStatus"] == "PAID" and charge_row(bill["id"])["status"] == "PAID"
    assert counter_row(admin, cust, bill["id"])["dueAmount"] == "0.00"


def test_one_open_request_per_bill_and_what_cannot_be_waived(
    admin: str, admin_id: int, approver: str, on: Any
) -> None:
    """Given a bill owing a penalty: the same request again is a replay of it; another request while it is
    open is 1_002_004_001 naming it; more than is owed is 1_002_004_001; operatorId must be the caller
    (403); a bill without a penalty, or within its grace period, has nothing to waive (1_002_004_001);
    after a rejection a new request may be made."""
    dept = penalised_dept(admin)
    _, bill, principal = one_bill(admin, dept)
    on(dt.date(2020, 3, 1))
    penalty = rounded(principal * RATE * 10)

    first = ask(admin, bill["id"], admin_id, adjustAmount="0.50")
    same = ask(admin, bill["id"], admin_id, adjustAmount="0.50")
    other = ask(admin, bill["id"], admin_id, adjustAmount="0.60")
    too_much = ask(admin, bill["id"], admin_id, adjustAmount=str(penalty + 1))
    not_me = ask(admin, bill["id"], admin_id + 999)

    assert first.code == 0 and same.code == 0 and same.data["replay"] is True, same.body
    assert same.data["adjustmentNo"] == first.data["adjustmentNo"]
    expect_error(other, 1_002_004_001, mentions=first.data["adjustmentNo"])
    expect_error(too_much, 1_002_004_001)  # the open request is reported first
    expect_error(not_me, 403, mentions="operatorId")
    rejected = decide(approver, "reject", first.data["adjustmentNo"], "依据不足")
    assert rejected.code == 0 and rejected.data["resultStatus"] == "FAIL", rejected.body
    assert decide(approver, "approve", first.data["adjustmentNo"]).code == 1_002_004_001
    expect_error(
        ask(admin, bill["id"], admin_id, adjustAmount=str(penalty + 1)), 1_002_004_001, mentions="超过"
    )
    on(dt.date(2020, 2, 18))
    expect_error(ask(admin, bill["id"], admin_id), 1_002_004_001, mentions="无应缴违约金")


def test_a_bill_in_a_live_order_is_not_waived_until_the_order_ends(
    admin: str, admin_id: int, approver: str, on: Any, sys009: Any
) -> None:
    """Given a waiver request and then a live online order for the bill (which asks for the penalty), the
    approval is refused (1_002_004_001 naming the order): the order would book a penalty no longer owed."""
    from tests.integration.test_pay_orders import bound_member

    dept = penalised_dept(admin)
    cust, bill, _ = one_bill(admin, dept)
    on(dt.date(2020, 3, 1))
    due = Decimal(counter_row(admin, cust, bill["id"])["dueAmount"])
    asked = ask(admin, bill["id"], admin_id)
    member = bound_member(cust)
    order = call(
        "POST",
        "/app-api/customer/payment/order",
        {"custId": cust, "chargeIds": [bill["id"]], "paymentChannel": "WECHAT", "paymentAmount": str(due)},
        token=member,
    )
    assert order.code == 0, order.body

    refused = decide(approver, "approve", asked.data["adjustmentNo"])

    expect_error(refused, 1_002_004_001, mentions=order.data["bizOrderNo"])
    assert sql_scalar(
        "SELECT status FROM biz_penalty_waiver WHERE waiver_no = :n", {"n": asked.data["adjustmentNo"]}
    ) == ("PENDING")


def test_out_of_scope_reads_as_absent_and_the_page_keeps_to_the_scope(
    admin: str, admin_id: int, on: Any
) -> None:
    """Given a waiver on a bill of a dept outside a clerk's data scope, the clerk asking for it or deciding
    it gets 404 as for one that does not exist, and its page does not list it; the admin's page does. A
    user without the approval permission cannot approve (403)."""
    dept = penalised_dept(admin)
    _, bill, _ = one_bill(admin, dept)
    on(dt.date(2020, 3, 1))
    asked = ask(admin, bill["id"], admin_id)
    assert asked.code == 0, asked.body
    clerk_name = new_admin_user(dept_id=TAIJIANG_DEPT)
    clerk = admin_login(clerk_name, "Passw0rd!")
    asker = admin_login(new_admin_user(permissions=("revenue:penalty:waive",), data_scope="ALL"), "Passw0rd!")

    theirs = ask(clerk, bill["id"], user_id(clerk_name))
    decided = decide(clerk, "approve", asked.data["adjustmentNo"])
    missing = decide(clerk, "approve", "JM2099010100000000")
    page = call("GET", f"{WAIVER}/page", token=clerk, query=f"chargeId={bill['id']}")
    all_page = call("GET", f"{WAIVER}/page", token=admin, query=f"chargeId={bill['id']}&status=PENDING")
    unpermitted = decide(asker, "approve", asked.data["adjustmentNo"])

    expect_error(theirs, 404, mentions=f"chargeId: 账单 {bill['id']} 不存在")
    expect_error(decided, 404)
    assert decided.msg.replace(asked.data["adjustmentNo"], "X") == missing.msg.replace(
        "JM2099010100000000", "X"
    )
    assert page.code == 0 and page.data["total"] == 0 and page.data["list"] == []
    assert all_page.code == 0 and [w["adjustmentNo"] for w in all_page.data["list"]] == [
        asked.data["adjustmentNo"]
    ]
    expect_error(unpermitted, 403)
    assert sql_all("SELECT status FROM biz_penalty_waiver WHERE charge_id = :c", {"c": bill["id"]}) == [
        {"status": "PENDING"}
    ]
