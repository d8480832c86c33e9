"""IF-REV-004 抄表数据提交接口: readings, estimates for unreadable meters, and reviews."""

from waterrev.api import doc, lambda_handler, new_app, request_context
from waterrev.envelope import ok
from waterrev.errors import ErrorCode
from waterrev.metering import readings as metering
from waterrev.metering.commands import ReviewReading, SubmitReading
from waterrev.metering.models import (
    EstimateRequest,
    ReadingReply,
    ReadingSubmit,
    ReviewReply,
    ReviewRequest,
)

app = new_app()


@app.post(
    "/admin-api/revenue/reading-data/create",
    **doc(
        ReadingReply,
        ErrorCode.METER_READ_TASK_NOT_FOUND_OR_CLOSED,
        ErrorCode.READING_BELOW_LAST,
        summary="提交抄表数据并校验",
    ),
)
def create(body: ReadingSubmit) -> dict:
    command = SubmitReading(
        meter_read_id=body.meter_read_id,
        meter_id=body.meter_id,
        read_time=body.read_time,
        current_reading=body.current_reading,
        read_type=body.read_type,
        usage_amount=body.usage_amount,
        photo_list=tuple(body.photo_list),
        gps=body.gps,
        remark=body.remark,
        abnormal_flag=body.abnormal_flag,
    )
    return ok(metering.submit(request_context(app), command))


@app.post(
    "/admin-api/revenue/reading-data/estimate",
    **doc(ReadingReply, ErrorCode.METER_READ_TASK_NOT_FOUND_OR_CLOSED, summary="估抄（按近三期均量）"),
)
def estimate(body: EstimateRequest) -> dict:
    return ok(metering.estimate(request_context(app), body.meter_read_id, body.reason))


@app.post(
    "/admin-api/revenue/reading-data/review",
    **doc(
        ReviewReply,
        ErrorCode.CONFLICT,
        ErrorCode.READING_BELOW_LAST,
        summary="复核待复核读数或审批低于上次读数的异常",
    ),
)
def review(body: ReviewRequest) -> dict:
    command = ReviewReading(
        approve=body.approve, remark=body.remark, reading_id=body.reading_id, review_id=body.review_id
    )
    return ok(metering.review(request_context(app), command))


handler = lambda_handler(app)
