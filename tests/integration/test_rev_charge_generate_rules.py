"""Billing as a water company runs it (IF-REV-005 with IF-REV-012, IF-REV-002/001 and IF-CS-002):
a price family's minimum usage and fixed charges, set in the PRICE document and versioned with it;
zero usage billing what the rule says; mixed-use meters (一表多价) kept as master data through IF-REV-002,
shown by IF-REV-001, billed as one bill with lines per part; a price version taking effect between two
readings splitting the usage and the tiers by days; the lines shown with their part, version, segment
and kind in IF-CS-002.

Periods 2029-01 .. 2029-06 belong to this module (tests share one database and never truncate).
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from tests.support import (
    Household,
    bind,
    call,
    channel_login,
    charge_lines,
    expect_error,
    household,
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
CONFIG = "/admin-api/revenue/parameter/config"
UPDATE = "/admin-api/revenue/customer/update"
HISTORY = "/app-api/customer/bill/history"


def family(
    water: str, *, bound: str = "10", minimum: str | None = None, fee: str | None = None
) -> dict[str, Any]:
    """MONTHLY, tiers 0-bound and above (the upper tier 1.00 dearer), water + sewage 1.00."""
    upper = str(D(water) + 1)
    document: dict[str, Any] = {
        "name": f"规则测试 {water}",
        "tierMode": "MONTHLY",
        "basePopulation": 1,
        "tiers": [{"tierNo": 1, "upperBound": bound}, {"tierNo": 2}],
        "components": [
            {"code": "WATER_FEE", "name": "水费", "taxRate": "0.09", "prices": [water, upper]},
            {"code": "SEWAGE_FEE", "name": "污水处理费", "taxRate": "0", "prices": ["1.00", "1.00"]},
        ],
    }
    if minimum is not None:
        document["minimumUsage"] = minimum
    if fee is not None:
        document["fixedCharges"] = [
            {"code": "METER_FEE", "name": "水表维护费", "taxRate": "0.06", "amount": fee}
        ]
    return document


def publish(token: str, code: str, document: dict[str, Any], effective: str = "2020-01-01") -> int:
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


def on_code(token: str, code: str, **customer: Any) -> Household:
    home = household(token, dept_id=customer.pop("dept_id", None) or quiet_dept(token), **customer)
    sql_exec("UPDATE biz_cust SET price_code = :p WHERE id = :c", {"p": code, "c": home.cust_id})
    return home


_QUIET: list[int] = []


def quiet_dept(token: str) -> int:
    """An office of this module with prepaid deduction off: these bills stay as billed."""
    if not _QUIET:
        _QUIET.append(new_dept())
        rule(token, "revenue.billing.prepay-deduct", "false", dept_id=_QUIET[0])
    return _QUIET[0]


def lines(charge_id: int) -> list[tuple[Any, ...]]:
    return [
        (
            r["line_kind"],
            r["part_no"],
            r["segment_no"],
            r["cost_component"],
            r["tier_no"],
            r["usage_amount"],
            r["amount"],
        )
        for r in charge_lines(charge_id)
    ]


# ---------------------------------------------------------------------------- IF-REV-012 ---
def test_minimum_usage_and_fixed_charges_are_part_of_the_versioned_price_document(admin: str) -> None:
    # Given a PRICE document with a minimum usage of 5 m3 and a meter fee of 2.00, and one without them
    code, plain = unique("RUL")[:20], unique("RUL")[:20]
    with_rules = publish(admin, code, family("2.00", minimum="5", fee="2.00"))
    without = publish(admin, plain, family("2.00"))

    # When both are queried
    listed = {
        c: call("GET", CONFIG, token=admin, query=f"configType=PRICE&configCode={c}").data[0]["configValue"]
        for c in (code, plain)
    }

    # Then the first answers them, the second (a document of before) answers none
    assert (listed[code]["minimumUsage"], listed[code]["fixedCharges"]) == (
        "5.00",
        [{"code": "METER_FEE", "name": "水表维护费", "taxRate": "0.0600", "amount": "2.00"}],
    )
    assert (listed[plain]["minimumUsage"], listed[plain]["fixedCharges"]) == (None, [])
    assert sql_scalar("SELECT minimum_usage FROM biz_price_template WHERE id = :t", {"t": with_rules}) == D(
        "5"
    )
    assert sql_scalar("SELECT count(*) FROM biz_cost_component WHERE template_id = :t", {"t": without}) == 2


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"minimumUsage": "0"}, "configValue.minimumUsage"),
        ({"minimumUsage": "1.234"}, "configValue.minimumUsage"),
        (
            {"fixedCharges": [{"code": "WATER_FEE", "name": "重复", "taxRate": "0", "amount": "1"}]},
            "fixedCharges",
        ),
        ({"fixedCharges": [{"code": "METER_FEE", "name": "费", "taxRate": "0", "amount": "-1"}]}, "amount"),
    ],
)
def test_a_bad_minimum_or_fixed_charge_is_refused_naming_it(
    admin: str, change: dict[str, Any], field: str
) -> None:
    reply = call(
        "POST",
        CONFIG,
        {
            "action": "CREATE",
            "configType": "PRICE",
            "configCode": unique("BAD")[:20],
            "configValue": json.dumps(family("2.00") | change),
        },
        token=admin,
    )
    expect_error(reply, ErrorCode.BAD_REQUEST.code, mentions=field)


# ------------------------------------------------------------------------- minimum, fixed ---
def test_zero_usage_bills_the_minimum_and_the_fee_and_usage_above_it_bills_the_usage(admin: str) -> None:
    # Given a family with a minimum of 5 m3 and a meter fee of 2.00; three households reading 0, 3 and 12 m3
    code = unique("MIN")[:20]
    template = publish(admin, code, family("2.00", minimum="5", fee="2.00"))
    homes = [on_code(admin, code) for _ in range(3)]
    for home, value in zip(homes, (0, 3, 12), strict=True):
        home.read(admin, "2029-01", [value])

    # When they are billed
    bills = [home.bill(admin, "2029-01")[0] for home in homes]

    # Then zero usage bills 5 m3 on MINIMUM lines and the fee: 5 x 3.00 + 2.00 = 17.00, not 0.00
    zero, three, twelve = bills
    assert (zero["usage_amount"], zero["total_amount"], zero["price_template_id"]) == (
        D("0"),
        D("17.00"),
        template,
    )
    assert lines(zero["id"]) == [
        ("MINIMUM", 1, 1, "WATER_FEE", 1, D("5"), D("10.00")),
        ("MINIMUM", 1, 1, "SEWAGE_FEE", 1, D("5"), D("5.00")),
        ("FIXED", 1, 1, "METER_FEE", 0, D("1"), D("2.00")),
    ]
    # ... 3 m3 bills 3 used and 2 short of the minimum, then the fee: 17.00 as well
    assert [ln[0] for ln in lines(three["id"])] == ["USAGE", "USAGE", "MINIMUM", "MINIMUM", "FIXED"]
    assert three["total_amount"] == D("17.00") and three["usage_amount"] == D("3")
    # ... 12 m3 bills its usage by tier (10 + 2) and the fee: 10 x 3.00 + 2 x 4.00 + 2.00 = 40.00
    assert twelve["total_amount"] == D("40.00")
    assert "MINIMUM" not in [ln[0] for ln in lines(twelve["id"])]
    # ... every line names the version that priced it
    assert {r["price_template_id"] for b in bills for r in charge_lines(b["id"])} == {template}


# ------------------------------------------------------------------------------ mixed use ---
def test_a_mixed_use_meter_is_master_data_and_bills_one_bill_with_lines_per_part(admin: str) -> None:
    # Given a residential family (2.00, meter fee 1.50) and a commercial one (4.00, meter fee 3.00), and a
    # household created through IF-REV-002 with one meter split 70% residential / 30% commercial
    residential, commercial = unique("RES")[:20], unique("BIZ")[:20]
    res_id = publish(admin, residential, family("2.00", fee="1.50"))
    biz_id = publish(admin, commercial, family("4.00", fee="3.00"))
    created = call(
        "POST",
        "/admin-api/revenue/customer/create",
        {
            "name": "店住两用",
            "mobile": "13712345678",
            "custType": "RESIDENT",
            "address": "鼓楼区两用路 1 号",
            "deptId": quiet_dept(admin),
            "meterList": [
                {
                    "meterNo": unique("M"),
                    "caliber": "DN20",
                    "priceSplit": {
                        "effectiveDate": "2029-01-01",
                        "parts": [
                            {"priceCode": residential, "splitMode": "RATIO", "ratio": "0.7"},
                            {"priceCode": commercial, "splitMode": "RATIO", "ratio": "0.3"},
                        ],
                    },
                }
            ],
        },
        token=admin,
    )
    assert created.code == 0, created.body
    cust = int(created.data["id"])
    meter = int(created.data["meterIds"][0])
    home = Household(cust, int(created.data["accountId"]), [meter], 0)
    from tests.support import new_book

    home.book_id = int(new_book(admin, [meter], dept_id=quiet_dept(admin))["bookId"])

    # When IF-REV-001 shows the meter
    shown = call("GET", f"/admin-api/revenue/customer/{cust}", token=admin, query="queryType=meter")

    # Then its split is in meterList
    assert shown.code == 0, shown.body
    (split,) = shown.data["meterList"][0]["priceSplitList"]
    assert (split["effectiveDate"], split["expireDate"]) == ("2029-01-01", None)
    assert [(p["partNo"], p["priceCode"], p["splitMode"], p["ratio"]) for p in split["parts"]] == [
        (1, residential, "RATIO", "0.7000"),
        (2, commercial, "RATIO", "0.3000"),
    ]

    # When it reads 20 m3 in 2029-02 and is billed
    home.read(admin, "2029-02", [20])
    (bill,) = home.bill(admin, "2029-02")

    # Then one bill has the residential part's 14 m3 (10 + 4) and the commercial part's 6 m3 on their own
    # templates and tiers, and the fee of the primary (largest) part only
    assert lines(bill["id"]) == [
        ("USAGE", 1, 1, "WATER_FEE", 1, D("10"), D("20.00")),
        ("USAGE", 1, 1, "WATER_FEE", 2, D("4"), D("12.00")),
        ("USAGE", 1, 1, "SEWAGE_FEE", 1, D("10"), D("10.00")),
        ("USAGE", 1, 1, "SEWAGE_FEE", 2, D("4"), D("4.00")),
        ("USAGE", 2, 1, "WATER_FEE", 1, D("6"), D("24.00")),
        ("USAGE", 2, 1, "SEWAGE_FEE", 1, D("6"), D("6.00")),
        ("FIXED", 1, 1, "METER_FEE", 0, D("1"), D("1.50")),
    ]
    assert [r["price_template_id"] for r in charge_lines(bill["id"])] == [res_id] * 4 + [biz_id] * 2 + [
        res_id
    ]
    assert (bill["usage_amount"], bill["total_amount"], bill["price_template_id"]) == (
        D("20"),
        D("77.50"),
        res_id,
    )

    # When IF-REV-002 changes it from 2029-03-01 to "the first 10 m3 commercial, the rest residential"
    changed = call(
        "PUT",
        UPDATE,
        {
            "id": cust,
            "priceSplits": [
                {
                    "meterId": meter,
                    "effectiveDate": "2029-03-01",
                    "parts": [
                        {"priceCode": commercial, "splitMode": "QUANTITY", "quantity": "10"},
                        {"priceCode": residential, "splitMode": "RATIO", "ratio": "1"},
                    ],
                }
            ],
        },
        token=admin,
    )
    assert changed.code == 0, changed.body
    newer, older = changed.data["meterList"][0]["priceSplitList"]
    assert (newer["effectiveDate"], older["expireDate"]) == ("2029-03-01", "2029-02-28")

    # Then 2029-03's 25 m3 bill 10 commercial and 15 residential (10 + 5 by its tiers)
    home.read(admin, "2029-03", [45])
    (march,) = home.bill(admin, "2029-03")
    by_part = {
        part: sum(
            (
                r["usage_amount"]
                for r in charge_lines(march["id"])
                if r["part_no"] == part and r["cost_component"] == "WATER_FEE"
            ),
            D(0),
        )
        for part in (1, 2)
    }
    assert by_part == {1: D("10"), 2: D("15")}
    assert march["total_amount"] == D("10") * D("5") + D("10") * D("3") + D("5") * D("4") + D("1.50")
    assert march["price_template_id"] == res_id  # the RATIO part is the primary one: its fee, once

    # And the customer's channel user sees the bill with its lines, parts, families and versions
    openid = unique("mix-")
    member = channel_login(openid)
    assert bind(member, openid, cust).code == 0
    rows = call("GET", HISTORY, token=member, query=f"custId={cust}&queryType=BILL&billPeriod=2029-03").data[
        "list"
    ]
    (row,) = rows
    assert row["sourceType"] == "READING" and row["sourceChargeId"] is None
    assert [(ln["partNo"], ln["priceCode"], ln["configVersion"], ln["lineKind"]) for ln in row["lineList"]][
        -1
    ] == (
        2,
        residential,
        "1",
        "FIXED",
    )
    assert {(ln["partNo"], ln["priceCode"]) for ln in row["lineList"]} == {(1, commercial), (2, residential)}
    assert sum((D(ln["amount"]) for ln in row["lineList"]), D(0)) == D(row["totalAmount"])


@pytest.mark.parametrize(
    ("parts", "code", "mentions"),
    [
        (
            [{"priceCode": "RESIDENT", "splitMode": "RATIO", "ratio": "0.5"}],
            ErrorCode.BAD_REQUEST.code,
            "ratio",
        ),
        (
            [{"priceCode": "RESIDENT", "splitMode": "QUANTITY", "quantity": "5"}],
            ErrorCode.BAD_REQUEST.code,
            "RATIO",
        ),
        ([{"priceCode": "RESIDENT", "splitMode": "RATIO"}], ErrorCode.BAD_REQUEST.code, "ratio"),
        (
            [{"priceCode": "NO_SUCH_CODE", "splitMode": "RATIO", "ratio": "1"}],
            ErrorCode.BAD_REQUEST.code,
            "priceCode",
        ),
    ],
)
def test_a_split_that_does_not_add_up_or_names_no_price_is_refused(
    admin: str, parts: list[dict[str, Any]], code: int, mentions: str
) -> None:
    home = household(admin)
    reply = call(
        "PUT",
        UPDATE,
        {
            "id": home.cust_id,
            "priceSplits": [{"meterId": home.meter_ids[0], "effectiveDate": "2029-01-01", "parts": parts}],
        },
        token=admin,
    )
    expect_error(reply, code, mentions=mentions)
    assert (
        sql_scalar("SELECT count(*) FROM biz_meter_price_split WHERE meter_id = :m", {"m": home.meter_ids[0]})
        == 0
    )


def test_a_split_is_only_for_the_customers_own_meter_and_only_forward_in_time(admin: str) -> None:
    home, other = household(admin), household(admin)
    whole = [{"priceCode": "RESIDENT", "splitMode": "RATIO", "ratio": "1"}]

    def change(meter: int, effective: str, parts: list[dict[str, Any]]) -> Any:
        body = {
            "id": home.cust_id,
            "priceSplits": [{"meterId": meter, "effectiveDate": effective, "parts": parts}],
        }
        return call("PUT", UPDATE, body, token=admin)

    expect_error(
        change(other.meter_ids[0], "2029-01-01", whole), ErrorCode.BAD_REQUEST.code, mentions="未绑定"
    )
    assert change(home.meter_ids[0], "2029-02-01", whole).code == 0
    expect_error(
        change(home.meter_ids[0], "2029-02-01", whole), ErrorCode.CONFLICT.code, mentions="effectiveDate"
    )
    ended = change(home.meter_ids[0], "2029-04-01", [])
    assert ended.code == 0 and ended.data["meterList"][0]["priceSplitList"][0]["expireDate"] == "2029-03-31"


# ------------------------------------------------------------------------------- proration ---
def test_a_price_version_taking_effect_between_two_readings_splits_usage_and_tiers_by_days(
    admin: str,
) -> None:
    # Given a household read on 2029-04-15 (billed) and 2029-05-15 (30 days later, 30 m3), and a version
    # 2 of its family (water 3.00) taking effect on 2029-05-05 - 20 days at version 1, 10 at version 2
    code = unique("PRO")[:20]
    v1 = publish(admin, code, family("2.00"))
    home = on_code(admin, code)
    home.read(admin, "2029-04", [10])
    home.bill(admin, "2029-04")
    v2 = publish(admin, code, family("3.00"), effective="2029-05-05")
    home.read(admin, "2029-05", [40])

    # When 2029-05 is billed
    (bill,) = home.bill(admin, "2029-05")

    # Then the usage is split 20 / 10 m3 and the monthly tier bound (10) 6.66 / 3.34, each part priced by
    # its own version, every line naming its version, segment and days
    got = [
        (
            r["price_template_id"],
            r["segment_no"],
            r["cost_component"],
            r["tier_no"],
            r["usage_amount"],
            r["unit_price"],
            str(r["segment_from"]),
            str(r["segment_to"]),
        )
        for r in charge_lines(bill["id"])
        if r["cost_component"] == "WATER_FEE"
    ]
    assert got == [
        (v1, 1, "WATER_FEE", 1, D("6.66"), D("2.00"), "2029-04-15", "2029-05-05"),
        (v1, 1, "WATER_FEE", 2, D("13.34"), D("3.00"), "2029-04-15", "2029-05-05"),
        (v2, 2, "WATER_FEE", 1, D("3.34"), D("3.00"), "2029-05-05", "2029-05-15"),
        (v2, 2, "WATER_FEE", 2, D("6.66"), D("4.00"), "2029-05-05", "2029-05-15"),
    ]
    water = D("6.66") * 2 + D("13.34") * 3 + D("3.34") * 3 + D("6.66") * 4
    assert bill["total_amount"] == (water + 30).quantize(D("0.01"))
    assert sum(
        (r["usage_amount"] for r in charge_lines(bill["id"]) if r["cost_component"] == "SEWAGE_FEE"), D(0)
    ) == D("30")
    assert bill["price_template_id"] == v2  # the version on the reading day
    assert sql_all(
        "SELECT previous_read_time IS NOT NULL AS known FROM biz_reading_data WHERE id = :r",
        {"r": bill["reading_id"]},
    ) == [{"known": True}]
