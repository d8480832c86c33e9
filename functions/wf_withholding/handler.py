"""Task states of the withholding-batch workflow (Step Functions): select, send, await, poll, reconcile,
settle. Not an HTTP interface: Step Functions invokes it with {"step": ..., "batchNo": ...}. Errors
propagate so the state machine's Retry/Catch sees them (AppError is a business refusal, never retried)."""

from __future__ import annotations

from typing import Any

from waterrev import metrics
from waterrev.banking import batch, reconcile
from waterrev.context import SYSTEM, RequestContext
from waterrev.errors import AppError, ErrorCode
from waterrev.logs import get_logger


class BatchNotWaiting(Exception):
    """The batch is no longer waiting for its return (applied, cancelled): the workflow polls instead."""


@metrics.flushed
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    step = event.get("step")
    batch_no = str(event.get("batchNo") or "")
    request_id = str(getattr(context, "aws_request_id", "-"))
    ctx = RequestContext(request_id=request_id, principal=SYSTEM)
    get_logger().append_keys(request_id=request_id, workflow="withholding", step=step, batch_no=batch_no)
    if step == "select":
        return batch.select(ctx, batch_no)
    if step == "send":
        return batch.send(ctx, batch_no, retry=True)
    if step == "await":
        current = batch.remember_token(batch_no, str(event["taskToken"]))
        if current != "SENT":
            raise BatchNotWaiting(current)
        return {"batchNo": batch_no, "batchStatus": current}
    if step == "poll":
        for serial, path in batch.find_return(batch_no):
            try:
                batch.apply_return(ctx, batch_no, serial, path)
            except AppError as exc:
                if exc.error is not ErrorCode.BANK_RETURN_FILE_INVALID:
                    raise
                get_logger().warning("return file refused", extra={"fileSerialNo": serial, "reason": exc.msg})
        return {"batchNo": batch_no, "batchStatus": batch.status(ctx, batch_no)["batchStatus"]}
    if step == "reconcile":
        found = reconcile.reconcile(ctx, batch_no)
        return {
            "batchNo": batch_no,
            "batchStatus": found["batchStatus"],
            "reconcileStatus": found["reconcileStatus"],
        }
    if step == "settle":
        return {"batchNo": batch_no, "batchStatus": reconcile.settle(ctx, batch_no)["batchStatus"]}
    raise ValueError(f"unknown step {step!r}")
