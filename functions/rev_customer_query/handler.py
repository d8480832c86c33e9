"""IF-REV-001 客户信息查询接口: by id, by code, or a page by mobile/name; sensitive fields masked."""

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Path, Query

from waterrev.api import doc, lambda_handler, new_app, request_context
from waterrev.customers import master as customers
from waterrev.customers.models import QueryType
from waterrev.customers.models.master import CustomerDetail, CustomerPageItem
from waterrev.envelope import ok
from waterrev.errors import ErrorCode
from waterrev.fields import BIGINT_MAX, Page

app = new_app()
QueryTypeParam = Annotated[
    QueryType,
    Query(alias="queryType", description="查询类型：base、account、meter、invoice、all（默认 all）"),
]
_HIDDEN = "不存在的客户与不在本人数据范围内的客户同样答 1_002_001_001（只回显请求的 id 或 code）。"


@app.get(
    "/admin-api/revenue/customer/get",
    **doc(
        CustomerDetail,
        ErrorCode.CUSTOMER_NOT_FOUND_OR_STOPPED,
        summary="按客户编号查询客户档案、账户、联系人、水表与开票资料",
        description=_HIDDEN,
    ),
)
def by_code(
    code: Annotated[str, Query(min_length=1, max_length=32, description="客户编号，与 id 二选一")],
    query_type: QueryTypeParam = "all",
) -> dict:
    return ok(customers.get_customer(request_context(app), code=code, query_type=query_type))


@app.get(
    "/admin-api/revenue/customer/page",
    **doc(
        Page[CustomerPageItem],
        summary="按手机号（客户或联系人，4 位以上尾号模糊匹配）、客户编号或名称分页查询客户",
        description="只列出本人数据范围内营业所的客户。",
    ),
)
def search(
    mobile: Annotated[
        str | None, Query(pattern=r"^\d{4,11}$", description="客户手机号，支持尾号模糊校验查询")
    ] = None,
    code: Annotated[str | None, Query(max_length=32, description="客户编号（精确）")] = None,
    name: Annotated[str | None, Query(max_length=100, description="扩展：客户名称（包含）")] = None,
    page_no: Annotated[int, Query(alias="pageNo", ge=1, le=10000, description="页码")] = 1,
    page_size: Annotated[int, Query(alias="pageSize", ge=1, le=100, description="每页数量")] = 10,
) -> dict:
    return ok(
        customers.page_customers(
            request_context(app), mobile=mobile, code=code, name=name, page_no=page_no, page_size=page_size
        )
    )


@app.get(
    "/admin-api/revenue/customer/<id>",
    **doc(
        CustomerDetail,
        ErrorCode.CUSTOMER_NOT_FOUND_OR_STOPPED,
        summary="按客户 ID 查询客户档案、账户、联系人、水表与开票资料",
        description=_HIDDEN,
    ),
)
def by_id(
    id: Annotated[int, Path(gt=0, le=BIGINT_MAX, description="客户主键 ID")],
    query_type: QueryTypeParam = "all",
) -> dict:
    return ok(customers.get_customer(request_context(app), cust_id=id, query_type=query_type))


handler = lambda_handler(app)
