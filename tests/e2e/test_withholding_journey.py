"""The withholding journey on the local stack as `make run` starts it (the bank's SFTP simulator and
processor, moto's Step Functions running workflows/withholding.asl.json), over HTTP only: a customer is
billed; the clerk signs a withholding agreement (the account masked in every reply); the transfer
configuration of channel ICBC resolves; a batch is created, selected, sent over SFTP, taken by the bank,
returned (IF-EXT-002 receipt), written off, reconciled and settled; the bill is paid; the batch is never
sent twice; an agreement ends."""

from __future__ import annotations

import shutil
import signal
import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.journey import admin_headers, billed_customer
from tests.e2e.test_local_stack import Stack
from tests.e2e.test_payment_journey import ok, until

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    # Not under pytest's base temp: that is 0700 root's, and the embedded PostgreSQL runs as its own user
    # under root (it must reach its data folder).
    state = Path(tempfile.mkdtemp(prefix="waterrev-e2e-withholding-"))
    state.chmod(0o755)
    running = Stack(state)
    try:
        running.wait_ready()
        yield running
    finally:
        if running.proc.poll() is None:
            running.proc.send_signal(signal.SIGINT)
            running.proc.wait(timeout=30)
        shutil.rmtree(state, ignore_errors=True)


def test_sign_batch_send_return_write_off_reconcile_settle(stack: Stack) -> None:
    with httpx.Client(base_url=stack.base, timeout=30) as client:
        admin = admin_headers(client)
        period = "2020-11"
        tag, cust_id, _meter, bill = billed_customer(
            client,
            admin,
            name="代扣户",
            mobile="13812345671",
            address="鼓楼区代扣路 1 号",
            code="W",
            period=period,
            reading="21",
            due_date="2020-12-28",
        )

        # Given a withholding agreement on channel ICBC: the account never comes back in clear
        signed = ok(
            client.post(
                "/admin-api/revenue/bank/withholding/signing",
                headers=admin,
                json={
                    "custId": cust_id,
                    "bankCode": "ICBC",
                    "bankAccount": "6222020200004455667",
                    "accountName": "代扣户",
                    "channelCode": "ICBC",
                },
            )
        )
        assert signed["bankAccount"] == "6222***********5667"
        resolved = ok(
            client.get(
                "/admin-api/revenue/bank/transfer-config",
                headers=admin,
                params={"channelCode": "ICBC", "batchNo": "WHPREVIEW"},
            )
        )["resolved"]
        assert (
            resolved["protocol"] == "SFTP" and resolved["resolvedPath"] == "/ICBC/send/WH_ICBC_WHPREVIEW.txt"
        )

        # When a batch of the period is created
        batch_no = f"WHE2E{tag}"
        created = ok(
            client.post(
                "/admin-api/revenue/bank/withholding/batch",
                headers=admin,
                json={
                    "batchNo": batch_no,
                    "businessType": "WITHHOLDING",
                    "channelCode": "ICBC",
                    "billPeriod": period,
                },
            )
        )
        assert created["batchStatus"] == "CREATED" and created["executionArn"]

        # Then it is sent, returned, written off, reconciled and settled
        def status() -> dict:
            return ok(
                client.get(
                    "/admin-api/revenue/bank/withholding/send-disc-check",
                    headers=admin,
                    params={"batchNo": batch_no},
                )
            )

        done = until(lambda: (s := status())["batchStatus"] == "SETTLED" and s, "the batch's settlement", 90)
        assert done["successCount"] >= 1 and done["reconcileStatus"] == "BALANCED"
        assert done["returnList"][0]["status"] == "APPLIED"
        paid = ok(
            client.get(
                "/admin-api/revenue/collection/charge/page",
                headers=admin,
                params={"custId": cust_id, "billPeriod": period},
            )
        )["list"]
        assert [b["payStatus"] for b in paid if b["chargeId"] == bill["chargeId"]] == ["PAID"]

        # and it is never sent twice; the agreement can end
        again = client.post(
            "/admin-api/revenue/bank/withholding/batch",
            headers=admin,
            json={
                "batchNo": batch_no,
                "businessType": "WITHHOLDING",
                "channelCode": "ICBC",
                "billPeriod": period,
            },
        ).json()
        assert again["code"] == 1_002_006_001
        ended = ok(
            client.post(
                "/admin-api/revenue/bank/withholding/termination",
                headers=admin,
                json={"custId": cust_id, "reason": "旅程结束"},
            )
        )
        assert ended["signStatus"] == "TERMINATED"
