"""IF-EXT-005 throughput: SYS-009 payment callbacks processed per second by the ext_pay_notify handler,
in-process, one worker, against a local PostgreSQL.

Each callback is an API Gateway v2 event built by `waterrev.local.gateway.to_event` (as tests/support.call
and the local gateway build them) carrying a notification RSA-signed beforehand with a platform key
registered in WATERREV_SYS009_PLATFORM_KEYS; the handler verifies the signature on the raw body, keeps the
callback, settles the order and writes its bill off. Two runs: N distinct orders (BENCH_ORDERS, default
2,000), each paid once; then N copies of one order's notification (all but the first are duplicates).
Prints figures; asserts nothing.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

NOTIFY = "/open-api/pay/notify"
WARM_UP = 50


def database() -> object | None:
    """An embedded PostgreSQL in a temporary folder (or WATERREV_BENCH_DATABASE_URL's server), database
    bench_pay_notify emptied, migrated, with the demo set."""
    from sqlalchemy import create_engine, text

    from waterrev.local import pg

    base, server = os.environ.get("WATERREV_BENCH_DATABASE_URL"), None
    if not base:
        server, base = pg.start(Path(tempfile.mkdtemp(prefix="waterrev-bench-")) / "pgdata", cleanup=True)
    url = pg.create_database(base, "bench_pay_notify")
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
    from waterrev import migrate
    from waterrev.local import demo
    from waterrev.settings import reset_settings

    reset_settings()
    migrate.upgrade()
    demo.load(months=1)
    return server


def seed_orders(count: int) -> list[dict[str, Any]]:
    """`count` live online orders (PAYING, a tradeNo, one bill each) over the demo customers."""
    from waterrev.db import UnitOfWork

    tag = secrets.token_hex(3).upper()
    with UnitOfWork() as uow:
        rows = uow.all(
            "WITH c AS (SELECT a.cust_id, a.id AS account_id, row_number() OVER (ORDER BY a.id) - 1 AS k"
            "   FROM biz_account a),"
            " n AS (SELECT g, (SELECT count(*) FROM c) AS m FROM generate_series(0, :n - 1) g),"
            " bills AS (INSERT INTO biz_charge (code, cust_id, account_id, bill_period, usage_amount, total_amount,"
            "   due_date) SELECT 'PN' || :tag || lpad(CAST(g AS text), 8, '0'), c.cust_id, c.account_id, '2030-01', 10,"
            "   10 + mod(g, 50) + 0.25, DATE '2030-02-15' FROM n JOIN c ON c.k = mod(n.g, n.m)"
            "   RETURNING id, cust_id, total_amount, code)"
            " SELECT id, cust_id, total_amount, code FROM bills ORDER BY id",
            {"n": count, "tag": tag},
        )
        orders = []
        for i, r in enumerate(rows):
            order_no, trade_no = f"DD{tag}{i:010d}", f"T{tag}{i:010d}"
            orders.append({"order_no": order_no, "trade_no": trade_no, "amount": r["total_amount"]})
            uow.execute(
                "INSERT INTO bk_transaction (biz_order_no, trade_no, cust_id, channel_code, scene, trade_amount,"
                " status, expire_time, request_key, next_query_time) VALUES (:o, :t, :c, 'WECHAT', 'ONLINE', :a,"
                " 'PAYING', now() + interval '2 hours', :k, now() + interval '1 day')",
                {
                    "o": order_no,
                    "t": trade_no,
                    "c": r["cust_id"],
                    "a": r["total_amount"],
                    "k": f"bench|{r['code']}",
                },
            )
            uow.execute(
                "INSERT INTO biz_order_charge (biz_order_no, charge_id, amount) VALUES (:o, :c, :a)",
                {"o": order_no, "c": r["id"], "a": r["total_amount"]},
            )
        uow.execute("ANALYZE")
        uow.commit()
    return orders


def events(private_pem: str, orders: list[dict[str, Any]], target: Any) -> list[dict[str, Any]]:
    """One signed SUCCESS notification per order, as an API Gateway v2 event for ext_pay_notify."""
    from waterrev.adapters import paysign
    from waterrev.local.gateway import to_event

    serial = paysign.key_serial(paysign.public_pem_of(private_pem))
    out = []
    for order in orders:
        body = {
            "id": secrets.token_hex(16),
            "tradeNo": order["trade_no"],
            "businessOrderNo": order["order_no"],
            "tradeStatus": "SUCCESS",
            "tradeAmount": f"{order['amount']:.2f}",
            "successAmount": f"{order['amount']:.2f}",
            "channelCode": "WECHAT",
            "notifyTime": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        }
        raw = json.dumps(body, separators=(",", ":")).encode()
        ts, nonce = str(int(time.time())), secrets.token_hex(16)
        headers = {
            "content-type": "application/json; charset=utf-8",
            "user-agent": "sys009-sim/1",
            "x-sys009-timestamp": ts,
            "x-sys009-nonce": nonce,
            "x-sys009-serial": serial,
            "x-sys009-signature": paysign.sign_notification(private_pem, ts, nonce, raw),
        }
        out.append(to_event("POST", NOTIFY, "", headers, raw, target, {}, "10.0.0.9"))
    return out


ROUND_TRIPS = [0]


def count_round_trips() -> None:
    """Count round trips to the database (pg8000 flushes its socket once per exchange it waits for)."""
    from pg8000 import core

    flush = core._flush

    def _counted(sock: Any) -> None:
        ROUND_TRIPS[0] += 1
        flush(sock)

    core._flush = _counted


def floors(n: int = 1000) -> dict[str, float]:
    """What the machine gives right now, through the same engine: a bare round trip, and a one-row
    INSERT with its durable commit (the least any callback that keeps something can cost)."""
    from waterrev.db import call_atomic

    call_atomic("CREATE TABLE IF NOT EXISTS bench_floor (id bigserial PRIMARY KEY, v int)")
    out = {}
    for label, statement, args in (
        ("round trip (SELECT 1)", "SELECT 1", ()),
        ("INSERT + commit", "INSERT INTO bench_floor (v) VALUES ($1) RETURNING id", (1,)),
    ):
        times = []
        for _ in range(n):
            t = time.perf_counter()
            call_atomic(statement, *args)
            times.append(time.perf_counter() - t)
        out[label] = statistics.median(times) * 1000
    return out


def timed(target: Any, batch: list[dict[str, Any]]) -> tuple[float, list[float], dict[str, int]]:
    from waterrev.local.gateway import FakeLambdaContext

    context = FakeLambdaContext("ext_pay_notify")
    latencies, outcomes = [], {}
    ROUND_TRIPS[0] = 0
    start = time.perf_counter()
    for event in batch:
        t = time.perf_counter()
        result = target.handler(event, context)
        latencies.append(time.perf_counter() - t)
        body = json.loads(result["body"])
        key = str((body.get("data") or {}).get("writeBackStatus") or body.get("code"))
        outcomes[key] = outcomes.get(key, 0) + 1
    return time.perf_counter() - start, latencies, outcomes


def report(label: str, elapsed: float, latencies: list[float], outcomes: dict[str, int]) -> float:
    ms = sorted(x * 1000 for x in latencies)
    q = statistics.quantiles(ms, n=100)
    rate = len(ms) / elapsed
    print(f"  {label:<34} {len(ms):>6,} callbacks  {elapsed:>7.2f} s  {rate:>8,.0f} /s")
    print(f"  {'':<34} p50 {q[49]:.2f} ms  p90 {q[89]:.2f} ms  p99 {q[98]:.2f} ms  max {ms[-1]:.2f} ms")
    print(
        f"  {'':<34} answers {dict(sorted(outcomes.items()))};"
        f" {ROUND_TRIPS[0] / len(ms):.1f} database round trips per callback"
    )
    return rate


def main() -> None:
    count = int(os.environ.get("BENCH_ORDERS", "2000"))
    print(f"load average {os.getloadavg()}")
    server = database()
    try:
        from waterrev.adapters import paysign
        from waterrev.local.gateway import build_targets
        from waterrev.settings import reset_settings

        private, public = paysign.new_key_pair()
        os.environ["WATERREV_SYS009_PLATFORM_KEYS"] = json.dumps({paysign.key_serial(public): public})
        reset_settings()
        (target,) = [t for t in build_targets() if t.route.method == "POST" and t.route.path == NOTIFY]

        t = time.perf_counter()
        orders = seed_orders(WARM_UP + count + 1)
        warm, distinct, (single,) = orders[:WARM_UP], orders[WARM_UP:-1], orders[-1:]
        distinct_events = events(private, distinct, target)
        duplicate_events = events(private, [single], target) * count
        print(
            f"seeded {len(orders):,} orders and signed {len(distinct_events) + 1:,} notifications"
            f" in {time.perf_counter() - t:.1f} s"
        )
        count_round_trips()
        timed(target, events(private, warm, target))  # untimed: imports, connection, caches
        before = floors()

        print("\nIF-EXT-005 callbacks through the ext_pay_notify handler (in-process, one worker)")
        rate = report("distinct orders (settle + write-off)", *timed(target, distinct_events))
        report("one order, all duplicates", *timed(target, duplicate_events))
        after = floors()
        print("\nthis machine now (p50, before / after the runs):")
        for label in before:
            print(f"  {label:<34} {before[label]:.3f} ms / {after[label]:.3f} ms")
        print(f"  target >= 500 distinct callbacks/s per worker: {'MET' if rate >= 500 else 'NOT MET'}")
    finally:
        from waterrev.db import dispose_engine

        dispose_engine()
        if server is not None:
            server.cleanup()  # type: ignore[attr-defined]
        print(f"load average {os.getloadavg()}")


if __name__ == "__main__":
    main()
