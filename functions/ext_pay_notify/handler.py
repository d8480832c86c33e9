"""IF-EXT-005 聚合支付结果回调接口: SYS-009's signed payment notifications (raw body verified)."""

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


handler = lambda_handler(app)
