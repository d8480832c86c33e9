"""Business metrics: CloudWatch embedded metric format (Powertools' EMF provider), one JSON line on stdout
per invocation, which CloudWatch turns into metrics of the namespace in settings (metrics_namespace).

A use case reports a business event when its transaction commits (`on_commit`: never one that rolled
back), or a backlog gauge when a compensation run has counted it (`put`); the handler wrappers flush once
per invocation (`flushed`, and waterrev.api.lambda_handler). Every metric carries one dimension,
service=waterrev, whichever function emits it, so an alarm names it without knowing the function.
The alarms and their runbook entries (docs/RUNBOOK.md) are in infra/constructs/monitoring.py.

Locally and in the tests POWERTOOLS_METRICS_DISABLED is set: nothing is collected or printed (the local
stack's output stays readable); the metric tests turn it off to read what a handler printed.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import AmazonCloudWatchEMFProvider

    from waterrev.db import UnitOfWork

SERVICE = "waterrev"  # the dimension every business metric carries

# Business events (counts, summed over a period)
BILLS_GENERATED = "BillsGenerated"  # a bill run's chunk committed its bills
PAYMENTS_SETTLED = "PaymentsSettled"  # a payment written off against bills, any channel
PAYMENT_EXCEPTIONS_OPENED = "PaymentExceptionsOpened"  # a platform result held for a person's review
MESSAGES_DEAD_LETTERED = "MessagesDeadLettered"  # a message's deliveries to SYS-010 gave up

# Gauges each compensation publishes on every run: what waits longer than it should. Each has an alarm.
INVOICES_PENDING = "InvoicesPending"  # invoices waiting for SYS-008's result (all of them)
PAYMENT_BACKLOG = "PaymentCompensationBacklog"  # orders still live an hour past their expiry
REFUND_BACKLOG = "RefundCompensationBacklog"  # refunds without SYS-009's result for over an hour
INVOICE_BACKLOG = "InvoiceCompensationBacklog"  # invoices waiting for a result for over an hour
MESSAGE_BACKLOG = "MessageRelayBacklog"  # outbox messages due for over 15 minutes and not relayed
WITHHOLDING_BACKLOG = "WithholdingStuckBatches"  # withholding batches sent and not returned in time

# Each backlog gauge: the job that publishes it (every run), and the runbook's anchor for its alarm.
BACKLOGS: dict[str, tuple[str, str]] = {
    PAYMENT_BACKLOG: ("job_pay_compensate", "payment-compensation-backlog"),
    REFUND_BACKLOG: ("job_pay_compensate", "refund-compensation-backlog"),
    INVOICE_BACKLOG: ("job_invoice_compensate", "invoice-compensation-backlog"),
    MESSAGE_BACKLOG: ("job_message_relay", "message-relay-backlog"),
    WITHHOLDING_BACKLOG: ("job_pay_compensate", "withholding-stuck-batches"),
}

_lock = threading.Lock()
_provider: AmazonCloudWatchEMFProvider | None = None

F = TypeVar("F", bound=Callable[..., Any])


def _emf() -> AmazonCloudWatchEMFProvider:
    global _provider
    if _provider is None:
        # Not Powertools' Metrics class: its instances share one class-wide metric and dimension set, and
        # job_ledger_check's (service=ledger) must not lend its dimension to these.
        from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import (
            AmazonCloudWatchEMFProvider,
        )

        from waterrev.settings import get_settings

        _provider = AmazonCloudWatchEMFProvider(namespace=get_settings().metrics_namespace, service=SERVICE)
    return _provider


def disabled() -> bool:
    from aws_lambda_powertools.metrics.functions import is_metrics_disabled

    return is_metrics_disabled()


def put(name: str, value: float = 1) -> None:
    """Add `value` to the metric `name` (unit Count) in this invocation's set."""
    if disabled():
        return
    with _lock:
        _emf().add_metric(name=name, unit="Count", value=value)


def on_commit(uow: UnitOfWork, name: str, value: float = 1) -> None:
    """Count `value` for `name` once `uow` commits; nothing when it rolls back."""
    uow.after_commit(lambda: put(name, value))


def flush() -> None:
    """Print this invocation's metrics as one EMF line and start a new set; nothing when there are none."""
    with _lock:
        if _provider is None or not _provider.metric_set:
            return
        if disabled():  # turned off since they were added (a test): drop them
            _provider.clear_metrics()
            return
        _provider.flush_metrics()


def flushed(handler: F) -> F:
    """Wrap a Lambda handler: its metrics are flushed when it returns or raises."""

    @functools.wraps(handler)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return handler(*args, **kwargs)
        finally:
            flush()

    return wrapper  # type: ignore[return-value]
