"""The billing journey on the local stack as `make run` starts it, over HTTP only: a clerk opens two
customers in one meter book, reads one meter by hand while the other's IoT meter pushes its reading,
starts the period's bill run (Step Functions on moto) and follows it to its end; a WeChat user who
binds one of the customers then sees its bill and its usage."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.e2e.test_local_stack import Stack

pytestmark = pytest.mark.e2e

PERIOD, DUE = "2024-03", "2024-04-15"
READ_TIME = "2024-03-15T09:30:00+08:00"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    running = Stack(tmp_path_factory.mktemp("billing-stack"))
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


def test_a_bill_run_bills_manual_and_iot_readings_and_the_customer_sees_its_bill(stack: Stack) -> None:
    with httpx.Client(base_url=stack.base, timeout=10) as client:
        login = ok(
            client.post("/admin-api/system/auth/login", json={"username": "admin", "password": "admin123"})
        )
        admin = {"Authorization": f"Bearer {login['accessToken']}"}

        # Given two RESIDENT households of 3, each with a new meter, in one new monthly meter book
        tag = f"{time.time_ns() % 10**8:08d}"
        customers = [
            ok(
                client.post(
                    "/admin-api/revenue/customer/create",
                    headers=admin,
                    json={
                        "name": name,
                        "custType": "RESIDENT",
                        "mobile": mobile,
                        "address": "鼓楼区开账路 1 号",
                        "deptId": 2,
                        "population": 3,
                        "meterList": [{"meterNo": f"E2EB{tag}{n}", "caliber": "DN20"}],
                    },
                )
            )
            for n, (name, mobile) in enumerate((("钱七", "13612345671"), ("孙八", "13612345672")))
        ]
        (manual_meter,), (iot_meter,) = (c["meterIds"] for c in customers)
        book = ok(
            client.post(
                "/admin-api/revenue/meter-book/save",
                headers=admin,
                json={
                    "code": f"BK-E2E-{tag}",
                    "name": "开账旅程册",
                    "areaCode": f"AR-{tag}",
                    "deptId": 2,
                    "readCycle": "MONTHLY",
                    "meterIds": [manual_meter, iot_meter],
                },
            )
        )
        assert book["meterCount"] == 2

        # ... with reading tasks for the period: 18 m3 read by hand, 25 m3 pushed by the IoT platform
        tasks = ok(
            client.post(
                "/admin-api/revenue/meter-read/generate",
                headers=admin,
                json={"billPeriod": PERIOD, "bookIds": [book["bookId"]]},
            )
        )
        assert tasks["createdCount"] == 2
        submitted = None
        for task_id in tasks["meterReadIds"]:  # the reply lists the tasks, not which meter each is for
            reply = client.post(
                "/admin-api/revenue/reading-data/create",
                headers=admin,
                json={
                    "meterReadId": task_id,
                    "meterId": manual_meter,
                    "readTime": READ_TIME,
                    "currentReading": "18",
                    "readType": "MANUAL",
                },
            ).json()
            if reply["code"] == 0:
                submitted = reply["data"]
                break
            assert reply["code"] == 400 and "meterId" in reply["msg"], reply
        assert submitted is not None and submitted["validateStatus"] == "PASS", submitted
        pushed = ok(
            client.post(
                "/admin-api/meter/iot/reading/receive",
                headers=admin,
                json={
                    "meterCode": f"E2EB{tag}1",
                    "readTime": READ_TIME,
                    "currentReading": "25",
                    "fileSerialNo": f"E2E-{tag}",
                    "sourceSystem": "IOT",
                },
            )
        )
        assert (pushed["acceptStatus"], pushed["nextAction"]) == ("SUCCESS", "BILLING"), pushed

        # When the period's bill run is started and followed until it ends (at most ~30 s)
        run = ok(
            client.post(
                "/admin-api/revenue/charge/bill-run",
                headers=admin,
                json={"billPeriod": PERIOD, "dueDate": DUE},
            )
        )
        assert (run["status"], run["billPeriod"]) == ("RUNNING", PERIOD)
        result: dict[str, Any] = {}
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            reply = client.get(f"/admin-api/revenue/charge/bill-run/{run['runNo']}", headers=admin)
            body = reply.json()
            if body["code"] == 0 and body["data"]["status"] != "RUNNING":
                result = body["data"]
                break
            assert body["code"] in (0, 404), body  # 404 until Prepare has recorded the run
            time.sleep(0.5)

        # Then it succeeded: both readings billed at 3.25 a m3 (tier 1), 58.50 + 81.25
        assert result, f"bill run {run['runNo']} did not end within 30 s"
        assert (result["status"], result["successCount"], result["failureCount"]) == ("SUCCEEDED", 2, 0), (
            result
        )
        assert (result["totalAmount"], result["dueDate"]) == ("139.75", DUE)

        # When a WeChat user binds the IoT customer with the code sent by SMS
        iot_cust = customers[1]["id"]
        openid = f"e2e-bill-{tag}"
        owner = {"Authorization": f"Bearer {stack.channel_token(client, openid)}"}
        cust_name = ok(client.get(f"/admin-api/revenue/customer/{iot_cust}", headers=admin))["name"]
        ok(
            client.post(
                "/app-api/customer/auth/send-verify-code",
                headers=owner,
                json={"custId": iot_cust, "custName": cust_name},
            )
        )
        bound = ok(
            client.post(
                "/app-api/customer/account/bind",
                headers=owner,
                json={
                    "action": "BIND",
                    "channelType": "WECHAT",
                    "channelUserId": openid,
                    "custId": iot_cust,
                    "verifyCode": stack.sms_code(),
                },
            )
        )
        assert bound["bindStatus"] == "BOUND", bound

        # Then IF-CS-002 shows the new bill, unpaid, and the IoT reading behind it
        def history(query_type: str) -> dict[str, Any]:
            return dict(
                ok(
                    client.get(
                        "/app-api/customer/bill/history",
                        headers=owner,
                        params={"custId": iot_cust, "queryType": query_type, "billPeriod": PERIOD},
                    )
                )
            )

        bills = history("BILL")
        assert bills["total"] == 1, bills
        (bill,) = bills["list"]
        assert bill["chargeCode"].startswith("ZD202403")
        assert (bill["totalAmount"], bill["payStatus"], bill["usageAmount"], bill["dueDate"]) == (
            "81.25",
            "UNPAID",
            "25.00",
            DUE,
        )
        (usage,) = history("USAGE")["list"]
        assert (usage["readType"], usage["usageAmount"], usage["chargeId"]) == (
            "IOT",
            "25.00",
            bill["chargeId"],
        )


def test_a_prepaid_customer_is_billed_and_paid_by_deduction(stack: Stack) -> None:
    """The prepaid journey over HTTP: a household's first bill is paid at the counter in cash with money
    to spare (kept as its prepaid balance); next month's bill run bills it and pays the new bill from that
    balance, in the same transaction; the customer's WeChat user sees the bill PAID and the PREPAY payment,
    and the back office sees the balance less the bill."""
    first, second = "2024-05", "2024-06"
    with httpx.Client(base_url=stack.base, timeout=10) as client:
        login = ok(
            client.post("/admin-api/system/auth/login", json={"username": "admin", "password": "admin123"})
        )
        admin = {"Authorization": f"Bearer {login['accessToken']}"}
        tag = f"{time.time_ns() % 10**8:08d}"

        # Given a RESIDENT household with a new meter in a book of its own, read 20 m3 in 2024-05 and billed
        customer = ok(
            client.post(
                "/admin-api/revenue/customer/create",
                headers=admin,
                json={
                    "name": "周九",
                    "custType": "RESIDENT",
                    "mobile": "13612345679",
                    "address": "鼓楼区预存路 9 号",
                    "deptId": 2,
                    "meterList": [{"meterNo": f"E2EP{tag}", "caliber": "DN20"}],
                },
            )
        )
        cust, (meter,) = customer["id"], customer["meterIds"]
        book = ok(
            client.post(
                "/admin-api/revenue/meter-book/save",
                headers=admin,
                json={
                    "code": f"BK-PRE-{tag}",
                    "name": "预存旅程册",
                    "areaCode": f"AP-{tag}",
                    "deptId": 2,
                    "readCycle": "MONTHLY",
                    "meterIds": [meter],
                },
            )
        )

        def read(period: str, value: str) -> None:
            (task,) = ok(
                client.post(
                    "/admin-api/revenue/meter-read/generate",
                    headers=admin,
                    json={"billPeriod": period, "bookIds": [book["bookId"]]},
                )
            )["meterReadIds"]
            reading = ok(
                client.post(
                    "/admin-api/revenue/reading-data/create",
                    headers=admin,
                    json={
                        "meterReadId": task,
                        "meterId": meter,
                        "readTime": f"{period}-15T09:30:00+08:00",
                        "currentReading": value,
                        "readType": "MANUAL",
                    },
                )
            )
            assert reading["validateStatus"] == "PASS", reading

        read(first, "20")
        generated = ok(
            client.post(
                "/admin-api/revenue/charge/generate",
                headers=admin,
                json={"billPeriod": first, "customerIds": [cust], "dueDate": "2024-06-15"},
            )
        )
        (may,) = generated["successList"]
        assert may["totalAmount"] == "65.00"

        # ... and paid at the counter with 300.00 in cash: 235.00 is kept as its prepaid balance
        paid = ok(
            client.post(
                "/admin-api/revenue/collection/create",
                headers=admin,
                json={
                    "custId": cust,
                    "chargeIds": [may["chargeId"]],
                    "paymentChannel": "CASH",
                    "paymentAmount": "300.00",
                    "actualAmount": "300.00",
                },
            )
        )
        assert (paid["writeOffStatus"], paid["balanceAdded"]) == ("SUCCESS", "235.00"), paid

        # When it reads 50 (30 m3) in 2024-06 and the period's bill run runs to its end
        read(second, "50")
        run = ok(
            client.post(
                "/admin-api/revenue/charge/bill-run",
                headers=admin,
                json={"billPeriod": second, "dueDate": "2024-07-15"},
            )
        )
        result: dict[str, Any] = {}
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            body = client.get(f"/admin-api/revenue/charge/bill-run/{run['runNo']}", headers=admin).json()
            if body["code"] == 0 and body["data"]["status"] != "RUNNING":
                result = body["data"]
                break
            time.sleep(0.5)
        assert result and (result["status"], result["successCount"], result["totalAmount"]) == (
            "SUCCEEDED",
            1,
            "97.50",
        ), result

        # Then the customer's WeChat user sees the June bill PAID, with its lines ...
        openid = f"e2e-prepay-{tag}"
        owner = {"Authorization": f"Bearer {stack.channel_token(client, openid)}"}
        ok(
            client.post(
                "/app-api/customer/auth/send-verify-code",
                headers=owner,
                json={"custId": cust, "custName": "周九"},
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
                    "custId": cust,
                    "verifyCode": stack.sms_code(),
                },
            )
        )

        def history(query_type: str, **params: str) -> list[dict[str, Any]]:
            reply = client.get(
                "/app-api/customer/bill/history",
                headers=owner,
                params={"custId": cust, "queryType": query_type, **params},
            )
            return list(ok(reply)["list"])

        (june,) = history("BILL", billPeriod=second)
        assert (june["totalAmount"], june["paidAmount"], june["payStatus"]) == ("97.50", "97.50", "PAID")
        assert {line["lineKind"] for line in june["lineList"]} == {"USAGE"}
        assert sum(float(line["amount"]) for line in june["lineList"]) == 97.5
        # ... paid by a PREPAY payment of 97.50 for that bill, beside the cash one
        payments = {p["paymentChannel"]: p for p in history("PAYMENT")}
        assert (payments["PREPAY"]["amount"], payments["PREPAY"]["chargeIds"]) == (
            "97.50",
            [june["chargeId"]],
        )
        assert payments["PREPAY"]["collectionCode"].startswith("DK")
        assert payments["CASH"]["amount"] == "300.00"
        assert history("ARREARS") == []
        # ... and the back office sees the balance less the bill, nothing owed
        account = ok(
            client.get(f"/admin-api/revenue/customer/{cust}", headers=admin, params={"queryType": "account"})
        )
        assert (account["accountInfo"]["balance"], account["accountInfo"]["arrearsAmount"]) == (
            "137.50",
            "0.00",
        )
