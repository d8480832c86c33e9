"""The pure rules of a bill beyond one tariff (waterrev.billing.rules), property-based where a rule has
properties: cutting a quantity (allot) sums exactly and never goes negative; mixed-use parts sum to the
usage, quantities first; a reading interval is cut exactly where the pricing version changes; a
prorated bill covers the whole usage and its amounts are the one rounding rule on exact quantities; the
minimum usage and fixed charges give the bill the rule says for zero usage; a price difference applied
twice is nothing the second time; a deduction pays no more than the balance or the debt, oldest first."""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import ROUND_HALF_UP, Decimal

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from waterrev.billing.rules import (
    LineKind,
    PartInput,
    PricedSegment,
    SplitMode,
    SplitPart,
    Timeline,
    Version,
    allot,
    check_split,
    compose,
    designated_part,
    plan_deduction,
    price_difference,
    prorated_bounds,
    split_usage,
)
from waterrev.payments.rules import Bill, allocate
from waterrev.pricing.tariff import Component, FixedCharge, Tariff, TierMode, effective_bounds, price

D = Decimal
M3 = D("0.01")
FEN = D("0.01")
quantities = st.decimals(min_value=0, max_value=5000, places=2, allow_nan=False, allow_infinity=False)
prices = st.decimals(min_value=0, max_value=50, places=4, allow_nan=False, allow_infinity=False)


def tariff(
    template_id: int = 1,
    bounds: tuple[str, ...] = ("10", "20"),
    water: tuple[str, ...] = ("2.00", "3.00", "4.00"),
    mode: TierMode = TierMode.MONTHLY,
    minimum: str | None = None,
    fixed: tuple[FixedCharge, ...] = (),
    code: str = "RES",
) -> Tariff:
    return Tariff(
        template_id,
        mode,
        tuple(D(b) for b in bounds),
        (
            Component("WATER_FEE", "水费", D("0.09"), tuple(D(p) for p in water)),
            Component("SEWAGE_FEE", "污水处理费", D("0"), tuple(D("1.00") for _ in water)),
        ),
        1,
        (),
        None if minimum is None else D(minimum),
        fixed,
        code,
        template_id,
    )


@st.composite
def tariffs(draw: st.DrawFn, template_id: int = 1) -> Tariff:
    widths = draw(st.lists(st.decimals(min_value=1, max_value=300, places=2), min_size=0, max_size=3))
    bounds: list[Decimal] = []
    for w in widths:
        bounds.append((bounds[-1] if bounds else D(0)) + w)
    tiers = len(bounds) + 1
    components = tuple(
        Component(f"C{i}", f"component {i}", D("0.09"), tuple(draw(prices) for _ in range(tiers)))
        for i in range(draw(st.integers(min_value=1, max_value=3)))
    )
    return Tariff(template_id, TierMode.MONTHLY, tuple(bounds), components, 1, (), None, (), "F", template_id)


# ------------------------------------------------------------------------------------ allot ---
@settings(max_examples=1000, deadline=None)
@given(
    quantities,
    st.lists(st.integers(min_value=0, max_value=400), min_size=1, max_size=6),
    st.data(),
)
def test_allot_sums_exactly_and_never_goes_negative(
    total: Decimal, weights: list[int], data: st.DataObject
) -> None:
    assume(sum(weights) > 0)
    designated = data.draw(st.integers(min_value=0, max_value=len(weights) - 1))
    parts = allot(total, weights, designated)
    assert sum(parts, D(0)) == total
    assert all(p >= 0 and p == p.quantize(M3) for p in parts)
    whole = sum(weights)
    for i, (part, w) in enumerate(zip(parts, weights, strict=True)):
        exact = total * w / whole
        if i == designated:
            assert part >= exact - D("1e-20")  # the designated part is never short
        else:
            assert exact - M3 < part <= exact  # the others: their exact share, truncated to 0.01


def test_allot_refuses_what_cannot_be_cut() -> None:
    with pytest.raises(ValueError):
        allot(D("1"), [0, 0], 0)
    with pytest.raises(ValueError):
        allot(D("-1"), [1], 0)
    with pytest.raises(ValueError):
        allot(D("1"), [1, 1], 2)


# ------------------------------------------------------------------------------- mixed use ---
@st.composite
def splits(draw: st.DrawFn) -> list[SplitPart]:
    cuts = sorted(draw(st.sets(st.integers(min_value=1, max_value=9999), max_size=4)))
    ratios = [D(b - a) / D(10000) for a, b in zip([0, *cuts], [*cuts, 10000], strict=True)]
    parts = [SplitPart(f"R{i}", SplitMode.RATIO, r) for i, r in enumerate(ratios)]
    fixed = draw(st.lists(st.decimals(min_value=D("0.01"), max_value=200, places=2), max_size=3))
    parts += [SplitPart(f"Q{i}", SplitMode.QUANTITY, q) for i, q in enumerate(fixed)]
    return draw(st.permutations(parts))


@settings(max_examples=1000, deadline=None)
@given(quantities, splits())
def test_mixed_use_parts_sum_to_the_usage_quantities_first(usage: Decimal, parts: list[SplitPart]) -> None:
    shares = split_usage(usage, parts)
    assert sum(shares, D(0)) == usage
    assert all(s >= 0 and s == s.quantize(M3) for s in shares)
    left = usage
    for part, share in zip(parts, shares, strict=True):
        if part.mode is SplitMode.QUANTITY:
            assert share == min(part.value, left)  # the first N m3, in part order
            left -= share
    ratio_parts = [(p, s) for p, s in zip(parts, shares, strict=True) if p.mode is SplitMode.RATIO]
    main = parts[designated_part(parts)]
    for part, share in ratio_parts:
        exact = left * part.value
        if part is main:
            assert share >= exact - D("1e-20")
        else:
            assert exact - M3 < share <= exact


def test_seventy_thirty_and_the_first_ten_cubic_metres() -> None:
    """Given 70% residential and 30% commercial, 33.33 m3 is 23.34 + 9.99 (the larger part takes the
    remainder); given the first 10 m3 commercial and the rest residential, 25 m3 is 10 + 15 and 6 m3 is
    6 + 0."""
    seventy = [
        SplitPart("RESIDENT", SplitMode.RATIO, D("0.7")),
        SplitPart("NON_RESIDENT", SplitMode.RATIO, D("0.3")),
    ]
    assert split_usage(D("33.33"), seventy) == [D("23.34"), D("9.99")]
    first_ten = [
        SplitPart("NON_RESIDENT", SplitMode.QUANTITY, D("10")),
        SplitPart("RESIDENT", SplitMode.RATIO, D("1")),
    ]
    assert split_usage(D("25"), first_ten) == [D("10"), D("15")]
    assert split_usage(D("6"), first_ten) == [D("6"), D("0")]


@pytest.mark.parametrize(
    ("parts", "says"),
    [
        (
            [SplitPart("A", SplitMode.RATIO, D("0.7")), SplitPart("B", SplitMode.RATIO, D("0.2"))],
            "之和须为 1",
        ),
        ([SplitPart("A", SplitMode.QUANTITY, D("10"))], "RATIO"),
        (
            [SplitPart("A", SplitMode.RATIO, D("0.33333")), SplitPart("B", SplitMode.RATIO, D("0.66667"))],
            "四位",
        ),
        ([SplitPart("A", SplitMode.RATIO, D("1")), SplitPart("B", SplitMode.QUANTITY, D("0.001"))], "两位"),
        (
            [SplitPart("A", SplitMode.RATIO, D("0.5")), SplitPart("A", SplitMode.RATIO, D("0.5"))],
            "同一价格编码",
        ),
        ([], "1 至 10"),
    ],
)
def test_a_split_that_does_not_add_up_is_refused(parts: list[SplitPart], says: str) -> None:
    with pytest.raises(ValueError, match=says):
        check_split(parts)


# --------------------------------------------------------------------------------- timelines ---
DAY0 = dt.date(2026, 1, 1)


@st.composite
def timelines(draw: st.DrawFn) -> tuple[Timeline, list[Version]]:
    versions = []
    for n in range(draw(st.integers(min_value=0, max_value=5))):
        start = DAY0 + dt.timedelta(days=draw(st.integers(min_value=0, max_value=120)))
        expire = draw(st.none() | st.integers(min_value=-1, max_value=80))
        versions.append(
            Version(
                100 + n,
                start,
                None if expire is None else start + dt.timedelta(days=expire),
                n + 1,
                draw(st.booleans()),
                draw(st.integers(min_value=0, max_value=3)),
            )
        )
    return Timeline(tuple(versions)), versions


def _brute(versions: list[Version], day: dt.date) -> int | None:
    live = [v for v in versions if v.covers(day)]
    live.sort(key=lambda v: (v.global_scope, -v.scope_rank, -v.effective.toordinal(), -v.number))
    return live[0].template_id if live else None


@settings(max_examples=1000, deadline=None)
@given(timelines(), st.integers(min_value=0, max_value=150), st.integers(min_value=0, max_value=60))
def test_an_interval_is_cut_exactly_where_the_pricing_version_changes(
    found: tuple[Timeline, list[Version]], offset: int, length: int
) -> None:
    timeline, versions = found
    start = DAY0 + dt.timedelta(days=offset)
    end = start + dt.timedelta(days=length)
    segments = timeline.segments(start, end)
    if length == 0:
        assert [(s.template_id, s.start, s.end) for s in segments] == [
            (_brute(versions, start), start, start)
        ]
        return
    assert segments[0].start == start and segments[-1].end == end
    assert all(a.end == b.start for a, b in itertools.pairwise(segments))
    assert all(a.template_id != b.template_id for a, b in itertools.pairwise(segments))
    days = [start + dt.timedelta(days=i) for i in range(length)]
    truth = [_brute(versions, d) for d in days]
    if all(t is None for t in truth):
        assert [s.template_id for s in segments] == [None]
        return
    assert all(s.template_id is not None for s in segments)
    for day, expected in zip(days, truth, strict=True):
        (segment,) = [s for s in segments if s.start <= day < s.end]
        if expected is not None:  # days no version prices go to a neighbour
            assert segment.template_id == expected


def test_a_dept_version_starting_later_does_not_hide_the_global_one_before() -> None:
    """Given GLOBAL v1 from Jan 1 and the dept's own v2 from Jan 20, then Jan 10 - Feb 10 is v1 until
    Jan 20 and v2 after."""
    glob = Version(1, dt.date(2026, 1, 1), None, 1, True, 0)
    own = Version(2, dt.date(2026, 1, 20), None, 2, False, 2)
    segments = Timeline((glob, own)).segments(dt.date(2026, 1, 10), dt.date(2026, 2, 10))
    assert [(s.template_id, s.days) for s in segments] == [(1, 10), (2, 21)]


# -------------------------------------------------------------------------------- proration ---
def _segments(days: list[int], tariffs_: list[Tariff]) -> tuple[PricedSegment, ...]:
    out = []
    day = DAY0
    for d, t in zip(days, tariffs_, strict=True):
        out.append(PricedSegment(t, day, day + dt.timedelta(days=d)))
        day += dt.timedelta(days=d)
    return tuple(out)


@settings(max_examples=1000, deadline=None)
@given(tariffs(), quantities, st.lists(st.integers(min_value=1, max_value=40), min_size=2, max_size=4))
def test_proration_covers_the_whole_usage_and_loses_nothing_beyond_the_line_rule(
    t: Tariff, usage: Decimal, days: list[int]
) -> None:
    """Whatever the days, a reading prorated over one version's segments bills every m3 once per
    component, each line is quantity x unit price by the one rule (so the bill is within half a fen
    per line of the exact price of its quantities), and each tier's quantity differs from the
    unprorated bill's by no more than 0.01 m3 per segment (bounds cut the same way as the usage)."""
    composed = compose(
        [PartInput(1, "F", usage, _segments(days, [t] * len(days)))], population=1, year_usage={}
    )
    whole = price(t, usage)
    for c in t.components:
        own = [line for line in composed.lines if line.component == c.code]
        assert sum((line.quantity for line in own), D(0)) == usage
        for tier in range(1, t.tier_count + 1):
            prorated = sum((line.quantity for line in own if line.tier_no == tier), D(0))
            unprorated = sum(
                (line.quantity for line in whole if line.component == c.code and line.tier_no == tier), D(0)
            )
            assert abs(prorated - unprorated) <= M3 * len(days)
    for line in composed.lines:
        assert line.amount == (line.quantity * line.unit_price).quantize(FEN, ROUND_HALF_UP)
    exact = sum((line.quantity * line.unit_price for line in composed.lines), D(0))
    assert abs(composed.total - exact) <= D("0.005") * len(composed.lines)


@settings(max_examples=1000, deadline=None)
@given(tariffs(), st.lists(st.integers(min_value=1, max_value=40), min_size=2, max_size=4))
def test_prorated_bounds_of_one_version_sum_to_its_bounds(t: Tariff, days: list[int]) -> None:
    full = [effective_bounds(t, 1)] * len(days)
    cut = [prorated_bounds(full, days, i) for i in range(len(days))]
    for k, bound in enumerate(full[0]):
        assert sum((c[k] for c in cut), D(0)) == bound


def test_a_price_change_mid_interval_splits_usage_and_tiers_by_days() -> None:
    """Given 30 days read as 45 m3, the old price for 10 days and the new one for 20 (tiers 10 and 20 m3
    a month), then 15 m3 are priced old with tiers 3.33 / 6.66 and 30 m3 new with tiers 6.67 / 13.34,
    and every line names its version, segment and dates."""
    old = tariff(1, water=("2.00", "3.00", "4.00"))
    new = tariff(2, water=("2.50", "3.50", "4.50"))
    composed = compose(
        [PartInput(1, "RES", D("45"), _segments([10, 20], [old, new]))], population=1, year_usage={}
    )
    water = [
        (line.template_id, line.segment_no, line.tier_no, line.quantity, line.amount)
        for line in composed.lines
        if line.component == "WATER_FEE"
    ]
    assert water == [
        (1, 1, 1, D("3.33"), D("6.66")),
        (1, 1, 2, D("3.33"), D("9.99")),
        (1, 1, 3, D("8.34"), D("33.36")),
        (2, 2, 1, D("6.67"), D("16.68")),
        (2, 2, 2, D("6.67"), D("23.35")),
        (2, 2, 3, D("16.66"), D("74.97")),
    ]
    first = composed.lines[0]
    assert (first.segment_from, first.segment_to) == (DAY0, DAY0 + dt.timedelta(days=10))


def test_annual_tiers_are_not_prorated_and_count_the_earlier_segment() -> None:
    """Given ANNUAL tiers (216 m3 a year) with 210 m3 billed this year, 12 m3 over two versions (6 + 6
    by days): the first segment reaches 216, the second starts in tier 2."""
    old = tariff(1, bounds=("216", "300"), mode=TierMode.ANNUAL)
    new = tariff(2, bounds=("216", "300"), water=("2.50", "3.50", "4.50"), mode=TierMode.ANNUAL)
    composed = compose(
        [PartInput(1, "RES", D("12"), _segments([15, 15], [old, new]))],
        population=1,
        year_usage={"RES": D("210")},
    )
    water = [
        (line.template_id, line.tier_no, line.quantity)
        for line in composed.lines
        if line.component == "WATER_FEE"
    ]
    assert water == [(1, 1, D("6")), (2, 2, D("6"))]
    assert composed.annual_usage == {"RES": D("12")}


# ----------------------------------------------------------------------- minimum and fixed ---
def test_zero_usage_bills_the_minimum_and_the_fixed_charges() -> None:
    """Given a minimum of 5 m3 and a meter fee of 2.50, zero usage bills 5 m3 of tier 1 on MINIMUM lines
    and one FIXED line of quantity 1: 5 x (2.00 + 1.00) + 2.50 = 17.50, not an empty 0.00."""
    fee = FixedCharge("METER_FEE", "水表维护费", D("0.06"), D("2.50"))
    t = tariff(minimum="5", fixed=(fee,))
    composed = compose([PartInput(1, "RES", D("0"), _segments([30], [t]))], population=1, year_usage={})
    assert [
        (line.kind, line.component, line.tier_no, line.quantity, line.amount) for line in composed.lines
    ] == [
        (LineKind.MINIMUM, "WATER_FEE", 1, D("5"), D("10.00")),
        (LineKind.MINIMUM, "SEWAGE_FEE", 1, D("5"), D("5.00")),
        (LineKind.FIXED, "METER_FEE", 0, D("1"), D("2.50")),
    ]
    assert composed.total == D("17.50")
    assert [line.line_no for line in composed.lines] == [1, 2, 3]


def test_a_shortfall_continues_the_tiers_where_the_usage_stopped() -> None:
    """Given tiers 10 / 20 and a minimum of 15, 8 m3 bill 8 on USAGE lines and 2 + 5 on MINIMUM lines in
    tiers 1 and 2; usage at or above the minimum bills no MINIMUM line."""
    t = tariff(minimum="15")
    composed = compose([PartInput(1, "RES", D("8"), _segments([30], [t]))], population=1, year_usage={})
    water = [
        (line.kind, line.tier_no, line.quantity) for line in composed.lines if line.component == "WATER_FEE"
    ]
    assert water == [
        (LineKind.USAGE, 1, D("8")),
        (LineKind.MINIMUM, 1, D("2")),
        (LineKind.MINIMUM, 2, D("5")),
    ]
    above = compose([PartInput(1, "RES", D("15"), _segments([30], [t]))], population=1, year_usage={})
    assert {line.kind for line in above.lines} == {LineKind.USAGE}


@settings(max_examples=1000, deadline=None)
@given(quantities, st.decimals(min_value=D("0.01"), max_value=100, places=2))
def test_the_minimum_bills_at_least_the_minimum_and_never_less_than_the_usage(
    usage: Decimal, minimum: Decimal
) -> None:
    t = tariff(minimum=str(minimum))
    composed = compose([PartInput(1, "RES", usage, _segments([30], [t]))], population=1, year_usage={})
    water = [line for line in composed.lines if line.component == "WATER_FEE"]
    assert sum((line.quantity for line in water), D(0)) == max(usage, minimum)
    assert sum((line.quantity for line in water if line.kind is LineKind.USAGE), D(0)) == usage


def test_a_mixed_use_bill_has_lines_per_part_and_the_primary_part_brings_minimum_and_fees() -> None:
    """Given 70% RES (minimum 20, meter fee 3.00) and 30% BIZ, 10 m3 bill 7 m3 RES and 3 m3 BIZ on their
    own templates, then the RES shortfall (20 - 10) and the RES fee once."""
    fee = FixedCharge("METER_FEE", "水表维护费", D("0"), D("3.00"))
    res = tariff(1, minimum="20", fixed=(fee,), code="RES")
    biz = tariff(2, water=("5.00", "6.00", "7.00"), code="BIZ")
    parts = [SplitPart("RES", SplitMode.RATIO, D("0.7")), SplitPart("BIZ", SplitMode.RATIO, D("0.3"))]
    usages = split_usage(D("10"), parts)
    composed = compose(
        [
            PartInput(1, "RES", usages[0], _segments([30], [res])),
            PartInput(2, "BIZ", usages[1], _segments([30], [biz])),
        ],
        population=1,
        year_usage={},
        primary=designated_part(parts),
    )
    summary = [
        (line.part_no, line.template_id, line.kind, line.component, line.quantity) for line in composed.lines
    ]
    assert summary == [
        (1, 1, LineKind.USAGE, "WATER_FEE", D("7")),
        (1, 1, LineKind.USAGE, "SEWAGE_FEE", D("7")),
        (2, 2, LineKind.USAGE, "WATER_FEE", D("3")),
        (2, 2, LineKind.USAGE, "SEWAGE_FEE", D("3")),
        (1, 1, LineKind.MINIMUM, "WATER_FEE", D("3")),
        (1, 1, LineKind.MINIMUM, "WATER_FEE", D("7")),
        (1, 1, LineKind.MINIMUM, "SEWAGE_FEE", D("3")),
        (1, 1, LineKind.MINIMUM, "SEWAGE_FEE", D("7")),
        (1, 1, LineKind.FIXED, "METER_FEE", D("1")),
    ]  # the MINIMUM lines continue RES's tiers from 7 m3: 3 in tier 1, 7 in tier 2
    minimum = [
        line for line in composed.lines if line.kind is LineKind.MINIMUM and line.component == "WATER_FEE"
    ]
    assert [(line.tier_no, line.quantity) for line in minimum] == [(1, D("3")), (2, D("7"))]


# -------------------------------------------------------------------------- price difference ---
@settings(max_examples=1000, deadline=None)
@given(quantities, prices, prices)
def test_a_price_difference_brings_the_line_to_the_corrected_price_once(
    q: Decimal, old: Decimal, new: Decimal
) -> None:
    billed = (q * old).quantize(FEN, ROUND_HALF_UP)
    diff = price_difference(q, billed, new)
    assert billed + diff == (q * new).quantize(FEN, ROUND_HALF_UP)
    assert price_difference(q, billed + diff, new) == 0


# --------------------------------------------------------------------------------- deduction ---
@st.composite
def accounts(draw: st.DrawFn) -> tuple[Decimal, list[Bill]]:
    bills = []
    for i in range(draw(st.integers(min_value=0, max_value=5))):
        total = draw(st.decimals(min_value=0, max_value=500, places=2))
        paid = draw(st.decimals(min_value=0, max_value=total, places=2)) if draw(st.booleans()) else D("0.00")
        status = "UNPAID" if paid == 0 else "PARTIAL" if paid < total else "PAID"
        assume(status != "PAID")
        bills.append(
            Bill(i + 1, f"2026-{draw(st.integers(min_value=1, max_value=12)):02d}", total, paid, status)
        )
    return draw(st.decimals(min_value=0, max_value=1000, places=2)), bills


@settings(max_examples=1000, deadline=None)
@given(accounts())
def test_a_deduction_pays_what_the_balance_covers_oldest_first(case: tuple[Decimal, list[Bill]]) -> None:
    balance, bills = case
    owed = sum((b.owed for b in bills), D(0))
    plan = plan_deduction(balance, bills)
    if min(balance, owed) == 0:
        assert plan is None
        return
    assert plan is not None
    assert plan.amount == min(balance, owed) == plan.written_off
    assert plan.to_balance == 0  # a deduction never pays more than is owed
    assert plan == allocate(min(balance, owed), bills)  # the shared write-off rule, oldest first
