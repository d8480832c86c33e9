"""The amount due: what a customer owes on each bill as of a day - the principal (the water fee) still
unpaid and the late-payment penalty (违约金) owed on that day - and in total. The one definition every
channel shows and checks (IF-CS-002 ARREARS, the counter's bill query and collection, online and counter
QR orders, bank real-time charging, and what comes: reminders, invoices, withholding, statistics).

`amount_due(uow, cust_id)` reads in two statements - the customer with the penalty parameters of its
scope, then its bills with what was paid and waived on each - and applies the pure rules of
`waterrev.billing.penalty`. It reads in the caller's unit of work: a caller that is about to take money
locks the bills first (in id order) and asks after, so the amount it checks is the amount it books.
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
from waterrev.domain.lifecycle import sql_in
from waterrev.domain.states import PAYABLE_BILLS, CollectionItemType, PenaltyWaiverStatus
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
        """The principal (water fee) still unpaid."""
        return self.total - self.paid

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
_SCOPE = f"""
WITH me AS (
  SELECT c.id, c.low_income, d.tree_path,
         EXISTS (SELECT 1 FROM biz_cust_withholding_rel w WHERE w.cust_id = c.id AND w.status = 'SIGNED')
           AS withholding
    FROM biz_cust c LEFT JOIN system_dept d ON d.id = c.dept_id WHERE c.id = :c)
SELECT me.low_income, me.tree_path, me.withholding, p.config_code, p.config_value, p.config_version,
       p.effective_date, p.effect_status, p.dept_id
  FROM me LEFT JOIN biz_parameter_settings p
    ON p.config_code IN ({", ".join(f"'{code}'" for code in rules.CODES)})
   AND p.effect_status IN ('ACTIVE', 'EXPIRED')
   AND (p.dept_id IS NULL OR p.dept_id = ANY(CAST(string_to_array(trim(both '/' from me.tree_path), '/') AS bigint[])))
"""
_BILLS = f"""
SELECT c.id, c.code, c.bill_period, c.due_date, c.total_amount, c.paid_amount, c.status,
       (SELECT o.biz_order_no FROM biz_order_charge o WHERE o.charge_id = c.id AND o.live) AS live_order,
       pay.as_ofs, pay.amounts, COALESCE(pay.penalty_paid, 0) AS penalty_paid,
       COALESCE((SELECT sum(w.waived_amount) FROM biz_penalty_waiver w
                  WHERE w.charge_id = c.id AND w.status = '{PenaltyWaiverStatus.APPROVED}'), 0) AS waived
  FROM biz_charge c
  LEFT JOIN LATERAL (
    SELECT array_agg(k.penalty_as_of ORDER BY k.penalty_as_of) FILTER (WHERE i.item_type = '{CollectionItemType.PRINCIPAL}') AS as_ofs,
           array_agg(i.amount ORDER BY k.penalty_as_of) FILTER (WHERE i.item_type = '{CollectionItemType.PRINCIPAL}') AS amounts,
           sum(i.amount) FILTER (WHERE i.item_type = '{CollectionItemType.PENALTY}') AS penalty_paid
      FROM biz_collection_item i JOIN biz_collection k ON k.id = i.collection_id
     WHERE i.charge_id = c.id) pay ON true
 WHERE c.cust_id = :c AND (CASE WHEN CAST(:ids AS bigint[]) IS NULL THEN c.status IN ({sql_in(PAYABLE_BILLS)})
                                ELSE c.id = ANY(CAST(:ids AS bigint[])) END)
 ORDER BY c.bill_period, c.id
"""
GLOBAL_RANK = 1_000_000


@dataclass(frozen=True)
class _Setup:
    changes: tuple[rules.RuleVersion, ...]
    coverage: rules.Coverage
    exemption: rules.Exemption | None


def _setup(rows: list[dict[str, Any]], as_of: dt.date) -> _Setup:
    first = rows[0]
    path = [int(p) for p in (first["tree_path"] or "").strip("/").split("/") if p]

    def rank(dept_id: int | None) -> int:
        return GLOBAL_RANK if dept_id is None else len(path) - 1 - path.index(int(dept_id))

    versions: list[rules.ScopedVersion] = []
    current: dict[str, tuple[tuple[int, int, int], str]] = {}
    for row in rows:
        code = row["config_code"]
        if code is None:
            continue
        effective = row["effective_date"]
        if code == rules.RULE_CODE:
            try:
                rule = rules.parse_rule(row["config_value"])
            except rules.RuleError as exc:  # refused when saved (IF-REV-012); one put there by hand
                _log.error("penalty rule version %s ignored: %s", row["config_version"], exc)
                continue
            versions.append(rules.ScopedVersion(rank(row["dept_id"]), effective, row["config_version"], rule))
        elif row["effect_status"] == "ACTIVE" and (effective is None or effective <= as_of):
            # a plain parameter as scoped.param_row reads it: the nearest scope, newest version
            key = (rank(row["dept_id"]), -(effective or dt.date.min).toordinal(), -row["config_version"])
            if code not in current or key < current[code][0]:
                current[code] = (key, row["config_value"])
    values = {code: value for code, (_, value) in current.items()}
    exemption = None
    if first["withholding"] and rules.parse_flag(values.get(rules.EXEMPT_WITHHOLDING_CODE)):
        exemption = rules.Exemption.WITHHOLDING
    elif first["low_income"] and rules.parse_flag(values.get(rules.EXEMPT_LOW_INCOME_CODE)):
        exemption = rules.Exemption.LOW_INCOME
    return _Setup(rules.timeline(versions), rules.parse_coverage(values.get(rules.COVERAGE_CODE)), exemption)


def _bill(row: dict[str, Any], setup: _Setup, as_of: dt.date) -> BillDue:
    total, paid = Decimal(row["total_amount"]), Decimal(row["paid_amount"])
    paid_penalty, waived = Decimal(row["penalty_paid"]), Decimal(row["waived"])
    accrued = owed = ZERO
    if row["status"] in PAYABLE_BILLS and setup.exemption is None and setup.changes:
        payments = tuple(
            rules.PrincipalPayment(day, Decimal(amount))
            for day, amount in zip(row["as_ofs"] or (), row["amounts"] or (), strict=True)
        )
        bill = rules.PenaltyBill(total, row["due_date"], payments, paid_penalty, waived)
        accrued = rules.accrued(bill, as_of, setup.changes)
        owed = max(accrued - paid_penalty - waived, ZERO)
    return BillDue(
        charge_id=int(row["id"]),
        code=str(row["code"]),
        bill_period=str(row["bill_period"]),
        due_date=row["due_date"],
        total=total,
        paid=paid,
        status=str(row["status"]),
        live_order=row["live_order"],
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
    rows = uow.all(_SCOPE, {"c": cust_id})
    if not rows:
        raise AppError(ErrorCode.CUSTOMER_NOT_FOUND_OR_STOPPED, f"custId={cust_id}")
    setup = _setup(rows, day)
    ids = None if charge_ids is None else sorted(set(charge_ids))
    bills = uow.all(_BILLS, {"c": cust_id, "ids": ids})
    return Dues(
        cust_id=cust_id,
        as_of=day,
        coverage=setup.coverage,
        exemption=setup.exemption,
        bills=tuple(_bill(row, setup, day) for row in bills),
    )
