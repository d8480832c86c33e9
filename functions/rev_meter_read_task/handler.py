"""IF-REV-003 抄表任务下发接口: meter books and reading tasks per book, area and read cycle."""

from waterrev.api import doc, lambda_handler, new_app, request_context
from waterrev.envelope import ok
from waterrev.errors import ErrorCode
from waterrev.metering import readings as metering
from waterrev.metering.commands import GenerateTasks, SaveBook
from waterrev.metering.models import BookReply, MeterBookSave, TaskGenerate, TaskGenerateReply

app = new_app()


@app.post(
    "/admin-api/revenue/meter-book/save",
    **doc(BookReply, ErrorCode.NOT_FOUND, summary="册本维护（按编码新建或修改，归入水表）"),
)
def save_book(body: MeterBookSave) -> dict:
    command = SaveBook(
        code=body.code,
        name=body.name,
        area_code=body.area_code,
        dept_id=body.dept_id,
        read_cycle=body.read_cycle,
        reader_id=body.reader_id,
        meter_ids=tuple(body.meter_ids),
    )
    return ok(metering.save_book(request_context(app), command))


@app.post(
    "/admin-api/revenue/meter-read/generate",
    **doc(TaskGenerateReply, ErrorCode.NOT_FOUND, summary="按册本、片区、抄表周期生成抄表任务"),
)
def generate(body: TaskGenerate) -> dict:
    command = GenerateTasks(
        bill_period=body.bill_period,
        book_ids=tuple(body.book_ids),
        area_code=body.area_code,
        read_cycle=body.read_cycle,
        reading_batch_no=body.reading_batch_no,
    )
    return ok(metering.generate_tasks(request_context(app), command))


handler = lambda_handler(app)
