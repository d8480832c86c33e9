"""IF-REV-006 扩展: the bills a counter can collect (GET /admin-api/revenue/collection/charge/page). Counter
collection names its bills by id, so the clerk looks one customer's bills up first (by custId or custCode):
arrears first, oldest unpaid period on top, each with what it still owes and the live online/QR order that
holds it; paged as the seed pages; within the clerk's data scope, outside which a customer reads as one that
does not exist; under its own permission revenue:collection:query."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from tests.support import (
    TAIJIANG_DEPT,
    admin_login,
    call,
    expect_error,
    new_admin_user,
    new_bills,
    set_allow_partial,
    sql_scalar,
)

PAGE = "/admin-api/revenue/collection/charge/page"
COLLECT = "/admin-api/revenue/collection/create"


@pytest.fixture
def partial_allowed(admin: str) -> Iterator[None]:
    set_allow_partial(admin, True)
    try:
        yield
    finally:
        set_allow_partial(admin, False)


def pay(token: str, cust: int, bill: dict[str, Any], amount: Any) -> None:
    body = {"custId": cust, "chargeIds": [bill["id"]], "paymentChannel": "CASH", "paymentAmount": str(amount)}
    reply = call("POST", COLLECT, body, token=token)
    assert reply.code == 0, reply.body


def cust_code(cust: int) -> str:
    return str(sql_scalar("SELECT code FROM biz_cust WHERE id = :c", {"c": cust}))


def test_a_customers_bills_come_arrears_first_oldest_first_with_what_each_owes_and_its_live_order(
    admin: str, sys009: Any, partial_allowed: None
) -> None:
    """Given a customer with five monthly bills - 01 and 05 paid, 03 part-paid, 04 held by a live counter QR
    order, 02 unpaid - when the clerk asks for its bills by custId, then 02, 03, 04 (arrears, oldest first)
    and then 05, 01 (paid, newest first), each with its total, paid and unpaid amounts, its status, its due
    date and, for 04 only, the order holding it; by custCode the same page."""
    admin_id = int(sql_scalar("SELECT id FROM system_users WHERE username = 'admin'"))
    cust, bills = new_bills(admin, ["2023-01", "2023-02", "2023-03", "2023-04", "2023-05"])
    b01, b02, b03, b04, b05 = bills
    pay(admin, cust, b01, b01["total_amount"])
    pay(admin, cust, b05, b05["total_amount"])
    pay(admin, cust, b03, Decimal("1.00"))
    order = call(
        "POST",
        "/admin-api/counter/scan-pay/create",
        {
            "counterCode": "GL-01",
            "chargeIds": [b04["id"]],
            "paymentChannel": "WECHAT",
            "orderAmount": str(b04["total_amount"]),
            "operatorId": admin_id,
        },
        token=admin,
    )
    assert order.code == 0, order.body

    by_id = call("GET", PAGE, query=f"custId={cust}", token=admin)
    by_code = call("GET", PAGE, query=f"custCode={cust_code(cust)}", token=admin)

    assert by_id.code == 0, by_id.body
    page = by_id.data
    assert (page["total"], page["pageNo"], page["pageSize"]) == (5, 1, 10)
    assert [i["chargeId"] for i in page["list"]] == [b["id"] for b in (b02, b03, b04, b05, b01)]
    shown = {i["chargeId"]: i for i in page["list"]}
    assert [shown[b["id"]]["payStatus"] for b in (b02, b03, b04, b05, b01)] == [
        "UNPAID",
        "PARTIAL",
        "UNPAID",
        "PAID",
        "PAID",
    ]
    part = shown[b03["id"]]
    assert (Decimal(part["totalAmount"]), part["paidAmount"]) == (Decimal(b03["total_amount"]), "1.00")
    assert Decimal(part["unpaidAmount"]) == Decimal(b03["total_amount"]) - 1
    assert shown[b05["id"]]["unpaidAmount"] == "0.00"
    assert shown[b02["id"]]["unpaidAmount"] == f"{Decimal(b02['total_amount']):.2f}"
    assert (
        shown[b02["id"]]["dueDate"] == b02["due_date"].isoformat()
        and shown[b02["id"]]["billPeriod"] == "2023-02"
    )
    assert shown[b04["id"]]["liveOrder"] == order.data["bizOrderNo"]
    assert [i["liveOrder"] for i in page["list"] if i["chargeId"] != b04["id"]] == [None] * 4
    assert {(i["custId"], i["custCode"]) for i in page["list"]} == {(cust, cust_code(cust))}
    assert by_code.code == 0 and by_code.data == page


def test_bills_are_filtered_by_status_and_period_and_paged(admin: str) -> None:
    """Given a customer with three bills, the oldest paid, when the clerk asks for UNPAID ones, for one
    period, and for page 2 of size 1, then only those bills, with the page's total, pageNo and pageSize."""
    cust, (old, mid, new) = new_bills(admin, ["2023-06", "2023-07", "2023-08"])
    pay(admin, cust, old, old["total_amount"])

    unpaid = call("GET", PAGE, query=f"custId={cust}&chargeStatus=UNPAID", token=admin)
    paid = call("GET", PAGE, query=f"custId={cust}&chargeStatus=PAID", token=admin)
    period = call("GET", PAGE, query=f"custId={cust}&billPeriod=2023-08", token=admin)
    second = call("GET", PAGE, query=f"custId={cust}&pageNo=2&pageSize=1", token=admin)

    assert [i["chargeId"] for i in unpaid.data["list"]] == [mid["id"], new["id"]] and unpaid.data[
        "total"
    ] == 2
    assert [i["chargeId"] for i in paid.data["list"]] == [old["id"]]
    assert [i["chargeId"] for i in period.data["list"]] == [new["id"]] and period.data["total"] == 1
    assert second.data == {"list": second.data["list"], "total": 3, "pageNo": 2, "pageSize": 1}
    assert [i["chargeId"] for i in second.data["list"]] == [new["id"]]


def test_a_customer_outside_the_data_scope_reads_as_one_that_does_not_exist(admin: str) -> None:
    """Given a 鼓楼 customer with a bill and a 台江 clerk who may see only 台江, when the clerk asks for the
    customer's bills by custId or custCode, then 1_002_001_001 naming only what was asked - exactly the
    answer for a custId or custCode nobody has."""
    cust, _ = new_bills(admin, ["2023-09"])
    taijiang = admin_login(
        new_admin_user(
            dept_id=TAIJIANG_DEPT, data_scope="DEPT_ONLY", permissions=("revenue:collection:query",)
        ),
        "Passw0rd!",
    )
    absent_id = int(sql_scalar("SELECT max(id) + 1000 FROM biz_cust"))
    code = cust_code(cust)

    for asked, nobody in (
        (f"custId={cust}", f"custId={absent_id}"),
        (f"custCode={code}", "custCode=NO-SUCH-CUST"),
    ):
        theirs = call("GET", PAGE, query=asked, token=taijiang)
        nothing = call("GET", PAGE, query=nobody, token=taijiang)
        expect_error(theirs, 1_002_001_001, mentions=asked)
        expect_error(nothing, 1_002_001_001, mentions=nobody)
        assert (theirs.status, theirs.data) == (nothing.status, nothing.data)
        assert theirs.msg.replace(asked, "<asked>") == nothing.msg.replace(nobody, "<asked>")


def test_the_query_needs_a_customer_and_both_keys_must_name_the_same_one(admin: str) -> None:
    """Given two customers, when no customer is named, then 400 naming custId / custCode; when custId names
    one and custCode the other, then 1_002_001_001 naming both as asked."""
    cust_a, _ = new_bills(admin, ["2023-10"])
    cust_b, _ = new_bills(admin, ["2023-10"])

    none = call("GET", PAGE, query="chargeStatus=UNPAID", token=admin)
    crossed = call("GET", PAGE, query=f"custId={cust_a}&custCode={cust_code(cust_b)}", token=admin)

    expect_error(none, 400, mentions="custId / custCode")
    expect_error(crossed, 1_002_001_001, mentions=f"custId={cust_a}, custCode={cust_code(cust_b)}")


def test_reading_bills_needs_revenue_collection_query_which_the_demo_clerk_holds(admin: str) -> None:
    """Given a user who may collect (revenue:collection:create) but not read bills, when it asks for a
    customer's bills, then 403 naming revenue:collection:query; the demo clerk gulou (counter_clerk) holds it
    and reads its dept's customer."""
    cust, (bill,) = new_bills(admin, ["2023-11"])
    collector = admin_login(new_admin_user(permissions=("revenue:collection:create",)), "Passw0rd!")

    refused = call("GET", PAGE, query=f"custId={cust}", token=collector)
    clerk = call("GET", PAGE, query=f"custId={cust}", token=admin_login("gulou", "gulou123"))

    expect_error(refused, 403, mentions="revenue:collection:query")
    assert clerk.code == 0 and [i["chargeId"] for i in clerk.data["list"]] == [bill["id"]], clerk.body
