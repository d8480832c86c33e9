"""Scheduled (EventBridge): query SYS-008 for invoices without a result (IF-REV-009 AUTO_COMPENSATE),
with backoff; voids and red-inks under way; copy missing files; note undelivered pushes."""

from __future__ import annotations

from typing import Any

from waterrev import metrics
from waterrev.context import SYSTEM, RequestContext
from waterrev.invoices import query as invoices
from waterrev.logs import get_logger


@metrics.flushed
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    ctx = RequestContext(request_id=str(getattr(context, "aws_request_id", "-")), principal=SYSTEM)
    counts: dict[str, Any] = dict(invoices.compensate_due(ctx, limit=int(event.get("limit") or 2000)))
    counts["backlog"] = invoices.backlog()
    metrics.put(metrics.INVOICES_PENDING, counts["backlog"]["pending"])
    metrics.put(metrics.INVOICE_BACKLOG, counts["backlog"]["stuck"])
    get_logger().info("invoice compensation", extra=counts)
    return counts
