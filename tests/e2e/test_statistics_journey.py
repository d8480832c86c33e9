"""The statistics and migration journey on the local stack as `make run` starts it, over HTTP only: the
back office reads an office's receivables, arrears and collections; a bill is collected at the counter;
the statistics reflect it at once (arrears down, received up by the same amount, receivable unchanged);
the export of the collections by period is downloaded through its time-limited link from the local S3
and read back; a legacy file naming that bill is imported and the verification report finds it."""

from __future__ import annotations

import io
import signal
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest

from tests.e2e.test_local_stack import Stack
from tests.e2e.test_payment_journey import ok

pytestmark = pytest.mark.e2e

DEPT = 2  # 鼓楼营业所 of the demo data


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    running = Stack(tmp_path_factory.mktemp("statistics-stack"))
    try:
        running.wait_ready()
        yield running
    finally:
        if running.proc.poll() is None:
            running.proc.send_signal(signal.SIGINT)
            running.proc.wait(timeout=30)


def values(data: dict[str, Any]) -> dict[str, Decimal]:
    return {i["indicatorCode"]: Decimal(i["indicatorValue"] or 0) for i in data["indicatorList"]}


def test_a_counter_payment_shows_in_the_statistics_export_and_migration_report(stack: Stack) -> None:
    from openpyxl import load_workbook

    with httpx.Client(base_url=stack.base, timeout=30) as client:
        login = ok(
            client.post("/admin-api/system/auth/login", json={"username": "admin", "password": "admin123"})
        )
        admin = {"Authorization": f"Bearer {login['accessToken']}"}

        def ask(theme: str, **extra: Any) -> dict[str, Any]:
            body = {
                "themeCode": theme,
                "dateFrom": "2020-01-01",
                "dateTo": "2030-12-31",
                "deptId": DEPT,
                **extra,
            }
            return dict(ok(client.post("/admin-api/revenue/statistics/query", headers=admin, json=body)))

        # Given an unpaid bill of the demo customer and the office's figures before
        bills = ok(
            client.get(
                "/admin-api/revenue/collection/charge/page",
                headers=admin,
                params={"custCode": "KH0000000001", "chargeStatus": "UNPAID", "pageSize": 1},
            )
        )["list"]
        assert bills, "the demo customer has an unpaid bill"
        bill = bills[0]
        receivable, arrears, collected = (values(ask(t)) for t in ("RECEIVABLE", "ARREARS", "COLLECTION"))

        # When the counter collects it in cash
        due = Decimal(bill["dueAmount"])
        paid = ok(
            client.post(
                "/admin-api/revenue/collection/create",
                headers=admin,
                json={
                    "custId": bill["custId"],
                    "chargeIds": [bill["chargeId"]],
                    "paymentChannel": "CASH",
                    "paymentAmount": str(due),
                },
            )
        )
        assert paid["writeOffStatus"] == "SUCCESS"

        # Then receivable is unchanged, arrears fell by the principal, received rose by the money taken
        after = {t: values(ask(t)) for t in ("RECEIVABLE", "ARREARS", "COLLECTION")}
        principal = Decimal(bill["unpaidAmount"])
        assert after["RECEIVABLE"]["RECEIVABLE_AMOUNT"] == receivable["RECEIVABLE_AMOUNT"]
        assert after["ARREARS"]["ARREARS_AMOUNT"] == arrears["ARREARS_AMOUNT"] - principal
        assert after["COLLECTION"]["RECEIVED_AMOUNT"] == collected["RECEIVED_AMOUNT"] + due
        assert after["COLLECTION"]["TRANSACTION_COUNT"] == collected["TRANSACTION_COUNT"] + 1

        # And the export of collections by period downloads from its short-lived link and reads back
        export = ok(
            client.post(
                "/admin-api/revenue/statistics/export",
                headers=admin,
                json={
                    "themeCode": "COLLECTION",
                    "dateFrom": "2020-01-01",
                    "dateTo": "2030-12-31",
                    "deptId": DEPT,
                    "groupBy": ["period"],
                },
            )
        )
        content = httpx.get(export["downloadUrl"], timeout=10).content
        book = load_workbook(io.BytesIO(content), read_only=True)
        assert book.sheetnames == ["统计结果", "趋势"]
        rows = list(book["统计结果"].iter_rows(values_only=True))
        assert rows[-1][0] == "合计"
        assert Decimal(str(rows[-1][2])).quantize(Decimal("0.01")) == after["COLLECTION"]["RECEIVED_AMOUNT"]

        # And a legacy file naming the bill is verified against it
        code = bill["chargeCode"]
        period = bill["billPeriod"]
        csv = (
            "legacyNo,newNo,custCode,billPeriod,amount,status\n"
            f"E2E-{bill['chargeId']},{code},KH0000000001,{period},{bill['totalAmount']},PAID\n"
        )
        imported = ok(
            client.post(
                "/admin-api/revenue/migration/import",
                headers=admin,
                json={"objectType": "BILL", "sourceSystem": "E2E", "csvContent": csv},
            )
        )
        assert imported["mappedCount"] == 1
        report = ok(
            client.post(
                "/admin-api/revenue/migration/verify",
                headers=admin,
                json={
                    "objectType": "BILL",
                    "periodFrom": period,
                    "periodTo": period,
                    "deptId": DEPT,
                    "importNo": imported["importNo"],
                },
            )
        )
        listed = [d for d in report["diffRows"] if d["legacyNo"] == f"E2E-{bill['chargeId']}"]
        assert listed == []  # the bill is as migrated: only the office's other bills (no legacy rows) differ
        assert any(g["legacyCount"] == 1 for g in report["summaryRows"])
