"""IF-REV-006 payment exception review (人工复核入口与操作日志): the payment exceptions the settlement raised
(bk_transaction_exception), listed within the user's data scope, and a person's decision on each.

Decisions by exception type:
- AMOUNT_MISMATCH (the order is held, its bills too): WRITE_OFF_PAID books the money actually received
  against the order's bills (rev_write_off: what the order held for each bill's principal and penalty,
  penalty or principal first as revenue.penalty.coverage says, oldest first; a short amount leaves bills
  PARTIAL, a surplus goes to the balance) and ends the order SUCCESS; REFUND closes the order, frees its bills and records a
  PENDING refund of the amount received, paid back through SYS-009 by accounting.refunds (IF-REV-007's
  refund path: a biz_refund row in this transaction; job_pay_compensate makes the refund call, and the
  refund's result updates refundStatus).
- PAID_ELSEWHERE (the order is SUCCESS, the surplus is on the balance): KEEP_BALANCE leaves it there;
  REFUND takes it off the balance (biz_account_flow REFUND) and records a PENDING refund, paid back the
  same way (a refund SYS-009 fails puts the money back on the balance).
- everything else (SIGNATURE_INVALID, UNKNOWN_TRADE, UNPARSABLE, ...): DISMISS.

The exception row is locked first, then the order, the account and the bills in id order - the lock order
of every payment - all in one transaction with the audit row. A repeat of the decision answers the stored
result; a different decision on a resolved exception is refused with the current one.
"""

from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation
from typing import Any

from waterrev import audit, clock, metrics
from waterrev.accounting import refunds
from waterrev.billing import penalty
from waterrev.context import RequestContext
from waterrev.db import UnitOfWork
from waterrev.domain.states import (
    LIVE_ORDER,
    ORDER,
    PAYABLE_BILLS,
    PAYMENT_EXCEPTION,
    OrderHold,
    OrderStatus,
    PaymentExceptionStatus,
    PaymentExceptionType,
)
from waterrev.envelope import jsonable, page
from waterrev.errors import AppError, ErrorCode
from waterrev.masking import mask_text
from waterrev.payments.collection import lock_account
from waterrev.payments.commands import ResolveException
from waterrev.payments.writeback import seed_order_status
from waterrev.scoped import param_row
from waterrev.visibility import dept_params, dept_visible

MODULE = "REV-003"
ACTIONS: dict[str, tuple[str, ...]] = {
    PaymentExceptionType.AMOUNT_MISMATCH: ("WRITE_OFF_PAID", "REFUND"),
    PaymentExceptionType.PAID_ELSEWHERE: ("KEEP_BALANCE", "REFUND"),
}
OTHERWISE = ("DISMISS",)

# An exception with no known order (a bad signature, an unknown trade) belongs to no dept: only users
# whose data scope is every dept (dept_ids None) see it.
_IN_SCOPE = "(CAST(:all_depts AS boolean) OR c.dept_id = ANY(CAST(:depts AS bigint[])))"
_FROM = (
    " FROM bk_transaction_exception e"
    " LEFT JOIN bk_transaction t ON t.biz_order_no = e.biz_order_no"
    " LEFT JOIN biz_cust c ON c.id = t.cust_id"
)
_COLUMNS = (
    "SELECT e.*, t.id AS order_id, t.cust_id, c.code AS cust_code, c.dept_id, t.status AS order_status,"
    " t.trade_amount, t.hold_reason AS order_hold, u.username AS resolved_by_name"
)


def allowed_actions(
    exception_type: str, order_status: str | None = None, order_hold: str | None = None
) -> tuple[str, ...]:
    """What a person may decide. An amount mismatch whose order another decision already settled
    (SUCCESS) or sent back (held REFUND) - an older duplicate row - can only be dismissed."""
    if exception_type == PaymentExceptionType.AMOUNT_MISMATCH and (
        order_status == OrderStatus.SUCCESS or order_hold == OrderHold.REFUND
    ):
        return OTHERWISE
    return ACTIONS.get(exception_type, OTHERWISE)


def _scope(ctx: RequestContext) -> dict[str, Any]:
    return dept_params(ctx)


def _view(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "exceptionType": row["exception_type"],
        "status": row["status"],
        "tradeNo": row["trade_no"],
        "bizOrderNo": row["biz_order_no"],
        "custId": row["cust_id"],
        "custCode": row["cust_code"],
        "orderStatus": None if row["order_status"] is None else seed_order_status(row["order_status"]),
        "paymentAmount": row["trade_amount"],
        "detail": row["detail"],
        "createTime": row["create_time"],
        "allowedActions": (
            list(allowed_actions(row["exception_type"], row["order_status"], row["order_hold"]))
            if row["status"] == PaymentExceptionStatus.OPEN
            else []
        ),
        "resolution": row["resolution"],
        "remark": row["resolve_remark"],
        "resolvedBy": row["resolved_by"],
        "resolvedByName": row["resolved_by_name"],
        "resolvedTime": row["resolved_time"],
        "refundStatus": row["refund_status"],
        "refundAmount": row["refund_amount"],
        "result": row["resolve_result"],
    }


# ------------------------------------------------------------------------------------ page --
def page_exceptions(
    ctx: RequestContext,
    *,
    status: str | None,
    exception_type: str | None,
    biz_order_no: str | None,
    trade_no: str | None,
    page_no: int,
    page_size: int,
) -> dict[str, Any]:
    """The payment exceptions the user may see, newest first."""
    where = [_IN_SCOPE]
    params: dict[str, Any] = _scope(ctx)
    for column, key, value in (
        ("e.status", "status", status),
        ("e.exception_type", "type", exception_type),
        ("e.biz_order_no", "order", biz_order_no),
        ("e.trade_no", "trade", trade_no),
    ):
        if value:
            where.append(f"{column} = :{key}")
            params[key] = value
    clause = " AND ".join(where)
    with UnitOfWork() as uow:
        total = uow.scalar(f"SELECT count(*){_FROM} WHERE {clause}", params)
        rows = uow.all(
            f"{_COLUMNS}{_FROM} LEFT JOIN system_users u ON u.id = e.resolved_by WHERE {clause}"
            " ORDER BY e.id DESC LIMIT :lim OFFSET :off",
            {**params, "lim": page_size, "off": (page_no - 1) * page_size},
        )
    return page([_view(r) for r in rows], int(total), page_no, page_size)


# --------------------------------------------------------------------------------- resolve --
def resolve(ctx: RequestContext, cmd: ResolveException) -> dict[str, Any]:
    """A person's decision on one exception: idempotent by (id, action); one decision per exception."""
    with UnitOfWork() as uow:
        row = uow.one(  # the exception row first: concurrent decisions on it queue here
            "SELECT e.*, t.cust_id, c.dept_id, t.status AS order_status, t.hold_reason AS order_hold"
            + _FROM
            + " WHERE e.id = :id FOR UPDATE OF e",
            {"id": cmd.id},
        )
        if row is None or not dept_visible(ctx, row["dept_id"]):
            raise AppError(ErrorCode.NOT_FOUND, f"id: 异常记录 {cmd.id} 不存在")
        if not PAYMENT_EXCEPTION.allows(row["status"], PaymentExceptionStatus.RESOLVED):
            current = _reload(uow, cmd.id)
            if row["status"] == PaymentExceptionStatus.RESOLVED and row["resolution"] == cmd.action:
                return {**current, "replay": True}  # the same decision again: the stored result
            raise AppError(
                ErrorCode.CONFLICT,
                f"异常记录 {cmd.id} 已处理（{row['resolution'] or row['status']}），不能再以 {cmd.action} 处理",
                data=current,
            )
        allowed = allowed_actions(row["exception_type"], row["order_status"], row["order_hold"])
        if cmd.action not in allowed:
            raise AppError(
                ErrorCode.BAD_REQUEST,
                f"action: 异常类型 {row['exception_type']} 只允许 {' / '.join(allowed)}",
                data={"field": "action", "allowedActions": list(allowed)},
            )

        refund: Decimal | None = None
        kind = row["exception_type"]
        if kind == PaymentExceptionType.AMOUNT_MISMATCH and cmd.action == "WRITE_OFF_PAID":
            result = _write_off_paid(uow, ctx, row)
        elif kind == PaymentExceptionType.AMOUNT_MISMATCH and cmd.action == "REFUND":
            result, refund = _close_for_refund(uow, ctx, row)
        elif kind == PaymentExceptionType.PAID_ELSEWHERE and cmd.action == "REFUND":
            result, refund = _refund_from_balance(uow, ctx, row)
        else:  # KEEP_BALANCE, DISMISS: the decision itself, nothing on the books moves
            result = {}

        uow.execute(
            "UPDATE bk_transaction_exception SET status = :s, resolution = :a, resolve_remark = :r,"
            " resolved_by = :u, resolved_time = now(), resolve_result = CAST(:res AS jsonb),"
            " refund_status = :rs, refund_amount = :ra WHERE id = :id",
            {
                "s": PaymentExceptionStatus.RESOLVED,
                "a": cmd.action,
                "r": mask_text(cmd.remark),  # shown to every reviewer: no ID number or mobile in clear
                "u": ctx.principal.user_id or None,
                "res": json.dumps(jsonable(result), ensure_ascii=False),
                "rs": None if refund is None else "PENDING",
                "ra": refund,
                "id": cmd.id,
            },
        )
        if refund is not None:  # paid back through IF-REV-007's refund path: the compensation job sends it
            refunds.record_for_exception(
                uow,
                ctx,
                exception_id=cmd.id,
                trade_no=row["trade_no"],
                biz_order_no=row["biz_order_no"],
                amount=refund,
                booked=kind == PaymentExceptionType.PAID_ELSEWHERE,
            )
        audit.record(
            uow,
            ctx,
            module=MODULE,
            operation="EXCEPTION_RESOLVE",
            object_type="bk_transaction_exception",
            object_id=cmd.id,
            before={
                "status": row["status"],
                "exceptionType": row["exception_type"],
                "bizOrderNo": row["biz_order_no"],
                "detail": row["detail"],
            },
            after={
                "status": PaymentExceptionStatus.RESOLVED,
                "resolution": cmd.action,
                "remark": cmd.remark,
                "result": result,
                "refundStatus": None if refund is None else "PENDING",
                "refundAmount": refund,
            },
            remark=mask_text(cmd.remark),
        )
        reply = {**_reload(uow, cmd.id), "replay": False}
        uow.commit()
    return reply


def _reload(uow: UnitOfWork, exception_id: int) -> dict[str, Any]:
    row = uow.one(
        f"{_COLUMNS}{_FROM} LEFT JOIN system_users u ON u.id = e.resolved_by WHERE e.id = :id",
        {"id": exception_id},
    )
    assert row is not None
    return _view(row)


def _lock_order(uow: UnitOfWork, row: dict[str, Any]) -> dict[str, Any]:
    order = uow.one(
        "SELECT * FROM bk_transaction WHERE biz_order_no = :o FOR UPDATE", {"o": row["biz_order_no"]}
    )
    if order is None:
        raise AppError(ErrorCode.CONFLICT, f"异常记录 {row['id']} 的订单 {row['biz_order_no']} 不存在")
    return order


def _order_conflict(order: dict[str, Any], why: str) -> AppError:
    return AppError(
        ErrorCode.CONFLICT,
        f"订单 {order['biz_order_no']} 状态为 {order['status']}，{why}",
        data={
            "bizOrderNo": order["biz_order_no"],
            "orderStatus": order["status"],
            "holdReason": order["hold_reason"],
        },
    )


def _reported_amount(row: dict[str, Any]) -> Decimal:
    try:
        amount = Decimal(str(row["detail"]["successAmount"]))
    except (KeyError, TypeError, InvalidOperation) as exc:
        raise AppError(ErrorCode.CONFLICT, f"异常记录 {row['id']} 缺少可用的实收金额 successAmount") from exc
    if not amount.is_finite():
        raise AppError(ErrorCode.CONFLICT, f"异常记录 {row['id']} 的实收金额 {amount} 无效")
    return amount


def _bookable(amount: Decimal) -> bool:
    """Money the books can hold as it is: positive, whole fen, within NUMERIC(14,2)."""
    exponent = amount.as_tuple().exponent
    return amount > 0 and isinstance(exponent, int) and exponent >= -2 and amount.adjusted() <= 11


def _order_audit(
    uow: UnitOfWork, ctx: RequestContext, order: dict[str, Any], operation: str, after: dict[str, Any]
) -> None:
    audit.record(
        uow,
        ctx,
        module=MODULE,
        operation=operation,
        object_type="bk_transaction",
        object_id=order["id"],
        before={"status": order["status"], "holdReason": order["hold_reason"]},
        after=after,
    )


def _write_off_paid(uow: UnitOfWork, ctx: RequestContext, row: dict[str, Any]) -> dict[str, Any]:
    """Accept the amount actually received: write it off against the held order's bills and end the
    order SUCCESS with that amount."""
    order = _lock_order(uow, row)
    if order["status"] not in LIVE_ORDER:  # a person books money only for an order still waiting for it
        raise _order_conflict(order, "不能按实收金额核销（可选择 REFUND 退款）")
    success = ORDER.require(order["status"], OrderStatus.SUCCESS, f"订单 {order['biz_order_no']}")
    paid = _reported_amount(row)
    if not _bookable(paid):
        raise AppError(
            ErrorCode.CONFLICT,
            f"实收金额 {paid} 不是可入账的金额（须大于 0、最多两位小数），只能退款",
            data={"successAmount": paid, "allowedActions": ["REFUND"]},
        )
    account = lock_account(uow, order["cust_id"])
    bills = uow.all(  # the order's bills, locked in id order as every payment locks them, with what each
        # still owes of what the order held: principal, and penalty as of the order's day
        "SELECT c.id, c.status, c.total_amount - c.paid_amount AS owed,"
        " rev_held_penalty_due(p_charge_id => c.id, p_held => o.penalty, p_since => :since) AS pen_due"
        " FROM biz_order_charge o JOIN biz_charge c ON c.id = o.charge_id WHERE o.biz_order_no = :o"
        " ORDER BY c.id FOR UPDATE OF c",
        {"o": order["biz_order_no"], "since": order["create_time"]},
    )
    open_bills = [b for b in bills if (b["owed"] > 0 or b["pen_due"] > 0) and b["status"] in PAYABLE_BILLS]
    as_of = order["penalty_as_of"] or clock.local_date(order["create_time"])
    coverage = param_row(uow, penalty.COVERAGE_CODE, cust_id=order["cust_id"], on=as_of)
    written = uow.scalar(
        "SELECT rev_write_off(p_actor => CAST(:actor AS jsonb), p_cust_id => :c, p_account_id => :a,"
        " p_charge_ids => CAST(:ids AS bigint[]), p_amount => :amt, p_channel => :ch, p_source => :src,"
        " p_trade_no => :trade, p_idempotency_key => :key, p_code => :code, p_actual_amount => NULL,"
        " p_outlet => :outlet, p_remark => :remark, p_operator_id => :op,"
        " p_penalties => CAST(:pens AS numeric[]), p_penalty_first => :first, p_as_of => :as_of)",
        {
            "actor": audit.actor(ctx),
            "c": order["cust_id"],
            "a": account["id"],
            "ids": [b["id"] for b in open_bills],
            "pens": [b["pen_due"] for b in open_bills],
            "first": penalty.parse_coverage(None if coverage is None else coverage["config_value"])
            is penalty.Coverage.PENALTY_FIRST,
            "as_of": as_of,
            "amt": paid,
            "ch": order["channel_code"],
            "src": order["scene"],
            "trade": order["trade_no"],
            "key": f"ORDER:{order['biz_order_no']}",
            "code": order["biz_order_no"],
            "remark": f"人工复核按实收金额核销（异常 {row['id']}）",
            "outlet": order["counter_code"],  # a counter QR order's money is its counter's
            "op": order["operator_id"] if order["scene"] == "COUNTER_QR" else (ctx.principal.user_id or None),
        },
    )
    uow.execute(
        "UPDATE biz_order_charge SET live = false WHERE biz_order_no = :o", {"o": order["biz_order_no"]}
    )
    uow.execute(
        "UPDATE bk_transaction SET status = :s, success_amount = :amt, paid_time = now(),"
        " hold_reason = NULL, update_time = now() WHERE id = :id",
        {"s": success, "amt": paid, "id": order["id"]},
    )
    _order_audit(
        uow,
        ctx,
        order,
        "ORDER_SUCCESS",
        {"status": success, "successAmount": paid, "holdReason": None, "exceptionId": row["id"]},
    )
    metrics.on_commit(uow, metrics.PAYMENTS_SETTLED)  # the held money, booked after a person's review
    balance = uow.scalar("SELECT balance FROM biz_account WHERE id = :a", {"a": account["id"]})
    return {
        "orderStatus": success,
        "paidAmount": paid,
        "collectionId": int(written["collectionId"]),
        "collectionCode": written["code"],
        "writeOffStatus": written["status"],
        "writtenOffAmount": Decimal(written["writtenOff"]),
        "balanceAdded": Decimal(written["toBalance"]),
        "remainAmount": Decimal(written["remain"]),
        "chargeList": [
            {
                "chargeId": line["chargeId"],
                "amount": Decimal(line["amount"]),
                "penaltyAmount": Decimal(line["penalty"]),
            }
            for line in written["lines"]
        ],
        "accountId": account["id"],
        "balanceAfter": balance,
    }


def _close_for_refund(
    uow: UnitOfWork, ctx: RequestContext, row: dict[str, Any]
) -> tuple[dict[str, Any], Decimal]:
    """The money goes back to the payer: the order closes and frees its bills; the refund is PENDING."""
    order = _lock_order(uow, row)
    if ORDER.is_terminal(order["status"]):
        raise _order_conflict(order, "已入账，退款须走账务调整")
    if (
        order["hold_reason"] == OrderHold.REFUND
    ):  # another exception of this order already sent the money back
        raise _order_conflict(order, "已决定退款，不能重复退款")
    amount = _reported_amount(row)
    # a live order closes; one the platform ended already (FAIL, CLOSED) keeps its status
    closing = ORDER.allows(order["status"], OrderStatus.CLOSED)
    status = OrderStatus.CLOSED if closing else order["status"]
    uow.execute(
        # held as REFUND for good: a later platform result for this trade changes nothing
        "UPDATE bk_transaction SET status = :s, hold_reason = :h, update_time = now() WHERE id = :id",
        {"s": status, "h": OrderHold.REFUND, "id": order["id"]},
    )
    uow.execute(
        "UPDATE biz_order_charge SET live = false WHERE biz_order_no = :o", {"o": order["biz_order_no"]}
    )
    _order_audit(
        uow,
        ctx,
        order,
        "ORDER_CLOSED",
        {"status": status, "holdReason": OrderHold.REFUND, "refundAmount": amount, "exceptionId": row["id"]},
    )
    return {"orderStatus": status, "refundAmount": amount}, amount


def _refund_from_balance(
    uow: UnitOfWork, ctx: RequestContext, row: dict[str, Any]
) -> tuple[dict[str, Any], Decimal]:
    """What the order put on the balance for bills paid elsewhere goes back to the payer."""
    order = _lock_order(uow, row)
    detail = row["detail"] or {}
    surplus = detail.get("toBalance")
    if surplus is None:  # raised before 0007 recorded it: what the order's collection put on the balance
        surplus = uow.scalar(
            "SELECT to_balance FROM biz_collection WHERE idempotency_key = :k",
            {"k": f"ORDER:{order['biz_order_no']}"},
        )
    amount = Decimal(str(surplus or "0"))
    if amount <= 0:
        raise AppError(ErrorCode.CONFLICT, f"订单 {order['biz_order_no']} 没有转入余额的金额可退")
    if detail.get("accountId") is not None:
        account = uow.one(
            "SELECT id, balance FROM biz_account WHERE id = :a FOR UPDATE", {"a": int(detail["accountId"])}
        )
    else:
        account = lock_account(uow, order["cust_id"])
    assert account is not None
    if Decimal(account["balance"]) < amount:
        raise AppError(
            ErrorCode.CONFLICT,
            f"账户余额 {account['balance']} 已不足以退回 {amount}",
            data={
                "accountId": account["id"],
                "balance": account["balance"],
                "refundAmount": amount,
                "difference": amount - Decimal(account["balance"]),
            },
        )
    balance = uow.scalar(
        "UPDATE biz_account SET balance = balance - :amt WHERE id = :a RETURNING balance",
        {"amt": amount, "a": account["id"]},
    )
    uow.execute(
        "INSERT INTO biz_account_flow (account_id, change_amount, balance_after, biz_type, ref_no)"
        " VALUES (:a, :amt, :b, 'REFUND', :ref)",
        {"a": account["id"], "amt": -amount, "b": balance, "ref": order["biz_order_no"]},
    )
    return {
        "orderStatus": order["status"],
        "refundAmount": amount,
        "accountId": account["id"],
        "balanceAfter": balance,
    }, amount
