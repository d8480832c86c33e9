"""Late-payment penalty waivers (违约金减免), under IF-REV-007's path (账务调整): a penalty is waived, wholly or
in part, only through an approved adjustment. Until IF-REV-007's own adjustments exist, that is a recorded
waiver request which takes effect only when a SECOND person - not the requester, holding the approval
permission - approves it. The database refuses an approval by the requester as well
(ck_penalty_waiver_second_person).

- request: the bill (in the caller's data scope) must still owe a penalty today; the amount is at most that
  (none: the whole penalty owed when approved). One open request per bill: the same request again answers
  it (`replay`), another one is refused with it (1_002_004_001).
- approve: the waived amount is fixed then - the amount asked for, never more than the penalty owed that
  day - and from then on lowers what the bill owes (billing.dues). A bill whose water fee was already paid
  and whose penalty is thereby settled becomes PAID. A bill held by a live online or QR order cannot be
  waived until that order ends (the order would book a penalty no longer owed).
- reject: the request ends and nothing changes.
A decision again answers the stored one; the other decision is refused with it. Each step is one
transaction with its audit row; the waiver row is locked first, then the bill.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any

from waterrev import audit
from waterrev.accounting.commands import DecideWaiver, FindWaivers, RequestWaiver
from waterrev.billing.dues import amount_due
from waterrev.context import RequestContext
from waterrev.db import UnitOfWork
from waterrev.domain.states import (
    BILL,
    PAYABLE_BILLS,
    PENALTY_WAIVER,
    BillStatus,
    PenaltyWaiverStatus,
)
from waterrev.envelope import page
from waterrev.errors import AppError, ErrorCode
from waterrev.masking import mask_text
from waterrev.visibility import customer_scope, customer_visible

MODULE = "REV-004"
ADJUST_TYPE = "PENALTY_WAIVER"
ZERO = Decimal("0.00")
RESULT_STATUS = {  # IF-REV-007 resultStatus
    PenaltyWaiverStatus.PENDING: "PENDING_APPROVAL",
    PenaltyWaiverStatus.APPROVED: "SUCCESS",
    PenaltyWaiverStatus.REJECTED: "FAIL",
}
WRITE_BACK = {  # IF-REV-007 writeBackStatus: what became of the bill
    PenaltyWaiverStatus.PENDING: "PENDING",
    PenaltyWaiverStatus.APPROVED: "SUCCESS",
    PenaltyWaiverStatus.REJECTED: "NONE",
}
_VIEW = (
    "SELECT w.*, c.code AS charge_code, c.bill_period, c.status AS pay_status, u.username AS requested_by_name,"
    " d.username AS decided_by_name FROM biz_penalty_waiver w JOIN biz_charge c ON c.id = w.charge_id"
    " LEFT JOIN system_users u ON u.id = w.requested_by LEFT JOIN system_users d ON d.id = w.decided_by"
)


def _view(row: dict[str, Any], *, replay: bool = False, msg: str | None = None) -> dict[str, Any]:
    status = PenaltyWaiverStatus(row["status"])
    return {
        "adjustmentNo": row["waiver_no"],
        "chargeId": row["charge_id"],
        "resultStatus": RESULT_STATUS[status],
        "writeBackStatus": WRITE_BACK[status],
        "approvalRequired": True,
        "msg": msg or _message(row),
        "adjustType": ADJUST_TYPE,
        "waiverStatus": status.value,
        "custId": row["cust_id"],
        "chargeCode": row["charge_code"],
        "billPeriod": row["bill_period"],
        "payStatus": row["pay_status"],
        "adjustAmount": row["requested_amount"],
        "penaltyOwed": row["penalty_owed"],
        "waivedAmount": row["waived_amount"],
        "penaltyAsOf": None if row["penalty_as_of"] is None else row["penalty_as_of"].isoformat(),
        "reasonCode": row["reason_code"],
        "remark": row["remark"],
        "attachmentList": list(row["attachment_list"] or []),
        "requestedBy": row["requested_by"],
        "requestedByName": row["requested_by_name"],
        "requestTime": row["request_time"],
        "decidedBy": row["decided_by"],
        "decidedByName": row["decided_by_name"],
        "decisionRemark": row["decision_remark"],
        "decidedTime": row["decided_time"],
        "replay": replay,
    }


def _message(row: dict[str, Any]) -> str:
    if row["status"] == PenaltyWaiverStatus.PENDING:
        return "违约金减免申请已登记，须由申请人以外的审批人审批后生效"
    if row["status"] == PenaltyWaiverStatus.APPROVED:
        return f"已审批，减免违约金 {row['waived_amount']}（截至 {row['penalty_as_of']}）"
    return "申请已驳回，违约金未减免"


def _reload(uow: UnitOfWork, waiver_id: int, **kwargs: Any) -> dict[str, Any]:
    row = uow.one(_VIEW + " WHERE w.id = :id", {"id": waiver_id})
    assert row is not None
    return _view(row, **kwargs)


def _absent_bill(charge_id: int) -> AppError:
    return AppError(ErrorCode.NOT_FOUND, f"chargeId: 账单 {charge_id} 不存在")


def _state_error(detail: str, data: Any = None) -> AppError:
    return AppError(ErrorCode.ADJUST_STATE_NOT_ALLOWED, detail, data=data)


def _lock_bill(uow: UnitOfWork, ctx: RequestContext, charge_id: int) -> dict[str, Any]:
    """The bill, locked (as a payment locks it), if the caller may see its customer; else as absent."""
    bill = uow.one(
        "SELECT c.id, c.code, c.cust_id, c.status, c.total_amount, c.paid_amount,"
        " (SELECT o.biz_order_no FROM biz_order_charge o WHERE o.charge_id = c.id AND o.live) AS live_order"
        " FROM biz_charge c WHERE c.id = :id FOR UPDATE OF c",
        {"id": charge_id},
    )
    if bill is None or not customer_visible(uow, ctx, bill["cust_id"]):
        raise _absent_bill(charge_id)
    return bill


def _penalty_today(uow: UnitOfWork, bill: dict[str, Any]) -> tuple[Decimal, dt.date]:
    dues = amount_due(uow, int(bill["cust_id"]), charge_ids=[int(bill["id"])])
    return dues.of(int(bill["id"])).penalty, dues.as_of


def _require_payable(bill: dict[str, Any]) -> None:
    if bill["status"] not in PAYABLE_BILLS:
        raise _state_error(
            f"账单 {bill['code']} 状态为 {bill['status']}，无可减免的违约金",
            data={"chargeId": bill["id"], "payStatus": bill["status"]},
        )


# ------------------------------------------------------------------------------------ request --
def request(ctx: RequestContext, cmd: RequestWaiver) -> dict[str, Any]:
    if cmd.operator_id != ctx.principal.user_id:
        raise AppError(ErrorCode.FORBIDDEN, f"operatorId: {cmd.operator_id} 不是当前登录用户")
    with UnitOfWork() as uow:
        bill = _lock_bill(uow, ctx, cmd.charge_id)
        open_row = uow.one(
            f"SELECT * FROM biz_penalty_waiver WHERE charge_id = :c AND status = '{PenaltyWaiverStatus.PENDING}'",
            {"c": cmd.charge_id},
        )
        if open_row is not None:  # the bill's lock makes this the one open request
            same = (
                open_row["requested_by"] == ctx.principal.user_id
                and open_row["requested_amount"] == cmd.amount
                and open_row["reason_code"] == cmd.reason_code
            )
            current = _reload(uow, open_row["id"], replay=same)
            if same:
                return current
            raise _state_error(
                f"账单 {bill['code']} 已有待审批的违约金减免申请 {open_row['waiver_no']}", data=current
            )
        _require_payable(bill)
        owed, as_of = _penalty_today(uow, bill)
        if owed <= 0:
            raise _state_error(
                f"账单 {bill['code']} 截至 {as_of} 无应缴违约金",
                data={"chargeId": bill["id"], "penaltyAmount": owed, "penaltyAsOf": as_of.isoformat()},
            )
        if cmd.amount is not None and cmd.amount > owed:
            raise _state_error(
                f"adjustAmount: 减免金额 {cmd.amount} 超过截至 {as_of} 的应缴违约金 {owed}",
                data={"chargeId": bill["id"], "penaltyAmount": owed, "penaltyAsOf": as_of.isoformat()},
            )
        seq = uow.scalar("SELECT nextval('biz_penalty_waiver_seq')")
        waiver_no = f"JM{dt.datetime.now(dt.UTC):%Y%m%d}{int(seq):08d}"
        waiver_id = uow.scalar(
            "INSERT INTO biz_penalty_waiver (waiver_no, charge_id, cust_id, requested_amount, penalty_owed,"
            " reason_code, remark, attachment_list, requested_by) VALUES (:no, :c, :cust, :amt, :owed, :reason,"
            " :remark, CAST(:att AS jsonb), :by) RETURNING id",
            {
                "no": waiver_no,
                "c": bill["id"],
                "cust": bill["cust_id"],
                "amt": cmd.amount,
                "owed": owed,
                "reason": cmd.reason_code,
                "remark": None if cmd.remark is None else mask_text(cmd.remark),
                "att": json.dumps(list(cmd.attachments), ensure_ascii=False),
                "by": ctx.principal.user_id,
            },
        )
        audit.record(
            uow,
            ctx,
            module=MODULE,
            operation="PENALTY_WAIVER_REQUEST",
            object_type="biz_penalty_waiver",
            object_id=waiver_id,
            after={
                "adjustmentNo": waiver_no,
                "chargeId": bill["id"],
                "adjustAmount": cmd.amount,
                "penaltyOwed": owed,
                "penaltyAsOf": as_of,
                "reasonCode": cmd.reason_code,
                "status": PenaltyWaiverStatus.PENDING,
            },
            remark=None if cmd.remark is None else mask_text(cmd.remark),
        )
        reply = _reload(uow, waiver_id)
        uow.commit()
    return reply


# ---------------------------------------------------------------------------------- decisions --
def _lock_waiver(uow: UnitOfWork, ctx: RequestContext, waiver_no: str) -> dict[str, Any]:
    row = uow.one("SELECT * FROM biz_penalty_waiver WHERE waiver_no = :no FOR UPDATE", {"no": waiver_no})
    if row is None or not customer_visible(uow, ctx, row["cust_id"]):
        raise AppError(ErrorCode.NOT_FOUND, f"adjustmentNo: 减免申请 {waiver_no} 不存在")
    return row


def _decided(uow: UnitOfWork, row: dict[str, Any], target: PenaltyWaiverStatus) -> dict[str, Any] | None:
    """The stored answer when this decision was made already; a refusal when the other one was; None
    while the request still waits."""
    if row["status"] == target:
        return _reload(uow, row["id"], replay=True)
    if not PENALTY_WAIVER.allows(row["status"], target):
        raise _state_error(
            f"减免申请 {row['waiver_no']} 当前状态为 {row['status']}，不能再变为 {target}",
            data=_reload(uow, row["id"]),
        )
    return None


def _second_person(ctx: RequestContext, row: dict[str, Any]) -> None:
    if row["requested_by"] == ctx.principal.user_id:
        raise AppError(
            ErrorCode.FORBIDDEN,
            f"减免申请 {row['waiver_no']} 须由申请人以外的人审批（申请人不能审批或驳回自己的申请）",
        )


def approve(ctx: RequestContext, cmd: DecideWaiver) -> dict[str, Any]:
    with UnitOfWork() as uow:
        row = _lock_waiver(uow, ctx, cmd.waiver_no)
        if (done := _decided(uow, row, PenaltyWaiverStatus.APPROVED)) is not None:
            return done
        _second_person(ctx, row)
        bill = _lock_bill(uow, ctx, int(row["charge_id"]))
        _require_payable(bill)
        if bill["live_order"] is not None:
            raise _state_error(
                f"账单 {bill['code']} 正在订单 {bill['live_order']} 中支付，订单结束后再审批减免",
                data={"chargeId": bill["id"], "liveOrder": bill["live_order"]},
            )
        owed, as_of = _penalty_today(uow, bill)
        waived = owed if row["requested_amount"] is None else min(Decimal(row["requested_amount"]), owed)
        if waived <= 0:
            raise _state_error(
                f"账单 {bill['code']} 截至 {as_of} 已无应缴违约金，无可减免（可驳回该申请）",
                data={"chargeId": bill["id"], "penaltyAmount": owed, "penaltyAsOf": as_of.isoformat()},
            )
        uow.execute(
            "UPDATE biz_penalty_waiver SET status = :s, waived_amount = :w, penalty_as_of = :d, decided_by = :by,"
            " decision_remark = :r, decided_time = now() WHERE id = :id",
            {
                "s": PenaltyWaiverStatus.APPROVED,
                "w": waived,
                "d": as_of,
                "by": ctx.principal.user_id,
                "r": None if cmd.remark is None else mask_text(cmd.remark),
                "id": row["id"],
            },
        )
        settled = owed - waived <= 0 and Decimal(bill["paid_amount"]) >= Decimal(bill["total_amount"])
        if settled:  # the water fee was paid; the penalty was all that was left
            BILL.require(bill["status"], BillStatus.PAID, f"账单 {bill['code']}")
            uow.execute(
                "UPDATE biz_charge SET status = :s, paid_time = now() WHERE id = :id",
                {"s": BillStatus.PAID, "id": bill["id"]},
            )
        audit.record(
            uow,
            ctx,
            module=MODULE,
            operation="PENALTY_WAIVER_APPROVE",
            object_type="biz_penalty_waiver",
            object_id=row["id"],
            before={"status": row["status"], "chargeId": bill["id"], "payStatus": bill["status"]},
            after={
                "status": PenaltyWaiverStatus.APPROVED,
                "waivedAmount": waived,
                "penaltyOwed": owed,
                "penaltyAsOf": as_of,
                "payStatus": BillStatus.PAID if settled else bill["status"],
            },
            remark=None if cmd.remark is None else mask_text(cmd.remark),
        )
        reply = _reload(uow, row["id"])
        uow.commit()
    return reply


def reject(ctx: RequestContext, cmd: DecideWaiver) -> dict[str, Any]:
    with UnitOfWork() as uow:
        row = _lock_waiver(uow, ctx, cmd.waiver_no)
        if (done := _decided(uow, row, PenaltyWaiverStatus.REJECTED)) is not None:
            return done
        _second_person(ctx, row)
        uow.execute(
            "UPDATE biz_penalty_waiver SET status = :s, decided_by = :by, decision_remark = :r, decided_time = now()"
            " WHERE id = :id",
            {
                "s": PenaltyWaiverStatus.REJECTED,
                "by": ctx.principal.user_id,
                "r": None if cmd.remark is None else mask_text(cmd.remark),
                "id": row["id"],
            },
        )
        audit.record(
            uow,
            ctx,
            module=MODULE,
            operation="PENALTY_WAIVER_REJECT",
            object_type="biz_penalty_waiver",
            object_id=row["id"],
            before={"status": row["status"]},
            after={"status": PenaltyWaiverStatus.REJECTED},
            remark=None if cmd.remark is None else mask_text(cmd.remark),
        )
        reply = _reload(uow, row["id"])
        uow.commit()
    return reply


# -------------------------------------------------------------------------------------- page --
def find(ctx: RequestContext, query: FindWaivers) -> dict[str, Any]:
    """The waiver requests of customers in the caller's data scope, newest first."""
    in_scope, params = customer_scope(ctx, "k.dept_id")
    where = [in_scope]
    for column, key, value in (
        ("w.cust_id", "cust", query.cust_id),
        ("w.charge_id", "charge", query.charge_id),
        ("w.status", "status", query.status),
    ):
        if value is not None:
            where.append(f"{column} = :{key}")
            params[key] = value
    clause = " AND ".join(where)
    with UnitOfWork() as uow:
        total = uow.scalar(
            f"SELECT count(*) FROM biz_penalty_waiver w JOIN biz_cust k ON k.id = w.cust_id WHERE {clause}",
            params,
        )
        rows = uow.all(
            f"{_VIEW} JOIN biz_cust k ON k.id = w.cust_id WHERE {clause} ORDER BY w.id DESC LIMIT :lim OFFSET :off",
            {**params, "lim": query.page_size, "off": (query.page_no - 1) * query.page_size},
        )
    items = [{k: v for k, v in _view(r).items() if k != "replay"} for r in rows]
    return page(items, int(total), query.page_no, query.page_size)
