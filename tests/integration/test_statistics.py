"""IF-REV-010 statistics: themes over the summaries kept by the business tables' triggers, answering as a
scan of the live tables would (every theme, every grouping, folded or not, after a customer moves office);
receivable, received and arrears kept apart and consistent with the ledger after payments; a prepaid
deduction counted once; the data scope; every refusal; and the XLSX export read back from its
time-limited link, with its chart, its permission and its audit."""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import pytest

from tests.support import (
    TAIJIANG_DEPT,
    admin_login,
    audit_rows,
    call,
    expect_error,
    new_admin_user,
    new_bills,
    new_dept,
    set_param,
    sql_all,
    sql_exec,
    sql_scalar,
)
from waterrev import clock
from waterrev.context import SYSTEM, RequestContext
from waterrev.statistics import query as stat_query
from waterrev.statistics import rules
from waterrev.statistics.commands import StatQuery

QUERY = "/admin-api/revenue/statistics/query"
EXPORT = "/admin-api/revenue/statistics/export"
COLLECT = "/admin-api/revenue/collection/create"
PERIODS = ["2026-01", "2026-02", "2026-03"]
SYSTEM_CTX = RequestContext(request_id="test-statistics", principal=SYSTEM)


def ask(token: str, theme: str, **extra: Any) -> Any:
    today = clock.today()
    body = {
        "themeCode": theme,
        "dateFrom": "2026-01-01",
        "dateTo": str(today + dt.timedelta(days=1)),
        **extra,
    }
    return call("POST", QUERY, body, token=token)


def indicators(items: list[dict[str, Any]]) -> dict[str, str | None]:
    return {i["indicatorCode"]: i["indicatorValue"] for i in items}


def money(value: Any) -> str:
    return str(Decimal(value or 0).quantize(Decimal("0.01")))


def collect(token: str, cust: int, bills: list[int], amount: Any, channel: str = "CASH") -> Any:
    body = {"custId": cust, "chargeIds": bills, "paymentChannel": channel, "paymentAmount": str(amount)}
    reply = call("POST", COLLECT, body, token=token)
    assert reply.code == 0, reply.body
    return reply


@pytest.fixture(scope="module")
def office(admin: str) -> dict[str, Any]:
    """An office of its own: two customers, three bills each (2026-01..03); the first customer pays its
    oldest bill with more cash than it owes (the surplus goes to its balance), then pays its newest bill
    from that balance (PREPAY); the second pays half of its oldest bill."""
    dept = new_dept()
    first, bills1 = new_bills(admin, PERIODS, dept_id=dept)
    second, bills2 = new_bills(admin, PERIODS, dept_id=dept)
    cash = collect(admin, first, [bills1[0]["id"]], Decimal(bills1[0]["total_amount"]) + 100)
    prepay = collect(admin, first, [bills1[2]["id"]], bills1[2]["total_amount"], channel="PREPAY")
    half = (Decimal(bills2[0]["total_amount"]) / 2).quantize(Decimal("0.01"))
    set_param(admin, "revenue.collection.allow-partial", "true", dept_id=dept)
    partial = collect(admin, second, [bills2[0]["id"]], half)
    return {
        "dept": dept,
        "custs": (first, second),
        "bills": bills1 + bills2,
        "collections": [cash.data, prepay.data, partial.data],
    }


def ledger(dept: int) -> dict[str, Decimal]:
    """The same questions asked of the ledger directly."""
    bills = sql_all(
        "SELECT ch.* FROM biz_charge ch JOIN biz_cust c ON c.id = ch.cust_id WHERE c.dept_id = :d"
        " AND ch.status <> 'CANCELLED'",
        {"d": dept},
    )
    pays = sql_all(
        "SELECT k.* FROM biz_collection k JOIN biz_cust c ON c.id = k.cust_id WHERE c.dept_id = :d",
        {"d": dept},
    )
    return {
        "receivable": sum((b["total_amount"] for b in bills), Decimal(0)),
        "paid": sum((b["paid_amount"] for b in bills), Decimal(0)),
        "arrears": sum(
            (b["total_amount"] - b["paid_amount"] for b in bills if b["status"] in ("UNPAID", "PARTIAL")),
            Decimal(0),
        ),
        "cash": sum((k["amount"] for k in pays if k["channel"] != "PREPAY"), Decimal(0)),
        "cash_written_off": sum((k["written_off"] for k in pays if k["channel"] != "PREPAY"), Decimal(0)),
        "prepay": sum((k["amount"] for k in pays if k["channel"] == "PREPAY"), Decimal(0)),
        "written_off": sum((k["written_off"] for k in pays), Decimal(0)),
        "to_balance": sum((k["to_balance"] for k in pays if k["channel"] != "PREPAY"), Decimal(0)),
    }


def test_receivable_received_and_arrears_agree_with_the_ledger_after_payments(
    admin: str, office: dict[str, Any]
) -> None:
    """Given an office with six bills, a cash payment with a surplus, a prepaid deduction and a partial
    payment, when its receivables, arrears and collections are asked, then each indicator is the ledger's
    own sum, receivable = written off + arrears, and nothing mixes them."""
    dept = office["dept"]
    expected = ledger(dept)
    receivable = ask(admin, "RECEIVABLE", deptId=dept)
    assert receivable.code == 0, receivable.body
    got = indicators(receivable.data["indicatorList"])
    assert got["BILL_COUNT"] == "6"
    assert got["RECEIVABLE_AMOUNT"] == money(expected["receivable"])
    assert got["WRITTEN_OFF_AMOUNT"] == money(expected["paid"])
    arrears = indicators(ask(admin, "ARREARS", deptId=dept).data["indicatorList"])
    assert arrears["ARREARS_AMOUNT"] == money(expected["arrears"])
    assert Decimal(got["RECEIVABLE_AMOUNT"]) == Decimal(got["WRITTEN_OFF_AMOUNT"]) + Decimal(
        arrears["ARREARS_AMOUNT"]
    )
    assert arrears["ARREARS_BILL_COUNT"] == "4"  # two paid in full, one partial, three untouched
    pays = indicators(ask(admin, "COLLECTION", deptId=dept).data["indicatorList"])
    assert pays["TRANSACTION_COUNT"] == "3"
    assert pays["RECEIVED_AMOUNT"] == money(expected["cash"])
    assert pays["PREPAY_DEDUCTED_AMOUNT"] == money(expected["prepay"]) != "0.00"
    assert pays["WRITTEN_OFF_AMOUNT"] == money(expected["written_off"])
    assert pays["TO_BALANCE_AMOUNT"] == money(expected["to_balance"]) != "0.00"


def test_a_prepaid_deduction_is_not_received_twice(admin: str, office: dict[str, Any]) -> None:
    """Given cash that went partly to the balance and a later deduction from it, when collections are
    grouped by channel, then the money received is the cash alone (the deduction spends money already
    received into the balance), cash received = its write-offs + what went to the balance, and the
    channel share of PREPAY is zero."""
    expected = ledger(office["dept"])
    reply = ask(admin, "COLLECTION", deptId=office["dept"], groupBy=["channelCode"])
    rows = {r["channelCode"]: indicators(r["indicatorList"]) for r in reply.data["groupRows"]}
    assert set(rows) == {"CASH", "PREPAY"}
    assert rows["PREPAY"]["RECEIVED_AMOUNT"] == "0.00"
    assert rows["PREPAY"]["CHANNEL_SHARE"] == "0.00"
    assert rows["CASH"]["CHANNEL_SHARE"] == "100.00"
    assert Decimal(rows["CASH"]["RECEIVED_AMOUNT"]) == expected["cash_written_off"] + expected["to_balance"]
    total = indicators(reply.data["indicatorList"])
    assert Decimal(total["RECEIVED_AMOUNT"]) == Decimal(rows["CASH"]["RECEIVED_AMOUNT"])


def test_arrears_by_ageing_and_receivables_by_period(admin: str, office: dict[str, Any]) -> None:
    """Given the office's bills, when grouped by period or by ageing, then the groups add up to the totals
    and every ageing bucket is one of the documented ones, named."""
    by_period = ask(admin, "RECEIVABLE", deptId=office["dept"], groupBy=["period"]).data
    assert [r["period"] for r in by_period["groupRows"]] == PERIODS
    assert all(indicators(r["indicatorList"])["BILL_COUNT"] == "2" for r in by_period["groupRows"])
    total = sum(
        Decimal(indicators(r["indicatorList"])["RECEIVABLE_AMOUNT"] or 0) for r in by_period["groupRows"]
    )
    assert money(total) == indicators(by_period["indicatorList"])["RECEIVABLE_AMOUNT"]
    ageing = ask(admin, "ARREARS", deptId=office["dept"], groupBy=["ageing"]).data
    assert ageing["groupRows"]
    for row in ageing["groupRows"]:
        assert (
            row["ageing"] in rules.AGEING_BUCKETS and row["ageingName"] == rules.AGEING_NAMES[row["ageing"]]
        )


CASES = [
    ("RECEIVABLE", ("period", "deptId")),
    ("RECEIVABLE", ("customerCategory", "priceCode", "status")),
    ("ARREARS", ("period", "ageing")),
    ("ARREARS", ("deptId", "customerCategory")),
    ("COLLECTION", ("period", "channelCode")),
    ("COLLECTION", ("deptId", "status", "priceCode")),
    ("CUSTOMER", ("deptId", "customerCategory", "status")),
    ("READING", ("period", "deptId")),
    ("INVOICE", ("period", "status", "invoiceType")),
    ("INVOICE", ()),
]


def both(theme: str, group_by: tuple[str, ...], **extra: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    cmd = StatQuery(
        theme, dt.date(2020, 1, 1), clock.today() + dt.timedelta(days=1), group_by=group_by, **extra
    )
    summary = stat_query.run(SYSTEM_CTX, cmd)
    live = stat_query.run(SYSTEM_CTX, cmd, source="LIVE")
    assert summary["dimensionSummary"]["source"] == "SUMMARY" and live["dimensionSummary"]["source"] == "LIVE"
    return summary, live


def same_answer(summary: dict[str, Any], live: dict[str, Any]) -> None:
    assert summary["indicatorList"] == live["indicatorList"]
    assert summary["groupRows"] == live["groupRows"]


@pytest.mark.parametrize(("theme", "group_by"), CASES)
def test_every_theme_from_its_summary_answers_as_the_live_tables(
    office: dict[str, Any], theme: str, group_by: tuple[str, ...]
) -> None:
    """Given the whole book the suite has written so far (bill runs, payments, readings, invoices), when a
    theme is asked of its summary and of the live tables with the same grouping, then both answers are
    identical, before and after the summaries are folded."""
    same_answer(*both(theme, group_by))
    sql_scalar("SELECT stat_fold()")
    same_answer(*both(theme, group_by))


def test_a_customer_moved_to_another_office_takes_its_history_with_it(admin: str) -> None:
    """Given a customer with bills and a payment in one office, when it moves to another office and type,
    then every theme grouped by office and type still answers as the live tables, and the new office holds
    its bills."""
    dept_a, dept_b = new_dept(), new_dept()
    cust, bills = new_bills(admin, ["2026-04", "2026-05"], dept_id=dept_a)
    collect(admin, cust, [bills[0]["id"]], bills[0]["total_amount"])
    sql_exec(
        "UPDATE biz_cust SET dept_id = :d, cust_type = 'NON_RESIDENT' WHERE id = :c", {"d": dept_b, "c": cust}
    )
    for theme in ("RECEIVABLE", "ARREARS", "COLLECTION", "CUSTOMER", "READING"):
        same_answer(*both(theme, ("deptId", "customerCategory")))
    moved = indicators(ask(admin, "RECEIVABLE", deptId=dept_b).data["indicatorList"])
    assert moved["BILL_COUNT"] == "2"
    assert indicators(ask(admin, "RECEIVABLE", deptId=dept_a).data["indicatorList"])["BILL_COUNT"] == "0"


def test_one_customer_is_answered_from_the_live_tables(admin: str, office: dict[str, Any]) -> None:
    """Given a customer (custId) or its account (accountId), when its receivables are asked, then the
    answer comes from the live tables and holds its three bills only."""
    cust = office["custs"][0]
    reply = ask(admin, "RECEIVABLE", custId=cust)
    assert reply.data["dimensionSummary"]["source"] == "LIVE"
    assert indicators(reply.data["indicatorList"])["BILL_COUNT"] == "3"
    account = sql_scalar("SELECT id FROM biz_account WHERE cust_id = :c", {"c": cust})
    by_account = ask(admin, "RECEIVABLE", accountId=account)
    assert by_account.data["indicatorList"] == reply.data["indicatorList"]
    per_customer = ask(admin, "ARREARS", deptId=office["dept"], groupBy=["custId"]).data["groupRows"]
    assert {r["custId"] for r in per_customer} == set(office["custs"])
    assert all(r["custCode"] for r in per_customer)


def test_the_data_scope_bounds_every_answer(admin: str, office: dict[str, Any]) -> None:
    """Given a user whose data scope is its own office (台江) and the office of the fixture outside it, when
    it asks, then groups by office hold only its offices, the other office answers as absent (404), the
    other office's customer as a missing customer (1_002_001_001), and the totals are its own office's."""
    user = admin_login(
        new_admin_user(
            dept_id=TAIJIANG_DEPT, permissions=("revenue:statistics:query",), data_scope="DEPT_AND_CHILD"
        ),
        "Passw0rd!",
    )
    by_dept = ask(user, "RECEIVABLE", groupBy=["deptId"])
    assert by_dept.code == 0, by_dept.body
    assert {r["deptId"] for r in by_dept.data["groupRows"]} <= {TAIJIANG_DEPT}
    assert by_dept.data["exportAllowed"] is False
    mine = stat_query.run(
        SYSTEM_CTX,
        StatQuery(
            "RECEIVABLE", dt.date(2026, 1, 1), clock.today() + dt.timedelta(days=1), dept_id=TAIJIANG_DEPT
        ),
    )
    assert by_dept.data["indicatorList"] == mine["indicatorList"]
    expect_error(ask(user, "RECEIVABLE", deptId=office["dept"]), 404, mentions="deptId")
    expect_error(ask(user, "RECEIVABLE", custId=office["custs"][0]), 1_002_001_001)
    account = sql_scalar("SELECT id FROM biz_account WHERE cust_id = :c", {"c": office["custs"][0]})
    expect_error(ask(user, "RECEIVABLE", accountId=account), 1_002_001_001)
    expect_error(ask(user, "RECEIVABLE", accountId=9_000_000_000), 1_002_001_001)


def test_without_the_query_permission_the_statistics_are_refused(admin: str) -> None:
    """Given a user without revenue:statistics:query, when it asks, then 403; without a token, 401."""
    user = admin_login(new_admin_user(permissions=("revenue:customer:query",)), "Passw0rd!")
    expect_error(ask(user, "RECEIVABLE"), 403)
    assert call("POST", QUERY, {"themeCode": "RECEIVABLE"}).status == 401


@pytest.mark.parametrize(
    ("extra", "mentions"),
    [
        ({"dateFrom": "2026-05-01", "dateTo": "2026-04-01"}, "dateTo"),
        ({"groupBy": ["channelCode"]}, "groupBy"),
        ({"groupBy": ["period", "period"]}, "groupBy"),
        ({"statusSet": ["SUCCESS"]}, "statusSet"),
        ({"channelCode": "CASH"}, "channelCode"),
        ({"regionCode": "R01"}, "regionCode"),
        ({"themeCode": "FORECAST"}, "themeCode"),
        ({"groupBy": ["custId"], "themeCode": "CUSTOMER"}, "groupBy"),
        ({"dateFrom": "2026-13-01"}, "dateFrom"),
    ],
)
def test_a_request_the_theme_cannot_answer_is_refused_naming_the_field(
    admin: str, extra: dict[str, Any], mentions: str
) -> None:
    """Given a request that does not fit its theme, when asked, then 400 names the field and nothing is
    answered."""
    body = {"themeCode": "RECEIVABLE", "dateFrom": "2026-01-01", "dateTo": "2026-12-31", **extra}
    expect_error(call("POST", QUERY, body, token=admin), 400, mentions=mentions)


def test_a_bill_period_on_the_customer_structure_and_an_unknown_office_are_refused(admin: str) -> None:
    """Given the customer structure (the book now, not by period) or an office that does not exist, then
    400 names billPeriod, 404 names deptId."""
    expect_error(ask(admin, "CUSTOMER", billPeriod="2026-01"), 400, mentions="billPeriod")
    expect_error(ask(admin, "RECEIVABLE", deptId=9_000_000_000), 404, mentions="deptId")


def test_too_many_groups_for_a_query_point_to_the_export(
    admin: str, office: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Given a grouping with more groups than a query answers, then 400 says to narrow it or export."""
    monkeypatch.setattr(stat_query, "MAX_QUERY_ROWS", 1)
    expect_error(ask(admin, "RECEIVABLE", deptId=office["dept"], groupBy=["period"]), 400, mentions="导出")


def test_reading_completion_and_abnormal_rate(admin: str, office: dict[str, Any]) -> None:
    """Given the office's six reading tasks, all read, when the reading theme is asked, then six tasks,
    six read, completion 100.00 %, and the abnormal rate is the abnormal readings over the readings."""
    got = indicators(ask(admin, "READING", deptId=office["dept"]).data["indicatorList"])
    assert got["TASK_COUNT"] == "6" and got["READ_COUNT"] == "6" and got["COMPLETION_RATE"] == "100.00"
    assert got["READING_COUNT"] == "6"
    assert got["ABNORMAL_RATE"] == money(Decimal(got["ABNORMAL_COUNT"]) * 100 / 6)


# ---- the export ---------------------------------------------------------------------------------


@pytest.fixture
def exports(_invoice_platform: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The local S3 (moto's server) holding the export bucket, our settings pointing at it."""
    from waterrev.adapters import export_files
    from waterrev.settings import reset_settings

    _sim, _relay, endpoint = _invoice_platform
    monkeypatch.setenv("WATERREV_S3_ENDPOINT_URL", endpoint)
    reset_settings()
    export_files.reset()
    yield endpoint
    monkeypatch.undo()
    reset_settings()
    export_files.reset()


def download(url: str) -> bytes:
    response = httpx.get(url, timeout=10)
    assert response.status_code == 200, response.text
    return response.content


def test_an_export_is_the_query_in_a_workbook_with_a_trend_chart_behind_a_short_link(
    admin: str, office: dict[str, Any], exports: str
) -> None:
    """Given the office's receivables by period, when exported, then the link is presigned for minutes,
    the workbook read back holds one row per group with the query's values and a total row, a trend sheet
    with a line chart, and the export is recorded and audited."""
    from openpyxl import load_workbook

    body = {"deptId": office["dept"], "groupBy": ["period"]}
    query = ask(admin, "RECEIVABLE", **body).data
    reply = call(
        "POST",
        EXPORT,
        {"themeCode": "RECEIVABLE", "dateFrom": "2026-01-01", "dateTo": "2026-12-31", **body},
        token=admin,
    )
    assert reply.code == 0, reply.body
    url = reply.data["downloadUrl"]
    assert parse_qs(urlparse(url).query)["X-Amz-Expires"] == ["300"]
    assert reply.data["rowCount"] == 3 and reply.data["fileName"].endswith(".xlsx")
    content = download(url)
    book = load_workbook(io.BytesIO(content), read_only=True)
    assert book.sheetnames == ["统计结果", "趋势"]
    rows = [list(r) for r in book["统计结果"].iter_rows(values_only=True)]
    header = next(i for i, r in enumerate(rows) if r[0] == "期间")
    data = rows[header + 1 : header + 4]
    assert [r[0] for r in data] == PERIODS
    for row, group in zip(data, query["groupRows"], strict=True):
        values = indicators(group["indicatorList"])
        assert money(row[1]) == values["BILL_COUNT"] + ".00"
        assert money(row[2]) == values["RECEIVABLE_AMOUNT"]
    assert rows[header + 4][0] == "合计"
    assert money(rows[header + 4][2]) == indicators(query["indicatorList"])["RECEIVABLE_AMOUNT"]
    names = zipfile.ZipFile(io.BytesIO(content)).namelist()
    assert "xl/charts/chart1.xml" in names
    assert b"<c:lineChart>" in zipfile.ZipFile(io.BytesIO(content)).read("xl/charts/chart1.xml")
    stored = sql_all("SELECT * FROM biz_stat_export WHERE export_no = :n", {"n": reply.data["exportNo"]})
    assert stored and stored[0]["row_count"] == 3 and stored[0]["theme_code"] == "RECEIVABLE"
    (trail,) = audit_rows("biz_stat_export", reply.data["exportNo"], "STAT_EXPORT")
    assert trail["after_data"]["rowCount"] == 3


def test_an_export_without_a_trend_has_no_chart_and_export_flag_on_query_exports_too(
    admin: str, office: dict[str, Any], exports: str
) -> None:
    """Given collections by channel (no period: no trend), when asked with exportFlag, then the query's
    reply carries the export, whose workbook has the channel rows and no chart sheet."""
    from openpyxl import load_workbook

    reply = ask(admin, "COLLECTION", deptId=office["dept"], groupBy=["channelCode"], exportFlag=True)
    assert reply.code == 0, reply.body
    file = reply.data["exportFile"]
    book = load_workbook(io.BytesIO(download(file["downloadUrl"])), read_only=True)
    assert book.sheetnames == ["统计结果"]
    cells = [r[0] for r in book["统计结果"].iter_rows(values_only=True)]
    assert "CASH" in cells and "PREPAY" in cells


def test_an_export_needs_the_export_permission_and_stays_in_the_data_scope(
    office: dict[str, Any], exports: str
) -> None:
    """Given a user who may query but not export, when it exports or asks with exportFlag, then 403 and no
    export is written; given one who may export within 台江 only, the other office answers as absent."""
    before = sql_scalar("SELECT count(*) FROM biz_stat_export")
    reader = admin_login(new_admin_user(permissions=("revenue:statistics:query",)), "Passw0rd!")
    body = {"themeCode": "RECEIVABLE", "dateFrom": "2026-01-01", "dateTo": "2026-12-31"}
    expect_error(call("POST", EXPORT, body, token=reader), 403)
    expect_error(call("POST", QUERY, {**body, "exportFlag": True}, token=reader), 403)
    assert sql_scalar("SELECT count(*) FROM biz_stat_export") == before
    exporter = admin_login(
        new_admin_user(
            dept_id=TAIJIANG_DEPT,
            permissions=("revenue:statistics:query", "revenue:statistics:export"),
            data_scope="DEPT_AND_CHILD",
        ),
        "Passw0rd!",
    )
    expect_error(
        call("POST", EXPORT, {**body, "deptId": office["dept"]}, token=exporter), 404, mentions="deptId"
    )
    mine = call("POST", EXPORT, {**body, "groupBy": ["deptId"]}, token=exporter)
    assert mine.code == 0, mine.body
    assert mine.data["rowCount"] <= 1


def test_the_scheduled_fold_changes_no_answer(admin: str, office: dict[str, Any]) -> None:
    """Given payments that appended delta rows, when the scheduled job folds the summaries (a synthetic
    scheduled event), then one row per group is left and every theme answers as before."""
    import json
    from pathlib import Path

    from functions.job_stat_fold.handler import handler

    before = {theme: ask(admin, theme, deptId=office["dept"]).data["indicatorList"] for theme, _ in CASES}
    event = json.loads(
        (Path(__file__).parents[2] / "events" / "job_stat_fold" / "scheduled.json").read_text()
    )
    result = handler(event, None)
    assert result["groups"] == sql_scalar(
        "SELECT (SELECT count(*) FROM biz_stat_receivable) + (SELECT count(*) FROM biz_stat_collection)"
        " + (SELECT count(*) FROM biz_stat_reading) + (SELECT count(*) FROM biz_stat_invoice)"
        " + (SELECT count(*) FROM biz_stat_customer)"
    )
    assert (
        sql_scalar(
            "SELECT count(*) FROM (SELECT 1 FROM biz_stat_receivable GROUP BY bill_period, dept_id, cust_type,"
            " price_code, status, due_date HAVING count(*) > 1) x"
        )
        == 0
    )
    after = {theme: ask(admin, theme, deptId=office["dept"]).data["indicatorList"] for theme, _ in CASES}
    assert after == before


@pytest.mark.parametrize("theme", rules.THEMES)
def test_every_theme_answers_for_one_customer(admin: str, office: dict[str, Any], theme: str) -> None:
    """Given one customer, when any theme is asked for it, then the live tables answer with its own
    figures (one customer, three bills, three reading tasks)."""
    reply = ask(admin, theme, custId=office["custs"][1])
    assert reply.code == 0, reply.body
    assert reply.data["dimensionSummary"]["source"] == "LIVE"
    got = indicators(reply.data["indicatorList"])
    expected = {
        "CUSTOMER": ("CUSTOMER_COUNT", "1"),
        "RECEIVABLE": ("BILL_COUNT", "3"),
        "READING": ("TASK_COUNT", "3"),
    }
    if theme in expected:
        code, value = expected[theme]
        assert got[code] == value


# ---- IF-REV-007 adjustments in the statistics -----------------------------------------------------
ADJUST = "/admin-api/revenue/accounting/adjust"


def due_of(bill: dict[str, Any]) -> Decimal:
    from waterrev.billing.dues import amount_due
    from waterrev.db import UnitOfWork

    with UnitOfWork() as uow:
        return amount_due(uow, int(bill["cust_id"]), charge_ids=[int(bill["id"])]).total


def adjust(token: str, bill: dict[str, Any], kind: str, **extra: Any) -> dict[str, Any]:
    operator = int(sql_scalar("SELECT id FROM system_users WHERE username = 'admin'"))
    body = {"chargeId": bill["id"], "adjustType": kind, "reasonCode": "TEST", "operatorId": operator, **extra}
    reply = call("POST", ADJUST, body, token=token)
    assert reply.code == 0 and reply.data["resultStatus"] == "SUCCESS", reply.body
    return dict(reply.data)


def whole_ledger(custs: list[int]) -> dict[str, Decimal]:
    from waterrev.accounting import ledger
    from waterrev.db import UnitOfWork

    with UnitOfWork() as uow:
        found = ledger.measure(uow, custs)
    assert found["customersBroken"] == [] and found["billsBroken"] == [], found
    return dict(found["totals"])


@pytest.fixture(scope="module")
def adjusted(admin: str) -> dict[str, Any]:
    """An office of its own (no approval needed there) and one customer with three bills: the first paid in
    cash with 50.00 to the balance (C1), the second in cash (C2), the third from the balance (C3, PREPAY);
    then C2 and C3 reversed, 20.00 refunded from the balance against C1, the third bill written off as bad
    debt, 30.00 more billed on the second bill and 5.00 credited on the first."""
    dept = new_dept()
    set_param(admin, "revenue.adjust.approval-threshold", "100000", dept_id=dept)
    set_param(admin, "revenue.adjust.approval-types", "USAGE", dept_id=dept)
    cust, bills = new_bills(admin, ["2026-06", "2026-07", "2026-08"], dept_id=dept)
    dues = [due_of(b) for b in bills]
    c1 = collect(admin, cust, [bills[0]["id"]], dues[0] + dues[2] + 50).data
    c2 = collect(admin, cust, [bills[1]["id"]], dues[1]).data
    c3 = collect(admin, cust, [bills[2]["id"]], dues[2], channel="PREPAY").data
    steps: dict[str, Any] = {"paid": snapshot(dept)}
    adjust(admin, bills[1], "REVERSE", sourceTradeNo=c2["collectionCode"])
    steps["reversed"] = snapshot(dept)
    adjust(admin, bills[2], "REVERSE", sourceTradeNo=c3["collectionCode"])
    adjust(admin, bills[0], "REFUND", adjustAmount="20.00", sourceTradeNo=c1["collectionCode"])
    steps["refunded"] = snapshot(dept)
    adjust(admin, bills[2], "BAD_DEBT")
    adjust(admin, bills[1], "AMOUNT", adjustAmount="30.00")
    adjust(admin, bills[0], "AMOUNT", adjustAmount="-5.00")
    return {
        "dept": dept,
        "cust": cust,
        "bills": bills,
        "collections": (c1, c2, c3),
        "steps": steps,
    }


def snapshot(dept: int) -> dict[str, dict[str, str | None]]:
    return {
        theme: indicators(
            stat_query.run(
                SYSTEM_CTX,
                StatQuery(theme, dt.date(2026, 1, 1), clock.today() + dt.timedelta(days=1), dept_id=dept),
            )["indicatorList"]
        )
        for theme in ("RECEIVABLE", "ARREARS", "COLLECTION")
    }


def test_a_reversal_takes_the_money_out_of_received_and_the_bills_back_into_arrears(
    adjusted: dict[str, Any],
) -> None:
    """Given a cash collection that is reversed, then the money received falls by its amount on the
    reversal's day (REVERSED_AMOUNT), its write-off comes back off, the bill is arrears again; a refund from
    the balance is REFUNDED_AMOUNT and the net received falls by it, the received stays."""
    c2 = Decimal(adjusted["collections"][1]["paidAmount"])
    paid, reversed_, refunded = (adjusted["steps"][k] for k in ("paid", "reversed", "refunded"))
    assert (
        Decimal(reversed_["COLLECTION"]["RECEIVED_AMOUNT"])
        == Decimal(paid["COLLECTION"]["RECEIVED_AMOUNT"]) - c2
    )
    assert Decimal(reversed_["COLLECTION"]["REVERSED_AMOUNT"]) == c2
    assert (
        Decimal(reversed_["COLLECTION"]["WRITTEN_OFF_AMOUNT"])
        == Decimal(paid["COLLECTION"]["WRITTEN_OFF_AMOUNT"]) - c2
    )
    assert reversed_["COLLECTION"]["TRANSACTION_COUNT"] == paid["COLLECTION"]["TRANSACTION_COUNT"] == "3"
    principal = Decimal(adjusted["bills"][1]["total_amount"])
    assert (
        Decimal(reversed_["ARREARS"]["ARREARS_AMOUNT"])
        == Decimal(paid["ARREARS"]["ARREARS_AMOUNT"]) + principal
    )
    assert reversed_["RECEIVABLE"]["RECEIVABLE_AMOUNT"] == paid["RECEIVABLE"]["RECEIVABLE_AMOUNT"]
    # the PREPAY reversal and the refund
    assert (
        refunded["COLLECTION"]["PREPAY_DEDUCTED_AMOUNT"]
        == "0.00"
        != paid["COLLECTION"]["PREPAY_DEDUCTED_AMOUNT"]
    )
    assert refunded["COLLECTION"]["RECEIVED_AMOUNT"] == reversed_["COLLECTION"]["RECEIVED_AMOUNT"]
    assert refunded["COLLECTION"]["REFUNDED_AMOUNT"] == "20.00"
    assert (
        Decimal(refunded["COLLECTION"]["NET_RECEIVED_AMOUNT"])
        == Decimal(refunded["COLLECTION"]["RECEIVED_AMOUNT"]) - 20
    )


def test_after_every_kind_of_adjustment_the_indicators_agree_with_the_ledger(
    adjusted: dict[str, Any],
) -> None:
    """Given the office after reversals, a refund, a bad debt and amount adjustments, then: net received =
    the ledger's money collected less every refund (a reversal's pay-back is its REVERSED_AMOUNT), received =
    write-offs of cash + what went to the balance, receivable = written off + arrears + bad debt, the bad
    debt is the third bill's principal and no longer arrears, and the ADJUST bills are receivable."""
    got = snapshot(adjusted["dept"])
    pays, bills, arrears = got["COLLECTION"], got["RECEIVABLE"], got["ARREARS"]
    totals = whole_ledger([adjusted["cust"]])
    assert Decimal(pays["NET_RECEIVED_AMOUNT"]) == totals["collected"] - totals["refunded"]
    assert Decimal(pays["RECEIVED_AMOUNT"]) == totals["collected"] - Decimal(pays["REVERSED_AMOUNT"])
    assert Decimal(pays["RECEIVED_AMOUNT"]) - Decimal(pays["REFUNDED_AMOUNT"]) == Decimal(
        pays["NET_RECEIVED_AMOUNT"]
    )
    assert Decimal(pays["RECEIVED_AMOUNT"]) == Decimal(pays["WRITTEN_OFF_AMOUNT"]) + Decimal(
        pays["TO_BALANCE_AMOUNT"]
    )
    assert pays["PREPAY_DEDUCTED_AMOUNT"] == "0.00"
    third = Decimal(adjusted["bills"][2]["total_amount"])
    assert Decimal(bills["BAD_DEBT_AMOUNT"]) == third
    assert Decimal(bills["RECEIVABLE_AMOUNT"]) == Decimal(bills["WRITTEN_OFF_AMOUNT"]) + Decimal(
        arrears["ARREARS_AMOUNT"]
    ) + Decimal(bills["BAD_DEBT_AMOUNT"])
    original = sum((Decimal(b["total_amount"]) for b in adjusted["bills"]), Decimal(0))
    assert Decimal(bills["RECEIVABLE_AMOUNT"]) == original + 30 - 5
    assert bills["BILL_COUNT"] == "5"
    second = Decimal(adjusted["bills"][1]["total_amount"])
    assert Decimal(arrears["ARREARS_AMOUNT"]) == second + 30
    by_status = stat_query.run(
        SYSTEM_CTX,
        StatQuery(
            "RECEIVABLE",
            dt.date(2026, 1, 1),
            clock.today(),
            dept_id=adjusted["dept"],
            group_by=("status",),
        ),
    )
    statuses = {r["status"]: indicators(r["indicatorList"]) for r in by_status["groupRows"]}
    assert statuses["BAD_DEBT"]["BAD_DEBT_AMOUNT"] == money(third)


def test_a_failed_refund_is_no_longer_refunded_and_its_money_is_received_on_the_balance(
    adjusted: dict[str, Any],
) -> None:
    """Given the refund and the reversal's pay-back (both paid out at the counter), when each is taken back
    to PROCESSING and then fails (as a SYS-009 refund that failed would), then a refund that failed is not
    refunded, and a reversal whose pay-back failed is no longer reversed: its money is received again, onto
    the balance; the summaries still answer as the live tables."""
    from waterrev.accounting import refunds

    dept = adjusted["dept"]
    before = snapshot(dept)["COLLECTION"]
    rows = sql_all(
        "SELECT f.refund_no, f.amount, a.adjust_type FROM biz_refund f JOIN biz_adjustment a ON a.id = f.adjustment_id"
        " WHERE f.cust_id = :c ORDER BY f.id",
        {"c": adjusted["cust"]},
    )
    assert [r["adjust_type"] for r in rows] == ["REVERSE", "REFUND"]
    sql_exec(
        "UPDATE biz_refund SET status = 'PROCESSING' WHERE cust_id = :c",  # what SYS-009 would have said
        {"c": adjusted["cust"]},
    )
    pending = stat_query.run(
        SYSTEM_CTX,
        StatQuery(
            "COLLECTION",
            dt.date(2026, 1, 1),
            clock.today() + dt.timedelta(days=1),
            dept_id=dept,
            status_set=("PENDING",),
        ),
    )
    assert indicators(pending["indicatorList"])["REFUNDED_AMOUNT"] == "20.00"
    for r in rows:
        assert refunds.apply_result(r["refund_no"], "FAIL", reason="test") == "FAIL"
    after = snapshot(dept)["COLLECTION"]
    back = Decimal(rows[0]["amount"])
    assert after["REFUNDED_AMOUNT"] == "0.00"
    assert Decimal(after["REVERSED_AMOUNT"]) == Decimal(before["REVERSED_AMOUNT"]) - back
    assert Decimal(after["RECEIVED_AMOUNT"]) == Decimal(before["RECEIVED_AMOUNT"]) + back
    assert Decimal(after["TO_BALANCE_AMOUNT"]) == Decimal(before["TO_BALANCE_AMOUNT"]) + back
    totals = whole_ledger([adjusted["cust"]])
    assert Decimal(after["RECEIVED_AMOUNT"]) == totals["collected"] - Decimal(after["REVERSED_AMOUNT"])
    for theme, group_by in CASES:
        same_answer(*both(theme, group_by))


@pytest.mark.parametrize("theme", ["RECEIVABLE", "ARREARS", "COLLECTION"])
def test_adjusted_books_from_the_summaries_answer_as_the_live_tables(
    adjusted: dict[str, Any], theme: str
) -> None:
    """Given the adjusted office, when its themes are asked of the summaries and of the live tables, grouped
    by day, channel and status, before and after a fold and after its customer moved office, then both
    answers are identical."""
    group_by = ("period", "channelCode", "status") if theme == "COLLECTION" else ("period", "status")
    if theme == "ARREARS":
        group_by = ("period", "ageing")
    same_answer(*both(theme, group_by, dept_id=adjusted["dept"]))
    sql_scalar("SELECT stat_fold()")
    same_answer(*both(theme, group_by))
    elsewhere = new_dept()
    sql_exec("UPDATE biz_cust SET dept_id = :d WHERE id = :c", {"d": elsewhere, "c": adjusted["cust"]})
    try:
        same_answer(*both(theme, group_by, dept_id=elsewhere))
        same_answer(*both(theme, ("deptId", "customerCategory")))
    finally:
        sql_exec(
            "UPDATE biz_cust SET dept_id = :d WHERE id = :c", {"d": adjusted["dept"], "c": adjusted["cust"]}
        )
