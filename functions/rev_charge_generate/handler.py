"""IF-REV-005 账单生成接口: bills from VALID readings, with a success list and a failure list."""

from waterrev.api import lambda_handler, new_app, request_context
from waterrev.envelope import ok
from waterrev.schemas.billing import GenerateRequest
from waterrev.services import billing

app = new_app()


@app.post("/admin-api/revenue/charge/generate")
def generate(body: GenerateRequest) -> dict:
    return ok(billing.generate(request_context(app), body))


handler = lambda_handler(app)
