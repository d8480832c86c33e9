"""The late-payment penalty (违约金) as pure rules, property-based: accrual day by day on the principal
unpaid that day, under the rule version in effect that day, after the grace period, within the cap,
rounded once to the fen; never negative, never above the cap, monotone in the day, zero within the
grace period, never raised by a payment; the rule documents IF-REV-012 accepts; the versions over time
by scope; and the split of a payment between penalty and principal by the coverage order."""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from waterrev.billing import penalty
from waterrev.billing.penalty import (
    PenaltyBill,
    PenaltyMode,
    PenaltyRule,
    PrincipalPayment,
    RuleVersion,
    ScopedVersion,
    accrued,
    owed,
    parse_rule,
    timeline,
)
from waterrev.domain.states import BillStatus
from waterrev.errors import AppError
from waterrev.payments.rules import Bill, allocate

ZERO = Decimal("0.00")
DUE = dt.date(2026, 1, 15)
DAY = dt.timedelta(days=1)


def fen(low: int, high: int) -> st.SearchStrategy[Decimal]:
    return st.integers(low, high).map(lambda n: Decimal(n).scaleb(-2))


def rules_() -> st.SearchStrategy[PenaltyRule]:
    caps = st.one_of(st.none(), fen(0, 50_000))
    cap_rates = st.one_of(st.none(), st.integers(1, 100).map(lambda n: Decimal(n).scaleb(-2)))
    grace = st.integers(0, 40)
    daily = st.builds(
        PenaltyRule,
        mode=st.just(PenaltyMode.DAILY_RATE),
        grace_days=grace,
        daily_rate=st.integers(1, 5000).map(lambda n: Decimal(n).scaleb(-6)),
        cap_amount=caps,
        cap_rate=cap_rates,
    )
    fixed = st.builds(
        PenaltyRule,
        mode=st.just(PenaltyMode.FIXED),
        grace_days=grace,
        fixed_amount=fen(1, 10_000),
        cap_amount=caps,
        cap_rate=cap_rates,
    )
    return st.one_of(daily, daily, fixed, st.just(PenaltyRule()))


@st.composite
def changes_(draw: st.DrawFn) -> tuple[RuleVersion, ...]:
    """One to three rule versions, the first in effect since always or from some day around the due date."""
    count = draw(st.integers(1, 3))
    offsets = sorted(draw(st.lists(st.integers(-30, 120), min_size=count, max_size=count, unique=True)))
    versions = []
    for index, offset in enumerate(offsets):
        since = None if index == 0 and draw(st.booleans()) else DUE + dt.timedelta(days=offset)
        versions.append(RuleVersion(since, draw(rules_())))
    return tuple(versions)


@st.composite
def bills_(draw: st.DrawFn) -> PenaltyBill:
    principal = draw(fen(1, 200_000))
    payments = []
    left = principal
    for _ in range(draw(st.integers(0, 3))):
        if left <= 0:
            break
        amount = draw(fen(1, int(left * 100)))
        payments.append(PrincipalPayment(DUE + dt.timedelta(days=draw(st.integers(-10, 150))), amount))
        left -= amount
    return PenaltyBill(principal, DUE, tuple(sorted(payments, key=lambda p: p.as_of)))


def days_after_due() -> st.SearchStrategy[dt.date]:
    return st.integers(-5, 400).map(lambda n: DUE + dt.timedelta(days=n))


def rule_on(changes: tuple[RuleVersion, ...], day: dt.date) -> PenaltyRule:
    found = PenaltyRule()
    for change in changes:
        if change.effective is None or change.effective <= day:
            found = change.rule
    return found


def day_by_day(bill: PenaltyBill, as_of: dt.date, changes: tuple[RuleVersion, ...]) -> Decimal:
    """The definition, one day at a time: what the segment computation must equal."""
    total = Decimal(0)
    fixed = False
    day = bill.due_date + DAY
    while day <= as_of:
        rule = rule_on(changes, day)
        base = bill.principal - sum((p.amount for p in bill.payments if p.as_of < day), ZERO)
        if (
            rule.mode is not PenaltyMode.NONE
            and day > bill.due_date + dt.timedelta(days=rule.grace_days)
            and base > 0
        ):
            if rule.mode is PenaltyMode.DAILY_RATE:
                step = rule.daily_rate * base
            elif not fixed:
                step, fixed = rule.fixed_amount, True
            else:
                step = Decimal(0)
            cap = rule.cap(bill.principal)
            if total < cap:
                total = min(total + step, cap)
        day += DAY
    return total.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


# ---- accrual ---------------------------------------------------------------------------------------
@settings(max_examples=1000, deadline=None)
@given(bills_(), days_after_due(), changes_())
def test_the_stretches_add_up_to_the_day_by_day_definition(
    bill: PenaltyBill, as_of: dt.date, changes: tuple[RuleVersion, ...]
) -> None:
    """Given any bill, day and rule versions, the penalty computed over stretches of unchanged days equals
    the day-by-day accrual: the rate of each day's rule on that day's unpaid principal, after that rule's
    grace, within that day's cap, rounded once."""
    assert accrued(bill, as_of, changes) == day_by_day(bill, as_of, changes)


@settings(max_examples=1000, deadline=None)
@given(bills_(), days_after_due(), changes_())
def test_never_negative_never_above_the_cap_and_in_whole_fen(
    bill: PenaltyBill, as_of: dt.date, changes: tuple[RuleVersion, ...]
) -> None:
    """Given any case, the penalty is between zero and the largest cap any version puts on the bill (never
    more than the principal), in whole fen."""
    got = accrued(bill, as_of, changes)
    assert ZERO <= got <= max(c.rule.cap(bill.principal) for c in changes) <= bill.principal
    assert got == got.quantize(Decimal("0.01"))


@settings(max_examples=1000, deadline=None)
@given(bills_(), rules_(), days_after_due())
def test_one_rule_never_exceeds_its_cap(bill: PenaltyBill, rule: PenaltyRule, as_of: dt.date) -> None:
    """Given a single rule, the penalty never exceeds that rule's cap."""
    assert accrued(bill, as_of, (RuleVersion(None, rule),)) <= rule.cap(bill.principal)


@settings(max_examples=1000, deadline=None)
@given(bills_(), days_after_due(), st.integers(1, 400), changes_())
def test_monotone_in_the_day(
    bill: PenaltyBill, as_of: dt.date, later_by: int, changes: tuple[RuleVersion, ...]
) -> None:
    """Given a day and a later day, the penalty as of the later day is at least the earlier one's."""
    later = as_of + dt.timedelta(days=later_by)
    assert accrued(bill, later, changes) >= accrued(bill, as_of, changes)


@settings(max_examples=1000, deadline=None)
@given(fen(1, 200_000), rules_(), st.integers(-30, 40))
def test_zero_within_the_grace_period(principal: Decimal, rule: PenaltyRule, offset: int) -> None:
    """Given a bill and a rule, on any day up to the due date plus the grace days nothing has accrued."""
    as_of = DUE + dt.timedelta(days=min(offset, rule.grace_days))
    assert accrued(PenaltyBill(principal, DUE), as_of, (RuleVersion(None, rule),)) == ZERO


@settings(max_examples=1000, deadline=None)
@given(bills_(), days_after_due(), changes_(), st.integers(-10, 200), st.integers(1, 100))
def test_a_payment_never_increases_it(
    bill: PenaltyBill, as_of: dt.date, changes: tuple[RuleVersion, ...], paid_on: int, share: int
) -> None:
    """Given a bill, one more principal payment (settled any day) never raises the penalty accrued, and a
    penalty paid or waived lowers what is owed by as much, never below zero."""
    left = bill.unpaid_on(dt.date.max)
    assume(left > 0)
    amount = max((left * share / 100).quantize(Decimal("0.01")), Decimal("0.01"))
    payment = PrincipalPayment(DUE + dt.timedelta(days=paid_on), min(amount, left))
    paid = PenaltyBill(bill.principal, bill.due_date, (*bill.payments, payment))
    assert accrued(paid, as_of, changes) <= accrued(bill, as_of, changes)
    before = owed(bill, as_of, changes)
    settled = PenaltyBill(bill.principal, bill.due_date, bill.payments, penalty_paid=Decimal("1.00"))
    waived = PenaltyBill(bill.principal, bill.due_date, bill.payments, penalty_waived=Decimal("1.00"))
    assert owed(settled, as_of, changes) == owed(waived, as_of, changes) == max(before - 1, ZERO)


@given(bills_(), days_after_due(), changes_())
def test_an_exempt_customer_owes_nothing(
    bill: PenaltyBill, as_of: dt.date, changes: tuple[RuleVersion, ...]
) -> None:
    """Given any case, an exempt customer's bill owes no penalty."""
    assert owed(bill, as_of, changes, exempt=True) == ZERO


def test_the_rate_applies_to_the_principal_unpaid_on_each_day() -> None:
    """Given 100.00 due 15 Jan, 5 grace days and 0.1% a day, half paid as of 25 Jan: 21-25 Jan accrue 0.10 a
    day on 100.00, 26-31 Jan 0.05 a day on 50.00: 0.80 as of 31 Jan; nothing up to 20 Jan."""
    rule = PenaltyRule(PenaltyMode.DAILY_RATE, grace_days=5, daily_rate=Decimal("0.001"))
    changes = (RuleVersion(None, rule),)
    bill = PenaltyBill(Decimal("100.00"), DUE, (PrincipalPayment(dt.date(2026, 1, 25), Decimal("50.00")),))
    assert accrued(bill, dt.date(2026, 1, 20), changes) == ZERO
    assert accrued(bill, dt.date(2026, 1, 21), changes) == Decimal("0.10")
    assert accrued(bill, dt.date(2026, 1, 31), changes) == Decimal("0.80")


def test_rounded_once_half_up_not_day_by_day() -> None:
    """Given 33.33 at 0.05% a day, three days accrue 0.049995, which rounds to 0.05 (day by day, three
    rounded 0.02s would make 0.06)."""
    changes = (RuleVersion(None, PenaltyRule(PenaltyMode.DAILY_RATE, daily_rate=Decimal("0.0005"))),)
    assert accrued(PenaltyBill(Decimal("33.33"), DUE), DUE + 3 * DAY, changes) == Decimal("0.05")


def test_a_fixed_amount_once_and_the_caps() -> None:
    """Given FIXED 5.00, the bill owes 5.00 from the first day past grace, once; capped by capAmount, by
    capRate of the principal, and never above the principal."""
    fixed = PenaltyRule(PenaltyMode.FIXED, grace_days=2, fixed_amount=Decimal("5.00"))
    bill = PenaltyBill(Decimal("80.00"), DUE)
    assert accrued(bill, DUE + 2 * DAY, (RuleVersion(None, fixed),)) == ZERO
    assert accrued(bill, DUE + 3 * DAY, (RuleVersion(None, fixed),)) == Decimal("5.00")
    assert accrued(bill, DUE + 300 * DAY, (RuleVersion(None, fixed),)) == Decimal("5.00")
    daily = PenaltyRule(PenaltyMode.DAILY_RATE, daily_rate=Decimal("0.01"))
    far = DUE + 1000 * DAY
    assert accrued(bill, far, (RuleVersion(None, daily),)) == Decimal("80.00")
    capped = PenaltyRule(PenaltyMode.DAILY_RATE, daily_rate=Decimal("0.01"), cap_amount=Decimal("12.00"))
    assert accrued(bill, far, (RuleVersion(None, capped),)) == Decimal("12.00")
    rated = PenaltyRule(PenaltyMode.DAILY_RATE, daily_rate=Decimal("0.01"), cap_rate=Decimal("0.3"))
    assert accrued(bill, far, (RuleVersion(None, rated),)) == Decimal("24.00")


def test_a_new_version_changes_the_rate_from_its_day() -> None:
    """Given 0.1% a day until 31 Jan and 0.2% from 1 Feb, 100.00 due 15 Jan accrues 16 x 0.10 then 0.20 a day."""
    changes = (
        RuleVersion(None, PenaltyRule(PenaltyMode.DAILY_RATE, daily_rate=Decimal("0.001"))),
        RuleVersion(dt.date(2026, 2, 1), PenaltyRule(PenaltyMode.DAILY_RATE, daily_rate=Decimal("0.002"))),
    )
    bill = PenaltyBill(Decimal("100.00"), DUE)
    assert accrued(bill, dt.date(2026, 1, 31), changes) == Decimal("1.60")
    assert accrued(bill, dt.date(2026, 2, 3), changes) == Decimal("2.20")


# ---- versions over time, by scope --------------------------------------------------------------------
def _daily(rate: str) -> PenaltyRule:
    return PenaltyRule(PenaltyMode.DAILY_RATE, daily_rate=Decimal(rate))


def test_the_nearest_scope_with_a_version_effective_that_day_wins() -> None:
    """Given a GLOBAL rule since always, the dept's own from 1 Mar, the parent's from 1 Feb, and a newer
    GLOBAL version from 1 Apr: GLOBAL until Feb, the parent's in Feb, the dept's from Mar (a newer GLOBAL
    version does not displace a nearer scope)."""
    versions = [
        ScopedVersion(1_000_000, None, 1, _daily("0.001")),
        ScopedVersion(0, dt.date(2026, 3, 1), 3, _daily("0.003")),
        ScopedVersion(1, dt.date(2026, 2, 1), 2, _daily("0.002")),
        ScopedVersion(1_000_000, dt.date(2026, 4, 1), 4, _daily("0.004")),
    ]
    assert timeline(versions) == (
        RuleVersion(None, _daily("0.001")),
        RuleVersion(dt.date(2026, 2, 1), _daily("0.002")),
        RuleVersion(dt.date(2026, 3, 1), _daily("0.003")),
    )


def test_within_a_scope_the_newest_effective_then_the_highest_version() -> None:
    """Given two versions of one scope effective the same day, the higher-numbered one applies."""
    versions = [
        ScopedVersion(0, dt.date(2026, 1, 1), 1, _daily("0.001")),
        ScopedVersion(0, dt.date(2026, 1, 1), 2, _daily("0.002")),
    ]
    assert timeline(versions) == (RuleVersion(dt.date(2026, 1, 1), _daily("0.002")),)
    assert timeline([]) == ()


# ---- the documents IF-REV-012 takes ------------------------------------------------------------------
def test_rule_documents_parse_and_refuse_naming_the_field() -> None:
    """Given rule documents, valid ones parse; each invalid one is refused naming configValue.<field>."""
    assert parse_rule(
        '{"mode": "DAILY_RATE", "graceDays": 10, "dailyRate": "0.0005", "capRate": "0.3"}'
    ) == PenaltyRule(PenaltyMode.DAILY_RATE, 10, Decimal("0.0005"), cap_rate=Decimal("0.3"))
    assert parse_rule('{"mode": "FIXED", "fixedAmount": "5.00"}').fixed_amount == Decimal("5.00")
    assert parse_rule('{"mode": "NONE"}') == PenaltyRule()
    for document, field in (
        ("[]", "configValue"),
        ("not json", "configValue"),
        ('{"mode": "WEEKLY"}', "configValue.mode"),
        ('{"mode": "DAILY_RATE"}', "configValue.dailyRate"),
        ('{"mode": "DAILY_RATE", "dailyRate": "0.5"}', "configValue.dailyRate"),
        ('{"mode": "DAILY_RATE", "dailyRate": 0.0005, "graceDays": -1}', "configValue.graceDays"),
        ('{"mode": "FIXED"}', "configValue.fixedAmount"),
        ('{"mode": "FIXED", "fixedAmount": "5.001"}', "configValue.fixedAmount"),
        ('{"mode": "NONE", "dailyRate": "0.001"}', "configValue.dailyRate"),
        ('{"mode": "NONE", "capRate": "1.5"}', "configValue.capRate"),
        ('{"mode": "NONE", "rate": "1"}', "configValue.rate"),
        ('{"mode": "NONE", "graceDays": true}', "configValue.graceDays"),
    ):
        with pytest.raises(penalty.RuleError) as caught:
            parse_rule(document)
        assert str(caught.value).split(":")[0] == field, (document, caught.value)


def test_check_parameter_refuses_what_the_rules_could_not_use() -> None:
    """Given the penalty parameters, IF-REV-012's check passes good values and other codes, and answers
    400 for a bad rule, coverage order or flag."""
    penalty.check_parameter("revenue.penalty.rule", '{"mode": "NONE"}')
    penalty.check_parameter("revenue.penalty.coverage", "principal_first")
    penalty.check_parameter("revenue.penalty.exempt-low-income", "true")
    penalty.check_parameter("revenue.collection.allow-partial", "whatever")
    for code, value in (
        ("revenue.penalty.rule", '{"mode": "X"}'),
        ("revenue.penalty.coverage", "OLDEST_FIRST"),
        ("revenue.penalty.exempt-withholding", "maybe"),
    ):
        with pytest.raises(AppError) as caught:
            penalty.check_parameter(code, value)
        assert caught.value.error.code == 400 and "configValue" in caught.value.msg


# ---- coverage: what a payment settles first --------------------------------------------------------
@st.composite
def owing_bills(draw: st.DrawFn) -> tuple[Decimal, list[Bill]]:
    bills = []
    for charge_id in draw(st.lists(st.integers(1, 10_000), unique=True, min_size=1, max_size=5)):
        total = draw(fen(1, 100_000))
        paid = draw(st.one_of(st.just(ZERO), fen(0, int(total * 100))))
        status = BillStatus.UNPAID if paid == 0 else BillStatus.PARTIAL
        pen = draw(st.one_of(st.just(ZERO), fen(1, 20_000)))
        bills.append(Bill(charge_id, draw(st.sampled_from(("2025-11", "2025-12"))), total, paid, status, pen))
    owed_all = int(sum((b.due for b in bills), ZERO) * 100)
    return draw(
        st.one_of(fen(0, owed_all), st.just(Decimal(owed_all).scaleb(-2)), fen(0, owed_all * 2))
    ), bills


@settings(max_examples=1000, deadline=None)
@given(owing_bills(), st.booleans())
def test_the_coverage_order_decides_the_split(case: tuple[Decimal, list[Bill]], penalty_first: bool) -> None:
    """Given bills owing principal and penalty, a payment covers all the penalties before any principal
    (PENALTY_FIRST) or all the principals first (PRINCIPAL_FIRST); each part is a line of its own, nothing
    is lost, no bill gets more than it owes, and a bill is PAID exactly when both are settled."""
    amount, bills = case
    result = allocate(amount, bills, penalty_first=penalty_first)
    by_id = {b.charge_id: b for b in bills}
    pen = sum((line.penalty for line in result.lines), ZERO)
    principal = sum((line.amount for line in result.lines), ZERO)
    all_pen = sum((b.penalty for b in bills), ZERO)
    all_principal = sum((b.owed for b in bills), ZERO)
    assert pen + principal + result.to_balance == amount
    first, second, first_total = (
        (pen, principal, all_pen) if penalty_first else (principal, pen, all_principal)
    )
    assert first == min(amount, first_total)
    if second > 0:
        assert first == first_total
    for line in result.lines:
        bill = by_id[line.charge_id]
        assert ZERO <= line.penalty <= bill.penalty and ZERO <= line.amount <= bill.owed
        settled = line.paid_after == bill.total and line.penalty == bill.penalty
        assert (line.status_after is BillStatus.PAID) == settled
