"""IF-EXT-002 银行代扣回盘接收接口: the bank's (or SYS-009's) signed receipt that a return file is in the
batch's back directory. The file is read over SFTP and applied at once (once per batchNo + fileSerialNo;
a bad one is refused with 1_002_006_002 and kept for review), then the batch's waiting workflow resumes."""

from waterrev.api import doc, lambda_handler, new_app, raw_body, request_context
from waterrev.banking import receipt
from waterrev.banking.models import BackDiscRequest, ReturnReply
from waterrev.envelope import ok
from waterrev.errors import ErrorCode

app = new_app()


# Validation is off: the signature covers the raw bytes (banking.receipt verifies, then checks each field).
@app.post(
    "/open-api/bank/withholding/return",
    enable_validation=False,
    **doc(
        ReturnReply,
        ErrorCode.UNAUTHORIZED,
        ErrorCode.WITHHOLDING_BATCH_MISSING_OR_SENT,
        ErrorCode.BANK_RETURN_FILE_INVALID,
        ErrorCode.CONFLICT,
        summary="银行代扣回盘接收（IF-EXT-002）",
    ),
)
def back(body: BackDiscRequest = None) -> dict:  # type: ignore[assignment]
    event = app.current_event
    return ok(receipt.handle(request_context(app), dict(event.headers), raw_body(event.raw_event)))


handler = lambda_handler(app)
