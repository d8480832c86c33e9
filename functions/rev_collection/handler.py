"""IF-REV-006 缴费处理接口: counter collection and write-off (CASH, WECHAT, ALIPAY, BANK, PREPAY)."""

from waterrev.api import lambda_handler, new_app, request_context
from waterrev.envelope import ok
from waterrev.schemas.payment import CollectionCreate
from waterrev.services import collection

app = new_app()


@app.post("/admin-api/revenue/collection/create")
def create(body: CollectionCreate) -> dict:
    return ok(collection.collect(request_context(app), body))


handler = lambda_handler(app)
