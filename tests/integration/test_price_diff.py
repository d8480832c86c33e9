"""价差调整 (POST /admin-api/revenue/charge/price-diff, an IF-REV-005 extension): a price corrected after
a period was billed is billed as new PRICE_DIFF bills linked to the originals, never by editing them;
the same correction twice bills nothing twice; a decrease is a credit into the balance; a correction
that begins inside a reading interval prices the line's days by the versions in force; a version that
lacks a billed component blocks that bill only; audited; within the caller's data scope.

Each test prices its own code (one tier, MONTHLY): 30 m3 at water 2.00 + sewage 1.00 = 90.00.
Periods 2028-07 .. 2028-10 belong to this module (tests share one database and never truncate).
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from tests.support import (
    Household,
    admin_login,
    audit_rows,
    call,
    expect_error,
    household,
    new_admin_user,
    new_dept,
    rule,
    sql_all,
    sql_exec,
    sql_scalar,
    unique,
)
from waterrev.errors import ErrorCode

pytestmark = pytest.mark.integration

D = Decimal
PRICE_DIFF = "/admin-api/revenue/charge/price-diff"
CONFIG = "/admin-api/revenue/parameter/config"


def tariff(water: str, *, sewage: str = "1.00", fee: str | None = None) -> dict[str, Any]:
    document: dict[str, Any] = {
        "name": f"价差测试 {water}",
        "tierMode": "MONTHLY",
        "basePopulation": 1,
        "tiers": [{"tierNo": 1}],
        "components": [
            {"code": "WATER_FEE", "name": "水费", "taxRate": "0.09", "prices": [water]},
            {"code": "SEWAGE_FEE", "name": "污水处理费", "taxRate": "0", "prices": [sewage]},
        ],
    }
    if fee is not None:
        document["fixedCharges"] = [
            {"code": "METER_FEE", "name": "水表维护费", "taxRate": "0.06", "amount": fee}
        ]
    return document


def publish(token: str, code: str, document: dict[str, Any], effective: str) -> int:
    reply = call(
        "POST",
        CONFIG,
        {
            "action": "CREATE",
            "configType": "PRICE",
            "configCode": code,
            "configValue": json.dumps(document),
            "effectStatus": "ACTIVE",
            "effectiveDate": effective,
        },
        token=token,
    )
    assert reply.code == 0, reply.body
    return int(reply.data["configId"])


def priced_by(token: str, code: str, **customer: Any) -> Household:
    home = household(token, **customer)
    sql_exec("UPDATE biz_cust SET price_code = :p WHERE id = :c", {"p": code, "c": home.cust_id})
    return home


def price_diff(token: str, period: str, code: str, **extra: Any) -> Any:
    body = {"billPeriod": period, "configCode": code, "dueDate": "2028-12-31", **extra}
    return call("POST", PRICE_DIFF, body, token=token)


def diff_bills(source_id: int) -> list[dict[str, Any]]:
    return sql_all(
        "SELECT * FROM biz_charge WHERE source_charge_id = :s AND source_type = 'PRICE_DIFF' ORDER BY id",
        {"s": source_id},
    )


def lines_of(charge_id: int) -> list[tuple[Any, ...]]:
    return [
        (
            r["line_kind"],
            r["cost_component"],
            r["tier_no"],
            r["usage_amount"],
            r["unit_price"],
            r["amount"],
            r["ref_line_no"],
        )
        for r in sql_all(
            "SELECT * FROM biz_charge_detail WHERE charge_id = :c ORDER BY line_no", {"c": charge_id}
        )
    ]


def test_a_retroactive_rise_is_billed_once_as_a_new_bill_and_the_original_is_untouched(admin: str) -> None:
    # Given a household billed 90.00 for 30 m3 in 2028-07 on version 1 of its own code
    code = unique("PD")[:20]
    v1 = publish(admin, code, tariff("2.00"), "2020-01-01")
    home = priced_by(admin, code)
    home.read(admin, "2028-07", [30])
    (original,) = home.bill(admin, "2028-07")
    original_lines = sql_all(
        "SELECT * FROM biz_charge_detail WHERE charge_id = :c ORDER BY line_no", {"c": original["id"]}
    )
    assert (original["total_amount"], original["price_template_id"]) == (D("90.00"), v1)

    # When the water price is corrected to 2.50 from 2028-01-01 and the period's difference is billed
    v2 = publish(admin, code, tariff("2.50"), "2028-01-01")
    reply = price_diff(admin, "2028-07", code, remark="物价局批复追溯调价")

    # Then one PRICE_DIFF bill of 30 x 0.50 = 15.00 is issued, linked to the original, due as asked ...
    assert reply.code == 0, reply.body
    (made,) = reply.data["successList"]
    assert (reply.data["generateCount"], reply.data["checkedCount"], reply.data["failureList"]) == (1, 1, [])
    assert (made["totalAmount"], made["sourceChargeId"], made["priceTemplateId"], made["lineCount"]) == (
        "15.00",
        original["id"],
        v2,
        1,
    )
    (bill,) = diff_bills(original["id"])
    assert bill["id"] == made["chargeId"] and bill["code"].startswith("JC202807")
    assert (bill["source_type"], bill["status"], bill["usage_amount"], str(bill["due_date"])) == (
        "PRICE_DIFF",
        "UNPAID",
        D("0"),
        "2028-12-31",
    )
    # ... with one line: the water fee's 30 m3 at +0.50, naming the original's line and the version
    assert lines_of(bill["id"]) == [("PRICE_DIFF", "WATER_FEE", 1, D("30"), D("0.5"), D("15.00"), 1)]
    assert (
        sql_scalar("SELECT price_template_id FROM biz_charge_detail WHERE charge_id = :c", {"c": bill["id"]})
        == v2
    )
    # ... the original bill and its lines are as they were, the account owes 15.00 more, and it is audited
    assert sql_all("SELECT * FROM biz_charge WHERE id = :c", {"c": original["id"]})[0] == original
    assert (
        sql_all(
            "SELECT * FROM biz_charge_detail WHERE charge_id = :c ORDER BY line_no", {"c": original["id"]}
        )
        == original_lines
    )
    assert sql_scalar("SELECT arrears_amount FROM biz_account WHERE id = :a", {"a": home.account_id}) == D(
        "105.00"
    )
    (audit,) = audit_rows("biz_charge", bill["id"], "PRICE_DIFF_GENERATE")
    assert (audit["after_data"]["configCode"], audit["after_data"]["sourceChargeIds"], audit["remark"]) == (
        code,
        [original["id"]],
        "物价局批复追溯调价",
    )

    # When the same correction is run again
    again = price_diff(admin, "2028-07", code)

    # Then nothing more is billed
    assert again.code == 0 and (again.data["generateCount"], again.data["checkedCount"]) == (0, 1)
    assert len(diff_bills(original["id"])) == 1


def test_a_later_decrease_is_credited_to_the_balance_and_pays_what_is_owed(admin: str) -> None:
    # Given a 2028-08 bill of 90.00 at water 2.00, raised to 2.50 by a first correction (+15.00, unpaid)
    code = unique("PD")[:20]
    publish(admin, code, tariff("2.00"), "2020-01-01")
    home = priced_by(admin, code)
    home.read(admin, "2028-08", [30])
    (original,) = home.bill(admin, "2028-08")
    publish(admin, code, tariff("2.50"), "2028-01-01")
    assert price_diff(admin, "2028-08", code).data["generateCount"] == 1

    # When a second correction sets it to 1.80 from 2028-02-01
    v3 = publish(admin, code, tariff("1.80"), "2028-02-01")
    reply = price_diff(admin, "2028-08", code)

    # Then a credit bill of 30 x (1.80 - 2.50) = -21.00 is issued, settled at once ...
    assert reply.code == 0, reply.body
    assert reply.data["totalAmount"] == "-21.00"
    rise, credit = diff_bills(original["id"])
    assert (credit["total_amount"], credit["paid_amount"], credit["status"], credit["price_template_id"]) == (
        D("-21.00"),
        D("-21.00"),
        "PAID",
        v3,
    )
    assert lines_of(credit["id"]) == [("PRICE_DIFF", "WATER_FEE", 1, D("30"), D("-0.7"), D("-21.00"), 1)]
    # ... into the balance (flow PRICE_DIFF), which then pays the oldest bill owed (the original) by
    # deduction: the account owes 105.00 - 21.00
    flows = sql_all(
        "SELECT * FROM biz_account_flow WHERE account_id = :a ORDER BY id", {"a": home.account_id}
    )
    assert [(f["biz_type"], f["change_amount"], f["balance_after"], f["ref_no"]) for f in flows] == [
        ("PRICE_DIFF", D("21.00"), D("21.00"), credit["code"]),
        ("PREPAY_USE", D("-21.00"), D("0.00"), flows[1]["ref_no"]),
    ]
    assert sql_scalar("SELECT paid_amount FROM biz_charge WHERE id = :c", {"c": original["id"]}) == D("21.00")
    account = sql_all("SELECT * FROM biz_account WHERE id = :a", {"a": home.account_id})[0]
    assert (account["balance"], account["arrears_amount"]) == (D("0"), D("84.00"))
    assert rise["status"] == "UNPAID"


def test_a_correction_inside_the_reading_interval_prices_its_days_only(admin: str) -> None:
    # Given a household read on 2028-08-15 and 2028-09-15 (31 days), the 2028-09 bill of 31 m3 at 2.00
    code = unique("PD")[:20]
    publish(admin, code, tariff("2.00"), "2020-01-01")
    home = priced_by(admin, code)
    home.read(admin, "2028-08", [20])
    home.bill(admin, "2028-08")
    home.read(admin, "2028-09", [51])
    (original,) = home.bill(admin, "2028-09")
    assert original["total_amount"] == D("93.00")

    # When water is corrected to 3.00 from 2028-09-01 and 2028-09's difference is billed
    publish(admin, code, tariff("3.00"), "2028-09-01")
    reply = price_diff(admin, "2028-09", code)

    # Then only the 14 days from 09-01 are repriced: 31 m3 split 17 / 14 by days, 14 m3 x 1.00 = 14.00
    assert reply.code == 0 and reply.data["totalAmount"] == "14.00", reply.body
    (bill,) = diff_bills(original["id"])
    assert lines_of(bill["id"]) == [("PRICE_DIFF", "WATER_FEE", 1, D("31"), D("1"), D("14.00"), 1)]
    # and 2028-08, billed wholly before 09-01, has nothing to add
    assert price_diff(admin, "2028-08", code, customerIds=[home.cust_id]).data["generateCount"] == 0


def test_a_fixed_charge_is_corrected_and_a_missing_component_blocks_that_bill_only(admin: str) -> None:
    # Given two households on codes with a meter fee of 2.00, billed in 2028-10
    code, other = unique("PD")[:20], unique("PD")[:20]
    publish(admin, code, tariff("2.00", fee="2.00"), "2020-01-01")
    publish(admin, other, tariff("2.00", fee="2.00"), "2020-01-01")
    fee, lost = priced_by(admin, code), priced_by(admin, other)
    for home in (fee, lost):
        home.read(admin, "2028-10", [10])
    (fee_bill,) = fee.bill(admin, "2028-10")
    (lost_bill,) = lost.bill(admin, "2028-10")

    # When the fee of the first code becomes 3.50, and the second code's new version drops the fee
    publish(admin, code, tariff("2.00", fee="3.50"), "2028-01-01")
    publish(admin, other, tariff("2.00"), "2028-01-01")
    raised = price_diff(admin, "2028-10", code)
    blocked = price_diff(admin, "2028-10", other)

    # Then the fee's difference is one FIXED-line correction of 1.50 ...
    assert raised.code == 0 and raised.data["generateCount"] == 1, raised.body
    (bill,) = diff_bills(fee_bill["id"])
    assert lines_of(bill["id"]) == [("PRICE_DIFF", "METER_FEE", 0, D("1"), D("1.5"), D("1.50"), 3)]
    # ... and the bill whose component is gone is a failure naming it, with no bill
    assert blocked.code == 0 and blocked.data["generateCount"] == 0
    (failure,) = blocked.data["failureList"]
    assert (failure["chargeId"], failure["errorCode"]) == (
        lost_bill["id"],
        ErrorCode.PRICE_OR_COMPONENT_MISSING.code,
    )
    assert "METER_FEE" in failure["reason"]
    assert diff_bills(lost_bill["id"]) == []


def test_a_user_adjusts_only_the_bills_of_its_data_scope_and_needs_the_permission(admin: str) -> None:
    # Given households of two new offices billed in 2028-07 on one code, then a retroactive rise
    code = unique("PD")[:20]
    publish(admin, code, tariff("2.00"), "2020-01-01")
    mine, theirs = new_dept(), new_dept()
    rule(admin, "revenue.billing.prepay-deduct", "false", dept_id=mine)
    homes = [priced_by(admin, code, dept_id=d) for d in (mine, theirs)]
    for home in homes:
        home.read(admin, "2028-07", [30])
        home.bill(admin, "2028-07")
    publish(admin, code, tariff("2.20"), "2028-01-01")
    clerk = admin_login(
        new_admin_user(dept_id=mine, permissions=("revenue:charge:price-diff",), data_scope="DEPT_ONLY"),
        "Passw0rd!",
    )

    # When a user of the first office runs the difference, then only its own household is adjusted
    reply = price_diff(clerk, "2028-07", code)
    assert reply.code == 0 and [s["custId"] for s in reply.data["successList"]] == [homes[0].cust_id], (
        reply.body
    )
    assert reply.data["checkedCount"] == 1

    # When a counter clerk without the permission, or a request with a bad period or due date, asks
    expect_error(price_diff(admin_login("gulou", "gulou123"), "2028-07", code), ErrorCode.FORBIDDEN.code)
    expect_error(price_diff(admin, "2028-13", code), ErrorCode.BAD_REQUEST.code, mentions="billPeriod")
    expect_error(
        price_diff(admin, "2028-07", code, dueDate="2028-06-30"),
        ErrorCode.BAD_REQUEST.code,
        mentions="dueDate",
    )
    expect_error(
        price_diff(admin, "2028-07", unique("NOPE")[:20]), ErrorCode.NOT_FOUND.code, mentions="configCode"
    )
    # Then the other office's bill was left alone
    assert (
        sql_scalar(
            "SELECT count(*) FROM biz_charge WHERE cust_id = :c AND source_type = 'PRICE_DIFF'",
            {"c": homes[1].cust_id},
        )
        == 0
    )


def test_a_prepaid_balance_pays_a_rise_like_any_new_bill(admin: str) -> None:
    # Given a household with 200.00 prepaid whose 2028-07 bill (90.00) was paid by deduction
    code = unique("PD")[:20]
    publish(admin, code, tariff("2.00"), "2020-01-01")
    home = priced_by(admin, code)
    sql_exec("UPDATE biz_account SET balance = 200 WHERE id = :a", {"a": home.account_id})
    home.read(admin, "2028-07", [30])
    (original,) = home.bill(admin, "2028-07")
    assert original["status"] == "PAID"

    # When a retroactive rise of 0.50 a m3 is billed
    publish(admin, code, tariff("2.50"), "2028-01-01")
    assert price_diff(admin, "2028-07", code, customerIds=[home.cust_id]).data["generateCount"] == 1

    # Then the 15.00 difference is paid from the balance at once, by a PREPAY collection of its own
    (bill,) = diff_bills(original["id"])
    assert (bill["total_amount"], bill["paid_amount"], bill["status"]) == (D("15.00"), D("15.00"), "PAID")
    assert sql_scalar("SELECT balance FROM biz_account WHERE id = :a", {"a": home.account_id}) == D("95.00")
    paid = sql_all(
        "SELECT c.channel, c.source, i.amount FROM biz_collection_item i JOIN biz_collection c ON c.id = i.collection_id"
        " WHERE i.charge_id = :b",
        {"b": bill["id"]},
    )
    assert paid == [{"channel": "PREPAY", "source": "DEDUCT", "amount": D("15.00")}]
