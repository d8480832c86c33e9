"""IF-METER-004 集抄数据接收接口: one IoT reading with its device status and alarms (the seed's shape),
and, as an extension, a batch of such readings with one seed-shaped result each."""

from waterrev.api import doc, lambda_handler, new_app, request_context
from waterrev.envelope import ok
from waterrev.metering import readings as metering
from waterrev.metering.models import IotBatchReply, IotReadingBatch, IotReadingReceive, IotReadingReply

app = new_app()


@app.post(
    "/admin-api/meter/iot/reading/receive",
    **doc(
        IotReadingReply,
        summary="接收一条远传读数（设备状态、告警）",
        description="拒收（水表不存在、无抄表任务、低于上次读数）也以 acceptStatus REJECT 应答，errorCode 为原因码。",
    ),
)
def receive(body: IotReadingReceive) -> dict:
    return ok(metering.receive_iot(request_context(app), body.command()))


@app.post(
    "/admin-api/meter/iot/reading/receive-batch",
    **doc(
        IotBatchReply,
        summary="扩展：批量接收远传读数",
        description="每条读数即 IF-METER-004 的请求参数，逐条独立处理（一条拒收不影响其他），逐条应答。",
    ),
)
def receive_batch(body: IotReadingBatch) -> dict:
    return ok(metering.receive_iot_batch(request_context(app), [r.command() for r in body.readings]))


handler = lambda_handler(app)
