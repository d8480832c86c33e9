"""Scheduled every morning (EventBridge Scheduler): the daily three-way reconciliation of the day before
over every channel (banking.daily_recon; docs/BANK.md): ours, the channels' statements, the bank's
credits. The event may name the day ({"bizDate": "YYYY-MM-DD"}) to run one again; a run of a day already
reconciled re-runs it in place (a resolved difference stays resolved). A file missing or unreadable is
recorded for a person, never an error of this function."""

from __future__ import annotations

import datetime as dt
from typing import Any

from waterrev.banking import daily_recon
from waterrev.context import SYSTEM, RequestContext
from waterrev.logs import get_logger


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    ctx = RequestContext(request_id=str(getattr(context, "aws_request_id", "-")), principal=SYSTEM)
    named = (event or {}).get("bizDate")
    day = dt.date.fromisoformat(str(named)) if named else daily_recon.yesterday()
    report = daily_recon.run(ctx, day)
    summary = {
        "bizDate": report["bizDate"],
        "reconStatus": report["reconStatus"],
        "openDiffCount": report["openDiffCount"],
        "fileErrorCount": report["fileErrorCount"],
    }
    if report["reconStatus"] == "BALANCED":
        get_logger().info("daily reconciliation balanced", extra=summary)
    else:
        get_logger().warning("daily reconciliation found differences", extra=summary)
    return summary
