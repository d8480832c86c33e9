"""IF-REV-013 催缴任务: one task for a customer's overdue bills, and an office's at once (the monthly
schedule's use case); the seed's request and reply fields; 欠费前提; channel preference and contact
validation (1_002_008_001, recorded, sendable later); frequency control (skipped with its reason); the
daily SMS cap; quiet hours; the seed's idempotency key under concurrent duplicates; the query with its
counts per state; 人工核查 (1_002_008_003, PENDING -> MANUAL_VERIFIED only); and the customer's history."""

from __future__ import annotations

import datetime as dt
import threading
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.support import (
    REMINDER_TASK,
    Reply,
    admin_login,
    audit_rows,
    bind,
    call,
    channel_login,
    expect_error,
    new_admin_user,
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

QUERY = "/admin-api/revenue/reminder/task/query"
VERIFY = "/admin-api/revenue/reminder/task/manual-verify"
GENERATE = "/admin-api/revenue/reminder/task/generate"
SEED_REPLY = {
    "taskNo", "interfaceCode", "eventNo", "status", "resultTime", "failureReason", "resultChannel",
    "relatedDisposalRef", "msg",
}  # fmt: skip


def customer(admin: str, office: int, **extra: Any) -> int:
    return int(new_customer(admin, dept_id=office, **extra)["id"])


def messages_of(event_no: str) -> list[dict[str, Any]]:
    return sql_all("SELECT * FROM biz_message WHERE message_biz_no = :e ORDER BY id", {"e": event_no})


def task_row(task_no: str) -> dict[str, Any]:
    return sql_all("SELECT * FROM biz_reminder_task WHERE task_no = :n", {"n": task_no})[0]


# ------------------------------------------------------------------------------- one task ----
def test_a_task_is_created_with_its_message_in_the_same_transaction(admin: str) -> None:
    """Given a customer with two overdue bills, when a reminder is asked for, then the reply has the
    seed's fields (interfaceCode IF-REV-013, PENDING), the task keeps the bills, the oldest period and
    what is owed, and one SMS message is queued with the seed's mapping (eventNo = messageBizNo,
    payload arrearsAmount / billPeriod / strategyCode / triggerType), audited."""
    office = new_office(admin)
    cust = customer(admin, office, mobile="13811112222")
    bills = overdue_bills(cust, ["30.50", "12.25"])

    reply = call("POST", REMINDER_TASK, reminder_body(cust, bills, relatedDisposalRef="TS-001"), token=admin)

    assert reply.code == 0, reply.body
    data = reply.data
    assert set(data) >= SEED_REPLY and data["interfaceCode"] == "IF-REV-013" and data["status"] == "PENDING"
    assert (
        data["resultTime"] is None
        and data["failureReason"] is None
        and data["relatedDisposalRef"] == "TS-001"
    )
    assert data["arrearsAmount"] == "42.75" and sorted(data["chargeIds"]) == sorted(bills)
    assert data["billPeriod"] == min(
        r["bill_period"]
        for r in sql_all(
            "SELECT bill_period FROM biz_charge WHERE id = ANY(CAST(:i AS bigint[]))", {"i": bills}
        )
    )
    (message,) = messages_of(data["eventNo"])
    assert (message["channel"], receiver_of(message), message["template_code"], message["source"]) == (
        "SMS",
        "13811112222",
        "REMIND_FIRST",
        "REMINDER",
    )
    assert (
        message["payload"]["arrearsAmount"] == "42.75"
        and message["payload"]["billPeriod"] == data["billPeriod"]
    )
    assert (
        message["payload"]["strategyCode"] == "FIRST_NOTICE" and message["payload"]["triggerType"] == "MANUAL"
    )
    assert (message["status"], message["dispatch_state"]) == ("PENDING", "NEW")
    (audit,) = audit_rows("biz_reminder_task", data["taskNo"], "REMINDER_CREATE")
    assert audit["after_data"]["channel"] == "SMS"


def test_wechat_is_preferred_when_the_customer_has_a_bound_wechat_user(admin: str) -> None:
    """Given a customer bound by a WeChat user, when an SMS reminder is asked for the channel WECHAT,
    then the message goes to the openid; asked for SMS, it goes by SMS (a usable mobile)."""
    office = new_office(admin)
    cust = customer(admin, office, mobile="13811113333")
    openid = unique("o-")
    assert bind(channel_login(openid), openid, cust).code == 0
    bills = overdue_bills(cust, ["20.00", "20.00"])

    wechat = call("POST", REMINDER_TASK, reminder_body(cust, bills[:1], channelType="WECHAT"), token=admin)
    sms = call("POST", REMINDER_TASK, reminder_body(cust, bills[1:], channelType="SMS"), token=admin)

    assert wechat.code == 0 and sms.code == 0, (wechat.body, sms.body)
    assert [(m["channel"], m["receiver"]) for m in messages_of(wechat.data["eventNo"])] == [
        ("WECHAT", openid)
    ]
    assert [(m["channel"], receiver_of(m)) for m in messages_of(sms.data["eventNo"])] == [
        ("SMS", "13811113333")
    ]
    assert wechat.data["channelType"] == "WECHAT" and sms.data["channelType"] == "SMS"


def test_no_usable_contact_is_recorded_fail_with_1_002_008_001_and_sendable_later(admin: str) -> None:
    """Given a customer with no usable mobile and no WeChat user, when a reminder is asked for, then it is
    answered 1_002_008_001 and the task is recorded FAIL with that reason and no message; once the
    mobile is fixed, the same reminder asked again (人工补发, MANUAL) is created and queued: a FAIL task
    does not count for frequency control."""
    office = new_office(admin)
    cust = customer(admin, office, mobile="13811114444")
    set_cust_mobile(cust, "0591-123")
    bills = overdue_bills(cust, ["15.00"])

    refused = call("POST", REMINDER_TASK, reminder_body(cust, bills), token=admin)

    expect_error(refused, 1_002_008_001, mentions="无可用触达渠道")
    assert refused.data["status"] == "FAIL" and refused.data["errorCode"] == 1_002_008_001
    recorded = task_row(refused.data["taskNo"])
    assert recorded["status"] == "FAIL" and recorded["failure_reason"].startswith("1002008001")
    assert messages_of(refused.data["eventNo"]) == []

    set_cust_mobile(cust, "13811114444")
    again = call("POST", REMINDER_TASK, reminder_body(cust, bills), token=admin)

    assert again.code == 0 and again.data["status"] == "PENDING", again.body
    assert [receiver_of(m) for m in messages_of(again.data["eventNo"])] == ["13811114444"]


def test_the_same_period_and_template_within_the_window_is_blocked(admin: str) -> None:
    """Given a reminder sent for a period, when the same strategy (template) is asked for the same period
    inside the frequency window, then it is refused 409 naming the task inside the window; another
    strategy for that period, or a window that has passed, is a reminder of its own."""
    office = new_office(admin)
    cust = customer(admin, office, mobile="13811115555")
    bills = overdue_bills(cust, ["10.00"])
    first = call("POST", REMINDER_TASK, reminder_body(cust, bills), token=admin)
    assert first.code == 0, first.body

    blocked = call("POST", REMINDER_TASK, reminder_body(cust, bills), token=admin)
    other = call("POST", REMINDER_TASK, reminder_body(cust, bills, strategyCode="SECOND_NOTICE"), token=admin)
    sql_exec(
        "UPDATE biz_reminder_task SET create_time = now() - interval '73 hours' WHERE task_no = :n",
        {"n": first.data["taskNo"]},
    )
    later = call("POST", REMINDER_TASK, reminder_body(cust, bills), token=admin)

    expect_error(blocked, 409, mentions="频控")
    assert blocked.data == {"reasonCode": "FREQUENCY", "existingTaskNo": first.data["taskNo"], "custId": cust}
    assert other.code == 0 and later.code == 0, (other.body, later.body)
    assert sql_scalar("SELECT count(*) FROM biz_reminder_task WHERE cust_id = :c", {"c": cust}) == 3


def test_a_customer_gets_at_most_the_daily_cap_of_reminder_sms(admin: str) -> None:
    """Given an office whose daily SMS cap is 2, when three reminders (different periods) are asked for
    one customer today, then the third is refused 429 and queues nothing."""
    office = new_office(admin, {"revenue.reminder.daily-sms-cap": "2"})
    cust = customer(admin, office, mobile="13811116666")
    bills = overdue_bills(cust, ["10.00", "11.00", "12.00"])

    replies = [call("POST", REMINDER_TASK, reminder_body(cust, [bill]), token=admin) for bill in bills]

    assert [r.code for r in replies[:2]] == [0, 0]
    expect_error(replies[2], 429, mentions="上限 2")
    assert replies[2].data["reasonCode"] == "DAILY_CAP"
    assert (
        sql_scalar("SELECT count(*) FROM biz_message WHERE cust_id = :c AND source = 'REMINDER'", {"c": cust})
        == 2
    )


def test_quiet_hours_hold_the_sms_until_they_end(admin: str) -> None:
    """Given an office whose quiet hours cover now, when an SMS reminder is created, then its message waits
    until the quiet hours end (not_before), the reply says so, and the relay leaves it alone meanwhile."""
    now = dt.datetime.now(ZoneInfo("Asia/Shanghai"))
    start, end = now - dt.timedelta(minutes=5), now + dt.timedelta(minutes=30)
    office = new_office(admin, {"revenue.reminder.quiet-hours": f"{start:%H:%M}-{end:%H:%M}"})
    cust = customer(admin, office, mobile="13811117777")
    bills = overdue_bills(cust, ["10.00"])

    reply = call("POST", REMINDER_TASK, reminder_body(cust, bills), token=admin)

    assert reply.code == 0 and "短信静默时段" in reply.data["msg"], reply.body
    (message,) = messages_of(reply.data["eventNo"])
    release = message["not_before"].astimezone(ZoneInfo("Asia/Shanghai"))
    assert release > now and (release.hour, release.minute) == (end.hour, end.minute)


@pytest.mark.parametrize(
    ("setup", "code", "mentions"),
    [
        ("paid", 409, "不满足欠费前提"),
        ("not_due", 409, "不满足欠费前提"),
        ("other_customer", 404, "不存在或不属于该客户"),
        ("wrong_amount", 409, "arrearsAmount"),
        ("wrong_period", 400, "billPeriod"),
    ],
)
def test_bills_that_are_not_arrears_block_the_task(admin: str, setup: str, code: int, mentions: str) -> None:
    """候选账单不满足欠费前提：阻断任务生成并返回明确原因 - a paid bill, one not yet due, another customer's,
    an amount that is not what is owed, a period none of the bills has; nothing is written."""
    office = new_office(admin)
    cust = customer(admin, office, mobile="13811118888")
    bills = overdue_bills(cust, ["10.00"])
    body = reminder_body(cust, bills)
    if setup == "paid":
        sql_exec(
            "UPDATE biz_charge SET status = 'PAID', paid_amount = total_amount WHERE id = :b", {"b": bills[0]}
        )
    elif setup == "not_due":
        sql_exec("UPDATE biz_charge SET due_date = current_date + 3 WHERE id = :b", {"b": bills[0]})
    elif setup == "other_customer":
        body["chargeIds"] = overdue_bills(customer(admin, office), ["10.00"])
    elif setup == "wrong_amount":
        body["arrearsAmount"] = "9.99"
    else:
        body["billPeriod"] = "1999-01"

    reply = call("POST", REMINDER_TASK, body, token=admin)

    expect_error(reply, code, mentions=mentions)
    assert sql_scalar("SELECT count(*) FROM biz_reminder_task WHERE cust_id = :c", {"c": cust}) == 0
    if setup == "wrong_amount":
        assert reply.data == {"arrearsAmount": "10.00"}


def test_a_customer_outside_the_data_scope_reads_as_absent(admin: str) -> None:
    office = new_office(admin)
    cust = customer(admin, office)
    bills = overdue_bills(cust, ["10.00"])
    clerk = admin_login(new_admin_user(dept_id=3), "Passw0rd!")

    outside = call("POST", REMINDER_TASK, reminder_body(cust, bills), token=clerk)
    missing = call("POST", REMINDER_TASK, reminder_body(987_654_321, bills), token=clerk)

    expect_error(outside, 1_002_001_001, mentions=f"custId={cust}")
    expect_error(missing, 1_002_001_001, mentions="custId=987654321")


def test_the_same_event_again_is_the_same_task_and_another_request_with_it_a_conflict(admin: str) -> None:
    """幂等: a caller's eventNo names its business event; the same request again answers the same task and
    queues nothing more; another request with the same eventNo is a conflict."""
    office = new_office(admin)
    cust = customer(admin, office)
    bills = overdue_bills(cust, ["10.00", "20.00"])
    event = unique("OA-")
    body = reminder_body(cust, bills[:1], eventNo=event)

    first = call("POST", REMINDER_TASK, body, token=admin)
    again = call("POST", REMINDER_TASK, body, token=admin)
    other = call("POST", REMINDER_TASK, reminder_body(cust, bills[1:], eventNo=event), token=admin)

    assert first.code == 0 and again.code == 0 and again.data["taskNo"] == first.data["taskNo"]
    assert first.data["eventNo"] == event and "重复请求" in again.data["msg"]
    expect_error(other, 409, mentions="eventNo")
    assert len(messages_of(event)) == 1


def test_two_concurrent_requests_for_one_reminder_make_one_task_and_one_message(admin: str) -> None:
    """Given the same reminder asked for twice at the same moment, then one task and one message exist
    (the customer's guard row serializes them; the second meets frequency control)."""
    office = new_office(admin)
    cust = customer(admin, office, mobile="13811119999")
    bills = overdue_bills(cust, ["10.00"])
    replies: list[Reply] = []
    start = threading.Barrier(4)

    def ask() -> None:
        start.wait()
        replies.append(call("POST", REMINDER_TASK, reminder_body(cust, bills), token=admin))

    threads = [threading.Thread(target=ask) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert sorted(r.code for r in replies) == [0, 409, 409, 409], [r.body for r in replies]
    assert sql_scalar("SELECT count(*) FROM biz_reminder_task WHERE cust_id = :c", {"c": cust}) == 1
    assert (
        sql_scalar("SELECT count(*) FROM biz_message WHERE cust_id = :c AND source = 'REMINDER'", {"c": cust})
        == 1
    )


# ------------------------------------------------------------------------------ 人工核查 ----
def test_manual_verify_needs_a_task_and_a_note(admin: str) -> None:
    """人工核查补记必须校验 taskNo 存在且 manualVerifyNote 非空 (1_002_008_003 otherwise)."""
    office = new_office(admin)
    cust = customer(admin, office)
    task = call("POST", REMINDER_TASK, reminder_body(cust, overdue_bills(cust, ["10.00"])), token=admin).data

    no_note = call("POST", VERIFY, {"taskNo": task["taskNo"], "manualVerifyNote": "  "}, token=admin)
    no_task = call("POST", VERIFY, {"manualVerifyNote": "已电话确认"}, token=admin)
    unknown = call(
        "POST", VERIFY, {"taskNo": "CT209901010000000001", "manualVerifyNote": "已电话确认"}, token=admin
    )

    expect_error(no_note, 1_002_008_003, mentions="manualVerifyNote")
    expect_error(no_task, 1_002_008_003, mentions="taskNo")
    expect_error(unknown, 1_002_008_003, mentions="CT209901010000000001")
    assert task_row(task["taskNo"])["status"] == "PENDING"


def test_manual_verify_moves_pending_to_manual_verified_only(admin: str) -> None:
    """Given a PENDING task, when a person verifies it, then it is MANUAL_VERIFIED with the note, the
    verifier and the disposal reference, its unsent message is closed (never sent), audited; the same
    verification again answers the task; a task in any other state is refused 409 naming its state."""
    office = new_office(admin)
    cust = customer(admin, office)
    bills = overdue_bills(cust, ["10.00", "20.00"])
    task = call("POST", REMINDER_TASK, reminder_body(cust, bills[:1]), token=admin).data
    body = {"taskNo": task["taskNo"], "manualVerifyNote": "电话确认客户已知悉", "relatedDisposalRef": "TS-9"}

    verified = call("POST", VERIFY, body, token=admin)
    again = call("POST", VERIFY, body, token=admin)
    other_note = call("POST", VERIFY, {**body, "manualVerifyNote": "另一说明"}, token=admin)

    assert verified.code == 0, verified.body
    assert verified.data["status"] == "MANUAL_VERIFIED" and verified.data["relatedDisposalRef"] == "TS-9"
    assert verified.data["manualVerifyNote"] == "电话确认客户已知悉" and verified.data["verifierName"]
    assert again.code == 0 and "重复请求" in again.data["msg"]
    expect_error(other_note, 409, mentions="MANUAL_VERIFIED")
    (message,) = messages_of(task["eventNo"])
    assert (message["status"], message["dispatch_state"]) == ("MANUAL_VERIFIED", "CLOSED")
    assert audit_rows("biz_reminder_task", task["taskNo"], "REMINDER_MANUAL_VERIFY")

    set_cust_mobile(cust, "123")
    failed = call("POST", REMINDER_TASK, reminder_body(cust, bills[1:]), token=admin)
    refused = call("POST", VERIFY, {"taskNo": failed.data["taskNo"], "manualVerifyNote": "核查"}, token=admin)
    expect_error(refused, 409, mentions="FAIL")


# ---------------------------------------------------------------------------------- query ----
def test_the_query_pages_tasks_and_counts_each_state(admin: str) -> None:
    """Given an office's tasks in three states, the query filters by customer, pages newest first and
    counts every state over the filter (the status filter aside); a clerk of another dept sees none."""
    office = new_office(admin)
    custs = [customer(admin, office, mobile=f"1391234{n:04d}") for n in range(3)]
    tasks = [
        call("POST", REMINDER_TASK, reminder_body(c, overdue_bills(c, ["10.00"])), token=admin).data
        for c in custs
    ]
    call("POST", VERIFY, {"taskNo": tasks[0]["taskNo"], "manualVerifyNote": "已核查"}, token=admin)
    sql_exec("UPDATE biz_reminder_task SET status = 'SUCCESS' WHERE task_no = :n", {"n": tasks[1]["taskNo"]})
    run_scope = {"custId": custs[2]}

    page = call("POST", QUERY, {"billPeriod": tasks[0]["billPeriod"], "pageSize": 100}, token=admin)
    mine = [call("POST", QUERY, {"custId": c}, token=admin).data for c in custs]
    pending = call("POST", QUERY, {**run_scope, "status": "PENDING"}, token=admin)
    one = call("POST", QUERY, {"taskNo": tasks[1]["taskNo"]}, token=admin)
    clerk = admin_login(new_admin_user(dept_id=3), "Passw0rd!")
    hidden = call("POST", QUERY, {"taskNo": tasks[1]["taskNo"]}, token=clerk)

    assert page.code == 0
    assert [m["list"][0]["status"] for m in mine] == ["MANUAL_VERIFIED", "SUCCESS", "PENDING"]
    assert mine[2]["counts"] == {"PENDING": 1, "SUCCESS": 0, "FAIL": 0, "MANUAL_VERIFIED": 0}
    assert (
        pending.data["total"] == 1 and pending.data["list"][0]["deliveries"][0]["receiver"] == "139****0002"
    )
    assert one.data["total"] == 1 and one.data["counts"]["SUCCESS"] == 1
    assert hidden.data == {
        "list": [],
        "total": 0,
        "pageNo": 1,
        "pageSize": 10,
        "counts": {"PENDING": 0, "SUCCESS": 0, "FAIL": 0, "MANUAL_VERIFIED": 0},
    }


# ------------------------------------------------------------------------- an office at once ----
def test_an_office_is_generated_set_based_with_strategies_channels_and_reasons(admin: str) -> None:
    """Given an office (overdue-days 15, min-arrears 10) with customers overdue 20, 40 and 70 days, one
    bound by WeChat, one owing less than the threshold, one overdue only 5 days and one without any
    contact, when its reminders are generated, then each candidate gets the strategy of its overdue
    days and its channel, the one without contact is recorded FAIL (1_002_008_001), the others are not
    candidates; generated again at once, every candidate is skipped by frequency control and listed
    with its reason (a FAIL task does not count: it is recorded again)."""
    office = new_office(admin, {"revenue.reminder.overdue-days": "15", "revenue.reminder.min-arrears": "10"})
    first, second, pre_stop, small, early, nowhere = (
        customer(admin, office, mobile=f"1371111{n:04d}") for n in range(6)
    )
    overdue_bills(first, ["10.00"], days_overdue=20)
    overdue_bills(second, ["30.00"], days_overdue=40)
    overdue_bills(pre_stop, ["25.00", "25.00"], days_overdue=40)  # oldest 70 days overdue
    overdue_bills(small, ["9.99"], days_overdue=40)
    overdue_bills(early, ["50.00"], days_overdue=5)
    overdue_bills(nowhere, ["50.00"], days_overdue=20)
    set_cust_mobile(nowhere, None)
    openid = unique("o-")
    assert bind(channel_login(openid), openid, second).code == 0

    run = call("POST", GENERATE, {"deptId": office}, token=admin)
    again = call("POST", GENERATE, {"deptId": office}, token=admin)

    assert run.code == 0, run.body
    data = run.data
    assert (data["candidateCount"], data["createdCount"], data["blockedCount"], data["skippedCount"]) == (
        4,
        3,
        1,
        0,
    )
    assert data["skippedByReason"] == {"FREQUENCY": 0, "DAILY_CAP": 0, "CONTACT_MISSING": 1}
    assert data["arrearsAmount"] == "90.00" and data["queuedCount"] == 3
    tasks = {
        r["cust_id"]: r
        for r in sql_all(
            "SELECT t.* FROM biz_reminder_task t JOIN biz_reminder_run r ON r.id = t.run_id WHERE r.run_no = :n",
            {"n": data["runNo"]},
        )
    }
    assert {c: (t["strategy_code"], t["channel_type"], t["status"]) for c, t in tasks.items()} == {
        first: ("FIRST_NOTICE", "SMS", "PENDING"),
        second: ("SECOND_NOTICE", "WECHAT", "PENDING"),
        pre_stop: ("PRE_STOP_NOTICE", "SMS", "PENDING"),
        nowhere: ("FIRST_NOTICE", "SMS", "FAIL"),
    }
    assert tasks[nowhere]["error_code"] == 1_002_008_001 and tasks[pre_stop]["arrears_amount"] == Decimal(
        "50.00"
    )
    assert [m["receiver"] for m in messages_of(tasks[second]["event_no"])] == [openid]
    assert messages_of(tasks[nowhere]["event_no"]) == []

    assert again.code == 0, again.body
    assert (again.data["createdCount"], again.data["skippedCount"], again.data["blockedCount"]) == (0, 3, 1)
    skipped = {s["custId"]: s for s in again.data["skippedList"]}
    assert set(skipped) == {first, second, pre_stop}
    assert (
        skipped[first]["reasonCode"] == "FREQUENCY"
        and skipped[first]["existingTaskNo"] == tasks[first]["task_no"]
    )
    listed = call(
        "GET",
        "/admin-api/revenue/reminder/task/skipped",
        token=admin,
        query=f"runNo={again.data['runNo']}&pageSize=2",
    )
    assert listed.code == 0 and listed.data["total"] == 3 and len(listed.data["list"]) == 2
    assert audit_rows("biz_reminder_run", data["runNo"], "REMINDER_GENERATE")


def test_the_daily_cap_skips_customers_in_a_generation(admin: str) -> None:
    """Given an office whose cap is 1 SMS a day and a customer reminded by SMS today, when the office is
    generated, then that customer is skipped with DAILY_CAP (another period, so not by frequency)."""
    office = new_office(admin, {"revenue.reminder.daily-sms-cap": "1"})
    cust = customer(admin, office, mobile="13722223333")
    bills = overdue_bills(cust, ["10.00", "12.00"], days_overdue=20)
    assert call("POST", REMINDER_TASK, reminder_body(cust, bills[:1]), token=admin).code == 0

    run = call("POST", GENERATE, {"deptId": office}, token=admin)

    assert run.code == 0 and run.data["createdCount"] == 0, run.body
    (skip,) = run.data["skippedList"]
    assert skip["reasonCode"] == "DAILY_CAP" and "上限 1" in skip["reason"]


def test_two_concurrent_generations_of_an_office_send_one_message_per_receiver(admin: str) -> None:
    """Given an office with customers in arrears, when it is generated twice at the same moment, then
    each customer has one task and one message (the runs lock each customer's guard row; the second
    finds the first's tasks and skips them), and the two runs together account for every customer."""
    office = new_office(admin)
    custs = [customer(admin, office, mobile=f"1373333{n:04d}") for n in range(12)]
    for c in custs:
        overdue_bills(c, ["20.00"], days_overdue=20)
    runs: list[Reply] = []
    start = threading.Barrier(2)

    def generate() -> None:
        start.wait()
        runs.append(call("POST", GENERATE, {"deptId": office}, token=admin))

    threads = [threading.Thread(target=generate) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert all(r.code == 0 for r in runs), [r.body for r in runs]
    assert sorted(r.data["createdCount"] for r in runs) == [0, 12]
    assert sum(r.data["skippedCount"] for r in runs) == 12
    per_receiver = sql_all(
        "SELECT receiver, count(*) AS n FROM biz_message WHERE cust_id = ANY(CAST(:c AS bigint[]))"
        " AND source = 'REMINDER' GROUP BY receiver",
        {"c": custs},
    )
    assert len(per_receiver) == 12 and {r["n"] for r in per_receiver} == {1}


def test_an_office_outside_the_scope_or_unknown_is_404(admin: str) -> None:
    clerk = admin_login(new_admin_user(dept_id=3), "Passw0rd!")
    expect_error(call("POST", GENERATE, {"deptId": 2}, token=clerk), 404, mentions="deptId")
    expect_error(call("POST", GENERATE, {"deptId": 987654321}, token=admin), 404, mentions="deptId")


def test_the_monthly_schedule_generates_every_office(admin: str) -> None:
    """The schedule's function, called with a synthetic EventBridge scheduled event (nothing fires on
    moto), runs a generation per dept holding customers in arrears, triggerType AUTO."""
    from functions.job_reminder_generate.handler import handler
    from waterrev.local.gateway import FakeLambdaContext

    office = new_office(admin)
    cust = customer(admin, office, mobile="13744445555")
    overdue_bills(cust, ["20.00"], days_overdue=20)

    result = handler(
        {
            "version": "0",
            "detail-type": "Scheduled Event",
            "source": "aws.scheduler",
            "time": "2026-11-20T01:00:00Z",
            "detail": {},
        },
        FakeLambdaContext("job_reminder_generate"),
    )

    (run,) = [r for r in result["runs"] if r["deptId"] == office]
    assert run["createdCount"] == 1 and run["triggerType"] == "AUTO"
    (task,) = sql_all("SELECT * FROM biz_reminder_task WHERE cust_id = :c", {"c": cust})
    assert task["trigger_type"] == "AUTO" and task["operator_name"] == "system"


# ------------------------------------------------------------------------- the customer's history ----
def test_the_customers_history_lists_its_reminders(admin: str) -> None:
    """IF-CS-002 queryType REMINDER (扩展): the bound customer sees its reminders with the seed's five
    fields (period; the others null) and the 历史查询 terms for 催缴; a stranger sees nothing."""
    office = new_office(admin)
    cust = customer(admin, office, mobile="13755556666")
    openid = unique("o-")
    member = channel_login(openid)
    assert bind(member, openid, cust).code == 0
    body = reminder_body(
        cust, overdue_bills(cust, ["10.00"]), channelType="WECHAT", relatedDisposalRef="TS-5"
    )
    task = call("POST", REMINDER_TASK, body, token=admin).data

    history = call(
        "GET", "/app-api/customer/bill/history", token=member, query=f"custId={cust}&queryType=REMINDER"
    )
    stranger = call(
        "GET",
        "/app-api/customer/bill/history",
        token=channel_login(unique("o-")),
        query=f"custId={cust}&queryType=REMINDER",
    )

    assert history.code == 0, history.body
    (row,) = history.data["list"]
    assert (row["chargeId"], row["usageAmount"], row["payStatus"], row["invoiceStatus"]) == (
        None,
        None,
        None,
        None,
    )
    assert row["billPeriod"] == task["billPeriod"] and row["taskNo"] == task["taskNo"]
    assert (row["messageStatus"], row["reminderChannel"], row["relatedDisposalRef"]) == (
        "PENDING",
        "WECHAT",
        "TS-5",
    )
    assert row["executor"] == task_row(task["taskNo"])["operator_name"] != "SYSTEM"  # MANUAL: who asked
    expect_error(stranger, 1_002_001_002)
