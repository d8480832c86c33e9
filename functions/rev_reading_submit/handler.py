"""IF-REV-004 抄表数据提交接口: readings, estimates for unreadable meters, and reviews."""

from waterrev.api import lambda_handler, new_app, request_context
from waterrev.envelope import ok
from waterrev.metering import readings as metering
from waterrev.metering.models import EstimateRequest, ReadingSubmit, ReviewRequest

app = new_app()


@app.post("/admin-api/revenue/reading-data/create")
def create(body: ReadingSubmit) -> dict:
    return ok(metering.submit(request_context(app), body))


@app.post("/admin-api/revenue/reading-data/estimate")
def estimate(body: EstimateRequest) -> dict:
    return ok(metering.estimate(request_context(app), body))


@app.post("/admin-api/revenue/reading-data/review")
def review(body: ReviewRequest) -> dict:
    return ok(metering.review(request_context(app), body))


handler = lambda_handler(app)
