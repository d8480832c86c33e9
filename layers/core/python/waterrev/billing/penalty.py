"""Late-payment penalty (违约金): the rules, pure (no I/O).

A bill unpaid past its due date plus a grace period accrues a penalty, day by day, by the rule in effect
on each day:

- DAILY_RATE: `dailyRate` x the principal still unpaid ON THAT DAY (a part-payment lowers the base from
  the day after the day it was settled as of);
- FIXED: `fixedAmount` once, on the first day the bill is past its grace period with principal unpaid;
- NONE: nothing (how a rule is switched off from a date on).

A day counts when it is later than the due date plus the `graceDays` of the rule in effect that day. The
penalty accrued never exceeds the cap: the bill's principal, or less when the rule says so (`capAmount`,
`capRate` x principal); a day adds only what keeps the total within that day's cap, and nothing is ever
taken back (a later, lower cap stops further accrual). The accrued amount is summed exactly and rounded
once, half-up to the fen, when it becomes the bill's penalty (waterrev/money.py's one rule). What is
owed is that minus what was paid and what was waived, never below zero. A customer exempt by parameter
(an active withholding agreement, or the 低保 flag) accrues nothing.

Rule versions are effective-dated and scoped like parameters (docs/DECISIONS.md 28): on each day the rule
is the newest version effective by then of the nearest scope (the customer's dept, its ancestors, then
GLOBAL) that has one. A version applies until the next version of its scope takes effect; an EXPIRED
version is history, still in effect for the days before its successor (as a price version is).

What a payment covers first is a parameter too (Coverage): PENALTY_FIRST settles the penalties of the
chosen bills (oldest first) before any principal, PRINCIPAL_FIRST the principals first; the split itself
is `waterrev.payments.rules.allocate`.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from waterrev.errors import AppError, ErrorCode
from waterrev.money import FEN, money

ZERO = Decimal("0.00")

# The parameters (IF-REV-012, configType RULE) that configure the penalty.
RULE_CODE = "revenue.penalty.rule"  # the rule JSON, effective-dated and scoped
COVERAGE_CODE = "revenue.penalty.coverage"  # PENALTY_FIRST (default) | PRINCIPAL_FIRST
EXEMPT_WITHHOLDING_CODE = "revenue.penalty.exempt-withholding"  # true: an active 代扣 agreement exempts
EXEMPT_LOW_INCOME_CODE = "revenue.penalty.exempt-low-income"  # true: a 低保 customer is exempt
CODES = (RULE_CODE, COVERAGE_CODE, EXEMPT_WITHHOLDING_CODE, EXEMPT_LOW_INCOME_CODE)

MAX_GRACE_DAYS = 3650
MAX_DAILY_RATE = Decimal("0.1")


class PenaltyMode(StrEnum):
    NONE = "NONE"
    DAILY_RATE = "DAILY_RATE"
    FIXED = "FIXED"


class Coverage(StrEnum):
    """What a payment settles first."""

    PENALTY_FIRST = "PENALTY_FIRST"
    PRINCIPAL_FIRST = "PRINCIPAL_FIRST"


DEFAULT_COVERAGE = Coverage.PENALTY_FIRST


class Exemption(StrEnum):
    """Why a customer accrues no penalty."""

    WITHHOLDING = "WITHHOLDING"  # an active bank withholding agreement (biz_cust_withholding_rel SIGNED)
    LOW_INCOME = "LOW_INCOME"  # 低保 (biz_cust.low_income)


def round_fen(amount: Decimal) -> Decimal:
    """The one rounding rule (waterrev.money): half-up to the fen where an amount becomes a line."""
    return money(amount)


@dataclass(frozen=True)
class PenaltyRule:
    mode: PenaltyMode = PenaltyMode.NONE
    grace_days: int = 0
    daily_rate: Decimal = Decimal(0)  # a fraction of the unpaid principal per day: 0.0005 is 万分之五
    fixed_amount: Decimal = ZERO
    cap_amount: Decimal | None = None  # at most this per bill
    cap_rate: Decimal | None = None  # at most this fraction of the bill's principal

    def cap(self, principal: Decimal) -> Decimal:
        """The most a bill of this principal may accrue: never more than the principal."""
        cap = principal
        if self.cap_amount is not None:
            cap = min(cap, self.cap_amount)
        if self.cap_rate is not None:
            cap = min(cap, round_fen(principal * self.cap_rate))
        return max(cap, ZERO)


NO_PENALTY = PenaltyRule()


class RuleError(ValueError):
    """A rule document that cannot be used; the message names the field (configValue.<field>: why)."""


def _decimal(doc: Mapping[str, Any], key: str) -> Decimal | None:
    value = doc.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        raise RuleError(f'configValue.{key}: 须为数字（字符串形式，如 "0.0005"）')
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value))
    except InvalidOperation as exc:
        raise RuleError(f"configValue.{key}: 不是数字：{value!r}") from exc
    if not number.is_finite():
        raise RuleError(f"configValue.{key}: 不是有限数字")
    return number


def _money(doc: Mapping[str, Any], key: str) -> Decimal | None:
    number = _decimal(doc, key)
    if number is None:
        return None
    if number < 0 or number != number.quantize(FEN) or number.adjusted() > 11:
        raise RuleError(f"configValue.{key}: 须为不小于 0、最多两位小数的金额")
    return number.quantize(FEN)


_KEYS = {"mode", "graceDays", "dailyRate", "fixedAmount", "capAmount", "capRate", "remark"}


def parse_rule(value: str | Mapping[str, Any]) -> PenaltyRule:
    """The rule document (IF-REV-012 configValue of revenue.penalty.rule), e.g.
    {"mode": "DAILY_RATE", "graceDays": 10, "dailyRate": "0.0005", "capRate": "0.3"} or
    {"mode": "FIXED", "fixedAmount": "5.00"} or {"mode": "NONE"}. Raises RuleError naming the field."""
    if isinstance(value, str):
        try:
            doc = json.loads(value, parse_float=Decimal)
        except ValueError as exc:
            raise RuleError("configValue: 违约金规则须为 JSON 对象") from exc
    else:
        doc = value
    if not isinstance(doc, Mapping):
        raise RuleError("configValue: 违约金规则须为 JSON 对象")
    unknown = sorted(set(doc) - _KEYS)
    if unknown:
        raise RuleError(f"configValue.{unknown[0]}: 未知字段（可用：{', '.join(sorted(_KEYS))}）")
    try:
        mode = PenaltyMode(str(doc.get("mode")))
    except ValueError as exc:
        raise RuleError("configValue.mode: 须为 DAILY_RATE、FIXED 或 NONE") from exc
    grace = doc.get("graceDays", 0)
    if isinstance(grace, bool) or not isinstance(grace, int) or not 0 <= grace <= MAX_GRACE_DAYS:
        raise RuleError(f"configValue.graceDays: 须为 0-{MAX_GRACE_DAYS} 的整数（天）")
    rate = _decimal(doc, "dailyRate")
    fixed = _money(doc, "fixedAmount")
    cap_amount = _money(doc, "capAmount")
    cap_rate = _decimal(doc, "capRate")
    if mode is PenaltyMode.DAILY_RATE:
        if rate is None or not 0 < rate <= MAX_DAILY_RATE:
            raise RuleError(
                f"configValue.dailyRate: DAILY_RATE 须给出日费率，大于 0 且不超过 {MAX_DAILY_RATE}"
            )
    elif rate is not None:
        raise RuleError(f"configValue.dailyRate: 仅用于 DAILY_RATE（当前 mode 为 {mode}）")
    if mode is PenaltyMode.FIXED:
        if fixed is None or fixed <= 0:
            raise RuleError("configValue.fixedAmount: FIXED 须给出大于 0 的固定金额")
    elif fixed is not None:
        raise RuleError(f"configValue.fixedAmount: 仅用于 FIXED（当前 mode 为 {mode}）")
    if cap_rate is not None and not 0 < cap_rate <= 1:
        raise RuleError("configValue.capRate: 须大于 0 且不超过 1（本金的比例）")
    remark = doc.get("remark")
    if remark is not None and (not isinstance(remark, str) or len(remark) > 200):
        raise RuleError("configValue.remark: 须为不超过 200 字的文字")
    return PenaltyRule(
        mode=mode,
        grace_days=grace,
        daily_rate=rate if rate is not None else Decimal(0),
        fixed_amount=fixed if fixed is not None else ZERO,
        cap_amount=cap_amount,
        cap_rate=cap_rate,
    )


_FLAGS = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}


def parse_flag(value: str | None, default: bool = False) -> bool:
    if value is None:
        return default
    return _FLAGS.get(value.strip().lower(), default)


def parse_coverage(value: str | None) -> Coverage:
    try:
        return Coverage(value.strip().upper()) if value is not None else DEFAULT_COVERAGE
    except ValueError:
        return DEFAULT_COVERAGE


def check_parameter(code: str | None, value: str | None) -> None:
    """Refuse a penalty parameter IF-REV-012 is asked to save that the rules could not use
    (400 naming configValue). Other codes pass untouched."""
    if code not in CODES or value is None:
        return
    try:
        if code == RULE_CODE:
            parse_rule(value)
        elif code == COVERAGE_CODE:
            if value.strip().upper() not in Coverage.__members__:
                raise RuleError("configValue: 须为 PENALTY_FIRST 或 PRINCIPAL_FIRST")
        elif value.strip().lower() not in _FLAGS:
            raise RuleError("configValue: 须为 true 或 false")
    except RuleError as exc:
        raise AppError(ErrorCode.BAD_REQUEST, str(exc)) from exc


# ---- versions over time --------------------------------------------------------------------------
@dataclass(frozen=True)
class ScopedVersion:
    """One stored version of the rule as a customer sees it: how near its scope is (0 the customer's
    own dept, 1 its parent, ...; GLOBAL last), when it takes effect (None: since always) and its number."""

    scope_rank: int
    effective: dt.date | None
    version: int
    rule: PenaltyRule


@dataclass(frozen=True)
class RuleVersion:
    """The rule in effect from `effective` (None: since always) until the next one's."""

    effective: dt.date | None
    rule: PenaltyRule


def _since(effective: dt.date | None) -> int:
    return effective.toordinal() if effective is not None else 0


def timeline(versions: Iterable[ScopedVersion]) -> tuple[RuleVersion, ...]:
    """The rule in effect on every day, as a list of changes: on a day, among the versions effective by
    then, the nearest scope's newest (then highest-numbered) version. Before the first version: none."""
    stored = list(versions)
    changes: list[RuleVersion] = []
    for day in sorted({_since(v.effective) for v in stored}):
        effective = [v for v in stored if _since(v.effective) <= day]
        best = min(effective, key=lambda v: (v.scope_rank, -_since(v.effective), -v.version))
        if not changes or changes[-1].rule != best.rule:
            changes.append(RuleVersion(dt.date.fromordinal(day) if day else None, best.rule))
    return tuple(changes)


def rule_on(changes: Sequence[RuleVersion], day: dt.date) -> PenaltyRule:
    found = NO_PENALTY
    for change in changes:
        if _since(change.effective) > day.toordinal():
            break
        found = change.rule
    return found


# ---- one bill ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PrincipalPayment:
    """Principal paid on a bill by a payment whose penalty was settled as of `as_of`: from the next day
    on the principal is no longer unpaid."""

    as_of: dt.date
    amount: Decimal


@dataclass(frozen=True)
class PenaltyBill:
    """What the penalty needs to know of a bill."""

    principal: Decimal  # the bill's amount (biz_charge.total_amount)
    due_date: dt.date
    payments: tuple[PrincipalPayment, ...] = ()
    penalty_paid: Decimal = ZERO
    penalty_waived: Decimal = ZERO

    def unpaid_on(self, day: dt.date) -> Decimal:
        """The principal still unpaid during `day` (payments settled as of an earlier day)."""
        paid = sum((p.amount for p in self.payments if p.as_of < day), ZERO)
        return max(self.principal - paid, ZERO)


def accrued(bill: PenaltyBill, as_of: dt.date, changes: Sequence[RuleVersion]) -> Decimal:
    """The penalty accrued on `bill` through `as_of` (inclusive), capped and rounded to the fen.

    Computed over the stretches of days in which nothing changes - the rule, its grace, the unpaid
    principal - so its cost depends on the number of such changes, never on the number of days."""
    first = bill.due_date + dt.timedelta(days=1)
    if as_of < first or not changes:
        return ZERO
    end = as_of + dt.timedelta(days=1)
    points = {first, end}
    for change in changes:
        if change.effective is not None:
            points.add(change.effective)
        points.add(bill.due_date + dt.timedelta(days=change.rule.grace_days + 1))
    for payment in bill.payments:
        points.add(payment.as_of + dt.timedelta(days=1))
    edges = sorted(p for p in points if first <= p <= end)
    total = Decimal(0)
    fixed_charged = False
    for start, stop in itertools.pairwise(edges):
        rule = rule_on(changes, start)
        if rule.mode is PenaltyMode.NONE or start <= bill.due_date + dt.timedelta(days=rule.grace_days):
            continue
        base = bill.unpaid_on(start)
        if base <= 0:
            continue
        if rule.mode is PenaltyMode.DAILY_RATE:
            step = rule.daily_rate * base * (stop - start).days
        elif fixed_charged:
            continue
        else:
            step, fixed_charged = rule.fixed_amount, True
        cap = rule.cap(bill.principal)
        if total < cap:
            total = min(total + step, cap)
    return round_fen(total)


def owed(
    bill: PenaltyBill, as_of: dt.date, changes: Sequence[RuleVersion], *, exempt: bool = False
) -> Decimal:
    """The penalty still owed on `bill` as of `as_of`: accrued less paid and waived, never below zero;
    nothing for an exempt customer."""
    if exempt:
        return ZERO
    return max(accrued(bill, as_of, changes) - bill.penalty_paid - bill.penalty_waived, ZERO)
