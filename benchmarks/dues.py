"""The amount due with the late-payment penalty (billing.dues.amount_due): a customer with 24 overdue
bills, computed as of today, database reads included. Target: p99 under 5 ms.

On a real PostgreSQL (embedded pgserver in a temporary folder, or WATERREV_BENCH_DATABASE_URL's server):
migrated, the demo set, then 2,000 other customers with 24 bills each (48,024 `biz_charge` rows written
period by period, as monthly bill runs would) so the indexes matter; the penalty configured as a utility
would - a GLOBAL rule since 2020 and the customer's dept with a rule of its own from 2023, plus the
coverage and exemption parameters; and the measured customer's 24 bills all overdue, 6 of them part-paid
(principal and penalty lines, through rev_write_off as a payment writes them), with an approved waiver on
one. Each call opens a unit of work (as a use case does: the engine's pool of one connection, BEGIN, the
one statement, COMMIT) and computes what each bill owes.

Printed: p50 / p90 / p99 / max of 2,000 timed calls after 100 untimed ones; the round trips per call
(counted at the driver's socket flush); the same figures for the pure rules alone (the 24 bills' penalty
from rows already read); and the floor, this machine's p50 of a bare round trip (`SELECT 1` through the
same engine) measured before and after. Asserts nothing.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.run import (  # noqa: E402 - after the path is set
    ROUND_TRIPS,
    bench_database,
    count_round_trips,
    load,
    prepare_schema,
    round_trip_floor_ms,
)

CALLS = 2_000
WARMUP = 100
TARGET_P99_MS = 5.0
BILLS = 24
PART_PAID = 6
OTHER_CUSTOMERS = 2_000

SEED_CUSTOMERS = """
INSERT INTO biz_cust (code, name, cust_type, mobile, address, dept_id)
SELECT 'DU' || lpad(g::text, 10, '0'), '违约金压测' || g, 'RESIDENT', '139' || lpad(g::text, 8, '0'),
       '鼓楼区违约金路 ' || g || ' 号', :dept
FROM generate_series(1, :n) AS g ORDER BY g
"""
SEED_ACCOUNTS = """
INSERT INTO biz_account (cust_id, account_no)
SELECT id, 'ZH' || code FROM biz_cust WHERE left(code, 2) = 'DU' ORDER BY id
"""
# 24 monthly bills each, the newest due three months ago: all overdue, all unpaid.
SEED_BILLS = """
INSERT INTO biz_charge (code, cust_id, account_id, bill_period, usage_amount, total_amount, due_date)
SELECT 'ZDDU' || a.id || '-' || m, a.cust_id, a.id,
       to_char(date_trunc('month', now()) - make_interval(months => m + 3), 'YYYY-MM'),
       10 + mod(a.id + m, 9), (10 + mod(a.id + m, 9)) * 3.45,
       CAST(date_trunc('month', now()) - make_interval(months => m + 2) + interval '14 days' AS date)
FROM generate_series(:months, 1, -1) AS m
CROSS JOIN biz_account AS a
JOIN biz_cust AS c ON c.id = a.cust_id AND left(c.code, 2) = 'DU'
ORDER BY m DESC, a.id
"""
GLOBAL_RULE = {"mode": "DAILY_RATE", "graceDays": 10, "dailyRate": "0.0005", "capRate": "0.3"}
DEPT_RULE = {"mode": "DAILY_RATE", "graceDays": 15, "dailyRate": "0.0003", "capAmount": "20.00"}


def seed() -> int:
    """The customers, their bills, the penalty parameters, the measured customer's part-payments and a
    waiver; returns the measured customer's id."""
    from waterrev.db import UnitOfWork

    with UnitOfWork() as uow:
        dept = uow.scalar("SELECT id FROM system_dept WHERE name = '鼓楼营业所'")
        uow.execute(SEED_CUSTOMERS, {"dept": dept, "n": OTHER_CUSTOMERS + 1})
        uow.execute(SEED_ACCOUNTS)
        uow.execute(SEED_BILLS, {"months": BILLS})
        for code, value, scope, since in (
            ("revenue.penalty.rule", json.dumps(GLOBAL_RULE), None, dt.date(2020, 1, 1)),
            ("revenue.penalty.rule", json.dumps(DEPT_RULE), dept, dt.date(2023, 1, 1)),
            ("revenue.penalty.coverage", "PENALTY_FIRST", None, None),
            ("revenue.penalty.exempt-withholding", "true", None, None),
            ("revenue.penalty.exempt-low-income", "true", None, None),
        ):
            version = uow.scalar(
                "SELECT COALESCE(max(config_version), 0) + 1 FROM biz_parameter_settings WHERE config_code = :c",
                {"c": code},
            )
            uow.execute(
                "INSERT INTO biz_parameter_settings (config_type, config_code, config_value, config_version,"
                " dept_id, effective_date) VALUES ('RULE', :c, :v, :n, :d, :e)",
                {"c": code, "v": value, "n": version, "d": scope, "e": since},
            )
        target = uow.one(
            "SELECT c.id AS cust_id, a.id AS account_id FROM biz_cust c JOIN biz_account a ON a.cust_id = c.id"
            " WHERE c.code = 'DU0000000001'"
        )
        assert target is not None
        uow.commit()
    cust_id, account_id = int(target["cust_id"]), int(target["account_id"])
    _part_pay(cust_id, account_id)
    with UnitOfWork() as uow:
        uow.execute("ANALYZE")
        uow.commit()
    return cust_id


def _part_pay(cust_id: int, account_id: int) -> None:
    """Six of the customer's bills part-paid (penalty first, then some principal) as a payment writes
    them, at different days; one penalty waived by a second person."""
    from waterrev.billing.dues import amount_due
    from waterrev.db import UnitOfWork

    with UnitOfWork() as uow:
        bills = uow.all(
            "SELECT id, total_amount FROM biz_charge WHERE cust_id = :c ORDER BY bill_period LIMIT :n",
            {"c": cust_id, "n": PART_PAID},
        )
        admin = int(uow.scalar("SELECT id FROM system_users WHERE username = 'admin'"))
        for n, bill in enumerate(bills):
            as_of = dt.date.today() - dt.timedelta(days=200 - 20 * n)
            due = amount_due(uow, cust_id, as_of=as_of, charge_ids=[bill["id"]]).of(int(bill["id"]))
            amount = due.penalty + (Decimal(bill["total_amount"]) / 2).quantize(Decimal("0.01"))
            uow.scalar(
                "SELECT rev_write_off(p_actor => CAST(:actor AS jsonb), p_cust_id => :c, p_account_id => :a,"
                " p_charge_ids => CAST(:ids AS bigint[]), p_amount => :amt, p_channel => 'CASH', p_source => 'BENCH',"
                " p_trade_no => NULL, p_idempotency_key => NULL, p_code => :code, p_actual_amount => NULL,"
                " p_outlet => NULL, p_remark => NULL, p_operator_id => NULL, p_penalties => CAST(:pens AS numeric[]),"
                " p_penalty_first => true, p_as_of => :as_of)",
                {
                    "actor": json.dumps({"requestId": "bench", "userType": "SYSTEM", "userName": "bench"}),
                    "c": cust_id,
                    "a": account_id,
                    "ids": [bill["id"]],
                    "amt": amount,
                    "code": f"SFBENCH{n:04d}",
                    "pens": [due.penalty],
                    "as_of": as_of,
                },
            )
        uow.execute(
            "INSERT INTO biz_penalty_waiver (waiver_no, charge_id, cust_id, penalty_owed, waived_amount,"
            " penalty_as_of, reason_code, status, requested_by, decided_by, decided_time)"
            " VALUES ('JM0000000000000001', :b, :c, 1.00, 0.50, current_date, 'BENCH', 'APPROVED', :u, 0, now())",
            {"b": bills[-1]["id"], "c": cust_id, "u": admin},
        )
        uow.commit()


def percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    p = statistics.quantiles(ordered, n=100)
    return f"p50 {p[49]:.3f}  p90 {p[89]:.3f}  p99 {p[98]:.3f}  max {ordered[-1]:.3f} ms"


def bench(cust_id: int) -> None:
    from waterrev.billing import dues as dues_module
    from waterrev.billing.dues import amount_due
    from waterrev.db import UnitOfWork

    with UnitOfWork() as uow:
        first = amount_due(uow, cust_id)
    owed = [b for b in first.bills if b.penalty > 0]
    print(
        f"customer {cust_id}: {len(first.bills)} bills due, {len(owed)} owing a penalty;"
        f" principal {first.principal}, penalty {first.penalty}, total {first.total} as of {first.as_of}"
    )
    if len(first.bills) != BILLS or not owed:
        raise RuntimeError("the benchmark customer does not owe what it should")

    floor_before = round_trip_floor_ms()
    for _ in range(WARMUP):
        with UnitOfWork() as uow:
            amount_due(uow, cust_id)
    ROUND_TRIPS[0] = 0
    samples = []
    for _ in range(CALLS):
        start = time.perf_counter()
        with UnitOfWork() as uow:
            amount_due(uow, cust_id)
        samples.append((time.perf_counter() - start) * 1000)
    trips = ROUND_TRIPS[0] / CALLS
    floor_after = round_trip_floor_ms()

    # the pure rules alone: the same rows, already read
    with UnitOfWork() as uow:
        read = uow.scalar(dues_module._READ, {"c": cust_id, "ids": None})
    today = dt.date.today()
    pure = []
    for _ in range(CALLS):
        start = time.perf_counter()
        setup = dues_module._setup(read["customer"], read["params"], today)
        for row in read["bills"]:
            dues_module._bill(row, setup, today)
        pure.append((time.perf_counter() - start) * 1000)

    p99 = sorted(samples)[int(len(samples) * 0.99) - 1]
    print(f"\n== Amount due with penalty, {BILLS} overdue bills, {CALLS} calls after {WARMUP} untimed ==")
    print(f"amount_due in a unit of work:  {percentiles(samples)}")
    print(f"round trips per call:          {trips:.1f} (BEGIN, one statement, COMMIT)")
    print(f"pure rules alone (24 bills):   {percentiles(pure)}")
    print(f"floor, bare round trip p50:    {floor_before:.3f} ms before, {floor_after:.3f} ms after")
    verdict = "met" if p99 < TARGET_P99_MS else "NOT MET"
    print(f"target p99 under {TARGET_P99_MS} ms: {verdict}")


def main() -> None:
    print(f"amount due with penalty: {load()}")
    os.environ.setdefault("WATERREV_ENV", "bench")
    os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "waterrev")
    with bench_database() as url:
        prepare_schema(url)
        count_round_trips()
        started = time.perf_counter()
        cust_id = seed()
        print(
            f"seeded {OTHER_CUSTOMERS + 1} customers x {BILLS} bills in {time.perf_counter() - started:.1f} s"
        )
        bench(cust_id)
    print(f"at the end: {load()}")


if __name__ == "__main__":
    main()
