"""Tier arithmetic, property-based: for any usage and any tier table the lines sum to the total,
no tier is billed twice, the tier quantities add up to the usage, and totals never fall as usage
grows."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from waterrev.pricing.tariff import Component, Tariff, TierMode, effective_bounds, price, split, total

quantities = st.decimals(min_value=0, max_value=5000, places=2, allow_nan=False, allow_infinity=False)
prices = st.decimals(min_value=0, max_value=50, places=4, allow_nan=False, allow_infinity=False)


@st.composite
def tariffs(draw: st.DrawFn) -> Tariff:
    widths = draw(st.lists(st.decimals(min_value=1, max_value=500, places=2), min_size=0, max_size=4))
    bounds: list[Decimal] = []
    for w in widths:
        bounds.append((bounds[-1] if bounds else Decimal(0)) + w)
    tiers = len(bounds) + 1
    components = tuple(
        Component(f"C{i}", f"component {i}", Decimal("0.09"), tuple(draw(prices) for _ in range(tiers)))
        for i in range(draw(st.integers(min_value=1, max_value=4)))
    )
    steps = tuple(draw(st.decimals(min_value=0, max_value=100, places=2)) for _ in bounds)
    return Tariff(
        1, draw(st.sampled_from(TierMode)), tuple(bounds), components, draw(st.integers(1, 6)), steps
    )


@settings(max_examples=1000, deadline=None)
@given(tariffs(), quantities, quantities, st.integers(min_value=1, max_value=12))
def test_lines_sum_to_total_and_cover_the_usage_once(
    tariff: Tariff, usage: Decimal, before: Decimal, population: int
) -> None:
    lines = price(tariff, usage, population, before)
    assert total(lines) == sum((line.amount for line in lines), Decimal("0"))
    for component in tariff.components:
        own = [line for line in lines if line.component == component.code]
        tiers = [line.tier_no for line in own]
        assert len(tiers) == len(set(tiers)), "a tier billed twice"
        assert sum((line.quantity for line in own), Decimal("0")) == usage
        assert all(line.quantity > 0 for line in own)
        assert all(
            line.amount == (line.quantity * line.unit_price).quantize(Decimal("0.01"), "ROUND_HALF_UP")
            for line in own
        )


@settings(max_examples=1000, deadline=None)
@given(tariffs(), quantities, quantities, quantities, st.integers(min_value=1, max_value=12))
def test_total_is_monotonic_in_usage(
    tariff: Tariff, a: Decimal, b: Decimal, before: Decimal, population: int
) -> None:
    low, high = sorted((a, b))
    assert total(price(tariff, low, population, before)) <= total(price(tariff, high, population, before))


@settings(max_examples=1000, deadline=None)
@given(tariffs(), st.integers(min_value=1, max_value=12), st.integers(min_value=1, max_value=12))
def test_more_people_never_narrow_a_tier(tariff: Tariff, p1: int, p2: int) -> None:
    small, large = sorted((p1, p2))
    assert all(
        s <= g for s, g in zip(effective_bounds(tariff, small), effective_bounds(tariff, large), strict=True)
    )


def test_annual_tiers_count_usage_already_billed_this_year() -> None:
    """Given annual tiers 0-216-300 and 210 m3 billed, 10 m3 more are 6 in tier 1 and 4 in tier 2."""
    assert split((Decimal(216), Decimal(300)), Decimal(210), Decimal(10)) == [
        (1, Decimal(6)),
        (2, Decimal(4)),
    ]


def test_monthly_tiers_start_from_zero_every_bill() -> None:
    water = Component("WATER_FEE", "水费", Decimal("0.09"), (Decimal("2.80"), Decimal("3.90")))
    tariff = Tariff(1, TierMode.MONTHLY, (Decimal(18),), (water,))
    lines = price(tariff, Decimal(20), billed_this_year=Decimal(500))
    assert [(line.tier_no, line.quantity, line.amount) for line in lines] == [
        (1, Decimal(18), Decimal("50.40")),
        (2, Decimal(2), Decimal("7.80")),
    ]


def test_line_amounts_round_half_up_to_the_fen() -> None:
    """Given 3.333 x 1.5 = 4.9995, the line is 5.00 (half-up), and the total is the sum of lines."""
    fee = Component("WATER_FEE", "水费", Decimal("0"), (Decimal("1.5"),))
    lines = price(Tariff(1, TierMode.MONTHLY, (), (fee,)), Decimal("3.333"))
    assert lines[0].amount == Decimal("5.00") and total(lines) == Decimal("5.00")


@pytest.mark.parametrize(
    "bounds, prices_per_tier",
    [((Decimal(10), Decimal(5)), 3), ((Decimal(0),), 2), ((Decimal(10),), 3)],
)
def test_malformed_tables_are_refused(bounds: tuple[Decimal, ...], prices_per_tier: int) -> None:
    with pytest.raises(ValueError):
        Tariff(
            1, TierMode.MONTHLY, bounds, (Component("W", "w", Decimal(0), (Decimal(1),) * prices_per_tier),)
        )
