"""The meter-change journey on the local stack as `make run` starts it, over HTTP only: a household is
read and billed; a new meter comes into stock and is issued to a fitter; the customer, bound on WeChat,
uploads a photo straight to S3 and applies online for a meter change; the back office accepts and
approves it, which opens a work order; the fitter completes it with the old meter's final reading and
the new meter; the customer sees the application done (and was told so by SMS at every step); and the
next reading, on the new meter, is billed for all the water used - exactly as a twin household whose
meter was never changed."""

from __future__ import annotations

import hashlib
import signal
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.e2e.test_local_stack import Stack

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    running = Stack(tmp_path_factory.mktemp("meter-change-stack"))
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


def test_an_online_meter_change_is_billed_right(stack: Stack) -> None:
    with httpx.Client(base_url=stack.base, timeout=15) as client:
        login = ok(
            client.post("/admin-api/system/auth/login", json={"username": "admin", "password": "admin123"})
        )
        admin = {"Authorization": f"Bearer {login['accessToken']}"}
        tag = f"{time.time_ns() % 10**8:08d}"

        def household(n: int, mobile: str) -> tuple[int, int, int]:
            cust = ok(
                client.post(
                    "/admin-api/revenue/customer/create",
                    headers=admin,
                    json={
                        "name": f"换表客户{n}",
                        "custType": "RESIDENT",
                        "mobile": mobile,
                        "address": "鼓楼区换表路 1 号",
                        "deptId": 2,
                        "meterList": [{"meterNo": f"E2EC{tag}{n}", "caliber": "DN20"}],
                    },
                )
            )
            meter = cust["meterIds"][0]
            book = ok(
                client.post(
                    "/admin-api/revenue/meter-book/save",
                    headers=admin,
                    json={
                        "code": f"BK-MC-{tag}{n}",
                        "name": "换表旅程册",
                        "areaCode": f"AR-MC-{tag}{n}",
                        "deptId": 2,
                        "readCycle": "MONTHLY",
                        "meterIds": [meter],
                    },
                )
            )
            return cust["id"], meter, book["bookId"]

        def read(book: int, meter: int, period: str, value: str) -> dict[str, Any]:
            (task,) = ok(
                client.post(
                    "/admin-api/revenue/meter-read/generate",
                    headers=admin,
                    json={"billPeriod": period, "bookIds": [book]},
                )
            )["meterReadIds"]
            return dict(
                ok(
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
            )

        def bill(cust: int, period: str) -> None:
            ok(
                client.post(
                    "/admin-api/revenue/charge/generate",
                    headers=admin,
                    json={"billPeriod": period, "dueDate": f"{period[:4]}-12-28", "customerIds": [cust]},
                )
            )

        # Given a household and its twin, each read at 100 in January and billed
        cust, old_meter, book = household(1, "13612340001")
        twin, twin_meter, twin_book = household(2, "13612340002")
        for c, m, b in ((cust, old_meter, book), (twin, twin_meter, twin_book)):
            read(b, m, "2023-01", "100")
            bill(c, "2023-01")

        # And a new meter taken into stock and issued to the fitter
        stocked = ok(
            client.post(
                "/admin-api/meter/stock/in-out",
                headers=admin,
                json={
                    "action": "IN",
                    "batchNo": f"RK-{tag}",
                    "warehouseCode": "WH-E2E",
                    "meterIds": [],
                    "operatorId": 1,
                    "newMeters": [{"meterNo": f"E2EN{tag}", "caliber": "DN20"}],
                },
            )
        )
        (new_meter,) = [line["meterId"] for line in stocked["lines"]]
        issued = ok(
            client.post(
                "/admin-api/meter/stock/in-out",
                headers=admin,
                json={"action": "OUT", "batchNo": f"CK-{tag}", "meterIds": [new_meter], "operatorId": 1},
            )
        )
        assert issued["actionStatus"] == "SUCCESS", issued

        # When the customer, bound on WeChat, uploads a photo of the stopped dial straight to S3
        openid = f"e2e-mc-{tag}"
        owner = {"Authorization": f"Bearer {stack.channel_token(client, openid)}"}
        ok(
            client.post(
                "/app-api/customer/auth/send-verify-code",
                headers=owner,
                json={"custId": cust, "custName": "换表客户1"},
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
        photo = b"\x89PNG\r\n\x1a\n a stopped dial"
        link = ok(
            client.post(
                "/app-api/customer/process/attachment/upload-url",
                headers=owner,
                json={
                    "custId": cust,
                    "fileName": "dial.png",
                    "contentType": "image/png",
                    "fileSize": len(photo),
                    "sha256": hashlib.sha256(photo).hexdigest(),
                },
            )
        )
        uploaded = httpx.post(
            link["uploadUrl"], data=link["formFields"], files={"file": ("dial.png", photo)}, timeout=10
        )
        assert uploaded.status_code in (200, 204), uploaded.text

        # And applies online for a meter change
        applied = ok(
            client.post(
                "/app-api/customer/process",
                headers=owner,
                json={
                    "action": "CREATE",
                    "custId": cust,
                    "businessTypeCode": "METER_CHANGE",
                    "applyData": {"meterId": old_meter, "reason": "水表停走"},
                    "attachmentList": [link["attachmentId"]],
                },
            )
        )
        pid = applied["processId"]
        assert (applied["processStatus"], applied["currentNode"]) == ("INIT", "SUBMITTED")

        # And the back office accepts and approves it: a work order opens
        ok(client.post("/admin-api/customer/process/accept", headers=admin, json={"processId": pid}))
        waiting = ok(
            client.post("/admin-api/customer/process/approve", headers=admin, json={"processId": pid})
        )
        assert (waiting["processStatus"], waiting["currentNode"]) == ("PROCESSING", "WORK_ORDER"), waiting
        order = waiting["workOrderNo"]

        # And the fitter completes it: the old meter stopped at 130, the new one starts at 5
        ok(
            client.post(
                "/admin-api/meter/work-order/handle",
                headers=admin,
                json={"workOrderNo": order, "action": "DISPATCH", "handlerId": 1},
            )
        )
        done = ok(
            client.post(
                "/admin-api/meter/work-order/handle",
                headers=admin,
                json={
                    "workOrderNo": order,
                    "action": "COMPLETE",
                    "oldFinalReading": "130",
                    "newMeterId": new_meter,
                    "newInitialReading": "5",
                },
            )
        )
        assert done["orderStatus"] == "DONE", done

        # Then the customer sees its application done, with the whole trail
        seen = ok(client.get("/app-api/customer/process", headers=owner, params={"processId": pid}))
        assert seen["processStatus"] == "DONE" and seen["currentNode"] == "DONE", seen
        assert [t["action"] for t in seen["transferList"]] == [
            "CREATE",
            "ACCEPT",
            "APPROVE",
            "WORK_ORDER",
            "DONE",
        ]
        assert seen["attachments"][0]["sha256"] == hashlib.sha256(photo).hexdigest()

        # And was told of every step by SMS (through the message pipeline to the SYS-010 simulator)
        # (the simulator's console lines of concurrent messages may interleave: count the notices, not lines)
        code = applied["processCode"]
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            told = "".join(stack.lines).count(f"（{code}）")
            if told >= 5:
                break
            time.sleep(0.2)
        console = "".join(stack.lines)
        assert told == 5 and "当前已办结。换表完成" in console, console[-3000:]

        # And the archive shows the change on both meters
        old_archive = ok(client.get(f"/admin-api/meter/archive/{old_meter}", headers=admin))
        new_archive = ok(client.get(f"/admin-api/meter/archive/{new_meter}", headers=admin))
        assert old_archive["meterStatus"] == "REMOVED" and new_archive["stockStatus"] == "INSTALLED"
        assert new_archive["customer"]["custId"] == cust and new_archive["lastReading"] == "5.00"

        # When February is read - the new meter at 25, the twin's meter at 150 - and billed
        reading = read(book, new_meter, "2023-02", "25")
        assert reading["usageAmount"] == "50.00", reading
        assert read(twin_book, twin_meter, "2023-02", "150")["usageAmount"] == "50.00"
        for c in (cust, twin):
            bill(c, "2023-02")

        # Then the customer's February bill is for all 50 m³, the same amount as its twin's
        def february(c: int) -> dict[str, Any]:
            bills = ok(
                client.get(
                    "/app-api/customer/bill/history",
                    headers=owner if c == cust else twin_owner,
                    params={"custId": c, "queryType": "BILL", "billPeriod": "2023-02"},
                )
            )
            (only,) = bills["list"]
            return dict(only)

        twin_openid = f"e2e-mc-twin-{tag}"
        twin_owner = {"Authorization": f"Bearer {stack.channel_token(client, twin_openid)}"}
        ok(
            client.post(
                "/app-api/customer/auth/send-verify-code",
                headers=twin_owner,
                json={"custId": twin, "custName": "换表客户2"},
            )
        )
        ok(
            client.post(
                "/app-api/customer/account/bind",
                headers=twin_owner,
                json={
                    "action": "BIND",
                    "channelType": "WECHAT",
                    "channelUserId": twin_openid,
                    "custId": twin,
                    "verifyCode": stack.sms_code(),
                },
            )
        )
        mine, theirs = february(cust), february(twin)
        assert mine["usageAmount"] == theirs["usageAmount"] == "50.00", (mine, theirs)
        assert mine["totalAmount"] == theirs["totalAmount"], (mine, theirs)
