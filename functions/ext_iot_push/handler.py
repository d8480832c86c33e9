"""IF-EXT-009 集抄数据接入接口: the IoT platform's signed push, verified on the raw body. The body is a
batch of IF-METER-004 readings (the seed's field names), answered one seed-shaped result each."""

from waterrev.api import doc, lambda_handler, new_app, parse_body, request_context, text_body
from waterrev.context import Principal, RequestContext, UserType
from waterrev.envelope import ok
from waterrev.metering import readings as metering
from waterrev.metering.models import IotBatchReply, IotReadingBatch
from waterrev.webhook import verify

app = new_app()
PLATFORM = "IOT"  # the key set the signature is checked against (WATERREV_WEBHOOK_KEYS)


# Validation is off for this route: the signature is checked on the raw bytes first, so an unsigned
# caller learns nothing from validation errors. `body` is declared only so /openapi.json shows the
# request; it is parsed (parse_body) after the signature holds.
@app.post(
    "/open-api/iot/reading/push",
    enable_validation=False,
    **doc(IotBatchReply, summary="集抄平台推送远传读数、设备状态与告警（签名）"),
)
def push(body: IotReadingBatch = None) -> dict:  # type: ignore[assignment]
    event = app.current_event
    raw = text_body(event.raw_event)
    verify(PLATFORM, event.headers, raw)
    batch = parse_body(IotReadingBatch, raw)
    ctx = request_context(app)
    platform = RequestContext(
        ctx.request_id,
        Principal(0, UserType.SYSTEM, f"platform:{PLATFORM}", dept_ids=None),
        ctx.source_ip,
        ctx.user_agent,
    )
    return ok(metering.receive_iot_batch(platform, [r.command() for r in batch.readings]))


handler = lambda_handler(app)
