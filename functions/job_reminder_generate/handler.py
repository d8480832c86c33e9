"""Scheduled monthly (EventBridge Scheduler): reminder tasks for every office's customers in arrears
(IF-REV-013, triggerType AUTO): one run per dept holding customers with unpaid bills."""

from __future__ import annotations

import datetime as dt
from typing import Any

from waterrev import metrics
from waterrev.context import SYSTEM, RequestContext
from waterrev.envelope import jsonable
from waterrev.logs import get_logger
from waterrev.notifications import reminders


@metrics.flushed
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    ctx = RequestContext(request_id=str(getattr(context, "aws_request_id", "-")), principal=SYSTEM)
    on = event.get("onDate")
    result = reminders.generate_offices(ctx, on_date=dt.date.fromisoformat(on) if on else None)
    get_logger().info(
        "reminder generation", extra={"runs": len(result["runs"]), "createdCount": result["createdCount"]}
    )
    return dict(jsonable(result))  # dates and amounts as the seed writes them: the runtime marshals JSON
