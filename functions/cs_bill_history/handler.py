"""IF-CS-002 历史账单查询接口: BILL / PAYMENT / USAGE / ARREARS / INVOICE of a bound customer."""

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Query

from waterrev.api import lambda_handler, new_app, request_context
from waterrev.billing import history as bills
from waterrev.envelope import ok

app = new_app()


@app.get("/app-api/customer/bill/history")
def history(
    cust_id: Annotated[int, Query(alias="custId", gt=0)],
    query_type: Annotated[str, Query(alias="queryType", pattern="^(BILL|PAYMENT|USAGE|ARREARS|INVOICE)$")],
    bill_period: Annotated[str | None, Query(alias="billPeriod", pattern=r"^\d{4}-(0[1-9]|1[0-2])$")] = None,
    charge_status: Annotated[
        str | None, Query(alias="chargeStatus", pattern="^(UNPAID|PARTIAL|PAID)$")
    ] = None,
    page_no: Annotated[int, Query(alias="pageNo", ge=1, le=10000)] = 1,
    page_size: Annotated[int, Query(alias="pageSize", ge=1, le=100)] = 10,
) -> dict:
    return ok(
        bills.history(
            request_context(app),
            cust_id=cust_id,
            query_type=query_type,
            bill_period=bill_period,
            charge_status=charge_status,
            page_no=page_no,
            page_size=page_size,
        )
    )


handler = lambda_handler(app)
