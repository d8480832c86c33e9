"""History and migration verification: a legacy data set loaded from CSV with its original <-> new
identifiers; searched read-only by customer number, ID number and mobile (exact, answered masked), meter
number, period, office and channel, within the data scope; and a verification report of counts and amounts
per period and office that lists every differing row - here a deliberately wrong amount, a legacy bill
the new system lacks and a new bill no legacy record names. Every refusal names its field or line."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

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
    sql_all,
    sql_scalar,
    unique,
)
from waterrev import clock

IMPORT = "/admin-api/revenue/migration/import"
VERIFY = "/admin-api/revenue/migration/verify"
SEARCH = "/admin-api/revenue/history/query"
PERIODS = ["2025-07", "2025-08", "2025-09"]
MOBILE = "13900001111"
ID_NO = "110105194912310037"


def csv_of(header: list[str], rows: list[list[Any]]) -> str:
    lines = [",".join(header)] + [",".join("" if v is None else str(v) for v in row) for row in rows]
    return "\n".join(lines) + "\n"


def load(token: str, object_type: str, text: str, **extra: Any) -> Any:
    body = {"objectType": object_type, "sourceSystem": "LEGACY-CIS", "csvContent": text, **extra}
    return call("POST", IMPORT, body, token=token)


@pytest.fixture(scope="module")
def migrated(admin: str) -> dict[str, Any]:
    """An office with a customer billed for three periods and its first bill paid in cash; the legacy
    bills: the first as migrated, the second with an amount one yuan off, a third whose new number does not
    exist (the new system's third bill has no legacy record); the legacy collection as migrated; the meter."""
    dept = new_dept()
    cust, bills = new_bills(admin, PERIODS, dept_id=dept)
    paid = call(
        "POST",
        "/admin-api/revenue/collection/create",
        {"custId": cust, "chargeIds": [bills[0]["id"]], "paymentChannel": "CASH", "paymentAmount": "500.00"},
        token=admin,
    )
    assert paid.code == 0, paid.body
    code = sql_scalar("SELECT code FROM biz_cust WHERE id = :c", {"c": cust})
    now = [sql_all("SELECT * FROM biz_charge WHERE id = :i", {"i": b["id"]})[0] for b in bills]
    tag = unique("L")
    header = [
        "legacyNo",
        "legacyBatchNo",
        "newNo",
        "custCode",
        "idNo",
        "mobile",
        "billPeriod",
        "amount",
        "status",
    ]
    header += ["legacyStatus", "bizType", "oldMeterBook"]
    rows = [
        [f"{tag}-B1", "OLD-RUN-7", now[0]["code"], code, ID_NO, MOBILE, PERIODS[0], now[0]["total_amount"]],
        [
            f"{tag}-B2",
            "OLD-RUN-8",
            now[1]["code"],
            code,
            ID_NO,
            MOBILE,
            PERIODS[1],
            now[1]["total_amount"] + 1,
        ],
        [f"{tag}-B3", "OLD-RUN-9", "ZD-NOT-MIGRATED", code, ID_NO, MOBILE, PERIODS[2], "30.00"],
    ]
    for row, bill in zip(rows, now, strict=True):
        row += [bill["status"], "已缴" if bill["status"] == "PAID" else "未缴", "READING", "BOOK-OLD-01"]
    bill_import = load(admin, "BILL", csv_of(header, rows), fileName="bills.csv")
    assert bill_import.code == 0, bill_import.body
    pay = sql_all("SELECT * FROM biz_collection WHERE id = :i", {"i": paid.data["collectionId"]})[0]
    when = f"{pay['pay_time'].astimezone(dt.timezone(dt.timedelta(hours=8))):%Y-%m-%d %H:%M:%S}"
    pay_csv = csv_of(
        ["legacyNo", "newNo", "custCode", "channel", "amount", "eventTime", "status", "operator"],
        [[f"{tag}-P1", pay["code"], code, "CASH", pay["amount"], when, pay["status"], "柜员 13912345678"]],
    )
    pay_import = load(admin, "COLLECTION", pay_csv)
    assert pay_import.code == 0, pay_import.body
    meter_no = sql_scalar(
        "SELECT m.meter_no FROM biz_meter m JOIN biz_cust_meter cm ON cm.meter_id = m.id WHERE cm.cust_id = :c",
        {"c": cust},
    )
    meter_csv = csv_of(
        ["legacyNo", "newNo", "meterNo", "bizType", "status", "warehouse", "certificateNo"],
        [[f"{tag}-M1", meter_no, meter_no, "INSTALL", "ACTIVE", "一号仓", "JD-2024-001"]],
    )
    meter_import = load(admin, "METER", meter_csv)
    assert meter_import.code == 0, meter_import.body
    return {
        "dept": dept,
        "cust": cust,
        "code": code,
        "bills": now,
        "tag": tag,
        "collection": pay,
        "meter": meter_no,
        "imports": {"BILL": bill_import.data, "COLLECTION": pay_import.data, "METER": meter_import.data},
    }


def test_an_import_maps_original_to_new_identifiers_and_is_audited(migrated: dict[str, Any]) -> None:
    """Given the three legacy bills, then two found their new bill by newNo and one did not; the import is
    recorded with its counts and audited."""
    data = migrated["imports"]["BILL"]
    assert (data["rowCount"], data["mappedCount"], data["unmappedCount"]) == (3, 2, 1)
    assert data["duplicate"] is False
    (trail,) = audit_rows("biz_hist_import", data["importNo"], "HIST_IMPORT")
    assert trail["after_data"]["rowCount"] == 3
    assert migrated["imports"]["METER"]["mappedCount"] == 1


def test_verification_lists_the_differing_rows_with_both_identifiers(
    admin: str, migrated: dict[str, Any]
) -> None:
    """Given the legacy bills and the new ones of the office, when verified over the three periods, then the
    summary holds per period and office the counts and amounts of both sides, and the differing rows are
    exactly the amount one yuan off, the legacy bill the new system lacks and the new bill no legacy record
    names, each with its original and new identifiers; the matching bill is not listed."""
    tag, bills = migrated["tag"], migrated["bills"]
    reply = call(
        "POST",
        VERIFY,
        {"objectType": "BILL", "periodFrom": PERIODS[0], "periodTo": PERIODS[-1], "deptId": migrated["dept"]},
        token=admin,
    )
    assert reply.code == 0, reply.body
    report = reply.data
    assert report["familyIds"] == ["IF-CS-002", "IF-REV-005"]
    total = report["total"]
    assert (total["legacyCount"], total["newCount"], total["matched"]) == (3, 3, False)
    expected_new = sum((b["total_amount"] for b in bills), Decimal(0))
    assert Decimal(total["newAmount"]) == expected_new
    assert Decimal(total["legacyAmount"]) == bills[0]["total_amount"] + bills[1]["total_amount"] + 1 + 30
    groups = {(g["period"], g["deptId"]): g for g in report["summaryRows"]}
    assert set(groups) == {(p, migrated["dept"]) for p in PERIODS}
    assert groups[(PERIODS[0], migrated["dept"])]["matched"] is True
    assert groups[(PERIODS[1], migrated["dept"])]["amountDiff"] == "-1.00"
    diffs = {(d["legacyNo"], d["newNo"]): d for d in report["diffRows"]}
    assert set(diffs) == {
        (f"{tag}-B2", bills[1]["code"]),
        (f"{tag}-B3", "ZD-NOT-MIGRATED"),
        (None, bills[2]["code"]),
    }
    wrong = diffs[(f"{tag}-B2", bills[1]["code"])]
    assert wrong["diffTypes"] == ["AMOUNT_MISMATCH"]
    assert Decimal(wrong["legacyAmount"]) - Decimal(wrong["newAmount"]) == 1
    assert wrong["newId"] == bills[1]["id"] and wrong["legacyBatchNo"] == "OLD-RUN-8" and wrong["lineNo"] == 3
    assert diffs[(f"{tag}-B3", "ZD-NOT-MIGRATED")]["diffTypes"] == ["MISSING_IN_NEW"]
    missing = diffs[(None, bills[2]["code"])]
    assert missing["diffTypes"] == ["MISSING_IN_LEGACY"] and missing["newId"] == bills[2]["id"]
    assert report["diffTruncated"] is False


def test_verification_of_a_faithful_migration_matches(admin: str, migrated: dict[str, Any]) -> None:
    """Given the legacy collection exactly as the new one, when collections are verified for its month and
    office, then both sides agree per period, office and channel, and no row differs."""
    month = f"{clock.today():%Y-%m}"
    body = {"objectType": "COLLECTION", "periodFrom": month, "periodTo": month, "deptId": migrated["dept"]}
    report = call("POST", VERIFY, body, token=admin).data
    assert report["total"]["matched"] is True, report
    assert report["diffRows"] == []
    (group,) = report["summaryRows"]
    assert group["channel"] == "CASH" and group["legacyCount"] == group["newCount"] == 1


def test_verification_can_be_limited_to_one_import_and_truncates_long_lists(
    admin: str, migrated: dict[str, Any]
) -> None:
    """Given the bill import's number and maxDiffRows 1, then one differing row comes back, marked
    truncated."""
    body = {
        "objectType": "BILL",
        "periodFrom": PERIODS[0],
        "periodTo": PERIODS[-1],
        "deptId": migrated["dept"],
        "importNo": migrated["imports"]["BILL"]["importNo"],
        "maxDiffRows": 1,
    }
    report = call("POST", VERIFY, body, token=admin).data
    assert len(report["diffRows"]) == 1 and report["diffTruncated"] is True


def search(token: str, **criteria: Any) -> Any:
    reply = call("POST", SEARCH, criteria, token=token)
    assert reply.code == 0, reply.body
    return reply.data


def test_history_is_found_by_customer_id_number_and_mobile_and_answered_masked(
    admin: str, migrated: dict[str, Any]
) -> None:
    """Given the legacy records, when searched by customer number, by the exact ID number or by the exact
    mobile, then the same five records come back with a summary per object type, the original and new
    numbers, the new object's current status, and the ID number and mobile masked (also inside the
    untyped columns); a partial mobile finds nothing."""
    by_code = search(admin, custCode=migrated["code"])
    by_id = search(admin, idNo=ID_NO, objectType="BILL")
    by_mobile = search(admin, mobile=MOBILE, objectType="BILL")
    assert by_code["total"] == 4  # three bills and the collection (the meter row names no customer)
    assert [i["legacyNo"] for i in by_id["list"]] == [i["legacyNo"] for i in by_mobile["list"]]
    assert by_id["total"] == 3
    kinds = {g["objectType"]: g for g in by_code["summary"]["byObjectType"]}
    assert kinds["BILL"]["recordCount"] == 3 and kinds["BILL"]["mappedCount"] == 2
    assert kinds["COLLECTION"]["familyIds"] == ["IF-CS-002", "IF-REV-006", "IF-REV-011"]
    item = next(i for i in by_id["list"] if i["legacyNo"] == f"{migrated['tag']}-B1")
    assert item["newNo"] == migrated["bills"][0]["code"] and item["mapped"] is True
    assert item["currentStatus"] == migrated["bills"][0]["status"]
    assert item["mobile"] == "139****1111" and item["idNo"] == "110105********0037"
    assert item["detail"] == {"oldMeterBook": "BOOK-OLD-01"}
    assert item["deptId"] == migrated["dept"]
    pay = next(i for i in by_code["list"] if i["objectType"] == "COLLECTION")
    assert "13912345678" not in str(pay["detail"])
    assert search(admin, mobile=MOBILE[:7])["total"] == 0


def test_history_is_found_by_meter_period_office_and_channel(admin: str, migrated: dict[str, Any]) -> None:
    """Given the records, when searched by meter number, by period and office, and by channel, then each
    finds its own, with the meter's current status."""
    (meter,) = search(admin, meterNo=migrated["meter"])["list"]
    assert meter["objectType"] == "METER" and meter["currentStatus"] == "ACTIVE"
    assert meter["familyIds"] == ["IF-METER-001", "IF-METER-003"]
    in_period = search(admin, billPeriod=PERIODS[1], deptId=migrated["dept"])
    assert [i["legacyNo"] for i in in_period["list"]] == [f"{migrated['tag']}-B2"]
    month = f"{clock.today():%Y-%m}"
    cash = search(admin, channel="CASH", billPeriod=month, deptId=migrated["dept"], objectType="COLLECTION")
    assert [i["newNo"] for i in cash["list"]] == [migrated["collection"]["code"]]
    assert search(admin, legacyNo=f"{migrated['tag']}-B3")["list"][0]["mapped"] is False


def test_the_data_scope_bounds_the_history_and_the_verification(migrated: dict[str, Any]) -> None:
    """Given a user of 台江 only, then the office's records are not found, its office answers as absent,
    and verifying without an office counts nothing of it."""
    user = admin_login(
        new_admin_user(
            dept_id=TAIJIANG_DEPT,
            permissions=("revenue:history:query", "revenue:migration:verify", "revenue:migration:import"),
            data_scope="DEPT_AND_CHILD",
        ),
        "Passw0rd!",
    )
    assert search(user, custCode=migrated["code"])["total"] == 0
    expect_error(call("POST", SEARCH, {"deptId": migrated["dept"]}, token=user), 404, mentions="deptId")
    body = {"objectType": "BILL", "periodFrom": PERIODS[0], "periodTo": PERIODS[-1]}
    report = call("POST", VERIFY, body, token=user).data
    assert all(g["deptId"] == TAIJIANG_DEPT for g in report["summaryRows"])
    expect_error(
        call("POST", VERIFY, {**body, "deptId": migrated["dept"]}, token=user), 404, mentions="deptId"
    )
    # importing is company-wide work: a scope of every office
    expect_error(load(user, "CONFIG", csv_of(["legacyNo", "status"], [["X-1", "ACTIVE"]])), 403)


def test_without_the_permissions_history_and_migration_are_refused() -> None:
    """Given a user with none of the history permissions, then each route answers 403."""
    user = admin_login(new_admin_user(permissions=("revenue:customer:query",)), "Passw0rd!")
    expect_error(call("POST", SEARCH, {}, token=user), 403)
    expect_error(
        call(
            "POST", VERIFY, {"objectType": "BILL", "periodFrom": "2025-01", "periodTo": "2025-02"}, token=user
        ),
        403,
    )
    expect_error(load(user, "CONFIG", "legacyNo,status\nX,ACTIVE\n"), 403)
    expect_error(call("GET", "/admin-api/revenue/migration/import/page", token=user), 403)


def test_the_same_file_twice_is_one_import_and_a_number_taken_by_another_file_conflicts(admin: str) -> None:
    """Given a configuration file imported, when the same bytes come again, then the first import answers
    (duplicate) and nothing is added; a different file naming the same legacy number is a 409 naming it."""
    tag = unique("C")
    text = csv_of(
        ["legacyNo", "newNo", "status", "channel", "oldValue", "newValue"],
        [[tag, "revenue.x", "ACTIVE", "WECHAT", "1", "2"]],
    )
    first = load(admin, "CONFIG", text)
    again = load(admin, "CONFIG", text)
    assert first.code == again.code == 0
    assert again.data["importNo"] == first.data["importNo"] and again.data["duplicate"] is True
    assert sql_scalar("SELECT count(*) FROM biz_hist_record WHERE legacy_no = :n", {"n": tag}) == 1
    other = csv_of(["legacyNo", "status"], [[tag, "INACTIVE"]])
    expect_error(load(admin, "CONFIG", other), 409, mentions=tag)
    page = call("GET", "/admin-api/revenue/migration/import/page", token=admin, query="objectType=CONFIG")
    assert page.code == 0 and first.data["importNo"] in [i["importNo"] for i in page.data["list"]]


@pytest.mark.parametrize(
    ("object_type", "text", "mentions"),
    [
        ("BILL", "legacyNo,custCode,amount,status\nB-1,KH1,1.00,PAID\n", "billPeriod"),
        (
            "BILL",
            "legacyNo,custCode,billPeriod,amount,status\nB-1,KH1,2025-01,1.005,PAID\n",
            "第 2 行 amount",
        ),
        ("BILL", "legacyNo,custCode,billPeriod,amount,status\nB-1,KH1,2025-13,1.00,PAID\n", "billPeriod"),
        (
            "BILL",
            "legacyNo,custCode,billPeriod,amount,status\nB-1,KH1,2025-01,1.00,PAID\nB-1,KH1,2025-02,1.00,PAID\n",
            "重复",
        ),
        ("BILL", "legacyNo,custCode,billPeriod,amount,status\nB-1,KH1,2025-01,1.00\n", "列数"),
        (
            "COLLECTION",
            "legacyNo,custCode,channel,amount,eventTime,status\nP-1,KH1,CASH,1.00,yesterday,SUCCESS\n",
            "eventTime",
        ),
        ("METER", "legacyNo,meterNo,bizType,status,deptId\nM-1,S1,INSTALL,ACTIVE,9000000000\n", "deptId"),
        ("CONFIG", "legacyNo,status,legacyNo\nX,ACTIVE,Y\n", "header"),
        ("CONFIG", "legacyNo,status\n", "没有数据行"),
        ("CONFIG", "legacyNo,status,mobile\nX,ACTIVE,abc\n", "mobile"),
    ],
)
def test_a_file_with_a_wrong_row_is_refused_by_line_and_column_and_writes_nothing(
    admin: str, object_type: str, text: str, mentions: str
) -> None:
    """Given a file with a missing required column, a bad amount, period or time, a repeated legacy number,
    a short row, an unknown office, a repeated column name, no rows or a non-numeric mobile, then 400 names
    the line and column and no import is recorded."""
    before = sql_scalar("SELECT count(*) FROM biz_hist_import")
    expect_error(load(admin, object_type, text), 400, mentions=mentions)
    assert sql_scalar("SELECT count(*) FROM biz_hist_import") == before


def test_verification_refusals_name_the_field(admin: str) -> None:
    """Given an object type verification does not compare, a reversed range or an unknown import, then
    400 or 404 names the field."""
    expect_error(
        call(
            "POST",
            VERIFY,
            {"objectType": "REMINDER", "periodFrom": "2025-01", "periodTo": "2025-02"},
            token=admin,
        ),
        400,
        mentions="objectType",
    )
    expect_error(
        call(
            "POST",
            VERIFY,
            {"objectType": "BILL", "periodFrom": "2025-05", "periodTo": "2025-02"},
            token=admin,
        ),
        400,
        mentions="periodTo",
    )
    expect_error(
        call(
            "POST",
            VERIFY,
            {"objectType": "BILL", "periodFrom": "2025-01", "periodTo": "2025-02", "importNo": "HI-NONE"},
            token=admin,
        ),
        404,
        mentions="importNo",
    )


def test_the_same_file_sent_twice_at_once_is_one_import(admin: str) -> None:
    """Given one file sent by two requests at the same moment, then both answer the same import (one of
    them as the duplicate) and its rows are loaded once."""
    from concurrent.futures import ThreadPoolExecutor

    tag = unique("D")
    text = csv_of(["legacyNo", "status"], [[f"{tag}-{n}", "ACTIVE"] for n in range(50)])
    with ThreadPoolExecutor(max_workers=2) as pool:
        replies = list(pool.map(lambda _: load(admin, "CONFIG", text), range(2)))
    assert all(r.code == 0 for r in replies), [r.body for r in replies]
    assert replies[0].data["importNo"] == replies[1].data["importNo"]
    assert sorted(r.data["duplicate"] for r in replies) == [False, True]
    assert sql_scalar("SELECT count(*) FROM biz_hist_record WHERE legacy_no LIKE :t", {"t": f"{tag}-%"}) == 50


def test_a_mobile_in_any_spelling_finds_its_record_and_named_extra_columns_are_stored_masked(
    admin: str,
) -> None:
    """Given a legacy row whose mobile is written '+86 137-0000-2222' and whose extra columns hold a passport
    number and a guarantor's foreign phone (no pattern knows them)
    When it is imported and searched by the mobile spelled '13700002222', '0086 13700002222' and
    '137-0000-2222'
    Then every spelling finds it, and the extra columns are stored and answered masked, never in clear."""
    tag = unique("SP")
    text = csv_of(
        ["legacyNo", "status", "mobile", "passportNo", "guarantorPhone", "operator"],
        [[f"{tag}-1", "ACTIVE", "+86 137-0000-2222", "E76543210", "+85291234567", "柜员乙"]],
    )
    assert load(admin, "CONFIG", text).code == 0
    for spelling in ("13700002222", "0086 13700002222", "137-0000-2222"):
        found = search(admin, mobile=spelling, objectType="CONFIG")
        assert f"{tag}-1" in [i["legacyNo"] for i in found["list"]], spelling
    item = next(i for i in found["list"] if i["legacyNo"] == f"{tag}-1")
    assert item["mobile"] == "137****2222"
    assert item["detail"] == {
        "passportNo": "E7*****10",
        "guarantorPhone": "********4567",
        "operator": "柜员乙",
    }
    stored = sql_scalar(
        "SELECT CAST(detail AS text) FROM biz_hist_record WHERE legacy_no = :l", {"l": f"{tag}-1"}
    )
    assert "E76543210" not in stored and "85291234567" not in stored
