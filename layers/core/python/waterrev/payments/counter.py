"""IF-CS-007 柜面扫码支付: a counter QR order for one customer's bills, its QR image, its renewal, its status
with what became of the money on the books, and its receipt (凭证).

The request is the seed's (counterCode, chargeIds, paymentChannel, orderAmount, operatorId, scene): the
customer is the one owner of the bills, the operator is the caller, and the scene COUNTER_SCAN_PAY is
stored as the SYS-009 scene COUNTER_QR. An order or a bill of a customer outside the operator's data
scope reads as one that does not exist.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from waterrev.context import RequestContext
from waterrev.db import UnitOfWork
from waterrev.errors import AppError, ErrorCode
from waterrev.payments import orders
from waterrev.payments.commands import CreateCounterOrder
from waterrev.payments.writeback import write_back
from waterrev.visibility import dept_visible, require_customer_visible

STORED_SCENE = {"COUNTER_SCAN_PAY": "COUNTER_QR"}  # the seed's scene -> bk_transaction.scene / SYS-009
QR_IMAGE_PATH = "/admin-api/counter/scan-pay/{}/qrcode"


def create(ctx: RequestContext, cmd: CreateCounterOrder) -> dict[str, Any]:
    """A QR order taken by the caller at its counter; the same bills again while the order is live answer
    that order (its QR code), provided the amount is the same."""
    if cmd.operator_id != ctx.principal.user_id:
        raise AppError(
            ErrorCode.FORBIDDEN, f"operatorId: {cmd.operator_id} 不是当前登录的柜台操作员，只能以本人身份收款"
        )
    with UnitOfWork() as uow:
        cust_id = _bills_owner(uow, ctx, cmd.charge_ids)
        require_customer_visible(uow, ctx, cust_id, active=True)
    try:
        order = orders.create_order(
            ctx,
            cust_id=cust_id,
            charge_ids=list(cmd.charge_ids),
            channel=cmd.payment_channel,
            amount=cmd.order_amount,
            scene=STORED_SCENE[cmd.scene],
            counter_code=cmd.counter_code,
        )
    except AppError as exc:
        if exc.error is not ErrorCode.PAYMENT_AMOUNT_MISMATCH:
            raise
        raise _amount_mismatch(Decimal(exc.data["dueAmount"]), cmd.order_amount) from exc
    reused = bool(order.get("reused"))
    if reused and Decimal(order["paymentAmount"]) != cmd.order_amount:
        raise _amount_mismatch(Decimal(order["paymentAmount"]), cmd.order_amount)  # the live order's amount
    return _view(order["bizOrderNo"], reused=reused)


def renew(ctx: RequestContext, order_no: str) -> dict[str, Any]:
    """A new QR code for the same bills at the same counter; the old order is closed (at SYS-009 too)."""
    order = orders.renew_order(ctx, order_no)
    return _view(order["bizOrderNo"], reused=bool(order.get("reused")))


def status(ctx: RequestContext, order_no: str) -> dict[str, Any]:
    with UnitOfWork() as uow:
        orders.visible_order(uow, ctx, order_no)
        return _read_view(uow, order_no, reused=False)


def qr_png(ctx: RequestContext, order_no: str) -> bytes:
    """The order's QR code as a PNG image, for the counter's customer-facing screen."""
    import io

    import segno

    with UnitOfWork() as uow:
        txn = orders.visible_order(uow, ctx, order_no)
    image = io.BytesIO()
    segno.make(txn["pay_url"] or "", error="m").save(image, kind="png", scale=8, border=2)
    return image.getvalue()


def receipt(ctx: RequestContext, order_no: str) -> dict[str, Any]:
    return orders.receipt(ctx, order_no)


def _bills_owner(uow: UnitOfWork, ctx: RequestContext, charge_ids: tuple[int, ...]) -> int:
    """The one customer the bills belong to (a counter QR order pays one customer's bills). A bill of
    a customer outside the operator's data scope reads as not found, like one that does not exist:
    nothing about another dept's bills (which exist, whose they are) is told."""
    owners = uow.all(
        "SELECT ch.cust_id, c.dept_id, array_agg(ch.id ORDER BY ch.id) AS ids FROM biz_charge ch"
        " JOIN biz_cust c ON c.id = ch.cust_id WHERE ch.id = ANY(CAST(:ids AS bigint[]))"
        " GROUP BY ch.cust_id, c.dept_id ORDER BY min(ch.id)",
        {"ids": sorted(charge_ids)},
    )
    visible = [o for o in owners if dept_visible(ctx, o["dept_id"])]
    seen = {int(i) for o in visible for i in o["ids"]}
    missing = sorted(set(charge_ids) - seen)
    if missing:
        raise AppError(ErrorCode.NOT_FOUND, f"chargeIds: 账单 {missing} 不存在")
    if len(visible) > 1:
        groups = [list(o["ids"]) for o in visible]
        raise AppError(
            ErrorCode.BAD_REQUEST,
            f"chargeIds: 账单分属 {len(groups)} 个客户 {groups}，一笔柜面扫码订单只能支付同一客户的账单",
            data={"chargeIdGroups": groups},
        )
    return int(visible[0]["cust_id"])


def _amount_mismatch(owed: Decimal, amount: Decimal) -> AppError:
    return AppError(
        ErrorCode.PAYMENT_AMOUNT_MISMATCH,
        f"orderAmount: 应缴 {owed}，订单金额 {amount}，差额 {owed - amount}",
        data={"dueAmount": owed, "orderAmount": amount, "difference": owed - amount},
    )


def _view(order_no: str, *, reused: bool) -> dict[str, Any]:
    with UnitOfWork() as uow:
        return _read_view(uow, order_no, reused=reused)


def _read_view(uow: UnitOfWork, order_no: str, *, reused: bool) -> dict[str, Any]:
    """IF-CS-007's reply: the order, and what its settlement left for review (open exceptions)."""
    row = uow.one(
        "SELECT t.*, (SELECT array_agg(DISTINCT e.exception_type) FROM bk_transaction_exception e"
        " WHERE e.biz_order_no = t.biz_order_no AND e.status = 'OPEN') AS exceptions"
        " FROM bk_transaction t WHERE t.biz_order_no = :o",
        {"o": order_no},
    )
    if row is None:
        raise orders.order_absent(order_no)
    result = write_back(
        row["status"],
        hold_reason=row["hold_reason"],
        last_error=row["last_error"],
        open_exceptions=row["exceptions"] or (),
        reused=reused,
    )
    return {
        "bizOrderNo": row["biz_order_no"],
        "tradeNo": row["trade_no"],
        "qrCode": row["pay_url"],
        "orderStatus": result.order_status,
        "writeBackStatus": result.write_back_status,
        "msg": result.msg,
        "payUrl": row["pay_url"],
        "prepayInfo": row["prepay_info"],
        "expireTime": row["expire_time"],
        "orderAmount": row["trade_amount"],
        "paymentChannel": row["channel_code"],
        "qrImagePath": QR_IMAGE_PATH.format(row["biz_order_no"]),
        "reused": reused,
    }
