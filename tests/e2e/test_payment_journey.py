"""The payment journey on the local stack as `make run` starts it (with its SYS-009 simulator), over HTTP
only: a bill from a meter reading and IF-REV-005; a bound WeChat user orders it online (IF-CS-003), pays in
the simulator, the signed callback (IF-EXT-005) writes it off and IF-CS-002 shows it PAID; a second bill is
paid through a counter QR order (IF-CS-007) and its receipt shown."""

from __future__ import annotations

import re
import signal
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.e2e.test_local_stack import Stack

pytestmark = pytest.mark.e2e

PERIODS = ("2020-11", "2020-12")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    running = Stack(tmp_path_factory.mktemp("payment-stack"))
    try:
        running.wait_ready()
        yield running
    finally:
        if running.proc.poll() is None:
            running.proc.send_signal(signal.SIGINT)
            running.proc.wait(timeout=30)


def ok(reply: httpx.Response) -> Any:
    body = reply.json()
    assert reply.status_code == 200 and body["code"] == 0, (reply.status_code, body)
    return body["data"]


def simulator_url(stack: Stack) -> str:
    for line in stack.lines:
        found = re.search(r"SYS-009 simulator: (http://\S+)", line)
        if found:
            return found.group(1)
    raise AssertionError("no SYS-009 simulator in the banner:\n" + "".join(stack.lines))


def until(check: Any, what: str, timeout_s: float = 10) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"{what} did not happen within {timeout_s} s")


def test_a_bill_is_paid_online_and_another_through_the_counter_qr(stack: Stack) -> None:
    sim = simulator_url(stack)
    with httpx.Client(base_url=stack.base, timeout=10) as client:
        login = ok(
            client.post("/admin-api/system/auth/login", json={"username": "admin", "password": "admin123"})
        )
        admin = {"Authorization": f"Bearer {login['accessToken']}"}
        tag = f"{time.time_ns() % 10**8:08d}"

        # Given a customer with a meter read in two months and billed by IF-REV-005
        cust = ok(
            client.post(
                "/admin-api/revenue/customer/create",
                headers=admin,
                json={
                    "name": "周九",
                    "custType": "RESIDENT",
                    "mobile": "13812345679",
                    "address": "鼓楼区缴费路 9 号",
                    "deptId": 2,
                    "meterList": [{"meterNo": f"E2EP{tag}", "caliber": "DN20"}],
                },
            )
        )
        cust_id, (meter,) = cust["id"], cust["meterIds"]
        book = ok(
            client.post(
                "/admin-api/revenue/meter-book/save",
                headers=admin,
                json={
                    "code": f"BK-PAY-{tag}",
                    "name": "缴费旅程册",
                    "areaCode": f"AR-P{tag}",
                    "deptId": 2,
                    "readCycle": "MONTHLY",
                    "meterIds": [meter],
                },
            )
        )
        bills = []
        for n, period in enumerate(PERIODS, start=1):
            (task,) = ok(
                client.post(
                    "/admin-api/revenue/meter-read/generate",
                    headers=admin,
                    json={"billPeriod": period, "bookIds": [book["bookId"]]},
                )
            )["meterReadIds"]
            ok(
                client.post(
                    "/admin-api/revenue/reading-data/create",
                    headers=admin,
                    json={
                        "meterReadId": task,
                        "meterId": meter,
                        "readTime": f"{period}-15T09:30:00+08:00",
                        "currentReading": str(15 * n),
                        "readType": "MANUAL",
                    },
                )
            )
            generated = ok(
                client.post(
                    "/admin-api/revenue/charge/generate",
                    headers=admin,
                    json={"billPeriod": period, "dueDate": f"{period[:4]}-12-28", "meterReadIds": [task]},
                )
            )
            (bill,) = generated["successList"]
            bills.append(bill)
        online_bill, qr_bill = bills

        # ... and a WeChat user bound to it
        openid = f"e2e-pay-{tag}"
        owner = {"Authorization": f"Bearer {stack.channel_token(client, openid)}"}
        name = ok(client.get(f"/admin-api/revenue/customer/{cust_id}", headers=admin))["name"]
        ok(
            client.post(
                "/app-api/customer/auth/send-verify-code",
                headers=owner,
                json={"custId": cust_id, "custName": name},
            )
        )
        ok(
            client.post(
                "/app-api/customer/account/bind",
                headers=owner,
                json={
                    "action": "BIND",
                    "channelType": "WECHAT",
                    "channelUserId": openid,
                    "custId": cust_id,
                    "verifyCode": stack.sms_code(),
                },
            )
        )

        def pay_status(bill: dict[str, Any]) -> str:
            listed = ok(
                client.get(
                    "/app-api/customer/bill/history",
                    headers=owner,
                    params={"custId": cust_id, "queryType": "BILL", "pageSize": 50},
                )
            )["list"]
            return next(b["payStatus"] for b in listed if b["chargeId"] == bill["chargeId"])

        assert pay_status(online_bill) == "UNPAID"

        # When the user orders the first bill online and pays in the simulator
        order = ok(
            client.post(
                "/app-api/customer/payment/order",
                headers=owner,
                json={
                    "custId": cust_id,
                    "chargeIds": [online_bill["chargeId"]],
                    "paymentChannel": "WECHAT",
                    "paymentAmount": online_bill["totalAmount"],
                },
            )
        )
        assert order["orderStatus"] == "PAYING" and order["payUrl"].startswith(sim), order
        paid = httpx.post(f"{sim}/sim/orders/{order['tradeNo']}/pay", json={}, timeout=10)
        assert paid.status_code == 200 and paid.json()["tradeStatus"] == "SUCCESS", paid.text

        # Then the callback settles the order and IF-CS-002 shows the bill PAID
        until(
            lambda: (
                ok(client.get(f"/app-api/customer/payment/order/{order['bizOrderNo']}", headers=owner))[
                    "orderStatus"
                ]
                == "SUCCESS"
            ),
            "the online order's callback",
        )
        assert pay_status(online_bill) == "PAID"

        # When the counter makes a QR order for the second bill (the seed's IF-CS-007 request), it is
        # scanned and paid
        qr = ok(
            client.post(
                "/admin-api/counter/scan-pay/create",
                headers=admin,
                json={
                    "counterCode": "GL-01",
                    "chargeIds": [qr_bill["chargeId"]],
                    "paymentChannel": "ALIPAY",
                    "orderAmount": qr_bill["totalAmount"],
                    "operatorId": login["userId"],
                    "scene": "COUNTER_SCAN_PAY",
                },
            )
        )
        assert qr["qrCode"] and qr["orderStatus"] == "PAYING" and qr["writeBackStatus"] == "PENDING", qr
        assert qr["bizOrderNo"] and qr["tradeNo"] and qr["msg"], qr
        early = client.get(f"/admin-api/counter/scan-pay/{qr['bizOrderNo']}/receipt", headers=admin)
        assert early.status_code == 409
        assert httpx.post(f"{sim}/sim/orders/{qr['tradeNo']}/pay", json={}, timeout=10).status_code == 200

        # Then it is written off as at the counter, the receipt lists it, and the user sees it PAID
        def qr_paid() -> Any:
            found = ok(client.get(f"/admin-api/counter/scan-pay/{qr['bizOrderNo']}", headers=admin))
            return found if found["orderStatus"] == "SUCCESS" else None

        written = until(qr_paid, "the QR order's callback")
        assert written["writeBackStatus"] == "SUCCESS", written
        receipt = ok(client.get(f"/admin-api/counter/scan-pay/{qr['bizOrderNo']}/receipt", headers=admin))
        assert receipt["paidAmount"] == qr_bill["totalAmount"] and receipt["tradeNo"] == qr["tradeNo"]
        assert [b["chargeCode"] for b in receipt["bills"]] == [qr_bill["chargeCode"]]
        assert pay_status(qr_bill) == "PAID"
