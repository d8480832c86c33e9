"""IF-CS-007 柜面扫码支付接口: a counter QR order, its QR image, renewal, status and receipt (凭证)."""

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path

from waterrev.api import doc, lambda_handler, new_app, request_context
from waterrev.envelope import ok
from waterrev.errors import ErrorCode
from waterrev.payments import counter
from waterrev.payments.models import ORDER_NO
from waterrev.payments.models.counter import (
    CounterOrderReply,
    CounterScanPayCreate,
    ReceiptReply,
    RenewRequest,
)

app = new_app()
OrderNo = Annotated[str, Path(pattern=ORDER_NO, description="柜面业务订单号")]


@app.post(
    "/admin-api/counter/scan-pay/create",
    **doc(
        CounterOrderReply,
        ErrorCode.NOT_FOUND,
        ErrorCode.CUSTOMER_NOT_FOUND_OR_STOPPED,
        ErrorCode.CHARGE_ALREADY_WRITTEN_OFF,
        ErrorCode.PAYMENT_AMOUNT_MISMATCH,
        summary="柜面扫码支付下单",
    ),
)
def create(body: CounterScanPayCreate) -> dict:
    return ok(counter.create(request_context(app), body.command()))


@app.post(
    "/admin-api/counter/scan-pay/renew",
    **doc(
        CounterOrderReply,
        ErrorCode.NOT_FOUND,
        ErrorCode.CUSTOMER_NOT_FOUND_OR_STOPPED,
        ErrorCode.CHARGE_ALREADY_WRITTEN_OFF,
        ErrorCode.PAYMENT_AMOUNT_MISMATCH,
        ErrorCode.CONFLICT,
        ErrorCode.UPSTREAM_TIMEOUT,
        summary="重新生成柜面二维码（扩展）",
    ),
)
def renew(body: RenewRequest) -> dict:
    return ok(counter.renew(request_context(app), body.biz_order_no))


@app.get(
    "/admin-api/counter/scan-pay/<bizOrderNo>",
    **doc(CounterOrderReply, ErrorCode.NOT_FOUND, summary="柜面扫码订单状态与回写结果"),
)
def status(bizOrderNo: OrderNo) -> dict:
    return ok(counter.status(request_context(app), bizOrderNo))


@app.get(
    "/admin-api/counter/scan-pay/<bizOrderNo>/qrcode",
    **doc(bytes, ErrorCode.NOT_FOUND, summary="柜面二维码图片（PNG，扩展）", media_type="image/png"),
)
def qrcode(bizOrderNo: OrderNo):  # a PNG: no return annotation, so no response model to validate
    return Response(
        status_code=200, content_type="image/png", body=counter.qr_png(request_context(app), bizOrderNo)
    )


@app.get(
    "/admin-api/counter/scan-pay/<bizOrderNo>/receipt",
    **doc(ReceiptReply, ErrorCode.NOT_FOUND, ErrorCode.CONFLICT, summary="收费凭证（扩展）"),
)
def receipt(bizOrderNo: OrderNo) -> dict:
    return ok(counter.receipt(request_context(app), bizOrderNo))


handler = lambda_handler(app)
