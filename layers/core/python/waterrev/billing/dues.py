"""The amount due: what a customer owes on each bill as of a day - the principal (the water fee) still
unpaid and the late-payment penalty (违约金) owed on that day - and in total. The one definition every
channel shows and checks (IF-CS-002 ARREARS, the counter's bill query and collection, online and counter
QR orders, bank real-time charging, and what comes: reminders, invoices, withholding, statistics).

`amount_due(uow, cust_id)` reads in one statement (the database function rev_amount_due_rows: the
customer, the penalty parameters of its scope, its bills with what was paid and waived on each) and
applies the pure rules of `waterrev.billing.penalty`. It reads in the caller's unit of work: a caller
that is about to take money locks the bills first (in id order) and asks after, so the amount it checks
is the amount it books.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from waterrev import clock
from waterrev.billing import penalty as rules
from waterrev.db import UnitOfWork
from waterrev.domain.states import PAYABLE_BILLS
from waterrev.errors import AppError, ErrorCode

ZERO = Decimal("0.00")
_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BillDue:
    """One bill as of the day: its principal, what of it is unpaid, and its penalty."""

    charge_id: int
    code: str
    bill_period: str
    due_date: dt.date
    total: Decimal  # the bill's amount: its principal
    paid: Decimal  # principal paid
    status: str
    live_order: str | None  # the live online / QR order holding the bill, if any
    penalty_accrued: Decimal  # accrued through the day (capped, rounded)
    penalty_paid: Decimal
    penalty_waived: Decimal
    penalty: Decimal  # still owed on the day

    @property
    def principal(self) -> Decimal:
        """The principal (water fee) still unpaid; nothing on a paid or cancelled bill."""
        return self.total - self.paid if self.status in PAYABLE_BILLS else ZERO

    @property
    def amount_due(self) -> Decimal:
        return self.principal + self.penalty


@dataclass(frozen=True)
class Dues:
    """A customer's bills as of a day, oldest period first, and how the penalty applies to it."""

    cust_id: int
    as_of: dt.date
    coverage: rules.Coverage
    exemption: rules.Exemption | None  # why the customer accrues no penalty, if it is exempt
    bills: tuple[BillDue, ...]

    @property
    def principal(self) -> Decimal:
        return sum((b.principal for b in self.bills), ZERO)

    @property
    def penalty(self) -> Decimal:
        return sum((b.penalty for b in self.bills), ZERO)

    @property
    def total(self) -> Decimal:
        return self.principal + self.penalty

    @property
    def penalty_first(self) -> bool:
        return self.coverage is rules.Coverage.PENALTY_FIRST

    def of(self, charge_id: int) -> BillDue:
        for bill in self.bills:
            if bill.charge_id == charge_id:
                return bill
        raise KeyError(charge_id)

    def only(self, charge_ids: Iterable[int]) -> Dues:
        wanted = set(charge_ids)
        return replace(self, bills=tuple(b for b in self.bills if b.charge_id in wanted))

    def penalty_of(self) -> dict[int, Decimal]:
        return {b.charge_id: b.penalty for b in self.bills}


# ---- reading ---------------------------------------------------------------------------------------
# One round trip, plans kept for the session (the database function rev_amount_due_rows): the customer,
# the penalty parameters of its scope, its bills with what was paid and waived on each.
_READ = "SELECT rev_amount_due_rows(p_cust_id => :c, p_charge_ids => CAST(:ids AS bigint[]))"
GLOBAL_RANK = 1_000_000


@dataclass(frozen=True)
class _Setup:
    changes: tuple[rules.RuleVersion, ...]
    coverage: rules.Coverage
    exemption: rules.Exemption | None


def _day(value: str | None) -> dt.date | None:
    return None if value is None else dt.date.fromisoformat(value)


def _setup(customer: dict[str, Any], params: list[dict[str, Any]], as_of: dt.date) -> _Setup:
    """The rule versions over time, the coverage order and any exemption, for this customer's scope."""
    path = [int(p) for p in (customer["treePath"] or "").strip("/").split("/") if p]

    def rank(dept_id: int | None) -> int:
        return GLOBAL_RANK if dept_id is None else len(path) - 1 - path.index(int(dept_id))

    versions: list[rules.ScopedVersion] = []
    current: dict[str, tuple[tuple[int, int, int], str]] = {}
    for row in params:
        code, effective = row["code"], _day(row["effective"])
        if code == rules.RULE_CODE:
            try:
                rule = rules.parse_rule(row["value"])
            except rules.RuleError as exc:  # refused when saved (IF-REV-012); one put there by hand
                _log.error("penalty rule version %s ignored: %s", row["version"], exc)
                continue
            versions.append(rules.ScopedVersion(rank(row["dept"]), effective, int(row["version"]), rule))
        elif row["status"] == "ACTIVE" and (effective is None or effective <= as_of):
            # a plain parameter as scoped.param_row reads it: the nearest scope, the newest version
            key = (rank(row["dept"]), -(effective or dt.date.min).toordinal(), -int(row["version"]))
            if code not in current or key < current[code][0]:
                current[code] = (key, str(row["value"]))
    values = {code: value for code, (_, value) in current.items()}
    exemption = None
    if customer["withholding"] and rules.parse_flag(values.get(rules.EXEMPT_WITHHOLDING_CODE)):
        exemption = rules.Exemption.WITHHOLDING
    elif customer["lowIncome"] and rules.parse_flag(values.get(rules.EXEMPT_LOW_INCOME_CODE)):
        exemption = rules.Exemption.LOW_INCOME
    return _Setup(rules.timeline(versions), rules.parse_coverage(values.get(rules.COVERAGE_CODE)), exemption)


def _bill(row: dict[str, Any], setup: _Setup, as_of: dt.date) -> BillDue:
    total, paid = Decimal(row["total"]), Decimal(row["paid"])
    paid_penalty, waived = Decimal(row.get("penaltyPaid") or ZERO), Decimal(row.get("waived") or ZERO)
    due_date = dt.date.fromisoformat(row["due"])
    accrued = owed = ZERO
    if row["status"] in PAYABLE_BILLS and setup.exemption is None and setup.changes:
        payments = tuple(
            rules.PrincipalPayment(dt.date.fromisoformat(day), Decimal(amount))
            for day, amount in zip(row.get("asOfs") or (), row.get("amounts") or (), strict=True)
        )
        bill = rules.PenaltyBill(total, due_date, payments, paid_penalty, waived)
        accrued = rules.accrued(bill, as_of, setup.changes)
        owed = max(accrued - paid_penalty - waived, ZERO)
    return BillDue(
        charge_id=int(row["id"]),
        code=str(row["code"]),
        bill_period=str(row["period"]),
        due_date=due_date,
        total=total,
        paid=paid,
        status=str(row["status"]),
        live_order=row["order"],
        penalty_accrued=accrued,
        penalty_paid=paid_penalty,
        penalty_waived=waived,
        penalty=owed,
    )


def amount_due(
    uow: UnitOfWork,
    cust_id: int,
    *,
    as_of: dt.date | None = None,
    charge_ids: Iterable[int] | None = None,
) -> Dues:
    """What customer `cust_id` owes as of `as_of` (default: today, Beijing time): every unpaid or part-paid
    bill, or the bills `charge_ids` of the customer whatever their status (a paid or cancelled bill owes
    nothing), oldest period first. The caller decides whether the customer is visible to it."""
    day = as_of or clock.today()
    ids = None if charge_ids is None else sorted(set(charge_ids))
    read = uow.scalar(_READ, {"c": cust_id, "ids": ids})
    if read is None:
        raise AppError(ErrorCode.CUSTOMER_NOT_FOUND_OR_STOPPED, f"custId={cust_id}")
    setup = _setup(read["customer"], read["params"], day)
    return Dues(
        cust_id=cust_id,
        as_of=day,
        coverage=setup.coverage,
        exemption=setup.exemption,
        bills=tuple(_bill(row, setup, day) for row in read["bills"]),
    )
