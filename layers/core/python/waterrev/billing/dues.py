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


# ---- many customers at once ------------------------------------------------------------------------
# What rev_amount_due_rows reads for given bills, for a whole set of them in three statements (a
# withholding return writes off thousands of bills of thousands of customers): the same bill rows, the
# same customers, and every penalty parameter once, each customer's scope picked here as the function
# picks it (GLOBAL or a dept on its path). The rules are the same `_setup` and `_bill`.
_MANY_CUSTOMERS = """
SELECT c.id, c.low_income, d.tree_path,
       EXISTS (SELECT 1 FROM biz_cust_withholding_rel w WHERE w.cust_id = c.id AND w.status = 'SIGNED') AS withholding
  FROM biz_cust c LEFT JOIN system_dept d ON d.id = c.dept_id
 WHERE c.id = ANY (CAST(string_to_array(:ids, ',') AS bigint[]))
"""
_MANY_PARAMS = """
SELECT p.config_code AS code, p.config_value AS value, p.config_version AS version,
       to_char(p.effective_date, 'YYYY-MM-DD') AS effective, p.effect_status AS status, p.dept_id AS dept
  FROM biz_parameter_settings p
 WHERE p.config_code IN ('revenue.penalty.rule', 'revenue.penalty.coverage',
                         'revenue.penalty.exempt-withholding', 'revenue.penalty.exempt-low-income')
   AND p.effect_status IN ('ACTIVE', 'EXPIRED')
"""
_MANY_BILLS = """
SELECT b.cust_id, b.row || COALESCE(pay.row, '{}') || COALESCE(w.row, '{}') AS row
  FROM (SELECT c.id, c.cust_id, jsonb_build_object('id', c.id, 'code', c.code, 'period', c.bill_period,
                 'due', c.due_date, 'total', c.total_amount::text, 'paid', c.paid_amount::text, 'status', c.status,
                 'order', (SELECT o.biz_order_no FROM biz_order_charge o WHERE o.charge_id = c.id AND o.live)) AS row
          FROM biz_charge c WHERE c.id = ANY (CAST(string_to_array(:ids, ',') AS bigint[]))) b
  LEFT JOIN LATERAL (
    SELECT jsonb_build_object(
             'asOfs', jsonb_agg(i.as_of ORDER BY i.as_of) FILTER (WHERE i.item_type = 'PRINCIPAL'),
             'amounts', jsonb_agg(i.amount::text ORDER BY i.as_of) FILTER (WHERE i.item_type = 'PRINCIPAL'),
             'penaltyPaid', (sum(i.amount) FILTER (WHERE i.item_type = 'PENALTY'))::text) AS row
      FROM (SELECT i.item_type, i.amount, k.penalty_as_of AS as_of
              FROM biz_collection_item i JOIN biz_collection k ON k.id = i.collection_id
             WHERE i.charge_id = b.id
            UNION ALL
            SELECT l.line_type, l.amount, l.as_of FROM biz_adjustment_line l
             WHERE l.charge_id = b.id AND l.line_type IN ('PRINCIPAL', 'PENALTY')) i
    HAVING count(*) > 0) pay ON true
  LEFT JOIN LATERAL (
    SELECT jsonb_build_object('waived', sum(w.waived_amount)::text) AS row FROM biz_penalty_waiver w
     WHERE w.charge_id = b.id AND w.status = 'APPROVED' HAVING count(*) > 0) w ON true
"""


def amount_due_many(
    uow: UnitOfWork, bills: Iterable[tuple[int, int]], *, as_of: dt.date | None = None
) -> dict[int, Dues]:
    """`amount_due(uow, cust_id, as_of=as_of, charge_ids=...)` for every customer of the (cust_id, charge_id)
    pairs at once: per customer its Dues over those of its bills that exist and are its own (a bill of
    another customer is left out, as the one-customer read leaves it out). A customer that does not exist
    is missing from the answer (where `amount_due` raises)."""
    day = as_of or clock.today()
    pairs = sorted(set(bills))
    if not pairs:
        return {}
    wanted: dict[int, set[int]] = {}
    for cust_id, charge_id in pairs:
        wanted.setdefault(cust_id, set()).add(charge_id)
    customers = uow.all(_MANY_CUSTOMERS, {"ids": ",".join(str(c) for c in wanted)})
    params = uow.all(_MANY_PARAMS)
    rows: dict[int, list[dict[str, Any]]] = {}
    for r in uow.all(_MANY_BILLS, {"ids": ",".join(str(charge) for _, charge in pairs)}):
        cust_id, row = int(r["cust_id"]), r["row"]
        if int(row["id"]) in wanted.get(cust_id, ()):
            rows.setdefault(cust_id, []).append(row)
    setups: dict[tuple[str | None, bool, bool], _Setup] = {}
    out: dict[int, Dues] = {}
    for c in customers:
        customer = {"treePath": c["tree_path"], "lowIncome": c["low_income"], "withholding": c["withholding"]}
        key = (c["tree_path"], bool(c["low_income"]), bool(c["withholding"]))
        if key not in setups:
            path = {int(p) for p in (c["tree_path"] or "").strip("/").split("/") if p}
            scoped = [p for p in params if p["dept"] is None or int(p["dept"]) in path]
            setups[key] = _setup(customer, scoped, day)
        setup = setups[key]
        found = sorted(rows.get(int(c["id"]), ()), key=lambda b: (str(b["period"]), int(b["id"])))
        out[int(c["id"])] = Dues(
            cust_id=int(c["id"]),
            as_of=day,
            coverage=setup.coverage,
            exemption=setup.exemption,
            bills=tuple(_bill(row, setup, day) for row in found),
        )
    return out
