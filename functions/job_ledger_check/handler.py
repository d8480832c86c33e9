"""Scheduled nightly (EventBridge Scheduler): check the ledger's invariants on the real data
(docs/LEDGER.md) and publish the number of violations as the CloudWatch metric
waterrev/LedgerViolations (embedded metric format in the log); its alarm fires when it is not 0 - or when
no check reported for a day."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit

from waterrev.accounting import ledger
from waterrev.context import SYSTEM, RequestContext
from waterrev.logs import get_logger

METRIC_NAMESPACE = "waterrev"
METRIC_NAME = "LedgerViolations"
METRIC_SERVICE = "ledger"

metrics = Metrics(namespace=METRIC_NAMESPACE, service=METRIC_SERVICE)


@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    ctx = RequestContext(request_id=str(getattr(context, "aws_request_id", "-")), principal=SYSTEM)
    result = ledger.check(ctx, limit=int(event.get("limit") or 200))
    metrics.add_metric(name=METRIC_NAME, unit=MetricUnit.Count, value=result["violations"])
    summary = {
        "checkId": result["checkId"],
        "violations": result["violations"],
        "customers": result["customers"],
    }
    if result["violations"]:
        get_logger().error("ledger invariant broken", extra={**summary, "totals": str(result["totals"])})
    else:
        get_logger().info("ledger invariant holds", extra=summary)
    return summary
