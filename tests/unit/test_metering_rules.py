"""Usage from readings and the warn-ratio check, property-based: usage is never negative (what an
estimate over-counted is carried, negative, to the next reading - the one documented exception, and it
is a carry, not a usage); nothing is lost over a run of readings; a rollover adds exactly the rest of
the dial; a reading below the last one is refused exactly when nothing explains it."""

from __future__ import annotations

from decimal import ROUND_CEILING, Decimal
from typing import TypedDict

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from waterrev.domain.states import ValidateStatus
from waterrev.metering.rules import (
    BelowLastReading,
    exceeds_warn_ratio,
    is_rollover,
    usage_from_readings,
    validate,
)

ZERO = Decimal("0.00")
MAXIMA = (Decimal("999.99"), Decimal("9999"), Decimal("99999"))


def places2(low: int, high: int) -> st.SearchStrategy[Decimal]:
    return st.integers(low, high).map(lambda n: Decimal(n).scaleb(-2))


class Case(TypedDict):
    last: Decimal
    current: Decimal
    maximum: Decimal
    carry_in: Decimal
    carried: Decimal
    last_estimated: bool
    approved_new_base: bool


@st.composite
def readings(draw: st.DrawFn) -> Case:
    maximum = draw(st.sampled_from(MAXIMA))
    dial = places2(0, int(maximum * 100))
    return {
        "last": draw(dial),
        "current": draw(dial),
        "maximum": maximum,
        "carry_in": draw(st.one_of(st.just(ZERO), places2(-50_000, 0))),
        "carried": draw(st.one_of(st.just(ZERO), places2(0, 50_000))),
        "last_estimated": draw(st.booleans()),
        "approved_new_base": draw(st.booleans()),
    }


def dial_delta(case: Case, rollover: bool, new_base: bool) -> Decimal:
    if new_base:
        return ZERO
    if rollover:
        return case["maximum"] - case["last"] + case["current"]
    return case["current"] - case["last"]


@settings(max_examples=1000, deadline=None)
@given(readings())
def test_usage_is_never_negative_and_the_carry_keeps_the_rest(case: Case) -> None:
    try:
        result = usage_from_readings(**case)
    except BelowLastReading:
        return
    assert result.usage >= 0
    assert result.carry <= 0
    assert result.carry == 0 or result.usage == 0
    raw = dial_delta(case, result.rollover, result.new_base) + case["carry_in"] + case["carried"]
    assert result.usage + result.carry == raw


@settings(max_examples=1000, deadline=None)
@given(readings())
def test_refused_exactly_when_nothing_explains_a_lower_reading(case: Case) -> None:
    last, current, maximum = case["last"], case["current"], case["maximum"]
    unexplained = (
        current < last
        and not case["approved_new_base"]
        and not case["last_estimated"]
        and not is_rollover(last, current, maximum)
    )
    if unexplained:
        with pytest.raises(BelowLastReading):
            usage_from_readings(**case)
    else:
        result = usage_from_readings(**case)
        if current >= last:
            assert not (result.rollover or result.new_base or result.true_up)


@settings(max_examples=1000, deadline=None)
@given(st.sampled_from(MAXIMA), st.data())
def test_a_rollover_adds_exactly_the_rest_of_the_dial(maximum: Decimal, data: st.DataObject) -> None:
    """Given the last reading in the top 10% of the dial and this one in the bottom 10%, usage is what
    turned past the maximum: the dial read last + usage - maximum = current, and it is at most a fifth
    of the dial."""
    top = data.draw(places2(int((maximum * 90).to_integral_value(ROUND_CEILING)), int(maximum * 100)))
    bottom = data.draw(places2(0, int(maximum * 10)))
    assume(bottom < top)
    result = usage_from_readings(last=top, current=bottom, maximum=maximum)
    assert result.rollover and result.carry == 0
    assert top + result.usage - maximum == bottom
    assert 0 <= result.usage <= maximum / 5


@settings(max_examples=1000, deadline=None)
@given(
    st.lists(st.tuples(places2(0, 1_000_000), st.booleans()), min_size=1, max_size=8), places2(0, 1_000_000)
)
def test_over_a_run_of_readings_nothing_is_lost(steps: list[tuple[Decimal, bool]], start: Decimal) -> None:
    """Given readings that each go up by some amount, some of them estimates that the next real reading
    corrects downwards, the usages billed plus the carry left add up to the meter's real advance."""
    last, carry, estimated, billed = start, ZERO, False, ZERO
    real = start
    for advance, is_estimate in steps:
        real += advance
        # an estimate reads high; the real reading after it is the meter's own
        reading = real + Decimal("5.00") if is_estimate else real
        result = usage_from_readings(
            last=last, current=reading, maximum=Decimal("99999"), carry_in=carry, last_estimated=estimated
        )
        billed += result.usage
        last, carry, estimated = reading, result.carry, is_estimate
    assert billed + carry == last - start


@settings(max_examples=1000, deadline=None)
@given(places2(0, 100_000), places2(0, 100_000), places2(1, 1_000))
def test_the_warn_check_grows_with_usage(low: Decimal, high: Decimal, average: Decimal) -> None:
    low, high = sorted((low, high))
    ratio = Decimal("3")
    assert not exceeds_warn_ratio(low, average, ratio) or exceeds_warn_ratio(high, average, ratio)
    assert not exceeds_warn_ratio(average * ratio, average, ratio)  # at the limit is not above it
    assert not exceeds_warn_ratio(high, None, ratio) and not exceeds_warn_ratio(high, ZERO, ratio)


@settings(max_examples=1000, deadline=None)
@given(places2(0, 100_000), st.one_of(st.none(), places2(0, 1_000)), st.booleans())
def test_an_estimate_is_never_held_and_a_flag_always_is(
    usage: Decimal, average: Decimal | None, abnormal: bool
) -> None:
    ratio = Decimal("3")
    assert validate(usage, average, ratio, abnormal=abnormal, estimated=True) is ValidateStatus.PASS
    verdict = validate(usage, average, ratio, abnormal=abnormal, estimated=False)
    expected = abnormal or exceeds_warn_ratio(usage, average, ratio)
    assert verdict is (ValidateStatus.WARN if expected else ValidateStatus.PASS)


def test_the_decisions_examples() -> None:
    """DECISIONS 12: 99,990 then 10 on a 99,999 dial is a rollover of 19; an approved lower reading
    is a new start; below an estimate the difference is carried."""
    assert usage_from_readings(last=Decimal(99990), current=Decimal(10), maximum=Decimal(99999)).usage == 19
    approved = usage_from_readings(
        last=Decimal(500), current=Decimal(100), maximum=Decimal(99999), approved_new_base=True
    )
    assert (approved.usage, approved.new_base) == (0, True)
    true_up = usage_from_readings(
        last=Decimal(120), current=Decimal(110), maximum=Decimal(99999), last_estimated=True
    )
    assert (true_up.usage, true_up.carry, true_up.true_up) == (0, Decimal(-10), True)
    with pytest.raises(BelowLastReading):
        usage_from_readings(last=Decimal(500), current=Decimal(100), maximum=Decimal(99999))
