"""IF-CS-003 在线支付下单接口: a bound customer's online order for its own bills (SYS-009, IF-EXT-004)."""

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Path

from waterrev.api import doc, lambda_handler, new_app, request_context
from waterrev.envelope import ok
from waterrev.errors import ErrorCode
from waterrev.payments import online
from waterrev.payments.models import ORDER_NO
from waterrev.payments.models.online import OrderCreate, OrderReply

app = new_app()


@app.post(
    "/app-api/customer/payment/order",
    **doc(
        OrderReply,
        ErrorCode.BINDING_NOT_FOUND,
        ErrorCode.NOT_FOUND,
        ErrorCode.CUSTOMER_NOT_FOUND_OR_STOPPED,
        ErrorCode.CHARGE_ALREADY_WRITTEN_OFF,
        ErrorCode.PAYMENT_AMOUNT_MISMATCH,
        summary="在线支付下单",
    ),
)
def create(body: OrderCreate) -> dict:
    return ok(online.create(request_context(app), body.command()))


@app.get(
    "/app-api/customer/payment/order/<bizOrderNo>",
    **doc(OrderReply, ErrorCode.NOT_FOUND, summary="在线支付订单状态查询"),
)
def status(bizOrderNo: Annotated[str, Path(pattern=ORDER_NO, description="业务订单号")]) -> dict:
    return ok(online.status(request_context(app), bizOrderNo))


handler = lambda_handler(app)
