"""Scheduled every minute (EventBridge Scheduler): relay due messages from the outbox (biz_message) to
the queue for most of the minute, and sweep the dead-letter queue (notifications.relay)."""

from __future__ import annotations

from typing import Any

from waterrev import metrics
from waterrev.context import SYSTEM, RequestContext
from waterrev.logs import get_logger
from waterrev.notifications import relay

MARGIN_MS = 10_000  # stop relaying this long before the function's timeout


@metrics.flushed
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    ctx = RequestContext(request_id=str(getattr(context, "aws_request_id", "-")), principal=SYSTEM)
    remaining_ms = int(context.get_remaining_time_in_millis()) if context is not None else 60_000
    asked = event.get("seconds")  # a sample event or a test may ask for a shorter run
    seconds = float(asked) if isinstance(asked, int | float) else max(0, remaining_ms - MARGIN_MS) / 1000
    counts = relay.run(ctx, seconds=seconds)
    counts["backlog"] = relay.backlog()
    metrics.put(metrics.MESSAGE_BACKLOG, counts["backlog"])
    get_logger().info("message relay", extra=counts)
    return counts
