"""What the payment use cases are asked to do: plain values, built by the handlers from the validated
request models (models.py), so no use case depends on the edge's models."""

from __future__ import annotations

from decimal import Decimal
from typing import NamedTuple


class Collect(NamedTuple):
    """IF-REV-006: collect at the counter and write the bills off."""

    cust_id: int
    charge_ids: tuple[int, ...]
    payment_channel: str  # CASH | WECHAT | ALIPAY | BANK | PREPAY
    payment_amount: Decimal
    actual_amount: Decimal | None = None
    trade_no: str | None = None
    outlet_code: str | None = None
    remark: str | None = None


class ResolveException(NamedTuple):
    """IF-REV-006 payment exception review: a person's decision on one exception."""

    id: int
    action: str  # WRITE_OFF_PAID | REFUND | KEEP_BALANCE | DISMISS
    remark: str


class FindCharges(NamedTuple):
    """IF-REV-006 counter bill query: one customer's bills, arrears first."""

    cust_id: int | None
    cust_code: str | None
    bill_period: str | None
    charge_status: str | None  # UNPAID | PARTIAL | PAID; None: all three
    page_no: int
    page_size: int


class CreateOnlineOrder(NamedTuple):
    """IF-CS-003: a bound customer's online order for its own bills."""

    cust_id: int
    charge_ids: tuple[int, ...]
    payment_channel: str  # WECHAT | ALIPAY
    payment_amount: Decimal
    open_id: str | None = None


class CreateCounterOrder(NamedTuple):
    """IF-CS-007: a counter QR order for one customer's bills, taken by the calling operator."""

    counter_code: str
    charge_ids: tuple[int, ...]
    payment_channel: str  # WECHAT | ALIPAY
    order_amount: Decimal
    operator_id: int
    scene: str = "COUNTER_SCAN_PAY"


class BankPay(NamedTuple):
    """IF-EXT-003: a bank pays a customer's bills (all it owes when no bills are named)."""

    bank_code: str
    bank_serial_no: str
    cust_code: str
    charge_ids: tuple[int, ...] | None
    amount: Decimal
