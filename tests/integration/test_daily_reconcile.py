"""The daily three-way reconciliation over every channel (issue 13, beyond the seed): our settled trades
of a business day per channel, the channels' statements and the bank's credit file that the local
simulators deliver (waterrev.local.recon_sim), through the admin routes and the scheduled job.

Each test takes a business day of its own long past, with one settled trade per channel written
straight into bk_transaction (how each channel settles is tested elsewhere; here only the day's
collections matter), so no other test's trades share its day.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.support import call, expect_error, new_customer, sql_all, sql_exec, unique
from waterrev.banking import daily_rules
from waterrev.local import recon_sim

pytestmark = pytest.mark.integration
BASE = "/admin-api/revenue/bank/daily-reconcile"
BEIJING = dt.timezone(dt.timedelta(hours=8))


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    from waterrev.settings import reset_settings

    root = tmp_path / "recon"
    monkeypatch.setenv("WATERREV_RECON_DIR", str(root))
    monkeypatch.delenv("WATERREV_RECON_BUCKET", raising=False)
    reset_settings()
    yield root
    reset_settings()


def a_day() -> dt.date:
    return dt.date(1995, 1, 1) + dt.timedelta(days=secrets.randbelow(9000))


def trades(admin: str, day: dt.date) -> dict[str, str]:
    """One settled trade per channel on `day` (Beijing noon); channel -> its key."""
    cust_id = int(new_customer(admin)["id"])
    paid = dt.datetime.combine(day, dt.time(12), BEIJING)
    keys = {}
    for n, (channel, scene) in enumerate(daily_rules.SCENES.items(), start=1):
        order_no = unique("DR")[:40]
        trade = f"TBANK:{unique('BK')}" if channel in daily_rules.KEYED_BY_TRADE else unique("WX")
        sql_exec(
            "INSERT INTO bk_transaction (biz_order_no, trade_no, cust_id, channel_code, scene, trade_amount, status,"
            " success_amount, expire_time, paid_time, notify_time, request_key)"
            " VALUES (:o, :t, :c, 'TEST', :s, :a, 'SUCCESS', :a, :p, :p, :p, :k)",
            {
                "o": order_no,
                "t": trade,
                "c": cust_id,
                "s": scene,
                "a": Decimal(f"{n}0.50"),
                "p": paid,
                "k": order_no,
            },
        )
        keys[channel] = trade if channel in daily_rules.KEYED_BY_TRADE else order_no
    return keys


def report(admin: str, day: dt.date) -> dict[str, Any]:
    reply = call("GET", f"{BASE}/report", token=admin, query=f"bizDate={day.isoformat()}")
    assert reply.code == 0, reply.body
    return dict(reply.data)


def run(admin: str, day: dt.date) -> dict[str, Any]:
    reply = call("POST", f"{BASE}/run", {"bizDate": day.isoformat()}, token=admin)
    assert reply.code == 0, reply.body
    return dict(reply.data)


def test_a_day_on_which_every_channel_matches_is_balanced(admin: str, store: Path) -> None:
    """Given a day with one settled trade on each of the five channels, and each channel's statement and
    the bank's credits saying the same
    When the day is reconciled
    Then it is BALANCED: every file read, no difference, ours = the statements = the credits."""
    day = a_day()
    trades(admin, day)
    recon_sim.write_day(store, day)
    done = run(admin, day)
    assert done["reconStatus"] == "BALANCED", done
    assert done["diffList"] == [] and done["fileErrorCount"] == 0
    assert done["ourCount"] == done["channelCount"] == 5
    assert done["ourAmount"] == done["channelAmount"] == done["creditedAmount"] == "152.50"
    assert {f["fileStatus"] for f in done["files"]} == {"OK"} and len(done["files"]) == 6
    page = call("GET", f"{BASE}/page", token=admin, query="pageNo=1&pageSize=100")
    assert page.code == 0 and any(r["bizDate"] == day.isoformat() for r in page.data["list"])


def test_each_difference_class_is_found(admin: str, store: Path) -> None:
    """Given the counter's statement missing our trade, the online statement with a trade only it has, the
    QR statement with another amount, and the bank crediting withholding 1.00 short of what it settled
    When the day is reconciled
    Then one difference of each class: OURS_ONLY, CHANNEL_ONLY, AMOUNT_DIFFERS, CREDIT_DIFFERS (the QR
    channel is credited what its statement says, so no credit difference there)."""
    day = a_day()
    keys = trades(admin, day)
    recon_sim.write_day(
        store,
        day,
        misbehaviour=recon_sim.Misbehaviour(
            drop={keys["COUNTER"]},
            extra={"ONLINE": {"WXONLYTHEIRS1": Decimal("9.99")}},
            amount_delta={keys["COUNTER_QR"]: Decimal("0.01")},
            credit_delta={"WITHHOLDING": Decimal("-1.00")},
        ),
    )
    done = run(admin, day)
    assert done["reconStatus"] == "DIFFERENT" and done["openDiffCount"] == 4
    found = {(d["channel"], d["diffType"], d["matchKey"]): d for d in done["diffList"]}
    assert set(found) == {
        ("COUNTER", "OURS_ONLY", keys["COUNTER"]),
        ("ONLINE", "CHANNEL_ONLY", "WXONLYTHEIRS1"),
        ("COUNTER_QR", "AMOUNT_DIFFERS", keys["COUNTER_QR"]),
        ("WITHHOLDING", "CREDIT_DIFFERS", "WITHHOLDING"),
    }
    assert found[("COUNTER_QR", "AMOUNT_DIFFERS", keys["COUNTER_QR"])]["channelAmount"] == "30.51"
    credit = found[("WITHHOLDING", "CREDIT_DIFFERS", "WITHHOLDING")]
    assert (credit["channelAmount"], credit["creditedAmount"]) == ("50.50", "49.50")
    assert {d["status"] for d in done["diffList"]} == {"OPEN"}


def test_a_re_run_keeps_what_a_person_resolved_and_closes_what_is_gone(admin: str, store: Path) -> None:
    """Given a day reconciled with two differences, one of them resolved by a person with a reason
    When the day is run again, first with the same files, then with the channels' corrected files
    Then the same differences (no second row), the resolved one stays RESOLVED both times, the other is
    no longer listed once the files agree; resolving a resolved difference is 409, and the audit log
    names every run and the resolution."""
    day = a_day()
    keys = trades(admin, day)
    bad = recon_sim.Misbehaviour(drop={keys["COUNTER"], keys["ONLINE"]})
    recon_sim.write_day(store, day, misbehaviour=bad)
    first = run(admin, day)
    ids = {d["matchKey"]: d["diffId"] for d in first["diffList"]}
    assert set(ids) == {keys["COUNTER"], keys["ONLINE"]}
    resolved = call(
        "POST",
        f"{BASE}/diff/resolve",
        {"diffId": ids[keys["COUNTER"]], "reason": "现金已于次日解缴"},
        token=admin,
    )
    assert resolved.code == 0 and resolved.data["status"] == "RESOLVED", resolved.body
    again = run(admin, day)
    assert {d["diffId"]: d["status"] for d in again["diffList"]} == {
        ids[keys["COUNTER"]]: "RESOLVED",
        ids[keys["ONLINE"]]: "OPEN",
    }
    assert again["runCount"] == 2
    recon_sim.write_day(store, day)  # the channels send corrected statements
    third = run(admin, day)
    assert [(d["diffId"], d["status"], d["reason"]) for d in third["diffList"]] == [
        (ids[keys["COUNTER"]], "RESOLVED", "现金已于次日解缴")
    ]
    assert third["reconStatus"] == "BALANCED" and third["runCount"] == 3
    expect_error(
        call(
            "POST", f"{BASE}/diff/resolve", {"diffId": ids[keys["COUNTER"]], "reason": "again"}, token=admin
        ),
        409,
    )
    audit = sql_all(
        "SELECT operation FROM biz_operat_log WHERE (object_type = 'bk_daily_recon' AND object_id = :d)"
        " OR (object_type = 'bk_daily_recon_diff' AND object_id = :i) ORDER BY id",
        {"d": day.isoformat(), "i": str(ids[keys["COUNTER"]])},
    )
    assert [a["operation"] for a in audit] == [
        "DAILY_RECONCILE",
        "DAILY_RECONCILE_RESOLVE",
        "DAILY_RECONCILE",
        "DAILY_RECONCILE",
    ]


def test_a_missing_or_unreadable_file_is_an_exception_a_person_lists(admin: str, store: Path) -> None:
    """Given the online channel's statement never delivered, the QR statement cut short and the bank's
    credit file with a broken header
    When the day is reconciled by the scheduled job
    Then no error: the day is INCOMPLETE, the report lists the three files (MISSING / INVALID, with why),
    the channels whose statements were read are still compared, and no trade difference is invented for
    the channels without a readable statement."""
    from functions.job_daily_reconcile.handler import handler

    day = a_day()
    keys = trades(admin, day)
    recon_sim.write_day(
        store,
        day,
        misbehaviour=recon_sim.Misbehaviour(
            missing={"ONLINE"}, malformed={"COUNTER_QR", "BANK"}, drop={keys["COUNTER"]}
        ),
    )
    summary = handler({"bizDate": day.isoformat()}, None)
    assert summary == {
        "bizDate": day.isoformat(),
        "reconStatus": "INCOMPLETE",
        "openDiffCount": 1,
        "fileErrorCount": 3,
    }
    done = report(admin, day)
    files = {(f["channel"], f["fileKind"]): f for f in done["files"]}
    assert files[("ONLINE", "STATEMENT")]["fileStatus"] == "MISSING"
    assert files[("COUNTER_QR", "STATEMENT")]["fileStatus"] == "INVALID"
    assert files[("COUNTER_QR", "STATEMENT")]["error"]
    assert (
        files[("BANK", "CREDIT")]["fileStatus"] == "INVALID"
        and "文件头" in files[("BANK", "CREDIT")]["error"]
    )
    assert [(d["channel"], d["diffType"]) for d in done["diffList"]] == [("COUNTER", "OURS_ONLY")]


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
