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


@app.post(
    "/open-api/bank/charge/query",
    **doc(ArrearsReply, ErrorCode.CUSTOMER_NOT_FOUND_OR_STOPPED, summary="银行欠费查询"),
)
def query() -> dict:
    body = parse_body(BankQuery, _verified_body())
    return ok(bank_realtime.arrears(body.cust_code))


@app.post(
    "/open-api/bank/charge/pay",
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
def pay() -> dict:
    body = parse_body(BankPay, _verified_body())
    return ok(bank_realtime.pay(request_context(app), body.command()))


handler = lambda_handler(app)
