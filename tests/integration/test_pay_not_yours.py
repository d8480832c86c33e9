"""Payment orders that are not the caller's answer exactly as orders that are not there: a customer asking
for another customer's online order (IF-CS-003), or ordering another customer's bills or for another
customer, and a back-office user asking for a counter QR order (IF-CS-007) of a customer outside its data
scope, get the reply a missing one gets - same HTTP status, same code, a message naming only what was
asked for, no data. Order numbers are sequential: any other answer would let them be walked to learn
which orders exist and whose they are."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from tests.support import (
    TAIJIANG_DEPT,
    Reply,
    admin_login,
    bind,
    call,
    call_raw,
    channel_login,
    expect_error,
    new_admin_user,
    new_bills,
    sql_scalar,
    unique,
)

ORDER = "/app-api/customer/payment/order"
SCAN = "/admin-api/counter/scan-pay"
ABSENT_ORDER = "DD2000010199999999"  # the shape of an order number; no order ever has it


def bound_member(cust_id: int) -> str:
    openid = unique("wx-nys-")
    token = channel_login(openid)
    assert bind(token, openid, cust_id).code == 0
    return token


def order_body(cust: int, bill_ids: list[int], amount: Any) -> dict[str, Any]:
    return {"custId": cust, "chargeIds": bill_ids, "paymentChannel": "WECHAT", "paymentAmount": str(amount)}


def same_answer(mine: Reply, asked: str, absent: Reply, asked_absent: str) -> None:
    """The two replies are one reply, but for the value the caller asked for, which each names."""
    assert (mine.status, mine.code, mine.data) == (absent.status, absent.code, absent.data), (
        mine.body,
        absent.body,
    )
    assert asked in mine.msg and asked_absent in absent.msg, (mine.body, absent.body)
    assert mine.msg.replace(asked, "<asked>") == absent.msg.replace(asked_absent, "<asked>")


# ------------------------------------------------------------------------------ IF-CS-003 -----
def test_another_customers_order_reads_as_an_order_that_does_not_exist(admin: str, sys009: Any) -> None:
    """Given customer A's live online order and a WeChat user bound to customer B, when that user asks for
    A's order and for an order number nobody has, then both are 404 with code 404 and the message naming
    only the bizOrderNo asked for: never A's custId."""
    cust_a, (bill,) = new_bills(admin, ["2022-01"])
    cust_b, _ = new_bills(admin, ["2022-01"])
    order = call(
        "POST", ORDER, order_body(cust_a, [bill["id"]], bill["total_amount"]), token=bound_member(cust_a)
    )
    assert order.code == 0, order.body
    order_no = order.data["bizOrderNo"]
    stranger = bound_member(cust_b)

    theirs = call("GET", f"{ORDER}/{order_no}", token=stranger)
    nothing = call("GET", f"{ORDER}/{ABSENT_ORDER}", token=stranger)

    expect_error(theirs, 404, mentions=f"bizOrderNo: 订单 {order_no} 不存在")
    same_answer(theirs, order_no, nothing, ABSENT_ORDER)
    assert f"custId={cust_a}" not in theirs.msg and str(cust_a) not in theirs.msg


def test_ordering_for_another_customer_reads_as_ordering_for_one_that_does_not_exist(
    admin: str, sys009: Any
) -> None:
    """Given customer A with a bill and a WeChat user bound to customer B, when that user orders A's bill for
    A, and for a custId nobody has, then both are 1_002_001_002 naming only the custId asked for; no order
    is made."""
    cust_a, (bill,) = new_bills(admin, ["2022-02"])
    cust_b, _ = new_bills(admin, ["2022-02"])
    stranger = bound_member(cust_b)
    absent = int(sql_scalar("SELECT max(id) + 1000 FROM biz_cust"))

    theirs = call("POST", ORDER, order_body(cust_a, [bill["id"]], bill["total_amount"]), token=stranger)
    nobody = call("POST", ORDER, order_body(absent, [bill["id"]], bill["total_amount"]), token=stranger)

    expect_error(theirs, 1_002_001_002, mentions=f"custId={cust_a}")
    same_answer(theirs, str(cust_a), nobody, str(absent))
    assert sql_scalar("SELECT count(*) FROM bk_transaction WHERE cust_id = :c", {"c": cust_a}) == 0


def test_ordering_another_customers_bill_reads_as_ordering_a_bill_that_does_not_exist(
    admin: str, sys009: Any
) -> None:
    """Given customers A and B with a bill each and B's bound WeChat user, when that user orders A's bill
    for B, and a bill id nobody has, then both are 404 naming only the chargeIds asked for; no order is
    made and A's bill is not held."""
    cust_a, (bill_a,) = new_bills(admin, ["2022-03"])
    cust_b, _ = new_bills(admin, ["2022-03"])
    member = bound_member(cust_b)
    absent = int(sql_scalar("SELECT max(id) + 1000 FROM biz_charge"))

    theirs = call("POST", ORDER, order_body(cust_b, [bill_a["id"]], bill_a["total_amount"]), token=member)
    nothing = call("POST", ORDER, order_body(cust_b, [absent], bill_a["total_amount"]), token=member)

    expect_error(theirs, 404, mentions="chargeIds")
    same_answer(theirs, str(bill_a["id"]), nothing, str(absent))
    assert str(cust_a) not in theirs.msg
    assert sql_scalar("SELECT count(*) FROM bk_transaction WHERE cust_id = :c", {"c": cust_b}) == 0
    assert not sql_scalar(
        "SELECT bool_or(live) FROM biz_order_charge WHERE charge_id = :c", {"c": bill_a["id"]}
    )


# ------------------------------------------------------------------------------ IF-CS-007 -----
def test_a_counter_order_outside_the_data_scope_reads_as_one_that_does_not_exist(
    admin: str, sys009: Any
) -> None:
    """Given a 鼓楼 customer's counter QR order and a 台江 user who may only see 台江, when that user asks for
    its status, its QR image, its receipt or its renewal, and the same for an order number nobody has,
    then every pair is the same 404 naming only the bizOrderNo asked for - never the customer - and the
    order is not renewed."""
    admin_id = int(sql_scalar("SELECT id FROM system_users WHERE username = 'admin'"))
    cust, (bill,) = new_bills(admin, ["2022-04"])
    body = {
        "counterCode": "GL-01",
        "chargeIds": [bill["id"]],
        "paymentChannel": "WECHAT",
        "orderAmount": str(Decimal(bill["total_amount"])),
        "operatorId": admin_id,
    }
    created = call("POST", f"{SCAN}/create", body, token=admin)
    assert created.code == 0, created.body
    order_no = created.data["bizOrderNo"]
    taijiang = admin_login(new_admin_user(dept_id=TAIJIANG_DEPT, data_scope="DEPT_ONLY"), "Passw0rd!")

    for suffix in ("", "/receipt"):
        theirs = call("GET", f"{SCAN}/{order_no}{suffix}", token=taijiang)
        nothing = call("GET", f"{SCAN}/{ABSENT_ORDER}{suffix}", token=taijiang)
        expect_error(theirs, 404, mentions=f"bizOrderNo: 订单 {order_no} 不存在")
        same_answer(theirs, order_no, nothing, ABSENT_ORDER)
        assert str(cust) not in theirs.msg
    image = call_raw("GET", f"{SCAN}/{order_no}/qrcode", token=taijiang)
    no_image = call_raw("GET", f"{SCAN}/{ABSENT_ORDER}/qrcode", token=taijiang)
    assert (image["statusCode"], no_image["statusCode"]) == (404, 404), (image, no_image)
    assert image["body"].replace(order_no, "<asked>") == no_image["body"].replace(ABSENT_ORDER, "<asked>")
    renewed = call("POST", f"{SCAN}/renew", {"bizOrderNo": order_no}, token=taijiang)
    renew_nothing = call("POST", f"{SCAN}/renew", {"bizOrderNo": ABSENT_ORDER}, token=taijiang)
    same_answer(renewed, order_no, renew_nothing, ABSENT_ORDER)
    assert (
        sql_scalar("SELECT status FROM bk_transaction WHERE biz_order_no = :o", {"o": order_no}) == "PAYING"
    )
