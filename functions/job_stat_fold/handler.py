"""Scheduled every 10 minutes (EventBridge Scheduler): fold the IF-REV-010 statistics summaries."""

from __future__ import annotations

from typing import Any

from waterrev import metrics
from waterrev.context import SYSTEM, RequestContext
from waterrev.logs import get_logger
from waterrev.statistics import fold


@metrics.flushed
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    ctx = RequestContext(request_id=str(getattr(context, "aws_request_id", "-")), principal=SYSTEM)
    result = fold.fold(ctx)
    get_logger().info("statistics summaries folded", extra={"groups": result["groups"]})
    return result
