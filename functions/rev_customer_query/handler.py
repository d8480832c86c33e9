"""IF-REV-001 客户信息查询接口: by id, by code, or a page by mobile/name; sensitive fields masked."""

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Path, Query

from waterrev.api import lambda_handler, new_app, request_context
from waterrev.customers import master as customers
from waterrev.envelope import ok

app = new_app()
QueryType = Annotated[str, Query(alias="queryType", pattern="^(base|account|meter|invoice|all)$")]


@app.get("/admin-api/revenue/customer/get")
def by_code(code: Annotated[str, Query(min_length=1, max_length=32)], query_type: QueryType = "all") -> dict:
    return ok(customers.get_customer(request_context(app), code=code, query_type=query_type))


@app.get("/admin-api/revenue/customer/page")
def search(
    mobile: Annotated[str | None, Query(pattern=r"^\d{4,11}$")] = None,
    code: Annotated[str | None, Query(max_length=32)] = None,
    name: Annotated[str | None, Query(max_length=100)] = None,
    page_no: Annotated[int, Query(alias="pageNo", ge=1)] = 1,
    page_size: Annotated[int, Query(alias="pageSize", ge=1, le=100)] = 10,
) -> dict:
    return ok(
        customers.page_customers(
            request_context(app), mobile=mobile, code=code, name=name, page_no=page_no, page_size=page_size
        )
    )


@app.get("/admin-api/revenue/customer/<id>")
def by_id(id: Annotated[int, Path(gt=0)], query_type: QueryType = "all") -> dict:
    return ok(customers.get_customer(request_context(app), cust_id=id, query_type=query_type))


handler = lambda_handler(app)
