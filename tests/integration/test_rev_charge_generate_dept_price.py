"""IF-REV-005 with dept-scoped prices (decision 28): a customer is priced by its dept's version of its
price code, else its nearest ancestor dept's, else the GLOBAL one, in a single generation and in a
bill run's chunks alike.

Periods 2027-06 and 2027-07 belong to this module (tests share one database and never truncate).
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any

import pytest

from tests.support import (
    TAIJIANG_DEPT,
    call,
    charge_generate,
    charge_of_reading,
    generate,
    metered,
    sql_exec,
    sql_scalar,
    submit_reading,
    unique,
)
from waterrev.billing import generate as billing
from waterrev.billing.commands import GenerateBills
from waterrev.context import SYSTEM, RequestContext

pytestmark = pytest.mark.integration

CONFIG = "/admin-api/revenue/parameter/config"


def tariff(water: str) -> dict[str, Any]:
    """One tier: 10 m3 costs 10 x (water + 1.00)."""
    return {
        "name": f"水价 {water}",
        "tierMode": "MONTHLY",
        "basePopulation": 1,
        "tiers": [{"tierNo": 1}],
        "components": [
            {"code": "WATER_FEE", "name": "水费", "taxRate": "0.09", "prices": [water]},
            {"code": "SEWAGE_FEE", "name": "污水处理费", "taxRate": "0", "prices": ["1.00"]},
        ],
    }


def new_dept(parent: int) -> int:
    dept = int(
        sql_exec(
            "INSERT INTO system_dept (name, parent_id, tree_path) VALUES (:n, :p, '') RETURNING id",
            {"n": unique("测试所"), "p": parent},
        )
    )
    sql_exec(
        "UPDATE system_dept SET tree_path = (SELECT tree_path FROM system_dept WHERE id = :p) || id || '/'"
        " WHERE id = :d",
        {"p": parent, "d": dept},
    )
    return dept


def publish(token: str, code: str, water: str, effective: str, dept: int | None = None) -> int:
    body: dict[str, Any] = {
        "action": "CREATE",
        "configType": "PRICE",
        "configCode": code,
        "configValue": json.dumps(tariff(water)),
        "effectStatus": "ACTIVE",
        "effectiveDate": effective,
    }
    if dept is not None:
        body["deptId"] = dept
    reply = call("POST", CONFIG, body, token=token)
    assert reply.code == 0, reply.body
    return int(reply.data["configId"])


def reader(token: str, dept: int, code: str, period: str) -> tuple[int, int]:
    """A new customer of `dept` priced by `code`, with a VALID reading of 10 m3 in `period`:
    (customer id, reading id)."""
    meter, book = metered(token, dept_id=dept)
    generate(token, book, period)
    reply = submit_reading(token, meter, period, 10)
    assert reply.code == 0, reply.body
    cust = int(sql_scalar("SELECT cust_id FROM biz_cust_meter WHERE meter_id = :m", {"m": meter}))
    sql_exec("UPDATE biz_cust SET price_code = :c WHERE id = :id", {"c": code, "id": cust})
    return cust, int(reply.data["readingId"])


def billed_at(reading_id: int) -> tuple[int, Decimal]:
    charge = charge_of_reading(reading_id)
    assert charge is not None
    return int(charge["price_template_id"]), Decimal(charge["total_amount"])


def scoped_prices(token: str) -> tuple[str, int, int, int, int, int]:
    """A code with a GLOBAL version (water 2.00) and a version of a new dept under 鼓楼 (water 5.00);
    that dept has a child dept of its own with no version: (code, global id, dept id, parent dept,
    child dept, other dept)."""
    code = unique("DP")[:32]
    parent = new_dept(2)
    child = new_dept(parent)
    other = new_dept(TAIJIANG_DEPT)
    global_id = publish(token, code, "2.00", "2020-01-01")
    dept_id = publish(token, code, "5.00", "2021-01-01", dept=parent)
    return code, global_id, dept_id, parent, child, other


def test_a_single_generation_prices_each_customer_by_its_dept(admin: str) -> None:
    """Given a GLOBAL version and a newer version of one dept, when customers of that dept, of its child
    dept and of another dept are billed by one IF-REV-005 call, then the dept's and the child's are
    billed at the dept price (60.00) and the other's at the GLOBAL price (30.00)."""
    period = "2027-06"
    code, global_id, dept_id, parent, child, other = scoped_prices(admin)
    own = reader(admin, parent, code, period)
    inherits = reader(admin, child, code, period)
    elsewhere = reader(admin, other, code, period)

    reply = charge_generate(admin, period, customerIds=[own[0], inherits[0], elsewhere[0]])

    assert reply.code == 0 and reply.data["failureList"] == [], reply.body
    assert billed_at(own[1]) == (dept_id, Decimal("60.00"))
    assert billed_at(inherits[1]) == (dept_id, Decimal("60.00"))
    assert billed_at(elsewhere[1]) == (global_id, Decimal("30.00"))


def test_a_bill_run_chunk_prices_each_customer_by_its_dept(admin: str) -> None:
    """Given customers of a dept with its own version, of its child dept and of other depts, interleaved,
    when they are billed in chunks of three (the bill run's path), then each is priced by its dept's
    version, its parent's, or the GLOBAL one."""
    period = "2027-07"
    code, global_id, dept_id, parent, child, other = scoped_prices(admin)
    people = [
        (reader(admin, dept, code, period), expected)
        for _ in range(2)
        for dept, expected in (
            (parent, (dept_id, Decimal("60.00"))),
            (other, (global_id, Decimal("30.00"))),
            (child, (dept_id, Decimal("60.00"))),
            (2, (global_id, Decimal("30.00"))),
        )
    ]
    cmd = GenerateBills(
        bill_period=period, due_date=dt.date(2027, 8, 15), customer_ids=tuple(p[0][0] for p in people)
    )

    result = billing.generate(RequestContext(unique("it-dept-run-"), SYSTEM), cmd, chunk=3, keep_lists=False)

    assert (result["generateCount"], result["failureList"]) == (8, [])
    assert [billed_at(p[0][1]) for p in people] == [p[1] for p in people]
