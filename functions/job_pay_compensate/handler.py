"""Scheduled (EventBridge): query SYS-009 for orders that saw no callback, close expired ones; send refunds
SYS-009 has not accepted yet and look up those without a result (accounting.refunds); publish what is left
stuck - orders, refunds, withholding batches - as backlog metrics, each with an alarm (waterrev.metrics).
A withholding batch whose workflow ended without deciding (a step that failed for good) and that has not
moved for `withholdingStalledSeconds` (15 minutes) gets a new execution (banking.workflow.restart_stalled);
what is still stuck after that is in the backlog metric."""

from __future__ import annotations

from typing import Any

from waterrev import metrics
from waterrev.accounting import refunds
from waterrev.banking import batch, workflow
from waterrev.context import SYSTEM, RequestContext
from waterrev.logs import get_logger
from waterrev.payments import orders as payments


@metrics.flushed
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    ctx = RequestContext(request_id=str(getattr(context, "aws_request_id", "-")), principal=SYSTEM)
    counts: dict[str, Any] = dict(payments.compensate(ctx, limit=int(event.get("limit") or 200)))
    counts["refunds"] = refunds.compensate(limit=int(event.get("limit") or 200))
    counts["withholdingRestarted"] = workflow.restart_stalled(
        int(event.get("withholdingStalledSeconds", 900))
    )
    counts["backlog"] = {
        "orders": payments.backlog(),
        "refunds": refunds.backlog(),
        "withholding": batch.stuck_count(),
    }
    metrics.put(metrics.PAYMENT_BACKLOG, counts["backlog"]["orders"])
    metrics.put(metrics.REFUND_BACKLOG, counts["backlog"]["refunds"])
    metrics.put(metrics.WITHHOLDING_BACKLOG, counts["backlog"]["withholding"])
    get_logger().info("payment compensation", extra=counts)
    return counts
