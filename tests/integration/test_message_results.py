"""SYS-010's delivery-result callback (IF-EXT-008 回传执行结果) on our signed webhook route: verified on the
raw body with a replay window, kept as received, idempotent (the same result twice changes nothing), a
late FAIL never overwrites SUCCESS or MANUAL_VERIFIED, a late SUCCESS after a FAIL is taken, and a result
for a message we never sent is kept as an exception."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support import (
    REMINDER_TASK,
    Reply,
    call,
    expect_error,
    new_customer,
    new_office,
    overdue_bills,
    reminder_body,
    sql_all,
    sql_exec,
    sql_scalar,
    unique,
)
from waterrev.settings import reset_settings
from waterrev.webhook import reset_keys, sign

KEY_ID, SECRET = "k-result", "sys010-result-secret-for-tests"
RESULT = "/open-api/message/result"


@pytest.fixture(autouse=True)
def _keys(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("WATERREV_WEBHOOK_KEYS", json.dumps({"SYS010": {KEY_ID: SECRET}}))
    reset_settings()
    reset_keys()
    yield
    monkeypatch.undo()
    reset_settings()
    reset_keys()


def post(
    body: dict[str, Any] | str,
    *,
    secret: str = SECRET,
    timestamp: int | None = None,
    nonce: str | None = None,
) -> Reply:
    raw = body if isinstance(body, str) else json.dumps(body, ensure_ascii=False)
    ts, nonce = str(int(time.time()) if timestamp is None else timestamp), nonce or secrets.token_hex(8)
    headers = {
        "x-waterrev-key-id": KEY_ID,
        "x-waterrev-timestamp": ts,
        "x-waterrev-nonce": nonce,
        "x-waterrev-signature": sign(secret, ts, nonce, raw),
    }
    return call("POST", RESULT, raw_body=raw.encode(), headers=headers)


def a_reminder(admin: str, mobile: str) -> dict[str, Any]:
    office = new_office(admin)
    cust = int(new_customer(admin, dept_id=office, mobile=mobile)["id"])
    reply = call("POST", REMINDER_TASK, reminder_body(cust, overdue_bills(cust, ["10.00"])), token=admin)
    assert reply.code == 0, reply.body
    return dict(reply.data)


def result(task: dict[str, Any], mobile: str, status: str, **extra: Any) -> dict[str, Any]:
    return {
        "messageId": "M1",
        "eventNo": task["eventNo"],
        "templateCode": "REMIND_FIRST",
        "channel": "SMS",
        "receiver": {"customerId": str(task["custId"]), "mobile": mobile},
        "sendStatus": status,
        "reachStatus": "DELIVERED" if status == "SUCCESS" else "UNREACHABLE",
        "sendTime": "2026-11-20 09:30:00",
        "resultMsg": "ok" if status == "SUCCESS" else "空号",
        **extra,
    }


def state(task: dict[str, Any]) -> tuple[str, str]:
    message = sql_scalar("SELECT status FROM biz_message WHERE message_biz_no = :e", {"e": task["eventNo"]})
    reminder = sql_scalar("SELECT status FROM biz_reminder_task WHERE task_no = :n", {"n": task["taskNo"]})
    return str(message), str(reminder)


def outcomes(task: dict[str, Any]) -> list[str]:
    return [
        r["outcome"]
        for r in sql_all(
            "SELECT c.outcome FROM biz_message_callback c JOIN biz_message m ON m.id = c.message_id"
            " WHERE m.message_biz_no = :e ORDER BY c.id",
            {"e": task["eventNo"]},
        )
    ]


def test_a_result_is_applied_once_and_a_late_fail_never_overwrites_success(admin: str) -> None:
    """Given a PENDING reminder, when SYS-010 reports SUCCESS, then the message and the task are SUCCESS;
    the same result again is a DUPLICATE; a new receipt (READ) is written beside it; a FAIL after that is
    IGNORED: still SUCCESS. Every callback is kept with its outcome."""
    task = a_reminder(admin, "13922220001")

    applied = post(result(task, "13922220001", "SUCCESS"))
    duplicate = post(result(task, "13922220001", "SUCCESS"))
    receipt = post(result(task, "13922220001", "SUCCESS", reachStatus="READ"))
    late_fail = post(result(task, "13922220001", "FAIL"))

    assert [r.data["outcome"] for r in (applied, duplicate, receipt, late_fail)] == [
        "APPLIED",
        "DUPLICATE",
        "RECEIPT",
        "IGNORED",
    ]
    assert state(task) == ("SUCCESS", "SUCCESS")
    assert (
        sql_scalar("SELECT reach_status FROM biz_message WHERE message_biz_no = :e", {"e": task["eventNo"]})
        == "READ"
    )
    assert outcomes(task) == ["APPLIED", "DUPLICATE", "RECEIPT", "IGNORED"]


def test_a_fail_then_a_late_success_ends_success(admin: str) -> None:
    """外部结果晚到: a FAIL first (the task FAIL: no usable WeChat to fall back from, the SMS itself failed),
    then SUCCESS: it did reach the customer - both end SUCCESS."""
    task = a_reminder(admin, "13922220002")

    post(result(task, "13922220002", "FAIL"))
    failed = state(task)
    post(result(task, "13922220002", "SUCCESS"))

    assert failed == ("FAIL", "FAIL") and state(task) == ("SUCCESS", "SUCCESS")


def test_a_late_fail_never_overwrites_manual_verified(admin: str) -> None:
    task = a_reminder(admin, "13922220003")
    verified = call(
        "POST",
        "/admin-api/revenue/reminder/task/manual-verify",
        {"taskNo": task["taskNo"], "manualVerifyNote": "已上门确认"},
        token=admin,
    )
    assert verified.code == 0, verified.body

    late = post(result(task, "13922220003", "FAIL"))

    assert late.data == {"outcome": "IGNORED", "messageStatus": "MANUAL_VERIFIED"}
    assert state(task) == ("MANUAL_VERIFIED", "MANUAL_VERIFIED")


def test_an_accepted_only_result_keeps_pending(admin: str) -> None:
    """当仅返回受理成功但未返回终态时，SYS-002 维持 PENDING."""
    task = a_reminder(admin, "13922220004")

    reply = post(result(task, "13922220004", "ACCEPTED"))

    assert reply.data == {"outcome": "RECEIPT", "messageStatus": "PENDING"}  # its receipt kept, no state
    assert state(task) == ("PENDING", "PENDING")


def test_a_result_for_a_message_we_never_sent_is_kept_as_an_exception(admin: str) -> None:
    """Given a verified result whose event we never sent, then it is answered (SYS-010 stops), kept as
    UNKNOWN, and one open UNKNOWN_RESULT exception is there for a person, however often it comes."""
    event = unique("CE-NONE-")
    body = {"messageId": "M9", "eventNo": event, "templateCode": "REMIND_FIRST", "channel": "SMS",
            "receiver": {"mobile": "13922229999"}, "sendStatus": "SUCCESS"}  # fmt: skip

    first, again = post(body), post(body)

    assert first.data == {"outcome": "UNKNOWN", "messageStatus": None} and again.data["outcome"] == "UNKNOWN"
    (exception,) = sql_all(
        "SELECT * FROM biz_message_exception WHERE detail ->> 'eventNo' = :e", {"e": event}
    )
    assert (exception["exception_type"], exception["status"]) == ("UNKNOWN_RESULT", "OPEN")
    listed = call(
        "GET",
        "/admin-api/revenue/reminder/dead-letter/page",
        token=admin,
        query="exceptionType=UNKNOWN_RESULT&pageSize=100",
    )
    assert event in [x["eventNo"] for x in listed.data["list"]]


@pytest.mark.parametrize("problem", ["bad_signature", "old_timestamp", "unknown_key", "nonce_again"])
def test_a_callback_that_fails_verification_is_refused_and_kept(admin: str, problem: str) -> None:
    """The signature covers the raw body, with a 5-minute window and each nonce once; a refused callback
    is answered 401 (SYS-010 sends again), kept as REJECTED, and changes nothing."""
    task = a_reminder(admin, "13922220005")
    body = result(task, "13922220005", "SUCCESS")
    if problem == "bad_signature":
        reply = post(body, secret="not-the-key")
    elif problem == "old_timestamp":
        reply = post(body, timestamp=int(time.time()) - 3600)
    elif problem == "unknown_key":
        sql_exec("SELECT 1")
        raw = json.dumps(body)
        ts, nonce = str(int(time.time())), secrets.token_hex(8)
        reply = call("POST", RESULT, raw_body=raw.encode(), headers={
            "x-waterrev-key-id": "nobody", "x-waterrev-timestamp": ts, "x-waterrev-nonce": nonce,
            "x-waterrev-signature": sign(SECRET, ts, nonce, raw)})  # fmt: skip
    else:
        nonce = secrets.token_hex(8)
        assert post(body, nonce=nonce).code == 0
        sql_exec(
            "UPDATE biz_message SET status = 'PENDING' WHERE message_biz_no = :e", {"e": task["eventNo"]}
        )
        reply = post(body, nonce=nonce)

    expect_error(reply, 401)
    assert state(task)[0] == "PENDING"
    assert (
        sql_scalar(
            "SELECT count(*) FROM biz_message_callback WHERE outcome = 'REJECTED' AND raw_body LIKE :e",
            {"e": f"%{task['eventNo']}%"},
        )
        == 1
    )


def test_an_unreadable_verified_body_is_a_400_and_kept(admin: str) -> None:
    before = sql_scalar("SELECT count(*) FROM biz_message_callback WHERE outcome = 'UNPARSABLE'")
    fields = {"eventNo": "x", "templateCode": "T", "sendStatus": "SUCCESS"}
    bodies = [
        "not json",
        "[1, 2]",
        json.dumps({"eventNo": "x"}),
        # found by the signed API fuzz: text PostgreSQL cannot hold, in a field kept beside the callback
        json.dumps({**fields, "reachStatus": "R\x00"}),
        json.dumps({**fields, "resultMsg": "M\x00"}),
        json.dumps({**fields, "channel": "\ud800"}),  # a lone surrogate
    ]
    for body in bodies:
        expect_error(post(body), 400, mentions="回执报文无法解析")
    assert sql_scalar("SELECT count(*) FROM biz_message_callback WHERE outcome = 'UNPARSABLE'") == before + 6


def test_a_verification_and_a_result_for_one_task_queue_up_instead_of_deadlocking(admin: str) -> None:
    """A result callback locks the message, then its task; a verification takes the same locks in the same
    order. Given a callback holding the message's lock, a verification waits for it without holding the
    task, so the callback can still take the task (before the fix the verification held the task first:
    each would have waited for the other)."""
    from tests.integration.test_rev_collection import run_in_thread, wait_until_blocked_on_a_lock
    from tests.support import sql_scratch

    task = a_reminder(admin, "13922220006")
    body = {"taskNo": task["taskNo"], "manualVerifyNote": "已电话确认"}
    with sql_scratch() as uow:  # the callback's first lock
        uow.execute("SELECT id FROM biz_message WHERE message_biz_no = :e FOR UPDATE", {"e": task["eventNo"]})
        thread, out = run_in_thread(
            "verify",
            lambda: call("POST", "/admin-api/revenue/reminder/task/manual-verify", body, token=admin),
        )
        wait_until_blocked_on_a_lock()
        uow.execute(  # ... and its second: free, as the verification waits on the message
            "SELECT id FROM biz_reminder_task WHERE task_no = :n FOR UPDATE NOWAIT", {"n": task["taskNo"]}
        )
    thread.join(30)

    assert "error" not in out and out["value"].code == 0, out
    assert out["value"].data["status"] == "MANUAL_VERIFIED"
