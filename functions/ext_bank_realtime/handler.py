"""IF-EXT-003 银行实时收费接口: a bank queries a customer's arrears and pays them (signed requests)."""

from waterrev.api import lambda_handler, new_app, parse_body, request_context, text_body
from waterrev.context import Principal, RequestContext, UserType
from waterrev.envelope import ok
from waterrev.payments import bank_realtime
from waterrev.payments.bank_models import BankPay, BankQuery
from waterrev.webhook import verify

app = new_app()


def _raw() -> str:
    event = app.current_event
    raw = text_body(event.raw_event)
    verify("BANK", event.headers, raw)
    return raw


@app.post("/open-api/bank/charge/query")
def query() -> dict:
    body = parse_body(BankQuery, _raw())
    return ok(bank_realtime.arrears(body.cust_code))


@app.post("/open-api/bank/charge/pay")
def pay() -> dict:
    body = parse_body(BankPay, _raw())
    ctx = request_context(app)
    bank = RequestContext(
        ctx.request_id,
        Principal(0, UserType.SYSTEM, f"bank:{body.bank_code}", dept_ids=None),
        ctx.source_ip,
        ctx.user_agent,
    )
    return ok(
        bank_realtime.pay(
            bank,
            bank_code=body.bank_code,
            bank_serial_no=body.bank_serial_no,
            cust_code=body.cust_code,
            charge_ids=body.charge_ids,
            amount=body.amount,
        )
    )


handler = lambda_handler(app)
