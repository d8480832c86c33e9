"""IF-CS-007 柜面扫码支付接口: a counter QR order, its QR image, renewal, status and receipt (凭证)."""

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path
from pydantic import Field

from waterrev.api import lambda_handler, new_app, request_context
from waterrev.envelope import ok
from waterrev.schemas.common import Model
from waterrev.schemas.payment import OrderCreate
from waterrev.services import payments

app = new_app()
OrderNo = Annotated[str, Path(pattern=r"^[A-Z]{2}\d{16}$")]


class RenewRequest(Model):
    biz_order_no: str = Field(pattern=r"^[A-Z]{2}\d{16}$")


@app.post("/admin-api/counter/scan-pay/create")
def create(body: OrderCreate) -> dict:
    ctx = request_context(app)
    payments.require_customer_in_scope(ctx, body.cust_id)
    order = payments.create_order(
        ctx,
        cust_id=body.cust_id,
        charge_ids=body.charge_ids,
        channel=body.payment_channel,
        amount=body.payment_amount,
        scene="COUNTER_QR",
    )
    return ok(
        order
        | {
            "qrCode": order["payUrl"],
            "qrImagePath": f"/admin-api/counter/scan-pay/{order['bizOrderNo']}/qrcode",
        }
    )


@app.post("/admin-api/counter/scan-pay/renew")
def renew(body: RenewRequest) -> dict:
    order = payments.renew_order(request_context(app), body.biz_order_no)
    return ok(
        order
        | {
            "qrCode": order["payUrl"],
            "qrImagePath": f"/admin-api/counter/scan-pay/{order['bizOrderNo']}/qrcode",
        }
    )


@app.get("/admin-api/counter/scan-pay/<bizOrderNo>")
def status(bizOrderNo: OrderNo) -> dict:
    ctx = request_context(app)
    payments.require_customer_in_scope(ctx, payments.order_customer(bizOrderNo))
    return ok(payments.get_order(bizOrderNo))


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
