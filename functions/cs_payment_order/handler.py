"""IF-CS-003 在线支付下单接口: a bound customer's online order for its own bills (SYS-009, IF-EXT-004)."""

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Path

from waterrev.api import lambda_handler, new_app, request_context
from waterrev.customers.channel import require_bound
from waterrev.db import UnitOfWork
from waterrev.envelope import ok
from waterrev.payments import orders as payments
from waterrev.payments.models import OrderCreate

app = new_app()


@app.post("/app-api/customer/payment/order")
def create(body: OrderCreate) -> dict:
    ctx = request_context(app)
    with UnitOfWork() as uow:
        require_bound(uow, ctx, body.cust_id)
    return ok(
        payments.create_order(
            ctx,
            cust_id=body.cust_id,
            charge_ids=body.charge_ids,
            channel=body.payment_channel,
            amount=body.payment_amount,
            scene="ONLINE",
            open_id=body.open_id,
        )
    )


@app.get("/app-api/customer/payment/order/<bizOrderNo>")
def status(bizOrderNo: Annotated[str, Path(pattern=r"^[A-Z]{2}\d{16}$")]) -> dict:
    ctx = request_context(app)
    cust_id = payments.order_customer(bizOrderNo)  # its own unit of work, before the next one opens
    with UnitOfWork() as uow:
        require_bound(uow, ctx, cust_id)
    return ok(payments.get_order(bizOrderNo))


handler = lambda_handler(app)
