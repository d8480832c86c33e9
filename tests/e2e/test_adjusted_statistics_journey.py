"""Adjustments in the statistics, on the local stack as `make run` starts it, over HTTP only: a bill is
collected in cash with 50.00 too much; the 鼓楼 counter clerk asks to reverse that collection (冲正, needs a
second person's approval by type) and the administrator approves; the bill is collected again with 50.00
too much and the clerk asks to refund the 50.00 (above the dept's approval threshold), which the
administrator approves. After each step the office's statistics (IF-REV-010 /statistics/query) and an
export of its collections (/statistics/export, read back from its time-limited link) show the step:
received, arrears, reversed, refunded and net received, each apart; a step still waiting for approval
changes nothing."""

from __future__ import annotations

import io
import signal
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest

from tests.e2e.journey import admin_headers, billed_customer
from tests.e2e.test_local_stack import Stack
from tests.e2e.test_payment_journey import ok

pytestmark = pytest.mark.e2e

DEPT = 2  # 鼓楼营业所 of the demo data
ADJUST = "/admin-api/revenue/accounting/adjust"
THEMES = ("RECEIVABLE", "ARREARS", "COLLECTION")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    running = Stack(tmp_path_factory.mktemp("adjusted-statistics-stack"))
    try:
        running.wait_ready()
        yield running
    finally:
        if running.proc.poll() is None:
            running.proc.send_signal(signal.SIGINT)
            running.proc.wait(timeout=30)


def test_collect_reverse_and_refund_with_approval_show_in_the_statistics_and_export(stack: Stack) -> None:
    from openpyxl import load_workbook

    with httpx.Client(base_url=stack.base, timeout=30) as client:
        admin = admin_headers(client)
        clerk_login = ok(
            client.post("/admin-api/system/auth/login", json={"username": "gulou", "password": "gulou123"})
        )
        clerk = {"Authorization": f"Bearer {clerk_login['accessToken']}"}
        clerk_id = ok(client.get("/admin-api/system/auth/get-permission-info", headers=clerk))["user"]["id"]

        def figures() -> dict[str, dict[str, Decimal]]:
            out = {}
            for theme in THEMES:
                body = {"themeCode": theme, "dateFrom": "2020-01-01", "dateTo": "2030-12-31", "deptId": DEPT}
                data = ok(client.post("/admin-api/revenue/statistics/query", headers=admin, json=body))
                assert data["dimensionSummary"]["source"] == "SUMMARY"
                out[theme] = {
                    i["indicatorCode"]: Decimal(i["indicatorValue"] or 0) for i in data["indicatorList"]
                }
            return out

        def exported() -> dict[str, Decimal]:
            """The collections exported by channel, read back: the total row, by indicator code."""
            body = {
                "themeCode": "COLLECTION",
                "dateFrom": "2020-01-01",
                "dateTo": "2030-12-31",
                "deptId": DEPT,
                "groupBy": ["channelCode"],
            }
            query = ok(client.post("/admin-api/revenue/statistics/query", headers=admin, json=body))
            export = ok(client.post("/admin-api/revenue/statistics/export", headers=admin, json=body))
            book = load_workbook(
                io.BytesIO(httpx.get(export["downloadUrl"], timeout=10).content), read_only=True
            )
            rows = [list(r) for r in book["统计结果"].iter_rows(values_only=True)]
            header = next(r for r in rows if r and r[0] == "渠道")
            total = rows[-1]
            assert total[0] == "合计"
            return {
                i["indicatorCode"]: Decimal(
                    str(total[header.index(f"{i['indicatorName']}（{i['unit']}）")] or 0)
                ).quantize(Decimal("0.01"))
                for i in query["indicatorList"]
                if i["unit"] == "元"
            }

        def adjust(token: dict[str, str], **body: Any) -> dict[str, Any]:
            return dict(ok(client.post(ADJUST, headers=token, json={"operatorId": clerk_id, **body})))

        def collect(amount: Decimal, trade: str) -> dict[str, Any]:
            return dict(
                ok(
                    client.post(
                        "/admin-api/revenue/collection/create",
                        headers=admin,
                        json={
                            "custId": billed.cust_id,
                            "chargeIds": [bill_id],
                            "paymentChannel": "CASH",
                            "paymentAmount": str(amount),
                            "tradeNo": trade,
                        },
                    )
                )
            )

        # Given a billed customer of 鼓楼 (due far ahead: no penalty) and the office's figures before
        billed = billed_customer(
            client,
            admin,
            name="冯十二",
            mobile="13812345682",
            address="鼓楼区统计路 12 号",
            code="STA",
            period="2026-11",
            reading="18",
            due_date="2027-12-28",
        )
        bill_id, total = billed.bill["chargeId"], Decimal(billed.bill["totalAmount"])
        start, start_export = figures(), exported()

        # When the bill is collected in cash with 50.00 too much
        first = collect(total + 50, f"CASH-S1-{billed.tag}")
        paid = figures()
        # Then received rose by the money taken, 50.00 of it to the balance, arrears fell by the bill
        assert paid["COLLECTION"]["RECEIVED_AMOUNT"] == start["COLLECTION"]["RECEIVED_AMOUNT"] + total + 50
        assert paid["COLLECTION"]["TO_BALANCE_AMOUNT"] == start["COLLECTION"]["TO_BALANCE_AMOUNT"] + 50
        assert paid["ARREARS"]["ARREARS_AMOUNT"] == start["ARREARS"]["ARREARS_AMOUNT"] - total
        assert paid["RECEIVABLE"]["RECEIVABLE_AMOUNT"] == start["RECEIVABLE"]["RECEIVABLE_AMOUNT"]
        assert exported()["RECEIVED_AMOUNT"] == start_export["RECEIVED_AMOUNT"] + total + 50

        # When the clerk asks to reverse that collection: it waits for a second person, nothing changes yet
        asked = adjust(
            clerk,
            chargeId=bill_id,
            adjustType="REVERSE",
            sourceTradeNo=first["collectionCode"],
            reasonCode="WRONG_CUSTOMER",
            remark="缴错户号",
        )
        assert asked["resultStatus"] == "PENDING_APPROVAL", asked
        refused = client.post(
            f"{ADJUST}/approve", headers=clerk, json={"adjustmentNo": asked["adjustmentNo"]}
        )
        assert refused.status_code == 403, refused.text
        assert figures() == paid

        # Then, approved by the administrator, the money is no longer received (reversed on its own day) and
        # the bill is arrears again; the pay-back is the reversal's, not a refund
        approved = ok(
            client.post(f"{ADJUST}/approve", headers=admin, json={"adjustmentNo": asked["adjustmentNo"]})
        )
        assert approved["resultStatus"] == "SUCCESS" and approved["refundMethod"] == "COUNTER", approved
        reversed_ = figures()
        rev, pays = reversed_["COLLECTION"], paid["COLLECTION"]
        assert rev["RECEIVED_AMOUNT"] == start["COLLECTION"]["RECEIVED_AMOUNT"]
        assert rev["REVERSED_AMOUNT"] == pays["REVERSED_AMOUNT"] + total + 50
        assert rev["TO_BALANCE_AMOUNT"] == start["COLLECTION"]["TO_BALANCE_AMOUNT"]
        assert rev["WRITTEN_OFF_AMOUNT"] == start["COLLECTION"]["WRITTEN_OFF_AMOUNT"]
        assert rev["REFUNDED_AMOUNT"] == pays["REFUNDED_AMOUNT"]
        assert rev["TRANSACTION_COUNT"] == pays["TRANSACTION_COUNT"]  # the collection happened
        assert reversed_["ARREARS"]["ARREARS_AMOUNT"] == start["ARREARS"]["ARREARS_AMOUNT"]
        after_reversal = exported()
        assert after_reversal["RECEIVED_AMOUNT"] == start_export["RECEIVED_AMOUNT"]
        assert after_reversal["REVERSED_AMOUNT"] == start_export["REVERSED_AMOUNT"] + total + 50

        # When the bill is collected again with 50.00 too much, and a refund of that 50.00 (above the
        # dept's threshold of 10.00) is asked by the clerk
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
        second = collect(total + 50, f"CASH-S2-{billed.tag}")
        collected = figures()
        assert collected["COLLECTION"]["RECEIVED_AMOUNT"] == rev["RECEIVED_AMOUNT"] + total + 50
        refund = adjust(
            clerk,
            chargeId=bill_id,
            adjustType="REFUND",
            adjustAmount="50.00",
            sourceTradeNo=second["collectionCode"],
            reasonCode="OVERPAID",
        )
        assert refund["resultStatus"] == "PENDING_APPROVAL", refund
        assert figures() == collected

        # Then, approved by the administrator and paid out at the counter, it is refunded: received stays,
        # net received falls by 50.00, and the export says the same
        paid_out = ok(
            client.post(f"{ADJUST}/approve", headers=admin, json={"adjustmentNo": refund["adjustmentNo"]})
        )
        assert (paid_out["resultStatus"], paid_out["refundStatus"]) == ("SUCCESS", "SUCCESS"), paid_out
        refunded = figures()["COLLECTION"]
        before = collected["COLLECTION"]
        assert refunded["RECEIVED_AMOUNT"] == before["RECEIVED_AMOUNT"]
        assert refunded["REFUNDED_AMOUNT"] == before["REFUNDED_AMOUNT"] + 50
        assert refunded["NET_RECEIVED_AMOUNT"] == before["NET_RECEIVED_AMOUNT"] - 50
        assert refunded["NET_RECEIVED_AMOUNT"] == refunded["RECEIVED_AMOUNT"] - refunded["REFUNDED_AMOUNT"]
        final_export = exported()
        assert final_export["REFUNDED_AMOUNT"] == refunded["REFUNDED_AMOUNT"]
        assert final_export["NET_RECEIVED_AMOUNT"] == refunded["NET_RECEIVED_AMOUNT"]
        assert final_export["RECEIVED_AMOUNT"] == refunded["RECEIVED_AMOUNT"]
