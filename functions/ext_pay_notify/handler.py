"""IF-EXT-005 聚合支付结果回调接口: SYS-009's signed payment notifications and (扩展) its refund results, each
verified on the raw body."""

from waterrev.accounting import refunds
from waterrev.accounting.models.refund_notify import RefundNotification, RefundNotifyReply
from waterrev.api import doc, lambda_handler, new_app, raw_body, request_context
from waterrev.envelope import ok
from waterrev.errors import ErrorCode
from waterrev.payments import notify as payment_notify
from waterrev.payments.models.notify import NotifyReply, PaymentNotification

app = new_app()


# Validation is off for this route: the raw body is verified and parsed by payment_notify (a signature
# covers the exact bytes). `body` is declared only so /openapi.json shows the notification.
@app.post(
    "/open-api/pay/notify",
    enable_validation=False,
    **doc(NotifyReply, ErrorCode.CALLBACK_SIGNATURE_INVALID, summary="聚合支付结果回调"),
)
def notify(body: PaymentNotification = None) -> dict:  # type: ignore[assignment]
    event = app.current_event
    return ok(payment_notify.handle(request_context(app), dict(event.headers), raw_body(event.raw_event)))


@app.post(
    "/open-api/pay/refund-notify",
    enable_validation=False,
    **doc(
        RefundNotifyReply,
        ErrorCode.CALLBACK_SIGNATURE_INVALID,
        ErrorCode.NOT_FOUND,
        summary="退款结果回调（扩展：SYS-009 退款结果，签名同支付回调）",
    ),
)
def refund_notify(body: RefundNotification = None) -> dict:  # type: ignore[assignment]
    event = app.current_event
    return ok(refunds.notify(request_context(app), dict(event.headers), raw_body(event.raw_event)))


handler = lambda_handler(app)
