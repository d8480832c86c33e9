"""Benchmarks of SYS-002: figures printed, nothing asserted (`make bench`).

1. Import time of every built function's handler module, each in fresh processes, against a floor
   (a bare module importing only the Powertools HTTP resolver, SQLAlchemy, pg8000 and pydantic).
   Target: every handler within 1.3x of the floor.
2. IF-CS-002 (历史账单查询) latency, in-process through an API Gateway v2 event, on a real
   PostgreSQL holding 2,000 other customers x 120 bills. Target: p99 under 15 ms.

See benchmarks/README.md for what the figures mean and the latest ones measured.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BENCH_DIR = ROOT / "benchmarks"
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # `functions.<name>.handler`, as the gateway imports them

IMPORT_RUNS = int(os.environ.get("WATERREV_BENCH_IMPORT_RUNS", "7"))  # fresh processes per module
IMPORT_TARGET_RATIO = 1.3
FLOOR_MODULE = "import_floor"

LATENCY_CALLS = 2_000  # timed, the query types taking turns
LATENCY_WARMUP = 100  # untimed, before them
LATENCY_TARGET_P99_MS = 15.0
QUERY_TYPES = ("BILL", "ARREARS", "USAGE")
PAGE_SIZE = 12
HISTORY_MONTHS = 120  # ten years of monthly bills
OTHER_CUSTOMERS = 2_000
BENCH_DATABASE = "waterrev_bench"
CHANNEL_USER = "bench-openid-0001"

CHILD_ENV = {"POWERTOOLS_SERVICE_NAME": "waterrev", "WATERREV_ENV": "bench", "PYTHONDONTWRITEBYTECODE": "1"}

# Runs in a fresh interpreter: the time to import the modules, in seconds, on the last line.
CHILD_CODE = """
import importlib, sys, time
sys.path[:0] = {paths!r}
start = time.perf_counter()
for module in {modules!r}:
    importlib.import_module(module)
print(time.perf_counter() - start)
"""


# ------------------------------------------------------------------------------ import time --


def import_seconds(modules: list[str], paths: list[str]) -> float:
    """Import `modules` in a fresh process; return the time the imports took inside it."""
    env = {**os.environ, **CHILD_ENV}
    code = CHILD_CODE.format(paths=paths, modules=modules)
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"importing {modules} failed:\n{done.stderr}")
    return float(done.stdout.strip().splitlines()[-1])


def median_import_ms(subjects: dict[str, tuple[str, list[str]]], runs: int) -> dict[str, float]:
    """Median import time per subject in ms. One untimed process importing everything first warms
    the OS file cache; then rounds go over all subjects in turn, so drift in the machine's load
    spreads evenly over them."""
    every_path = sorted({p for _, paths in subjects.values() for p in paths})
    import_seconds([module for module, _ in subjects.values()], every_path)
    samples: dict[str, list[float]] = {key: [] for key in subjects}
    for _ in range(runs):
        for key, (module, paths) in subjects.items():
            samples[key].append(import_seconds([module], paths) * 1000)
    return {key: statistics.median(values) for key, values in samples.items()}


def bench_imports() -> None:
    from waterrev import catalog

    # Measure what deploys: `make build` output (functions and the core layer with bytecode compiled
    # for the runtime), as Lambda loads it; the source tree only when no build exists.
    built = ROOT / "build"
    deployed = (built / "functions").is_dir() and (built / "layers" / "core" / "python").is_dir()
    root = [str(built), str(built / "layers" / "core" / "python")] if deployed else [str(ROOT)]
    subjects: dict[str, tuple[str, list[str]]] = {"FLOOR": (FLOOR_MODULE, [str(ROOT), str(BENCH_DIR)])}
    interfaces = {i.function: i for i in catalog.built() if i.function is not None}
    for function in interfaces:
        subjects[function] = (f"functions.{function}.handler", root)

    print(f"\n== Import time per function: median of {IMPORT_RUNS} fresh processes ==")
    print(
        "handlers loaded from "
        + (
            "build/ (make build: precompiled bytecode, as deployed)"
            if deployed
            else "the source tree (no build/: every import compiles our modules)"
        )
    )
    medians = median_import_ms(subjects, IMPORT_RUNS)
    floor = medians.pop("FLOOR")
    print(
        f"floor (resolver + sqlalchemy + pg8000 + pydantic): {floor:.1f} ms;"
        f" target: within {IMPORT_TARGET_RATIO}x of the floor ({floor * IMPORT_TARGET_RATIO:.1f} ms)"
    )
    print(f"{'function':<24}{'IF id':<14}{'median ms':>10}{'x floor':>9}  verdict")
    for function, ms in medians.items():
        ratio = ms / floor
        verdict = "PASS" if ratio <= IMPORT_TARGET_RATIO else "OVER"
        print(f"{function:<24}{interfaces[function].if_id:<14}{ms:>10.1f}{ratio:>9.2f}  {verdict}")
    passed = sum(ms / floor <= IMPORT_TARGET_RATIO for ms in medians.values())
    print(f"{passed}/{len(medians)} within {IMPORT_TARGET_RATIO}x")


# --------------------------------------------------------------------------- the database --


@contextmanager
def bench_database() -> Iterator[str]:
    """A PostgreSQL URL for the bench database: WATERREV_BENCH_DATABASE_URL's server if set,
    else an embedded one in a temporary folder, stopped and removed at the end."""
    from waterrev.local import pg

    base = os.environ.get("WATERREV_BENCH_DATABASE_URL")
    if base:
        yield pg.create_database(base, BENCH_DATABASE)
        return
    # pgserver keeps lock files under XDG_RUNTIME_DIR and touches them again at exit: give it one
    # lasting folder rather than one inside the temporary folder removed below.
    runtime = Path(tempfile.gettempdir()) / "waterrev-bench-runtime"
    runtime.mkdir(mode=0o700, exist_ok=True)
    os.environ.setdefault("XDG_RUNTIME_DIR", str(runtime))
    folder = Path(tempfile.mkdtemp(prefix="waterrev-bench-"))
    folder.chmod(0o755)  # under root, pgserver runs postgres as its own OS user
    server, base = pg.start(folder / "pgdata", cleanup=True)
    try:
        yield pg.create_database(base, BENCH_DATABASE)
    finally:
        from waterrev.db import dispose_engine

        dispose_engine()
        server.cleanup()
        shutil.rmtree(folder, ignore_errors=True)


def prepare_schema(url: str) -> None:
    """Empty the bench database, point the core at it, migrate, load the demo set."""
    from sqlalchemy import create_engine, text

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
    from waterrev import migrate
    from waterrev.db import dispose_engine
    from waterrev.local import demo
    from waterrev.settings import reset_settings

    reset_settings()
    dispose_engine()
    migrate.upgrade()
    demo.load()


# Customers, accounts and bills in set-based SQL. Bills go in period by period, as monthly bill
# runs write them, so one customer's 120 rows lie scattered over the table and the index matters.
SEED_CUSTOMERS = """
INSERT INTO biz_cust (code, name, cust_type, mobile, address, dept_id)
SELECT 'BK' || lpad(g::text, 10, '0'), '压测客户' || g, 'RESIDENT', '138' || lpad(g::text, 8, '0'),
       '鼓楼区压测路 ' || g || ' 号', :dept
FROM generate_series(1, :n) AS g ORDER BY g
"""
SEED_ACCOUNTS = """
INSERT INTO biz_account (cust_id, account_no)
SELECT id, 'ZH' || code FROM biz_cust WHERE left(code, 2) = 'BK' ORDER BY id
"""
SEED_BILLS = """
INSERT INTO biz_charge (code, cust_id, account_id, bill_period, usage_amount, total_amount, paid_amount,
                        status, due_date, paid_time)
SELECT 'ZDBK' || a.id || '-' || m, a.cust_id, a.id,
       to_char(date_trunc('month', now()) - make_interval(months => m), 'YYYY-MM'),
       10 + mod(a.id + m, 9), (10 + mod(a.id + m, 9)) * 3.45,
       CASE WHEN m <= 2 THEN 0 ELSE (10 + mod(a.id + m, 9)) * 3.45 END,
       CASE WHEN m <= 2 THEN 'UNPAID' ELSE 'PAID' END,
       CAST(date_trunc('month', now()) - make_interval(months => m) + interval '27 days' AS date),
       CASE WHEN m <= 2 THEN NULL ELSE date_trunc('month', now()) - make_interval(months => m)
            + interval '19 days' END
FROM generate_series(:months, 1, -1) AS m
CROSS JOIN biz_account AS a
JOIN biz_cust AS c ON c.id = a.cust_id AND left(c.code, 2) = 'BK'
ORDER BY m DESC, a.id
"""


def seed_bills() -> tuple[int, str]:
    """2,001 customers with 120 bills each, the first one bound to a channel user; return its
    customer id and a live MEMBER access token."""
    from waterrev.context import UserType
    from waterrev.db import UnitOfWork
    from waterrev.platform.auth import issue_tokens

    with UnitOfWork() as uow:
        dept = uow.scalar("SELECT id FROM system_dept WHERE name = '鼓楼营业所'")
        uow.execute(SEED_CUSTOMERS, {"dept": dept, "n": OTHER_CUSTOMERS + 1})
        uow.execute(SEED_ACCOUNTS)
        if uow.scalar("SELECT rolsuper FROM pg_roles WHERE rolname = current_user"):
            # The rows reference accounts by construction: skip the FK triggers, twice as fast.
            uow.execute("SET LOCAL session_replication_role = replica")
        uow.execute(SEED_BILLS, {"months": HISTORY_MONTHS})
        uow.execute("SET LOCAL session_replication_role = DEFAULT")
        target = uow.one(
            "SELECT c.id AS cust_id, a.id AS account_id FROM biz_cust c"
            " JOIN biz_account a ON a.cust_id = c.id WHERE c.code = 'BK0000000001'"
        )
        if target is None:
            raise RuntimeError("the benchmark customer was not created")
        member = uow.scalar(
            "INSERT INTO biz_channel_user (channel_type, channel_user_id, last_login_time)"
            " VALUES ('WECHAT', :u, now()) RETURNING id",
            {"u": CHANNEL_USER},
        )
        uow.execute(
            "INSERT INTO biz_cust_app_binds (channel_type, channel_user_id, cust_id, account_id,"
            " is_default) VALUES ('WECHAT', :u, :c, :a, true)",
            {"u": CHANNEL_USER, "c": target["cust_id"], "a": target["account_id"]},
        )
        token = issue_tokens(uow, member, UserType.MEMBER)["accessToken"]
        uow.commit()
    with UnitOfWork() as uow:
        uow.execute("ANALYZE")  # fresh statistics, as autovacuum would leave them after a bill run
        uow.commit()
    return int(target["cust_id"]), str(token)


# ------------------------------------------------------------------------- CS-002 latency --


def history_caller(cust_id: int, token: str) -> Callable[[str], dict[str, Any]]:
    """A function that sends one IF-CS-002 request of a query type through the Lambda handler."""
    import re
    import threading

    from waterrev import catalog
    from waterrev.local.gateway import Environments, FakeLambdaContext, Target, load_handler, to_event

    interface = catalog.by_id("IF-CS-002")
    assert interface.function is not None
    route = interface.routes[0]
    target = Target(
        interface,
        route,
        re.compile(re.escape(route.path)),
        load_handler(interface.function).handler,
        Environments(interface.function, threading.BoundedSemaphore(1)),
    )
    headers = {"authorization": f"Bearer {token}", "user-agent": "waterrev-bench"}
    function = interface.function

    def call(query_type: str) -> dict[str, Any]:
        query = f"custId={cust_id}&queryType={query_type}&pageNo=1&pageSize={PAGE_SIZE}"
        event = to_event("GET", route.path, query, headers, b"", target, {}, "10.0.0.8")
        return target.handler(event, FakeLambdaContext(function))

    return call


def check_replies(call: Callable[[str], dict[str, Any]]) -> None:
    """Refuse to time error paths: every query type must answer 200 with a page of bills."""
    import json

    for query_type in QUERY_TYPES:
        reply = call(query_type)
        body = json.loads(reply["body"])
        if reply["statusCode"] != 200 or body["code"] != 0:
            raise RuntimeError(f"{query_type}: {reply['statusCode']} {body}")
        data = body["data"]
        print(
            f"  {query_type:<8} total {data['total']:>4}, page of {len(data['list'])},"
            f" newest period {data['list'][0]['billPeriod'] if data['list'] else '-'}"
        )


ROUND_TRIPS = [0]


def count_round_trips() -> None:
    """Count round trips to the database: pg8000 flushes its socket once per exchange it waits for."""
    from pg8000 import core

    flush = core._flush

    def counted(sock: Any) -> None:
        ROUND_TRIPS[0] += 1
        flush(sock)

    core._flush = counted


def round_trip_floor_ms(n: int = 1000) -> float:
    """The p50 of a bare round trip (`SELECT 1`) through the same engine: what this machine gives
    right now. A request costs about its round trips times this, plus its Python and the queries."""
    from waterrev.db import call_atomic

    times = []
    for _ in range(n):
        start = time.perf_counter()
        call_atomic("SELECT 1")
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def latencies_ms(call: Callable[[str], dict[str, Any]]) -> dict[str, list[float]]:
    """Time LATENCY_CALLS requests after LATENCY_WARMUP untimed ones, the query types taking turns."""
    for n in range(LATENCY_WARMUP):
        call(QUERY_TYPES[n % len(QUERY_TYPES)])
    samples: dict[str, list[float]] = {query_type: [] for query_type in QUERY_TYPES}
    ROUND_TRIPS[0] = 0
    for n in range(LATENCY_CALLS):
        query_type = QUERY_TYPES[n % len(QUERY_TYPES)]
        start = time.perf_counter()
        call(query_type)
        samples[query_type].append((time.perf_counter() - start) * 1000)
    return samples


def summary(samples: list[float]) -> str:
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    p50, p90, p99 = cuts[49], cuts[89], cuts[98]
    verdict = "PASS" if p99 < LATENCY_TARGET_P99_MS else "OVER"
    return f"{p50:>7.2f}{p90:>7.2f}{p99:>7.2f}{max(samples):>8.2f}  {verdict}"


def bench_history() -> None:
    print(
        f"\n== IF-CS-002 in-process latency: {LATENCY_CALLS} calls ({', '.join(QUERY_TYPES)} in turn)"
        f" after {LATENCY_WARMUP} warm-up calls =="
    )
    started = time.perf_counter()
    os.environ.setdefault("WATERREV_ENV", CHILD_ENV["WATERREV_ENV"])
    os.environ.setdefault("POWERTOOLS_SERVICE_NAME", CHILD_ENV["POWERTOOLS_SERVICE_NAME"])
    with bench_database() as url:
        prepare_schema(url)
        cust_id, token = seed_bills()
        print(
            f"database ready in {time.perf_counter() - started:.1f} s: {OTHER_CUSTOMERS + 1} customers x"
            f" {HISTORY_MONTHS} bills; customer {cust_id} bound to a channel user"
        )
        call = history_caller(cust_id, token)
        check_replies(call)
        count_round_trips()
        floor_before = round_trip_floor_ms()
        print(f"target: p99 under {LATENCY_TARGET_P99_MS:.0f} ms; figures in ms")
        print(f"{'queryType':<10}{'p50':>7}{'p90':>7}{'p99':>7}{'max':>8}  verdict")
        samples = latencies_ms(call)
        for query_type, figures in samples.items():
            print(f"{query_type:<10}{summary(figures)}")
        print(f"{'all':<10}{summary([ms for figures in samples.values() for ms in figures])}")
        print(f"database round trips per request: {ROUND_TRIPS[0] / LATENCY_CALLS:.1f}")
        print(
            f"floor, this machine now (p50 of a bare round trip, before / after the run):"
            f" {floor_before:.3f} / {round_trip_floor_ms():.3f} ms"
        )


def load() -> str:
    """The OS load average: figures taken on a busy machine are slower and noisier."""
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f} (1 min), {five:.2f} (5 min)"


def main(argv: list[str]) -> None:
    """Both benchmarks by default; `run.py imports` or `run.py latency` runs one."""
    chosen = set(argv) or {"imports", "latency"}
    started = time.perf_counter()
    print(f"SYS-002 benchmarks: Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, {load()}")
    if "imports" in chosen:
        bench_imports()
    if "latency" in chosen:
        bench_history()
    print(f"\ntotal {time.perf_counter() - started:.1f} s; {load()}")


if __name__ == "__main__":
    main(sys.argv[1:])
