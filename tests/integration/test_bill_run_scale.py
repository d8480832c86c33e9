"""The bill run at 100,000 customers with prepaid deduction on and mixed-use meters among them: the
workflow's steps (prepare, every chunk, finish) over the data benchmarks/bill_run.py seeds - 20% prepaid
accounts, 10% mixed-use meters, a minimum usage and a meter fee - on a database of its own, then the
books checked as a whole: every reading billed once, every mixed-use bill's parts summing to its usage,
every deduction balanced against the balance it took, the bills it paid and the flows, a notice for
every low balance, one audit row per chunk. (How fast is the benchmark's question, not this test's.)"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from waterrev.context import SYSTEM, RequestContext

pytestmark = pytest.mark.integration

CUSTOMERS = 100_000
PERIOD = "2030-01"


@pytest.fixture(scope="module")
def scale_db(db: str) -> Iterator[str]:
    """A database of its own on the suite's server, migrated with the demo set; the application engine
    points at it for the module and back at the suite's database afterwards."""
    from sqlalchemy import create_engine, text

    from waterrev import migrate
    from waterrev.db import dispose_engine
    from waterrev.local import demo, pg
    from waterrev.settings import reset_settings

    url = pg.create_database(db, "waterrev_test_scale")
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    dispose_engine()
    os.environ["WATERREV_DATABASE_URL"] = url
    reset_settings()
    try:
        migrate.upgrade()
        demo.load(months=1)
        yield url
    finally:
        dispose_engine()
        os.environ["WATERREV_DATABASE_URL"] = db
        reset_settings()


def one(sql: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
    from waterrev.db import UnitOfWork

    with UnitOfWork() as uow:
        row = uow.one(sql, params or {})
    assert row is not None
    return row


def test_a_bill_run_of_100000_customers_with_deduction_and_mixed_use_meters(scale_db: str) -> None:
    from benchmarks import bill_run as bench
    from waterrev.billing import bill_run
    from waterrev.db import UnitOfWork

    # Given 100,000 customers with a VALID reading each: 20% prepaid, 10% on mixed-use meters
    bench.seed(CUSTOMERS, period=PERIOD)
    balances = one("SELECT sum(balance) AS total, count(*) FILTER (WHERE balance > 0) AS n FROM biz_account")
    assert balances["n"] == CUSTOMERS // 5

    # When the period's bill run runs its steps as the workflow does (chunks of 5,000 readings)
    ctx = RequestContext("scale-test", SYSTEM)
    prepared = bill_run.prepare(ctx, PERIOD, dt.date(2030, 2, 15), chunk_size=5000)
    results = [bill_run.bill_chunk(ctx, chunk) for chunk in prepared["chunks"]]
    summary = bill_run.finish(ctx, prepared["runId"], results)
    with UnitOfWork() as uow:  # fresh statistics for the checks' joins, as autovacuum would give them
        uow.execute("ANALYZE")
        uow.commit()

    # Then every reading is billed once, nothing failed
    assert (summary["status"], summary["successCount"], summary["failureCount"]) == (
        "SUCCEEDED",
        CUSTOMERS,
        0,
    )
    assert len(prepared["chunks"]) == CUSTOMERS // 5000
    assert (
        one(
            "SELECT count(*) AS n FROM biz_reading_data WHERE bill_period = :p AND status = 'VALID'",
            {"p": PERIOD},
        )["n"]
        == 0
    )
    # ... every bill is the sum of its lines, and every mixed-use bill's parts sum to its usage
    lines = one(
        "SELECT count(*) FILTER (WHERE c.total_amount <> s.amount) AS off, count(*) FILTER (WHERE s.parts > 1) AS mixed,"
        " count(*) FILTER (WHERE s.parts > 1 AND s.water <> c.usage_amount) AS lost FROM biz_charge c JOIN"
        " (SELECT charge_id, sum(amount) AS amount, count(DISTINCT part_no) AS parts, sum(usage_amount) FILTER"
        "  (WHERE cost_component = 'WATER_FEE' AND line_kind = 'USAGE') AS water FROM biz_charge_detail GROUP BY charge_id) s"
        " ON s.charge_id = c.id WHERE c.bill_period = :p",
        {"p": PERIOD},
    )
    assert (lines["off"], lines["mixed"], lines["lost"]) == (0, CUSTOMERS // 10, 0)
    # ... each prepaid account paid what its balance covered, oldest first, and its books balance:
    # balance + deducted = what it held; items = the collection; bills paid = their items; flows = -deducted
    deducted = one(
        "SELECT count(*) AS n, sum(c.amount) AS amount,"
        " count(*) FILTER (WHERE c.amount <> (SELECT sum(i.amount) FROM biz_collection_item i WHERE i.collection_id = c.id)) AS items_off,"
        " count(*) FILTER (WHERE f.change_amount <> -c.amount OR f.balance_after <> a.balance) AS flows_off,"
        " count(*) FILTER (WHERE a.balance > 0 AND b.status <> 'PAID') AS left_unpaid"
        " FROM biz_collection c JOIN biz_account a ON a.id = c.account_id"
        " JOIN biz_account_flow f ON f.ref_no = c.code JOIN biz_charge b ON b.account_id = a.id AND b.bill_period = :p"
        " WHERE c.source = 'DEDUCT' AND c.channel = 'PREPAY'",
        {"p": PERIOD},
    )
    assert (deducted["n"], deducted["items_off"], deducted["flows_off"], deducted["left_unpaid"]) == (
        CUSTOMERS // 5,
        0,
        0,
        0,
    )
    after = one("SELECT sum(balance) AS total, sum(arrears_amount) AS arrears FROM biz_account")
    assert after["total"] + deducted["amount"] == balances["total"]
    billed = one(
        "SELECT sum(total_amount) AS total, sum(paid_amount) AS paid FROM biz_charge WHERE bill_period = :p",
        {"p": PERIOD},
    )
    assert (billed["paid"], billed["total"] - billed["paid"]) == (
        deducted["amount"],
        after["arrears"] - demo_arrears(),
    )
    # ... one PREPAY_LOW_BALANCE notice per deduction that left less than 20.00
    notices = one(
        "SELECT count(*) AS n FROM biz_message m JOIN biz_collection c ON c.code = m.message_biz_no"
        " WHERE m.template_code = 'PREPAY_LOW_BALANCE'"
    )
    low = one(
        "SELECT count(*) AS n FROM biz_collection c JOIN biz_account_flow f ON f.ref_no = c.code"
        " WHERE c.source = 'DEDUCT' AND f.balance_after < 20"
    )
    assert notices["n"] == low["n"] > 0
    # ... and each chunk audited its bills and its deductions
    audits = one(
        "SELECT count(*) FILTER (WHERE operation = 'CHARGE_GENERATE') AS bills,"
        " count(*) FILTER (WHERE operation = 'PREPAY_DEDUCT') AS deductions FROM biz_operat_log"
        " WHERE request_id = 'scale-test'"
    )
    assert (audits["bills"], audits["deductions"]) == (CUSTOMERS // 5000, CUSTOMERS // 5000)
    assert Decimal(summary["totalAmount"]) == billed["total"]


def demo_arrears() -> Decimal:
    """What the demo customers owed before the run (their last month unpaid)."""
    return Decimal(
        one(
            "SELECT COALESCE(sum(total_amount - paid_amount), 0) AS owed FROM biz_charge WHERE bill_period <> :p",
            {"p": PERIOD},
        )["owed"]
    )
