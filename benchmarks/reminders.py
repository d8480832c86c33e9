"""Reminders and the message consumer: the two figures of issue 7, each beside its floor.

1. Reminder generation for 100,000 customers in arrears (override with BENCH_CUSTOMERS): one office,
   every customer with a usable mobile and one bill 40 days overdue; `reminders.generate` exactly as the
   monthly schedule runs it (one worker, one transaction, set-based). A reminder is a task row and its
   message row. The floor writes the same rows, precomputed, with COPY into empty copies of the two
   tables (same indexes). Target: at least 5,000 reminders/s.
2. The consumer against the SYS-010 simulator (BENCH_MESSAGES, default 10,000 messages): SQS events of
   25 records, as the event source mapping hands them, to the consumer handler (`functions/msg_consumer`)
   in one thread - one consumer - with the simulator in a process of its own (SYS-010 is another machine)
   over HTTP on loopback, taking each message and calling nothing back. Printed: messages/s and each batch's time (p50, p99): the longest a message
   spends in the consumer. The floor is the simulator alone: the same signed calls from the same client,
   16 at once, no database. Target: at least 500 messages/s.

Prints figures; asserts nothing.
"""

from __future__ import annotations

import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def database() -> object | None:
    url = os.environ.get("WATERREV_BENCH_DATABASE_URL")
    server = None
    if not url:
        from waterrev.local import pg

        server, base = pg.start(Path(tempfile.mkdtemp(prefix="waterrev-bench-")) / "pgdata", cleanup=True)
        url = pg.create_database(base, "bench_reminders")
    os.environ["WATERREV_DATABASE_URL"] = url
    # personal data is sealed (DECISIONS 115): a key of its own, as `make run` makes one
    os.environ.setdefault(
        "WATERREV_DATA_KEY_FILE", os.path.join(tempfile.mkdtemp(prefix="waterrev-bench-key-"), "data-key")
    )
    os.environ.setdefault("WATERREV_ENV", "bench")
    from waterrev import migrate
    from waterrev.local import demo
    from waterrev.settings import reset_settings

    reset_settings()
    migrate.upgrade()
    demo.load(months=1)
    return server


def seed(customers: int) -> int:
    """An office with its own parameters (no quiet hours), its customers, accounts and overdue bills."""
    from waterrev.db import UnitOfWork

    with UnitOfWork() as uow:
        office = uow.scalar(
            "INSERT INTO system_dept (name, parent_id, tree_path) SELECT '基准营业所', id, tree_path FROM system_dept"
            " WHERE parent_id = 0 ORDER BY id LIMIT 1 RETURNING id"
        )
        uow.execute("UPDATE system_dept SET tree_path = tree_path || id || '/' WHERE id = :d", {"d": office})
        uow.execute(
            "INSERT INTO biz_parameter_settings (config_type, config_code, config_value, dept_id, config_version)"
            " SELECT 'RULE', 'revenue.reminder.quiet-hours', '00:00-00:00', :d, max(config_version) + 1"
            " FROM biz_parameter_settings WHERE config_code = 'revenue.reminder.quiet-hours'",
            {"d": office},
        )
        from benchmarks import sealed

        slots = sealed.mobiles(
            uow, min(customers, 10000)
        )  # sealed as the use case stores them (reminders need them)
        uow.execute(
            "INSERT INTO biz_cust (code, name, cust_type, mobile, mobile_cipher, mobile_index, address, dept_id)"
            " SELECT 'REM' || g, '客户' || g, 'RESIDENT', m.mobile, m.mobile_cipher, m.mobile_index, '地址 ' || g, :d"
            " FROM generate_series(1, :n) g JOIN bench_mobile m ON m.slot = mod(g, :slots)",
            {"n": customers, "d": office, "slots": slots},
        )
        uow.execute(
            "INSERT INTO biz_account (cust_id, account_no) SELECT id, 'ZH' || code FROM biz_cust WHERE dept_id = :d",
            {"d": office},
        )
        uow.execute(
            "INSERT INTO biz_charge (code, cust_id, account_id, bill_period, usage_amount, total_amount, status,"
            " due_date) SELECT 'ZDR' || c.code, c.id, a.id, '2030-01', 12, 20 + mod(c.id, 50), 'UNPAID',"
            " current_date - 40 FROM biz_cust c JOIN biz_account a ON a.cust_id = c.id WHERE c.dept_id = :d",
            {"d": office},
        )
        uow.commit()
    with UnitOfWork() as uow:
        uow.execute("ANALYZE")
        uow.commit()
    return int(office)


def generate(office: int) -> tuple[float, dict[str, object]]:
    from waterrev.context import SYSTEM, RequestContext
    from waterrev.notifications import reminders
    from waterrev.notifications.commands import Generate

    started = time.perf_counter()
    result = reminders.generate(
        RequestContext("bench", SYSTEM), Generate(dept_id=office, trigger_type="AUTO")
    )
    return time.perf_counter() - started, result


def generation_floor(run_no: str) -> tuple[float, int]:
    """COPY the run's task and message rows, precomputed as text, into empty copies of the two tables."""
    from waterrev.db import UnitOfWork, get_engine

    task_cols = (
        "task_no", "event_no", "run_id", "cust_id", "dept_id", "charge_ids", "bill_period", "arrears_amount",
        "strategy_code", "template_code", "channel_type", "trigger_type", "status",
    )  # fmt: skip
    message_cols = ("message_biz_no", "template_code", "receiver", "channel", "cust_id", "source", "payload")
    with UnitOfWork() as uow:
        uow.execute("DROP TABLE IF EXISTS bench_task, bench_message")
        uow.execute("CREATE TABLE bench_task (LIKE biz_reminder_task INCLUDING ALL)")
        uow.execute("CREATE TABLE bench_message (LIKE biz_message INCLUDING ALL)")
        tasks = _copy_text(
            uow,
            f"SELECT {', '.join('t.' + c for c in task_cols)} FROM biz_reminder_task t JOIN biz_reminder_run r"
            " ON r.id = t.run_id WHERE r.run_no = :n",
            {"n": run_no},
        )
        messages = _copy_text(
            uow,
            f"SELECT {', '.join('m.' + c for c in message_cols)} FROM biz_message m JOIN biz_reminder_task t"
            " ON t.event_no = m.message_biz_no JOIN biz_reminder_run r ON r.id = t.run_id WHERE r.run_no = :n",
            {"n": run_no},
        )
        uow.commit()
    raw = get_engine().raw_connection()
    try:
        started = time.perf_counter()
        conn = raw.dbapi_connection
        conn.run(f"COPY bench_task ({', '.join(task_cols)}) FROM STDIN", stream=io.StringIO(tasks[0]))
        conn.run(
            f"COPY bench_message ({', '.join(message_cols)}) FROM STDIN", stream=io.StringIO(messages[0])
        )
        raw.commit()
        return time.perf_counter() - started, tasks[1]
    finally:
        raw.close()


def _copy_text(uow: object, sql: str, params: dict[str, object]) -> tuple[str, int]:
    def text(value: object) -> str:
        if value is None:
            return "\\N"
        if isinstance(value, list):
            return "{" + ",".join(str(v) for v in value) + "}"
        if isinstance(value, dict):
            return json.dumps(value, ensure_ascii=False).replace("\\", "\\\\")
        return str(value)

    rows = uow.all(sql, params)  # type: ignore[attr-defined]
    return "\n".join("\t".join(text(v) for v in r.values()) for r in rows) + "\n", len(rows)


# ---------------------------------------------------------------------------------- the consumer ----
BATCH = 25


def consumer(messages: int) -> tuple[float, list[float], float, list[float]]:
    """(seconds, batch times) of the consumer delivering `messages` queued messages, and (seconds,
    call times) of the floor: the same calls to the simulator without the database."""
    from functions.msg_consumer.handler import handler
    from waterrev.adapters.sys010 import Sys010Client
    from waterrev.db import UnitOfWork
    from waterrev.local import sys010_sim
    from waterrev.local.gateway import FakeLambdaContext
    from waterrev.settings import reset_settings

    sim = _simulator_process()
    os.environ.update(
        WATERREV_SYS010_BASE_URL=sim.base_url,  # type: ignore[attr-defined]
        WATERREV_SYS010_APP_ID=sys010_sim.DEFAULT_APP_ID,
        WATERREV_SYS010_APP_SECRET="bench-secret",
    )
    os.environ.pop("WATERREV_SYS010_CALLBACK_URL", None)  # SYS-010 takes them and calls nothing back
    reset_settings()
    with UnitOfWork() as uow:
        ids = [
            int(i)
            for i in uow.execute(
                "INSERT INTO biz_message (message_biz_no, template_code, receiver, channel, cust_id, source, payload,"
                " dispatch_state) SELECT 'BENCH:' || g, 'PAY_RESULT', '137' || lpad(CAST(g AS text), 8, '0'), 'SMS', 1,"
                " 'BENCH', jsonb_build_object('amount', '12.30', 'collectionCode', 'SK' || g, 'paymentChannel', 'CASH'),"
                " 'QUEUED' FROM generate_series(1, :n) g RETURNING id",
                {"n": messages},
            ).scalars()
        ]
        uow.commit()
    events = [
        {
            "Records": [
                {
                    "messageId": f"bench-{i}",
                    "receiptHandle": None,
                    "body": json.dumps({"messageId": i, "relay": 1}),
                    "attributes": {"ApproximateReceiveCount": "1"},
                    "eventSource": "aws:sqs",
                }
                for i in ids[start : start + BATCH]
            ]
        }
        for start in range(0, len(ids), BATCH)
    ]
    try:
        context = FakeLambdaContext("msg_consumer")
        handler(events[0], context)  # warm: the client, the pool, imports
        batches = []
        started = time.perf_counter()
        for event in events[1:]:
            t = time.perf_counter()
            result = handler(event, context)
            batches.append(time.perf_counter() - t)
            assert not result["batchItemFailures"], result
        elapsed = time.perf_counter() - started

        client = Sys010Client(sim.base_url, sys010_sim.DEFAULT_APP_ID, "bench-secret")  # type: ignore[attr-defined]

        def call(n: int) -> float:
            t = time.perf_counter()
            client.send(
                event_no=f"FLOOR:{n}",
                template_code="PAY_RESULT",
                channel="SMS",
                receiver={"customerId": "1", "mobile": f"136{n:08d}"},
                payload={"amount": "12.30"},
                callback_url=None,
            )
            return time.perf_counter() - t

        started_floor = time.perf_counter()
        with ThreadPoolExecutor(max_workers=16) as pool:
            calls = list(pool.map(call, range(messages - BATCH)))
        floor_s = time.perf_counter() - started_floor
    finally:
        sim.terminate()
        sim.wait(timeout=10)
    return elapsed, batches, floor_s, calls


def _simulator_process() -> subprocess.Popen[str]:
    """The simulator in a process of its own, as SYS-010 is another machine: it must not share the
    consumer's interpreter (and its GIL)."""
    import socket

    import httpx

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "waterrev.local.sys010_sim",
            "--port",
            str(port),
            "--app-secret",
            "bench-secret",
            "--quiet",
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/sim/behaviour", timeout=1).status_code == 200:
                proc.base_url = base  # type: ignore[attr-defined]
                return proc
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.terminate()
    raise RuntimeError("the SYS-010 simulator did not start")


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1] * 1000


def main() -> None:
    customers = int(os.environ.get("BENCH_CUSTOMERS", "100000"))
    messages = int(os.environ.get("BENCH_MESSAGES", "10000"))
    server = database()
    try:
        t = time.perf_counter()
        office = seed(customers)
        print(f"seeded {customers:,} customers in arrears in {time.perf_counter() - t:.1f} s")
        elapsed, result = generate(office)
        created = int(result["createdCount"])  # type: ignore[call-overload]
        floor_s, rows = generation_floor(str(result["runNo"]))
        rate, floor_rate = created / elapsed, rows / floor_s
        print(
            "\nReminder generation (IF-REV-013, one office, one worker, set-based): task + message committed"
        )
        print(f"  reminders                {created:>12,}   candidates {result['candidateCount']:,}")
        print(f"  end to end               {elapsed:>10.2f} s   {rate:>10,.0f} reminders/s")
        print(f"  floor: COPY precomputed  {floor_s:>10.2f} s   {floor_rate:>10,.0f} reminders/s")
        print(f"  ratio to floor           {rate / floor_rate:>12.0%}")
        print(f"  target >= 5,000 reminders/s per worker:     {'MET' if rate >= 5_000 else 'NOT MET'}")

        elapsed, batches, floor_s, calls = consumer(messages)
        delivered = len(batches) * BATCH
        rate, floor_rate = delivered / elapsed, len(calls) / floor_s
        print(
            "\nMessage consumer against the SYS-010 simulator (one consumer, batches of 25, 16 calls at once)"
        )
        print(f"  messages                 {delivered:>12,}")
        print(f"  consumer                 {elapsed:>10.2f} s   {rate:>10,.0f} messages/s")
        print(
            f"  batch of 25: p50 {pct(batches, 50):.1f} ms, p99 {pct(batches, 99):.1f} ms (the longest a message waits in it)"
        )
        print(f"  floor: the calls alone   {floor_s:>10.2f} s   {floor_rate:>10,.0f} messages/s"
              f"   (call p50 {pct(calls, 50):.2f} ms, p99 {pct(calls, 99):.2f} ms)")  # fmt: skip
        print(f"  ratio to floor           {rate / floor_rate:>12.0%}")
        print(f"  target >= 500 messages/s per consumer:      {'MET' if rate >= 500 else 'NOT MET'}")
    finally:
        from waterrev.db import dispose_engine

        dispose_engine()
        if server is not None:
            server.cleanup()  # type: ignore[attr-defined]


if __name__ == "__main__":
    main()
