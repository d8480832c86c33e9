"""IF-CS-007 柜面扫码支付接口: a counter QR order, its QR image, renewal, status and receipt (凭证).

The request is the seed's (counterCode, chargeIds, paymentChannel, orderAmount, operatorId, scene):
the customer is the one owner of the bills, the operator is the caller, and the scene
COUNTER_SCAN_PAY is stored as the SYS-009 scene COUNTER_QR. Every order reply carries the seed's
orderStatus (INIT | PAYING | SUCCESS | FAIL; a closed order reads FAIL), writeBackStatus (PENDING |
SUCCESS | FAIL | EXCEPTION) and msg, besides qrCode, qrImagePath, expireTime and the order's own keys.
"""

from decimal import Decimal
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path
from pydantic import Field

from waterrev.api import lambda_handler, new_app, request_context
from waterrev.context import RequestContext
from waterrev.db import UnitOfWork
from waterrev.envelope import ok
from waterrev.errors import AppError, ErrorCode
from waterrev.fields import Model
from waterrev.payments import orders as payments
from waterrev.payments.models import CounterScanPayCreate

app = new_app()
OrderNo = Annotated[str, Path(pattern=r"^[A-Z]{2}\d{16}$")]
STORED_SCENE = {"COUNTER_SCAN_PAY": "COUNTER_QR"}  # the seed's scene -> bk_transaction.scene / SYS-009


class RenewRequest(Model):
    biz_order_no: str = Field(pattern=r"^[A-Z]{2}\d{16}$")


def _bills_owner(ctx: RequestContext, charge_ids: list[int]) -> int:
    """The one customer the bills belong to (a counter QR order pays one customer's bills). A bill of
    a customer outside the operator's data scope reads as not found, like one that does not exist:
    nothing about another dept's bills (which exist, whose they are) is told."""
    with UnitOfWork() as uow:
        owners = uow.all(
            "SELECT ch.cust_id, c.dept_id, array_agg(ch.id ORDER BY ch.id) AS ids FROM biz_charge ch"
            " JOIN biz_cust c ON c.id = ch.cust_id WHERE ch.id = ANY(CAST(:ids AS bigint[]))"
            " GROUP BY ch.cust_id, c.dept_id ORDER BY min(ch.id)",
            {"ids": sorted(charge_ids)},
        )
    visible = [o for o in owners if ctx.principal.sees_dept(o["dept_id"])]
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


def _write_back(order_no: str) -> tuple[str, str, str]:
    """(orderStatus, writeBackStatus, msg) from the order and what its settlement left for review."""
    with UnitOfWork() as uow:
        row = uow.one(
            "SELECT t.status, t.last_error, t.hold_reason, (SELECT array_agg(DISTINCT e.exception_type)"
            " FROM bk_transaction_exception e WHERE e.biz_order_no = t.biz_order_no AND e.status = 'OPEN')"
            " AS exceptions FROM bk_transaction t WHERE t.biz_order_no = :o",
            {"o": order_no},
        )
    if row is None:
        raise AppError(ErrorCode.NOT_FOUND, f"bizOrderNo: 订单 {order_no} 不存在")
    status, exceptions = row["status"], set(row["exceptions"] or ())
    order_status = "FAIL" if status == "CLOSED" else status
    if row["hold_reason"] == "REFUND":
        return order_status, "FAIL", "实付金额与订单金额不一致，订单已关闭，款项待原路退回，账单未核销"
    if "AMOUNT_MISMATCH" in exceptions:
        return order_status, "EXCEPTION", "实付金额与订单金额不一致，账单未核销，已转人工核查"
    if "PAID_ELSEWHERE" in exceptions:
        return order_status, "EXCEPTION", "已收款，但有账单已在别处缴清，款项转入预存余额，待人工核查"
    if exceptions:
        return order_status, "EXCEPTION", "支付结果异常，已转人工核查"
    if status == "SUCCESS":
        return order_status, "SUCCESS", "支付成功，账单已核销"
    if status == "FAIL":
        return order_status, "FAIL", "支付失败，账单未核销，可重新下单"
    if status == "CLOSED":
        return order_status, "FAIL", "订单已关闭（超时或已重新生成二维码），账单未核销"
    if status == "INIT" and (row["last_error"] or "").startswith("create:"):
        return order_status, "PENDING", "支付平台暂未受理，稍后将自动查询补偿"
    if status == "INIT":
        return order_status, "PENDING", "订单已创建，等待支付平台受理"
    return order_status, "PENDING", "请顾客扫码支付，支付成功后自动回写核销"


def _counter_view(order: dict[str, Any]) -> dict[str, Any]:
    order_status, write_back, msg = _write_back(order["bizOrderNo"])
    if order.get("reused"):
        msg = "相同账单已有进行中的订单，沿用原二维码；" + msg
    return order | {
        "qrCode": order["payUrl"],
        "qrImagePath": f"/admin-api/counter/scan-pay/{order['bizOrderNo']}/qrcode",
        "orderStatus": order_status,
        "writeBackStatus": write_back,
        "msg": msg,
    }


@app.post("/admin-api/counter/scan-pay/create")
def create(body: CounterScanPayCreate) -> dict:
    ctx = request_context(app)
    if body.operator_id != ctx.principal.user_id:
        raise AppError(
            ErrorCode.FORBIDDEN,
            f"operatorId: {body.operator_id} 不是当前登录的柜台操作员，只能以本人身份收款",
        )
    cust_id = _bills_owner(ctx, body.charge_ids)
    payments.require_customer_in_scope(ctx, cust_id)
    try:
        order = payments.create_order(
            ctx,
            cust_id=cust_id,
            charge_ids=body.charge_ids,
            channel=body.payment_channel,
            amount=body.order_amount,
            scene=STORED_SCENE[body.scene],
            counter_code=body.counter_code,
        )
    except AppError as exc:
        if exc.error is not ErrorCode.PAYMENT_AMOUNT_MISMATCH:
            raise
        raise _amount_mismatch(Decimal(exc.data["dueAmount"]), body.order_amount) from exc
    if order.get("reused") and Decimal(order["tradeAmount"]) != body.order_amount:
        raise _amount_mismatch(Decimal(order["tradeAmount"]), body.order_amount)  # the live order's amount
    return ok(_counter_view(order))


def _amount_mismatch(owed: Decimal, amount: Decimal) -> AppError:
    return AppError(
        ErrorCode.PAYMENT_AMOUNT_MISMATCH,
        f"orderAmount: 应缴 {owed}，订单金额 {amount}，差额 {owed - amount}",
        data={"dueAmount": owed, "orderAmount": amount, "difference": owed - amount},
    )


@app.post("/admin-api/counter/scan-pay/renew")
def renew(body: RenewRequest) -> dict:
    order = payments.renew_order(request_context(app), body.biz_order_no)  # at the same counter
    return ok(_counter_view(order))


@app.get("/admin-api/counter/scan-pay/<bizOrderNo>")
def status(bizOrderNo: OrderNo) -> dict:
    ctx = request_context(app)
    payments.require_customer_in_scope(ctx, payments.order_customer(bizOrderNo))
    return ok(_counter_view(payments.get_order(bizOrderNo)))


@app.get("/admin-api/counter/scan-pay/<bizOrderNo>/qrcode")
def qrcode(bizOrderNo: OrderNo):  # a PNG: no return annotation, so no response model to validate
    import io

    import segno

    ctx = request_context(app)
    payments.require_customer_in_scope(ctx, payments.order_customer(bizOrderNo))
    order = payments.get_order(bizOrderNo)
    image = io.BytesIO()
    segno.make(order["payUrl"] or "", error="m").save(image, kind="png", scale=8, border=2)
    return Response(status_code=200, content_type="image/png", body=image.getvalue())


@app.get("/admin-api/counter/scan-pay/<bizOrderNo>/receipt")
def receipt(bizOrderNo: OrderNo) -> dict:
    ctx = request_context(app)
    payments.require_customer_in_scope(ctx, payments.order_customer(bizOrderNo))
    return ok(payments.receipt(bizOrderNo))


handler = lambda_handler(app)
