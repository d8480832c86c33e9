"""IF-METER-004 集抄数据接收接口: readings, device status and alarms, one result per reading."""

from waterrev.api import lambda_handler, new_app, request_context
from waterrev.envelope import ok
from waterrev.metering import readings as metering
from waterrev.metering.models import IotBatch

app = new_app()


@app.post("/admin-api/meter/iot/reading/receive")
def receive(body: IotBatch) -> dict:
    return ok(metering.receive_iot(request_context(app), body))


handler = lambda_handler(app)
