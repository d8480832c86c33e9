"""The message queue's consumer (SQS event source, ReportBatchItemFailures): deliver a batch to SYS-010.

The batch is delivered as a whole (one claim, calls at once, one record: notifications.delivery); each
record that must be retried is then reported as a batch item failure through Powertools' BatchProcessor,
so SQS redelivers only those, after their backoff, and moves one to the dead-letter queue after the
queue's maxReceiveCount.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from waterrev import metrics
from waterrev.context import SYSTEM, RequestContext
from waterrev.notifications import delivery


class NotDelivered(Exception):
    """This queue copy is to be retried (SQS redelivers it, or moves it to the dead-letter queue)."""


@metrics.flushed
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    ctx = RequestContext(request_id=str(getattr(context, "aws_request_id", "-")), principal=SYSTEM)
    failures = delivery.deliver(ctx, list(event.get("Records") or []))
    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)

    def record_handler(record: SQSRecord) -> None:
        reason = failures.get(record.message_id)
        if reason is not None:
            raise NotDelivered(reason)

    return dict(
        process_partial_response(
            event=event, record_handler=record_handler, processor=processor, context=context
        )
    )
