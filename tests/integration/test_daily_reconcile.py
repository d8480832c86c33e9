"""The daily three-way reconciliation over every channel (issue 13, beyond the seed): our settled trades
of a business day per channel, the channels' statements and the bank's credit file, through the admin
routes and the scheduled job.

The outside side comes from the outside systems' own records: every payment is made THROUGH the
simulators - an online order and a counter QR paid at the SYS-009 simulator and notified, a real-time
payment the bank simulator debits and tells us of (IF-EXT-003), a withholding batch the bank simulator
takes, debits and returns, cash a cashier takes at the counter and deposits at the bank - and then
SYS-009 writes its statements from the trades it settled and the bank its statements and credit file
from the debits it made, what the channels paid over and the cash deposited (`Sim.write_statements`,
`BankSimulator.write_statements`); a `recon_sim.Misbehaviour` bends the simulators' own records on the
way out. The counter has no outside system keeping its trades: it is reconciled two-way (our counter
collections against the bank's credit of the takings; decision 130).

Each test gives its day a date of its own long past, so that no other test's trades share it: the
payments are made today, then the test moves its own trades in our books (paid_time) to that date and
the simulators report today's records as that date's (`on=today`). The SYS-009 simulator is the test's
own; the bank simulator is shared by the session, so the test shows it only its own batch and debits.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.integration.test_ext_bank_realtime import PAY, SECRET
from tests.integration.test_ext_bank_realtime import bank as bank_post
from tests.integration.test_pay_orders import ORDER, SCAN, bound_member, order_body, scan_body, settled
from tests.support import call, expect_error, new_bills, sql_all, sql_exec, sql_scalar, unique
from waterrev.banking import daily_rules as rules
from waterrev.local import recon_sim

pytestmark = pytest.mark.integration
BASE = "/admin-api/revenue/bank/daily-reconcile"
COLLECT = "/admin-api/revenue/collection/create"
BEIJING = dt.timezone(dt.timedelta(hours=8))
ZERO = Decimal("0.00")


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    from waterrev.settings import reset_settings

    root = tmp_path / "recon"
    monkeypatch.setenv("WATERREV_RECON_DIR", str(root))
    monkeypatch.delenv("WATERREV_RECON_BUCKET", raising=False)
    reset_settings()
    yield root
    reset_settings()


@pytest.fixture
def world(
    admin: str, sys009: Any, bank: Any, store: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[World]:
    """The two simulators, the bank's real-time key beside its receipt key, the bank showing only what
    this test does (it is shared by the session)."""
    from waterrev.settings import reset_settings
    from waterrev.webhook import reset_keys

    keys = json.loads(os.environ["WATERREV_WEBHOOK_KEYS"])
    keys.setdefault("BANK", {})["bank-key-1"] = SECRET
    monkeypatch.setenv("WATERREV_WEBHOOK_KEYS", json.dumps(keys))
    monkeypatch.setattr(bank, "processed", [])
    monkeypatch.setattr(bank, "realtime_debits", [])
    monkeypatch.setattr(bank, "cash_deposits", [])
    reset_settings()
    reset_keys()
    yield World(
        admin, int(sql_scalar("SELECT id FROM system_users WHERE username = 'admin'")), sys009, bank, store
    )
    reset_keys()


@dataclass
class World:
    admin: str
    admin_id: int
    sys009: Any
    bank: Any
    store: Path
    day: dt.date = field(
        default_factory=lambda: dt.date(1995, 1, 1) + dt.timedelta(days=secrets.randbelow(9000))
    )
    keys: dict[str, str] = field(default_factory=dict)  # channel -> the key of the trade paid through it
    amounts: dict[str, Decimal] = field(default_factory=dict)
    custs: list[int] = field(default_factory=list)

    def bills(self, period: str) -> tuple[int, list[dict[str, Any]], Decimal]:
        cust, bills = new_bills(self.admin, [period])
        self.custs.append(cust)
        return cust, bills, sum((Decimal(str(b["total_amount"])) for b in bills), ZERO)

    def pay_online(self) -> None:
        cust, bills, owed = self.bills("2023-01")
        reply = call("POST", ORDER, order_body(cust, bills), token=bound_member(cust))
        assert reply.code == 0, reply.body
        self.sys009.pay(reply.data["tradeNo"])  # paid at SYS-009, which notifies IF-EXT-005
        settled(reply.data["bizOrderNo"])
        self.keys["ONLINE"], self.amounts["ONLINE"] = reply.data["bizOrderNo"], owed

    def pay_counter_qr(self) -> None:
        _cust, bills, owed = self.bills("2023-02")
        reply = call("POST", f"{SCAN}/create", scan_body(self.admin_id, bills), token=self.admin)
        assert reply.code == 0, reply.body
        self.sys009.pay(reply.data["tradeNo"])
        settled(reply.data["bizOrderNo"])
        self.keys["COUNTER_QR"], self.amounts["COUNTER_QR"] = reply.data["bizOrderNo"], owed

    def pay_bank_realtime(self) -> None:
        cust, _bills, owed = self.bills("2023-03")
        code = str(sql_scalar("SELECT code FROM biz_cust WHERE id = :c", {"c": cust}))
        serial = f"RT{secrets.token_hex(8).upper()}"
        reply = self.bank.pay_realtime(
            lambda body: bank_post(PAY, body), bank_code="ICBC", cust_code=code, amount=owed, serial=serial
        )
        assert reply.code == 0, reply.body
        self.keys["BANK_REALTIME"], self.amounts["BANK_REALTIME"] = f"ICBC:{serial}", owed

    def pay_counter(self, deposited_short: Decimal = ZERO) -> None:
        """A cashier takes cash for a bill and pays the takings in at the bank (short by `deposited_short`)."""
        cust, bills, owed = self.bills("2023-04")
        body = {
            "custId": cust,
            "chargeIds": [b["id"] for b in bills],
            "paymentChannel": "CASH",
            "paymentAmount": f"{owed:.2f}",
        }
        reply = call("POST", COLLECT, body, token=self.admin)
        assert reply.code == 0, reply.body
        self.bank.deposit_cash(owed - deposited_short)
        self.amounts["COUNTER"] = owed

    def pay_withholding(self) -> None:
        """A withholding batch on channel TBANK the bank simulator takes, debits and returns."""
        from tests.integration.test_withholding_batch import signed_customer, start_batch, wait_status

        period = "2023-05"
        cust, bill = signed_customer(self.admin, period)
        self.custs.append(cust)
        batch_no = start_batch(self.admin, period)["batchNo"]
        assert wait_status(self.admin, batch_no, {"SETTLED"})["batchStatus"] == "SETTLED"
        (item,) = sql_all(
            "SELECT i.bank_serial_no, i.amount FROM bk_withholding_item i JOIN bk_withholding_batch b"
            " ON b.id = i.batch_id WHERE b.batch_no = :b AND i.status = 'SUCCESS'",
            {"b": batch_no},
        )
        self.keys["WITHHOLDING"] = f"TBANK:{item['bank_serial_no']}"
        self.amounts["WITHHOLDING"] = Decimal(str(item["amount"]))
        assert Decimal(str(bill["total_amount"])) == self.amounts["WITHHOLDING"]

    def pay_everywhere(self, *, withholding: bool = False) -> None:
        self.pay_online()
        self.pay_counter_qr()
        self.pay_bank_realtime()
        self.pay_counter()
        if withholding:
            self.pay_withholding()
        self.move_to_day()

    def move_to_day(self) -> None:
        # today's trades of this test, in our books, moved to the test's own day (see the module's text)
        sql_exec(
            "UPDATE bk_transaction SET paid_time = :p WHERE cust_id = ANY(CAST(:c AS bigint[])) AND status = 'SUCCESS'",
            {"p": dt.datetime.combine(self.day, dt.time(12), BEIJING), "c": self.custs},
        )

    def deliver(
        self,
        misbehaviour: recon_sim.Misbehaviour | None = None,
        *,
        day: dt.date | None = None,
        on: dt.date | None = None,
    ) -> None:
        """SYS-009, then the bank, write the day's files from their own records (`day`: another day's, as
        they report the calendar day `on`; by default the test's day, as today's records)."""
        on = on or dt.datetime.now(BEIJING).date()
        settled_at_sys009 = self.sys009.write_statements(self.store, day or self.day, misbehaviour, on=on)
        self.bank.write_statements(self.store, day or self.day, settled_at_sys009, misbehaviour, on=on)


def report(admin: str, day: dt.date) -> dict[str, Any]:
    reply = call("GET", f"{BASE}/report", token=admin, query=f"bizDate={day.isoformat()}")
    assert reply.code == 0, reply.body
    return dict(reply.data)


def run(admin: str, day: dt.date) -> dict[str, Any]:
    reply = call("POST", f"{BASE}/run", {"bizDate": day.isoformat()}, token=admin)
    assert reply.code == 0, reply.body
    return dict(reply.data)


def test_a_day_on_which_every_channel_matches_is_balanced(world: World) -> None:
    """Given a day with a payment through each of the five channels - an online order and a counter QR
    paid at SYS-009, a bank real-time payment, a withholding batch item, cash at the counter deposited -
    and each simulator writing what it settled
    When the day is reconciled
    Then it is BALANCED: every file read, no difference; ours = the bank's credits, and the four
    statements say what we booked on their channels (the counter has none: two-way)."""
    w = world
    w.pay_everywhere(withholding=True)
    w.deliver()
    done = run(w.admin, w.day)
    assert done["reconStatus"] == "BALANCED", done
    assert done["diffList"] == [] and done["fileErrorCount"] == 0
    assert (done["ourCount"], done["channelCount"]) == (5, 4)
    total = sum(w.amounts.values(), ZERO)
    assert Decimal(done["ourAmount"]) == Decimal(done["creditedAmount"]) == total
    assert Decimal(done["channelAmount"]) == total - w.amounts["COUNTER"]
    assert {f["fileStatus"] for f in done["files"]} == {"OK"} and len(done["files"]) == 5
    channels = {c["channel"]: c["statementStatus"] for c in done["channels"]}
    assert channels == {
        "COUNTER": "NONE",
        "ONLINE": "OK",
        "COUNTER_QR": "OK",
        "BANK_REALTIME": "OK",
        "WITHHOLDING": "OK",
    }
    page = call("GET", f"{BASE}/page", token=w.admin, query="pageNo=1&pageSize=100")
    assert page.code == 0 and any(r["bizDate"] == w.day.isoformat() for r in page.data["list"])


def test_the_counter_is_reconciled_on_its_cash_alone(world: World) -> None:
    """Given the five channels paid and deposited as on a balanced day, plus a bill paid at the counter by
    WECHAT (a tender keyed at the counter, settled by its own acquirer) whose money the cashier does not
    deposit
    When the day is reconciled
    Then it is still BALANCED: the counter's takings against the bank's cash credit are its cash alone."""
    w = world
    cust, bills, owed = w.bills("2023-06")
    body = {
        "custId": cust,
        "chargeIds": [b["id"] for b in bills],
        "paymentChannel": "WECHAT",
        "paymentAmount": f"{owed:.2f}",
    }
    reply = call("POST", COLLECT, body, token=w.admin)
    assert reply.code == 0, reply.body
    w.pay_everywhere()
    w.deliver()
    done = run(w.admin, w.day)
    assert done["reconStatus"] == "BALANCED", done
    assert Decimal(done["ourAmount"]) == sum(w.amounts.values(), ZERO)  # the WECHAT tender not among them
    assert (
        sql_scalar(
            "SELECT count(*) FROM bk_transaction WHERE cust_id = :c AND scene = 'COUNTER' AND channel_code = 'WECHAT'"
            " AND status = 'SUCCESS'",
            {"c": cust},
        )
        == 1
    )


def test_each_difference_class_is_found(world: World) -> None:
    """Given SYS-009's online statement leaving out the order it settled, its QR statement with a trade
    only it has, the bank's real-time statement with another amount, and the cashier depositing 1.00
    less than the cash taken
    When the day is reconciled
    Then one difference of each class: OURS_ONLY, CHANNEL_ONLY, AMOUNT_DIFFERS, and CREDIT_DIFFERS on the
    counter (the bank credits each other channel what its statement settled: no credit difference)."""
    w = world
    w.pay_online()
    w.pay_counter_qr()
    w.pay_bank_realtime()
    w.pay_counter(deposited_short=Decimal("1.00"))
    w.move_to_day()
    w.deliver(
        recon_sim.Misbehaviour(
            drop={w.keys["ONLINE"]},
            extra={"COUNTER_QR": {"WXONLYTHEIRS1": Decimal("9.99")}},
            amount_delta={w.keys["BANK_REALTIME"]: Decimal("0.01")},
        )
    )
    done = run(w.admin, w.day)
    assert done["reconStatus"] == "DIFFERENT" and done["openDiffCount"] == 4, done
    found = {(d["channel"], d["diffType"], d["matchKey"]): d for d in done["diffList"]}
    assert set(found) == {
        ("ONLINE", "OURS_ONLY", w.keys["ONLINE"]),
        ("COUNTER_QR", "CHANNEL_ONLY", "WXONLYTHEIRS1"),
        ("BANK_REALTIME", "AMOUNT_DIFFERS", w.keys["BANK_REALTIME"]),
        ("COUNTER", "CREDIT_DIFFERS", "COUNTER"),
    }
    differs = found[("BANK_REALTIME", "AMOUNT_DIFFERS", w.keys["BANK_REALTIME"])]
    assert Decimal(differs["channelAmount"]) == w.amounts["BANK_REALTIME"] + Decimal("0.01")
    counter = found[("COUNTER", "CREDIT_DIFFERS", "COUNTER")]
    assert Decimal(counter["ourAmount"]) == w.amounts["COUNTER"]
    assert Decimal(counter["creditedAmount"]) == w.amounts["COUNTER"] - Decimal("1.00")
    assert counter["channelAmount"] is None
    assert {d["status"] for d in done["diffList"]} == {"OPEN"}


def test_a_re_run_keeps_what_a_person_resolved_and_closes_what_is_gone(world: World) -> None:
    """Given a day reconciled with two differences (SYS-009's statements leaving out both its trades),
    one of them resolved by a person with a reason
    When the day is run again, first with the same files, then with the files SYS-009 writes again
    without leaving anything out
    Then the same differences (no second row), the resolved one stays RESOLVED both times, the other is
    no longer listed once the files agree; resolving a resolved difference is 409, and the audit log
    names every run and the resolution."""
    w = world
    w.pay_everywhere()
    w.deliver(recon_sim.Misbehaviour(drop={w.keys["ONLINE"], w.keys["COUNTER_QR"]}))
    first = run(w.admin, w.day)
    ids = {d["matchKey"]: d["diffId"] for d in first["diffList"]}
    assert set(ids) == {w.keys["ONLINE"], w.keys["COUNTER_QR"]}, first
    kept = ids[w.keys["COUNTER_QR"]]
    resolved = call("POST", f"{BASE}/diff/resolve", {"diffId": kept, "reason": "渠道次日补单"}, token=w.admin)
    assert resolved.code == 0 and resolved.data["status"] == "RESOLVED", resolved.body
    again = run(w.admin, w.day)
    assert {d["diffId"]: d["status"] for d in again["diffList"]} == {
        kept: "RESOLVED",
        ids[w.keys["ONLINE"]]: "OPEN",
    }
    assert again["runCount"] == 2
    w.deliver()  # the channels send corrected statements
    third = run(w.admin, w.day)
    assert [(d["diffId"], d["status"], d["reason"]) for d in third["diffList"]] == [
        (kept, "RESOLVED", "渠道次日补单")
    ]
    assert third["reconStatus"] == "BALANCED" and third["runCount"] == 3
    expect_error(
        call("POST", f"{BASE}/diff/resolve", {"diffId": kept, "reason": "again"}, token=w.admin), 409
    )
    audit = sql_all(
        "SELECT operation FROM biz_operat_log WHERE (object_type = 'bk_daily_recon' AND object_id = :d)"
        " OR (object_type = 'bk_daily_recon_diff' AND object_id = :i) ORDER BY id",
        {"d": w.day.isoformat(), "i": str(kept)},
    )
    assert [a["operation"] for a in audit] == [
        "DAILY_RECONCILE",
        "DAILY_RECONCILE_RESOLVE",
        "DAILY_RECONCILE",
        "DAILY_RECONCILE",
    ]


def test_a_missing_or_unreadable_file_is_an_exception_a_person_lists(world: World) -> None:
    """Given SYS-009's online statement never delivered, its QR statement cut short, the bank's credit
    file with a broken header and the bank's real-time statement leaving out its debit
    When the day is reconciled by the scheduled job
    Then no error: the day is INCOMPLETE, the report lists the three files (MISSING / INVALID, with why),
    the channels whose statements were read are still compared, and no trade difference is invented for
    the channels without a readable statement."""
    from functions.job_daily_reconcile.handler import handler

    w = world
    w.pay_everywhere()
    w.deliver(
        recon_sim.Misbehaviour(
            missing={"ONLINE"}, malformed={"COUNTER_QR", "BANK"}, drop={w.keys["BANK_REALTIME"]}
        )
    )
    summary = handler({"bizDate": w.day.isoformat()}, None)
    assert summary == {
        "bizDate": w.day.isoformat(),
        "reconStatus": "INCOMPLETE",
        "openDiffCount": 1,
        "fileErrorCount": 3,
    }
    done = report(w.admin, w.day)
    files = {(f["channel"], f["fileKind"]): f for f in done["files"]}
    assert files[("ONLINE", "STATEMENT")]["fileStatus"] == "MISSING"
    assert files[("COUNTER_QR", "STATEMENT")]["fileStatus"] == "INVALID"
    assert files[("COUNTER_QR", "STATEMENT")]["error"]
    assert (
        files[("BANK", "CREDIT")]["fileStatus"] == "INVALID"
        and "文件头" in files[("BANK", "CREDIT")]["error"]
    )
    assert [(d["channel"], d["diffType"]) for d in done["diffList"]] == [("BANK_REALTIME", "OURS_ONLY")]


def test_a_day_not_over_and_a_day_never_run_are_refused_without_a_5xx(admin: str, store: Path) -> None:
    """Given today (not over) and a day never reconciled
    When today is run, and the other day's report is asked for
    Then 400 naming bizDate (as for a day before 1970 or no day at all), and 404."""
    today = dt.datetime.now(BEIJING).date()
    expect_error(
        call("POST", f"{BASE}/run", {"bizDate": today.isoformat()}, token=admin), 400, mentions="bizDate"
    )
    expect_error(call("GET", f"{BASE}/report", token=admin, query="bizDate=1980-01-01"), 404)
    expect_error(call("POST", f"{BASE}/run", {"bizDate": "0001-01-01"}, token=admin), 400, mentions="bizDate")
    expect_error(call("POST", f"{BASE}/run", {"bizDate": "2026-02-30"}, token=admin), 400, mentions="bizDate")


def diffs_of(done: dict[str, Any]) -> dict[tuple[str, str, str], dict[str, Any]]:
    return {(d["channel"], d["diffType"], d["matchKey"]): d for d in done["diffList"]}


def test_a_statement_not_read_on_a_re_run_leaves_its_channels_differences_open(world: World) -> None:
    """Given a day reconciled with SYS-009's online statement leaving out the order it settled (OURS_ONLY)
    When the day is run again with that statement gone (not delivered), then again with it unreadable
    Then the difference stays OPEN both times - a file the run could not read says nothing about it - and
    the day is INCOMPLETE, not BALANCED; once a good statement is read again it is compared as before."""
    w = world
    w.pay_everywhere()
    w.deliver(recon_sim.Misbehaviour(drop={w.keys["ONLINE"]}))
    first = run(w.admin, w.day)
    (diff,) = first["diffList"]
    assert (diff["channel"], diff["diffType"], diff["status"]) == ("ONLINE", "OURS_ONLY", "OPEN")
    statement = w.store / rules.statement_name(w.day, "ONLINE")
    statement.unlink()
    missing = run(w.admin, w.day)
    assert [(d["diffId"], d["status"]) for d in missing["diffList"]] == [(diff["diffId"], "OPEN")]
    assert missing["reconStatus"] == "INCOMPLETE" and missing["openDiffCount"] == 1
    statement.write_text("H,ONLINE,19700101,²,1.00\n", encoding="utf-8")  # a header int() refuses
    unreadable = run(w.admin, w.day)
    assert [(d["diffId"], d["status"]) for d in unreadable["diffList"]] == [(diff["diffId"], "OPEN")]
    files = {(f["channel"], f["fileKind"]): f["fileStatus"] for f in unreadable["files"]}
    assert files[("ONLINE", "STATEMENT")] == "INVALID" and unreadable["reconStatus"] == "INCOMPLETE"
    w.deliver()  # the channel's good statement, with the order
    assert run(w.admin, w.day)["reconStatus"] == "BALANCED"


def test_a_bad_count_in_a_header_is_an_invalid_file_through_the_route_not_a_5xx(world: World) -> None:
    """Given the bank's credit file whose header count is '²' (a digit to str.isdigit, not to int)
    When the day is run through POST .../run
    Then 200: the day INCOMPLETE, the credit file INVALID naming the count."""
    w = world
    w.pay_everywhere()
    w.deliver()
    (w.store / rules.credit_name(w.day)).write_text(
        f"H,BANK,{rules.day_text(w.day)},²,0.00\n", encoding="utf-8"
    )
    done = run(w.admin, w.day)
    files = {(f["channel"], f["fileKind"]): f for f in done["files"]}
    assert (
        files[("BANK", "CREDIT")]["fileStatus"] == "INVALID" and "笔数" in files[("BANK", "CREDIT")]["error"]
    )
    assert done["reconStatus"] == "INCOMPLETE"


def test_a_resolved_difference_found_with_other_amounts_is_reopened(world: World) -> None:
    """Given the bank's real-time statement 0.01 over our payment (AMOUNT_DIFFERS), resolved by a person
    When the day is run again with the same files, then with the bank's statement now 0.02 over
    Then the first re-run leaves it RESOLVED; the second reopens it (OPEN, the new amount, the day
    DIFFERENT) and the audit log keeps the resolution it had (DAILY_RECONCILE_REOPEN, before)."""
    w = world
    w.pay_everywhere()
    w.deliver(recon_sim.Misbehaviour(amount_delta={w.keys["BANK_REALTIME"]: Decimal("0.01")}))
    (diff,) = run(w.admin, w.day)["diffList"]
    resolved = call(
        "POST", f"{BASE}/diff/resolve", {"diffId": diff["diffId"], "reason": "银行手续费"}, token=w.admin
    )
    assert resolved.code == 0, resolved.body
    same = run(w.admin, w.day)
    assert [(d["diffId"], d["status"]) for d in same["diffList"]] == [(diff["diffId"], "RESOLVED")]
    assert same["reconStatus"] == "BALANCED"
    w.deliver(recon_sim.Misbehaviour(amount_delta={w.keys["BANK_REALTIME"]: Decimal("0.02")}))
    again = run(w.admin, w.day)
    (reopened,) = again["diffList"]
    assert (reopened["diffId"], reopened["status"], reopened["reason"]) == (diff["diffId"], "OPEN", None)
    assert Decimal(reopened["channelAmount"]) == w.amounts["BANK_REALTIME"] + Decimal("0.02")
    assert again["reconStatus"] == "DIFFERENT" and again["openDiffCount"] == 1
    (log,) = sql_all(
        "SELECT before_data, after_data FROM biz_operat_log WHERE object_type = 'bk_daily_recon_diff'"
        " AND object_id = :i AND operation = 'DAILY_RECONCILE_REOPEN'",
        {"i": str(diff["diffId"])},
    )
    assert log["before_data"]["status"] == "RESOLVED" and log["before_data"]["reason"] == "银行手续费"
    assert log["after_data"]["status"] == "OPEN"
    again_resolved = call(
        "POST", f"{BASE}/diff/resolve", {"diffId": diff["diffId"], "reason": "银行再次补差"}, token=w.admin
    )
    assert again_resolved.code == 0, again_resolved.body


def test_a_payment_settled_after_midnight_is_a_timing_difference_on_both_days(world: World) -> None:
    """Given an online order paid at SYS-009 on day D (its statement of D lists it) that our books settled
    at 00:05 on D+1 (the compensation's time), and a bank real-time payment the bank debited on D+1 (its
    statement of D+1) that we booked at 23:59 on D
    When D is reconciled, then D+1 (whose statements list the real-time payment and not the order)
    Then neither day has a one-sided difference open: on D the order is CROSS_DAY (ours on D+1,
    informational, not open) and the real-time payment OURS_ONLY until D+1's statement exists; on D+1 the
    order is CROSS_DAY against D's statement and the real-time payment CROSS_DAY against our D - and D's
    open OURS_ONLY for it becomes CROSS_DAY too; both days BALANCED."""
    w = world
    w.pay_online()
    w.pay_bank_realtime()
    w.move_to_day()
    nxt = w.day + dt.timedelta(days=1)
    sql_exec(
        "UPDATE bk_transaction SET paid_time = :p WHERE biz_order_no = :o",
        {"p": dt.datetime.combine(nxt, dt.time(0, 5), BEIJING), "o": w.keys["ONLINE"]},
    )
    sql_exec(
        "UPDATE bk_transaction SET paid_time = :p WHERE trade_no = :t",
        {"p": dt.datetime.combine(w.day, dt.time(23, 59), BEIJING), "t": w.keys["BANK_REALTIME"]},
    )
    # D's files: SYS-009 lists the order, the bank's real-time statement nothing (it debited on D+1)
    w.deliver(recon_sim.Misbehaviour(drop={w.keys["BANK_REALTIME"]}))
    first = diffs_of(run(w.admin, w.day))
    order = first[("ONLINE", "CROSS_DAY", w.keys["ONLINE"])]
    assert order["status"] == "INFO" and str(nxt) in order["reason"]
    assert Decimal(order["ourAmount"]) == Decimal(order["channelAmount"]) == w.amounts["ONLINE"]
    realtime = first[("BANK_REALTIME", "OURS_ONLY", w.keys["BANK_REALTIME"])]
    assert realtime["status"] == "OPEN"
    # D+1's files: the bank's real-time statement lists its debit, SYS-009's nothing
    w.deliver(recon_sim.Misbehaviour(drop={w.keys["ONLINE"]}), day=nxt)
    second = run(w.admin, nxt)
    assert {k: d["status"] for k, d in diffs_of(second).items()} == {
        ("ONLINE", "CROSS_DAY", w.keys["ONLINE"]): "INFO",
        ("BANK_REALTIME", "CROSS_DAY", w.keys["BANK_REALTIME"]): "INFO",
    }, second
    assert second["reconStatus"] == "BALANCED" and second["openDiffCount"] == 0
    day_before = report(w.admin, w.day)
    mirrored = diffs_of(day_before)[("BANK_REALTIME", "CROSS_DAY", w.keys["BANK_REALTIME"])]
    assert (mirrored["diffId"], mirrored["status"]) == (realtime["diffId"], "INFO")
    assert day_before["reconStatus"] == "BALANCED" and day_before["openDiffCount"] == 0
    assert run(w.admin, w.day)["reconStatus"] == "BALANCED"  # and a re-run of D finds the same


def test_a_missing_key_in_the_bucket_is_a_missing_file_and_any_other_refusal_the_store(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Given the bucket (the local S3, moto's server): a key delivered is its bytes, a key not delivered (404
    NoSuchKey, as S3 answers a caller allowed s3:ListBucket) None; an AccessDenied (what S3 answers without
    ListBucket) the store unavailable - never a missing file. (Not `mock_aws()`: leaving it resets the
    in-process moto backends, the local Step Functions' state machines with them.)"""
    import boto3
    from botocore.exceptions import ClientError

    from waterrev.adapters import recon_files
    from waterrev.local import s3 as local_s3
    from waterrev.settings import reset_settings

    endpoint = local_s3.start()
    bucket = unique("recon").lower()
    monkeypatch.setenv("WATERREV_RECON_BUCKET", bucket)
    monkeypatch.setenv("WATERREV_S3_ENDPOINT_URL", endpoint)
    reset_settings()
    try:
        s3 = boto3.client("s3", endpoint_url=endpoint)
        s3.create_bucket(
            Bucket=bucket,
            CreateBucketConfiguration={"LocationConstraint": os.environ["AWS_DEFAULT_REGION"]},  # type: ignore[typeddict-item]
        )
        s3.put_object(Bucket=bucket, Key="20261204/CREDIT_20261204.csv", Body=b"x")
        assert recon_files.read("20261204/CREDIT_20261204.csv") == b"x"
        assert recon_files.read("20261204/STMT_ONLINE_20261204.csv") is None

        class Denied:
            def get_object(self, **_: Any) -> Any:
                raise ClientError({"Error": {"Code": "AccessDenied", "Message": "denied"}}, "GetObject")

        monkeypatch.setattr(boto3, "client", lambda *a, **k: Denied())
        with pytest.raises(recon_files.RecordStoreError, match="AccessDenied"):
            recon_files.read("20261204/STMT_ONLINE_20261204.csv")
    finally:
        monkeypatch.delenv("WATERREV_RECON_BUCKET")
        monkeypatch.delenv("WATERREV_S3_ENDPOINT_URL")
        reset_settings()
