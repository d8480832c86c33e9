"""IF-REV-007 账务调整: the rules, pure (no I/O).

- who must approve: an adjustment needs a second person when its type is one of the chosen types
  (revenue.adjust.approval-types) or the money it moves is above the threshold
  (revenue.adjust.approval-threshold);
- what a reversal (冲正) of a collection does: every write-off line comes back off its bill (principal
  and penalty), the bill is UNPAID again when nothing is left paid on it, else PARTIAL, and the money goes
  back where it came from - to the balance for a collection paid from the balance (PREPAY), else to the
  payer as a refund of the whole amount, the part that went to the balance taken back off it;
- what a usage re-rating (水量调整) bills: the difference, per component and tier, between the tariff's
  lines for the corrected usage and for the usage billed so far;
- the ledger (docs/LEDGER.md): per customer, the money collected from outside equals what was written
  off on bills (net of reversals and credits) plus the balance plus what was refunded. `Ledger` is the
  model the property test drives with random operations; the database check computes the same terms in
  SQL (accounting.ledger).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from waterrev.domain.states import BillStatus
from waterrev.money import money
from waterrev.payments.rules import Bill, allocate
from waterrev.pricing.tariff import Line as TariffLine

ZERO = Decimal("0.00")
ADJUST_TYPES = ("USAGE", "AMOUNT", "REFUND", "REVERSE", "BAD_DEBT")
PREPAY = "PREPAY"


def needs_approval(adjust_type: str, effect: Decimal, threshold: Decimal, types: Iterable[str]) -> bool:
    """A second person approves: a chosen type, or more money moved than the threshold."""
    return adjust_type in set(types) or abs(effect) > threshold


# ---- reversal ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class WrittenOff:
    """What a collection wrote off on one bill, and the bill now."""

    charge_id: int
    principal: Decimal
    penalty: Decimal
    total: Decimal  # the bill's amount
    paid: Decimal  # its paid amount now


@dataclass(frozen=True)
class BillBack:
    charge_id: int
    principal: Decimal  # taken back off the bill's paid amount
    penalty: Decimal  # penalty paid taken back
    paid_after: Decimal
    status_after: BillStatus


@dataclass(frozen=True)
class Reversal:
    bills: tuple[BillBack, ...]
    balance_change: Decimal  # + back to the balance (PREPAY); - the overpaid part taken back off it
    refund: Decimal  # paid back to the payer

    @property
    def principal(self) -> Decimal:
        return sum((b.principal for b in self.bills), ZERO)

    @property
    def written_off(self) -> Decimal:
        return sum((b.principal + b.penalty for b in self.bills), ZERO)


def reverse(channel: str, amount: Decimal, to_balance: Decimal, lines: Sequence[WrittenOff]) -> Reversal:
    """The reversal of a collection of `amount` (`to_balance` of it went to the balance) by `channel`."""
    bills = []
    for line in lines:
        paid_after = line.paid - line.principal
        if paid_after < 0:
            raise ValueError(f"bill {line.charge_id}: {line.principal} cannot come back off {line.paid} paid")
        bills.append(
            BillBack(
                line.charge_id,
                line.principal,
                line.penalty,
                paid_after,
                BillStatus.UNPAID if paid_after == 0 else BillStatus.PARTIAL,
            )
        )
    written = sum((line.principal + line.penalty for line in lines), ZERO)
    if channel == PREPAY:  # the money came off the balance: it goes back there
        return Reversal(tuple(bills), written, ZERO)
    return Reversal(tuple(bills), -to_balance, written + to_balance)


# ---- usage re-rating -----------------------------------------------------------------------------
@dataclass(frozen=True)
class DiffLine:
    component: str
    tier_no: int
    quantity: Decimal  # m3 more (or fewer) in this tier
    unit_price: Decimal
    amount: Decimal
    tax_rate: Decimal


def usage_difference(before: Sequence[TariffLine], after: Sequence[TariffLine]) -> list[DiffLine]:
    """The lines that bill the change from `before` to `after` (each the tariff's lines of a usage)."""
    keyed: dict[tuple[str, int], list[TariffLine | None]] = {}
    for index, lines in enumerate((before, after)):
        for line in lines:
            keyed.setdefault((line.component, line.tier_no), [None, None])[index] = line
    out = []
    for (component, tier), (old, new) in keyed.items():
        ref = new or old
        assert ref is not None
        quantity = (new.quantity if new else ZERO) - (old.quantity if old else ZERO)
        amount = (new.amount if new else ZERO) - (old.amount if old else ZERO)
        if amount != 0 or quantity != 0:
            out.append(DiffLine(component, tier, quantity, ref.unit_price, money(amount), ref.tax_rate))
    return sorted(out, key=lambda d: (d.component, d.tier_no))


# ---- the ledger model ----------------------------------------------------------------------------
@dataclass
class _Bill:
    total: Decimal
    paid: Decimal = ZERO
    status: BillStatus = BillStatus.UNPAID
    bad_debt: Decimal = ZERO


@dataclass
class _Collection:
    channel: str
    amount: Decimal
    to_balance: Decimal
    lines: dict[int, tuple[Decimal, Decimal]]  # bill -> (principal, penalty)
    reversed: bool = False


@dataclass
class Ledger:
    """One customer's books as the use cases keep them, for the property test: every operation is a
    new entry; `imbalance()` is collections - (write-offs + balance + refunds) and must stay 0, and every
    bill's paid amount stays within its total."""

    bills: list[_Bill] = field(default_factory=list)
    collections: list[_Collection] = field(default_factory=list)
    balance: Decimal = ZERO
    refunds: list[tuple[Decimal, str]] = field(default_factory=list)  # (amount, PENDING/SUCCESS/FAIL)

    # the terms of the invariant
    @property
    def collected(self) -> Decimal:
        return sum((c.amount for c in self.collections if c.channel != PREPAY), ZERO)

    @property
    def written_off(self) -> Decimal:
        total = ZERO
        for c in self.collections:
            if not c.reversed:
                total += sum((p + q for p, q in c.lines.values()), ZERO)
        return total + sum((b.paid for b in self.bills if b.total < 0), ZERO)

    @property
    def refunded(self) -> Decimal:
        return sum((a for a, status in self.refunds if status != "FAIL"), ZERO)

    def imbalance(self) -> Decimal:
        return self.collected - (self.written_off + self.balance + self.refunded)

    # operations
    def bill(self, amount: Decimal) -> int:
        """A new bill; a negative one is a credit (PRICE_DIFF / ADJUST) settled into the balance."""
        if amount < 0:
            self.bills.append(_Bill(amount, amount, BillStatus.PAID))
            self.balance += -amount
        else:
            self.bills.append(_Bill(amount))
        return len(self.bills) - 1

    def payable(self) -> list[int]:
        return [i for i, b in enumerate(self.bills) if b.status in (BillStatus.UNPAID, BillStatus.PARTIAL)]

    def pay(self, amount: Decimal, charge_ids: Sequence[int], channel: str, penalty: Decimal = ZERO) -> bool:
        """A payment of the chosen bills (each owing `penalty` too) through the write-off rule; PREPAY
        comes off the balance first. False when it cannot be made (balance short, nothing to pay)."""
        chosen = sorted(
            {i for i in charge_ids if i in self.payable()}
        )  # a bill once, as the database reads it
        if not chosen or amount <= 0:
            return False
        if channel == PREPAY:
            due = sum((self.bills[i].total - self.bills[i].paid + penalty for i in chosen), ZERO)
            amount = min(amount, due)
            if amount > self.balance or amount <= 0:
                return False
            self.balance -= amount
        plan = allocate(
            amount,
            (
                Bill(i, f"2025-{i % 12 + 1:02d}", self.bills[i].total, self.bills[i].paid, "UNPAID", penalty)
                for i in chosen
            ),
            penalty_first=True,
        )
        lines = {}
        for line in plan.lines:
            bill = self.bills[line.charge_id]
            bill.paid = line.paid_after
            bill.status = (
                BillStatus.PAID if bill.paid >= bill.total and line.penalty >= penalty else BillStatus.PARTIAL
            )
            lines[line.charge_id] = (line.amount, line.penalty)
        self.balance += plan.to_balance
        self.collections.append(_Collection(channel, amount, plan.to_balance, lines))
        return True

    def reverse(self, index: int) -> bool:
        c = self.collections[index]
        if c.reversed:
            return False
        plan = reverse(
            c.channel,
            c.amount,
            c.to_balance,
            [WrittenOff(i, p, q, self.bills[i].total, self.bills[i].paid) for i, (p, q) in c.lines.items()],
        )
        if self.balance + plan.balance_change < 0:
            return False  # the overpaid part was spent: refused (1_002_004_001)
        for back in plan.bills:
            bill = self.bills[back.charge_id]
            if bill.status == BillStatus.BAD_DEBT:
                return False
        for back in plan.bills:
            bill = self.bills[back.charge_id]
            bill.paid, bill.status = back.paid_after, back.status_after
        self.balance += plan.balance_change
        if plan.refund > 0:
            self.refunds.append((plan.refund, "PENDING"))
        c.reversed = True
        return True

    def refund(self, amount: Decimal) -> bool:
        if amount <= 0 or amount > self.balance:
            return False
        self.balance -= amount
        self.refunds.append((amount, "PENDING"))
        return True

    def refund_result(self, index: int, success: bool) -> bool:
        amount, status = self.refunds[index]
        if status != "PENDING":
            return False
        self.refunds[index] = (amount, "SUCCESS" if success else "FAIL")
        if not success:
            self.balance += amount  # a failed refund puts the money back on the balance
        return True

    def bad_debt(self, index: int) -> bool:
        bill = self.bills[index]
        if bill.status not in (BillStatus.UNPAID, BillStatus.PARTIAL):
            return False
        bill.bad_debt = bill.total - bill.paid
        bill.status = BillStatus.BAD_DEBT
        return True

    def receivable_ok(self) -> bool:
        """Every bill: 0 <= paid <= total (a credit: paid = total), bad debt only what was unpaid."""
        for b in self.bills:
            if b.total < 0:
                if b.paid != b.total:
                    return False
            elif not (ZERO <= b.paid <= b.total and b.paid + b.bad_debt <= b.total):
                return False
        return self.balance >= 0
