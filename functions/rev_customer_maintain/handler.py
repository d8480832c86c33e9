"""IF-REV-002 客户主数据维护接口: create and change customers, accounts, contacts, meters, relations."""

from waterrev.api import lambda_handler, new_app, request_context
from waterrev.customers import master as customers
from waterrev.customers.models import CustomerCreate, CustomerUpdate, StatusChange
from waterrev.envelope import ok

app = new_app()


@app.post("/admin-api/revenue/customer/create")
def create(body: CustomerCreate) -> dict:
    return ok(customers.create_customer(request_context(app), body.to_command()))


@app.put("/admin-api/revenue/customer/update")
def update(body: CustomerUpdate) -> dict:
    return ok(customers.update_customer(request_context(app), body.to_command()))


@app.put("/admin-api/revenue/customer/update-status")
def update_status(body: StatusChange) -> dict:
    return ok(customers.change_status(request_context(app), body.to_command()))


handler = lambda_handler(app)
