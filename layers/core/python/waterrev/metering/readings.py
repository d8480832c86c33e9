"""Reading tasks (IF-REV-003), reading submission and validation (IF-REV-004), estimates,
reviews, and IoT readings (IF-METER-004 / IF-EXT-009).

Usage = current - last valid reading (biz_last_reading), plus what a meter change carried over,
plus any negative carry left by a real reading that came in below an estimate. A reading below
the last one is a rollover when the last was near the meter's maximum, is allowed by an approved
review, trues up an estimate, and is otherwise refused (1_002_002_002) with a review opened.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from waterrev import audit
from waterrev.context import RequestContext
from waterrev.db import UnitOfWork
from waterrev.domain.lifecycle import sql_in
from waterrev.domain.states import (
    COUNTED_READINGS,
    METER_READ,
    READABLE_TASKS,
    READING,
    READING_REVIEW,
    MeterReadStatus,
    ReadingStatus,
    ReviewStatus,
    ValidateStatus,
)
from waterrev.errors import AppError, ErrorCode
from waterrev.metering.commands import GenerateTasks, IotReading, ReviewReading, SaveBook, SubmitReading
from waterrev.metering.rules import (
    BelowLastReading,
    exceeds_warn_ratio,
    usage_from_readings,
    validate,
)
from waterrev.scoped import WARN_RATIO, rule_value
from waterrev.settings import get_settings
from waterrev.visibility import customer_visible, dept_params, dept_visible, sees_every_dept

MODULE = "REV-002"
ZERO = Decimal("0.00")
CYCLE_MONTHS = {
    "MONTHLY": set(range(1, 13)),
    "ODD_MONTH": {1, 3, 5, 7, 9, 11},
    "EVEN_MONTH": {2, 4, 6, 8, 10, 12},
    "QUARTERLY": {3, 6, 9, 12},
}


def warn_ratio(uow: UnitOfWork, cust_id: int) -> Decimal:
    """revenue.reading.warn-ratio as configured for the customer's dept (decision 28); default 3."""
    value: Decimal = rule_value(uow, WARN_RATIO.code, cust_id=cust_id)
    return value


# ----------------------------------------------------------------------------- books, tasks --
def save_book(ctx: RequestContext, cmd: SaveBook) -> dict[str, Any]:
    """A dept, reader or meter the caller's data scope does not reach reads as absent (the same answer
    as one that does not exist); a book code held by another dept cannot be taken over (403)."""
    with UnitOfWork() as uow:
        dept = uow.scalar("SELECT id FROM system_dept WHERE id = :d AND status = 0", {"d": cmd.dept_id})
        if dept is None or not dept_visible(ctx, cmd.dept_id):
            raise AppError(ErrorCode.NOT_FOUND, f"deptId: 单位 {cmd.dept_id} 不存在")
        if cmd.reader_id is not None:
            reader = uow.one(
                "SELECT dept_id FROM system_users WHERE id = :u AND status = 0", {"u": cmd.reader_id}
            )
            if reader is None or not dept_visible(ctx, reader["dept_id"]):
                raise AppError(ErrorCode.NOT_FOUND, f"readerId: 抄表员 {cmd.reader_id} 不存在")
        owner = uow.scalar("SELECT dept_id FROM biz_meter_book WHERE code = :c FOR UPDATE", {"c": cmd.code})
        if owner is not None and not dept_visible(ctx, owner):
            raise AppError(ErrorCode.FORBIDDEN, f"code: 册本 {cmd.code} 属于无数据权限的营业所")
        book_id = uow.scalar(
            "INSERT INTO biz_meter_book (code, name, area_code, dept_id, read_cycle, reader_id)"
            " VALUES (:c, :n, :a, :d, :r, :u) ON CONFLICT (code) DO UPDATE SET name = :n, area_code = :a,"
            " dept_id = :d, read_cycle = :r, reader_id = :u RETURNING id",
            {
                "c": cmd.code,
                "n": cmd.name,
                "a": cmd.area_code,
                "d": cmd.dept_id,
                "r": cmd.read_cycle,
                "u": cmd.reader_id,
            },
        )
        meter_ids = sorted(set(cmd.meter_ids))
        if meter_ids:
            # A meter of an active customer outside the caller's data scope reads as absent.
            usable = uow.all(
                "SELECT m.id FROM biz_meter m WHERE m.id = ANY(CAST(:ids AS bigint[])) AND (CAST(:all_depts AS"
                " boolean) OR NOT EXISTS (SELECT 1 FROM biz_cust_meter cm JOIN biz_cust c ON c.id = cm.cust_id"
                " WHERE cm.meter_id = m.id AND cm.status = 'ACTIVE'"
                " AND NOT c.dept_id = ANY(CAST(:depts AS bigint[]))))",
                {"ids": meter_ids, **_scope(ctx)},
            )
            absent = sorted(set(meter_ids) - {r["id"] for r in usable})
            if absent:
                raise AppError(ErrorCode.BAD_REQUEST, f"meterIds: 水表 {absent} 不存在")
            uow.execute(
                "UPDATE biz_meter SET book_id = :b WHERE id = ANY(CAST(:ids AS bigint[]))",
                {"b": book_id, "ids": meter_ids},
            )
        audit.record(
            uow,
            ctx,
            module=MODULE,
            operation="BOOK_SAVE",
            object_type="biz_meter_book",
            object_id=book_id,
            after={
                "code": cmd.code,
                "name": cmd.name,
                "areaCode": cmd.area_code,
                "deptId": cmd.dept_id,
                "readCycle": cmd.read_cycle,
                "readerId": cmd.reader_id,
                "meterIds": list(cmd.meter_ids),
            },
        )
        count = uow.scalar("SELECT count(*) FROM biz_meter WHERE book_id = :b", {"b": book_id})
        uow.commit()
    return {"bookId": book_id, "code": cmd.code, "meterCount": count}


def generate_tasks(ctx: RequestContext, cmd: GenerateTasks) -> dict[str, Any]:
    """One biz_meter_read per active meter of the books, once per period. A book named by id that the
    caller's data scope does not reach reads as absent (404)."""
    month = int(cmd.bill_period[5:])
    scope = _scope(ctx)
    book_ids = sorted(set(cmd.book_ids))
    with UnitOfWork() as uow:
        books = uow.all(
            "SELECT id, code, read_cycle FROM biz_meter_book b WHERE status = 'ACTIVE'"
            " AND (id = ANY(CAST(:ids AS bigint[])) OR area_code = :area"
            "      OR (cardinality(CAST(:ids AS bigint[])) = 0 AND CAST(:area AS varchar) IS NULL"
            "          AND read_cycle = :cycle))"
            " AND (CAST(:all_depts AS boolean) OR dept_id = ANY(CAST(:depts AS bigint[])))"
            " ORDER BY id",
            {"ids": book_ids, "area": cmd.area_code, "cycle": cmd.read_cycle, **scope},
        )
        missing = set(book_ids) - {b["id"] for b in books}
        if missing:
            raise AppError(ErrorCode.NOT_FOUND, f"bookIds: 册本 {sorted(missing)} 不存在或无权限")
        due = [
            b["id"]
            for b in books
            if cmd.read_cycle in (None, b["read_cycle"]) and month in CYCLE_MONTHS[b["read_cycle"]]
        ]
        skipped = [b["code"] for b in books if b["id"] not in due]
        created = uow.all(
            "INSERT INTO biz_meter_read (book_id, meter_id, cust_id, bill_period, reading_batch_no)"
            " SELECT m.book_id, m.id, cm.cust_id, :p, :batch FROM biz_meter m"
            " JOIN biz_cust_meter cm ON cm.meter_id = m.id AND cm.status = 'ACTIVE'"
            " JOIN biz_cust c ON c.id = cm.cust_id AND c.status = 'NORMAL'"
            " WHERE m.book_id = ANY(CAST(:books AS bigint[])) AND m.status = 'ACTIVE'"
            " ON CONFLICT (meter_id, bill_period) DO NOTHING RETURNING id, book_id",
            {"p": cmd.bill_period, "batch": cmd.reading_batch_no, "books": due},
        )
        existing = uow.scalar(
            "SELECT count(*) FROM biz_meter_read r JOIN biz_meter m ON m.id = r.meter_id"
            " WHERE r.bill_period = :p AND m.book_id = ANY(CAST(:books AS bigint[]))",
            {"p": cmd.bill_period, "books": due},
        )
        for book_id in due:  # one audit row per book: the object id column holds one id
            audit.record(
                uow,
                ctx,
                module=MODULE,
                operation="TASK_GENERATE",
                object_type="biz_meter_book",
                object_id=book_id,
                after={
                    "billPeriod": cmd.bill_period,
                    "created": sum(r["book_id"] == book_id for r in created),
                },
            )
        uow.commit()
    return {
        "billPeriod": cmd.bill_period,
        "createdCount": len(created),
        "taskCount": existing,
        "skippedBooks": skipped,
        "meterReadIds": [r["id"] for r in created][:1000],
    }


def _scope(ctx: RequestContext) -> dict[str, Any]:
    return dept_params(ctx)


# ----------------------------------------------------------------------------- readings -----
def _last(uow: UnitOfWork, meter: dict[str, Any]) -> dict[str, Any]:
    row = uow.one("SELECT * FROM biz_last_reading WHERE meter_id = :m FOR UPDATE", {"m": meter["id"]})
    if row is None:
        uow.execute(
            "INSERT INTO biz_last_reading (meter_id, reading_value) VALUES (:m, :v) ON CONFLICT DO NOTHING",
            {"m": meter["id"], "v": meter["initial_reading"]},
        )
        row = uow.one("SELECT * FROM biz_last_reading WHERE meter_id = :m FOR UPDATE", {"m": meter["id"]})
    assert row is not None
    return row


def recent_average(uow: UnitOfWork, meter_id: int) -> Decimal | None:
    """Average usage of the meter's last three valid, actually read periods (None if none)."""
    value = uow.scalar(
        "SELECT avg(usage_amount) FROM (SELECT usage_amount FROM biz_reading_data WHERE meter_id = :m"
        f" AND status IN ({sql_in(COUNTED_READINGS)}) AND NOT estimated ORDER BY read_time DESC LIMIT 3) t",
        {"m": meter_id},
    )
    return None if value is None else Decimal(value).quantize(Decimal("0.01"))


class Outcome:
    def __init__(
        self,
        usage: Decimal,
        carry: Decimal,
        rollover: bool = False,
        note: str = "",
        review_id: int | None = None,
        change_ids: list[int] | None = None,
    ) -> None:
        self.usage, self.carry, self.rollover, self.note = usage, carry, rollover, note
        self.review_id, self.change_ids = review_id, change_ids or []


def compute_usage(
    uow: UnitOfWork, meter: dict[str, Any], last: dict[str, Any], current: Decimal, meter_read_id: int | None
) -> Outcome:
    """The usage rule (metering.rules) on the meter's locked state: unsettled meter changes, and,
    for a reading below the last one, the supervisor's approval of exactly this reading."""
    base = Decimal(last["reading_value"])
    changes = uow.all(
        "SELECT id, carried_usage FROM biz_meter_change WHERE new_meter_id = :m AND NOT settled FOR UPDATE",
        {"m": meter["id"]},
    )
    carried = sum((Decimal(c["carried_usage"]) for c in changes), ZERO)
    review = None
    if current < base:
        review = uow.one(
            "SELECT id FROM biz_reading_review WHERE meter_id = :m AND status = :s AND reading_value = :v"
            " ORDER BY id DESC LIMIT 1 FOR UPDATE",
            {"m": meter["id"], "s": ReviewStatus.APPROVED, "v": current},
        )
    try:
        usage = usage_from_readings(
            last=base,
            current=current,
            maximum=Decimal(meter["max_reading"]),
            carry_in=Decimal(last["carry_usage"]),
            carried=carried,
            last_estimated=bool(last["estimated"]),
            approved_new_base=review is not None,
        )
    except BelowLastReading:
        raise _below_last(uow, meter, base, current, meter_read_id) from None
    note = f"含换表结转 {carried}" if changes else ""
    if usage.new_base:
        note = "异常审批通过：读数作为新起点"
    elif usage.true_up:
        note = f"估抄校正：较估抄读数少 {base - current}"
    elif usage.rollover:
        note = "水表翻转"
    return Outcome(
        usage.usage,
        usage.carry,
        usage.rollover,
        note,
        None if review is None else review["id"],
        [c["id"] for c in changes],
    )


def _below_last(
    uow: UnitOfWork, meter: dict[str, Any], base: Decimal, current: Decimal, meter_read_id: int | None
) -> AppError:
    """Refuse, but leave a review request a supervisor can approve, and a log line; both commit."""
    review_id = uow.scalar(
        "INSERT INTO biz_reading_review (meter_id, meter_read_id, reading_value, reason) VALUES (:m, :t, :v,"
        " :r) RETURNING id",
        {"m": meter["id"], "t": meter_read_id, "v": current, "r": f"本次读数 {current} 小于上次读数 {base}"},
    )
    uow.execute(
        "INSERT INTO biz_reading_logs (meter_read_id, meter_id, action, result, remark) VALUES"
        " (:t, :m, 'SUBMIT', :res, :r)",
        {
            "t": meter_read_id,
            "m": meter["id"],
            "res": ValidateStatus.REJECT,
            "r": f"below last reading {base}",
        },
    )
    uow.commit()
    return AppError(
        ErrorCode.READING_BELOW_LAST,
        f"本次读数 {current} 小于上次读数 {base}",
        data={
            "lastReading": base,
            "currentReading": current,
            "reviewId": review_id,
            "validateStatus": ValidateStatus.REJECT,
            "nextAction": "RECHECK",
        },
    )


def _visible(uow: UnitOfWork, ctx: RequestContext, cust_id: int | None) -> bool:
    """Whether the caller may see the reading's customer (readings follow their customer's dept); a
    task or reading of no customer is seen only with a scope of every dept."""
    if cust_id is None:
        return sees_every_dept(ctx)
    return customer_visible(uow, ctx, cust_id)


def _lock_task(uow: UnitOfWork, ctx: RequestContext, meter_read_id: int) -> dict[str, Any]:
    task = uow.one("SELECT * FROM biz_meter_read WHERE id = :id FOR UPDATE", {"id": meter_read_id})
    if task is None or not _visible(uow, ctx, task["cust_id"]):
        raise AppError(ErrorCode.METER_READ_TASK_NOT_FOUND_OR_CLOSED, f"meterReadId={meter_read_id} 不存在")
    if task["status"] not in READABLE_TASKS:
        raise AppError(
            ErrorCode.METER_READ_TASK_NOT_FOUND_OR_CLOSED,
            f"抄表任务 {meter_read_id} 状态为 {task['status']}",
            data={"status": task["status"]},
        )
    return task


def _meter(uow: UnitOfWork, meter_id: int) -> dict[str, Any]:
    meter = uow.one("SELECT * FROM biz_meter WHERE id = :id", {"id": meter_id})
    if meter is None:
        raise AppError(ErrorCode.NOT_FOUND, f"meterId: 水表 {meter_id} 不存在")
    return meter


def record_reading(
    uow: UnitOfWork,
    ctx: RequestContext,
    task: dict[str, Any],
    meter: dict[str, Any],
    current: Decimal,
    read_time: dt.datetime,
    read_type: str,
    *,
    abnormal: bool = False,
    file_serial_no: str | None = None,
    photos: list[str] | None = None,
    gps: str | None = None,
    remark: str | None = None,
    estimated: bool = False,
) -> dict[str, Any]:
    """Validate and store one reading on a locked task; the caller commits."""
    last = _last(uow, meter)
    outcome = compute_usage(uow, meter, last, current, task["id"])
    average = recent_average(uow, meter["id"])
    ratio = warn_ratio(uow, task["cust_id"])
    verdict = validate(outcome.usage, average, ratio, abnormal=abnormal, estimated=estimated)
    warn = verdict is ValidateStatus.WARN
    status = ReadingStatus.PENDING_REVIEW if warn else ReadingStatus.VALID
    task_status = METER_READ.require(
        task["status"],
        MeterReadStatus.REVIEW if warn else MeterReadStatus.READ,
        subject=f"抄表任务 {task['id']}",
    )
    uow.execute(  # the reading waiting for review on this task, if any, is replaced by this one
        f"UPDATE biz_reading_data SET status = '{ReadingStatus.SUPERSEDED}' WHERE meter_read_id = :t"
        f" AND status IN ({sql_in(READING.sources(ReadingStatus.SUPERSEDED))})",
        {"t": task["id"]},
    )
    reading_id = uow.scalar(
        "INSERT INTO biz_reading_data (meter_read_id, meter_id, cust_id, bill_period, read_time, previous_reading,"
        " current_reading, usage_amount, read_type, estimated, rollover, validate_status, abnormal_flag, status,"
        " file_serial_no, photo_list, gps, remark, operator_id, previous_read_time) VALUES (:t, :m, :c, :p, :rt,"
        " :prev, :cur, :u, :type, :est, :roll, :vs, :ab, :st, :fsn, CAST(:photos AS jsonb), :gps, :remark, :op,"
        " :prev_time) RETURNING id",
        {
            # the reading's interval starts at the last counted reading (billing prorates price changes by it)
            "prev_time": last["read_time"],
            "t": task["id"],
            "m": meter["id"],
            "c": task["cust_id"],
            "p": task["bill_period"],
            "rt": read_time,
            "prev": last["reading_value"],
            "cur": current,
            "u": outcome.usage,
            "type": read_type,
            "est": estimated,
            "roll": outcome.rollover,
            "vs": verdict,
            "ab": warn,
            "st": status,
            "fsn": file_serial_no,
            "photos": json.dumps(photos or []),
            "gps": gps,
            # VARCHAR(255): the reader's words first; the system's note is also in biz_reading_logs
            "remark": "; ".join(x for x in (remark, outcome.note) if x)[:255] or None,
            "op": ctx.principal.user_id,
        },
    )
    if not warn:
        _advance(uow, meter["id"], reading_id, current, read_time, estimated, outcome)
    uow.execute(
        "UPDATE biz_meter_read SET status = :s WHERE id = :id",
        {"s": task_status, "id": task["id"]},
    )
    reason = (
        f"用量 {outcome.usage} 超过近三期均量 {average} 的 {ratio} 倍"
        if exceeds_warn_ratio(outcome.usage, average, ratio)
        else "抄表员标记异常"
        if warn
        else outcome.note or "校验通过"
    )
    uow.execute(
        "INSERT INTO biz_reading_logs (reading_id, meter_read_id, meter_id, action, result, remark,"
        " operator_id) VALUES (:r, :t, :m, :a, :res, :rem, :op)",
        {
            "r": reading_id,
            "t": task["id"],
            "m": meter["id"],
            "a": "ESTIMATE" if estimated else "SUBMIT",
            "res": verdict,
            "rem": reason,
            "op": ctx.principal.user_id,
        },
    )
    audit.record(
        uow,
        ctx,
        module=MODULE,
        operation="READING_SUBMIT",
        object_type="biz_reading_data",
        object_id=reading_id,
        after={
            "meterReadId": task["id"],
            "currentReading": current,
            "usageAmount": outcome.usage,
            "status": status,
        },
    )
    return {
        "readingId": reading_id,
        "meterReadId": task["id"],
        "validateStatus": verdict,
        "abnormalFlag": warn,
        "nextAction": "MANUAL_REVIEW" if warn else "BILLING",
        "usageAmount": outcome.usage,
        "previousReading": last["reading_value"],
        "estimated": estimated,
        "msg": reason,
    }


def _advance(
    uow: UnitOfWork,
    meter_id: int,
    reading_id: int,
    value: Decimal,
    read_time: dt.datetime,
    estimated: bool,
    outcome: Outcome,
) -> None:
    uow.execute(
        "UPDATE biz_last_reading SET reading_id = :r, reading_value = :v, read_time = :t, estimated = :e,"
        " carry_usage = :c, update_time = now() WHERE meter_id = :m",
        {"r": reading_id, "v": value, "t": read_time, "e": estimated, "c": outcome.carry, "m": meter_id},
    )
    if outcome.change_ids:
        uow.execute(
            "UPDATE biz_meter_change SET settled = true WHERE id = ANY(CAST(:ids AS bigint[]))",
            {"ids": outcome.change_ids},
        )
    if outcome.review_id is not None:
        uow.execute(
            f"UPDATE biz_reading_review SET status = '{ReviewStatus.USED}' WHERE id = :id"
            f" AND status IN ({sql_in(READING_REVIEW.sources(ReviewStatus.USED))})",
            {"id": outcome.review_id},
        )


def submit(ctx: RequestContext, cmd: SubmitReading) -> dict[str, Any]:
    with UnitOfWork() as uow:
        task = _lock_task(uow, ctx, cmd.meter_read_id)
        if task["meter_id"] != cmd.meter_id:
            raise AppError(ErrorCode.BAD_REQUEST, f"meterId: 与抄表任务的水表 {task['meter_id']} 不一致")
        reply = record_reading(
            uow,
            ctx,
            task,
            _meter(uow, cmd.meter_id),
            cmd.current_reading,
            cmd.read_time,
            cmd.read_type,
            abnormal=cmd.abnormal_flag,
            photos=list(cmd.photo_list),
            gps=cmd.gps,
            remark=cmd.remark,
        )
        if cmd.usage_amount is not None and cmd.usage_amount != reply["usageAmount"]:
            reply["msg"] += (
                f"；上报用量 {cmd.usage_amount} 与系统计算 {reply['usageAmount']} 不一致，以系统为准"
            )
        uow.commit()
    return reply


def estimate(ctx: RequestContext, meter_read_id: int, reason: str) -> dict[str, Any]:
    """An unreadable meter: the 3-period average, marked estimated, trued up by the next real reading."""
    with UnitOfWork() as uow:
        task = _lock_task(uow, ctx, meter_read_id)
        meter = _meter(uow, task["meter_id"])
        last = _last(uow, meter)
        average = recent_average(uow, meter["id"]) or ZERO
        reply = record_reading(
            uow,
            ctx,
            task,
            meter,
            Decimal(last["reading_value"]) + average,
            dt.datetime.now(dt.UTC),
            "ESTIMATE",
            remark=f"估抄：{reason}",
            estimated=True,
        )
        uow.commit()
    return reply


def review(ctx: RequestContext, cmd: ReviewReading) -> dict[str, Any]:
    """A held reading (readingId): approved it becomes VALID (BILLING), rejected the task reopens
    (RECHECK). A review of a reading below the last (reviewId): approved, the same value may be submitted
    again as the new base; either way the task still needs its reading (RECHECK)."""
    with UnitOfWork() as uow:
        if cmd.review_id is not None:
            row = uow.one("SELECT * FROM biz_reading_review WHERE id = :id FOR UPDATE", {"id": cmd.review_id})
            cust_id = (
                None
                if row is None
                else uow.scalar(
                    "SELECT cust_id FROM biz_meter_read WHERE id = :t", {"t": row["meter_read_id"]}
                )
            )
            decided = ReviewStatus.APPROVED if cmd.approve else ReviewStatus.REJECTED
            if (
                row is None
                or not READING_REVIEW.allows(row["status"], decided)
                or not _visible(uow, ctx, cust_id)
            ):
                raise AppError(ErrorCode.CONFLICT, f"reviewId: 审批单 {cmd.review_id} 不存在或已处理")
            uow.execute(
                "UPDATE biz_reading_review SET status = :s, approver_id = :a WHERE id = :id",
                {"s": decided, "a": ctx.principal.user_id, "id": row["id"]},
            )
            audit.record(
                uow,
                ctx,
                module=MODULE,
                operation="READING_REVIEW",
                object_type="biz_reading_review",
                object_id=row["id"],
                before={"status": row["status"]},
                after={"status": decided},
                remark=cmd.remark,
            )
            uow.commit()
            return {"readingId": None, "reviewId": row["id"], "status": decided, "nextAction": "RECHECK"}
        reading = uow.one("SELECT * FROM biz_reading_data WHERE id = :id FOR UPDATE", {"id": cmd.reading_id})
        status = ReadingStatus.VALID if cmd.approve else ReadingStatus.REJECTED
        if (
            reading is None
            or not READING.allows(reading["status"], status)
            or not _visible(uow, ctx, reading["cust_id"])
        ):
            raise AppError(ErrorCode.CONFLICT, f"readingId: 读数 {cmd.reading_id} 不存在或不在待复核状态")
        task = uow.one(
            "SELECT id, status FROM biz_meter_read WHERE id = :t FOR UPDATE", {"t": reading["meter_read_id"]}
        )
        assert task is not None
        task_status = METER_READ.require(
            task["status"],
            MeterReadStatus.READ if cmd.approve else MeterReadStatus.OPEN,
            subject=f"抄表任务 {task['id']}",
        )
        if cmd.approve:
            meter = _meter(uow, reading["meter_id"])
            last = _last(uow, meter)
            outcome = compute_usage(
                uow, meter, last, Decimal(reading["current_reading"]), reading["meter_read_id"]
            )
            uow.execute(
                "UPDATE biz_reading_data SET status = :s, usage_amount = :u WHERE id = :id",
                {"s": status, "u": outcome.usage, "id": reading["id"]},
            )
            _advance(
                uow,
                meter["id"],
                reading["id"],
                Decimal(reading["current_reading"]),
                reading["read_time"],
                reading["estimated"],
                outcome,
            )
        else:
            uow.execute(
                "UPDATE biz_reading_data SET status = :s WHERE id = :id", {"s": status, "id": reading["id"]}
            )
        uow.execute(
            "UPDATE biz_meter_read SET status = :s WHERE id = :t",
            {"s": task_status, "t": reading["meter_read_id"]},
        )
        uow.execute(
            "INSERT INTO biz_reading_logs (reading_id, meter_read_id, meter_id, action, result, remark,"
            " operator_id) VALUES (:r, :t, :m, 'REVIEW', :res, :rem, :op)",
            {
                "r": reading["id"],
                "t": reading["meter_read_id"],
                "m": reading["meter_id"],
                "res": ValidateStatus.PASS if cmd.approve else ValidateStatus.REJECT,
                "rem": cmd.remark,
                "op": ctx.principal.user_id,
            },
        )
        audit.record(
            uow,
            ctx,
            module=MODULE,
            operation="READING_REVIEW",
            object_type="biz_reading_data",
            object_id=reading["id"],
            before={"status": reading["status"]},
            after={"status": status},
            remark=cmd.remark,
        )
        uow.commit()
    return {
        "readingId": reading["id"],
        "reviewId": None,
        "status": status,
        "nextAction": "BILLING" if cmd.approve else "RECHECK",
    }


# ---------------------------------------------------------------------------------- IoT -----
ACCEPT = {ValidateStatus.PASS: "SUCCESS", ValidateStatus.WARN: "WARN"}  # IF-METER-004 acceptStatus


def receive_iot(ctx: RequestContext, reading: IotReading) -> dict[str, Any]:
    """IF-METER-004: one reading, in its own transaction; the reply is the seed's, a refusal included
    (acceptStatus REJECT with errorCode and msg)."""
    return _receive_one(ctx, reading)


def receive_iot_batch(ctx: RequestContext, readings: Sequence[IotReading]) -> dict[str, Any]:
    """Each reading in its own transaction: one bad reading never blocks the others."""
    results = [{**_receive_one(ctx, item), "index": index} for index, item in enumerate(readings)]
    counts = {s: sum(r["acceptStatus"] == s for r in results) for s in ("SUCCESS", "WARN", "REJECT")}
    return {
        "total": len(results),
        **{k.lower() + "Count": v for k, v in counts.items()},
        "resultList": results,
    }


def _iot_duplicate(uow: UnitOfWork, item: IotReading, meter_id: int) -> dict[str, Any] | None:
    """The reading this one repeats (same fileSerialNo, or same meter and readTime), as first received."""
    duplicate = uow.one(
        "SELECT id, meter_read_id, validate_status, abnormal_flag, status, usage_amount FROM biz_reading_data"
        " WHERE (CAST(:f AS varchar) IS NOT NULL AND file_serial_no = :f)"
        " OR (read_type = 'IOT' AND meter_id = :m AND read_time = :t) LIMIT 1",
        {"f": item.file_serial_no, "m": meter_id, "t": item.read_time},
    )
    if duplicate is None:
        return None
    status = duplicate["status"]
    return {
        "readingId": duplicate["id"],
        "meterReadId": duplicate["meter_read_id"],
        "acceptStatus": ACCEPT.get(duplicate["validate_status"], "REJECT"),
        "abnormalFlag": duplicate["abnormal_flag"],
        "nextAction": (
            "MANUAL_REVIEW"
            if status == "PENDING_REVIEW"
            else "RECHECK"
            if status in ("REJECTED", "SUPERSEDED")
            else "BILLING"
        ),
        "validateStatus": duplicate["validate_status"],
        "usageAmount": duplicate["usage_amount"],
        "duplicate": True,
        "msg": "重复上送，已忽略；返回首次入库的读数",
    }


def _visible_meter(uow: UnitOfWork, ctx: RequestContext, meter_code: str) -> dict[str, Any] | None:
    """The meter by its number, if the caller's data scope reaches it (through its active customer):
    outside the scope it reads as absent."""
    meter = uow.one("SELECT * FROM biz_meter WHERE meter_no = :no", {"no": meter_code})
    if meter is None or sees_every_dept(ctx):
        return meter
    dept = uow.scalar(
        "SELECT c.dept_id FROM biz_cust_meter cm JOIN biz_cust c ON c.id = cm.cust_id"
        " WHERE cm.meter_id = :m AND cm.status = 'ACTIVE' ORDER BY cm.id DESC LIMIT 1",
        {"m": meter["id"]},
    )
    return meter if dept_visible(ctx, dept) else None


def _receive_one(ctx: RequestContext, item: IotReading) -> dict[str, Any]:
    base: dict[str, Any] = {
        "readingId": None,
        "meterReadId": None,
        "meterCode": item.meter_code,
        "fileSerialNo": item.file_serial_no,
        "validateStatus": None,
        "usageAmount": None,
        "duplicate": False,
        "errorCode": None,
    }
    try:
        with UnitOfWork() as uow:
            meter = _visible_meter(uow, ctx, item.meter_code)
            if meter is None:
                raise AppError(ErrorCode.NOT_FOUND, f"meterCode: 水表 {item.meter_code} 不存在")
            uow.execute(
                "INSERT INTO biz_meter_device_status (meter_id, device_status, alarm_codes, battery_level,"
                " signal, report_time) VALUES (:m, :s, CAST(:a AS jsonb), :b, :g, :t)",
                {
                    "m": meter["id"],
                    "s": item.device_status,
                    "a": json.dumps(list(item.alarm_list)),
                    "b": item.battery_level,
                    "g": item.signal,
                    "t": item.read_time,
                },
            )
            duplicate = _iot_duplicate(uow, item, meter["id"])
            if duplicate is not None:
                uow.commit()  # the device status still counts
                return base | duplicate
            # the period of the reading where the utility is (a 07:00 reading on the 1st belongs to that month)
            period = item.read_time.astimezone(ZoneInfo(get_settings().display_time_zone)).strftime("%Y-%m")
            task_id = uow.scalar(
                "SELECT id FROM biz_meter_read WHERE meter_id = :m AND bill_period = :p FOR UPDATE",
                {"m": meter["id"], "p": period},
            )
            if task_id is None:
                raise AppError(ErrorCode.METER_READ_TASK_NOT_FOUND_OR_CLOSED, f"{period} 无抄表任务")
            base["meterReadId"] = task_id
            # A repeat sent at the same moment waited for the task lock: it is a duplicate, not a re-read.
            duplicate = _iot_duplicate(uow, item, meter["id"])
            if duplicate is not None:
                uow.commit()
                return base | duplicate
            task = _lock_task(uow, ctx, task_id)
            reply = record_reading(
                uow,
                ctx,
                task,
                meter,
                item.current_reading,
                item.read_time,
                "IOT",
                abnormal=bool(item.alarm_list) or item.device_status == "ALARM",
                file_serial_no=item.file_serial_no,
                remark=f"{item.source_system} 上送"
                + (f"，告警 {','.join(item.alarm_list)}" if item.alarm_list else ""),
            )
            uow.commit()
            return base | {
                "readingId": reply["readingId"],
                "acceptStatus": ACCEPT[reply["validateStatus"]],
                "abnormalFlag": reply["abnormalFlag"],
                "nextAction": reply["nextAction"],
                "validateStatus": reply["validateStatus"],
                "usageAmount": reply["usageAmount"],
                "msg": reply["msg"],
            }
    except AppError as exc:
        below_last = exc.error is ErrorCode.READING_BELOW_LAST
        return base | {
            "acceptStatus": "REJECT",
            "abnormalFlag": True,
            "nextAction": "RECHECK" if below_last else "MANUAL_REVIEW",
            "errorCode": exc.error.code,
            "msg": exc.msg,
        }
