"""Task states of the bill-run workflow (Step Functions): prepare, bill one chunk, finish.

Not an HTTP interface: Step Functions invokes it with {"step": ..., ...}. Errors propagate so the
state machine's Retry/Catch sees them.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from waterrev import metrics
from waterrev.billing import bill_run
from waterrev.context import SYSTEM, RequestContext
from waterrev.logs import get_logger


@metrics.flushed
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    step = event.get("step")
    request_id = str(getattr(context, "aws_request_id", "-"))
    ctx = RequestContext(request_id=request_id, principal=SYSTEM)
    logger = get_logger()
    # per thread, and cleared after: the local stack runs every function in one process, and these keys
    # must not ride on the next request's lines (in Lambda an environment serves one call at a time)
    logger.thread_safe_append_keys(request_id=request_id, workflow="bill-run", step=step)
    try:
        if step == "prepare":
            due = event.get("dueDate")
            return bill_run.prepare(
                ctx,
                event.get("billPeriod"),
                dt.date.fromisoformat(due) if due else None,
                run_no=event.get("runNo"),
                chunk_size=int(event.get("chunkSize") or 5000),
                execution_arn=event.get("executionArn"),
            )
        if step == "bill_chunk":
            return bill_run.bill_chunk(ctx, event["chunk"])
        if step == "finish":
            return bill_run.finish(ctx, int(event["runId"]), list(event.get("results") or []))
        raise ValueError(f"unknown step {step!r}")
    finally:
        logger.thread_safe_clear_keys()
