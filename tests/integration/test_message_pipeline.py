"""One pipeline for every message: outbox (biz_message) -> relay -> SQS (moto) -> the consumer handler
(called with SQS events, as the event source mapping would) -> SYS-010 (the simulator, over HTTP) -> its
signed result callback -> the four states. Timeouts and 5xx keep PENDING and are retried; a poison
message ends in the dead-letter queue and an exception a person replays; nothing is sent twice to one
receiver for one event."""

from __future__ import annotations

import json
import threading
from typing import Any

from tests.support import (
    REMINDER_TASK,
    bind,
    call,
    channel_login,
    cust_name,
    expect_error,
    new_customer,
    new_office,
    overdue_bills,
    receiver_of,
    reminder_body,
    set_cust_mobile,
    sql_all,
    sql_exec,
    sql_scalar,
    unique,
)
from waterrev.context import SYSTEM, RequestContext
from waterrev.notifications import delivery

QUERY = "/admin-api/revenue/reminder/task/query"
DEAD = "/admin-api/revenue/reminder/dead-letter/page"
REPLAY = "/admin-api/revenue/reminder/dead-letter/replay"


def reminded(admin: str, office: int, mobile: str, **body: Any) -> dict[str, Any]:
    cust = int(new_customer(admin, dept_id=office, mobile=mobile)["id"])
    reply = call(
        "POST", REMINDER_TASK, reminder_body(cust, overdue_bills(cust, ["12.00"]), **body), token=admin
    )
    assert reply.code == 0, reply.body
    return dict(reply.data)


def message(event_no: str) -> dict[str, Any]:
    (row,) = sql_all("SELECT * FROM biz_message WHERE message_biz_no = :e", {"e": event_no})
    return row


def task(admin: str, task_no: str) -> dict[str, Any]:
    reply = call("POST", QUERY, {"taskNo": task_no}, token=admin)
    assert reply.code == 0, reply.body
    return dict(reply.data["list"][0])


def run_until(service: Any, done: Any, rounds: int = 40) -> None:
    """Relay and consume (and let the simulator's callbacks land) until `done()`."""
    for _ in range(rounds):
        service.queue.relay()
        service.queue.consume_once()
        service.sim.wait_idle(5)
        if done():
            return
    raise AssertionError("the pipeline did not get there")


def test_a_reminder_reaches_sys010_once_and_its_result_makes_the_task_success(
    admin: str, message_service: Any
) -> None:
    """Given a reminder task, when the relay, the queue, the consumer and SYS-010's signed callback have
    run, then SYS-010 received the message once with the seed's mapping, the message and the task are
    SUCCESS with SYS-010's receipt, and the task query shows it."""
    office = new_office(admin)
    created = reminded(admin, office, "13912340001")

    run_until(message_service, lambda: message(created["eventNo"])["status"] == "SUCCESS")

    (received,) = message_service.sim.deliveries("13912340001")
    assert received["eventNo"] == created["eventNo"] and received["templateCode"] == "REMIND_FIRST"
    assert (
        received["payload"]["arrearsAmount"] == "12.00"
        and received["payload"]["billPeriod"] == created["billPeriod"]
    )
    assert received["receiver"]["customerId"] == str(created["custId"]) and received["requests"] == 1
    row = message(created["eventNo"])
    assert (row["dispatch_state"], row["reach_status"], row["attempts"]) == ("CLOSED", "DELIVERED", 1)
    assert row["platform_message_id"] == received["messageId"]
    shown = task(admin, created["taskNo"])
    assert (shown["status"], shown["resultChannel"]) == ("SUCCESS", "SMS") and shown["resultTime"]
    assert [a.body["data"]["outcome"] for a in message_service.relay.answers] == ["APPLIED"]


def test_a_poison_message_ends_in_the_dead_letter_queue_and_is_replayed_once_after_a_fix(
    admin: str, message_service: Any
) -> None:
    """Given a batch of 10 messages of which SYS-010 always refuses one with a 500, when the consumer runs
    until the queue is empty, then the 9 are delivered once each; the tenth stays PENDING through the
    retries, then sits in the dead-letter queue (maxReceiveCount 5) and in an open exception; after the
    fix, a person's replay delivers it exactly once and the sweep removes its stale dead letter."""
    office = new_office(admin)
    mobiles = [f"1391235{n:04d}" for n in range(10)]
    created = [reminded(admin, office, mobile) for mobile in mobiles]
    poison = mobiles[3]
    message_service.sim.behaviour(errorReceivers=[poison])
    queue = message_service.queue

    assert queue.relay() == 10
    assert queue.consume_once(max_messages=10) == 10  # one batch of ten
    for _ in range(10):
        queue.consume_once()
    message_service.sim.wait_idle(5)

    for mobile in mobiles:
        if mobile != poison:
            assert len(message_service.sim.deliveries(mobile)) == 1
    assert message_service.sim.deliveries(poison) == []
    assert [
        r["answer"]
        for r in message_service.sim.requests()
        if r["receiver"] == poison[:3] + "****" + poison[-4:]
    ] == [500] * 5
    dead = message(created[3]["eventNo"])
    assert (dead["status"], dead["dispatch_state"], dead["attempts"]) == ("PENDING", "DEAD", 5)
    assert queue.depth() == 0 and queue.depth(queue.dlq_url) == 1
    listed = call("GET", DEAD, token=admin, query="status=OPEN&exceptionType=DEAD_LETTER&pageSize=100")
    (exception,) = [x for x in listed.data["list"] if x["messageId"] == dead["id"]]
    assert (
        exception["receiveCount"] == 5
        and "500" in exception["lastError"]
        and exception["receiver"] == "139****0003"
    )
    assert queue.sweep()["recorded"] == 0  # the consumer recorded it on the last attempt

    message_service.sim.behaviour(errorReceivers=[])
    replayed = call(
        "POST",
        REPLAY,
        {"ids": [exception["id"]], "action": "REPLAY", "remark": "SYS-010 已修复"},
        token=admin,
    )
    assert replayed.code == 0 and replayed.data["results"][0]["resolution"] == "REPLAYED", replayed.body
    run_until(message_service, lambda: message(created[3]["eventNo"])["status"] == "SUCCESS")
    swept = queue.sweep()

    assert (
        len(message_service.sim.deliveries(poison)) == 1
        and message_service.sim.deliveries(poison)[0]["requests"] == 1
    )
    assert swept["deleted"] == 1 and queue.depth(queue.dlq_url) == 0
    assert task(admin, created[3]["taskNo"])["status"] == "SUCCESS"
    again = call(
        "POST", REPLAY, {"ids": [exception["id"]], "action": "REPLAY", "remark": "再来"}, token=admin
    )
    assert again.data["results"][0]["replay"] is True
    expect_error(
        call("POST", REPLAY, {"ids": [exception["id"]], "action": "DISMISS", "remark": "x"}, token=admin), 409
    )


def test_a_timeout_keeps_pending_and_the_retry_is_delivered_once(
    admin: str, message_service: Any, monkeypatch: Any
) -> None:
    """Given SYS-010 answering after our client's timeout (it did take the message) and sending no result
    yet, when the consumer runs, then the message stays PENDING with 1_002_008_002 as its last error
    (never FAIL) and goes back on the queue; the retry is answered with the same messageId (SYS-010 keeps
    the idempotency key), so the customer receives it once; it stays PENDING (accepted, no result)."""
    from waterrev.settings import reset_settings

    monkeypatch.setenv("WATERREV_SYS010_TIMEOUT_MS", "300")
    reset_settings()
    office = new_office(admin)
    created = reminded(admin, office, "13912360001")
    message_service.sim.behaviour(timeoutSeconds=1, callback="NEVER")

    message_service.queue.relay()
    message_service.queue.consume_once()
    timed_out = message(created["eventNo"])
    message_service.sim.behaviour(timeoutSeconds=0)
    run_until(message_service, lambda: message(created["eventNo"])["dispatch_state"] == "ACCEPTED")

    assert (timed_out["status"], timed_out["dispatch_state"]) == ("PENDING", "QUEUED")
    assert timed_out["last_error"].startswith("1002008002")
    (received,) = message_service.sim.deliveries("13912360001")
    assert received["requests"] == 2  # our retry, answered as the same message
    row = message(created["eventNo"])
    assert (row["status"], row["attempts"], row["platform_message_id"]) == (
        "PENDING",
        2,
        received["messageId"],
    )


def test_5xx_answers_are_retried_with_the_message_pending(admin: str, message_service: Any) -> None:
    office = new_office(admin)
    created = reminded(admin, office, "13912370001")
    message_service.sim.behaviour(fail5xx=2)

    message_service.queue.relay()
    message_service.queue.consume_once()
    after_first = message(created["eventNo"])
    run_until(message_service, lambda: message(created["eventNo"])["status"] == "SUCCESS")

    assert (after_first["status"], after_first["dispatch_state"]) == ("PENDING", "QUEUED")
    assert "503" in after_first["last_error"]
    assert message(created["eventNo"])["attempts"] == 3
    assert len(message_service.sim.deliveries("13912370001")) == 1


def test_a_refused_message_fails_at_once_and_is_not_retried(admin: str, message_service: Any) -> None:
    """SYS-010 answering 422 (a template it does not have) is a failure of this message: FAIL with the
    reason, closed, and the task FAIL; it is not retried."""
    office = new_office(admin)
    created = reminded(admin, office, "13912380001")
    message_service.sim.behaviour(rejectTemplates=["REMIND_FIRST"])

    message_service.queue.relay()
    message_service.queue.consume_once()
    message_service.queue.consume_once()

    row = message(created["eventNo"])
    assert (row["status"], row["dispatch_state"], row["attempts"]) == ("FAIL", "CLOSED", 1)
    assert "TEMPLATE_NOT_FOUND" in row["failure_reason"]
    shown = task(admin, created["taskNo"])
    assert shown["status"] == "FAIL" and "TEMPLATE_NOT_FOUND" in shown["failureReason"]


def test_a_failed_wechat_message_falls_back_to_sms(admin: str, message_service: Any) -> None:
    """Given a reminder by WeChat whose delivery SYS-010 reports FAIL, then an SMS of the same event is
    queued (the task stays PENDING meanwhile) and, once delivered, the task is SUCCESS by SMS."""
    office = new_office(admin)
    cust = int(new_customer(admin, dept_id=office, mobile="13912390001")["id"])
    openid = unique("o-")
    assert bind(channel_login(openid), openid, cust).code == 0
    message_service.sim.behaviour(failReceivers=[openid])
    body = reminder_body(cust, overdue_bills(cust, ["12.00"]), channelType="WECHAT")
    created = call("POST", REMINDER_TASK, body, token=admin).data

    run_until(
        message_service,
        lambda: (
            sql_scalar("SELECT status FROM biz_reminder_task WHERE task_no = :n", {"n": created["taskNo"]})
            == "SUCCESS"
        ),
    )

    rows = sql_all(
        "SELECT channel, status FROM biz_message WHERE message_biz_no = :e ORDER BY id",
        {"e": created["eventNo"]},
    )
    assert [(r["channel"], r["status"]) for r in rows] == [("WECHAT", "FAIL"), ("SMS", "SUCCESS")]
    shown = task(admin, created["taskNo"])
    assert (shown["status"], shown["resultChannel"], shown["channelType"]) == ("SUCCESS", "SMS", "WECHAT")


def test_a_failed_sms_fails_the_task_with_sys010s_reason(admin: str, message_service: Any) -> None:
    office = new_office(admin)
    created = reminded(admin, office, "13912400001")
    message_service.sim.behaviour(failReceivers=["13912400001"])

    run_until(message_service, lambda: message(created["eventNo"])["status"] == "FAIL")

    shown = task(admin, created["taskNo"])
    assert (
        shown["status"] == "FAIL" and "无法接通" in shown["failureReason"] and shown["resultChannel"] == "SMS"
    )


def test_a_result_twice_changes_nothing_and_a_late_result_is_applied_when_it_comes(
    admin: str, message_service: Any
) -> None:
    """SYS-010 calling back twice: the second is a DUPLICATE and changes nothing. Calling back late: the
    message is ACCEPTED and PENDING until then. Never: it stays PENDING, and a person may verify it."""
    office = new_office(admin)
    twice = reminded(admin, office, "13912410001")
    message_service.sim.behaviour(callback="TWICE")
    run_until(message_service, lambda: len(message_service.relay.answers) >= 2)
    assert sorted(a.body["data"]["outcome"] for a in message_service.relay.answers) == [
        "APPLIED",
        "DUPLICATE",
    ]
    assert message(twice["eventNo"])["status"] == "SUCCESS"

    never = reminded(admin, office, "13912410002")
    message_service.sim.behaviour(callback="NEVER")
    message_service.queue.relay()
    message_service.queue.consume_once()
    waiting = message(never["eventNo"])
    assert (waiting["status"], waiting["dispatch_state"]) == ("PENDING", "ACCEPTED")
    verified = call(
        "POST",
        "/admin-api/revenue/reminder/task/manual-verify",
        {"taskNo": never["taskNo"], "manualVerifyNote": "长期无回执，电话核实已送达"},
        token=admin,
    )
    assert verified.code == 0 and verified.data["status"] == "MANUAL_VERIFIED"


def test_concurrent_copies_of_one_message_call_sys010_once(admin: str, message_service: Any) -> None:
    """Given two queue copies of one message delivered to two consumers at the same moment (SQS delivers
    at least once), then one claims it and calls SYS-010; the other finds it claimed (and is retried
    later) or already with SYS-010 (and is done); a retry finds it with SYS-010: one request in all."""
    office = new_office(admin)
    created = reminded(admin, office, "13912420001")
    row = message(created["eventNo"])
    record = {
        "messageId": "copy-a",
        "receiptHandle": None,
        "body": json.dumps({"messageId": row["id"], "relay": 1}),
        "attributes": {"ApproximateReceiveCount": "1"},
    }
    results: list[dict[str, str]] = []
    start = threading.Barrier(2)

    def consume(copy: str) -> None:
        start.wait()
        results.append(delivery.deliver(RequestContext("t", SYSTEM), [{**record, "messageId": copy}]))

    threads = [threading.Thread(target=consume, args=(c,)) for c in ("copy-a", "copy-b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    retried = delivery.deliver(RequestContext("t", SYSTEM), [record])

    # the copy that lost the claim is either retried (its rival still calling) or done (its rival finished)
    assert sorted(len(r) for r in results) in ([0, 0], [0, 1]) and retried == {}
    requests = [r for r in message_service.sim.requests() if r["eventNo"] == created["eventNo"]]
    assert [r["answer"] for r in requests] == [200]


def test_an_unreadable_queue_body_becomes_an_exception_a_person_dismisses(
    admin: str, message_service: Any
) -> None:
    """A queue copy nobody can read fails every attempt, lands in the dead-letter queue, is recorded by
    the sweep (no message behind it), and once dismissed its dead letter is deleted."""
    queue = message_service.queue
    queue.sqs.send_message(QueueUrl=queue.queue_url, MessageBody="not json")
    for _ in range(6):
        queue.consume_once()
    assert queue.depth(queue.dlq_url) == 1

    assert queue.sweep()["recorded"] == 1
    listed = call("GET", DEAD, token=admin, query="status=OPEN&pageSize=100")
    (found,) = [x for x in listed.data["list"] if x["lastError"] == "队列消息无法解析"]
    assert found["messageId"] is None and found["exceptionType"] == "DEAD_LETTER"
    refused = call("POST", REPLAY, {"ids": [found["id"]], "action": "REPLAY", "remark": "重发"}, token=admin)
    dismissed = call(
        "POST", REPLAY, {"ids": [found["id"]], "action": "DISMISS", "remark": "非本系统消息"}, token=admin
    )

    expect_error(refused, 409, mentions="DISMISS")
    assert dismissed.code == 0 and dismissed.data["results"][0]["resolution"] == "DISMISSED"
    assert queue.sweep()["deleted"] == 1 and queue.depth(queue.dlq_url) == 0


def test_dismissing_a_dead_message_fails_it_and_its_task(admin: str, message_service: Any) -> None:
    office = new_office(admin)
    created = reminded(admin, office, "13912430001")
    message_service.sim.behaviour(errorReceivers=["13912430001"])
    message_service.queue.relay()
    for _ in range(6):
        message_service.queue.consume_once()
    exception_id = sql_scalar(
        "SELECT id FROM biz_message_exception WHERE message_id = :m", {"m": message(created["eventNo"])["id"]}
    )

    clerk_view = call("GET", DEAD, token=_clerk(), query="pageSize=100")
    dismissed = call(
        "POST", REPLAY, {"ids": [exception_id], "action": "DISMISS", "remark": "号码停机"}, token=admin
    )

    assert exception_id not in [x["id"] for x in clerk_view.data["list"]]  # another dept's customer
    assert dismissed.code == 0
    row = message(created["eventNo"])
    assert (row["status"], row["dispatch_state"]) == ("FAIL", "CLOSED") and "号码停机" in row[
        "failure_reason"
    ]
    assert task(admin, created["taskNo"])["status"] == "FAIL"


def _clerk() -> str:
    from tests.support import admin_login, new_admin_user

    return admin_login(new_admin_user(dept_id=3), "Passw0rd!")


def test_a_bind_code_goes_through_the_pipeline_and_is_not_kept_once_sent(
    admin: str, message_service: Any
) -> None:
    """The binding verification code is a message like any other: SYS-010 receives it by SMS (its text
    shows the code), and once SYS-010 has it the code is dropped from the outbox row."""
    cust = int(new_customer(admin, mobile="13912440001")["id"])
    member = channel_login(unique("o-"))
    sent = call(
        "POST",
        "/app-api/customer/auth/send-verify-code",
        {"custId": cust, "custName": cust_name(cust)},
        token=member,
    )
    assert sent.code == 0, sent.body
    code = sql_scalar(
        "SELECT payload ->> 'code' FROM biz_message WHERE cust_id = :c AND template_code = 'BIND_VERIFY_CODE'",
        {"c": cust},
    )

    run_until(message_service, lambda: message_service.sim.deliveries("13912440001"))

    (received,) = message_service.sim.deliveries("13912440001")
    assert code in received["text"] and received["channel"] == "SMS"
    payload = sql_scalar(
        "SELECT payload FROM biz_message WHERE cust_id = :c AND template_code = 'BIND_VERIFY_CODE'",
        {"c": cust},
    )
    assert "code" not in payload and payload["custId"] == cust


def test_every_settled_payment_queues_its_result_message(admin: str, message_service: Any) -> None:
    """A counter payment (IF-REV-006) writes its collection through rev_write_off, whose AFTER INSERT
    trigger queues the payment result in the same transaction: one message per payment, to the bound
    WeChat user or else by SMS, delivered by the same pipeline."""
    from tests.support import new_bills

    cust, bills = new_bills(admin, ["2020-03"])
    set_cust_mobile(cust, "13912450001")
    due = str(bills[0]["total_amount"])
    paid = call(
        "POST",
        "/admin-api/revenue/collection/create",
        {"custId": cust, "chargeIds": [bills[0]["id"]], "paymentChannel": "CASH", "paymentAmount": due},
        token=admin,
    )
    assert paid.code == 0, paid.body

    (row,) = sql_all(
        "SELECT * FROM biz_message WHERE cust_id = :c AND source = 'PAYMENT_RESULT'", {"c": cust}
    )
    assert (row["template_code"], row["channel"], receiver_of(row)) == ("PAY_RESULT", "SMS", "13912450001")
    assert row["message_biz_no"] == f"PAY:{paid.data['collectionCode']}" and row["payload"]["amount"] == due
    run_until(message_service, lambda: message(row["message_biz_no"])["status"] == "SUCCESS")
    (received,) = message_service.sim.deliveries("13912450001")
    assert due in received["text"]


def test_the_simulators_console_shows_the_code_and_only_the_masked_mobile(capfd: Any) -> None:
    """`make run` has no SMS gateway: the SYS-010 simulator prints each SMS it takes (bind codes on a line
    of their own), with the mobile masked, never whole."""
    from waterrev.adapters.sys010 import Sys010Client
    from waterrev.local import sys010_sim

    with sys010_sim.start(app_secret="s", echo=True) as sim:
        client = Sys010Client(sim.base_url, sys010_sim.DEFAULT_APP_ID, "s")
        client.send(
            event_no="VC:1",
            template_code="BIND_VERIFY_CODE",
            channel="SMS",
            receiver={"customerId": "1", "mobile": "13612347777"},
            payload={"code": "123456", "ttlMinutes": 5},
            callback_url=None,
        )
        out = capfd.readouterr().out

    assert "verification code for 136****7777: 123456" in out and "13612347777" not in out


def test_the_scheduled_relay_sends_due_messages_and_sweeps(admin: str, message_service: Any) -> None:
    """The relay's function, called with a synthetic EventBridge scheduled event (nothing fires on moto),
    sweeps the dead-letter queue and relays what is due for the time it is given; a message held for
    later (quiet hours) stays in the outbox."""
    from functions.job_message_relay.handler import handler
    from waterrev.local.gateway import FakeLambdaContext

    office = new_office(admin)
    due = reminded(admin, office, "13912460001")
    held = reminded(admin, office, "13912460002")
    sql_exec(
        "UPDATE biz_message SET not_before = now() + interval '1 hour' WHERE message_biz_no = :e",
        {"e": held["eventNo"]},
    )

    counts = handler(
        {
            "detail-type": "Scheduled Event",
            "source": "aws.scheduler",
            "time": "2026-11-22T01:00:00Z",
            "seconds": 0.3,
        },
        FakeLambdaContext("job_message_relay"),
    )

    assert counts["relayed"] == 1 and {"deadLetters", "recorded", "deleted"} <= counts.keys()
    assert (message(due["eventNo"])["dispatch_state"], message(held["eventNo"])["dispatch_state"]) == (
        "QUEUED",
        "NEW",
    )
    assert message_service.queue.depth() == 1


def test_an_in_app_reminder_reaches_the_customers_inbox(admin: str, message_service: Any) -> None:
    """INBOX (站内信) is a channel like the others: the receiver is the customer's inbox, always usable."""
    office = new_office(admin)
    created = reminded(admin, office, "13912470001", channelType="INBOX")

    run_until(message_service, lambda: message(created["eventNo"])["status"] == "SUCCESS")

    row = message(created["eventNo"])
    assert (row["channel"], row["receiver"]) == ("INBOX", f"CUST:{created['custId']}")
    assert len(message_service.sim.deliveries(f"CUST:{created['custId']}")) == 1
    assert task(admin, created["taskNo"])["resultChannel"] == "INBOX"
