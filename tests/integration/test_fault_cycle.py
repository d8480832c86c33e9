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

    @contextmanager
    def calm(self) -> Iterator[None]:
        """Setting the scene (a customer, a bound member) with the armed faults held back."""
        commits, rules = self.commits.armed[:], self.outbound.rules[:]
        self.commits.disarm()
        self.outbound.clear()
        try:
            yield
        finally:
            self.commits.armed.extend(commits)
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
    cust, bills = w.customer(["2025-04"])
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
            "SELECT cust_id, CASE WHEN channel IN ('WECHAT', 'ALIPAY') AND source <> 'COUNTER' THEN 'SYS009'"
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


# ------------------------------------------------------------------------------- fixtures ----------
@pytest.fixture
def world(admin: str, sys009: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    import json

    from waterrev.settings import reset_settings

    monkeypatch.setenv("WATERREV_WEBHOOK_KEYS", json.dumps({"BANK": {"bank-key-1": BANK_SECRET}}))
    reset_settings()
    outbound = install_outbound(monkeypatch, {sys009.base_url: "SYS009"})
    commits = install_commits(monkeypatch)
    admin_id = int(sql_scalar("SELECT id FROM system_users WHERE username = 'admin'"))
    yield World(admin, admin_id, outbound, commits, sys009)
    reset_settings()


# ------------------------------------------------------------------------------- the tests ---------
SYS009_CALLERS = ("online", "counter_qr")


@pytest.mark.parametrize("kind", OUTBOUND_KINDS)
@pytest.mark.parametrize("channel", SYS009_CALLERS)
def test_sys009_faults_on_create_lose_no_money(world: World, channel: str, kind: str) -> None:
    """Given SYS-009's create answering with `kind` twice (the caller asks again each time), when the
    payment goes on and compensation runs, then the books hold."""
    world.outbound.arm("SYS009", kind, path="/v1/pay/orders", method="POST", times=2)
    PAYMENTS[channel](world)
    compensate(world)
    check_books(world)


@pytest.mark.parametrize("kind", OUTBOUND_KINDS)
def test_sys009_faults_during_compensation_lose_no_money(world: World, kind: str) -> None:
    """Given an order whose create answer was lost and whose payment is not notified, when compensation's
    own calls (query, close) meet `kind` on its first round, then later rounds settle it and the books
    hold."""
    world.sys009.behaviour(dropNotifications=True)
    world.outbound.arm("SYS009", "timeout", path="/v1/pay/orders", method="POST", times=4)
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
    return [s for s in sites if not s.startswith(("audit", "security", "customers", "metering", "billing"))]


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
