"""A connection application from the application to the first bill, on the local stack as `make run`
starts it (the e-signature simulator, S3 on moto), over HTTP only: the clerk uploads the application's
papers through their link and applies (IF-INST-001); the survey passes with an estimate (IF-INST-002);
the contract goes to the e-signature service (IF-INST-003), whose simulator signs it and calls back
signed (IF-INST-004); the check and finish papers are archived (IF-INST-005), which creates the customer,
its account and its meter; the meter joins a book, is read through the readings interface (IF-REV-004)
and billed (IF-REV-005)."""

from __future__ import annotations

import datetime as dt
import hashlib
import signal
import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest

from tests.e2e.test_local_stack import Stack
from tests.e2e.test_payment_journey import ok, until

pytestmark = pytest.mark.e2e
CST = dt.timezone(dt.timedelta(hours=8))


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    running = Stack(tmp_path_factory.mktemp("installation-stack"))
    try:
        running.wait_ready()
        yield running
    finally:
        if running.proc.poll() is None:
            running.proc.send_signal(signal.SIGINT)
            running.proc.wait(timeout=30)


def test_a_connection_application_from_apply_to_the_first_bill(stack: Stack) -> None:
    sim = stack.banner_url("e-signature")
    with httpx.Client(base_url=stack.base, timeout=15) as client:
        admin = {
            "Authorization": "Bearer "
            + ok(
                client.post(
                    "/admin-api/system/auth/login", json={"username": "admin", "password": "admin123"}
                )
            )["accessToken"]
        }
        tag = f"{time.time_ns() % 10**8:08d}"

        def upload(name: str, content: bytes, file_type: str = "application/pdf") -> dict[str, Any]:
            link = ok(
                client.post(
                    "/admin-api/installation/attachment/upload-url",
                    headers=admin,
                    json={"fileName": name, "fileType": file_type, "fileSize": len(content)},
                )
            )
            put = httpx.put(
                link["uploadUrl"], content=content, headers={"Content-Type": file_type}, timeout=10
            )
            assert put.status_code == 200, put.text
            return {
                "fileName": name,
                "fileKey": link["fileKey"],
                "fileType": file_type,
                "fileSize": len(content),
                "sha256": hashlib.sha256(content).hexdigest(),
            }

        # Given an applicant's papers uploaded and the application made at the counter
        applied = ok(
            client.post(
                "/admin-api/installation/apply/create",
                headers=admin,
                json={
                    "applyType": "NEW",
                    "applicantName": "郑报装",
                    "mobile": "13700001111",
                    "address": f"鼓楼区报装路 {tag} 号",
                    "waterUseType": "RESIDENT",
                    "sourceChannel": "COUNTER",
                    "deptId": 2,
                    "attachmentList": [upload("申请表.pdf", b"%PDF application " + tag.encode())],
                },
            )
        )
        process = applied["processId"]
        assert applied["processStatus"] == "SURVEYING"

        # When the survey passes with its estimate and the contract goes out for signature
        surveyed = ok(
            client.post(
                "/admin-api/installation/survey/result",
                headers=admin,
                json={
                    "processId": process,
                    "schemeVersion": "V1",
                    "surveyResult": "具备接水条件，DN20 入户",
                    "estimateAmount": "1500.00",
                    "auditResult": "PASS",
                    "attachmentList": [upload("现场.png", b"\x89PNG site " + tag.encode(), "image/png")],
                },
            )
        )
        assert surveyed["nextNode"] == "CONTRACT_SIGN"
        sent = ok(
            client.post(
                "/admin-api/installation/contract/sign/initiate", headers=admin, json={"processId": process}
            )
        )
        assert sent["sendStatus"] == "SENT" and sent["signUrl"].startswith(sim)

        # ... the simulator signs and calls back signed: the application is SIGNED with its evidence
        def detail() -> dict[str, Any]:
            return dict(ok(client.get(f"/admin-api/installation/apply/{process}", headers=admin)))

        signed = until(lambda: (d := detail())["processStatus"] == "SIGNED" and d, "the signing callback")
        contract = signed["contractList"][0]
        assert contract["signStatus"] == "SUCCESS" and contract["evidenceNo"] and contract["hashValue"]

        # ... the work is checked with the meter installed, and the application archived as finished
        meter_no = f"E2EBZ{tag}"
        checked = ok(
            client.post(
                "/admin-api/installation/archive/submit",
                headers=admin,
                json={
                    "processId": process,
                    "archiveType": "CHECK",
                    "attachmentList": [upload("验收单.pdf", b"%PDF check " + tag.encode())],
                    "meterInfo": {"meterNo": meter_no, "caliber": "DN20", "initialReading": "5"},
                },
            )
        )
        assert (checked["archiveStatus"], checked["processStatus"]) == ("SUCCESS", "CONSTRUCTED")
        finished = ok(
            client.post(
                "/admin-api/installation/archive/submit",
                headers=admin,
                json={
                    "processId": process,
                    "archiveType": "FINISH",
                    "attachmentList": [upload("竣工单.pdf", b"%PDF finish " + tag.encode())],
                },
            )
        )
        assert (finished["archiveStatus"], finished["processStatus"]) == ("SUCCESS", "COMPLETED")
        assert len(finished["evidenceHash"]) == 64

        # Then the customer, its account and its meter exist and are linked
        done = detail()
        cust_id, meter_id = done["custId"], done["meterId"]
        customer = ok(client.get(f"/admin-api/revenue/customer/{cust_id}", headers=admin))
        assert customer["name"] == "郑报装" and [m["meterNo"] for m in customer["meterList"]] == [meter_no]
        assert [a["accountId"] for a in customer["accountList"]] == [done["accountId"]]

        # ... ready for the next reading: it joins a book, is read, and billed
        now = dt.datetime.now(CST) - dt.timedelta(minutes=5)
        period = f"{now:%Y-%m}"
        book = ok(
            client.post(
                "/admin-api/revenue/meter-book/save",
                headers=admin,
                json={
                    "code": f"BK-BZ-{tag}",
                    "name": "报装旅程册",
                    "areaCode": f"AR-BZ{tag}",
                    "deptId": 2,
                    "readCycle": "MONTHLY",
                    "meterIds": [meter_id],
                },
            )
        )
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
                    "meterId": meter_id,
                    "readTime": now.isoformat(timespec="seconds"),
                    "currentReading": "17",
                    "readType": "MANUAL",
                },
            )
        )
        assert reading["validateStatus"] == "PASS", reading
        assert Decimal(reading["usageAmount"]) == Decimal("12")  # from the installed meter's 5
        generated = ok(
            client.post(
                "/admin-api/revenue/charge/generate",
                headers=admin,
                json={
                    "billPeriod": period,
                    "dueDate": f"{(now + dt.timedelta(days=30)):%Y-%m-%d}",
                    "meterReadIds": [task],
                },
            )
        )
        (bill,) = generated["successList"]
        assert generated["failureList"] == []
        assert bill["custId"] == cust_id and Decimal(bill["totalAmount"]) > 0
