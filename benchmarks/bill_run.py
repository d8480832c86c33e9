"""Bill run throughput: readings in -> bills and lines committed, prepaid balances deducted, against a
plain COPY floor.

100,000 customers (override with BENCH_CUSTOMERS), each with a VALID reading (5-59 m3); a MONTHLY
family with 3 tiers (0-10, 10-20, 20+) and 3 cost components, a minimum usage of 8 m3 and a meter fee
of 2.00 a period, so most bills have 10 lines; 5% of the meters are mixed-use (every 20th: 70% this
family and 30% a commercial one; every 20th + 10: the first 10 m3 commercial, the rest this family);
20% of the accounts hold a prepaid balance (50.50 - 549.50: most cover a few months, some bills are paid
in part, and some balances end low enough for a PREPAY_LOW_BALANCE notice). Deduction is on (the default). The
run goes through `billing.generate` exactly as a workflow chunk does. The floor writes the same rows the
run inserted - bills, lines, and the deductions' collections, items and account flows - precomputed,
with COPY into empty copies of the tables (same indexes). Prints figures; asserts nothing.
`seed` and `run` are also what tests/integration/test_bill_run_scale.py runs.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PERIOD = "2030-01"
DUE = dt.date(2030, 2, 15)
TARIFF = {
    "name": "bench 3x3",
    "tierMode": "MONTHLY",
    "basePopulation": 4,
    "tiers": [{"tierNo": 1, "upperBound": "10"}, {"tierNo": 2, "upperBound": "20"}, {"tierNo": 3}],
    "components": [
        {"code": "WATER_FEE", "name": "水费", "taxRate": "0.09", "prices": ["2.15", "3.23", "6.45"]},
        {"code": "SEWAGE_FEE", "name": "污水处理费", "taxRate": "0", "prices": ["1.00", "1.20", "1.50"]},
        {"code": "RESOURCE_FEE", "name": "水资源费", "taxRate": "0", "prices": ["0.10", "0.12", "0.15"]},
    ],
    "minimumUsage": "8",
    "fixedCharges": [{"code": "METER_FEE", "name": "水表维护费", "taxRate": "0.06", "amount": "2.00"}],
}
COMMERCIAL = {
    "name": "bench commercial",
    "tierMode": "MONTHLY",
    "basePopulation": 1,
    "tiers": [{"tierNo": 1, "upperBound": "50"}, {"tierNo": 2}],
    "components": [
        {"code": "WATER_FEE", "name": "水费", "taxRate": "0.09", "prices": ["3.10", "4.65"]},
        {"code": "SEWAGE_FEE", "name": "污水处理费", "taxRate": "0", "prices": ["1.40", "1.40"]},
        {"code": "RESOURCE_FEE", "name": "水资源费", "taxRate": "0", "prices": ["0.10", "0.10"]},
    ],
}
CODES = {"BENCH3": TARIFF, "BENCHBIZ": COMMERCIAL}


def database() -> object | None:
    url = os.environ.get("WATERREV_BENCH_DATABASE_URL")
    server = None
    if not url:
        from waterrev.local import pg

        server, base = pg.start(Path(tempfile.mkdtemp(prefix="waterrev-bench-")) / "pgdata", cleanup=True)
        url = pg.create_database(base, "bench_bill_run")
    os.environ["WATERREV_DATABASE_URL"] = url
    # personal data is sealed (DECISIONS 115): a key of its own, as `make run` makes one
    os.environ.setdefault(
        "WATERREV_DATA_KEY_FILE", os.path.join(tempfile.mkdtemp(prefix="waterrev-bench-key-"), "data-key")
    )
    os.environ.setdefault("WATERREV_ENV", "bench")
    os.environ["WATERREV_DB_POOL_SIZE"] = "1"  # one worker, one connection (and one backend to measure)
    from waterrev import migrate
    from waterrev.local import demo
    from waterrev.settings import reset_settings

    reset_settings()
    migrate.upgrade()
    demo.load(months=1)
    return server


def seed(customers: int, *, prefix: str = "BENCH", period: str = PERIOD, dept_id: int = 2) -> None:
    """Customers, accounts, meters, mixed-use splits, balances, tasks and VALID readings, set-wise."""
    import json

    from waterrev.context import SYSTEM, RequestContext
    from waterrev.db import UnitOfWork
    from waterrev.pricing import config as pricing
    from waterrev.pricing.commands import ConfigCommand

    ctx = RequestContext("bench", SYSTEM)
    with UnitOfWork() as uow:
        have = {
            r["code"]
            for r in uow.all("SELECT DISTINCT code FROM biz_price_template WHERE code LIKE 'BENCH%'")
        }
    for code, document in CODES.items():
        if code not in have:
            pricing.config(
                ctx,
                ConfigCommand(
                    action="CREATE",
                    config_type="PRICE",
                    config_code=code,
                    config_value=json.dumps(document),
                    effect_status="ACTIVE",
                    effective_date=dt.date(2020, 1, 1),
                ),
            )
    like = {"like": prefix + "%", "p": period, "pre": prefix}
    with UnitOfWork() as uow:
        from benchmarks import sealed

        slots = sealed.mobiles(uow)  # sealed as the use case stores them: the low-balance notices need them
        uow.execute(
            "INSERT INTO biz_cust (code, name, cust_type, mobile, mobile_cipher, mobile_index, address, dept_id,"
            " population, price_code)"
            " SELECT :pre || g, '客户' || g, 'RESIDENT', m.mobile, m.mobile_cipher, m.mobile_index,"
            " '地址 ' || g, :d, 1 + mod(g, 6), 'BENCH3' FROM generate_series(1, :n) g"
            " JOIN bench_mobile m ON m.slot = mod(g, :slots)",
            {"n": customers, "pre": prefix, "d": dept_id, "slots": slots},
        )
        uow.execute(  # every fifth account prepaid, 50.50 .. 549.50: mostly a few months ahead, some short
            "INSERT INTO biz_account (cust_id, account_no, balance) SELECT id, 'ZH' || code,"
            " CASE WHEN mod(id, 5) = 0 THEN 50 + mod(id * 13, 500) + 0.5 ELSE 0 END FROM biz_cust"
            " WHERE code LIKE :like",
            like,
        )
        uow.execute(
            "INSERT INTO biz_meter (meter_no, caliber) SELECT 'BM' || code, 'DN20' FROM biz_cust WHERE code LIKE :like",
            like,
        )
        uow.execute(
            "INSERT INTO biz_cust_meter (cust_id, meter_id) SELECT c.id, m.id FROM biz_cust c"
            " JOIN biz_meter m ON m.meter_no = 'BM' || c.code WHERE c.code LIKE :like",
            like,
        )
        uow.execute(  # every 20th meter: 70% BENCH3 / 30% BENCHBIZ; every 20th + 10: first 10 m3 BENCHBIZ
            "INSERT INTO biz_meter_price_split (meter_id, part_no, price_code, split_mode, ratio, quantity,"
            " effective_date) SELECT m.id, p.part_no, p.code, p.mode, p.ratio, p.quantity, DATE '2020-01-01'"
            " FROM biz_meter m, LATERAL (VALUES (1, 'BENCH3', 'RATIO', 0.7, NULL::numeric),"
            " (2, 'BENCHBIZ', 'RATIO', 0.3, NULL)) AS p(part_no, code, mode, ratio, quantity)"
            " WHERE m.meter_no LIKE 'BM' || :like AND mod(m.id, 20) = 0"
            " UNION ALL SELECT m.id, p.part_no, p.code, p.mode, p.ratio, p.quantity, DATE '2020-01-01'"
            " FROM biz_meter m, LATERAL (VALUES (1, 'BENCHBIZ', 'QUANTITY', NULL::numeric, 10::numeric),"
            " (2, 'BENCH3', 'RATIO', 1, NULL)) AS p(part_no, code, mode, ratio, quantity)"
            " WHERE m.meter_no LIKE 'BM' || :like AND mod(m.id, 20) = 10",
            like,
        )
        uow.execute(
            "INSERT INTO biz_meter_read (meter_id, cust_id, bill_period, status) SELECT meter_id, cust_id,"
            " :p, 'READ' FROM biz_cust_meter cm JOIN biz_cust c ON c.id = cm.cust_id"
            " WHERE c.code LIKE :like",
            like,
        )
        uow.execute(
            "INSERT INTO biz_reading_data (meter_read_id, meter_id, cust_id, bill_period, read_time,"
            " previous_reading, current_reading, usage_amount, read_type, validate_status, status)"
            " SELECT t.id, t.meter_id, t.cust_id, t.bill_period, now(), 0, u, u, 'MANUAL', 'PASS', 'VALID'"
            " FROM biz_meter_read t JOIN biz_cust c ON c.id = t.cust_id,"
            " LATERAL (SELECT round((5 + mod(t.id * 37, 55))::numeric, 2) AS u) v"
            " WHERE t.bill_period = :p AND c.code LIKE :like",
            like,
        )
        uow.commit()
    with UnitOfWork() as uow:
        uow.execute("ANALYZE")
        uow.commit()


def backend_pid() -> int:
    from waterrev.db import UnitOfWork

    with UnitOfWork() as uow:
        return int(uow.scalar("SELECT pg_backend_pid()"))


def cpu_of(pid: int) -> float | None:
    """CPU seconds a local process has used (user + system), None where /proc cannot tell (a remote
    server). The machine is shared, so wall time moves with other work; the CPU a worker and its
    database backend spend does much less."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run(customers: int, period: str = PERIOD) -> tuple[float, int, float | None]:
    """The run, timed: (wall seconds, bills, CPU seconds of this process and its database backend)."""
    from waterrev.billing import generate as billing
    from waterrev.billing.commands import GenerateBills
    from waterrev.context import SYSTEM, RequestContext

    ctx = RequestContext("bench", SYSTEM)
    due = dt.date.fromisoformat(period + "-01") + dt.timedelta(days=45)
    pid = backend_pid()  # one connection: the pool has one (WATERREV_DB_POOL_SIZE), used in turn
    backend, client = cpu_of(pid), time.process_time()
    started = time.perf_counter()
    result = billing.generate(ctx, GenerateBills(bill_period=period, due_date=due), keep_lists=False)
    elapsed = time.perf_counter() - started
    backend_after = cpu_of(pid)
    cpu = (
        None
        if backend is None or backend_after is None
        else backend_after - backend + time.process_time() - client
    )
    assert result["failureCount"] == 0, result["failureList"][:3]
    assert backend_pid() == pid, "the run used another connection: its CPU was not all counted"
    return elapsed, int(result["generateCount"]), cpu


def deductions(period: str = PERIOD) -> dict[str, Any]:
    """What the run's deductions wrote: counts and sums, for the report (and the scale test)."""
    from waterrev.db import UnitOfWork

    with UnitOfWork() as uow:
        row = uow.one(
            "SELECT (SELECT count(*) FROM biz_charge WHERE bill_period = :p) AS bills,"
            " (SELECT count(*) FROM biz_charge c WHERE bill_period = :p AND EXISTS"
            "   (SELECT 1 FROM biz_charge_detail d WHERE d.charge_id = c.id AND d.part_no > 1)) AS mixed,"
            " (SELECT count(*) FROM biz_charge_detail d JOIN biz_charge c ON c.id = d.charge_id"
            "   WHERE c.bill_period = :p) AS lines,"
            " (SELECT count(*) FROM biz_collection WHERE source = 'DEDUCT' AND id IN (SELECT i.collection_id FROM"
            "   biz_collection_item i JOIN biz_charge c ON c.id = i.charge_id WHERE c.bill_period = :p)) AS deducted,"
            " (SELECT count(*) FROM biz_charge WHERE bill_period = :p AND status = 'PAID') AS paid,"
            " (SELECT count(*) FROM biz_charge WHERE bill_period = :p AND status = 'PARTIAL') AS partial,"
            " (SELECT count(*) FROM biz_message m WHERE m.template_code = 'PREPAY_LOW_BALANCE' AND"
            "   m.message_biz_no IN (SELECT code FROM biz_collection WHERE source = 'DEDUCT')) AS notices",
            {"p": period},
        )
    assert row is not None
    return dict(row)


def floor() -> tuple[float, int, int, int, float | None]:
    """COPY the rows the run inserted - bills, lines, and the deductions' collections, items and flows -
    precomputed as text, into empty copies of the tables."""
    from waterrev.billing.generate import CHARGE_COLUMNS, DETAIL_COLUMNS
    from waterrev.db import UnitOfWork, get_engine

    collection_cols = (
        "code", "cust_id", "account_id", "amount", "channel", "status", "operator_id", "remark", "pay_time",
        "source", "written_off", "to_balance",
    )  # fmt: skip
    tables = {
        "biz_charge": (
            (*CHARGE_COLUMNS[1:], "paid_amount", "status", "paid_time"),
            f"SELECT {', '.join(CHARGE_COLUMNS[1:])}, paid_amount, status, paid_time FROM biz_charge"
            " WHERE bill_period = :p",
        ),
        "biz_charge_detail": (
            DETAIL_COLUMNS,
            f"SELECT {', '.join('d.' + c for c in DETAIL_COLUMNS)} FROM biz_charge_detail d"
            " JOIN biz_charge c ON c.id = d.charge_id WHERE c.bill_period = :p",
        ),
        "biz_collection": (
            collection_cols,
            f"SELECT {', '.join(collection_cols)} FROM biz_collection WHERE source = 'DEDUCT'",
        ),
        "biz_collection_item": (
            ("collection_id", "charge_id", "amount"),
            "SELECT i.collection_id, i.charge_id, i.amount FROM biz_collection_item i JOIN biz_collection c"
            " ON c.id = i.collection_id WHERE c.source = 'DEDUCT'",
        ),
        "biz_account_flow": (
            ("account_id", "change_amount", "balance_after", "biz_type", "ref_no"),
            "SELECT account_id, change_amount, balance_after, biz_type, ref_no FROM biz_account_flow"
            " WHERE ref_no LIKE 'DK%'",
        ),
    }
    texts: dict[str, tuple[str, int]] = {}
    with UnitOfWork() as uow:
        for table, (_, sql) in tables.items():
            uow.execute(f"DROP TABLE IF EXISTS bench_{table}")
            uow.execute(f"CREATE TABLE bench_{table} (LIKE {table} INCLUDING ALL)")
            texts[table] = _as_copy_text(uow, sql, {"p": PERIOD})
        uow.commit()
    raw = get_engine().raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute("SELECT pg_backend_pid()")
        pid = int(cursor.fetchone()[0])
        backend, client = cpu_of(pid), time.process_time()
        started = time.perf_counter()
        pg = raw.dbapi_connection
        for table, (columns, _) in tables.items():
            pg.run(
                f"COPY bench_{table} ({', '.join(columns)}) FROM STDIN", stream=io.StringIO(texts[table][0])
            )
        raw.commit()
        elapsed = time.perf_counter() - started
        backend_after = cpu_of(pid)
        cpu = (
            None
            if backend is None or backend_after is None
            else backend_after - backend + time.process_time() - client
        )
        return elapsed, texts["biz_charge"][1], texts["biz_charge_detail"][1], texts["biz_collection"][1], cpu
    finally:
        raw.close()


def _as_copy_text(uow: object, sql: str, params: dict[str, object]) -> tuple[str, int]:
    rows = uow.all(sql, params)  # type: ignore[attr-defined]
    lines = ["\t".join("\\N" if v is None else str(v) for v in r.values()) for r in rows]
    return "\n".join(lines) + "\n", len(rows)


def main() -> None:
    customers = int(os.environ.get("BENCH_CUSTOMERS", "100000"))
    server = database()
    try:
        t = time.perf_counter()
        seed(customers)
        print(f"seeded {customers:,} customers with VALID readings in {time.perf_counter() - t:.1f} s")
        elapsed, bills, cpu = run(customers)
        written = deductions()
        floor_s, charge_rows, detail_rows, collection_rows, floor_cpu = floor()
        rate, floor_rate = bills / elapsed, charge_rows / floor_s
        print(
            "\nBill run (IF-REV-005 path, one worker): readings in -> bills and lines committed, prepaid balances"
            " deducted"
        )
        print(
            f"  bills                    {bills:>12,}   lines {detail_rows:,} ({detail_rows / bills:.1f} per bill),"
            f" {written['mixed']:,} mixed-use"
        )
        print(
            f"  prepaid deductions       {written['deducted']:>12,}   bills paid {written['paid']:,}, part-paid"
            f" {written['partial']:,}, low-balance notices {written['notices']:,}"
        )
        print(f"  end to end               {elapsed:>10.2f} s   {rate:>10,.0f} bills/s")
        print(
            f"  floor: COPY precomputed  {floor_s:>10.2f} s   {floor_rate:>10,.0f} bills/s"
            f"   (bills, lines, {collection_rows:,} collections with items and flows)"
        )
        print(f"  ratio to floor           {rate / floor_rate:>12.0%}")
        if cpu and floor_cpu:
            print(
                f"  CPU (worker + backend)   {cpu:>10.2f} s   {bills / cpu:>10,.0f} bills per CPU-second"
                f"   floor {floor_cpu:.2f} s, {charge_rows / floor_cpu:,.0f}; ratio {floor_cpu / cpu:.0%}"
            )
        print(
            f"  target >= 10,000 bills/s per worker:        {'MET' if rate >= 10_000 else 'NOT MET'} (wall)"
        )
        if cpu:
            print(
                f"  ... on a core of its own (CPU-seconds):     {'MET' if bills / cpu >= 10_000 else 'NOT MET'}"
                "  (the machine is shared: see benchmarks/README.md)"
            )
    finally:
        from waterrev.db import dispose_engine

        dispose_engine()
        if server is not None:
            server.cleanup()  # type: ignore[attr-defined]


if __name__ == "__main__":
    main()
