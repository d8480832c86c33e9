"""The adjustment journey on the local stack as `make run` starts it, over HTTP only: a customer's bill is
paid online (IF-CS-003, paid in the SYS-009 simulator, the signed callback IF-EXT-005 writes it off); the
鼓楼 counter clerk asks to reverse that collection (IF-REV-007 REVERSE: needs approval by type); the clerk
cannot approve it; the administrator does, the bill is unpaid again and the money is refunded through
SYS-009's refund call, whose signed notification settles the refund; then the bill is paid in cash with
50.00 too much, and a refund of that 50.00 - above the dept's approval threshold - is approved and paid
out at the counter."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest

from tests.e2e.test_local_stack import Stack
from tests.e2e.test_payment_journey import ok, simulator_url, until

pytestmark = pytest.mark.e2e

DEPT = 2  # 鼓楼营业所 of the demo data
ADJUST = "/admin-api/revenue/accounting/adjust"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    running = Stack(tmp_path_factory.mktemp("adjust-stack"))
    try:
        running.wait_ready()
        yield running
    finally:
        if running.proc.poll() is None:
            running.proc.send_signal(signal.SIGINT)
            running.proc.wait(timeout=30)


def login(client: httpx.Client, username: str, password: str) -> dict[str, str]:
    body = ok(client.post("/admin-api/system/auth/login", json={"username": username, "password": password}))
    return {"Authorization": f"Bearer {body['accessToken']}"}


def test_collect_reverse_and_refund_with_approval(stack: Stack) -> None:
    sim = simulator_url(stack)
    with httpx.Client(base_url=stack.base, timeout=10) as client:
        admin = login(client, "admin", "admin123")
        clerk = login(client, "gulou", "gulou123")
        admin_id = ok(client.get("/admin-api/system/auth/get-permission-info", headers=admin))["user"]["id"]
        clerk_id = ok(client.get("/admin-api/system/auth/get-permission-info", headers=clerk))["user"]["id"]
        tag = f"{time.time_ns() % 10**8:08d}"

        # Given a customer of 鼓楼 with one bill, bound to a WeChat user
        cust = ok(
            client.post(
                "/admin-api/revenue/customer/create",
                headers=admin,
                json={
                    "name": "郑十一",
                    "custType": "RESIDENT",
                    "mobile": "13812345681",
                    "address": "鼓楼区冲正路 11 号",
                    "deptId": DEPT,
                    "meterList": [{"meterNo": f"E2EA{tag}", "caliber": "DN20"}],
                },
            )
        )
        cust_id, (meter,) = cust["id"], cust["meterIds"]
        book = ok(
            client.post(
                "/admin-api/revenue/meter-book/save",
                headers=admin,
                json={
                    "code": f"BK-ADJ-{tag}",
                    "name": "调账旅程册",
                    "areaCode": f"AR-A{tag}",
                    "deptId": DEPT,
                    "readCycle": "MONTHLY",
                    "meterIds": [meter],
                },
            )
        )
        (task,) = ok(
            client.post(
                "/admin-api/revenue/meter-read/generate",
                headers=admin,
                json={"billPeriod": "2026-10", "bookIds": [book["bookId"]]},
            )
        )["meterReadIds"]
        ok(
            client.post(
                "/admin-api/revenue/reading-data/create",
                headers=admin,
                json={
                    "meterReadId": task,
                    "meterId": meter,
                    "readTime": "2026-10-15T09:30:00+08:00",
                    "currentReading": "21",
                    "readType": "MANUAL",
                },
            )
        )
        (bill,) = ok(
            client.post(
                "/admin-api/revenue/charge/generate",
                headers=admin,
                json={"billPeriod": "2026-10", "dueDate": "2027-12-28", "meterReadIds": [task]},
            )
        )["successList"]
        total = Decimal(bill["totalAmount"])
        openid = f"e2e-adj-{tag}"
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

        def bill_status() -> dict[str, Any]:
            rows = ok(
                client.get(
                    "/admin-api/revenue/collection/charge/page", headers=admin, params={"custId": cust_id}
                )
            )
            return next(r for r in rows["list"] if r["chargeId"] == bill["chargeId"])

        # When the bill is paid online and the platform's callback writes it off (collect)
        order = ok(
            client.post(
                "/app-api/customer/payment/order",
                headers=owner,
                json={
                    "custId": cust_id,
                    "chargeIds": [bill["chargeId"]],
                    "paymentChannel": "WECHAT",
                    "paymentAmount": str(total),
                },
            )
        )
        assert httpx.post(f"{sim}/sim/orders/{order['tradeNo']}/pay", json={}, timeout=10).status_code == 200
        until(lambda: bill_status()["payStatus"] == "PAID", "the online payment's write-off")

        # ... and the clerk asks to reverse it (REVERSE needs a second person's approval)
        asked = ok(
            client.post(
                ADJUST,
                headers=clerk,
                json={
                    "chargeId": bill["chargeId"],
                    "adjustType": "REVERSE",
                    "sourceTradeNo": order["tradeNo"],
                    "reasonCode": "WRONG_CUSTOMER",
                    "remark": "缴错户号",
                    "operatorId": clerk_id,
                },
            )
        )
        assert (asked["resultStatus"], asked["writeBackStatus"], asked["approvalRequired"]) == (
            "PENDING_APPROVAL",
            "PENDING",
            True,
        )
        own = client.post(f"{ADJUST}/approve", headers=clerk, json={"adjustmentNo": asked["adjustmentNo"]})
        assert own.status_code == 403, own.text
        waiting = ok(
            client.get(
                f"{ADJUST}/page",
                headers=admin,
                params={"custId": cust_id, "resultStatus": "PENDING_APPROVAL"},
            )
        )
        assert [i["adjustmentNo"] for i in waiting["list"]] == [asked["adjustmentNo"]]

        # Then the administrator approves: the bill is unpaid again and the money goes back through SYS-009
        approved = ok(
            client.post(
                f"{ADJUST}/approve",
                headers=admin,
                json={"adjustmentNo": asked["adjustmentNo"], "remark": "同意"},
            )
        )
        assert (approved["resultStatus"], approved["writeBackStatus"], approved["refundMethod"]) == (
            "SUCCESS",
            "SUCCESS",
            "SYS009",
        ), approved
        assert approved["decidedBy"] == admin_id != approved["requestedBy"]
        assert bill_status()["payStatus"] == "UNPAID"
        until(
            lambda: (
                ok(client.get(f"{ADJUST}/page", headers=admin, params={"custId": cust_id}))["list"][0][
                    "refundStatus"
                ]
                == "SUCCESS"
            ),
            "the SYS-009 refund notification",
        )
        assert (
            httpx.get(f"{sim}/sim/notifications", timeout=10).json()["data"][-1]["tradeStatus"]
            == "REFUND_SUCCESS"
        )

        # When the bill is paid in cash with 50.00 too much, and the dept's approval threshold is 10.00
        trade = f"CASH-{tag}"
        collected = ok(
            client.post(
                "/admin-api/revenue/collection/create",
                headers=admin,
                json={
                    "custId": cust_id,
                    "chargeIds": [bill["chargeId"]],
                    "paymentChannel": "CASH",
                    "paymentAmount": str(total + 50),
                    "tradeNo": trade,
                },
            )
        )
        assert Decimal(collected["balanceAdded"]) == 50
        ok(
            client.post(
                "/admin-api/revenue/parameter/config",
                headers=admin,
                json={
                    "action": "CREATE",
                    "configType": "RULE",
                    "configCode": "revenue.adjust.approval-threshold",
                    "configValue": "10",
                    "deptId": DEPT,
                },
            )
        )
        refund = ok(
            client.post(
                ADJUST,
                headers=clerk,
                json={
                    "chargeId": bill["chargeId"],
                    "adjustType": "REFUND",
                    "adjustAmount": "50.00",
                    "sourceTradeNo": trade,
                    "reasonCode": "OVERPAID",
                    "operatorId": clerk_id,
                },
            )
        )
        assert refund["resultStatus"] == "PENDING_APPROVAL" and refund["refundNo"] is None

        # Then, approved, the 50.00 is paid out at the counter and the customer's balance is empty again
        paid_out = ok(
            client.post(f"{ADJUST}/approve", headers=admin, json={"adjustmentNo": refund["adjustmentNo"]})
        )
        assert (paid_out["resultStatus"], paid_out["refundMethod"], paid_out["refundStatus"]) == (
            "SUCCESS",
            "COUNTER",
            "SUCCESS",
        ), paid_out
        account = ok(client.get(f"/admin-api/revenue/customer/{cust_id}", headers=admin))
        assert Decimal(account["accountInfo"]["balance"]) == 0
        assert bill_status()["payStatus"] == "PAID"
