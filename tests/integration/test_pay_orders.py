"""IF-CS-003 在线支付下单 and IF-CS-007 柜面扫码支付 against the SYS-009 simulator, and the compensation job:
orders for a bound customer's own bills, the same request answered with the same live order, bills in a
live order refused elsewhere, the counter QR made from the seed's request (counterCode, chargeIds,
paymentChannel, orderAmount, operatorId, scene) with writeBackStatus and msg, as a PNG, renewal closing
the old order at SYS-009 too, the receipt once paid; orders without a callback settled or closed by
`payments.compensate`."""

from __future__ import annotations

import base64
import datetime as dt
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.support import (
    TAIJIANG_DEPT,
    admin_login,
    bind,
    call,
    call_raw,
    channel_login,
    charge_row,
    expect_error,
    new_admin_user,
    new_bills,
    sql_all,
    sql_exec,
    sql_scalar,
    unique,
    wait_for,
)

ROOT = Path(__file__).resolve().parents[2]
ORDER = "/app-api/customer/payment/order"
SCAN = "/admin-api/counter/scan-pay"


@pytest.fixture(scope="module")
def admin_id() -> int:
    """The admin's user id: the operatorId of its counter QR orders."""
    return int(sql_scalar("SELECT id FROM system_users WHERE username = 'admin'"))


def bound_member(cust_id: int) -> str:
    openid = unique("wx-pay-")
    token = channel_login(openid)
    assert bind(token, openid, cust_id).code == 0
    return token


def order_body(cust: int, bills: list[dict[str, Any]], amount: Any = None, **extra: Any) -> dict[str, Any]:
    total = sum((Decimal(b["total_amount"]) for b in bills), Decimal("0"))
    return {
        "custId": cust,
        "chargeIds": [b["id"] for b in bills],
        "paymentChannel": "WECHAT",
        "paymentAmount": str(total if amount is None else amount),
        **extra,
    }


def scan_body(operator: int, bills: list[dict[str, Any]], amount: Any = None, **extra: Any) -> dict[str, Any]:
    """An IF-CS-007 request as the seed shapes it (scene left to its default)."""
    total = sum((Decimal(b["total_amount"]) for b in bills), Decimal("0"))
    return {
        "counterCode": "GL-01",
        "chargeIds": [b["id"] for b in bills],
        "paymentChannel": "WECHAT",
        "orderAmount": str(total if amount is None else amount),
        "operatorId": operator,
        **extra,
    }


def shown_time(value: str) -> dt.datetime:
    """A time as the envelope shows it: local (display zone), seconds, no offset."""
    from zoneinfo import ZoneInfo

    from waterrev.settings import get_settings

    return dt.datetime.strptime(value, "%Y-%m-%d %H:%M:%S").replace(
        tzinfo=ZoneInfo(get_settings().display_time_zone)
    )


def txn(order_no: str) -> dict[str, Any]:
    return sql_all("SELECT * FROM bk_transaction WHERE biz_order_no = :o", {"o": order_no})[0]


def settled(order_no: str, status: str = "SUCCESS") -> dict[str, Any]:
    return wait_for(lambda: (row := txn(order_no))["status"] == status and row, what=f"{order_no} {status}")


def ctx() -> Any:
    from waterrev.context import SYSTEM, RequestContext

    return RequestContext(request_id=unique("job-"), principal=SYSTEM)


def make_due(order_no: str, *, expired: bool = False) -> None:
    sql_exec(
        "UPDATE bk_transaction SET next_query_time = now() - interval '1 minute',"
        " expire_time = CASE WHEN :e THEN now() - interval '1 minute' ELSE expire_time END WHERE biz_order_no = :o",
        {"o": order_no, "e": expired},
    )


# ------------------------------------------------------------------------------ IF-CS-003 -----
def test_an_online_order_is_created_at_sys009_reused_and_settled_by_the_callback(
    admin: str, sys009: Any
) -> None:
    """Given a bound customer with two bills, when it orders both, then PAYING with tradeNo, payUrl,
    prepayInfo and an expireTime within 2 hours; the same request again is the same order; when SYS-009
    reports the payment, the callback writes both bills off and the order reads SUCCESS."""
    cust, bills = new_bills(admin, ["2020-01", "2020-02"])
    member = bound_member(cust)
    total = sum((Decimal(b["total_amount"]) for b in bills), Decimal("0"))

    first = call("POST", ORDER, order_body(cust, bills, openId="o-test-openid"), token=member)
    again = call("POST", ORDER, order_body(cust, bills, openId="o-test-openid"), token=member)

    assert first.code == 0, first.body
    order = first.data
    assert (
        order["orderStatus"] == "PAYING" and order["tradeNo"] and order["payUrl"].startswith(sys009.base_url)
    )
    assert (
        order["prepayInfo"]["package"].startswith("prepay_id=") and Decimal(order["paymentAmount"]) == total
    )
    expire = shown_time(order["expireTime"])
    assert dt.timedelta(0) < expire - dt.datetime.now(dt.UTC) <= dt.timedelta(hours=2)
    assert (
        again.code == 0 and again.data["bizOrderNo"] == order["bizOrderNo"] and again.data["reused"] is True
    )
    assert sql_scalar("SELECT count(*) FROM bk_transaction WHERE cust_id = :c", {"c": cust}) == 1
    assert sys009.trade(order["tradeNo"])["tradeAmount"] == f"{total:.2f}"

    sys009.pay(order["tradeNo"])
    row = settled(order["bizOrderNo"])

    assert row["success_amount"] == total and row["paid_time"] is not None
    assert [charge_row(b["id"])["status"] for b in bills] == ["PAID", "PAID"]
    status = call("GET", f"{ORDER}/{order['bizOrderNo']}", token=member)
    assert status.code == 0 and status.data["orderStatus"] == "SUCCESS"
    (collection,) = sql_all("SELECT * FROM biz_collection WHERE code = :o", {"o": order["bizOrderNo"]})
    assert (
        collection["source"] == "ONLINE"
        and collection["amount"] == total
        and collection["trade_no"] == order["tradeNo"]
    )


def test_a_bill_inside_a_live_order_cannot_be_paid_elsewhere(admin: str, sys009: Any) -> None:
    """Given a live online order for a bill, when the counter collects it or another order (other channel)
    is made for it, then both are 1_002_003_001 and the bill stays UNPAID."""
    cust, (bill,) = new_bills(admin, ["2020-03"])
    member = bound_member(cust)
    order = call("POST", ORDER, order_body(cust, [bill]), token=member)
    assert order.code == 0, order.body

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
    other = call("POST", ORDER, order_body(cust, [bill], paymentChannel="ALIPAY"), token=member)

    expect_error(counter, 1_002_003_001)
    assert counter.data[0]["liveOrder"] == order.data["bizOrderNo"]
    expect_error(other, 1_002_003_001)
    assert charge_row(bill["id"])["status"] == "UNPAID"
    assert sql_scalar("SELECT count(*) FROM biz_collection WHERE cust_id = :c", {"c": cust}) == 0


def test_an_amount_other_than_due_and_an_unbound_customer_are_refused(admin: str, sys009: Any) -> None:
    """Given a bill, when its bound owner orders it for 0.01 less, then 1_002_003_002 with the difference;
    when a WeChat user bound to nobody orders it, then 1_002_001_002; no order is made either way."""
    cust, (bill,) = new_bills(admin, ["2020-04"])
    member = bound_member(cust)
    stranger = channel_login(unique("wx-stranger-"))

    short = call(
        "POST", ORDER, order_body(cust, [bill], Decimal(bill["total_amount"]) - Decimal("0.01")), token=member
    )
    foreign = call("POST", ORDER, order_body(cust, [bill]), token=stranger)

    expect_error(short, 1_002_003_002)
    assert Decimal(short.data["difference"]) == Decimal("0.01")
    expect_error(foreign, 1_002_001_002)
    assert sql_scalar("SELECT count(*) FROM bk_transaction WHERE cust_id = :c", {"c": cust}) == 0


# ------------------------------------------------------------------------------ IF-CS-007 -----
def test_the_counter_qr_image_is_served_as_a_png(admin: str, admin_id: int, sys009: Any) -> None:
    """Given a counter QR order, when its qrImagePath is fetched, then 200 image/png whose bytes start with the
    PNG signature."""
    _, (bill,) = new_bills(admin, ["2020-09"])
    order = call("POST", f"{SCAN}/create", scan_body(admin_id, [bill]), token=admin)
    assert order.code == 0, order.body

    image = call_raw("GET", order.data["qrImagePath"], token=admin)

    assert image["statusCode"] == 200, image
    assert image["headers"]["Content-Type"] == "image/png"
    png = base64.b64decode(image["body"]) if image.get("isBase64Encoded") else image["body"].encode("latin-1")
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 200


def test_the_counter_qr_is_renewed_on_request_and_paid_with_a_receipt(
    admin: str, admin_id: int, sys009: Any
) -> None:
    """Given a bill, when the counter makes a QR order, then qrCode is the platform's code URL, the order
    expires within 2 h, and the receipt is 409 before payment; when renewed, the old order
    is CLOSED here and at SYS-009 (reading FAIL / FAIL) and a new one is live at the same counter; when the
    new one is paid, the bill is written off as at the counter and the receipt lists it."""
    _, (bill,) = new_bills(admin, ["2020-05"])
    due = Decimal(bill["total_amount"])

    created = call("POST", f"{SCAN}/create", scan_body(admin_id, [bill], counterCode="GL-07"), token=admin)

    assert created.code == 0, created.body
    old = created.data
    assert old["qrCode"].startswith("weixin://wxpay/bizpayurl?pr=") and old["qrCode"] == old["payUrl"]
    assert old["qrImagePath"] == f"{SCAN}/{old['bizOrderNo']}/qrcode"
    assert dt.timedelta(0) < shown_time(old["expireTime"]) - dt.datetime.now(dt.UTC) <= dt.timedelta(hours=2)
    early = call("GET", f"{SCAN}/{old['bizOrderNo']}/receipt", token=admin)
    expect_error(early, 409)
    assert early.data == {"orderStatus": "PAYING"}

    renewed = call("POST", f"{SCAN}/renew", {"bizOrderNo": old["bizOrderNo"]}, token=admin)

    assert renewed.code == 0, renewed.body
    new = renewed.data
    assert new["bizOrderNo"] != old["bizOrderNo"] and new["orderStatus"] == "PAYING"
    assert new["writeBackStatus"] == "PENDING" and txn(new["bizOrderNo"])["counter_code"] == "GL-07"
    assert (
        txn(old["bizOrderNo"])["status"] == "CLOSED"
        and sys009.trade(old["tradeNo"])["tradeStatus"] == "CLOSED"
    )
    closed = call("GET", f"{SCAN}/{old['bizOrderNo']}", token=admin)
    assert (closed.data["orderStatus"], closed.data["writeBackStatus"]) == ("FAIL", "FAIL"), closed.body
    status = call("GET", f"{SCAN}/{new['bizOrderNo']}", token=admin)
    assert status.code == 0 and status.data["orderStatus"] == "PAYING"

    sys009.pay(new["tradeNo"])
    settled(new["bizOrderNo"])
    receipt = call("GET", f"{SCAN}/{new['bizOrderNo']}/receipt", token=admin)

    assert charge_row(bill["id"])["status"] == "PAID"
    assert receipt.code == 0, receipt.body
    assert receipt.data["collectionCode"] == new["bizOrderNo"] and receipt.data["tradeNo"] == new["tradeNo"]
    assert Decimal(receipt.data["paidAmount"]) == due and Decimal(receipt.data["writtenOffAmount"]) == due
    assert [(b["chargeCode"], Decimal(b["amount"])) for b in receipt.data["bills"]] == [(bill["code"], due)]
    source = sql_scalar("SELECT source FROM biz_collection WHERE code = :o", {"o": new["bizOrderNo"]})
    assert source == "COUNTER_QR"
    again = call("POST", f"{SCAN}/renew", {"bizOrderNo": new["bizOrderNo"]}, token=admin)
    expect_error(again, 1_002_003_001)


def test_a_renewal_that_sys009_does_not_answer_in_time_is_a_504_and_keeps_the_order(
    admin: str, admin_id: int, sys009: Any, impatient_client: Any
) -> None:
    """Given a live counter QR order, when SYS-009 answers its close too late, then the renewal is 504 with
    the generic upstream-timeout code (not a SYS-010 message code: the seed has none for SYS-009), and the
    order is still live here: nothing was closed or made."""
    _, (bill,) = new_bills(admin, ["2020-05"])
    created = call("POST", f"{SCAN}/create", scan_body(admin_id, [bill]), token=admin)
    assert created.code == 0, created.body
    order = created.data["bizOrderNo"]

    sys009.behaviour(timeoutSeconds=1)
    try:
        renewed = call("POST", f"{SCAN}/renew", {"bizOrderNo": order}, token=admin)
    finally:
        sys009.behaviour(timeoutSeconds=0)

    expect_error(renewed, 504, mentions="SYS-009")
    assert txn(order)["status"] == "PAYING"
    assert sql_scalar("SELECT count(*) FROM biz_order_charge WHERE charge_id = :c", {"c": bill["id"]}) == 1


def test_a_seed_shaped_counter_request_answers_every_seed_field_and_writes_back_on_payment(
    admin: str, admin_id: int, sys009: Any
) -> None:
    """Given two bills of one customer, when the counter sends the seed's request (counterCode, chargeIds,
    paymentChannel, orderAmount, operatorId; scene defaulted), then bizOrderNo, tradeNo, qrCode, orderStatus
    PAYING, writeBackStatus PENDING and msg come back, the order records the counter, the operator and the
    scene COUNTER_QR; the same request with scene COUNTER_SCAN_PAY at another counter is the same live order;
    when the customer pays, the status reads SUCCESS / SUCCESS, both bills are PAID and the collection
    records the counter and its operator."""
    cust, bills = new_bills(admin, ["2021-01", "2021-02"])
    body = scan_body(admin_id, bills, counterCode="GL-03", paymentChannel="ALIPAY")

    created = call("POST", f"{SCAN}/create", body, token=admin)
    again = call(
        "POST", f"{SCAN}/create", body | {"counterCode": "GL-04", "scene": "COUNTER_SCAN_PAY"}, token=admin
    )

    assert created.code == 0, created.body
    order = created.data
    assert {"bizOrderNo", "tradeNo", "qrCode", "orderStatus", "writeBackStatus", "msg"} <= set(order)
    assert order["bizOrderNo"] and order["tradeNo"] and order["qrCode"] == order["payUrl"]
    assert (order["orderStatus"], order["writeBackStatus"]) == ("PAYING", "PENDING") and order["msg"]
    assert order["qrImagePath"] and order["expireTime"] and order["paymentChannel"] == "ALIPAY"
    row = txn(order["bizOrderNo"])
    assert (row["counter_code"], row["operator_id"], row["scene"], row["cust_id"]) == (
        "GL-03",
        admin_id,
        "COUNTER_QR",
        cust,
    )
    assert row["trade_amount"] == Decimal(body["orderAmount"]) and order["orderAmount"] == body["orderAmount"]
    assert again.code == 0 and again.data["bizOrderNo"] == order["bizOrderNo"] and again.data["reused"], (
        again.body
    )
    assert "沿用" in again.data["msg"]

    sys009.pay(order["tradeNo"])
    settled(order["bizOrderNo"])
    status = call("GET", f"{SCAN}/{order['bizOrderNo']}", token=admin)

    assert status.code == 0, status.body
    assert (status.data["orderStatus"], status.data["writeBackStatus"]) == ("SUCCESS", "SUCCESS")
    assert status.data["msg"] == "支付成功，账单已核销"
    assert [charge_row(b["id"])["status"] for b in bills] == ["PAID", "PAID"]
    (money,) = sql_all(
        "SELECT outlet_code, operator_id, source FROM biz_collection WHERE code = :o",
        {"o": order["bizOrderNo"]},
    )
    assert money == {"outlet_code": "GL-03", "operator_id": admin_id, "source": "COUNTER_QR"}


def test_a_counter_order_for_bills_of_two_customers_is_refused(
    admin: str, admin_id: int, sys009: Any
) -> None:
    """Given bills of two customers, when the counter orders them together, then 400 naming chargeIds and
    the two groups of bills; no order is made for either customer."""
    cust_a, (bill_a,) = new_bills(admin, ["2021-03"])
    cust_b, (bill_b,) = new_bills(admin, ["2021-03"])

    reply = call("POST", f"{SCAN}/create", scan_body(admin_id, [bill_a, bill_b]), token=admin)

    expect_error(reply, 400, mentions="chargeIds")
    assert "同一客户" in reply.msg and reply.data == {"chargeIdGroups": [[bill_a["id"]], [bill_b["id"]]]}
    assert (
        sql_scalar(
            "SELECT count(*) FROM bk_transaction WHERE cust_id IN (:a, :b)", {"a": cust_a, "b": cust_b}
        )
        == 0
    )


def test_a_counter_order_for_another_operator_or_outside_the_dept_is_refused(
    admin: str, admin_id: int, sys009: Any
) -> None:
    """Given a bill of a 鼓楼 customer, when the admin sends another operator's id, then 403 naming
    operatorId; when a 台江 operator orders it as itself, alone or with a 台江 bill, then the answer is
    the one a bill that does not exist gets (404 naming chargeIds and only the unseen ids): nothing
    tells that the bill exists or whose it is."""
    cust, (bill,) = new_bills(admin, ["2021-04"])
    taijiang = new_admin_user(dept_id=TAIJIANG_DEPT, data_scope="DEPT_ONLY")
    taijiang_id = int(sql_scalar("SELECT id FROM system_users WHERE username = :u", {"u": taijiang}))
    taijiang_token = admin_login(taijiang, "Passw0rd!")
    own_cust, (own,) = new_bills(admin, ["2021-04"])
    sql_exec("UPDATE biz_cust SET dept_id = :d WHERE id = :c", {"d": TAIJIANG_DEPT, "c": own_cust})
    absent = int(sql_scalar("SELECT max(id) + 1000 FROM biz_charge"))

    impersonating = call("POST", f"{SCAN}/create", scan_body(admin_id + 100000, [bill]), token=admin)
    outside = call("POST", f"{SCAN}/create", scan_body(taijiang_id, [bill]), token=taijiang_token)
    mixed = call("POST", f"{SCAN}/create", scan_body(taijiang_id, [own, bill]), token=taijiang_token)
    unknown = call(
        "POST", f"{SCAN}/create", scan_body(taijiang_id, [own, {**bill, "id": absent}]), token=taijiang_token
    )

    expect_error(impersonating, 403, mentions="operatorId")
    expect_error(outside, 404, mentions=f"chargeIds: 账单 [{bill['id']}] 不存在")
    expect_error(mixed, 404, mentions=f"chargeIds: 账单 [{bill['id']}] 不存在")
    expect_error(unknown, 404, mentions=f"chargeIds: 账单 [{absent}] 不存在")
    assert mixed.data == unknown.data is None
    assert sql_scalar("SELECT count(*) FROM bk_transaction WHERE cust_id = :c", {"c": cust}) == 0


def test_a_counter_request_not_shaped_as_the_seed_or_for_the_wrong_amount_is_refused(
    admin: str, admin_id: int, sys009: Any
) -> None:
    """Given a bill, when counterCode is missing, the scene is unknown, or the old online-order shape
    (custId, paymentAmount) is sent, then 400 naming the field; when orderAmount is 0.01 short, then
    1_002_003_002 naming orderAmount with the difference; no order is made."""
    cust, (bill,) = new_bills(admin, ["2021-05"])
    seed = scan_body(admin_id, [bill])
    no_counter = {k: v for k, v in seed.items() if k != "counterCode"}

    missing = call("POST", f"{SCAN}/create", no_counter, token=admin)
    scene = call("POST", f"{SCAN}/create", seed | {"scene": "ONLINE"}, token=admin)
    old_shape = call("POST", f"{SCAN}/create", order_body(cust, [bill]), token=admin)
    short = call(
        "POST",
        f"{SCAN}/create",
        scan_body(admin_id, [bill], Decimal(bill["total_amount"]) - Decimal("0.01")),
        token=admin,
    )

    expect_error(missing, 400, mentions="counterCode")
    expect_error(scene, 400, mentions="scene")
    expect_error(old_shape, 400, mentions="orderAmount")
    assert "custId" in old_shape.msg and "paymentAmount" in old_shape.msg
    expect_error(short, 1_002_003_002, mentions="orderAmount")
    assert Decimal(short.data["difference"]) == Decimal("0.01")
    assert sql_scalar("SELECT count(*) FROM bk_transaction WHERE cust_id = :c", {"c": cust}) == 0


def test_a_counter_order_paid_with_another_amount_is_held_as_an_exception(
    admin: str, admin_id: int, sys009: Any
) -> None:
    """Given SYS-009 reporting 1.00 less than the counter order, when the customer pays, then the order
    reads writeBackStatus EXCEPTION with a msg for review, and the bill is not written off; when a
    reviewer books the amount received, the collection is the counter's (its code and operator, not
    the reviewer's) and the order reads SUCCESS."""
    _, (bill,) = new_bills(admin, ["2021-06"])
    order = call("POST", f"{SCAN}/create", scan_body(admin_id, [bill], counterCode="GL-09"), token=admin)
    assert order.code == 0, order.body
    sys009.behaviour(wrongAmount="-1.00")

    sys009.pay(order.data["tradeNo"])
    assert sys009.wait_idle(10)
    status = call("GET", f"{SCAN}/{order.data['bizOrderNo']}", token=admin)

    assert status.code == 0 and status.data["writeBackStatus"] == "EXCEPTION", status.body
    assert "人工核查" in status.data["msg"] and charge_row(bill["id"])["status"] == "UNPAID"

    reviewer_token = admin_login(new_admin_user(), "Passw0rd!")  # another back-office user decides
    exception_id = sql_scalar(
        "SELECT id FROM bk_transaction_exception WHERE biz_order_no = :o", {"o": order.data["bizOrderNo"]}
    )
    decided = call(
        "POST",
        "/admin-api/revenue/collection/exception/resolve",
        {"id": exception_id, "action": "WRITE_OFF_PAID", "remark": "按实收入账"},
        token=reviewer_token,
    )
    assert decided.code == 0, decided.body
    (money,) = sql_all(
        "SELECT outlet_code, operator_id FROM biz_collection WHERE code = :o", {"o": order.data["bizOrderNo"]}
    )
    assert money == {"outlet_code": "GL-09", "operator_id": admin_id}
    after = call("GET", f"{SCAN}/{order.data['bizOrderNo']}", token=admin)
    assert (after.data["orderStatus"], after.data["writeBackStatus"]) == ("SUCCESS", "SUCCESS"), after.body


# --------------------------------------------------------------------------- compensation -----
def test_an_order_without_a_callback_is_settled_by_compensation(admin: str, sys009: Any) -> None:
    """Given notifications dropped and an online order paid at SYS-009, when compensation runs once the
    order is due for a query, then the order is SUCCESS and the bill written off as a callback would."""
    from waterrev.payments import orders as payments

    sys009.behaviour(dropNotifications=True)
    cust, (bill,) = new_bills(admin, ["2020-06"])
    order = call("POST", ORDER, order_body(cust, [bill]), token=bound_member(cust)).data
    sys009.pay(order["tradeNo"])
    assert txn(order["bizOrderNo"])["status"] == "PAYING" and sys009.notifications() == []
    make_due(order["bizOrderNo"])

    counts = payments.compensate(ctx())

    assert counts["settled"] >= 1
    row = txn(order["bizOrderNo"])
    assert row["status"] == "SUCCESS" and row["success_amount"] == Decimal(bill["total_amount"])
    assert charge_row(bill["id"])["status"] == "PAID"
    assert sql_scalar("SELECT count(*) FROM biz_collection WHERE code = :o", {"o": order["bizOrderNo"]}) == 1


def test_an_expired_order_is_closed_by_the_scheduled_job_and_its_bill_freed(admin: str, sys009: Any) -> None:
    """Given an unpaid online order past its expireTime, when the scheduled job runs with its sample event,
    then the order is CLOSED here and at SYS-009 and its customer reads orderStatus FAIL (the seed's
    INIT | PAYING | SUCCESS | FAIL: a closed order is a failed one), and the bill can be paid at the counter."""
    from functions.job_pay_compensate.handler import handler
    from waterrev.local.gateway import FakeLambdaContext

    sys009.behaviour(dropNotifications=True)
    cust, (bill,) = new_bills(admin, ["2020-07"])
    member = bound_member(cust)
    order = call("POST", ORDER, order_body(cust, [bill]), token=member).data
    make_due(order["bizOrderNo"], expired=True)
    event = json.loads((ROOT / "events/job_pay_compensate/scheduled.json").read_text())

    counts = handler(event, FakeLambdaContext("job_pay_compensate"))

    assert counts["closed"] >= 1 and counts["queried"] >= 1
    assert txn(order["bizOrderNo"])["status"] == "CLOSED"
    assert sys009.trade(order["tradeNo"])["tradeStatus"] == "CLOSED"
    status = call("GET", f"{ORDER}/{order['bizOrderNo']}", token=member)
    assert status.code == 0 and status.data["orderStatus"] == "FAIL", status.body
    paid = call(
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
    assert paid.code == 0 and paid.data["writeOffStatus"] == "SUCCESS", paid.body


def test_a_timeout_at_create_leaves_the_order_init_and_compensation_settles_or_closes_it(
    admin: str, sys009: Any, impatient_client: Any
) -> None:
    """Given SYS-009 answering too late, when two orders are made, then both are INIT without a tradeNo;
    when the first is paid at SYS-009 (no callback) and the second expires, then compensation settles the
    first (learning its tradeNo) and closes the second, here and at SYS-009."""
    from waterrev.payments import orders as payments

    sys009.behaviour(timeoutSeconds=1, dropNotifications=True)
    cust_a, (bill_a,) = new_bills(admin, ["2020-08"])
    cust_b, (bill_b,) = new_bills(admin, ["2020-08"])
    paid = call("POST", ORDER, order_body(cust_a, [bill_a]), token=bound_member(cust_a))
    lapsed = call("POST", ORDER, order_body(cust_b, [bill_b]), token=bound_member(cust_b))
    sys009.behaviour(timeoutSeconds=0)

    assert paid.code == 0 and (paid.data["orderStatus"], paid.data["tradeNo"]) == ("INIT", None), paid.body
    assert lapsed.code == 0 and lapsed.data["orderStatus"] == "INIT"
    assert txn(paid.data["bizOrderNo"])["last_error"].startswith("create:")
    trade_a = impatient_client.query_by_business_order(paid.data["bizOrderNo"])["tradeNo"]
    trade_b = impatient_client.query_by_business_order(lapsed.data["bizOrderNo"])["tradeNo"]
    sys009.pay(trade_a)
    make_due(paid.data["bizOrderNo"])
    make_due(lapsed.data["bizOrderNo"], expired=True)

    payments.compensate(ctx())

    row_a, row_b = txn(paid.data["bizOrderNo"]), txn(lapsed.data["bizOrderNo"])
    assert (row_a["status"], row_a["trade_no"]) == ("SUCCESS", trade_a)
    assert charge_row(bill_a["id"])["status"] == "PAID"
    assert row_b["status"] == "CLOSED" and sys009.trade(trade_b)["tradeStatus"] == "CLOSED"
    assert charge_row(bill_b["id"])["status"] == "UNPAID"
    assert not sql_scalar(
        "SELECT bool_or(live) FROM biz_order_charge WHERE charge_id = :c", {"c": bill_b["id"]}
    )
