"""IF-EXT-003 银行实时收费接口: a bank queries a customer's arrears and pays them (signed requests)."""

from waterrev.api import doc, lambda_handler, new_app, parse_body, request_context, text_body
from waterrev.envelope import ok
from waterrev.errors import ErrorCode
from waterrev.payments import bank_realtime
from waterrev.payments.models.bank import ArrearsReply, BankPay, BankPayReply, BankQuery
from waterrev.webhook import verify

app = new_app()


def _verified_body() -> str:
    """The raw body, once the bank's signature over it holds (a 401 otherwise)."""
    event = app.current_event
    raw = text_body(event.raw_event)
    verify("BANK", event.headers, raw)
    return raw


# Validation is off for these routes: the bank's signature is checked on the raw bytes first, so an
# unsigned caller learns nothing from validation errors; `body` is declared only so /openapi.json shows
# the request, and is parsed (parse_body) once the signature holds.
@app.post(
    "/open-api/bank/charge/query",
    enable_validation=False,
    **doc(ArrearsReply, ErrorCode.CUSTOMER_NOT_FOUND_OR_STOPPED, summary="银行欠费查询"),
)
def query(body: BankQuery = None) -> dict:  # type: ignore[assignment]
    request = parse_body(BankQuery, _verified_body())
    return ok(bank_realtime.arrears(request.cust_code))


@app.post(
    "/open-api/bank/charge/pay",
    enable_validation=False,
    **doc(
        BankPayReply,
        ErrorCode.CUSTOMER_NOT_FOUND_OR_STOPPED,
        ErrorCode.NOT_FOUND,
        ErrorCode.CHARGE_ALREADY_WRITTEN_OFF,
        ErrorCode.PAYMENT_AMOUNT_MISMATCH,
        ErrorCode.CONFLICT,
        summary="银行实时缴费",
    ),
)
def pay(body: BankPay = None) -> dict:  # type: ignore[assignment]
    request = parse_body(BankPay, _verified_body())
    return ok(bank_realtime.pay(request_context(app), request.command()))


handler = lambda_handler(app)
