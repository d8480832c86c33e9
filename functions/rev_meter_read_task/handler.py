"""IF-REV-003 抄表任务下发接口: meter books and reading tasks per book, area and read cycle."""

from waterrev.api import lambda_handler, new_app, request_context
from waterrev.envelope import ok
from waterrev.metering import readings as metering
from waterrev.metering.models import MeterBookSave, TaskGenerate

app = new_app()


@app.post("/admin-api/revenue/meter-book/save")
def save_book(body: MeterBookSave) -> dict:
    return ok(metering.save_book(request_context(app), body))


@app.post("/admin-api/revenue/meter-read/generate")
def generate(body: TaskGenerate) -> dict:
    return ok(metering.generate_tasks(request_context(app), body))


handler = lambda_handler(app)
