"""IF-METER-002 表务工单处理接口: open a work order (change, move, calibrate, repair), dispatch it,
complete it with its result (a change closes the old meter and starts the new one), or cancel it."""

from typing import Annotated, Literal

from aws_lambda_powertools.event_handler.openapi.params import Query

from waterrev.api import doc, lambda_handler, new_app, request_context
from waterrev.envelope import ok
from waterrev.errors import ErrorCode
from waterrev.fields import BIGINT_MAX, Page
from waterrev.meters import work_orders
from waterrev.meters.models.work_order import CreateWorkOrderRequest, HandleWorkOrderRequest, WorkOrderReply
from waterrev.service.processes import work_order_finished

app = new_app()


@app.post(
    "/admin-api/meter/work-order/handle",
    **doc(
        WorkOrderReply,
        ErrorCode.NOT_FOUND,
        ErrorCode.CONFLICT,
        ErrorCode.READING_BELOW_LAST,
        summary="工单处理：派工、完工回填结果（换表、移表、校表、维修）、取消",
        description="换表完工：旧表止码与最近有效读数之差结转到新表首次读数，旧表拆回、新表（须已领用出库）启用并接续抄表任务；"
        "来自线上申请（IF-CS-006）的工单完工时办理单同时办结。",
    ),
)
def handle(body: HandleWorkOrderRequest) -> dict:
    return ok(work_orders.handle(request_context(app), body.command(), on_finish=work_order_finished))


@app.post(
    "/admin-api/meter/work-order/create",
    **doc(WorkOrderReply, ErrorCode.NOT_FOUND, ErrorCode.CONFLICT, summary="开具表务工单（扩展）"),
)
def create(body: CreateWorkOrderRequest) -> dict:
    return ok(work_orders.create(request_context(app), body.command()))


@app.get("/admin-api/meter/work-order/page", **doc(Page[WorkOrderReply], summary="表务工单分页（扩展）"))
def order_page(
    status: Annotated[
        Literal["CREATED", "DISPATCHED", "DONE", "CANCELLED"] | None, Query(description="工单状态")
    ] = None,
    order_type: Annotated[
        Literal["CHANGE", "MOVE", "CALIBRATE", "REPAIR"] | None,
        Query(alias="orderType", description="工单类型"),
    ] = None,
    meter_id: Annotated[
        int | None, Query(alias="meterId", gt=0, le=BIGINT_MAX, description="水表 ID")
    ] = None,
    page_no: Annotated[int, Query(alias="pageNo", ge=1, le=10000, description="页码")] = 1,
    page_size: Annotated[int, Query(alias="pageSize", ge=1, le=100, description="每页数量")] = 10,
) -> dict:
    return ok(
        work_orders.order_page(
            request_context(app),
            status=status,
            order_type=order_type,
            meter_id=meter_id,
            page_no=page_no,
            page_size=page_size,
        )
    )


handler = lambda_handler(app)
