"""IF-EXT-009 集抄数据接入接口: the IoT platform's signed push, verified on the raw body."""

from waterrev.api import lambda_handler, new_app, parse_body, request_context, text_body
from waterrev.context import Principal, RequestContext, UserType
from waterrev.envelope import ok
from waterrev.metering import readings as metering
from waterrev.metering.models import IotBatch
from waterrev.webhook import verify

app = new_app()


@app.post("/open-api/iot/reading/push")
def push() -> dict:
    event = app.current_event
    body = text_body(event.raw_event)
    verify("IOT", event.headers, body)
    batch = parse_body(IotBatch, body)
    ctx = request_context(app)
    platform = RequestContext(
        ctx.request_id,
        Principal(0, UserType.SYSTEM, f"platform:{batch.platform_code}", dept_ids=None),
        ctx.source_ip,
        ctx.user_agent,
    )
    return ok(metering.receive_iot(platform, batch))


handler = lambda_handler(app)
