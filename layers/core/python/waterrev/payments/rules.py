"""Write-off allocation: how one payment is spread over the bills it pays. Pure: no I/O.

The rule (docs/DECISIONS.md 17): bills oldest period first, then lowest id; each bill takes what it
still owes, or what is left of the payment, whichever is smaller; what no bill takes goes to the
account balance. A bill owes its principal (the water fee) and its late-payment penalty as of the day
of the payment (waterrev.billing.penalty); what a payment covers first is the coverage order: with
PENALTY_FIRST the penalties of all the chosen bills (oldest first) are settled before any principal,
with PRINCIPAL_FIRST the principals first. A bill whose principal and penalty are both settled is PAID,
one paid in part PARTIAL. The collection is SUCCESS when it settled everything the chosen bills owed,
PARTIAL when something remains. Amounts are whole fen throughout: a payment with more places is
refused, never rounded.

The database function rev_write_off executes this rule on locked rows (one round trip, decision 21);
this module states it, the use cases decide with it before they call the function (a short amount,
a bill that may not be paid), and tests/integration/test_write_off_allocation.py runs random cases
through both.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal

from waterrev.domain.states import BILL, BillStatus, CollectionStatus
from waterrev.money import FEN

ZERO = Decimal("0.00")


def is_whole_fen(amount: Decimal) -> bool:
    return amount.is_finite() and amount == amount.quantize(FEN)


@dataclass(frozen=True)
class Bill:
    """A bill as a payment sees it."""

    charge_id: int
    bill_period: str  # YYYY-MM: sorts oldest first
    total: Decimal
    paid: Decimal
    status: str = BillStatus.UNPAID
    penalty: Decimal = ZERO  # the late-payment penalty owed as of the payment's day

    @property
    def owed(self) -> Decimal:
        """The principal (water fee) still owed."""
        return self.total - self.paid

    @property
    def due(self) -> Decimal:
        """Everything owed: principal and penalty."""
        return self.owed + self.penalty


@dataclass(frozen=True)
class Line:
    """What the payment puts on one bill - principal and penalty, each its own ledger line - and the
    bill after it."""

    charge_id: int
    amount: Decimal  # principal (the water fee)
    paid_after: Decimal
    status_after: BillStatus
    penalty: Decimal = ZERO  # penalty

    @property
    def total(self) -> Decimal:
        return self.amount + self.penalty


@dataclass(frozen=True)
class Allocation:
    amount: Decimal
    lines: tuple[Line, ...]  # one per bill the money reached, oldest bill first
    owed: Decimal  # what the chosen bills owed before the payment, penalties included
    written_off: Decimal  # principal and penalty
    to_balance: Decimal
    status: CollectionStatus

    @property
    def penalty_written_off(self) -> Decimal:
        return sum((line.penalty for line in self.lines), ZERO)

    @property
    def remain(self) -> Decimal:
        """Still owed on the chosen bills after the payment."""
        return self.owed - self.written_off


def allocate(amount: Decimal, bills: Iterable[Bill], *, penalty_first: bool = False) -> Allocation:
    """Spread `amount` over `bills` (in any order): with `penalty_first` all their penalties before any
    principal, else all principals first; within each, oldest bill first. Raises ValueError for an
    amount that is negative or not whole fen, or a bill that is; IllegalTransition for a bill the payment
    may not change (a CANCELLED bill that still shows something owed)."""
    if not is_whole_fen(amount) or amount < 0:
        raise ValueError(f"a payment is a non-negative amount in whole fen, not {amount}")
    ordered = sorted(bills, key=lambda b: (b.bill_period, b.charge_id))
    for bill in ordered:
        if not (is_whole_fen(bill.total) and is_whole_fen(bill.paid) and ZERO <= bill.paid <= bill.total):
            raise ValueError(f"bill {bill.charge_id}: paid {bill.paid} of {bill.total}")
        if not (is_whole_fen(bill.penalty) and bill.penalty >= 0):
            raise ValueError(f"bill {bill.charge_id}: penalty {bill.penalty}")
    left = amount
    principal: dict[int, Decimal] = {}
    penalty: dict[int, Decimal] = {}

    def fill(parts: dict[int, Decimal], owing: Callable[[Bill], Decimal]) -> None:
        nonlocal left
        for bill in ordered:
            part = min(owing(bill), left)
            if part > 0:
                parts[bill.charge_id] = part
                left -= part

    if penalty_first:
        fill(penalty, lambda b: b.penalty)
        fill(principal, lambda b: b.owed)
    else:
        fill(principal, lambda b: b.owed)
        fill(penalty, lambda b: b.penalty)
    lines: list[Line] = []
    for bill in ordered:
        part, pen = principal.get(bill.charge_id, ZERO), penalty.get(bill.charge_id, ZERO)
        if part <= 0 and pen <= 0:
            continue
        paid_after = bill.paid + part
        settled = paid_after >= bill.total and pen >= bill.penalty
        after = BillStatus.PAID if settled else BillStatus.PARTIAL
        BILL.require(bill.status, after, f"账单 {bill.charge_id}")
        lines.append(Line(bill.charge_id, part, paid_after, after, pen))
    owed = sum((b.due for b in ordered), ZERO)
    written = amount - left
    status = CollectionStatus.SUCCESS if written == owed else CollectionStatus.PARTIAL
    return Allocation(amount, tuple(lines), owed, written, left, status)
