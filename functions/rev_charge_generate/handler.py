"""IF-REV-005 账单生成接口: bills from VALID readings (success and failure lists), and whole-period
bill runs on the Step Functions workflow (start one, read its summary)."""

import datetime as dt
from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Path
from pydantic import Field

from waterrev.api import lambda_handler, new_app, request_context
from waterrev.billing import bill_run
from waterrev.billing import generate as billing
from waterrev.billing.models import GenerateRequest
from waterrev.envelope import ok
from waterrev.fields import BillPeriod, Model
from waterrev.workflows import starter

app = new_app()


class BillRunRequest(Model):
    bill_period: BillPeriod | None = Field(default=None, description="缺省为上一个自然月")
    due_date: dt.date | None = None


@app.post("/admin-api/revenue/charge/generate")
def generate(body: GenerateRequest) -> dict:
    return ok(billing.generate(request_context(app), body))


@app.post("/admin-api/revenue/charge/bill-run")
def start_run(body: BillRunRequest) -> dict:
    return ok(starter.start_bill_run(request_context(app), body.bill_period, body.due_date))


@app.get("/admin-api/revenue/charge/bill-run/<runNo>")
def get_run(runNo: Annotated[str, Path(pattern=r"^BR\d{6}-\d{2,}$")]) -> dict:
    return ok(bill_run.get_run(runNo))


handler = lambda_handler(app)
