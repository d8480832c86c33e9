"""IF-REV-013 催缴任务生成与结果承接: reminder tasks for customers in arrears.

A task reminds one customer of its overdue bills (the oldest one's period, what is owed on them, a
strategy by how long they are overdue) through one channel, and queues its message in the same
transaction (`waterrev.messages.enqueue`, the outbox): the pipeline delivers it to SYS-010 and the
result callback moves the task through the seed's four states.

Two ways in: one task (`create_task`, POST .../task) and a whole office at once (`generate`: the monthly
schedule, or on demand), written set-based - a handful of statements for any number of customers.
Both go through the same checks, made race-free by each customer's guard row (`_tasks.lock_guard`):

- 欠费前提: unpaid bills past their due date (generation: at least `overdue-days` past, owing at least
  `min-arrears`, IF-REV-012 parameters of the office);
- channel preference: WeChat (a bound WeChat user), else SMS to a usable mobile; none: the task is
  recorded FAIL with 1_002_008_001 and no message, and a later task (补发, MANUAL) sends it;
- frequency control: the same customer, period and template within `frequency-window-hours` is skipped
  with its reason (a FAIL task does not count);
- the daily cap: at most `daily-sms-cap` reminder SMS per customer per day;
- quiet hours: an SMS asked for at night is held until `quiet-hours` end.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy.exc import IntegrityError

from waterrev import audit, crypto
from waterrev.context import RequestContext, UserType
from waterrev.db import UnitOfWork
from waterrev.domain.lifecycle import sql_in
from waterrev.domain.states import (
    PAYABLE_BILLS,
    REMINDER,
    DispatchState,
    MessageExceptionStatus,
    MessageStatus,
)
from waterrev.envelope import page
from waterrev.errors import AppError, ErrorCode
from waterrev.messages import enqueue
from waterrev.notifications import _tasks, rules
from waterrev.notifications.commands import CreateTask, FindSkipped, FindTasks, Generate, ManualVerify
from waterrev.scoped import param_row
from waterrev.visibility import customer_scope, require_customer_visible

SKIPPED_IN_REPLY = 100
_OWED = "rem_charge_arrears(p_charge_id => c.id, p_total => c.total_amount, p_paid => c.paid_amount, p_on => CAST(:on AS date))"


def params_for(uow: UnitOfWork, dept_id: int | None) -> tuple[rules.ReminderParams, list[str]]:
    """The office's reminder parameters (IF-REV-012 RULE revenue.reminder.*: its own, its nearest
    ancestor's, else GLOBAL), with the values that did not parse (their defaults are used)."""
    values = {}
    for code in rules.PARAMETERS:
        row = param_row(uow, code, dept_id=dept_id)
        values[code] = None if row is None else row["config_value"]
    return rules.parse_params(values)


def _today() -> dt.date:
    return dt.datetime.now(_tasks.zone()).date()


def _operator(ctx: RequestContext) -> tuple[int | None, str]:
    p = ctx.principal
    return (p.user_id if p.user_type is UserType.ADMIN else None), p.name


# ---------------------------------------------------------------------------------- one task ----
def create_task(ctx: RequestContext, command: CreateTask) -> dict[str, Any]:
    """POST /admin-api/revenue/reminder/task: one reminder for one customer's overdue bills."""
    if command.strategy_code not in rules.STRATEGIES:
        raise AppError(ErrorCode.BAD_REQUEST, f"strategyCode: 策略编码无效 {command.strategy_code}")
    template = rules.STRATEGIES[command.strategy_code]
    charge_ids = sorted(set(command.charge_ids))
    now = dt.datetime.now(dt.UTC)
    with UnitOfWork() as uow:
        require_customer_visible(uow, ctx, command.cust_id, active=True)
        _tasks.lock_guard(uow, command.cust_id)
        if command.event_no:
            found = _tasks.load(uow, "t.event_no = :e", {"e": command.event_no})
            if found is not None:
                return _replay(found, command)
        cust = uow.one(
            "SELECT id, dept_id, mobile, mobile_cipher, mobile_index FROM biz_cust WHERE id = :c",
            {"c": command.cust_id},
        )
        assert cust is not None
        bills = uow.all(
            f"SELECT c.id, c.cust_id, c.bill_period, c.status, c.due_date, {_OWED} AS owed FROM biz_charge c"
            " WHERE c.id = ANY(CAST(:ids AS bigint[])) ORDER BY c.bill_period, c.id",
            {"ids": charge_ids, "on": _today()},
        )
        _check_bills(command, charge_ids, bills)
        params, _ = params_for(uow, cust["dept_id"])
        recent = _recent_task(uow, command.cust_id, command.bill_period, template, params)
        if recent is not None:
            raise AppError(
                ErrorCode.CONFLICT,
                f"频控拦截：客户 {command.cust_id} 账期 {command.bill_period} 模板 {template} 在"
                f" {params.frequency_window_hours} 小时内已有催缴任务 {recent}",
                data={"reasonCode": "FREQUENCY", "existingTaskNo": recent, "custId": command.cust_id},
            )
        openid = _wechat_user(uow, command.cust_id)
        reach = rules.channel_for(command.channel_type, openid, cust["mobile"], command.cust_id)
        if (
            reach is not None
            and reach[0] == "SMS"
            and _tasks.sms_today(uow, command.cust_id, now) >= params.daily_sms_cap
        ):
            raise AppError(
                ErrorCode.TOO_MANY_REQUESTS,
                f"客户 {command.cust_id} 今日催缴短信已达上限 {params.daily_sms_cap} 条",
                data={
                    "reasonCode": "DAILY_CAP",
                    "custId": command.cust_id,
                    "dailySmsCap": params.daily_sms_cap,
                },
            )
        operator_id, operator_name = _operator(ctx)
        number = uow.scalar("SELECT nextval('biz_reminder_task_seq')")
        day = f"{now.astimezone(_tasks.zone()):%Y%m%d}"
        blocked = reach is None
        try:
            task = _insert_task(
                uow,
                {
                    "no": f"CT{day}{number:010d}",
                    "ev": command.event_no or f"CE{day}{number:010d}",
                    "c": command.cust_id,
                    "d": cust["dept_id"],
                    "ids": charge_ids,
                    "p": command.bill_period,
                    "a": command.arrears_amount,
                    "s": command.strategy_code,
                    "t": template,
                    "ch": reach[0] if reach else command.channel_type,
                    "tr": command.trigger_type,
                    "st": MessageStatus.FAIL if blocked else MessageStatus.PENDING,
                    "f": f"{_tasks.CONTACT_MISSING.code} 目标联系方式缺失：无已绑定微信用户且无可用手机号"
                    if blocked
                    else None,
                    "code": _tasks.CONTACT_MISSING.code if blocked else None,
                    "blocked": blocked,
                    "ref": command.related_disposal_ref,
                    "op": operator_id,
                    "opn": operator_name,
                },
            )
        except IntegrityError:  # the caller's eventNo, taken by another customer's request meanwhile
            raise AppError(ErrorCode.CONFLICT, f"eventNo: 业务事件 {command.event_no} 已存在") from None
        assert task is not None
        row = _tasks.load(uow, "t.id = :id", {"id": task["id"]})
        assert row is not None
        if reach is not None:
            channel, receiver = reach
            enqueue(
                uow,
                biz_no=row["event_no"],
                template_code=template,
                receiver=receiver,
                channel=channel,
                source=_tasks.SOURCE,
                payload=_tasks.payload(row),
                cust_id=command.cust_id,
                not_before=_tasks.sms_release(now, params) if channel == "SMS" else None,
                sealed=crypto.stored(cust, "mobile") if channel == "SMS" else None,
            )
        audit.record(
            uow,
            ctx,
            module=_tasks.MODULE,
            operation="REMINDER_CREATE",
            object_type="biz_reminder_task",
            object_id=row["task_no"],
            after={k: v for k, v in _tasks.reply(row).items() if k not in ("msg",)}
            | {"channel": reach and reach[0]},
        )
        row = _tasks.load(uow, "t.id = :id", {"id": task["id"]})
        assert row is not None
        uow.commit()
    answer = _tasks.reply(row)
    if blocked:  # recorded (and sendable later by a new task), but not sent: the caller is told why
        raise AppError(
            _tasks.CONTACT_MISSING,
            f"客户 {command.cust_id} 无可用触达渠道（任务 {row['task_no']} 已记录为 FAIL，补齐联系方式后可补发）",
            data=answer,
        )
    return answer


def _insert_task(uow: UnitOfWork, values: dict[str, Any]) -> dict[str, Any] | None:
    return uow.one(
        "INSERT INTO biz_reminder_task (task_no, event_no, cust_id, dept_id, charge_ids, bill_period,"
        " arrears_amount, strategy_code, template_code, channel_type, trigger_type, status, failure_reason,"
        " error_code, result_time, related_disposal_ref, operator_id, operator_name) VALUES (:no, :ev, :c, :d,"
        " CAST(:ids AS bigint[]), :p, :a, :s, :t, :ch, :tr, :st, :f, :code, CASE WHEN :blocked THEN now() END,"
        " :ref, :op, :opn) RETURNING id",
        values,
    )


def _replay(found: dict[str, Any], command: CreateTask) -> dict[str, Any]:
    """The same eventNo again: the same task if it is the same request, else a conflict."""
    same = (
        found["cust_id"] == command.cust_id
        and found["strategy_code"] == command.strategy_code
        and found["bill_period"] == command.bill_period
        and sorted(found["charge_ids"]) == sorted(set(command.charge_ids))
    )
    if not same:
        raise AppError(
            ErrorCode.CONFLICT,
            f"eventNo: 业务事件 {command.event_no} 已生成任务 {found['task_no']}，与本次请求不一致",
            data={"existingTaskNo": found["task_no"]},
        )
    return _tasks.reply(found, "重复请求：返回该业务事件已生成的任务")


def _check_bills(command: CreateTask, charge_ids: list[int], bills: list[dict[str, Any]]) -> None:
    """欠费前提: every bill is the customer's, unpaid, and past its due date; the period is one of theirs;
    the amount is what is owed on them."""
    mine = [b for b in bills if b["cust_id"] == command.cust_id]
    missing = sorted(set(charge_ids) - {b["id"] for b in mine})
    if missing:
        raise AppError(ErrorCode.NOT_FOUND, f"chargeIds: 账单 {missing} 不存在或不属于该客户")
    today = _today()
    not_arrears = [
        {"chargeId": b["id"], "status": b["status"], "dueDate": b["due_date"]}
        for b in mine
        if b["status"] not in PAYABLE_BILLS or b["due_date"] >= today or b["owed"] <= 0
    ]
    if not_arrears:
        raise AppError(
            ErrorCode.CONFLICT,
            f"chargeIds: 账单 {[b['chargeId'] for b in not_arrears]} 不满足欠费前提（已缴清或未到缴费截止日）",
            data={"charges": not_arrears},
        )
    if command.bill_period not in {b["bill_period"] for b in mine}:
        raise AppError(ErrorCode.BAD_REQUEST, f"billPeriod: {command.bill_period} 不是所选账单的账期")
    owed = sum((b["owed"] for b in mine), Decimal("0"))
    if Decimal(command.arrears_amount) != owed:
        raise AppError(
            ErrorCode.CONFLICT,
            f"arrearsAmount: 欠费金额汇总应为 {owed:.2f}，请求为 {Decimal(command.arrears_amount):.2f}",
            data={"arrearsAmount": f"{owed:.2f}"},
        )


def _recent_task(
    uow: UnitOfWork, cust_id: int, bill_period: str, template: str, params: rules.ReminderParams
) -> str | None:
    """A task of the same customer, period and template inside the frequency window (not a FAIL one)."""
    return uow.scalar(
        "SELECT task_no FROM biz_reminder_task WHERE cust_id = :c AND bill_period = :p AND template_code = :t"
        f" AND create_time > now() - make_interval(hours => :h) AND status <> '{MessageStatus.FAIL}'"
        " ORDER BY create_time DESC LIMIT 1",
        {"c": cust_id, "p": bill_period, "t": template, "h": params.frequency_window_hours},
    )


def _wechat_user(uow: UnitOfWork, cust_id: int) -> str | None:
    return uow.scalar(
        "SELECT channel_user_id FROM biz_cust_app_binds WHERE cust_id = :c AND channel_type = 'WECHAT'"
        " AND status = 'BOUND' ORDER BY is_default DESC, bind_time DESC LIMIT 1",
        {"c": cust_id},
    )


# ----------------------------------------------------------------------------- a whole office ----
_STRATEGY_VALUES = ", ".join(f"('{code}', '{template}')" for code, template in rules.STRATEGIES.items())
_GENERATE = f"""
WITH cand AS (
    SELECT c.cust_id,
           array_agg(c.id ORDER BY c.bill_period, c.id) AS charge_ids,
           min(c.bill_period) AS bill_period,
           sum({_OWED}) AS arrears,
           min(c.due_date) AS oldest_due
      FROM biz_charge c
      JOIN biz_reminder_guard g ON g.cust_id = c.cust_id AND g.run_id = :run
     WHERE c.status IN ({sql_in(PAYABLE_BILLS)}) AND c.due_date <= CAST(:on AS date) - CAST(:overdue AS int)
     GROUP BY c.cust_id
    HAVING sum({_OWED}) >= CAST(:min AS numeric) AND sum({_OWED}) > 0
), pick AS (
    SELECT cand.*, u.dept_id, st.code AS strategy, st.template,
           w.openid,
           CASE WHEN CAST(:pref AS varchar) = 'INBOX' THEN 'INBOX'
                WHEN CAST(:pref AS varchar) = 'SMS' AND u.mobile ~ :mobile_re THEN 'SMS'
                WHEN w.openid IS NOT NULL THEN 'WECHAT'
                WHEN u.mobile ~ :mobile_re THEN 'SMS' END AS channel,
           CASE WHEN CAST(:pref AS varchar) = 'INBOX' THEN 'CUST:' || cand.cust_id
                WHEN CAST(:pref AS varchar) = 'SMS' AND u.mobile ~ :mobile_re THEN u.mobile
                WHEN w.openid IS NOT NULL THEN w.openid
                WHEN u.mobile ~ :mobile_re THEN u.mobile END AS receiver,
           u.mobile_cipher, u.mobile_index
      FROM cand
      JOIN biz_cust u ON u.id = cand.cust_id
      JOIN (VALUES {_STRATEGY_VALUES}) AS st (code, template)
        ON st.code = COALESCE(CAST(:strategy AS varchar),
             CASE WHEN CAST(:on AS date) - cand.oldest_due >= CAST(:pre_stop AS int) THEN 'PRE_STOP_NOTICE'
                  WHEN CAST(:on AS date) - cand.oldest_due >= CAST(:second AS int) THEN 'SECOND_NOTICE'
                  ELSE 'FIRST_NOTICE' END)
      LEFT JOIN LATERAL (
          SELECT b.channel_user_id AS openid FROM biz_cust_app_binds b
           WHERE b.cust_id = cand.cust_id AND b.channel_type = 'WECHAT' AND b.status = 'BOUND'
           ORDER BY b.is_default DESC, b.bind_time DESC LIMIT 1) w ON true
), verdict AS (
    SELECT pick.*,
           (SELECT t.task_no FROM biz_reminder_task t
             WHERE t.cust_id = pick.cust_id AND t.bill_period = pick.bill_period AND t.template_code = pick.template
               AND t.create_time > now() - make_interval(hours => CAST(:window AS int)) AND t.status <> '{MessageStatus.FAIL}'
             ORDER BY t.create_time DESC LIMIT 1) AS recent_task,
           CASE WHEN pick.channel = 'SMS' THEN
               (SELECT count(*) FROM biz_message m WHERE m.cust_id = pick.cust_id AND m.create_time >= :day_start
                   AND m.channel = 'SMS' AND m.source = '{_tasks.SOURCE}') ELSE 0 END AS sms_today,
           nextval('biz_reminder_task_seq') AS seq
      FROM pick
), judged AS (
    SELECT verdict.*,
           CASE WHEN recent_task IS NOT NULL THEN 'FREQUENCY'
                WHEN channel IS NULL THEN 'BLOCKED'
                WHEN channel = 'SMS' AND sms_today >= CAST(:cap AS int) THEN 'DAILY_CAP'
                ELSE 'SEND' END AS outcome
      FROM verdict
), tasks AS (
    INSERT INTO biz_reminder_task (task_no, event_no, run_id, cust_id, dept_id, charge_ids, bill_period,
        arrears_amount, strategy_code, template_code, channel_type, trigger_type, status, failure_reason,
        error_code, result_time, operator_id, operator_name)
    SELECT 'CT' || CAST(:day AS text) || lpad(CAST(seq AS text), 10, '0'),
           'CE' || CAST(:day AS text) || lpad(CAST(seq AS text), 10, '0'),
           CAST(:run AS bigint), cust_id, dept_id, charge_ids, bill_period, arrears, strategy, template,
           COALESCE(channel, COALESCE(CAST(:pref AS varchar), 'SMS')), CAST(:trigger AS varchar),
           CASE outcome WHEN 'BLOCKED' THEN '{MessageStatus.FAIL}' ELSE '{MessageStatus.PENDING}' END,
           CASE outcome WHEN 'BLOCKED' THEN CAST(:blocked_reason AS varchar) END,
           CASE outcome WHEN 'BLOCKED' THEN CAST(:blocked_code AS bigint) END,
           CASE outcome WHEN 'BLOCKED' THEN now() END,
           CAST(:operator_id AS bigint), CAST(:operator_name AS varchar)
      FROM judged WHERE outcome IN ('SEND', 'BLOCKED')
    RETURNING event_no, task_no, cust_id, template_code, status, bill_period, arrears_amount, strategy_code,
              trigger_type, charge_ids
), messages AS (
    INSERT INTO biz_message (message_biz_no, template_code, receiver, receiver_cipher, receiver_index, channel,
                             cust_id, source, payload, not_before)
    SELECT t.event_no, t.template_code, j.receiver,
           CASE WHEN j.channel = 'SMS' THEN j.mobile_cipher END, CASE WHEN j.channel = 'SMS' THEN j.mobile_index END,
           j.channel, t.cust_id, '{_tasks.SOURCE}',
           jsonb_build_object('arrearsAmount', CAST(t.arrears_amount AS text), 'billPeriod', t.bill_period,
                              'strategyCode', t.strategy_code, 'triggerType', t.trigger_type,
                              'chargeCount', cardinality(t.charge_ids), 'taskNo', t.task_no),
           CASE WHEN j.channel = 'SMS' THEN COALESCE(CAST(:sms_release AS timestamptz), now()) ELSE now() END
      FROM tasks t JOIN judged j ON j.cust_id = t.cust_id
     WHERE t.status = '{MessageStatus.PENDING}'
    ON CONFLICT ON CONSTRAINT biz_message_key DO NOTHING
    RETURNING 1
), skips AS (
    INSERT INTO biz_reminder_skip (run_id, cust_id, bill_period, strategy_code, arrears_amount, reason_code,
        reason, existing_task_no)
    SELECT CAST(:run AS bigint), cust_id, bill_period, strategy, arrears, outcome,
           CASE outcome WHEN 'FREQUENCY'
                THEN '频控：同一账期、同一模板在 ' || CAST(:window AS text) || ' 小时内已催缴（任务 ' || recent_task || '）'
                ELSE '今日催缴短信已达上限 ' || CAST(:cap AS text) || ' 条' END,
           recent_task
      FROM judged WHERE outcome IN ('FREQUENCY', 'DAILY_CAP')
    RETURNING reason_code
)
SELECT (SELECT count(*) FROM judged) AS candidates,
       (SELECT count(*) FROM tasks WHERE status = '{MessageStatus.PENDING}') AS created,
       (SELECT count(*) FROM tasks WHERE status = '{MessageStatus.FAIL}') AS blocked,
       (SELECT count(*) FROM skips) AS skipped,
       (SELECT count(*) FROM skips WHERE reason_code = 'FREQUENCY') AS skipped_frequency,
       (SELECT count(*) FROM skips WHERE reason_code = 'DAILY_CAP') AS skipped_cap,
       (SELECT count(*) FROM messages) AS queued,
       (SELECT COALESCE(sum(arrears_amount), 0) FROM tasks WHERE status = '{MessageStatus.PENDING}') AS amount
"""
_LOCK_CANDIDATES = f"""
INSERT INTO biz_reminder_guard (cust_id, run_id)
SELECT c.cust_id, CAST(:run AS bigint) FROM biz_charge c JOIN biz_cust u ON u.id = c.cust_id
 WHERE c.status IN ({sql_in(PAYABLE_BILLS)}) AND c.due_date <= CAST(:on AS date) - CAST(:overdue AS int)
   AND u.status = 'NORMAL' AND u.dept_id = ANY(CAST(:depts AS bigint[]))
 GROUP BY c.cust_id
HAVING sum({_OWED}) >= CAST(:min AS numeric) AND sum({_OWED}) > 0
 ORDER BY c.cust_id
ON CONFLICT (cust_id) DO UPDATE SET run_id = EXCLUDED.run_id, lock_time = now()
"""


def generate(ctx: RequestContext, command: Generate, *, dept_ids: list[int] | None = None) -> dict[str, Any]:
    """Reminders for every customer of the office `command.dept_id` (its subtree; or exactly `dept_ids`,
    the schedule's per-dept runs) whose oldest unpaid bill is `overdue-days` past due and who owes at
    least `min-arrears` on such bills: one run, one transaction, a fixed number of statements."""
    if command.strategy_code is not None and command.strategy_code not in rules.STRATEGIES:
        raise AppError(ErrorCode.BAD_REQUEST, f"strategyCode: 策略编码无效 {command.strategy_code}")
    on = command.on_date or _today()
    now = dt.datetime.now(dt.UTC)
    operator_id, operator_name = _operator(ctx)
    with UnitOfWork() as uow:
        office = uow.one("SELECT id, tree_path FROM system_dept WHERE id = :d", {"d": command.dept_id})
        if office is None or not ctx.principal.sees_dept(command.dept_id):
            raise AppError(ErrorCode.NOT_FOUND, f"deptId: 营业所 {command.dept_id} 不存在")
        if dept_ids is None:  # the office's subtree, as far as the caller's data scope reaches
            dept_ids = [
                int(d)
                for d in uow.execute(
                    "SELECT id FROM system_dept WHERE tree_path LIKE :p", {"p": f"{office['tree_path']}%"}
                ).scalars()
                if ctx.principal.sees_dept(int(d))
            ]
        params, problems = params_for(uow, command.dept_id)
        run = uow.one(
            "INSERT INTO biz_reminder_run (run_no, dept_id, trigger_type, strategy_code, on_date, operator_id,"
            " operator_name) VALUES ('RR' || to_char(CAST(:on AS date), 'YYYYMMDD') || '-'"
            " || lpad(CAST(nextval('biz_reminder_run_seq') AS text), 6, '0'), :d, :tr, :s, :on, :op, :opn)"
            " RETURNING id, run_no",
            {
                "on": on,
                "d": command.dept_id,
                "tr": command.trigger_type,
                "s": command.strategy_code,
                "op": operator_id,
                "opn": operator_name,
            },
        )
        assert run is not None
        common = {
            "run": run["id"],
            "on": on,
            "overdue": params.overdue_days,
            "min": params.min_arrears,
        }
        uow.execute(_LOCK_CANDIDATES, {**common, "depts": dept_ids})
        counts = uow.one(
            _GENERATE,
            {
                **common,
                "pref": command.channel_type,
                "mobile_re": rules.MOBILE_PATTERN,
                "strategy": command.strategy_code,
                "pre_stop": params.pre_stop_days,
                "second": params.second_notice_days,
                "window": params.frequency_window_hours,
                "day_start": _tasks.day_start(now),
                "cap": params.daily_sms_cap,
                "day": f"{now.astimezone(_tasks.zone()):%Y%m%d}",
                "trigger": command.trigger_type,
                "blocked_reason": f"{_tasks.CONTACT_MISSING.code} 目标联系方式缺失：无已绑定微信用户且无可用手机号",
                "blocked_code": _tasks.CONTACT_MISSING.code,
                "operator_id": operator_id,
                "operator_name": operator_name,
                "sms_release": _tasks.sms_release(now, params),
            },
        )
        assert counts is not None
        uow.execute(
            "UPDATE biz_reminder_run SET candidate_count = :c, created_count = :n, blocked_count = :b,"
            " skipped_count = :s, arrears_amount = :a WHERE id = :id",
            {
                "c": counts["candidates"],
                "n": counts["created"],
                "b": counts["blocked"],
                "s": counts["skipped"],
                "a": counts["amount"],
                "id": run["id"],
            },
        )
        summary = {
            "runNo": run["run_no"],
            "deptId": command.dept_id,
            "onDate": on,
            "triggerType": command.trigger_type,
            "candidateCount": int(counts["candidates"]),
            "createdCount": int(counts["created"]),
            "blockedCount": int(counts["blocked"]),
            "skippedCount": int(counts["skipped"]),
            "skippedByReason": {
                "FREQUENCY": int(counts["skipped_frequency"]),
                "DAILY_CAP": int(counts["skipped_cap"]),
                "CONTACT_MISSING": int(counts["blocked"]),
            },
            "queuedCount": int(counts["queued"]),
            "arrearsAmount": counts["amount"],
            "smsHeldUntil": _tasks.sms_release(now, params),
            "parameterProblems": problems,
        }
        audit.record(
            uow,
            ctx,
            module=_tasks.MODULE,
            operation="REMINDER_GENERATE",
            object_type="biz_reminder_run",
            object_id=run["run_no"],
            after=summary,
        )
        skipped = _skipped_rows(uow, run["id"], SKIPPED_IN_REPLY, 0)
        uow.commit()
    return summary | {"skippedList": skipped}


def generate_offices(
    ctx: RequestContext, *, on_date: dt.date | None = None, trigger_type: str = "AUTO"
) -> dict[str, Any]:
    """The monthly schedule: one run per dept that holds customers in arrears (each its own transaction,
    so one office's failure does not undo another's)."""
    with UnitOfWork() as uow:
        depts = [
            int(d)
            for d in uow.execute(
                "SELECT DISTINCT u.dept_id FROM biz_cust u WHERE u.status = 'NORMAL' AND EXISTS (SELECT 1 FROM"
                f" biz_charge c WHERE c.cust_id = u.id AND c.status IN ({sql_in(PAYABLE_BILLS)})) ORDER BY 1"
            ).scalars()
        ]
    runs = []
    for dept in depts:
        result = generate(
            ctx, Generate(dept_id=dept, trigger_type=trigger_type, on_date=on_date), dept_ids=[dept]
        )
        runs.append({k: v for k, v in result.items() if k != "skippedList"})
    return {"runs": runs, "createdCount": sum(r["createdCount"] for r in runs)}


def _skipped_rows(uow: UnitOfWork, run_id: int, limit: int, offset: int) -> list[dict[str, Any]]:
    return [
        {
            "custId": r["cust_id"],
            "billPeriod": r["bill_period"],
            "strategyCode": r["strategy_code"],
            "arrearsAmount": r["arrears_amount"],
            "reasonCode": r["reason_code"],
            "reason": r["reason"],
            "existingTaskNo": r["existing_task_no"],
        }
        for r in uow.all(
            "SELECT * FROM biz_reminder_skip WHERE run_id = :r ORDER BY id LIMIT :l OFFSET :o",
            {"r": run_id, "l": limit, "o": offset},
        )
    ]


def skipped(ctx: RequestContext, query: FindSkipped) -> dict[str, Any]:
    """The customers a run skipped, with their reasons (a run outside the caller's scope is absent)."""
    with UnitOfWork() as uow:
        run = uow.one("SELECT id, dept_id FROM biz_reminder_run WHERE run_no = :n", {"n": query.run_no})
        if run is None or not ctx.principal.sees_dept(run["dept_id"]):
            raise AppError(ErrorCode.NOT_FOUND, f"runNo: 生成批次 {query.run_no} 不存在")
        total = uow.scalar("SELECT count(*) FROM biz_reminder_skip WHERE run_id = :r", {"r": run["id"]})
        rows = _skipped_rows(uow, run["id"], query.page_size, (query.page_no - 1) * query.page_size)
    return page(rows, int(total), query.page_no, query.page_size)


# ------------------------------------------------------------------------------- the query ----
def find_tasks(ctx: RequestContext, query: FindTasks) -> dict[str, Any]:
    """A page of tasks (newest first) in the caller's data scope, and how many of the tasks matching
    every filter but `status` are in each of the four states."""
    scope, scope_params = customer_scope(ctx, "t.dept_id")
    filters = [scope]
    params: dict[str, Any] = dict(scope_params)
    for column, value, name in (
        ("t.task_no", query.task_no, "task_no"),
        ("t.event_no", query.event_no, "event_no"),
        ("t.cust_id", query.cust_id, "cust_id"),
        ("t.bill_period", query.bill_period, "bill_period"),
        ("t.strategy_code", query.strategy_code, "strategy"),
        ("t.channel_type", query.channel_type, "channel"),
        ("t.trigger_type", query.trigger_type, "trigger"),
        ("r.run_no", query.run_no, "run_no"),
    ):
        if value is not None:
            filters.append(f"{column} = :{name}")
            params[name] = value
    where = " AND ".join(filters)
    with UnitOfWork() as uow:
        counts = {s.value: 0 for s in MessageStatus}
        for row in uow.all(
            f"SELECT t.status, count(*) AS n FROM {_tasks.TASK_FROM} WHERE {where} GROUP BY t.status", params
        ):
            counts[row["status"]] = int(row["n"])
        if query.status is not None:
            where += " AND t.status = :status"
            params["status"] = query.status
        total = counts[query.status] if query.status is not None else sum(counts.values())
        rows = uow.all(
            f"SELECT {_tasks.TASK_COLUMNS} FROM {_tasks.TASK_FROM} WHERE {where}"
            " ORDER BY t.create_time DESC, t.id DESC LIMIT :lim OFFSET :off",
            {**params, "lim": query.page_size, "off": (query.page_no - 1) * query.page_size},
        )
        deliveries = _deliveries(uow, [r["event_no"] for r in rows])
    items = [_tasks.reply(r) | {"deliveries": deliveries.get(r["event_no"], [])} for r in rows]
    return page(items, total, query.page_no, query.page_size) | {"counts": counts}


def _deliveries(uow: UnitOfWork, event_nos: list[str]) -> dict[str, list[dict[str, Any]]]:
    from waterrev.masking import mask_mobile

    found: dict[str, list[dict[str, Any]]] = {}
    if not event_nos:
        return found
    for m in uow.all(
        "SELECT * FROM biz_message WHERE message_biz_no = ANY(CAST(:e AS varchar[])) ORDER BY id",
        {"e": event_nos},
    ):
        found.setdefault(m["message_biz_no"], []).append(
            {
                "messageId": m["id"],
                "channel": m["channel"],
                "receiver": mask_mobile(m["receiver"]) if m["channel"] == "SMS" else m["receiver"],
                "status": m["status"],
                "dispatchState": m["dispatch_state"],
                "attempts": m["attempts"],
                "notBefore": m["not_before"],
                "lastError": m["last_error"],
                "reachStatus": m["reach_status"],
                "resultTime": m["result_time"],
            }
        )
    return found


# -------------------------------------------------------------------------------- 人工核查 ----
def manual_verify(ctx: RequestContext, command: ManualVerify) -> dict[str, Any]:
    """Close a PENDING task as MANUAL_VERIFIED with a person's note (1_002_008_003 without a note or for
    a task that does not exist or is outside the caller's scope; 409 for any other state). Its messages
    not yet with SYS-010 are not sent any more; the same verification again answers the task."""
    note = (command.manual_verify_note or "").strip()
    if not command.task_no:
        raise AppError(ErrorCode.MANUAL_VERIFY_CONTEXT_MISSING, "taskNo: 人工核查须指定催缴任务号")
    if not note:
        raise AppError(ErrorCode.MANUAL_VERIFY_CONTEXT_MISSING, "manualVerifyNote: 人工核查说明不能为空")
    with UnitOfWork() as uow:
        # Locks in the order every result takes them (its messages, then the task), so a verification
        # and a result callback for the same task queue up instead of deadlocking.
        found = uow.scalar(
            "SELECT event_no FROM biz_reminder_task WHERE task_no = :n", {"n": command.task_no}
        )
        if found is not None:
            uow.execute(
                "SELECT id FROM biz_message WHERE message_biz_no = :e ORDER BY id FOR UPDATE", {"e": found}
            )
        task = _tasks.load(uow, "t.task_no = :n", {"n": command.task_no}, lock=True)
        if task is None or not ctx.principal.sees_dept(task["dept_id"]):
            raise AppError(
                ErrorCode.MANUAL_VERIFY_CONTEXT_MISSING, f"taskNo: 催缴任务 {command.task_no} 不存在"
            )
        if task["status"] == MessageStatus.MANUAL_VERIFIED and task["manual_verify_note"] == note:
            return _tasks.reply(task, "重复请求：该任务已按相同说明人工核查")
        REMINDER.require(task["status"], MessageStatus.MANUAL_VERIFIED, f"催缴任务 {task['task_no']}")
        operator_id, operator_name = _operator(ctx)
        uow.execute(
            "UPDATE biz_reminder_task SET status = :s, manual_verify_note = :note, verifier_id = :v,"
            " verifier_name = :vn, verify_time = now(), result_time = now(),"
            " related_disposal_ref = COALESCE(:ref, related_disposal_ref), update_time = now() WHERE id = :id",
            {
                "s": MessageStatus.MANUAL_VERIFIED,
                "note": note,
                "v": operator_id,
                "vn": operator_name,
                "ref": command.related_disposal_ref,
                "id": task["id"],
            },
        )
        closed = (
            uow.execute(
                f"UPDATE biz_message SET status = '{MessageStatus.MANUAL_VERIFIED}', result_time = now(),"
                f" update_time = now(), dispatch_state = CASE WHEN dispatch_state IN ('{DispatchState.NEW}',"
                f" '{DispatchState.QUEUED}', '{DispatchState.DEAD}') THEN '{DispatchState.CLOSED}' ELSE dispatch_state END"
                f" WHERE message_biz_no = :e AND status = '{MessageStatus.PENDING}' RETURNING id",
                {"e": task["event_no"]},
            )
            .scalars()
            .all()
        )
        if closed:
            uow.execute(
                f"UPDATE biz_message_exception SET status = '{MessageExceptionStatus.RESOLVED}', resolution = 'DISMISSED',"
                " resolver_id = :v, resolver_name = :vn, resolve_remark = '催缴任务已人工核查', resolve_time = now()"
                f" WHERE message_id = ANY(CAST(:ids AS bigint[])) AND status = '{MessageExceptionStatus.OPEN}'",
                {"ids": list(closed), "v": operator_id, "vn": operator_name},
            )
        audit.record(
            uow,
            ctx,
            module=_tasks.MODULE,
            operation="REMINDER_MANUAL_VERIFY",
            object_type="biz_reminder_task",
            object_id=task["task_no"],
            before={"status": task["status"], "relatedDisposalRef": task["related_disposal_ref"]},
            after={
                "status": MessageStatus.MANUAL_VERIFIED,
                "manualVerifyNote": note,
                "relatedDisposalRef": command.related_disposal_ref or task["related_disposal_ref"],
                "messagesClosed": list(closed),
            },
        )
        row = _tasks.load(uow, "t.id = :id", {"id": task["id"]})
        uow.commit()
    assert row is not None
    return _tasks.reply(row)


# ----------------------------------------------------------------------- the customer's history ----
def history(
    uow: UnitOfWork, cust_id: int, bill_period: str | None, limit: int, offset: int
) -> tuple[int, list[dict[str, Any]]]:
    """IF-CS-002 queryType REMINDER (扩展): a customer's reminders, newest first, in the seed's 历史查询
    terms for 催缴 (账期、催缴方式、消息状态、执行人、执行时间、处置引用). The caller checked visibility."""
    params = {"c": cust_id, "p": bill_period, "lim": limit, "off": offset}
    where = "cust_id = :c AND (CAST(:p AS varchar) IS NULL OR bill_period = :p)"
    total = int(uow.scalar(f"SELECT count(*) FROM biz_reminder_task WHERE {where}", params))
    rows = uow.all(
        f"SELECT * FROM biz_reminder_task WHERE {where} ORDER BY create_time DESC, id DESC LIMIT :lim OFFSET :off",
        params,
    )
    return total, [
        {
            "taskNo": r["task_no"],
            "eventNo": r["event_no"],
            "billPeriod": r["bill_period"],
            "chargeIds": list(r["charge_ids"]),
            "arrearsAmount": r["arrears_amount"],
            "strategyCode": r["strategy_code"],
            "reminderChannel": r["result_channel"] or r["channel_type"],
            "messageStatus": r["status"],
            "executor": r["operator_name"] if r["trigger_type"] == "MANUAL" else "SYSTEM",
            "executeTime": r["create_time"],
            "resultTime": r["result_time"],
            "relatedDisposalRef": r["related_disposal_ref"],
        }
        for r in rows
    ]
