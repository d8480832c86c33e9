"""IF-EXT-007 发票结果回写接口: SYS-008's signed results (raw body verified)."""

from waterrev.api import doc, lambda_handler, new_app, raw_body, request_context
from waterrev.envelope import ok
from waterrev.errors import ErrorCode
from waterrev.invoices import callback as invoice_callback
from waterrev.invoices.models.callback import CallbackReply, InvoiceResult

app = new_app()


# Validation is off for this route: the raw body is verified and parsed by invoice_callback (a signature
# covers the exact bytes). `body` is declared only so /openapi.json shows the writeback.
@app.post(
    "/open-api/invoice/result",
    enable_validation=False,
    **doc(
        CallbackReply,
        ErrorCode.UNAUTHORIZED,
        ErrorCode.INVOICE_WRITEBACK_INVALID,
        summary="发票结果回写（SYS-008）",
    ),
)
def result(body: InvoiceResult = None) -> dict:  # type: ignore[assignment]
    event = app.current_event
    return ok(invoice_callback.handle(request_context(app), dict(event.headers), raw_body(event.raw_event)))


handler = lambda_handler(app)
