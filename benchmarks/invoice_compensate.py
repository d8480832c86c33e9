"""IF-REV-009 compensation sweep: 100,000 PENDING invoices queried at the SYS-008 simulator and settled.

Setup: an embedded PostgreSQL (or WATERREV_BENCH_DATABASE_URL's server), database bench_invoice emptied,
migrated, with the demo set; BENCH_INVOICES (default 100,000) PENDING invoices, each holding one paid
bill, all due now, written with INSERT ... SELECT generate_series; the simulator (a real HTTP server on
loopback) told that it issued all of them (`Sim.seed_issued`: SUCCESS, numbers, file addresses) and to
write nothing back. Then `invoices.query.compensate_due` runs as the scheduled job would (claims of 500,
batch queries of 200 requestNos, 4 at once, each batch settled by one inv_apply_results call), until
nothing is due; file copies are left out (files=0: they are their own bounded step).

Printed: invoices/s and database round trips per invoice for the sweep, beside two floors measured in the
same run: the simulator's batch query alone over the same invoices with the same concurrency (the HTTP
part the sweep cannot beat), and a bare database round trip. Asserts nothing.
"""

from __future__ import annotations

import concurrent.futures
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "layers" / "core" / "python"))

N = int(os.environ.get("BENCH_INVOICES", "100000"))
ROUND_TRIPS = [0]


def database() -> Any:
    from sqlalchemy import create_engine, text

    from waterrev.local import pg

    base, server = os.environ.get("WATERREV_BENCH_DATABASE_URL"), None
    if not base:
        server, base = pg.start(Path(tempfile.mkdtemp(prefix="waterrev-bench-")) / "pgdata", cleanup=True)
    url = pg.create_database(base, "bench_invoice")
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    os.environ["WATERREV_DATABASE_URL"] = url
    # personal data is sealed (DECISIONS 115): a key of its own, as `make run` makes one
    os.environ.setdefault(
        "WATERREV_DATA_KEY_FILE", os.path.join(tempfile.mkdtemp(prefix="waterrev-bench-key-"), "data-key")
    )
    os.environ.setdefault("WATERREV_ENV", "bench")
    os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "waterrev")
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
    from waterrev import migrate
    from waterrev.local import demo
    from waterrev.settings import reset_settings

    reset_settings()
    migrate.upgrade()
    demo.load(months=1)
    return server


def seed(n: int) -> list[str]:
    """n PENDING invoices, one paid bill each, due now; their application numbers."""
    from waterrev.db import UnitOfWork

    with UnitOfWork() as uow:
        cust, account = uow.one(
            "SELECT c.id, a.id AS account FROM biz_cust c JOIN biz_account a ON a.cust_id = c.id LIMIT 1"
        ).values()
        uow.execute(
            "INSERT INTO biz_charge (code, cust_id, account_id, bill_period, total_amount, paid_amount, status,"
            " invoice_status, due_date) SELECT 'BENCH' || g, :c, :a, '2020-01', 10, 10, 'PAID', 'PENDING', DATE '2020-02-15'"
            " FROM generate_series(1, :n) g",
            {"c": cust, "a": account, "n": n},
        )
        uow.execute(
            "INSERT INTO biz_invoice (application_no, cust_id, invoice_type, invoice_status, amount, tax_amount, charge_key,"
            " sys_request_no, next_plan_time) SELECT 'FPB' || lpad(g::text, 8, '0'), :c, 'ELECTRONIC', 'PENDING', 10, 0.83,"
            " 'B' || g, 'SR' || lpad(g::text, 12, '0'), now() - interval '1 second' FROM generate_series(1, :n) g",
            {"c": cust, "n": n},
        )
        uow.execute(
            "INSERT INTO biz_invoice_charge (invoice_id, charge_id, amount) SELECT i.id, c.id, 10 FROM biz_invoice i"
            " JOIN biz_charge c ON c.code = 'BENCH' || ltrim(substr(i.application_no, 4), '0') WHERE i.application_no LIKE 'FPB%'"
        )
        uow.commit()
    with UnitOfWork() as uow:
        uow.execute("ANALYZE")
        uow.commit()
    return [f"FPB{g:08d}" for g in range(1, n + 1)]


def count_round_trips() -> None:
    """pg8000 flushes its socket once per exchange it waits for: each flush is a round trip."""
    from pg8000 import core

    flush = core._flush

    def counted(sock: Any) -> None:
        ROUND_TRIPS[0] += 1
        flush(sock)

    core._flush = counted


def http_floor(client: Any, request_nos: list[str], concurrency: int = 4) -> float:
    """Invoices/s of the batch queries alone (no database), same chunks and concurrency as the sweep."""
    chunks = [request_nos[i : i + 200] for i in range(0, len(request_nos), 200)]
    start = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(concurrency) as pool:
        found = sum(len(v) for v in pool.map(client.query_batch, chunks))
    elapsed = time.perf_counter() - start
    assert found == len(request_nos), found
    return len(request_nos) / elapsed


def round_trip_ms(n: int = 500) -> float:
    from waterrev.db import call_atomic

    times = []
    for _ in range(n):
        t = time.perf_counter()
        call_atomic("SELECT 1")
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1000


def main() -> None:
    print(f"load average at start: {os.getloadavg()}")
    server = database()
    from waterrev.context import SYSTEM, RequestContext
    from waterrev.local import sys008_sim
    from waterrev.settings import reset_settings

    sim = sys008_sim.start(app_id="bench", app_secret="bench-secret")
    os.environ.update(
        WATERREV_SYS008_BASE_URL=sim.base_url,
        WATERREV_SYS008_APP_ID="bench",
        WATERREV_SYS008_APP_SECRET="bench-secret",
    )
    reset_settings()
    try:
        t = time.perf_counter()
        request_nos = seed(N)
        sim.seed_issued(request_nos)
        print(
            f"seeded {N:,} PENDING invoices (and the simulator's SUCCESS for each) in {time.perf_counter() - t:.1f} s"
        )
        from waterrev.adapters.sys008 import client_from_settings
        from waterrev.invoices.query import compensate_due, due_count

        floor_http = http_floor(client_from_settings(), request_nos)
        floor_rt = round_trip_ms()
        count_round_trips()
        ROUND_TRIPS[0] = 0
        ctx = RequestContext("bench", SYSTEM)
        start = time.perf_counter()
        settled = 0
        while True:
            counts = compensate_due(ctx, limit=20_000, batch=500, concurrency=4, files=0)
            settled += counts["applied"]
            if counts["claimed"] == 0:
                break
        elapsed = time.perf_counter() - start
        trips = ROUND_TRIPS[0]
        left = due_count()
        print(
            f"compensation sweep: {N:,} PENDING invoices in {elapsed:.1f} s: {N / elapsed:,.0f} invoices/s;"
            f" {settled:,} settled SUCCESS, {left:,} still without a result"
        )
        print(f"  database round trips: {trips:,} in all, {trips / N:.4f} per invoice")
        print(
            f"floor, same run: the simulator's batch query alone {floor_http:,.0f} invoices/s (same chunks, 4 at once);"
            f" a bare database round trip {floor_rt:.3f} ms"
        )
        print(f"load average at end: {os.getloadavg()}")
    finally:
        sim.stop()
        from waterrev.db import dispose_engine

        dispose_engine()
        if server is not None:
            server.cleanup()


if __name__ == "__main__":
    main()
