"""Scheduled (EventBridge): query SYS-009 for orders that saw no callback, close expired ones; send refunds
SYS-009 has not accepted yet and look up those without a result (accounting.refunds)."""

from __future__ import annotations

from typing import Any

from waterrev.accounting import refunds
from waterrev.context import SYSTEM, RequestContext
from waterrev.logs import get_logger
from waterrev.payments import orders as payments


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    ctx = RequestContext(request_id=str(getattr(context, "aws_request_id", "-")), principal=SYSTEM)
    counts: dict[str, Any] = dict(payments.compensate(ctx, limit=int(event.get("limit") or 200)))
    counts["refunds"] = refunds.compensate(limit=int(event.get("limit") or 200))
    get_logger().info("payment compensation", extra=counts)
    return counts
