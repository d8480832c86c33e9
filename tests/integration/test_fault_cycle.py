"""Faults through a revenue cycle (docs/FAULTS.md): timeouts, 5xx and dropped connections at every outbound
call (SYS-008, SYS-009, SYS-010, SQS, S3) and a process crash just before and just after each commit,
while bills are made, paid through every channel, invoiced and reminded; then the callers retry as they
would, the compensation jobs run as their schedules would, and the books must hold:

- no money created or lost: per customer collected = written off + balance + refunded (accounting.ledger,
  the nightly job_ledger_check), and what the outside holds (SYS-009's paid trades, the cash the cashier
  took, the bank's debits) is exactly what was collected;
- no double write-off: no bill paid beyond its amount, one collection per trade / bank serial / order;
- no message sent twice: SYS-010 (the simulator) received each reminder once;
- nothing stuck unseen: every order, invoice and message is settled or listed for a person
  (bk_transaction_exception, biz_invoice_exception, biz_message_exception).

Faults are injected only from here (tests/faults.py): the code under test is the production code.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pytest

from tests.faults import OUTBOUND_KINDS, Commits, Outbound, ProcessCrash, install_commits, install_outbound
from tests.integration.test_ext_bank_realtime import SECRET as BANK_SECRET
from tests.integration.test_pay_orders import ORDER, SCAN, bound_member, order_body, scan_body
from tests.support import Reply, call, new_bills, sql_all, sql_exec, sql_scalar, unique

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")

COLLECT = "/admin-api/revenue/collection/create"
APPLY = "/business/invoice/apply"
BANK_PAY = "/open-api/bank/charge/pay"
LIVE = ("INIT", "PAYING")


# ------------------------------------------------------------------------------- the world ---------
@dataclass
class World:
    """The customers a test made, what the outside world handed over, and the fault controls."""

    admin: str
    admin_id: int
    outbound: Outbound
    commits: Commits
    sys009: Any
    custs: list[int] = field(default_factory=list)
    cash: dict[int, Decimal] = field(default_factory=dict)  # cash the cashier took, per customer
    bank_debits: dict[int, Decimal] = field(default_factory=dict)  # what the bank took off accounts
    sys008: Any = None
    s3: Any = None  # the boto faults of the invoice files' S3 client
    invoices: list[int] = field(default_factory=list)  # customers who applied for an invoice
    messages: Any = None  # the message_service fixture: SYS-010, the queue
    sqs: Any = None  # the boto faults of the SQS client
    office: int | None = None
    reminded: dict[int, str] = field(default_factory=dict)  # customer -> the mobile reminded
    errors: list[str] = field(default_factory=list)
    bank: Any = None  # the bank simulator (withholding)
    bank_key: str | None = None  # its receipts' webhook secret
    sftp: dict[str, str] = field(default_factory=dict)  # BankSftp method -> the fault its next call gets
    batches: list[str] = field(default_factory=list)

    @contextmanager
    def calm(self) -> Iterator[None]:
        """Setting the scene (a customer, a bound member) with the armed faults held back."""
        rules = self.outbound.rules[:]
        self.outbound.clear()
        self.commits.paused = True
        try:
            yield
        finally:
            self.commits.paused = False
            self.outbound.rules.extend(rules)

    def customer(self, periods: list[str]) -> tuple[int, list[dict[str, Any]]]:
        with self.calm():
            cust, bills = new_bills(self.admin, periods)
        self.custs.append(cust)
        return cust, bills


def attempt(step: Callable[[], Reply]) -> Reply | None:
    """One try as the caller sees it: a crash is an answer that never came."""
    try:
        return step()
    except ProcessCrash:
        return None


def retried(step: Callable[[], Reply], until: Callable[[Reply], bool], tries: int = 4) -> Reply | None:
    """The caller sends the same request again while it has no good answer."""
    reply = None
    for _ in range(tries):
        reply = attempt(step)
        if reply is not None and until(reply):
            return reply
    return reply


def owed(bills: list[dict[str, Any]]) -> Decimal:
    return sum((Decimal(str(b["total_amount"])) for b in bills), Decimal("0"))


def bank_call(path: str, body: dict[str, Any]) -> Reply:
    import json
    import secrets
    import time

    from waterrev.webhook import sign

    raw = json.dumps(body)
    ts, nonce = str(int(time.time())), secrets.token_hex(8)
    headers = {
        "x-waterrev-key-id": "bank-key-1",
        "x-waterrev-timestamp": ts,
        "x-waterrev-nonce": nonce,
        "x-waterrev-signature": sign(BANK_SECRET, ts, nonce, raw),
    }
    return call("POST", path, raw_body=raw.encode(), headers=headers)


# ------------------------------------------------------------------------------- the stages --------
def pay_cash(w: World) -> None:
    """A cashier takes cash for a bill; without an answer the cashier sends it again (the bill, if the
    first went through, is no longer payable)."""
    cust, bills = w.customer(["2025-01"])
    amount = owed(bills)
    body = {"custId": cust, "chargeIds": [b["id"] for b in bills], "paymentChannel": "CASH"}
    body["paymentAmount"] = f"{amount:.2f}"
    retried(lambda: call("POST", COLLECT, body, token=w.admin), lambda r: r.code in (0, 1_002_003_001))
    w.cash[cust] = amount  # the customer handed it over once, whatever the screen said


def pay_card(w: World) -> None:
    """A payment confirmed at the counter with the channel's trade number: a retry replays the first."""
    cust, bills = w.customer(["2025-02"])
    body = {
        "custId": cust,
        "chargeIds": [b["id"] for b in bills],
        "paymentChannel": "WECHAT",
        "paymentAmount": f"{owed(bills):.2f}",
        "tradeNo": unique("4200"),
    }
    reply = retried(lambda: call("POST", COLLECT, body, token=w.admin), lambda r: r.code == 0)
    assert reply is not None and reply.code == 0, reply
    w.cash[cust] = owed(bills)


def _pay_trade(w: World, reply: Reply | None) -> None:
    if reply is not None and reply.code == 0 and reply.data.get("tradeNo"):
        w.sys009.pay(reply.data["tradeNo"])
        w.sys009.wait_idle(10)


def pay_online(w: World) -> None:
    """A bound customer orders online (the app asks again while it has no trade) and pays at SYS-009;
    the notification reaches IF-EXT-005 (SYS-009 retries it until answered 2xx)."""
    cust, bills = w.customer(["2025-03"])
    with w.calm():
        member = bound_member(cust)
    reply = retried(
        lambda: call("POST", ORDER, order_body(cust, bills), token=member),
        lambda r: r.code == 0 and bool(r.data.get("tradeNo")),
    )
    _pay_trade(w, reply)


def pay_counter_qr(w: World) -> None:
    """The counter shows a QR for a bill (asked again while it has none) and the customer pays it."""
    _cust, bills = w.customer(["2025-04"])
    body = scan_body(w.admin_id, bills)
    reply = retried(
        lambda: call("POST", f"{SCAN}/create", body, token=w.admin),
        lambda r: r.code == 0 and bool(r.data.get("tradeNo")),
    )
    _pay_trade(w, reply)


def pay_bank(w: World) -> None:
    """A bank pays a customer's bill in real time (IF-EXT-003) and sends the same serial again until it
    gets an answer; it debited the customer once."""
    cust, bills = w.customer(["2025-05"])
    code = str(sql_scalar("SELECT code FROM biz_cust WHERE id = :c", {"c": cust}))
    body = {
        "bankCode": "ICBC",
        "bankSerialNo": unique("ICBC"),
        "custCode": code,
        "amount": f"{owed(bills):.2f}",
    }
    reply = retried(lambda: bank_call(BANK_PAY, body), lambda r: r.code == 0)
    assert reply is not None and reply.code == 0, reply
    w.bank_debits[cust] = owed(bills)


PAYMENTS: dict[str, Callable[[World], None]] = {
    "cash": pay_cash,
    "card": pay_card,
    "online": pay_online,
    "counter_qr": pay_counter_qr,
    "bank": pay_bank,
}


def apply_invoice(w: World) -> None:
    """A customer's bills paid in cash, then an electronic invoice applied for at the counter (the clerk
    sends it again while there is no answer); SYS-008 issues it and writes the result back, whose file
    is copied to S3."""
    cust, bills = w.customer(["2025-06", "2025-07"])
    ids = [int(b["id"]) for b in bills]
    with w.calm():
        body = {"custId": cust, "chargeIds": ids, "paymentChannel": "CASH"}
        paid = call("POST", COLLECT, body | {"paymentAmount": f"{owed(bills):.2f}"}, token=w.admin)
        assert paid.code == 0, paid.body
        w.cash[cust] = owed(bills)
    application = {
        "custId": cust,
        "chargeIds": ids,
        "invoiceType": "ELECTRONIC",
        "invoiceTitle": "张三",
        "email": "zhangsan@example.com",
        "sourceChannel": "COUNTER",
    }
    retried(lambda: call("POST", APPLY, application, token=w.admin), lambda r: r.code == 0)
    w.invoices.append(cust)
    _settle_sys008(w)


def _settle_sys008(w: World) -> None:
    """Let the simulator's issuing and writebacks land."""
    import time

    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if not sql_scalar(
            "SELECT count(*) FROM biz_invoice WHERE cust_id = ANY(CAST(:c AS bigint[])) AND invoice_status IN"
            " ('SUBMITTED', 'PENDING') AND sys_request_no IS NOT NULL",
            {"c": w.invoices},
        ):
            return
        time.sleep(0.05)


_mobiles = iter(range(10**7))


def remind(w: World) -> None:
    """A customer of an office of its own owes two overdue bills; a reminder task is created (the clerk
    sends it again while there is no answer) and its SMS goes out through the outbox, the relay, SQS, the
    consumer and SYS-010, whose signed result comes back."""
    from tests.support import REMINDER_TASK, new_customer, new_office, overdue_bills, reminder_body

    with w.calm():
        office = w.office = w.office or new_office(w.admin)
        mobile = f"139{(int(unique('')[-4:]) * 1000 + next(_mobiles)) % 10**8:08d}"
        cust = int(new_customer(w.admin, dept_id=office, mobile=mobile)["id"])
        body = reminder_body(cust, overdue_bills(cust, ["12.00", "30.50"]))
    w.custs.append(cust)
    w.reminded[cust] = mobile
    retried(lambda: call("POST", REMINDER_TASK, body, token=w.admin), lambda r: r.code == 0)
    pump_messages(w, rounds=3)


def pump_messages(w: World, rounds: int) -> None:
    """The relay schedule and the event source mapping, a few rounds; a consumer that died leaves its batch
    to come back after the visibility timeout and its claims to lapse (time passes here at once)."""
    from waterrev.local.gateway import FakeLambdaContext, load_handler
    from waterrev.notifications import relay

    q = w.messages.queue
    for _ in range(rounds):
        try:
            while relay.relay_once() == relay.BATCH:
                pass
        except ProcessCrash:
            pass
        except Exception as exc:  # the queue refused or lost the answer: the schedule runs again
            w.errors.append(repr(exc))
        got = q.sqs.receive_message(
            QueueUrl=q.queue_url, MaxNumberOfMessages=10, MessageSystemAttributeNames=["All"]
        ).get("Messages", [])
        if got:
            event = {"Records": [q.record(m) for m in got]}
            try:
                result = load_handler("msg_consumer").handler(event, FakeLambdaContext("msg_consumer"))
            except ProcessCrash:
                for m in got:
                    q.sqs.change_message_visibility(
                        QueueUrl=q.queue_url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=0
                    )
                sql_exec(
                    "UPDATE biz_message SET claim_time = claim_time - interval '1 hour'"
                    " WHERE dispatch_state = 'SENDING' AND cust_id = ANY(CAST(:c AS bigint[]))",
                    {"c": w.custs},
                )
            else:
                failed = {f["itemIdentifier"] for f in result.get("batchItemFailures", [])}
                done = [m["ReceiptHandle"] for m in got if m["MessageId"] not in failed]
                if done:
                    q.sqs.delete_message_batch(
                        QueueUrl=q.queue_url,
                        Entries=[{"Id": str(n), "ReceiptHandle": h} for n, h in enumerate(done)],
                    )
        w.messages.sim.wait_idle(5)


# ------------------------------------------------------------------------------- compensation -------
def compensate(w: World, rounds: int = 3) -> None:
    """The schedules' jobs, as if hours had passed: every live order of these customers due and expired."""
    from functions.job_pay_compensate.handler import handler as pay_compensate

    w.outbound.clear()
    w.commits.disarm()
    for _ in range(rounds):
        w.sys009.wait_idle(10)
        sql_exec(
            "UPDATE bk_transaction SET next_query_time = now() - interval '1 minute',"
            " expire_time = LEAST(expire_time, now() - interval '1 minute')"
            " WHERE cust_id = ANY(CAST(:c AS bigint[])) AND status IN ('INIT', 'PAYING')",
            {"c": w.custs},
        )
        pay_compensate({}, None)
        if w.invoices:
            from functions.job_invoice_compensate.handler import handler as invoice_compensate

            if w.s3 is not None:
                w.s3.rules.clear()
            _settle_sys008(w)
            sql_exec(
                "UPDATE biz_invoice SET next_plan_time = now() - interval '1 minute'"
                " WHERE cust_id = ANY(CAST(:c AS bigint[])) AND invoice_status IN ('SUBMITTED', 'PENDING')",
                {"c": w.invoices},
            )
            invoice_compensate({}, None)
            _settle_sys008(w)
    if w.reminded:
        from functions.job_message_relay.handler import handler as message_relay

        if w.sqs is not None:
            w.sqs.rules.clear()
        sql_exec(  # SYS-010 answered nothing for an hour: the claims lapse, and the due retries are due
            "UPDATE biz_message SET claim_time = claim_time - interval '1 hour', not_before = now()"
            " WHERE cust_id = ANY(CAST(:c AS bigint[])) AND status = 'PENDING'",
            {"c": w.custs},
        )
        message_relay({"seconds": 0}, None)
        pump_messages(w, rounds=8)
        message_relay({"seconds": 0}, None)  # the dead-letter sweep


def check_messages(w: World) -> None:
    """SYS-010 received each reminder once; ours is settled or listed for a person."""
    for cust, mobile in w.reminded.items():
        delivered = w.messages.sim.deliveries(mobile)
        assert len(delivered) <= 1, f"customer {cust}: {len(delivered)} SMS for one reminder: {delivered}"
        ours = sql_all(
            "SELECT m.id, m.status, m.dispatch_state, m.message_biz_no,"
            " EXISTS (SELECT 1 FROM biz_message_exception e WHERE e.message_id = m.id AND e.status = 'OPEN')"
            " AS listed FROM biz_message m WHERE m.cust_id = :c AND m.receiver = :r",
            {"c": cust, "r": mobile},
        )
        assert len(ours) <= 1, ours
        for row in ours:
            assert row["status"] in ("SUCCESS", "FAIL") or row["listed"], (
                f"message neither settled nor listed for a person: {row}"
            )
            if row["status"] == "SUCCESS":
                assert len(delivered) == 1 and delivered[0]["eventNo"] == row["message_biz_no"], delivered


def check_invoices(w: World) -> None:
    """Each customer's bills on one issued invoice at SYS-008 at most, and ours settled (with its file
    copied) or listed for a person."""
    for cust in w.invoices:
        with w.sys008._lock:
            there = [i.view() for i in w.sys008._invoices.values() if i.customer_id == str(cust)]
        issued = [i for i in there if i["invoiceStatus"] == "SUCCESS"]
        assert len(issued) <= 1, f"customer {cust}: SYS-008 issued {len(issued)} invoices for the same bills"
        ours = sql_all(
            "SELECT i.id, i.application_no, i.invoice_status, i.file_key, i.file_url,"
            " EXISTS (SELECT 1 FROM biz_invoice_exception e WHERE e.invoice_id = i.id AND e.status = 'OPEN')"
            " AS listed FROM biz_invoice i WHERE i.cust_id = :c ORDER BY i.id",
            {"c": cust},
        )
        assert ours, f"customer {cust}: the application was lost"
        for row in ours:
            settled = row["invoice_status"] in ("SUCCESS", "FAIL", "REJECTED") and (
                row["invoice_status"] != "SUCCESS" or row["file_key"]
            )
            assert settled or row["listed"], f"invoice neither settled nor listed for a person: {row}"
        remote = {i["requestNo"]: i["invoiceStatus"] for i in there}
        for row in ours:
            if row["application_no"] in remote and remote[row["application_no"]] in ("SUCCESS", "FAIL"):
                assert row["invoice_status"] == remote[row["application_no"]] or row["listed"], (row, remote)
        bills = sql_all(
            "SELECT id, invoice_status FROM biz_charge WHERE cust_id = :c AND invoice_status <> 'NONE'",
            {"c": cust},
        )
        live = [r for r in ours if r["invoice_status"] in ("SUBMITTED", "PENDING", "SUCCESS")]
        assert len(live) <= 1 and (bool(live) == bool(bills)), (ours, bills)


# ------------------------------------------------------------------------------- the invariants ----
def check_books(w: World) -> None:
    from waterrev.accounting import ledger
    from waterrev.db import UnitOfWork

    with UnitOfWork() as uow:
        found = ledger.measure(uow, w.custs)
    assert found["customersBroken"] == [] and found["billsBroken"] == [], found

    custs = {"c": w.custs}
    over = sql_all(
        "SELECT id, total_amount, paid_amount FROM biz_charge WHERE cust_id = ANY(CAST(:c AS bigint[]))"
        " AND total_amount > 0 AND (paid_amount > total_amount OR paid_amount < 0)",
        custs,
    )
    assert over == [], f"bills paid beyond their amount: {over}"
    twice = sql_all(
        "SELECT trade_no, count(*) AS n FROM biz_collection WHERE cust_id = ANY(CAST(:c AS bigint[]))"
        " AND trade_no IS NOT NULL GROUP BY trade_no HAVING count(*) > 1",
        custs,
    )
    assert twice == [], f"one trade written off twice: {twice}"

    # what the outside holds is what we collected, channel by channel
    collected = {
        (r["cust_id"], r["kind"]): Decimal(r["v"])
        for r in sql_all(
            "SELECT cust_id, CASE WHEN source = 'WITHHOLD' THEN 'WITHHOLD'"
            " WHEN channel IN ('WECHAT', 'ALIPAY') AND source <> 'COUNTER' THEN 'SYS009'"
            " ELSE channel END AS kind, sum(amount) AS v FROM biz_collection"
            " WHERE cust_id = ANY(CAST(:c AS bigint[])) AND channel <> 'PREPAY' GROUP BY 1, 2",
            custs,
        )
    }
    paid_at_sys009: dict[int, Decimal] = {}
    with w.sys009._cond:  # the simulator's own record of money its customers paid
        for trade in w.sys009._state.trades.values():
            cust = int(trade.buyer.get("customerId", 0))
            if cust in w.custs and trade.status == "SUCCESS":
                paid_at_sys009[cust] = paid_at_sys009.get(cust, Decimal("0")) + trade.success_amount
    for cust in w.custs:
        assert collected.get((cust, "SYS009"), Decimal("0")) == paid_at_sys009.get(cust, Decimal("0")), (
            cust,
            collected,
            paid_at_sys009,
        )
        assert collected.get((cust, "BANK"), Decimal("0")) == w.bank_debits.get(cust, Decimal("0")), cust
        withheld = _withheld_by_the_bank(w).get(cust, Decimal("0"))
        assert collected.get((cust, "WITHHOLD"), Decimal("0")) == withheld, (cust, collected, withheld)
        counter = collected.get((cust, "CASH"), Decimal("0")) + collected.get((cust, "WECHAT"), Decimal("0"))
        assert counter == w.cash.get(cust, Decimal("0")), (cust, collected, w.cash)

    # nothing stuck where no one looks
    stuck = sql_all(
        "SELECT t.biz_order_no, t.status, t.hold_reason FROM bk_transaction t"
        " WHERE t.cust_id = ANY(CAST(:c AS bigint[])) AND (t.status IN ('INIT', 'PAYING') OR t.hold_reason IS NOT NULL)"
        " AND NOT EXISTS (SELECT 1 FROM bk_transaction_exception e WHERE e.biz_order_no = t.biz_order_no"
        " AND e.status = 'OPEN')",
        custs,
    )
    assert stuck == [], f"orders neither settled nor listed for a person: {stuck}"


def _withheld_by_the_bank(w: World) -> dict[int, Decimal]:
    """What the bank's statements say it debited, per customer, over every file it processed (a batch
    sent twice would be debited twice: that shows here)."""
    from waterrev.banking import rules

    if w.bank is None:
        return {}
    codes = {
        str(r["code"]): int(r["id"])
        for r in sql_all("SELECT id, code FROM biz_cust WHERE id = ANY(CAST(:c AS bigint[]))", {"c": w.custs})
    }
    debited: dict[int, Decimal] = {}
    for done in list(w.bank.processed):
        if done.batch_no not in w.batches:
            continue
        data = (w.bank.root / done.statement_path.lstrip("/")).read_bytes()
        for line in rules.parse_statement_file(data, done.batch_no):
            if line.cust_code in codes:
                cust = codes[line.cust_code]
                debited[cust] = debited.get(cust, Decimal("0")) + line.amount
    return debited


# ------------------------------------------------------------------------------- fixtures ----------
def use_keys(w: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """The webhook keys of every simulator the world has (each fixture below adds its own)."""
    import json

    from waterrev.local import sys008_sim
    from waterrev.settings import reset_settings
    from waterrev.webhook import reset_keys

    keys: dict[str, dict[str, str]] = {"BANK": {"bank-key-1": BANK_SECRET}}
    keys["SYS008"] = {w.sys008.key_id: sys008_sim.DEFAULT_CALLBACK_SECRET}
    if w.messages is not None:
        keys["SYS010"] = {w.messages.key_id: w.messages.key}
    if w.bank_key is not None:
        keys["BANK"]["bank-test"] = w.bank_key
    monkeypatch.setenv("WATERREV_WEBHOOK_KEYS", json.dumps(keys))
    reset_settings()
    reset_keys()


@pytest.fixture
def world(admin: str, sys009: Any, sys008: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    from tests.faults import install_boto
    from waterrev.adapters import invoice_files
    from waterrev.settings import reset_settings

    outbound = install_outbound(monkeypatch, {sys009.base_url: "SYS009", sys008.base_url: "SYS008"})
    commits = install_commits(monkeypatch)
    s3, unhook = install_boto(invoice_files._s3())
    admin_id = int(sql_scalar("SELECT id FROM system_users WHERE username = 'admin'"))
    w = World(admin, admin_id, outbound, commits, sys009, sys008=sys008, s3=s3)
    use_keys(w, monkeypatch)
    yield w
    unhook()
    reset_settings()


# ------------------------------------------------------------------------------- the tests ---------
SYS009_CALLERS = ("online", "counter_qr")


@pytest.mark.parametrize("kind", OUTBOUND_KINDS)
@pytest.mark.parametrize("channel", SYS009_CALLERS)
def test_sys009_faults_on_create_lose_no_money(world: World, channel: str, kind: str) -> None:
    """Given SYS-009's create answering with `kind` twice (the caller asks again each time), when the
    payment goes on and compensation runs, then the books hold."""
    world.outbound.arm("SYS009", kind, path="/v1/pay/orders$", method="POST", times=2)
    PAYMENTS[channel](world)
    assert world.outbound.faults(), world.outbound.log
    compensate(world)
    check_books(world)


@pytest.mark.parametrize("kind", OUTBOUND_KINDS)
def test_sys009_faults_during_compensation_lose_no_money(world: World, kind: str) -> None:
    """Given an order whose create answer was lost and whose payment is not notified, when compensation's
    own calls (query, close) meet `kind` on its first round, then later rounds settle it and the books
    hold."""
    world.sys009.behaviour(dropNotifications=True)
    world.outbound.arm("SYS009", "timeout", path="/v1/pay/orders$", method="POST", times=4)
    pay_online(world)
    cust = world.custs[-1]
    order = sql_all("SELECT trade_no, biz_order_no FROM bk_transaction WHERE cust_id = :c", {"c": cust})
    trade = world.sys009._state.by_business.get(order[0]["biz_order_no"])
    assert trade, "the platform made the trade although we never heard"
    world.sys009.pay(trade)
    from functions.job_pay_compensate.handler import handler as pay_compensate

    world.outbound.arm("SYS009", kind, times=3)
    sql_exec(
        "UPDATE bk_transaction SET next_query_time = now() - interval '1 minute' WHERE cust_id = :c",
        {"c": cust},
    )
    pay_compensate({}, None)
    compensate(world)
    check_books(world)


def _commit_sites(world: World, channel: str) -> list[str]:
    with world.commits.recording() as sites:
        PAYMENTS[channel](world)
        world.sys009.wait_idle(10)
    return sites


@pytest.mark.parametrize("channel", sorted(PAYMENTS))
def test_a_crash_before_or_after_each_commit_of_a_payment_loses_no_money(world: World, channel: str) -> None:
    """Given each commit a payment reaches (recorded on a clean run), when the process dies just before
    it and, on another customer, just after it, and the caller and SYS-009 retry as they do and
    compensation runs, then the books hold every time."""
    sites = _commit_sites(world, channel)
    print(channel, sites)
    assert sites, "the payment committed nothing?"
    for site in sites:
        for when in ("before", "after"):
            world.commits.arm(when, site=site)
            PAYMENTS[channel](world)
            world.sys009.wait_idle(10)
            world.commits.disarm()
    compensate(world)
    assert world.commits.crashed, "no crash was injected"
    check_books(world)


def test_a_seeded_schedule_of_faults_through_every_payment_channel(world: World) -> None:
    """Given a random (seeded) fault before each payment - an outbound fault on SYS-009 or a crash at one
    of the commits - when every channel pays twice and compensation runs, then the books hold."""
    rng = random.Random(16)
    for round_ in range(2):
        for channel in sorted(PAYMENTS):
            choice = rng.choice(["none", "outbound", "before", "after"])
            if choice == "outbound":
                world.outbound.arm("SYS009", rng.choice(OUTBOUND_KINDS), times=rng.randint(1, 3))
            elif choice in ("before", "after"):
                world.commits.arm(choice, nth=rng.randint(1, 3))
            PAYMENTS[channel](world)
            world.sys009.wait_idle(10)
            world.outbound.clear()
            world.commits.disarm()
        del round_
    compensate(world)
    check_books(world)


@pytest.mark.parametrize("kind", OUTBOUND_KINDS)
def test_sys008_faults_on_apply_issue_each_invoice_once(world: World, kind: str) -> None:
    """Given SYS-008's apply answering with `kind` (twice: the clerk asks again), when compensation
    runs, then each customer's bills are on one issued invoice there, ours is settled or listed, and the
    books hold."""
    world.outbound.arm("SYS008", kind, path="/v1/invoices$", method="POST", times=2)
    apply_invoice(world)
    assert world.outbound.faults(), world.outbound.log
    compensate(world)
    check_invoices(world)
    check_books(world)


@pytest.mark.parametrize("kind", OUTBOUND_KINDS)
def test_faults_on_the_file_copy_and_the_compensation_query_end_with_the_file(
    world: World, kind: str
) -> None:
    """Given the invoice file's fetch from SYS-008 failing with `kind` for one customer and its put to S3
    for another, and the compensation's first query and put too, then both files are copied in the end
    and the invoices settled."""
    from functions.job_invoice_compensate.handler import handler as invoice_compensate

    world.outbound.arm("SYS008", kind, path="/v1/files/", times=1)
    apply_invoice(world)
    world.s3.arm("PutObject", kind)
    apply_invoice(world)
    world.sys008.behaviour(no_callback=True)
    apply_invoice(world)  # its result only by the compensation's query
    world.sys008.behaviour(no_callback=False)
    _settle_sys008(world)
    world.outbound.arm("SYS008", kind, path="/batch-query$", times=1)
    world.s3.arm("PutObject", kind)
    sql_exec(
        "UPDATE biz_invoice SET next_plan_time = now() - interval '1 minute'"
        " WHERE cust_id = ANY(CAST(:c AS bigint[])) AND invoice_status IN ('SUBMITTED', 'PENDING')",
        {"c": world.invoices},
    )
    invoice_compensate({}, None)
    assert [f for f in world.outbound.faults() if f[2].endswith("batch-query")], world.outbound.log
    compensate(world)
    assert len(world.s3.log) == 2 and world.s3.log[0][1] == kind, world.s3.log
    check_invoices(world)


def test_a_crash_before_or_after_each_commit_of_an_invoice_issues_it_once(world: World) -> None:
    """Given each commit an invoice application and its writeback reach (recorded on a clean run), when
    the process dies just before or just after it, then after compensation each is issued once."""
    with world.commits.recording() as sites:
        apply_invoice(world)
    print("invoice", sites)
    assert sites
    for site in sites:
        for when in ("before", "after"):
            world.commits.arm(when, site=site)
            apply_invoice(world)
            world.commits.disarm()
    compensate(world)
    assert len(world.commits.crashed) == 2 * len(sites), world.commits.crashed
    check_invoices(world)
    check_books(world)


@pytest.fixture
def messaging(world: World, message_service: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    """The world with SYS-010 and the queue: SYS-010 calls through the fault transport, SQS calls through
    botocore hooks."""
    import httpx

    from tests.faults import install_boto
    from waterrev.adapters import queue

    url = httpx.URL(message_service.sim.base_url)
    world.outbound.systems[f"{url.host}:{url.port}"] = "SYS010"
    world.messages = message_service
    use_keys(world, monkeypatch)
    world.sqs, unhook = install_boto(queue.client())
    yield world
    unhook()


@pytest.mark.parametrize("kind", OUTBOUND_KINDS)
@pytest.mark.parametrize("where", ["SYS010", "SendMessageBatch"])
def test_outbound_faults_on_a_reminder_send_it_once(messaging: World, where: str, kind: str) -> None:
    """Given SYS-010 (or the queue's send) answering with `kind` three times, when the pipeline and its
    schedule run on, then SYS-010 received the reminder once, and it is settled or listed for a person."""
    if where == "SYS010":
        messaging.outbound.arm("SYS010", kind, path="/v1/messages", times=3)
    else:
        messaging.sqs.arm(where, kind, times=3)
    remind(messaging)
    compensate(messaging)
    fired = messaging.outbound.faults() if where == "SYS010" else messaging.sqs.log
    assert fired, "no fault was injected"
    check_messages(messaging)


def test_a_crash_before_or_after_each_commit_of_a_reminder_sends_it_once(messaging: World) -> None:
    """Given each commit a reminder reaches on its way to SYS-010 and back (recorded on a clean run), when
    the process dies just before or just after it, then SYS-010 received each reminder once."""
    with messaging.commits.recording() as sites:
        remind(messaging)
        compensate(messaging)
    print("reminder", sites)
    assert sites
    for site in sites:
        for when in ("before", "after"):
            messaging.commits.arm(when, site=site)
            remind(messaging)
            messaging.commits.disarm()
    compensate(messaging)
    assert messaging.commits.crashed
    check_messages(messaging)


# ------------------------------------------------------------------------------- the bill run -------
BILL_RUN_PERIOD = "2024-02"  # no other module uses it: a run bills every VALID reading of its period


@pytest.fixture
def crashing_tasks(monkeypatch: pytest.MonkeyPatch) -> None:
    """A Task whose process dies answers as Lambda does for a process that exited: an error of type
    Runtime.ExitError (Step Functions then retries or fails as the definition says)."""
    from waterrev.local import stepfunctions

    real = stepfunctions.run_task

    def run_task(folder: str, body: Any, response_headers: dict[str, Any]) -> bytes:
        try:
            return real(folder, body, response_headers)
        except ProcessCrash as crash:
            return stepfunctions._error(response_headers, "Runtime.ExitError", f"process exited: {crash}", [])

    monkeypatch.setattr(stepfunctions, "run_task", run_task)


def bill_run(w: World, customers: int = 3) -> tuple[str, list[int], dict[str, Any]]:
    """Customers with a VALID reading of the period, then the bill-run workflow over it (chunks of 2)."""
    from tests.support import generate, new_book, new_customer, submit_reading
    from waterrev.local.stepfunctions import get_runtime

    with w.calm():
        made = [new_customer(w.admin) for _ in range(customers)]
        meters = [int(c["meterIds"][0]) for c in made]
        generate(w.admin, int(new_book(w.admin, meters)["bookId"]), BILL_RUN_PERIOD)
        readings = []
        for i, meter in enumerate(meters):
            reply = submit_reading(w.admin, meter, BILL_RUN_PERIOD, 10 + i)
            assert reply.code == 0, reply.body
            readings.append(int(reply.data["readingId"]))
    w.custs += [int(c["id"]) for c in made]
    runtime = get_runtime()
    arn = runtime.start({"billPeriod": BILL_RUN_PERIOD, "chunkSize": 2}, name=unique("fault-billrun-"))
    status, output = runtime.wait(arn)
    return status, readings, output


def check_bill_runs(w: World, readings: list[int]) -> None:
    """Each reading billed once; every run of the period ended with its summary (none left RUNNING), its
    amount the sum of its bills."""
    counts = sql_all(
        "SELECT r.id, r.status, count(c.id) AS n FROM biz_reading_data r LEFT JOIN biz_charge c ON c.reading_id = r.id"
        " WHERE r.id = ANY(CAST(:ids AS bigint[])) GROUP BY r.id, r.status",
        {"ids": readings},
    )
    assert {(r["status"], r["n"]) for r in counts} == {("BILLED", 1)}, counts
    runs = sql_all(
        "SELECT run_no, status, total_amount, (SELECT coalesce(sum(total_amount), 0) FROM biz_charge"
        " WHERE bill_run_id = b.id) AS billed FROM biz_bill_run b WHERE bill_period = :p",
        {"p": BILL_RUN_PERIOD},
    )
    stuck = [r for r in runs if r["status"] == "RUNNING" or r["total_amount"] != r["billed"]]
    assert stuck == [], f"bill runs neither finished nor true to their bills: {stuck}"


def test_a_crash_before_or_after_each_commit_of_a_bill_run_bills_each_reading_once(
    world: World, crashing_tasks: None
) -> None:
    """Given each commit the bill-run workflow reaches (Prepare, each chunk, Finish), when its Lambda dies
    just before or just after it, and the run is started again as the operator would when it failed,
    then every reading is billed once and no run is left RUNNING."""
    with world.commits.recording() as sites:
        status, readings, output = bill_run(world)
    assert status == "SUCCEEDED", output
    assert sites == ["billing.bill_run:prepare", "billing.generate:_bill_chunk", "billing.bill_run:finish"], (
        sites
    )
    for site in sites:
        for when in ("before", "after"):
            world.commits.arm(when, site=site)
            status, more, _ = bill_run(world)
            world.commits.disarm()
            readings += more
            if status != "SUCCEEDED":  # the operator starts the period again
                status, _, _ = bill_run(world, customers=0)
                assert status == "SUCCEEDED"
    assert world.commits.crashed
    check_bill_runs(world, readings)
    check_books(world)


@pytest.mark.parametrize("when", ["before", "after"])
@pytest.mark.parametrize("step", ["prepare", "finish"])
def test_a_bill_run_whose_prepare_or_finish_crashes_is_tried_again_to_its_end(
    world: World, crashing_tasks: None, step: str, when: str
) -> None:
    """Regression: Prepare and Finish were retried only on Lambda service errors, so a function that died
    (Runtime.ExitError, Sandbox.Timedout) failed the execution and left its biz_bill_run RUNNING for ever
    (after Finish's crash: bills made, no summary). Given a crash just `when` the step's commit, then the
    execution retries the step and the run ends SUCCEEDED with its summary."""
    world.commits.arm(when, site=f"billing.bill_run:{step}")
    status, readings, output = bill_run(world)
    assert world.commits.crashed == [(f"billing.bill_run:{step}", when)]
    assert status == "SUCCEEDED" and output["successCount"] >= len(readings), output
    check_bill_runs(world, readings)


# ------------------------------------------------------------------------------- withholding --------
WH_PERIOD = "2024-04"  # no other module uses it: a batch takes every signed customer's bills of its period
WH = "/admin-api/revenue/bank/withholding"


@pytest.fixture
def withholding(
    world: World, bank: Any, _bank_channel: Any, crashing_tasks: None, monkeypatch: pytest.MonkeyPatch
) -> Iterator[World]:
    """The world with the bank's file channel: SFTP calls through a fault wrapper, the receipt key known."""
    from waterrev.adapters import bank_sftp

    world.bank, world.bank_key = bank, _bank_channel[3]
    use_keys(world, monkeypatch)
    for name in ("upload", "read"):
        real = getattr(bank_sftp.BankSftp, name)

        def faulty(self: Any, *args: Any, _real: Any = real, _name: str = name, **kwargs: Any) -> Any:
            kind = world.sftp.pop(_name, None)
            if kind in ("connect-timeout", "5xx"):
                raise bank_sftp.BankSftpError(f"injected {kind} before {_name}")
            result = _real(self, *args, **kwargs)
            if kind is not None:
                raise bank_sftp.BankSftpError(f"injected {kind} after {_name}: the connection dropped")
            return result

        monkeypatch.setattr(bank_sftp.BankSftp, name, faulty)
    yield world


def withhold(w: World, wait_s: float = 40) -> str:
    """A signed customer owes a bill of the period; a withholding batch is started (sent again by the
    clerk while there is no answer), the bank debits it and returns; the workflow reconciles and settles."""
    import time

    with w.calm():
        cust, _bills = new_bills(w.admin, [WH_PERIOD])
        signed = call(
            "POST",
            f"{WH}/signing",
            {
                "custId": cust,
                "bankCode": "TBANK",
                "bankAccount": f"62220202{cust:011d}",
                "accountName": "代扣测试户",
                "channelCode": "TBANK",
            },
            token=w.admin,
        )
        assert signed.code == 0, signed.body
    w.custs.append(cust)
    batch_no = unique("WH")[:24]
    body = {
        "batchNo": batch_no,
        "businessType": "WITHHOLDING",
        "channelCode": "TBANK",
        "billPeriod": WH_PERIOD,
    }
    retried(lambda: call("POST", f"{WH}/batch", body, token=w.admin), lambda r: r.code == 0)
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        found = sql_scalar("SELECT status FROM bk_withholding_batch WHERE batch_no = :b", {"b": batch_no})
        if found in ("SETTLED", "CANCELLED"):
            break
        time.sleep(0.2)
    w.batches.append(batch_no)
    return batch_no


def check_withholding(w: World) -> None:
    """Every batch settled (reconciled against the bank's statement) or, where it could not be, its state
    and differences shown to a person; each bill withheld at most once."""
    rows = sql_all(
        "SELECT batch_no, status, reconcile_status FROM bk_withholding_batch WHERE batch_no = ANY(CAST(:b AS varchar[]))",
        {"b": w.batches},
    )
    stuck = [r for r in rows if r["status"] != "SETTLED"]
    assert stuck == [], f"withholding batches not settled: {stuck}"
    twice = sql_all(
        "SELECT i.charge_id, count(*) AS n FROM bk_withholding_item i JOIN bk_withholding_batch b ON b.id = i.batch_id"
        " WHERE b.batch_no = ANY(CAST(:b AS varchar[])) AND i.status = 'SUCCESS' GROUP BY i.charge_id HAVING count(*) > 1",
        {"b": w.batches},
    )
    assert twice == [], twice


@pytest.mark.parametrize(
    ("call_", "kind"),
    [
        ("upload", "5xx"),
        ("upload", "drop"),
        ("read", "5xx"),
        ("read", "drop"),
    ],
)
def test_sftp_faults_in_a_withholding_batch_lose_no_money(withholding: World, call_: str, kind: str) -> None:
    """Given the SFTP upload of the send file (or the read of the return) failing before it (`5xx`) or
    after it (`drop`: the file is there, the answer lost), when the workflow retries as it does, then the
    batch is sent once, settled, and the books hold (the bank's statements = our withholding collections)."""
    withholding.sftp[call_] = kind
    withhold(withholding)
    assert call_ not in withholding.sftp, "no fault was injected"
    check_withholding(withholding)
    check_books(withholding)


def settled_in_time(w: World, timeout_s: float = 150) -> None:
    """Wait for the batches to end: a step retried after a crash may wait its interval (Reconcile's is a
    minute), and moto's interpreter waits it for real."""
    import time

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        left = sql_scalar(
            "SELECT count(*) FROM bk_withholding_batch WHERE batch_no = ANY(CAST(:b AS varchar[]))"
            " AND status NOT IN ('SETTLED', 'CANCELLED')",
            {"b": w.batches},
        )
        if left == 0:
            return
        time.sleep(0.5)


def test_a_crash_before_or_after_each_commit_of_a_withholding_batch_loses_no_money(
    withholding: World,
) -> None:
    """Given each commit a withholding batch reaches (recorded on a clean run: the start, selection,
    sending, the bank's receipt, the return's write-off, reconciliation, settlement), when the process dies
    just before or just after it, then the batch still ends settled (the workflow tries the step again:
    every step is idempotent) and the books hold."""
    with withholding.commits.recording() as sites:
        withhold(withholding)
    for site in ("banking.batch:select", "banking.batch:remember_token", "banking.reconcile:settle"):
        assert site in sites, sites
    for site in sites:
        for when in ("before", "after"):
            withholding.commits.arm(when, site=site)
            withhold(withholding, wait_s=20)
            withholding.commits.disarm()
    assert len(withholding.commits.crashed) == 2 * len(sites)
    settled_in_time(withholding)
    check_withholding(withholding)
    check_books(withholding)


@pytest.mark.parametrize("site", ["banking.batch:select", "banking.reconcile:settle"])
def test_a_withholding_batch_whose_select_or_settle_crashes_is_settled(withholding: World, site: str) -> None:
    """Given a crash just before the commit of the withholding workflow's Select (or Settle), then the
    workflow tries the step again and the batch ends settled (it stayed CREATED / RECONCILED before the
    steps were retried on anything but AppError)."""
    withholding.commits.arm("before", site=site)
    withhold(withholding, wait_s=30)
    assert withholding.commits.crashed
    check_withholding(withholding)


def test_a_withholding_batch_whose_workflow_gave_up_is_restarted_by_the_compensation(
    withholding: World,
) -> None:
    """Given Select crashing on every attempt the workflow makes (it fails, the batch stays CREATED), when
    the compensation job runs and the batch has not moved for its threshold, then a new execution resumes
    the batch where it is and it ends settled; a batch whose execution still runs is left alone."""
    from functions.job_pay_compensate.handler import handler as pay_compensate

    for _ in range(4):  # the first attempt and Select's three retries
        withholding.commits.arm("before", site="banking.batch:select")
    batch_no = withhold(withholding, wait_s=15)
    assert len(withholding.commits.crashed) == 4
    assert (
        sql_scalar("SELECT status FROM bk_withholding_batch WHERE batch_no = :b", {"b": batch_no})
        == "CREATED"
    )
    first = sql_scalar("SELECT execution_arn FROM bk_withholding_batch WHERE batch_no = :b", {"b": batch_no})
    assert batch_no not in pay_compensate({"withholdingStalledSeconds": 3600}, None)["withholdingRestarted"]
    done = pay_compensate({"withholdingStalledSeconds": 0}, None)
    assert batch_no in done["withholdingRestarted"]
    again = sql_scalar("SELECT execution_arn FROM bk_withholding_batch WHERE batch_no = :b", {"b": batch_no})
    assert again != first
    # its new execution is running: the next run of the job leaves it alone
    assert batch_no not in pay_compensate({"withholdingStalledSeconds": 0}, None)["withholdingRestarted"]
    settled_in_time(withholding, 40)
    check_withholding(withholding)
    check_books(withholding)


# ------------------------------------------------------------------------------- the whole cycle ----
def test_a_whole_revenue_cycle_under_a_seeded_schedule_of_faults(
    messaging: World, withholding: World
) -> None:
    """Given a seeded random schedule - for each stage of the cycle (bill run, every payment channel, an
    invoice, a reminder, a withholding batch) one fault at one of its outbound calls or one crash just
    before or after one of its commits - when the cycle runs, the callers retry and the compensation jobs
    run, then no money is created or lost, nothing is written off, issued or sent twice, and nothing is
    left stuck unseen."""
    w = messaging
    rng = random.Random(16)
    readings: list[int] = []

    def run_bill() -> None:
        status, made, _ = bill_run(w, customers=2)
        readings.extend(made)
        if status != "SUCCEEDED":
            bill_run(w, customers=0)

    stages: list[tuple[str, Callable[[], Any], Callable[[str], None]]] = [
        ("bill run", run_bill, lambda kind: None),
        *[
            (
                name,
                lambda pay=pay: pay(w),
                lambda kind: w.outbound.arm("SYS009", kind, times=rng.randint(1, 2)),
            )
            for name, pay in sorted(PAYMENTS.items())
        ],
        ("invoice", lambda: apply_invoice(w), lambda kind: w.outbound.arm("SYS008", kind)),
        ("reminder", lambda: remind(w), lambda kind: w.outbound.arm("SYS010", kind, times=2)),
        ("withholding", lambda: withhold(w), lambda kind: w.sftp.update(read=kind)),
    ]
    schedule = []
    for name, stage, outbound in stages:
        # withholding's crashes have their own test: its SFTP reads here
        choice = "outbound" if name == "withholding" else rng.choice(["outbound", "before", "after"])
        if choice == "outbound":
            kind = rng.choice(OUTBOUND_KINDS)
            outbound(kind)
            schedule.append((name, kind))
        else:
            nth = rng.randint(1, 3)
            w.commits.arm(choice, nth=nth)
            schedule.append((name, f"crash {choice} commit #{nth}"))
        stage()
        w.outbound.clear()
        w.commits.disarm()
        w.sftp.clear()
    compensate(w)
    print("schedule", schedule, "crashed", w.commits.crashed)
    assert w.commits.crashed and w.outbound.faults(), schedule
    check_bill_runs(w, readings)
    check_books(w)
    check_invoices(w)
    check_messages(w)
    check_withholding(w)
