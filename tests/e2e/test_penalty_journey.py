"""The late-payment penalty journey on the local stack as `make run` starts it, over HTTP only: the back
office configures a penalty rule for a dept (IF-REV-012); a customer of that dept has a bill long overdue;
the bound WeChat user sees in IF-CS-002 ARREARS its water fee, its penalty (at the cap: 30% of the
principal) and the total due; an online order for the water fee alone is refused with the difference; the
order for principal plus penalty (IF-CS-003) is paid in the SYS-009 simulator, the signed callback
(IF-EXT-005) writes off both as lines of their own, and nothing is owed any more."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import httpx
import pytest

from tests.e2e.test_local_stack import Stack
from tests.e2e.test_payment_journey import ok, simulator_url, until

pytestmark = pytest.mark.e2e

DEPT = 2  # 鼓楼营业所 of the demo data
RULE = '{"mode": "DAILY_RATE", "graceDays": 10, "dailyRate": "0.0005", "capRate": "0.3"}'


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    running = Stack(tmp_path_factory.mktemp("penalty-stack"))
    try:
        running.wait_ready()
        yield running
    finally:
        if running.proc.poll() is None:
            running.proc.send_signal(signal.SIGINT)
            running.proc.wait(timeout=30)


def test_an_overdue_customer_pays_principal_and_penalty_online(stack: Stack) -> None:
    sim = simulator_url(stack)
    with httpx.Client(base_url=stack.base, timeout=10) as client:
        login = ok(
            client.post("/admin-api/system/auth/login", json={"username": "admin", "password": "admin123"})
        )
        admin = {"Authorization": f"Bearer {login['accessToken']}"}
        tag = f"{time.time_ns() % 10**8:08d}"

        # Given the dept's penalty rule: 0.05% a day after 10 days' grace, at most 30% of the principal
        ok(
            client.post(
                "/admin-api/revenue/parameter/config",
                headers=admin,
                json={
                    "action": "CREATE",
                    "configType": "RULE",
                    "configCode": "revenue.penalty.rule",
                    "configValue": RULE,
                    "deptId": DEPT,
                    "effectiveDate": "2020-01-01",
                },
            )
        )

        # ... and a customer of that dept with a bill due on 28 Dec 2020, long unpaid
        cust = ok(
            client.post(
                "/admin-api/revenue/customer/create",
                headers=admin,
                json={
                    "name": "吴十",
                    "custType": "RESIDENT",
                    "mobile": "13812345680",
                    "address": "鼓楼区滞纳路 10 号",
                    "deptId": DEPT,
                    "meterList": [{"meterNo": f"E2EL{tag}", "caliber": "DN20"}],
                },
            )
        )
        cust_id, (meter,) = cust["id"], cust["meterIds"]
        book = ok(
            client.post(
                "/admin-api/revenue/meter-book/save",
                headers=admin,
                json={
                    "code": f"BK-LATE-{tag}",
                    "name": "违约金旅程册",
                    "areaCode": f"AR-L{tag}",
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
                json={"billPeriod": "2020-11", "bookIds": [book["bookId"]]},
            )
        )["meterReadIds"]
        ok(
            client.post(
                "/admin-api/revenue/reading-data/create",
                headers=admin,
                json={
                    "meterReadId": task,
                    "meterId": meter,
                    "readTime": "2020-11-15T09:30:00+08:00",
                    "currentReading": "18",
                    "readType": "MANUAL",
                },
            )
        )
        (bill,) = ok(
            client.post(
                "/admin-api/revenue/charge/generate",
                headers=admin,
                json={"billPeriod": "2020-11", "dueDate": "2020-12-28", "meterReadIds": [task]},
            )
        )["successList"]
        principal = Decimal(bill["totalAmount"])
        penalty = (principal * Decimal("0.3")).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)

        # ... bound to a WeChat user
        openid = f"e2e-late-{tag}"
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

        def history(query_type: str) -> list[dict[str, Any]]:
            return list(
                ok(
                    client.get(
                        "/app-api/customer/bill/history",
                        headers=owner,
                        params={"custId": cust_id, "queryType": query_type, "pageSize": 50},
                    )
                )["list"]
            )

        # When the user looks at what it owes, it sees the water fee, the penalty and the total
        (owed,) = history("ARREARS")
        assert owed["chargeId"] == bill["chargeId"], owed
        assert Decimal(owed["arrearsAmount"]) == principal and Decimal(owed["penaltyAmount"]) == penalty, owed
        assert Decimal(owed["dueAmount"]) == principal + penalty

        # ... an order for the water fee alone is refused with the difference
        order_body = {"custId": cust_id, "chargeIds": [bill["chargeId"]], "paymentChannel": "WECHAT"}
        short = client.post(
            "/app-api/customer/payment/order",
            headers=owner,
            json={**order_body, "paymentAmount": str(principal)},
        )
        assert short.status_code == 409 and short.json()["code"] == 1_002_003_002, short.text
        assert Decimal(short.json()["data"]["difference"]) == penalty

        # ... and the order for the total is paid in the simulator
        order = ok(
            client.post(
                "/app-api/customer/payment/order",
                headers=owner,
                json={**order_body, "paymentAmount": owed["dueAmount"]},
            )
        )
        assert order["orderStatus"] == "PAYING" and Decimal(order["paymentAmount"]) == principal + penalty, (
            order
        )
        paid = httpx.post(f"{sim}/sim/orders/{order['tradeNo']}/pay", json={}, timeout=10)
        assert paid.status_code == 200 and paid.json()["tradeStatus"] == "SUCCESS", paid.text

        # Then the callback settles the order, the bill is PAID and nothing is owed any more
        until(
            lambda: (
                ok(client.get(f"/app-api/customer/payment/order/{order['bizOrderNo']}", headers=owner))[
                    "orderStatus"
                ]
                == "SUCCESS"
            ),
            "the online order's callback",
        )
        assert history("ARREARS") == []
        (shown,) = [b for b in history("BILL") if b["chargeId"] == bill["chargeId"]]
        assert shown["payStatus"] == "PAID" and Decimal(shown["paidAmount"]) == principal
        (payment,) = history("PAYMENT")
        assert Decimal(payment["amount"]) == principal + penalty and payment["chargeIds"] == [
            bill["chargeId"]
        ]
        counter = ok(
            client.get("/admin-api/revenue/collection/charge/page", headers=admin, params={"custId": cust_id})
        )["list"]
        assert [(c["payStatus"], c["dueAmount"]) for c in counter] == [("PAID", "0.00")]
