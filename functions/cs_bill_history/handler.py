"""IF-CS-002 历史账单查询接口: BILL / PAYMENT / USAGE / ARREARS / INVOICE (and REMINDER, 扩展) of a bound customer."""

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Query

from waterrev.api import doc, lambda_handler, new_app, request_context
from waterrev.billing import history as bills
from waterrev.billing.models import ChargeStatus, HistoryItem, QueryType
from waterrev.envelope import ok
from waterrev.errors import ErrorCode
from waterrev.fields import BIGINT_MAX, Page

app = new_app()


@app.get(
    "/app-api/customer/bill/history",
    **doc(
        Page[HistoryItem],
        ErrorCode.BINDING_NOT_FOUND,
        summary="查询本人绑定客户的账单、欠费、用水、缴费记录、发票与催缴记录，按时间倒序分页",
        description="未绑定的客户与不存在的客户同样答 1_002_001_002（只回显请求的 custId）。",
    ),
)
def history(
    cust_id: Annotated[int, Query(alias="custId", gt=0, le=BIGINT_MAX, description="客户 ID")],
    query_type: Annotated[
        QueryType,
        Query(
            alias="queryType",
            description="查询类型：BILL、PAYMENT、USAGE、ARREARS、INVOICE；REMINDER（扩展）为催缴记录",
        ),
    ],
    bill_period: Annotated[
        str | None,
        Query(
            alias="billPeriod",
            pattern=r"^\d{4}-(0[1-9]|1[0-2])$",
            description="账期，如 2026-03（BILL、ARREARS、USAGE、REMINDER）",
        ),
    ] = None,
    charge_status: Annotated[
        ChargeStatus | None, Query(alias="chargeStatus", description="账单状态筛选（BILL、ARREARS）")
    ] = None,
    page_no: Annotated[int, Query(alias="pageNo", ge=1, le=10000, description="页码")] = 1,
    page_size: Annotated[int, Query(alias="pageSize", ge=1, le=100, description="每页数量")] = 10,
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
