"""What the accounting use cases are asked to do (IF-REV-007 账务调整): plain values built by the handlers
from the validated request models, so no use case depends on the edge's models."""

from __future__ import annotations

from decimal import Decimal
from typing import NamedTuple


class RequestWaiver(NamedTuple):
    """Ask to waive all (amount None) or part of a bill's late-payment penalty."""

    charge_id: int
    amount: Decimal | None
    reason_code: str
    remark: str | None
    attachments: tuple[str, ...]
    operator_id: int


class DecideWaiver(NamedTuple):
    """A second person's decision on a waiver request: approve (it takes effect) or reject."""

    waiver_no: str
    remark: str | None


class FindWaivers(NamedTuple):
    cust_id: int | None
    charge_id: int | None
    status: str | None  # PENDING | APPROVED | REJECTED
    page_no: int
    page_size: int


class RequestAdjustment(NamedTuple):
    """IF-REV-007 /admin-api/revenue/accounting/adjust: one adjustment of a bill (or of a trade of its
    customer)."""

    charge_id: int
    adjust_type: str  # USAGE | AMOUNT | REFUND | REVERSE | BAD_DEBT
    adjust_amount: Decimal | None
    adjust_usage: Decimal | None
    source_trade_no: str | None
    reason_code: str
    remark: str | None
    attachments: tuple[str, ...]
    operator_id: int
    request_no: str | None = None  # 扩展: the caller's idempotency key


class DecideAdjustment(NamedTuple):
    """A second person's decision: approve (it is carried out) or reject."""

    adjustment_no: str
    remark: str | None


class FindAdjustments(NamedTuple):
    cust_id: int | None
    charge_id: int | None
    adjust_type: str | None
    result_status: str | None  # SUCCESS | PENDING_APPROVAL | FAIL
    page_no: int
    page_size: int
