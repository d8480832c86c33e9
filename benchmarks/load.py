"""A bounded load test of the local stack with a month-end mix (`make load`): no errors, p99 per route
beside the database floor of the same run.

The stack is the one `make run` starts (`python -m waterrev.local.run` in a process of its own: the HTTP
gateway, moto's Step Functions and queues, the simulators) on an embedded PostgreSQL this script starts
first, so it can seed the book and measure the floors in the same database. The SYS-009 simulator runs
in this process with a key pair made here, so the load's callbacks are signed as the simulator signs
them (`make run` starts its own; the stack skips it when WATERREV_SYS009_BASE_URL is set).

The book (seeded before the stack starts): LOAD_CUSTOMERS customers (default 4,000) with a meter each,
twelve months read (2029-01..12) and billed by the real bill run (`billing.generate`), the first six
months paid at the counter (`rev_write_off`), the last six unpaid; a reading for 2030-01 waits for the
bill run of the load. Half the customers are bound to a WeChat user each (the online payers), the other
half pay at the counter. LOAD_FLOOR_CUSTOMERS more (default 600) give the floor its own bills and orders.

For LOAD_SECONDS (default 300), concurrently:
- LOAD_HISTORY_CLIENTS (4) threads ask IF-CS-002 for a random online customer's BILL / ARREARS / USAGE /
  PAYMENT page of 12;
- LOAD_ORDER_CLIENTS (2) threads each order one unpaid bill online (IF-CS-003; one order per user every
  7 s, under the route's limit of 10 a minute), then post SYS-009's signed SUCCESS notification for it
  (IF-EXT-005), as the simulator would;
- LOAD_COUNTER_CLIENTS (1) threads collect one unpaid bill in cash at the counter (IF-REV-006);
- at half time the 2030-01 bill run starts (IF-REV-005 bill-run) and is followed to its end;
- one thread measures the floor: every 0.25 s, on its own connection, the core SQL of each route run
  directly - the history page's three SELECTs, the order's two INSERTs (into copies of the tables, with
  their unique keys: the idempotency record), `pay_notify_accept` on an order of its own and the
  counter's locks + `rev_write_off` on a bill of its own, each with its commit.

Any reply other than 200 with code 0 is an error and is printed; the exit status is 1 on any error or if
the bill run does not succeed. Figures are printed, not asserted.
"""

from __future__ import annotations

import datetime as dt
import json
import multiprocessing
import os
import random
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SECONDS = int(os.environ.get("LOAD_SECONDS", "300"))
CUSTOMERS = int(os.environ.get("LOAD_CUSTOMERS", "4000"))
FLOOR_CUSTOMERS = int(os.environ.get("LOAD_FLOOR_CUSTOMERS", "600"))
HISTORY_CLIENTS = int(os.environ.get("LOAD_HISTORY_CLIENTS", "4"))
ORDER_CLIENTS = int(os.environ.get("LOAD_ORDER_CLIENTS", "2"))
COUNTER_CLIENTS = int(os.environ.get("LOAD_COUNTER_CLIENTS", "1"))

PERIODS = tuple(f"2029-{m:02d}" for m in range(1, 13))
PAID_BEFORE = "2029-07"  # the periods before it are paid at seeding; the six from it are unpaid
RUN_PERIOD = "2030-01"  # read, not billed: the load's bill run bills it
DUE = dt.date(2030, 2, 15)  # after today: no late-payment penalty, an order pays the bill's total
USER_PAUSE_S = 7.0  # one order per channel user per 7 s: under IF-CS-003's 10 a minute
FLOOR_EVERY_S = 0.25
QUERY_TYPES = ("BILL", "ARREARS", "USAGE", "PAYMENT")
NOTIFY = "/open-api/pay/notify"

ROUTES = {
    "history": "IF-CS-002 GET bill/history",
    "order": "IF-CS-003 POST payment/order",
    "callback": "IF-EXT-005 POST pay/notify",
    "counter": "IF-REV-006 POST collection/create",
    "bill-run": "IF-REV-005 POST charge/bill-run",
    "bill-run-status": "IF-REV-005 GET bill-run/{runNo}",
}
FLOORS = {
    "history": "count + page + lines SELECTs",
    "order": "2 INSERTs (order, its bill) + commit",
    "callback": "pay_notify_accept() + commit",
    "counter": "2 locks + rev_write_off() + commit",
}


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} / {five:.2f} / {fifteen:.2f} (1 / 5 / 15 min)"


# ------------------------------------------------------------------------------ the database --


def start_database(folder: Path) -> Any:
    """An embedded PostgreSQL in `folder`, migrated, with the demo set; WATERREV_DATABASE_URL set."""
    from waterrev.local import pg

    os.environ.setdefault("XDG_RUNTIME_DIR", str(folder))
    server, base = pg.start(folder / "pgdata", cleanup=True)
    os.environ["WATERREV_DATABASE_URL"] = pg.create_database(base, "waterrev_load")
    os.environ.setdefault("WATERREV_ENV", "local")
    os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "waterrev")
    os.environ["WATERREV_DATA_KEY_FILE"] = str(folder / "data-key")  # the stack's, as `make run` makes it
    os.environ["WATERREV_DB_POOL_SIZE"] = (
        "1"  # seeding: one connection, one backend to measure (not the stack's)
    )
    from waterrev import migrate
    from waterrev.local import demo
    from waterrev.settings import reset_settings

    reset_settings()
    migrate.upgrade()
    demo.load(months=1)
    return server


def read_period(period: str) -> None:
    """A reading task and a VALID reading of 5-59 m3 for every load customer's meter."""
    from waterrev.db import UnitOfWork

    mine = "(c.code LIKE 'LD%' OR c.code LIKE 'LF%')"
    with UnitOfWork() as uow:
        uow.execute(
            "INSERT INTO biz_meter_read (meter_id, cust_id, bill_period, status) SELECT cm.meter_id, cm.cust_id,"
            f" :p, 'READ' FROM biz_cust_meter cm JOIN biz_cust c ON c.id = cm.cust_id WHERE {mine}",
            {"p": period},
        )
        uow.execute(
            "INSERT INTO biz_reading_data (meter_read_id, meter_id, cust_id, bill_period, read_time,"
            " previous_reading, current_reading, usage_amount, read_type, validate_status, status)"
            " SELECT t.id, t.meter_id, t.cust_id, t.bill_period, now(), 0, u, u, 'MANUAL', 'PASS', 'VALID'"
            " FROM biz_meter_read t JOIN biz_cust c ON c.id = t.cust_id,"
            " LATERAL (SELECT round((5 + mod(t.id * 37, 55))::numeric, 2) AS u) v"
            f" WHERE t.bill_period = :p AND {mine} AND NOT EXISTS"
            " (SELECT 1 FROM biz_reading_data r WHERE r.meter_read_id = t.id)",
            {"p": period},
        )
        uow.commit()


@dataclass
class Book:
    online: list[tuple[int, str]]  # (customer id, its WeChat user's access token)
    unpaid: dict[int, deque[tuple[int, str]]]  # customer id -> its unpaid bills (id, total), oldest first
    counter: list[int]  # customers paying at the counter
    floor_orders: deque[tuple[str, str, str]]  # (bizOrderNo, tradeNo, amount) PAYING, for the floor
    floor_bills: deque[tuple[int, int, int, str]]  # (customer, account, bill, total) for the floor


def seed() -> Book:
    from benchmarks import bill_run
    from waterrev import audit
    from waterrev.billing import generate as billing
    from waterrev.billing.commands import GenerateBills
    from waterrev.context import SYSTEM, RequestContext, UserType
    from waterrev.db import UnitOfWork
    from waterrev.platform.auth import issue_tokens

    ctx = RequestContext("load-seed", SYSTEM)
    bill_run.seed(CUSTOMERS, prefix="LD", period=PERIODS[0])
    bill_run.seed(FLOOR_CUSTOMERS, prefix="LF", period=PERIODS[0])
    with UnitOfWork() as uow:  # no prepaid balances: the bill run would pay the unpaid bills from them
        uow.execute("UPDATE biz_account SET balance = 0 WHERE account_no LIKE 'ZHL%'")
        uow.commit()
    for period in (*PERIODS[1:], RUN_PERIOD):  # bill_run.seed read the first
        read_period(period)
    # The twelve bill runs are measured on the way: the CPU of this process and of its database backend
    # (one connection: WATERREV_DB_POOL_SIZE=1 while seeding), and the bytes a bill takes with its lines.
    pid, billed = bill_run.backend_pid(), 0
    backend, worker, started = bill_run.cpu_of(pid), time.process_time(), time.perf_counter()
    for period in PERIODS:
        done = billing.generate(ctx, GenerateBills(bill_period=period, due_date=DUE), keep_lists=False)
        billed += int(done["generateCount"])
    wall, worker = time.perf_counter() - started, time.process_time() - worker
    backend_after = bill_run.cpu_of(pid)
    with UnitOfWork() as uow:
        size = uow.one(
            "SELECT pg_total_relation_size('biz_charge') AS charge, pg_total_relation_size('biz_charge_detail')"
            " AS detail, (SELECT count(*) FROM biz_charge) AS bills, (SELECT count(*) FROM biz_charge_detail) AS lines"
        )
    assert size is not None
    print(f"seed bill runs: {billed:,} bills ({len(PERIODS)} runs) in {wall:.1f} s", end="")
    if backend is not None and backend_after is not None:
        db = backend_after - backend
        print(
            f"; CPU {worker + db:.1f} s ({billed / (worker + db):,.0f} bills per CPU-second): this process"
            f" {worker:.1f} s, its database backend {db:.1f} s ({db / (worker + db):.0%})",
            end="",
        )
    print(
        f"\nsize: biz_charge {size['charge'] / size['bills']:,.0f} bytes a bill, biz_charge_detail"
        f" {size['detail'] / size['lines']:,.0f} bytes a line ({size['lines'] / size['bills']:.1f} lines a bill),"
        f" indexes included; {(size['charge'] + size['detail']) / size['bills']:,.0f} bytes a bill with its lines"
    )
    actor = audit.actor(ctx).replace("'", "''")
    with UnitOfWork() as uow:  # the older half of the year paid at the counter, as it was
        uow.execute(
            "DO $$ DECLARE r record; BEGIN FOR r IN SELECT b.id, b.cust_id, b.account_id, b.total_amount"
            " FROM biz_charge b JOIN biz_cust c ON c.id = b.cust_id WHERE b.bill_period < '"
            + PAID_BEFORE
            + "' AND (c.code LIKE 'LD%' OR c.code LIKE 'LF%') AND b.status = 'UNPAID' ORDER BY b.id LOOP"
            f" PERFORM rev_write_off(p_actor => '{actor}'::jsonb, p_cust_id => r.cust_id,"
            " p_account_id => r.account_id, p_charge_ids => ARRAY[r.id], p_amount => r.total_amount,"
            " p_channel => 'CASH', p_source => 'COUNTER', p_trade_no => NULL, p_idempotency_key => NULL,"
            " p_code => 'LS' || r.id, p_actual_amount => r.total_amount, p_outlet => NULL,"
            " p_remark => 'load seed', p_operator_id => NULL); END LOOP; END $$"
        )
        uow.commit()
    with UnitOfWork() as uow:
        rows = uow.all(
            "SELECT c.id AS cust_id, c.code, a.id AS account_id, b.id, b.total_amount, b.bill_period"
            " FROM biz_cust c JOIN biz_account a ON a.cust_id = c.id JOIN biz_charge b ON b.cust_id = c.id"
            " WHERE (c.code LIKE 'LD%' OR c.code LIKE 'LF%') AND b.status = 'UNPAID'"
            " ORDER BY c.id, b.bill_period, b.id"
        )
    unpaid: dict[int, deque[tuple[int, str]]] = {}
    floor: dict[int, list[dict[str, Any]]] = {}
    for r in rows:
        if r["code"].startswith("LD"):
            unpaid.setdefault(int(r["cust_id"]), deque()).append((int(r["id"]), f"{r['total_amount']:.2f}"))
        else:
            floor.setdefault(int(r["cust_id"]), []).append(r)
    customers = sorted(unpaid)
    online_ids, counter = customers[: len(customers) // 2], customers[len(customers) // 2 :]

    online = []
    with UnitOfWork() as uow:
        for cust_id in online_ids:
            openid = f"load-{cust_id}"
            member = uow.scalar(
                "INSERT INTO biz_channel_user (channel_type, channel_user_id, last_login_time)"
                " VALUES ('WECHAT', :u, now()) RETURNING id",
                {"u": openid},
            )
            uow.execute(
                "INSERT INTO biz_cust_app_binds (channel_type, channel_user_id, cust_id, account_id, is_default)"
                " SELECT 'WECHAT', :u, cust_id, id, true FROM biz_account WHERE cust_id = :c",
                {"u": openid, "c": cust_id},
            )
            online.append((cust_id, str(issue_tokens(uow, member, UserType.MEMBER)["accessToken"])))
        # the floor's callbacks settle orders of their own: the first half of each floor customer's bills
        floor_orders: deque[tuple[str, str, str]] = deque()
        floor_bills: deque[tuple[int, int, int, str]] = deque()
        for cust_id, bills in floor.items():
            half = len(bills) // 2
            for b in bills[:half]:
                order_no, trade_no, amount = f"DDLF{b['id']:010d}", f"TLF{b['id']:010d}", b["total_amount"]
                uow.execute(
                    "INSERT INTO bk_transaction (biz_order_no, trade_no, cust_id, channel_code, scene, trade_amount,"
                    " status, expire_time, request_key, next_query_time) VALUES (:o, :t, :c, 'WECHAT', 'ONLINE',"
                    " :a, 'PAYING', now() + interval '2 hours', :k, now() + interval '1 day')",
                    {"o": order_no, "t": trade_no, "c": cust_id, "a": amount, "k": f"load-floor|{b['id']}"},
                )
                uow.execute(
                    "INSERT INTO biz_order_charge (biz_order_no, charge_id, amount) VALUES (:o, :b, :a)",
                    {"o": order_no, "b": b["id"], "a": amount},
                )
                floor_orders.append((order_no, trade_no, f"{amount:.2f}"))
            for b in bills[half:]:
                floor_bills.append((cust_id, int(b["account_id"]), int(b["id"]), f"{b['total_amount']:.2f}"))
        for table in ("bk_transaction", "biz_order_charge"):  # the order floor writes into copies
            uow.execute(f"CREATE TABLE load_floor_{table} (LIKE {table} INCLUDING ALL)")
        uow.commit()
    with UnitOfWork() as uow:
        uow.execute("ANALYZE")
        uow.commit()
    return Book(online, unpaid, counter, floor_orders, floor_bills)


# ------------------------------------------------------------------------------------ stack --


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Stack:
    """`python -m waterrev.local.run` in a process of its own, its output kept in a file."""

    def __init__(self, folder: Path, sys009_env: dict[str, str], port: int) -> None:
        self.base = f"http://127.0.0.1:{port}"
        self.log_path = folder / "stack.log"
        env = {**os.environ, **sys009_env, "WATERREV_PORT": str(port), "WATERREV_STATE_DIR": str(folder)}
        self._log = self.log_path.open("w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "waterrev.local.run"],
            cwd=ROOT,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def wait_ready(self, timeout_s: float = 120) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if "local stack on" in self.log_path.read_text(errors="replace"):
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.2)
        raise RuntimeError("the stack did not start:\n" + self.log_path.read_text(errors="replace")[-4000:])

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(2)  # SIGINT: the stack stops its servers and exits
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self._log.close()


def start_sys009(notify_base: str) -> tuple[Any, str, dict[str, str]]:
    """The SYS-009 simulator in this process with a key pair made here: (simulator, private key PEM, the
    stack's environment for it)."""
    from waterrev.adapters import paysign
    from waterrev.local import sys009_sim

    private, _ = paysign.new_key_pair()
    app_id, app_secret = "waterrev-load", secrets.token_hex(16)
    sim = sys009_sim.start(
        port=0, app_id=app_id, app_secret=app_secret, retry_scale=0.01, private_keys=[private]
    )
    env = {
        "WATERREV_SYS009_BASE_URL": sim.base_url,
        "WATERREV_SYS009_APP_ID": app_id,
        "WATERREV_SYS009_APP_SECRET": app_secret,
        "WATERREV_SYS009_PLATFORM_KEYS": json.dumps(sim.public_keys()),
        "WATERREV_SYS009_NOTIFY_URL": f"{notify_base}{NOTIFY}",
    }
    return sim, private, env


# ------------------------------------------------------------------------------------- load --


@dataclass
class Figures:
    lock: threading.Lock = field(default_factory=threading.Lock)
    times: dict[str, list[float]] = field(default_factory=dict)  # route -> ms
    floors: dict[str, list[float]] = field(default_factory=dict)  # route -> ms
    errors: list[str] = field(default_factory=list)
    bill_run: dict[str, Any] = field(default_factory=dict)

    def add(self, kind: str, route: str, ms: float) -> None:
        with self.lock:
            (self.times if kind == "route" else self.floors).setdefault(route, []).append(ms)

    def error(self, route: str, what: str) -> None:
        with self.lock:
            self.errors.append(f"{ROUTES[route]}: {what}")


def timed(
    figures: Figures, route: str, http: Any, method: str, path: str, **request: Any
) -> dict[str, Any] | None:
    """Send one request, time it, and return its data when it is 200 with code 0 (else an error)."""
    import httpx

    started = time.perf_counter()
    try:
        reply = http.request(method, path, **request)
    except httpx.HTTPError as exc:
        figures.error(route, f"{type(exc).__name__}: {exc}")
        return None
    figures.add("route", route, (time.perf_counter() - started) * 1000)
    try:
        body = reply.json()
    except ValueError:
        body = None
    if reply.status_code != 200 or not isinstance(body, dict) or body.get("code") != 0:
        figures.error(route, f"{reply.status_code} {reply.text[:300]}")
        return None
    data = body.get("data")
    return data if isinstance(data, dict) else {"data": data}


def signed_success(private: str, order: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    """SYS-009's SUCCESS notification for an order, signed as the simulator signs it."""
    from waterrev.adapters import paysign

    body = {
        "id": secrets.token_hex(16),
        "tradeNo": order["tradeNo"],
        "businessOrderNo": order["bizOrderNo"],
        "tradeStatus": "SUCCESS",
        "tradeAmount": order["amount"],
        "successAmount": order["amount"],
        "channelCode": "WECHAT",
        "notifyTime": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    raw = json.dumps(body, separators=(",", ":")).encode()
    ts, nonce = str(int(time.time())), secrets.token_hex(16)
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "X-Sys009-Timestamp": ts,
        "X-Sys009-Nonce": nonce,
        "X-Sys009-Serial": paysign.key_serial(paysign.public_pem_of(private)),
        "X-Sys009-Signature": paysign.sign_notification(private, ts, nonce, raw),
    }
    return raw, headers


class Load:
    def __init__(self, base: str, book: Book, private: str, admin_token: str) -> None:
        self.base, self.book, self.private = base, book, private
        self.admin = {"Authorization": f"Bearer {admin_token}"}
        self.figures = Figures()
        self.stop = threading.Event()
        self.pick = threading.Lock()
        now = time.monotonic()
        self.payers: deque[tuple[float, int, str]] = deque((now, c, t) for c, t in book.online)
        self.counter = deque(book.counter)
        self.exhausted: set[str] = set()

    def client(self) -> Any:
        import httpx

        return httpx.Client(base_url=self.base, timeout=30)

    def history(self, seed: int) -> None:
        rng = random.Random(seed)
        with self.client() as http:
            n = 0
            while not self.stop.is_set():
                cust_id, token = rng.choice(self.book.online)
                query = QUERY_TYPES[n % len(QUERY_TYPES)]
                n += 1
                params = {"custId": cust_id, "queryType": query, "pageNo": 1, "pageSize": 12}
                headers = {"Authorization": f"Bearer {token}"}
                timed(
                    self.figures,
                    "history",
                    http,
                    "GET",
                    "/app-api/customer/bill/history",
                    params=params,
                    headers=headers,
                )

    def next_payer(self) -> tuple[int, str, tuple[int, str]] | None:
        """A channel user free to order (its last order 7 s ago or more) and its oldest unpaid bill."""
        while not self.stop.is_set():
            with self.pick:
                if not self.payers:
                    self.exhausted.add("order")
                    return None
                ready, cust_id, token = self.payers[0]
                if ready <= time.monotonic():
                    self.payers.popleft()
                    bill = self.book.unpaid[cust_id].popleft()
                    if self.book.unpaid[cust_id]:
                        self.payers.append((time.monotonic() + USER_PAUSE_S, cust_id, token))
                    return cust_id, token, bill
            time.sleep(0.05)
        return None

    def orders(self) -> None:
        with self.client() as http:
            while (payer := self.next_payer()) is not None:
                cust_id, token, (charge_id, amount) = payer
                request = {
                    "custId": cust_id,
                    "chargeIds": [charge_id],
                    "paymentChannel": "WECHAT",
                    "paymentAmount": amount,
                }
                headers = {"Authorization": f"Bearer {token}"}
                order = timed(
                    self.figures,
                    "order",
                    http,
                    "POST",
                    "/app-api/customer/payment/order",
                    json=request,
                    headers=headers,
                )
                if order is None:
                    continue
                raw, signed = signed_success(self.private, {**order, "amount": amount})
                accepted = timed(self.figures, "callback", http, "POST", NOTIFY, content=raw, headers=signed)
                if accepted is not None and accepted.get("writeBackStatus") not in ("SUCCESS", None):
                    self.figures.error("callback", f"writeBackStatus {accepted}")

    def counters(self) -> None:
        with self.client() as http:
            while not self.stop.is_set():
                with self.pick:
                    if not self.counter:
                        self.exhausted.add("counter")
                        return
                    cust_id = self.counter.popleft()
                    charge_id, amount = self.book.unpaid[cust_id].popleft()
                    if self.book.unpaid[cust_id]:
                        self.counter.append(cust_id)
                request = {
                    "custId": cust_id,
                    "chargeIds": [charge_id],
                    "paymentChannel": "CASH",
                    "paymentAmount": amount,
                    "actualAmount": amount,
                }
                paid = timed(
                    self.figures,
                    "counter",
                    http,
                    "POST",
                    "/admin-api/revenue/collection/create",
                    json=request,
                    headers=self.admin,
                )
                if paid is not None and paid.get("writeOffStatus") != "SUCCESS":
                    self.figures.error("counter", f"writeOffStatus {paid}")

    def bill_run(self, start_after_s: float) -> None:
        if self.stop.wait(start_after_s):
            return
        with self.client() as http:
            started = time.perf_counter()
            run = timed(
                self.figures,
                "bill-run",
                http,
                "POST",
                "/admin-api/revenue/charge/bill-run",
                json={"billPeriod": RUN_PERIOD, "dueDate": (DUE + dt.timedelta(days=31)).isoformat()},
                headers=self.admin,
            )
            if run is None:
                return
            self.figures.bill_run["started_at_s"] = start_after_s
            while True:  # followed to its end, even past the load's time
                time.sleep(1.0)
                t = time.perf_counter()
                reply = http.get(f"/admin-api/revenue/charge/bill-run/{run['runNo']}", headers=self.admin)
                body = reply.json()
                if body.get("code") == 404 or (body.get("code") == 0 and body["data"]["status"] == "RUNNING"):
                    self.figures.add("route", "bill-run-status", (time.perf_counter() - t) * 1000)
                    continue  # 404 until the workflow's first step has recorded the run
                self.figures.add("route", "bill-run-status", (time.perf_counter() - t) * 1000)
                data = body.get("data") or {}
                self.figures.bill_run.update(data, seconds=time.perf_counter() - started)
                if body.get("code") != 0 or data.get("status") != "SUCCEEDED" or data.get("failureCount"):
                    self.figures.error("bill-run-status", f"{reply.status_code} {reply.text[:300]}")
                return

    def run(self, seconds: float) -> None:
        threads = [threading.Thread(target=self.history, args=(i,)) for i in range(HISTORY_CLIENTS)]
        threads += [threading.Thread(target=self.orders) for _ in range(ORDER_CLIENTS)]
        threads += [threading.Thread(target=self.counters) for _ in range(COUNTER_CLIENTS)]
        runner = threading.Thread(target=self.bill_run, args=(seconds / 2,))
        spawn = multiprocessing.get_context("spawn")
        results = spawn.Queue()
        book = self.book
        floor = spawn.Process(
            target=measure_floors,
            args=(
                seconds,
                [c for c, _ in book.online],
                list(book.floor_orders),
                list(book.floor_bills),
                results,
            ),
        )
        floor.start()
        for thread in [*threads, runner]:
            thread.start()
        self.stop.wait(seconds)
        self.stop.set()
        for thread in threads:
            thread.join()
        floors, errors = results.get(timeout=120)
        floor.join()
        self.figures.floors.update(floors)
        self.figures.errors.extend(errors)
        runner.join(timeout=600)


def measure_floors(
    seconds: float,
    online: list[int],
    orders: list[tuple[str, str, str]],
    bills: list[tuple[int, int, int, str]],
    out: Any,
) -> None:
    """The core SQL of each route, run directly on a connection of its own, in turn, every 0.25 s for
    `seconds`; in a process of its own (the client threads' GIL would add to it). Puts (floors in ms
    per route, errors) on `out`."""
    from waterrev import audit
    from waterrev.context import SYSTEM, RequestContext
    from waterrev.db import UnitOfWork

    actor = audit.actor(RequestContext("load-floor", SYSTEM))
    rng = random.Random(7)
    floors: dict[str, list[float]] = {key: [] for key in FLOORS}
    errors: list[str] = []
    stop_at = time.monotonic() + seconds
    n = 0
    while time.monotonic() + FLOOR_EVERY_S < stop_at:
        time.sleep(FLOOR_EVERY_S)
        n += 1
        cust_id = rng.choice(online)
        t = time.perf_counter()
        with UnitOfWork() as uow:  # IF-CS-002 BILL: billing.history's statements
            where = "cust_id = :c AND status <> 'CANCELLED'"
            uow.scalar(f"SELECT count(*) FROM biz_charge WHERE {where}", {"c": cust_id})
            ids = [
                r["id"]
                for r in uow.all(
                    f"SELECT * FROM biz_charge WHERE {where} ORDER BY bill_period DESC, id DESC LIMIT 12 OFFSET 0",
                    {"c": cust_id},
                )
            ]
            uow.all(
                "SELECT d.*, t.code, t.version FROM biz_charge_detail d LEFT JOIN biz_price_template t"
                " ON t.id = d.price_template_id WHERE d.charge_id = ANY(CAST(:ids AS bigint[]))"
                " ORDER BY d.charge_id, d.line_no",
                {"ids": ids},
            )
        floors["history"].append((time.perf_counter() - t) * 1000)

        t = time.perf_counter()
        with UnitOfWork() as uow:  # IF-CS-003: the order and its bill, the request key unique
            order_no = f"DDFL{n:010d}"
            uow.execute(
                "INSERT INTO load_floor_bk_transaction (biz_order_no, cust_id, channel_code, scene,"
                " trade_amount, expire_time, request_key, next_query_time, penalty_as_of) VALUES (:o, :c,"
                " 'WECHAT', 'ONLINE', 10.25, now() + interval '2 hours', :k, now() + interval '1 minute',"
                " current_date)",
                {"o": order_no, "c": cust_id, "k": f"{cust_id}|{n}|WECHAT|ONLINE"},
            )
            uow.execute(
                "INSERT INTO load_floor_biz_order_charge (biz_order_no, charge_id, amount, penalty)"
                " SELECT :o, b.id, b.principal, b.penalty FROM unnest(CAST(:ids AS bigint[]),"
                " CAST(:principals AS numeric[]), CAST(:pens AS numeric[])) AS b (id, principal, penalty)",
                {"o": order_no, "ids": [n], "principals": ["10.25"], "pens": ["0"]},
            )
            uow.commit()
        floors["order"].append((time.perf_counter() - t) * 1000)

        if orders:
            order_no, trade_no, amount = orders.pop()
            t = time.perf_counter()
            with UnitOfWork() as uow:  # IF-EXT-005: the one statement a verified callback runs
                settled = uow.scalar(
                    "SELECT pay_notify_accept(p_actor => CAST(:actor AS jsonb), p_trade_no => :t,"
                    " p_status => 'SUCCESS', p_notify_time => :nt, p_notify_id => :id,"
                    " p_headers => CAST('{}' AS jsonb), p_raw => '', p_success_amount => :amt, p_biz_order_no => :o)",
                    {
                        "actor": actor,
                        "t": trade_no,
                        "nt": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                        "id": secrets.token_hex(16),
                        "amt": amount,
                        "o": order_no,
                    },
                )
                uow.commit()
            floors["callback"].append((time.perf_counter() - t) * 1000)
            if settled.get("writeBackStatus") != "SUCCESS":
                errors.append(f"{ROUTES['callback']}: the floor's order {order_no}: {settled}")
        if bills:
            cust, account, bill, amount = bills.pop()
            t = time.perf_counter()
            with UnitOfWork() as uow:  # IF-REV-006: the locks and the shared write-off
                uow.execute("SELECT id FROM biz_account WHERE id = :a FOR UPDATE", {"a": account})
                uow.execute("SELECT id FROM biz_charge WHERE id = :b FOR UPDATE", {"b": bill})
                uow.scalar(
                    "SELECT rev_write_off(p_actor => CAST(:actor AS jsonb), p_cust_id => :c, p_account_id => :a,"
                    " p_charge_ids => CAST(:ids AS bigint[]), p_amount => :amt, p_channel => 'CASH',"
                    " p_source => 'COUNTER', p_trade_no => NULL, p_idempotency_key => NULL, p_code => :code,"
                    " p_actual_amount => :amt, p_outlet => NULL, p_remark => NULL, p_operator_id => NULL,"
                    " p_penalties => CAST(:pens AS numeric[]), p_penalty_first => false,"
                    " p_as_of => current_date)",
                    {
                        "actor": actor,
                        "c": cust,
                        "a": account,
                        "ids": [bill],
                        "amt": amount,
                        "code": f"LF{bill}",
                        "pens": ["0"],
                    },
                )
                uow.commit()
            floors["counter"].append((time.perf_counter() - t) * 1000)
    out.put((floors, errors))


# ----------------------------------------------------------------------------------- report --


def percentile(ordered: list[float], q: float) -> float:
    """The q-th percentile of sorted figures, interpolated between neighbours (as numpy's default).
    (`statistics` is not imported: benchmarks/statistics.py, beside this script, would shadow it.)"""
    at = (len(ordered) - 1) * q / 100
    low = int(at)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (at - low)


def cuts(ms: list[float]) -> tuple[float, float, float, float]:
    if not ms:
        nan = float("nan")
        return nan, nan, nan, nan
    ordered = sorted(ms)
    return percentile(ordered, 50), percentile(ordered, 95), percentile(ordered, 99), ordered[-1]


def report(figures: Figures, seconds: float) -> None:
    print(
        f"\n{'route':<34}{'count':>7}{'/s':>7}{'p50':>8}{'p95':>8}{'p99':>8}{'max':>8}   database floor, same run"
    )
    for key, label in ROUTES.items():
        ms = figures.times.get(key, [])
        p50, p95, p99, top = cuts(ms)
        line = f"{label:<34}{len(ms):>7}{len(ms) / seconds:>7.1f}{p50:>8.1f}{p95:>8.1f}{p99:>8.1f}{top:>8.1f}"
        if key in FLOORS:
            floor = figures.floors.get(key, [])
            f50, _, f99, _ = cuts(floor)
            line += f"   p50 {f50:.2f} / p99 {f99:.2f} ms ({len(floor)}x {FLOORS[key]})"
        print(line)
    print("(milliseconds; a route's time is the HTTP request from a client thread of this process)")
    run = figures.bill_run
    if run.get("seconds"):
        count = int(run.get("successCount") or 0)
        print(
            f"bill run {RUN_PERIOD}, started at {run['started_at_s']:.0f} s: {run.get('status')}, {count} bills"
            f" ({run.get('failureCount')} failed) in {run['seconds']:.1f} s from the request to the status seen"
            f" ({count / run['seconds']:.0f} bills/s under the load, polled each second)"
        )
    else:
        print("bill run: did not finish")


def admin_token(base: str) -> str:
    import httpx

    reply = httpx.post(
        f"{base}/admin-api/system/auth/login", json={"username": "admin", "password": "admin123"}, timeout=30
    )
    return str(reply.json()["data"]["accessToken"])


def main() -> int:
    print(f"SYS-002 load test: {SECONDS} s, {os.cpu_count()} CPUs, {load_average()}")
    folder = Path(tempfile.mkdtemp(prefix="waterrev-load-"))
    folder.chmod(0o755)  # under root, pgserver runs postgres as its own OS user
    server = sim = stack = None
    try:
        started = time.perf_counter()
        server = start_database(folder)
        book = seed()
        orders = sum(len(book.unpaid[c]) for c, _ in book.online)
        print(
            f"seeded in {time.perf_counter() - started:.0f} s: {CUSTOMERS} customers x {len(PERIODS)} billed periods"
            f" ({len(book.online)} online payers with {orders} unpaid bills, {len(book.counter)} at the counter),"
            f" {FLOOR_CUSTOMERS} floor customers; {RUN_PERIOD} read, to be billed at half time"
        )
        from waterrev.db import dispose_engine

        dispose_engine()  # the stack migrates and loads the demo set again (a no-op): no idle connections held
        del os.environ["WATERREV_DB_POOL_SIZE"]  # the stack sizes its own pool
        from waterrev.settings import reset_settings

        reset_settings()
        port = free_port()
        sim, private, sys009_env = start_sys009(f"http://127.0.0.1:{port}")
        stack = Stack(folder, sys009_env, port)
        stack.wait_ready()
        load = Load(stack.base, book, private, admin_token(stack.base))
        print(
            f"stack up; {HISTORY_CLIENTS} history, {ORDER_CLIENTS} order + callback, {COUNTER_CLIENTS} counter"
            f" client threads and the floor for {SECONDS} s; {load_average()}",
            flush=True,
        )
        from benchmarks.bill_run import cpu_of

        cpu_before = cpu_of(stack.proc.pid)
        load.run(SECONDS)
        cpu_after = cpu_of(stack.proc.pid)
        report(load.figures, SECONDS)
        if cpu_before is not None and cpu_after is not None:
            print(
                f"the stack's process (gateway, handlers, moto, simulators but SYS-009) used {cpu_after - cpu_before:.0f}"
                f" CPU-seconds in the {SECONDS} s ({(cpu_after - cpu_before) / SECONDS:.0%} of one core; its"
                " handlers share one Python GIL)"
            )
        for what in sorted(load.exhausted):
            print(f"NOTE: the {what} clients ran out of unpaid bills before the end (raise LOAD_CUSTOMERS)")
        errors = load.figures.errors
        print(f"\nerrors: {len(errors)}")
        for line in errors[:30]:
            print(f"  {line}")
        print(load_average())
        return 1 if errors or load.figures.bill_run.get("status") != "SUCCEEDED" else 0
    finally:
        if stack is not None:
            stack.stop()
        if sim is not None:
            sim.stop()
        from waterrev.db import dispose_engine

        dispose_engine()
        if server is not None:
            server.cleanup()
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
