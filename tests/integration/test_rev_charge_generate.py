"""IF-REV-005 账单生成 (POST /admin-api/revenue/charge/generate): each VALID reading priced by the ACTIVE
template of its customer's price code (its cust_type by default), line by line (quantity x unit price,
rounded to the fen; total = sum of lines); annual tiers counting the year and widened by household
size, monthly tiers restarting each month; settle types; a customer whose configuration is incomplete
blocked alone (1_002_002_003, never a partial bill); one bill per reading whatever the repeats and
races; filters; issued bills untouched by later prices; validation; the new bill in IF-CS-002.

Periods 2022-03, 2022-07 and 2023-01 .. 2023-11 belong to this module (tests share one database and
never truncate); calls are narrowed to the module's own customers wherever the test allows it.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pytest

from tests.support import (
    CHARGE_GENERATE,
    TASK_GENERATE,
    Reply,
    admin_login,
    arrears_of,
    audit_rows,
    bind,
    call,
    channel_login,
    charge_generate,
    charge_lines,
    charge_of_reading,
    expect_error,
    new_book,
    new_customer,
    read_time,
    sql_all,
    sql_exec,
    sql_scalar,
    submit_reading,
    task_of,
    unique,
)
from waterrev.billing import generate as billing
from waterrev.billing.commands import GenerateBills
from waterrev.context import SYSTEM, RequestContext
from waterrev.errors import ErrorCode
from waterrev.local.demo import RESIDENT_PRICE

pytestmark = pytest.mark.integration

PRICE_MISSING = ErrorCode.PRICE_OR_COMPONENT_MISSING.code
CONFIG = "/admin-api/revenue/parameter/config"
REVIEW = "/admin-api/revenue/reading-data/review"
IOT_RECEIVE = "/admin-api/meter/iot/reading/receive"
HISTORY = "/app-api/customer/bill/history"
D = Decimal
# An own monthly tariff for the configuration tests: 30 m3 = 20 x (2.00 + 1.00) + 10 x (3.00 + 1.50) = 105.00
MONTHLY_PRICE = {
    "name": "开账测试月度阶梯",
    "tierMode": "MONTHLY",
    "basePopulation": 1,
    "tiers": [{"tierNo": 1, "upperBound": "20"}, {"tierNo": 2}],
    "components": [
        {"code": "WATER_FEE", "name": "水费", "taxRate": "0.09", "prices": ["2.00", "3.00"]},
        {"code": "SEWAGE_FEE", "name": "污水处理费", "taxRate": "0", "prices": ["1.00", "1.50"]},
    ],
}


# ---------------------------------------------------------------------------------- helpers ---
@dataclass
class Reader:
    """A customer with one new meter (starting at 0) in a book of the test's own."""

    cust_id: int
    meter_id: int
    book_id: int
    readings: dict[str, int] = field(default_factory=dict)  # period -> reading id

    def read(self, token: str, period: str, value: int, *, expect: str = "PASS", **extra: Any) -> int:
        reply = submit_reading(token, self.meter_id, period, value, **extra)
        assert reply.code == 0 and reply.data["validateStatus"] == expect, reply.body
        self.readings[period] = int(reply.data["readingId"])
        return self.readings[period]


def open_period(token: str, book_id: int, period: str, batch: str | None = None) -> None:
    body: dict[str, Any] = {"billPeriod": period, "bookIds": [book_id]}
    if batch:
        body["readingBatchNo"] = batch
    reply = call("POST", TASK_GENERATE, body, token=token)
    assert reply.code == 0 and reply.data["taskCount"] >= 1, reply.body


def readers(
    token: str, period: str, values: list[int | None], *, batch: str | None = None, **customer: Any
) -> list[Reader]:
    """One new customer per value, all in one new book with tasks for `period` (in reading batch
    `batch`), each with a valid reading of that value (None: no reading)."""
    created = [new_customer(token, **customer) for _ in values]
    meters = [int(c["meterIds"][0]) for c in created]
    book_id = int(new_book(token, meters)["bookId"])
    open_period(token, book_id, period, batch)
    out = [Reader(int(c["id"]), m, book_id) for c, m in zip(created, meters, strict=True)]
    for reader, value in zip(out, values, strict=True):
        if value is not None:
            reader.read(token, period, value)
    return out


def next_period(token: str, people: list[Reader], period: str, values: list[int]) -> None:
    """Tasks of `period` for the books of `people` and a reading (the dial, cumulative) on each."""
    for book_id in {p.book_id for p in people}:
        open_period(token, book_id, period)
    for person, value in zip(people, values, strict=True):
        person.read(token, period, value)


def billed(token: str, period: str, people: list[Reader], **scope: Any) -> dict[str, Any]:
    reply = charge_generate(token, period, customerIds=[p.cust_id for p in people], **scope)
    assert reply.code == 0, reply.body
    return dict(reply.data)


def success_custs(data: dict[str, Any]) -> list[int]:
    return sorted(int(s["custId"]) for s in data["successList"])


def failures_by_cust(data: dict[str, Any]) -> dict[int, dict[str, Any]]:
    return {int(f["custId"]): f for f in data["failureList"]}


def bill_of(person: Reader, period: str) -> dict[str, Any]:
    charge = charge_of_reading(person.readings[period])
    assert charge is not None, f"no bill for customer {person.cust_id} in {period}"
    return charge


def lines(charge_id: int) -> list[tuple[str, int, Decimal, Decimal, Decimal]]:
    """(component, tier, quantity, unit price, amount), sorted by component then tier."""
    return sorted(
        (r["cost_component"], r["tier_no"], r["usage_amount"], r["unit_price"], r["amount"])
        for r in charge_lines(charge_id)
    )


def tier_one(usage: str, water: str = "2.15", sewage: str = "1.00", resource: str = "0.10") -> list[Any]:
    """The three RESIDENT-like lines of a usage that stays in tier 1."""
    q = D(usage)
    return sorted(
        (code, 1, q, D(p), (q * D(p)).quantize(D("0.01")))
        for code, p in (("WATER_FEE", water), ("SEWAGE_FEE", sewage), ("RESOURCE_FEE", resource))
    )


def reading_status(person: Reader, period: str) -> str:
    return str(
        sql_scalar("SELECT status FROM biz_reading_data WHERE id = :id", {"id": person.readings[period]})
    )


def charge_count(people: list[Reader]) -> int:
    return int(
        sql_scalar(
            "SELECT count(*) FROM biz_charge WHERE cust_id = ANY(CAST(:c AS bigint[]))",
            {"c": [p.cust_id for p in people]},
        )
    )


def settle(person: Reader, settle_type: str, volume: str | None) -> None:
    sql_exec(
        "UPDATE biz_cust SET settle_type = :t, settle_volume = :v WHERE id = :id",
        {"t": settle_type, "v": volume, "id": person.cust_id},
    )


def price_code(people: list[Reader], code: str) -> None:
    sql_exec(
        "UPDATE biz_cust SET price_code = :code WHERE id = ANY(CAST(:c AS bigint[]))",
        {"code": code, "c": [p.cust_id for p in people]},
    )


def price_template(token: str, code: str, document: dict[str, Any], effective: str | None = None) -> int:
    """A new version of template `code` through IF-REV-012: DRAFT, or ACTIVE from `effective`."""
    body: dict[str, Any] = {
        "action": "CREATE",
        "configType": "PRICE",
        "configCode": code,
        "configValue": json.dumps(document),
    }
    if effective:
        body |= {"effectStatus": "ACTIVE", "effectiveDate": effective}
    reply = call("POST", CONFIG, body, token=token)
    assert reply.code == 0, reply.body
    return int(reply.data["configId"])


def resident_template(on: str) -> int:
    return int(
        sql_scalar(
            "SELECT id FROM biz_price_template WHERE code = 'RESIDENT' AND status = 'ACTIVE'"
            " AND effective_date <= CAST(:d AS date) AND (expire_date IS NULL OR expire_date >= CAST(:d AS date))"
            " ORDER BY effective_date DESC, version DESC LIMIT 1",
            {"d": on},
        )
    )


# -------------------------------------------------------------------------------- the bill ---
def test_a_resident_reading_is_billed_line_by_line_and_recorded(admin: str) -> None:
    # Given a RESIDENT household of 3 whose meter read 30 m3 in 2023-01
    (home,) = readers(admin, "2023-01", [30], population=3)
    arrears_before = arrears_of(home.cust_id)

    # When the period is billed
    data = billed(admin, "2023-01", [home])

    # Then one bill of 30 x (2.15 + 1.00 + 0.10) = 97.50 is answered ...
    charge = bill_of(home, "2023-01")
    assert (data["generateCount"], data["failureList"]) == (1, [])
    assert data["successList"] == [
        {
            "chargeId": charge["id"],
            "chargeCode": charge["code"],
            "custId": home.cust_id,
            "totalAmount": "97.50",
        }
    ]
    assert charge["code"].startswith("ZD202301")
    # ... and stored with its template, reading, task, due date and the usage it charges
    assert (charge["total_amount"], charge["usage_amount"], charge["paid_amount"], charge["status"]) == (
        D("97.50"),
        D("30"),
        D("0"),
        "UNPAID",
    )
    assert (charge["bill_period"], charge["due_date"], charge["settle_type"]) == (
        "2023-01",
        dt.date(2023, 2, 15),
        "ACTUAL_USAGE",
    )
    assert charge["price_template_id"] == resident_template("2023-01-01")
    assert (charge["meter_id"], charge["meter_read_id"]) == (home.meter_id, task_of(home.meter_id, "2023-01"))
    assert charge["account_id"] == sql_scalar(
        "SELECT id FROM biz_account WHERE cust_id = :c", {"c": home.cust_id}
    )
    # ... with one tier-1 line per component, each with its unit price and tax rate, summing to the total
    rows = charge_lines(charge["id"])
    assert lines(charge["id"]) == tier_one("30")
    assert {r["cost_component"]: r["tax_rate"] for r in rows} == {
        "WATER_FEE": D("0.09"),
        "SEWAGE_FEE": D("0"),
        "RESOURCE_FEE": D("0"),
    }
    assert sum(r["amount"] for r in rows) == charge["total_amount"]
    # ... the reading and its task are BILLED, the account owes the bill more
    assert reading_status(home, "2023-01") == "BILLED"
    assert (
        sql_scalar("SELECT status FROM biz_meter_read WHERE id = :t", {"t": charge["meter_read_id"]})
        == "BILLED"
    )
    assert arrears_of(home.cust_id) == arrears_before + D("97.50")
    # ... and one audit row lists the bill
    (audit,) = audit_rows("biz_charge", charge["id"], "CHARGE_GENERATE")
    assert audit["user_type"] == "ADMIN"
    assert (audit["after_data"]["chargeIds"], audit["after_data"]["count"]) == ([charge["id"]], 1)
    assert (audit["after_data"]["billPeriod"], audit["after_data"]["totalAmount"]) == ("2023-01", "97.50")


def test_annual_tiers_count_the_year_and_widen_with_the_household(admin: str) -> None:
    # Given two households of 3 and 6 persons, each reading 100 m3 in 2023-02 and 2023-03 (billed)
    (small,) = readers(admin, "2023-02", [100], population=3)
    (large,) = readers(admin, "2023-02", [100], population=6)
    both = [small, large]
    assert billed(admin, "2023-02", both)["generateCount"] == 2
    next_period(admin, both, "2023-03", [200, 200])
    assert billed(admin, "2023-03", both)["generateCount"] == 2
    assert {bill_of(p, "2023-03")["total_amount"] for p in both} == {D("325.00")}

    # When both read 30 m3 more in 2023-04 and the period is billed
    next_period(admin, both, "2023-04", [230, 230])
    data = billed(admin, "2023-04", both)

    # Then the household of 3 (tier 1 up to 216 m3 a year) pays 16 m3 in tier 1 and 14 in tier 2
    assert data["generateCount"] == 2 and data["failureList"] == []
    charge = bill_of(small, "2023-04")
    assert lines(charge["id"]) == sorted(
        [
            ("WATER_FEE", 1, D("16"), D("2.15"), D("34.40")),
            ("WATER_FEE", 2, D("14"), D("3.23"), D("45.22")),
            ("SEWAGE_FEE", 1, D("16"), D("1.00"), D("16.00")),
            ("SEWAGE_FEE", 2, D("14"), D("1.00"), D("14.00")),
            ("RESOURCE_FEE", 1, D("16"), D("0.10"), D("1.60")),
            ("RESOURCE_FEE", 2, D("14"), D("0.10"), D("1.40")),
        ]
    )
    assert charge["total_amount"] == D("112.62") == sum(line[4] for line in lines(charge["id"]))
    # ... while the household of 6 (tier 1 up to 216 + 2 x 54 = 324 m3) stays in tier 1
    assert lines(bill_of(large, "2023-04")["id"]) == tier_one("30")
    assert bill_of(large, "2023-04")["total_amount"] == D("97.50")


def test_monthly_tiers_restart_every_month(admin: str) -> None:
    # Given a NON_RESIDENT customer (MONTHLY tier 1 up to 500 m3) using 600 m3 in 2023-02
    (shop,) = readers(admin, "2023-02", [600], custType="NON_RESIDENT")
    expected = sorted(
        [
            ("WATER_FEE", 1, D("500"), D("3.10"), D("1550.00")),
            ("WATER_FEE", 2, D("100"), D("4.65"), D("465.00")),
            ("SEWAGE_FEE", 1, D("500"), D("1.40"), D("700.00")),
            ("SEWAGE_FEE", 2, D("100"), D("1.40"), D("140.00")),
            ("RESOURCE_FEE", 1, D("500"), D("0.10"), D("50.00")),
            ("RESOURCE_FEE", 2, D("100"), D("0.10"), D("10.00")),
        ]
    )

    # When 2023-02 is billed, then 500 m3 are in tier 1 and 100 in tier 2
    data = billed(admin, "2023-02", [shop])
    assert data["successList"][0]["totalAmount"] == "2915.00"
    assert lines(bill_of(shop, "2023-02")["id"]) == expected

    # When it uses 600 m3 again in 2023-03, then the month starts from zero again
    next_period(admin, [shop], "2023-03", [1200])
    billed(admin, "2023-03", [shop])
    assert lines(bill_of(shop, "2023-03")["id"]) == expected
    assert bill_of(shop, "2023-03")["total_amount"] == D("2915.00")


# ----------------------------------------------------------------------------- settle types ---
def test_settle_types_decide_the_billed_usage(admin: str) -> None:
    # Given households of 3 read in 2023-05 and settled in every way, three of them without a volume
    people = readers(admin, "2023-05", [30, 30, 3, 30, 30, 8, 30, 30, 30], population=3)
    actual, fixed_hi, fixed_lo, per_person, min_hi, min_lo, *unset = people
    settle(fixed_hi, "FIXED_VOLUME", "20")
    settle(fixed_lo, "FIXED_VOLUME", "20")
    settle(per_person, "PER_POPULATION", "5")
    settle(min_hi, "MINIMUM_CHARGE", "20")
    settle(min_lo, "MINIMUM_CHARGE", "20")
    for person, settle_type in zip(unset, ("FIXED_VOLUME", "PER_POPULATION", "MINIMUM_CHARGE"), strict=True):
        settle(person, settle_type, None)

    # When the period is billed
    data = billed(admin, "2023-05", people)

    # Then each bill charges the usage of its settle type, at 3.25 a m3 in tier 1
    expected = {
        actual.cust_id: ("ACTUAL_USAGE", "30", "97.50"),
        fixed_hi.cust_id: ("FIXED_VOLUME", "20", "65.00"),  # the volume, whatever the reading (30)
        fixed_lo.cust_id: ("FIXED_VOLUME", "20", "65.00"),  # ... or (3)
        per_person.cust_id: ("PER_POPULATION", "15", "48.75"),  # 3 persons x 5 m3
        min_hi.cust_id: ("MINIMUM_CHARGE", "30", "97.50"),  # max(30, 20)
        min_lo.cust_id: ("MINIMUM_CHARGE", "20", "65.00"),  # max(8, 20)
    }
    assert success_custs(data) == sorted(expected)
    for person in people[:6]:
        settle_type, usage, amount = expected[person.cust_id]
        charge = bill_of(person, "2023-05")
        assert (charge["settle_type"], charge["usage_amount"], charge["total_amount"]) == (
            settle_type,
            D(usage),
            D(amount),
        ), person
        assert lines(charge["id"]) == tier_one(usage)
    # ... and a settle type without its volume blocks that bill with 1_002_002_003
    failures = failures_by_cust(data)
    assert sorted(failures) == sorted(p.cust_id for p in unset)
    for person, settle_type in zip(unset, ("FIXED_VOLUME", "PER_POPULATION", "MINIMUM_CHARGE"), strict=True):
        failure = failures[person.cust_id]
        assert (failure["errorCode"], failure["readingId"]) == (PRICE_MISSING, person.readings["2023-05"])
        assert settle_type in failure["reason"]
        assert reading_status(person, "2023-05") == "VALID"
    assert charge_count(unset) == 0


# ------------------------------------------------------------------------ missing configuration --
def test_missing_configuration_blocks_only_that_customers_bill_until_fixed(admin: str) -> None:
    # Given five households read in 2023-06: one priced by a code with a DRAFT version only, one by an
    # ACTIVE template without tiers, one by an ACTIVE template whose SEWAGE_FEE lacks its tier-2 price,
    # and two RESIDENT ones
    people = readers(admin, "2023-06", [30] * 5, population=3)
    drafted, tierless, unpriced, *good = people
    blocked = [drafted, tierless, unpriced]
    draft_code, tierless_code, unpriced_code = unique("DRF"), unique("NTR"), unique("NPR")
    draft_id = price_template(admin, draft_code, MONTHLY_PRICE)
    tierless_id = price_template(admin, tierless_code, MONTHLY_PRICE, effective="2023-01-01")
    unpriced_id = price_template(admin, unpriced_code, MONTHLY_PRICE, effective="2023-01-01")
    tiers = sql_all(
        "SELECT tier_no, upper_bound, population_step FROM biz_price_tier_adjustment WHERE template_id = :t",
        {"t": tierless_id},
    )
    sql_exec("DELETE FROM biz_price_tier_adjustment WHERE template_id = :t", {"t": tierless_id})
    sewage = sql_scalar(
        "SELECT id FROM biz_cost_component WHERE template_id = :t AND code = 'SEWAGE_FEE'", {"t": unpriced_id}
    )
    sql_exec("DELETE FROM biz_cost_component_price WHERE component_id = :c AND tier_no = 2", {"c": sewage})
    price_code([drafted], draft_code)
    price_code([tierless], tierless_code)
    price_code([unpriced], unpriced_code)

    # When the five are billed in one call
    data = billed(admin, "2023-06", people)

    # Then the RESIDENT ones are billed ...
    assert success_custs(data) == sorted(p.cust_id for p in good)
    assert {bill_of(p, "2023-06")["total_amount"] for p in good} == {D("97.50")}
    # ... and each blocked one is a failure naming its template (1_002_002_003), with no bill at all
    failures = failures_by_cust(data)
    assert sorted(failures) == sorted(p.cust_id for p in blocked)
    for person, code in zip(blocked, (draft_code, tierless_code, unpriced_code), strict=True):
        failure = failures[person.cust_id]
        assert failure["errorCode"] == PRICE_MISSING
        assert (failure["readingId"], failure["meterReadId"]) == (
            person.readings["2023-06"],
            task_of(person.meter_id, "2023-06"),
        )
        assert failure["reason"].startswith(ErrorCode.PRICE_OR_COMPONENT_MISSING.message)
        assert code in failure["reason"], failure
        assert reading_status(person, "2023-06") == "VALID"
    assert "SEWAGE_FEE" in failures[unpriced.cust_id]["reason"]
    assert charge_count(blocked) == 0
    assert (
        sql_scalar(
            "SELECT count(*) FROM biz_charge_detail d JOIN biz_charge c ON c.id = d.charge_id"
            " WHERE c.cust_id = ANY(CAST(:c AS bigint[]))",
            {"c": [p.cust_id for p in blocked]},
        )
        == 0
    )
    orphans = sql_scalar(
        "SELECT count(*) FROM biz_charge_detail d WHERE NOT EXISTS (SELECT 1 FROM biz_charge c WHERE c.id = d.charge_id)"
    )
    assert orphans == 0  # no line anywhere without its bill (lines have no foreign key since 0003)
    assert {arrears_of(p.cust_id) for p in blocked} == {D("0")}

    # When the draft is published and the five are billed again
    published = call(
        "POST",
        CONFIG,
        {
            "action": "UPDATE",
            "configType": "PRICE",
            "configCode": draft_code,
            "effectStatus": "ACTIVE",
            "effectiveDate": "2023-01-01",
        },
        token=admin,
    )
    assert published.code == 0, published.body
    second = billed(admin, "2023-06", people)

    # Then exactly that customer is billed (20 x 3.00 + 10 x 4.50 = 105.00), the other two still fail
    assert success_custs(second) == [drafted.cust_id]
    assert second["successList"][0]["totalAmount"] == "105.00"
    assert bill_of(drafted, "2023-06")["price_template_id"] == draft_id
    assert sorted(failures_by_cust(second)) == sorted([tierless.cust_id, unpriced.cust_id])

    # When the tiers and the missing price are restored and the five are billed again
    for tier in tiers:
        sql_exec(
            "INSERT INTO biz_price_tier_adjustment (template_id, tier_no, upper_bound, population_step)"
            " VALUES (:t, :n, :u, :s)",
            {"t": tierless_id, "n": tier["tier_no"], "u": tier["upper_bound"], "s": tier["population_step"]},
        )
    sql_exec("INSERT INTO biz_cost_component_price VALUES (:c, 2, 1.50)", {"c": sewage})
    third = billed(admin, "2023-06", people)

    # Then exactly those two are billed, and nothing is left
    assert success_custs(third) == sorted([tierless.cust_id, unpriced.cust_id])
    assert third["failureList"] == []
    assert {bill_of(p, "2023-06")["total_amount"] for p in blocked} == {D("105.00")}
    assert bill_of(tierless, "2023-06")["price_template_id"] == tierless_id
    assert bill_of(unpriced, "2023-06")["price_template_id"] == unpriced_id
    assert len(charge_lines(bill_of(unpriced, "2023-06")["id"])) == 4
    fourth = billed(admin, "2023-06", people)
    assert (fourth["generateCount"], fourth["failureList"]) == (0, [])
    assert charge_count(people) == 5


# ------------------------------------------------------------------------------- idempotency ---
def test_billing_a_period_twice_creates_no_second_bill(admin: str) -> None:
    # Given six households read in 2023-07 and billed once
    people = readers(admin, "2023-07", [10, 11, 12, 13, 14, 15], population=3)
    first = billed(admin, "2023-07", people)
    assert first["generateCount"] == 6
    arrears = {p.cust_id: arrears_of(p.cust_id) for p in people}

    # When the same period is billed again
    again = billed(admin, "2023-07", people)

    # Then nothing is billed, no reading has a second bill and nobody owes more
    assert (again["generateCount"], again["successList"], again["failureList"]) == (0, [], [])
    assert charge_count(people) == 6
    assert {p.cust_id: arrears_of(p.cust_id) for p in people} == arrears
    assert {s["chargeId"] for s in first["successList"]} == {bill_of(p, "2023-07")["id"] for p in people}


def test_two_concurrent_calls_bill_each_reading_once(admin: str) -> None:
    # Given twelve households read in 2023-07
    people = readers(admin, "2023-07", list(range(20, 32)), population=3)
    cmd = GenerateBills(
        bill_period="2023-07", due_date=dt.date(2023, 8, 15), customer_ids=tuple(p.cust_id for p in people)
    )
    start = threading.Barrier(2)

    def generate(request_id: str) -> dict[str, Any]:
        ctx = RequestContext(request_id=request_id, principal=SYSTEM)
        start.wait(timeout=30)
        return billing.generate(ctx, cmd, chunk=2)

    # When two calls bill them at the same moment, in chunks of two readings
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(generate, [unique("it-gen-a-"), unique("it-gen-b-")]))

    # Then together they billed each reading exactly once, and each account owes its one bill
    assert sum(r["generateCount"] for r in results) == 12
    assert [r["failureList"] for r in results] == [[], []]
    reading_ids = [p.readings["2023-07"] for p in people]
    counts = sql_all(
        "SELECT reading_id, count(*) AS n FROM biz_charge WHERE reading_id = ANY(CAST(:r AS bigint[]))"
        " GROUP BY reading_id",
        {"r": reading_ids},
    )
    assert {int(c["reading_id"]): int(c["n"]) for c in counts} == dict.fromkeys(reading_ids, 1)
    charge_ids = [s["chargeId"] for r in results for s in r["successList"]]
    assert sorted(charge_ids) == sorted(bill_of(p, "2023-07")["id"] for p in people)
    for person in people:
        assert arrears_of(person.cust_id) == bill_of(person, "2023-07")["total_amount"]


# ----------------------------------------------------------------------------------- filters ---
def test_filters_narrow_what_is_billed(admin: str) -> None:
    # Given, in 2023-08: A, B, C and G in reading batch X (G's reading flagged abnormal: PENDING_REVIEW),
    # D in batch Y; and E with a reading in 2023-09 only
    batch_x, batch_y = unique("BX-"), unique("BY-")
    a, b, c, g = readers(admin, "2023-08", [11, 12, 13, None], batch=batch_x, population=3)
    g.read(admin, "2023-08", 14, expect="WARN", abnormalFlag=True)
    (d,) = readers(admin, "2023-08", [15], batch=batch_y, population=3)
    (e,) = readers(admin, "2023-09", [16], population=3)
    everyone = [a, b, c, d, e, g]

    def billed_now() -> list[int]:
        return sorted(
            int(r["cust_id"])
            for r in sql_all(
                "SELECT cust_id FROM biz_charge WHERE cust_id = ANY(CAST(:c AS bigint[]))",
                {"c": [p.cust_id for p in everyone]},
            )
        )

    # When customerIds names A and E, then only A is billed (E has no reading of 2023-08)
    assert success_custs(billed(admin, "2023-08", [a, e])) == [a.cust_id]
    assert billed_now() == [a.cust_id]

    # When meterReadIds names B's task, then only B is billed
    reply = charge_generate(admin, "2023-08", meterReadIds=[task_of(b.meter_id, "2023-08")])
    assert reply.code == 0 and success_custs(reply.data) == [b.cust_id], reply.body
    assert billed_now() == sorted([a.cust_id, b.cust_id])

    # When readingBatchNo names batch Y, then only D is billed (C of batch X waits)
    reply = charge_generate(admin, "2023-08", readingBatchNo=batch_y)
    assert reply.code == 0 and success_custs(reply.data) == [d.cust_id], reply.body
    assert reading_status(c, "2023-08") == "VALID"

    # When batch X is billed, then C is, but not G, whose reading waits for review
    reply = charge_generate(admin, "2023-08", readingBatchNo=batch_x)
    assert reply.code == 0 and success_custs(reply.data) == [c.cust_id], reply.body
    assert reading_status(g, "2023-08") == "PENDING_REVIEW"
    assert billed_now() == sorted([a.cust_id, b.cust_id, c.cust_id, d.cust_id])

    # When G's reading is approved and everyone is billed for 2023-08, then G alone is billed now
    approved = call(
        "POST",
        REVIEW,
        {"readingId": g.readings["2023-08"], "approve": True, "remark": "核实无误"},
        token=admin,
    )
    assert approved.code == 0, approved.body
    data = billed(admin, "2023-08", everyone)
    assert success_custs(data) == [g.cust_id] and data["failureList"] == []
    assert bill_of(g, "2023-08")["usage_amount"] == D("14")
    # ... and E's reading of 2023-09 was never billed by a 2023-08 call, but is by its own period's
    assert reading_status(e, "2023-09") == "VALID"
    assert success_custs(billed(admin, "2023-09", [e])) == [e.cust_id]
    assert bill_of(e, "2023-09")["bill_period"] == "2023-09"


# ------------------------------------------------------------------------------ price changes ---
def test_a_new_price_version_never_alters_an_issued_bill(admin: str) -> None:
    # Given a RESIDENT-like template of our own, ACTIVE from 2022-01-01, and two households on it billed
    # for 2022-03
    code = unique("RES")
    v1 = price_template(admin, code, RESIDENT_PRICE, effective="2022-01-01")
    people = readers(admin, "2022-03", [30, 40], population=3)
    price_code(people, code)
    billed(admin, "2022-03", people)
    issued = [bill_of(p, "2022-03") for p in people]
    issued_lines = [charge_lines(c["id"]) for c in issued]
    assert [(c["price_template_id"], c["total_amount"]) for c in issued] == [
        (v1, D("97.50")),
        (v1, D("130.00")),
    ]

    # When a version 2 with higher prices is published from 2022-03-15, the day of their March reading
    # (a version taking effect later, between two readings, prorates the next bill by days: see
    # test_rev_charge_generate_rules.py)
    dearer = copy.deepcopy(RESIDENT_PRICE)
    dearer["components"][0]["prices"] = ["2.50", "3.60", "7.00"]
    dearer["components"][1]["prices"] = ["1.20", "1.20", "1.20"]
    v2 = price_template(admin, code, dearer, effective="2022-03-15")

    # Then version 1 ends the day before, and the issued bills and their lines are unchanged, even when
    # their period is billed again
    assert sql_scalar("SELECT expire_date FROM biz_price_template WHERE id = :id", {"id": v1}) == dt.date(
        2022, 3, 14
    )
    assert billed(admin, "2022-03", people)["generateCount"] == 0
    assert [bill_of(p, "2022-03") for p in people] == issued
    assert [charge_lines(c["id"]) for c in issued] == issued_lines

    # When both use 30 and 40 m3 more in 2022-07, then that period is priced by version 2
    next_period(admin, people, "2022-07", [60, 80])
    data = billed(admin, "2022-07", people)
    assert sorted(s["totalAmount"] for s in data["successList"]) == ["114.00", "152.00"]
    later = [bill_of(p, "2022-07") for p in people]
    assert {c["price_template_id"] for c in later} == {v2}
    assert lines(later[0]["id"]) == tier_one("30", water="2.50", sewage="1.20")
    assert lines(later[1]["id"]) == tier_one("40", water="2.50", sewage="1.20")


# -------------------------------------------------------------------------------- validation ---
def test_invalid_requests_and_users_without_the_permission_are_refused(admin: str) -> None:
    # Given a household with a VALID reading of 2023-10
    (home,) = readers(admin, "2023-10", [30], population=3)
    scope = {"customerIds": [home.cust_id]}

    # When dueDate is missing, the period is not a month, or dueDate is before the period starts
    missing = call("POST", CHARGE_GENERATE, {"billPeriod": "2023-10", **scope}, token=admin)
    bad_month = charge_generate(admin, "2026-13", due_date="2027-01-15", **scope)
    early = charge_generate(admin, "2023-10", due_date="2023-09-30", **scope)

    # Then each is a 400 naming the field
    bad = ErrorCode.BAD_REQUEST.code
    expect_error(missing, bad, mentions="dueDate")
    expect_error(bad_month, bad, mentions="billPeriod")
    expect_error(early, bad, mentions="dueDate")

    # When a clerk without revenue:charge:generate, or nobody, asks for the bill
    clerk = admin_login("gulou", "gulou123")
    expect_error(charge_generate(clerk, "2023-10", **scope), ErrorCode.FORBIDDEN.code)
    anonymous = call("POST", CHARGE_GENERATE, {"billPeriod": "2023-10", "dueDate": "2023-11-15", **scope})
    expect_error(anonymous, ErrorCode.UNAUTHORIZED.code)

    # Then nothing was billed
    assert charge_count([home]) == 0
    assert reading_status(home, "2023-10") == "VALID"


# ---------------------------------------------------------------------------------- IF-CS-002 ---
def history(token: str, cust_id: int, query_type: str) -> Reply:
    reply = call(
        "GET", HISTORY, token=token, query=f"custId={cust_id}&queryType={query_type}&billPeriod=2023-11"
    )
    assert reply.code == 0, reply.body
    return reply


def test_a_bound_channel_user_sees_the_new_bill_and_its_usage(admin: str) -> None:
    # Given a household read by hand (30 m3) and one read by its IoT meter (25 m3) in 2023-11, each
    # bound by a WeChat user
    (manual,) = readers(admin, "2023-11", [30], population=3)
    (smart,) = readers(admin, "2023-11", [None], population=3)
    meter_code = sql_scalar("SELECT meter_no FROM biz_meter WHERE id = :m", {"m": smart.meter_id})
    pushed = call(
        "POST",
        IOT_RECEIVE,
        {
            "meterCode": meter_code,
            "readTime": read_time("2023-11"),
            "currentReading": "25",
            "sourceSystem": "IOT",
        },
        token=admin,
    )
    assert pushed.code == 0 and pushed.data["acceptStatus"] == "SUCCESS", pushed.body
    smart.readings["2023-11"] = int(pushed.data["readingId"])
    users = {}
    for person in (manual, smart):
        openid = unique("bill-")
        token = channel_login(openid)
        assert bind(token, openid, person.cust_id).code == 0
        users[person.cust_id] = token
        assert history(token, person.cust_id, "BILL").data["total"] == 0

    # When the period is billed
    billed(admin, "2023-11", [manual, smart])

    # Then each user sees the new bill, unpaid, its amount a string with two places ...
    for person, reading_type, usage, amount in (
        (manual, "MANUAL", "30.00", "97.50"),
        (smart, "IOT", "25.00", "81.25"),
    ):
        charge = bill_of(person, "2023-11")
        bills = history(users[person.cust_id], person.cust_id, "BILL").data
        assert bills["total"] == 1
        (bill,) = bills["list"]
        assert (bill["chargeId"], bill["chargeCode"], bill["billPeriod"]) == (
            charge["id"],
            charge["code"],
            "2023-11",
        )
        assert (bill["totalAmount"], bill["unpaidAmount"], bill["payStatus"]) == (amount, amount, "UNPAID")
        assert bill["usageAmount"] == usage
        # ... and the reading behind it in USAGE
        (used,) = history(users[person.cust_id], person.cust_id, "USAGE").data["list"]
        assert (used["readingId"], used["chargeId"]) == (person.readings["2023-11"], charge["id"])
        assert (used["usageAmount"], used["readType"], used["billPeriod"]) == (usage, reading_type, "2023-11")
