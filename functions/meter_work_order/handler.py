"""IF-METER-002 表务工单处理接口: open a work order (change, move, calibrate, repair), dispatch it,
complete it with its result (a change closes the old meter and starts the new one), or cancel it."""

from waterrev.api import doc, lambda_handler, new_app, request_context
from waterrev.envelope import ok
from waterrev.errors import ErrorCode
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


handler = lambda_handler(app)
