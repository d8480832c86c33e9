"""What every path that changes a reminder's message does to its task: recompute the task's status from
its messages (rules.task_status), fall back from WeChat to SMS, and shape a task for a reply."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from waterrev import audit, crypto
from waterrev.context import RequestContext
from waterrev.db import UnitOfWork
from waterrev.domain.states import DispatchState, MessageStatus
from waterrev.errors import ErrorCode
from waterrev.messages import enqueue
from waterrev.notifications import rules
from waterrev.settings import get_settings

MODULE = "REV-006"
INTERFACE = "IF-REV-013"
SOURCE = "REMINDER"
CONTACT_MISSING = ErrorCode.MESSAGE_TEMPLATE_OR_CONTACT_MISSING
_STATUS_MSG = {
    MessageStatus.PENDING: "催缴任务已生成并提交消息服务，等待 SYS-010 回执",
    MessageStatus.SUCCESS: "已触达客户",
    MessageStatus.FAIL: "触达失败",
    MessageStatus.MANUAL_VERIFIED: "已人工核查补记",
}

TASK_COLUMNS = (
    "t.*, r.run_no, (SELECT min(m.not_before) FROM biz_message m WHERE m.message_biz_no = t.event_no"
    f" AND m.status = '{MessageStatus.PENDING}' AND m.dispatch_state = '{DispatchState.NEW}') AS held_until"
)
TASK_FROM = "biz_reminder_task t LEFT JOIN biz_reminder_run r ON r.id = t.run_id"


def zone() -> ZoneInfo:
    return ZoneInfo(get_settings().display_time_zone)


def sms_release(now: dt.datetime, params: rules.ReminderParams) -> dt.datetime | None:
    """When a reminder SMS asked for now may go (None: at once): held through the quiet hours."""
    return rules.quiet_release(now, params.quiet_start, params.quiet_end, zone())


def day_start(now: dt.datetime) -> dt.datetime:
    """Midnight of today in the utility's zone: the daily SMS cap counts from here."""
    local = now.astimezone(zone())
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


def reply(row: dict[str, Any], msg: str | None = None) -> dict[str, Any]:
    """A task in IF-REV-013's reply fields (and our extensions)."""
    status = MessageStatus(row["status"])
    text = msg or _STATUS_MSG[status]
    if status is MessageStatus.FAIL and row.get("failure_reason"):
        text = f"{text}：{row['failure_reason']}"
    held = row.get("held_until")
    if status is MessageStatus.PENDING and held is not None and held > dt.datetime.now(dt.UTC):
        text = f"短信静默时段，将于 {held.astimezone(zone()):%Y-%m-%d %H:%M} 发送"
    return {
        "taskNo": row["task_no"],
        "interfaceCode": INTERFACE,
        "eventNo": row["event_no"],
        "status": status.value,
        "resultTime": row["result_time"],
        "failureReason": row["failure_reason"],
        "resultChannel": row["result_channel"],
        "relatedDisposalRef": row["related_disposal_ref"],
        "msg": text,
        "custId": row["cust_id"],
        "chargeIds": list(row["charge_ids"]),
        "billPeriod": row["bill_period"],
        "arrearsAmount": row["arrears_amount"],
        "strategyCode": row["strategy_code"],
        "templateCode": row["template_code"],
        "channelType": row["channel_type"],
        "triggerType": row["trigger_type"],
        "errorCode": row["error_code"],
        "runNo": row.get("run_no"),
        "manualVerifyNote": row["manual_verify_note"],
        "verifierName": row["verifier_name"],
        "verifyTime": row["verify_time"],
        "createTime": row["create_time"],
    }


def load(uow: UnitOfWork, where: str, params: dict[str, Any], *, lock: bool = False) -> dict[str, Any] | None:
    return uow.one(
        f"SELECT {TASK_COLUMNS} FROM {TASK_FROM} WHERE {where}" + (" FOR UPDATE OF t" if lock else ""), params
    )


def settle(uow: UnitOfWork, ctx: RequestContext, event_no: str) -> None:
    """A message of this event changed: bring its reminder task (if any) to what its messages say. A
    WeChat message that failed falls back to an SMS when the customer has a usable mobile and SMS left
    today; the task then stays PENDING. Audited when the task's status changes."""
    task = load(uow, "t.event_no = :e", {"e": event_no}, lock=True)
    if task is None or task["status"] in (MessageStatus.SUCCESS, MessageStatus.MANUAL_VERIFIED):
        return
    messages = uow.all(
        "SELECT id, channel, status, failure_reason, result_time FROM biz_message WHERE message_biz_no = :e"
        " ORDER BY id",
        {"e": event_no},
    )
    fallback = None
    statuses = [m["status"] for m in messages]
    if (
        statuses
        and all(s == MessageStatus.FAIL for s in statuses)
        and not any(m["channel"] == "SMS" for m in messages)
    ):
        fallback = _fall_back_to_sms(uow, task)
        if fallback is not None:
            statuses.append(MessageStatus.PENDING)
    target = rules.task_status(task["status"], statuses)
    reached = next((m for m in messages if m["status"] == MessageStatus.SUCCESS), None)
    last = messages[-1] if messages else None
    failure = None
    if target is MessageStatus.FAIL and last is not None:
        failure = last["failure_reason"] or "SYS-010 回执失败"
    if target is MessageStatus.PENDING and fallback is not None:
        failure = None
    if target == task["status"] and fallback is None:
        return
    uow.execute(
        "UPDATE biz_reminder_task SET status = :s, result_time = :rt, result_channel = :rc,"
        " failure_reason = :f, update_time = now() WHERE id = :id",
        {
            "s": target,
            "rt": (reached or last or {}).get("result_time") if target is not MessageStatus.PENDING else None,
            "rc": (reached or last or {}).get("channel") if target is not MessageStatus.PENDING else None,
            "f": failure if fallback is None else f"{failure or '微信消息未送达'}，已改发短信",
            "id": task["id"],
        },
    )
    audit.record(
        uow,
        ctx,
        module=MODULE,
        operation="REMINDER_RESULT" if fallback is None else "REMINDER_SMS_FALLBACK",
        object_type="biz_reminder_task",
        object_id=task["task_no"],
        before={"status": task["status"]},
        after={"status": target, "resultChannel": (reached or {}).get("channel"), "smsFallback": fallback},
    )


def _fall_back_to_sms(uow: UnitOfWork, task: dict[str, Any]) -> int | None:
    """Queue the reminder again as an SMS (same event, same template): when the customer has a usable
    mobile and is under the daily SMS cap (counted under the customer's guard row, as generation does)."""
    from waterrev.notifications.reminders import params_for

    lock_guard(uow, task["cust_id"])
    cust = uow.one(
        "SELECT mobile, mobile_cipher, mobile_index FROM biz_cust WHERE id = :c", {"c": task["cust_id"]}
    )
    mobile = None if cust is None or cust["mobile_cipher"] is None else cust["mobile"]
    if cust is None or not rules.usable_mobile(mobile):
        return None
    params, _ = params_for(uow, task["dept_id"])
    now = dt.datetime.now(dt.UTC)
    if sms_today(uow, task["cust_id"], now) >= params.daily_sms_cap:
        return None
    return enqueue(
        uow,
        biz_no=task["event_no"],
        template_code=task["template_code"],
        receiver=str(mobile),
        channel="SMS",
        source=SOURCE,
        sealed=crypto.stored(cust, "mobile"),
        payload=payload(task),
        cust_id=task["cust_id"],
        not_before=sms_release(now, params),
    )


def lock_guard(uow: UnitOfWork, cust_id: int, run_id: int | None = None) -> None:
    """Take the customer's guard row (created on first use): whoever creates a reminder for this
    customer waits here, so the frequency and cap checks that follow cannot race."""
    uow.execute(
        "INSERT INTO biz_reminder_guard (cust_id, run_id) VALUES (:c, :r)"
        " ON CONFLICT (cust_id) DO UPDATE SET run_id = EXCLUDED.run_id, lock_time = now()",
        {"c": cust_id, "r": run_id},
    )


def sms_today(uow: UnitOfWork, cust_id: int, now: dt.datetime) -> int:
    return int(
        uow.scalar(
            "SELECT count(*) FROM biz_message WHERE cust_id = :c AND create_time >= :d AND channel = 'SMS'"
            f" AND source = '{SOURCE}'",
            {"c": cust_id, "d": day_start(now)},
        )
    )


def payload(task: dict[str, Any]) -> dict[str, Any]:
    """The message's payload, as the seed's SYS-002 <-> SYS-010 mapping names it."""
    return {
        "arrearsAmount": str(task["arrears_amount"]),
        "billPeriod": task["bill_period"],
        "strategyCode": task["strategy_code"],
        "triggerType": task["trigger_type"],
        "chargeCount": len(task["charge_ids"]),
        "taskNo": task["task_no"],
    }
