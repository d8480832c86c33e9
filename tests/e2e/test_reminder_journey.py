"""The reminder journey on the local stack as `make run` starts it (moto's SQS, the message pump, the
SYS-010 simulator), over HTTP only: a bill overdue (IF-REV-005 with a past due date), a WeChat user bound
to its customer (the bind code itself arrives through the message pipeline), a reminder task
(IF-REV-013); the relay, the queue and the consumer hand it to SYS-010, whose signed delivery callback
makes it SUCCESS in the task query and in the customer's history (IF-CS-002, REMINDER)."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.e2e.test_local_stack import Stack

pytestmark = pytest.mark.e2e

PERIOD = "2021-03"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    running = Stack(tmp_path_factory.mktemp("reminder-stack"))
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


def until(check: Any, what: str, timeout_s: float = 30) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.3)
    raise AssertionError(f"{what} did not happen within {timeout_s} s")


def test_an_overdue_bill_is_reminded_through_sys010_and_shows_success(stack: Stack) -> None:
    sys010 = stack.banner_url("SYS-010")
    with httpx.Client(base_url=stack.base, timeout=10) as client:
        login = ok(
            client.post("/admin-api/system/auth/login", json={"username": "admin", "password": "admin123"})
        )
        admin = {"Authorization": f"Bearer {login['accessToken']}"}
        tag = f"{time.time_ns() % 10**8:08d}"

        # Given a customer with a bill whose due date has long passed
        cust = ok(
            client.post(
                "/admin-api/revenue/customer/create",
                headers=admin,
                json={
                    "name": "吴十",
                    "custType": "RESIDENT",
                    "mobile": "13812345680",
                    "address": "鼓楼区催缴路 10 号",
                    "deptId": 2,
                    "meterList": [{"meterNo": f"E2ER{tag}", "caliber": "DN20"}],
                },
            )
        )
        cust_id, (meter,) = cust["id"], cust["meterIds"]
        book = ok(
            client.post(
                "/admin-api/revenue/meter-book/save",
                headers=admin,
                json={
                    "code": f"BK-REM-{tag}",
                    "name": "催缴旅程册",
                    "areaCode": f"AR-R{tag}",
                    "deptId": 2,
                    "readCycle": "MONTHLY",
                    "meterIds": [meter],
                },
            )
        )
        (task,) = ok(
            client.post(
                "/admin-api/revenue/meter-read/generate",
                headers=admin,
                json={"billPeriod": PERIOD, "bookIds": [book["bookId"]]},
            )
        )["meterReadIds"]
        ok(
            client.post(
                "/admin-api/revenue/reading-data/create",
                headers=admin,
                json={
                    "meterReadId": task,
                    "meterId": meter,
                    "readTime": f"{PERIOD}-15T09:30:00+08:00",
                    "currentReading": "18",
                    "readType": "MANUAL",
                },
            )
        )
        (bill,) = ok(
            client.post(
                "/admin-api/revenue/charge/generate",
                headers=admin,
                json={"billPeriod": PERIOD, "dueDate": "2021-04-15", "meterReadIds": [task]},
            )
        )["successList"]

        # ... bound by a WeChat user, whose bind code comes through the message pipeline and SYS-010
        openid = f"e2e-remind-{tag}"
        owner = {"Authorization": f"Bearer {stack.channel_token(client, openid)}"}
        ok(
            client.post(
                "/app-api/customer/auth/send-verify-code",
                headers=owner,
                json={"custId": cust_id, "custName": "吴十"},
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

        # When a reminder task is created for the overdue bill
        created = ok(
            client.post(
                "/admin-api/revenue/reminder/task",
                headers=admin,
                json={
                    "custId": cust_id,
                    "chargeIds": [bill["chargeId"]],
                    "billPeriod": PERIOD,
                    "arrearsAmount": bill["totalAmount"],
                    "strategyCode": "PRE_STOP_NOTICE",
                    "channelType": "WECHAT",
                    "triggerType": "MANUAL",
                    "relatedDisposalRef": f"TS-{tag}",
                },
            )
        )
        assert created["status"] == "PENDING" and created["interfaceCode"] == "IF-REV-013"

        # Then SYS-010 receives it once by WeChat, calls back, and the task is SUCCESS
        def task_now() -> dict[str, Any]:
            found = ok(
                client.post(
                    "/admin-api/revenue/reminder/task/query",
                    headers=admin,
                    json={"taskNo": created["taskNo"]},
                )
            )
            return dict(found["list"][0])

        done = until(lambda: (t := task_now())["status"] == "SUCCESS" and t, "the reminder's SUCCESS")
        assert (done["resultChannel"], done["relatedDisposalRef"]) == ("WECHAT", f"TS-{tag}") and done[
            "resultTime"
        ]
        received = [
            m
            for m in httpx.get(f"{sys010}/sim/messages").json()["data"]
            if m["eventNo"] == created["eventNo"]
        ]
        assert (
            len(received) == 1 and received[0]["channel"] == "WECHAT" and received[0]["result"] == "SUCCESS"
        )
        assert received[0]["receiver"]["openId"] == openid and bill["totalAmount"] in received[0]["text"]
        page = httpx.get(f"{sys010}/")
        assert page.status_code == 200 and created["eventNo"] in page.text

        # ... and the customer sees it in its history
        history = ok(
            client.get(
                "/app-api/customer/bill/history",
                headers=owner,
                params={"custId": cust_id, "queryType": "REMINDER"},
            )
        )
        (row,) = history["list"]
        assert (row["taskNo"], row["messageStatus"], row["billPeriod"]) == (
            created["taskNo"],
            "SUCCESS",
            PERIOD,
        )
        assert row["reminderChannel"] == "WECHAT" and row["strategyCode"] == "PRE_STOP_NOTICE"
