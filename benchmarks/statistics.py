"""IF-REV-010 statistics over a large book: every theme's query from its summary (p50 / p99) beside the
raw aggregate scan of the same question over the live tables (the use case's LIVE source: the same outer
query), and an export of 100,000 group rows (time, peak memory) beside its floor (the same rows fetched and
written as CSV).

The book: BENCH_STAT_CUSTOMERS customers (default 1,000,000, the issue's size) in 10 offices, 3 customer
types and 3 price families, x BENCH_STAT_PERIODS bill periods (default 12): one bill, one reading task and
(97 %) one reading per customer and period, a collection for every paid or part-paid bill (5 channels,
PREPAY among them, a surplus to the balance on 1 in 20), an invoice for 1 in 10 collections, and IF-REV-007
reversals and refunds on a few of them (`adjustments`). Seeded
set-wise on the server (INSERT ... SELECT generate_series, one statement per table and period: the statement
triggers keep the summaries as the business tables fill, exactly as in production), then ANALYZE and one
timed `stat_fold()`. The per-row payment-result trigger (it would queue 8 million SMS) is disabled in this
throwaway database. On a machine where the full size takes too long to seed, set BENCH_STAT_CUSTOMERS lower;
the figures print the size they were taken at. BENCH_STAT_ONLY=themes or =export runs one half.
Prints figures; asserts nothing.
"""

from __future__ import annotations

import sys
from pathlib import Path

# This file's own folder is sys.path[0] and this file is named statistics: the standard library's
# statistics module must not be shadowed by it.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import datetime as dt  # noqa: E402
import os  # noqa: E402
import resource  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import tracemalloc  # noqa: E402
from typing import Any  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CUSTOMERS = int(os.environ.get("BENCH_STAT_CUSTOMERS", "1000000"))
PERIODS = int(os.environ.get("BENCH_STAT_PERIODS", "12"))
OFFICES = 10
RUNS = int(os.environ.get("BENCH_STAT_RUNS", "30"))
RAW_RUNS = int(os.environ.get("BENCH_STAT_RAW_RUNS", "3"))
EXPORT_ROWS = 100_000
TARGET_P99_MS = 300
FIRST = dt.date(2029, 1, 1)
FOLDERS: list[Path] = []  # the throwaway database's folder (gigabytes at the full size): removed at the end

QUESTIONS: list[tuple[str, tuple[str, ...]]] = [
    ("RECEIVABLE", ("period", "deptId")),
    ("COLLECTION", ("period", "channelCode")),
    ("ARREARS", ("ageing", "deptId")),
    ("CUSTOMER", ("deptId", "customerCategory")),
    ("READING", ("period", "deptId")),
    ("INVOICE", ("period", "status")),
]


def load() -> str:
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def periods() -> list[str]:
    out = []
    for n in range(PERIODS):
        month = FIRST.month - 1 + n
        out.append(f"{FIRST.year + month // 12}-{month % 12 + 1:02d}")
    return out


def database() -> Any:
    url = os.environ.get("WATERREV_BENCH_DATABASE_URL")
    server = None
    if not url:
        from waterrev.local import pg

        folder = Path(tempfile.mkdtemp(prefix="waterrev-bench-"))
        FOLDERS.append(folder)
        server, base = pg.start(folder / "pgdata", cleanup=True)
        url = pg.create_database(base, "bench_statistics")
    os.environ["WATERREV_DATABASE_URL"] = url
    # personal data is sealed (DECISIONS 115): a key of its own, as `make run` makes one
    os.environ.setdefault(
        "WATERREV_DATA_KEY_FILE", os.path.join(tempfile.mkdtemp(prefix="waterrev-bench-key-"), "data-key")
    )
    os.environ.setdefault("WATERREV_ENV", "bench")
    os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "waterrev")
    os.environ["WATERREV_DB_POOL_SIZE"] = "1"
    from waterrev import migrate
    from waterrev.local import demo
    from waterrev.settings import reset_settings

    reset_settings()
    migrate.upgrade()
    demo.load(months=1)
    return server


def run_sql(label: str, sql: str, params: dict[str, Any] | None = None) -> float:
    from waterrev.db import UnitOfWork

    started = time.perf_counter()
    with UnitOfWork() as uow:
        uow.execute(sql, params or {})
        uow.commit()
    took = time.perf_counter() - started
    print(f"  {label}: {took:.1f} s", flush=True)
    return took


def seed() -> list[int]:
    from waterrev.db import UnitOfWork

    with UnitOfWork() as uow:
        root = int(uow.scalar("SELECT id FROM system_dept WHERE parent_id = 0 ORDER BY id LIMIT 1"))
        depts = []
        for n in range(OFFICES):
            dept = int(
                uow.scalar(
                    "INSERT INTO system_dept (name, parent_id, tree_path) SELECT :n, id, tree_path FROM system_dept"
                    " WHERE id = :p RETURNING id",
                    {"n": f"统计营业所{n + 1:02d}", "p": root},
                )
            )
            uow.execute(
                "UPDATE system_dept SET tree_path = tree_path || id || '/' WHERE id = :id", {"id": dept}
            )
            depts.append(dept)
        uow.execute("ALTER TABLE biz_collection DISABLE TRIGGER biz_collection_payment_result")
        uow.commit()
    started = time.perf_counter()
    print(f"seeding {CUSTOMERS:,} customers x {PERIODS} periods ({load()})", flush=True)
    run_sql(
        "customers",
        "INSERT INTO biz_cust (code, name, cust_type, address, dept_id, price_code, status)"
        " SELECT 'S' || lpad(g::text, 9, '0'), '客户' || g,"
        " (ARRAY['RESIDENT', 'RESIDENT', 'RESIDENT', 'NON_RESIDENT', 'SPECIAL'])[1 + mod(g, 5)], '地址 ' || g,"
        " (CAST(:depts AS bigint[]))[1 + mod(g / 7, :offices)], (ARRAY['P1', 'P2', 'P3'])[1 + mod(g, 3)],"
        " CASE WHEN mod(g, 100) = 0 THEN 'STOPPED' ELSE 'NORMAL' END FROM generate_series(1, :n) g",
        {"n": CUSTOMERS, "depts": depts, "offices": OFFICES},
    )
    run_sql(
        "meters",
        "INSERT INTO biz_meter (meter_no, caliber) SELECT 'SM' || substr(code, 2), 'DN20' FROM biz_cust"
        " WHERE code LIKE 'S%'",
    )
    run_sql(  # the customers adjustments are seeded for (1 in 25) need an account (the adjustment's FK)
        "accounts",
        "INSERT INTO biz_account (cust_id, account_no) SELECT id, 'SA' || substr(code, 2) FROM biz_cust"
        " WHERE code LIKE 'S%' AND mod(id, 25) = 0",
    )
    for k, period in enumerate(periods()):
        due = dt.date.fromisoformat(period + "-01") + dt.timedelta(days=45)
        p = {"p": period, "k": k, "due": due, "recent": PERIODS - k}
        print(f" period {period}", flush=True)
        run_sql(
            "bills",
            "INSERT INTO biz_charge (code, cust_id, account_id, bill_period, usage_amount, total_amount,"
            " paid_amount, status, due_date)"
            " SELECT 'SB' || replace(:p, '-', '') || lpad(c.id::text, 10, '0'), c.id, c.id, :p, u, t,"
            " CASE WHEN s < 8 - :recent / 4 THEN t WHEN s = 8 THEN round(t / 2, 2) ELSE 0 END,"
            " CASE WHEN s < 8 - :recent / 4 THEN 'PAID' WHEN s = 8 THEN 'PARTIAL' ELSE 'UNPAID' END,"
            " CAST(:due AS date)"
            " FROM biz_cust c, LATERAL (SELECT round((5 + mod(c.id * 37 + :k, 40))::numeric, 2) AS u,"
            " mod(c.id * 7 + :k, 10) AS s) x, LATERAL (SELECT round(u * 3.45, 2) AS t) y WHERE c.code LIKE 'S%'",
            p,
        )
        run_sql(
            "collections",
            "INSERT INTO biz_collection (code, cust_id, amount, channel, status, pay_time, source, written_off,"
            " to_balance)"
            " SELECT 'SK' || substr(b.code, 3), b.cust_id, b.paid_amount + e, ch,"
            " CASE WHEN b.status = 'PAID' THEN 'SUCCESS' ELSE 'PARTIAL' END,"
            " CAST(:due AS date) - CAST(mod(b.id, 40) AS int) + time '10:00', 'COUNTER', b.paid_amount, e"
            " FROM biz_charge b, LATERAL (SELECT (ARRAY['CASH', 'WECHAT', 'ALIPAY', 'BANK', 'PREPAY'])"
            "[1 + mod(b.cust_id, 5)] AS ch) x,"
            " LATERAL (SELECT CASE WHEN mod(b.cust_id, 20) = 0 AND x.ch <> 'PREPAY' THEN 10 ELSE 0 END AS e) y"
            " WHERE b.bill_period = :p AND b.code LIKE 'SB%' AND b.status IN ('PAID', 'PARTIAL')",
            p,
        )
        adjustments(p)
        run_sql(
            "reading tasks",
            "INSERT INTO biz_meter_read (meter_id, cust_id, bill_period, status)"
            " SELECT m.id, c.id, :p, CASE WHEN mod(c.id + :k, 33) = 0 THEN 'OPEN' ELSE 'READ' END"
            " FROM biz_cust c JOIN biz_meter m ON m.meter_no = 'SM' || substr(c.code, 2) WHERE c.code LIKE 'S%'",
            p,
        )
        run_sql(
            "readings",
            "INSERT INTO biz_reading_data (meter_read_id, meter_id, cust_id, bill_period, read_time,"
            " previous_reading, current_reading, usage_amount, read_type, validate_status, abnormal_flag,"
            " estimated, status)"
            " SELECT t.id, t.meter_id, t.cust_id, t.bill_period, CAST(:due AS date) - 30, 0, 20, 20, 'MANUAL',"
            " 'PASS', mod(t.id, 50) = 0, mod(t.id, 20) = 0, 'BILLED'"
            " FROM biz_meter_read t WHERE t.bill_period = :p AND t.status = 'READ'",
            p,
        )
        run_sql(
            "invoices",
            "INSERT INTO biz_invoice (application_no, cust_id, invoice_type, invoice_status, amount, create_time)"
            " SELECT 'SF' || substr(k.code, 3), k.cust_id, CASE WHEN mod(k.id, 3) = 0 THEN 'SPECIAL' ELSE"
            " 'NORMAL' END, (ARRAY['SUCCESS', 'SUCCESS', 'SUCCESS', 'PENDING', 'FAIL'])[1 + mod(k.id / 10, 5)],"
            " k.written_off, k.pay_time + interval '1 hour'"
            " FROM biz_collection k WHERE k.code LIKE 'SK' || replace(:p, '-', '') || '%' AND mod(k.id, 10) = 0",
            p,
        )
    from waterrev.db import UnitOfWork

    with UnitOfWork() as uow:
        uow.execute("ANALYZE")
        uow.commit()
    print(f"seeded in {time.perf_counter() - started:.0f} s ({load()})", flush=True)
    with UnitOfWork() as uow:
        kinds = {
            str(r["adjust_type"]): int(r["n"])
            for r in uow.all(
                "SELECT adjust_type, count(*) AS n FROM biz_adjustment WHERE request_key LIKE 'BENCH:%' GROUP BY 1"
            )
        }
    print(
        f"adjustments: {kinds.get('REVERSE', 0):,} reversals, {kinds.get('REFUND', 0):,} refunds", flush=True
    )
    with UnitOfWork() as uow:
        before = {
            t: int(uow.scalar(f"SELECT count(*) FROM {t}"))
            for t in (
                "biz_stat_receivable",
                "biz_stat_collection",
                "biz_stat_reading",
                "biz_stat_invoice",
                "biz_stat_customer",
            )
        }
    fold = time.perf_counter()
    with UnitOfWork() as uow:
        kept = uow.scalar("SELECT stat_fold()")
        uow.commit()
    print(
        f"stat_fold(): {sum(before.values()):,} delta rows -> {kept:,} groups in"
        f" {(time.perf_counter() - fold) * 1000:.0f} ms",
        flush=True,
    )
    with UnitOfWork() as uow:
        uow.execute("ANALYZE biz_stat_receivable, biz_stat_collection, biz_stat_reading, biz_stat_invoice")
        uow.commit()
    return depts


def adjustments(p: dict[str, Any]) -> None:
    """IF-REV-007 entries on the period's collections, so the adjustment triggers fill the collection summary
    as the book grows (and the raw scan reads them through stat_adjust_collection_v): a reversal (冲正) of 1
    collection in 50 of the customers with an account, a day after it (its ledger lines: the write-off back,
    the balance part back, the pay-back; a PREPAY one back onto the balance), and a refund of 5.00 from the
    balance on 1 in 3 of those customers' collections with a surplus (SUCCESS, or PROCESSING on its way).
    Only the entries the statistics read: the bills keep their paid amounts (the book is not a ledger)."""
    one = "FROM biz_collection k JOIN biz_account a ON a.cust_id = k.cust_id JOIN biz_charge b ON b.code = 'SB' || substr(k.code, 3)"
    period = "k.code LIKE 'SK' || replace(:p, '-', '') || '%'"
    run_sql(
        "adjustments",
        "INSERT INTO biz_adjustment (adjustment_no, adjust_type, charge_id, cust_id, account_id, adjust_amount,"
        " source_trade_no, source_collection_id, reason_code, status, write_back_status, approval_required,"
        " effect_amount, request_key, requested_by, executed_time)"
        " SELECT CASE WHEN x.kind = 'REVERSE' THEN 'SV' ELSE 'SR' END || substr(k.code, 3), x.kind, b.id, k.cust_id,"
        " a.id, CASE WHEN x.kind = 'REFUND' THEN 5 END, k.code, CASE WHEN x.kind = 'REVERSE' THEN k.id END,"
        " 'BENCH', 'SUCCESS', 'SUCCESS', false, CASE WHEN x.kind = 'REFUND' THEN 5 ELSE k.amount END,"
        " 'BENCH:' || x.kind || ':' || k.id, 1, k.pay_time + interval '1 day'"
        f" {one} CROSS JOIN LATERAL (SELECT unnest(ARRAY["
        "CASE WHEN mod(abs(hashtext(k.code)), 50) = 0 THEN 'REVERSE' END,"
        " CASE WHEN k.to_balance >= 5 AND mod(abs(hashtext(k.code)), 50) BETWEEN 1 AND 17"
        " THEN 'REFUND' END]) AS kind) x"
        f" WHERE {period} AND x.kind IS NOT NULL",
        p,
    )
    of = (
        "FROM biz_adjustment d JOIN biz_collection k ON k.code = d.source_trade_no"
        " WHERE d.request_key LIKE 'BENCH:%' AND d.adjustment_no LIKE '__' || replace(:p, '-', '') || '%'"
    )
    run_sql(
        "adjustment lines",
        "INSERT INTO biz_adjustment_line (adjustment_id, cust_id, account_id, charge_id, collection_id, line_type,"
        " amount, create_time)"
        " SELECT d.id, d.cust_id, d.account_id, CASE WHEN l.t = 'PRINCIPAL' THEN d.charge_id END,"
        " CASE WHEN l.t = 'PRINCIPAL' THEN k.id END, l.t, l.v, d.executed_time"
        f" {of.split(' WHERE ')[0]} CROSS JOIN LATERAL (VALUES"
        " ('PRINCIPAL', CASE WHEN d.adjust_type = 'REVERSE' THEN -k.written_off END),"
        " ('BALANCE', CASE WHEN d.adjust_type = 'REFUND' THEN -5 WHEN k.channel = 'PREPAY' THEN k.amount"
        " ELSE -k.to_balance END),"
        " ('REFUND', CASE WHEN d.adjust_type = 'REFUND' THEN 5 WHEN k.channel <> 'PREPAY' THEN k.amount END))"
        f" AS l (t, v) WHERE {of.split(' WHERE ')[1]} AND l.v IS NOT NULL AND l.v <> 0",
        p,
    )
    run_sql(
        "refunds",
        "INSERT INTO biz_refund (refund_no, adjustment_id, cust_id, account_id, amount, booked, method,"
        " source_trade_no, channel_code, status, create_time)"
        " SELECT 'TK' || substr(d.adjustment_no, 2), d.id, d.cust_id, d.account_id,"
        " CASE WHEN d.adjust_type = 'REFUND' THEN 5 ELSE k.amount END, true, 'COUNTER', k.code, k.channel,"
        " CASE WHEN mod(d.id, 4) = 0 THEN 'PROCESSING' ELSE 'SUCCESS' END, d.executed_time"
        f" {of} AND (d.adjust_type = 'REFUND' OR k.channel <> 'PREPAY')",
        p,
    )


def percentile(samples: list[float], q: int) -> float:
    if len(samples) < 3:
        return max(samples)
    return statistics.quantiles(sorted(samples), n=100)[q - 1]


def question(theme: str, group_by: tuple[str, ...], **extra: Any) -> Any:
    from waterrev.statistics.commands import StatQuery

    last = dt.date.fromisoformat(periods()[-1] + "-01") + dt.timedelta(days=90)
    return StatQuery(theme, FIRST, last, group_by=group_by, **extra)


def bench_themes() -> None:
    from waterrev.context import SYSTEM, RequestContext
    from waterrev.statistics import query as stat_query

    ctx = RequestContext("bench", SYSTEM)
    print(f"\n== Theme queries: summary (use case, {RUNS} runs after 3) vs raw scan ({RAW_RUNS} runs) ==")
    print(
        f"{'theme':<11} {'groupBy':<26} {'groups':>6} {'summary p50':>12} {'p99':>9} {'raw p50':>10} {'raw max':>10}"
    )
    for theme, group_by in QUESTIONS:
        cmd = question(theme, group_by)
        for _ in range(3):
            stat_query.run(ctx, cmd)
        samples = []
        for _ in range(RUNS):
            started = time.perf_counter()
            reply = stat_query.run(ctx, cmd)
            samples.append((time.perf_counter() - started) * 1000)
        raw = []
        for _ in range(RAW_RUNS):
            started = time.perf_counter()
            live = stat_query.run(ctx, cmd, source="LIVE")
            raw.append((time.perf_counter() - started) * 1000)
        same = "same" if live["groupRows"] == reply["groupRows"] else "DIFFERENT"
        p99 = percentile(samples, 99)
        verdict = "met" if p99 < TARGET_P99_MS else "NOT MET"
        print(
            f"{theme:<11} {','.join(group_by):<26} {len(reply['groupRows']):>6} {percentile(samples, 50):>9.1f} ms"
            f" {p99:>6.1f} ms {statistics.median(raw):>7.0f} ms {max(raw):>7.0f} ms  answers {same};"
            f" p99 < {TARGET_P99_MS} ms {verdict}",
            flush=True,
        )


def bench_export() -> None:
    import csv

    from waterrev.context import Principal, RequestContext, UserType
    from waterrev.db import UnitOfWork
    from waterrev.local import s3
    from waterrev.statistics import export as stat_export
    from waterrev.statistics import query as stat_query

    s3.start()
    principal = Principal(1, UserType.ADMIN, "bench", permissions=frozenset({"*:*:*"}), dept_ids=None)
    ctx = RequestContext("bench-export", principal)
    # the smallest set of customers of at least EXPORT_ROWS that one filter names: an office (1,000,000
    # customers: 100,000 an office), else a customer type, else the whole book; one row per customer
    with UnitOfWork() as uow:
        offices = uow.all("SELECT dept_id, count(*) AS n FROM biz_cust WHERE code LIKE 'S%' GROUP BY dept_id")
        types = uow.all(
            "SELECT cust_type, count(*) AS n FROM biz_cust WHERE code LIKE 'S%' GROUP BY cust_type"
        )
    candidates = [(int(r["n"]), {"dept_id": int(r["dept_id"])}, f"office {r['dept_id']}") for r in offices]
    candidates += [
        (int(r["n"]), {"customer_category": r["cust_type"]}, f"type {r['cust_type']}") for r in types
    ]
    candidates.append((CUSTOMERS, {}, "the whole book"))
    size, extra, label = min(
        (c for c in candidates if c[0] >= EXPORT_ROWS),
        default=max(candidates, key=lambda c: c[0]),
        key=lambda c: c[0],
    )
    cmd = question("RECEIVABLE", ("custId",), **extra)
    print(f"\n== Export: RECEIVABLE by customer, {label} ({size:,} customers) ==")
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    done = stat_export.export(ctx, cmd)
    took = time.perf_counter() - started
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    tracemalloc.start()
    stat_export.export(ctx, cmd)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    # the floor: the same rows fetched through the same cursor and written as CSV
    with tempfile.TemporaryDirectory() as tmp:
        floor_started = time.perf_counter()
        with UnitOfWork() as uow, open(os.path.join(tmp, "floor.csv"), "w", newline="") as out:
            p = stat_query.plan(uow, ctx, cmd)
            writer = csv.writer(out)
            for row in stat_query.group_rows(uow, p):
                writer.writerow([*row["dims"].values(), *row["measures"].values()])
        floor = time.perf_counter() - floor_started
    print(f"export of {done['rowCount']:,} rows (query, XLSX, upload, record): {took:.1f} s")
    print(f"peak Python heap during an export (tracemalloc): {peak / 2**20:.1f} MiB")
    print(f"process max RSS before / after the export: {rss_before / 1024:.0f} / {rss_after / 1024:.0f} MiB")
    print(f"floor, the same rows fetched and written as CSV: {floor:.1f} s")
    if done["rowCount"] < EXPORT_ROWS:
        print(f"(fewer than {EXPORT_ROWS:,} rows at this size: BENCH_STAT_CUSTOMERS={CUSTOMERS:,})")


def main() -> None:
    print(f"statistics benchmark: {load()}")
    server = database()
    try:
        seed()
        if os.environ.get("BENCH_STAT_ONLY") != "export":
            bench_themes()
        if os.environ.get("BENCH_STAT_ONLY") != "themes":
            bench_export()
    finally:
        from waterrev.db import dispose_engine

        dispose_engine()
        if server is not None:
            server.cleanup()  # stops the server; the data folder stays unless removed
        import shutil

        for folder in FOLDERS:
            shutil.rmtree(folder, ignore_errors=True)
    print(f"at the end: {load()}")


if __name__ == "__main__":
    main()
