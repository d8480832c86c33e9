"""The rules of a bill beyond one tariff: pure functions, no I/O.

- Mixed-use meters (一表多价): a meter's usage is split between price families. QUANTITY parts take the
  first N m3, in part order; RATIO parts share what is left by their ratios (which sum to 1).
- Price changes inside a reading interval (调价分段): the interval [previous reading day, reading day) is
  cut where the version that prices the customer changes (decision 28's rule, day by day); the usage
  is split by days between the segments, and period (MONTHLY) tier bounds are prorated the same way.
- Minimum usage (最低计量水量) and fixed charges per period come from the version that prices the meter's
  primary part on the reading day: a shortfall below the minimum is billed on MINIMUM lines continuing
  the tiers, each fixed charge is one FIXED line of quantity 1.
- Price differences (价差调整): what a corrected version adds to a line already billed.
- Prepaid deduction (预存抵扣): what an account's balance pays of its bills, through the shared
  write-off rule (payments.rules.allocate).

Quantities are m3 to 0.01 (NUMERIC(12,2)). A quantity is cut into parts by one rule, `allot`: every part
but a designated one is its exact share truncated to 0.01 m3, and the designated part takes what is
left, so the parts always sum exactly to the whole and none is negative. Money keeps its one rule
(money.py, tariff.line_amount): each line amount is quantity x unit price rounded half-up to the fen,
and a total is the sum of its lines.
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from decimal import ROUND_DOWN, Decimal
from enum import StrEnum
from typing import NamedTuple

from waterrev.payments.rules import Allocation, Bill, allocate
from waterrev.pricing.tariff import Tariff, TierMode, effective_bounds, line_amount, price_tiers

M3 = Decimal("0.01")
ZERO = Decimal("0.00")
ONE = Decimal("1")
MAX_PARTS = 10


class LineKind(StrEnum):
    """biz_charge_detail.line_kind."""

    USAGE = "USAGE"  # metered usage by tier
    MINIMUM = "MINIMUM"  # the shortfall up to the family's minimum usage
    FIXED = "FIXED"  # a fixed charge per period, quantity 1
    PRICE_DIFF = "PRICE_DIFF"  # a price-difference adjustment of a line already billed


class ChargeSource(StrEnum):
    """biz_charge.source_type (the seed's 来源类型)."""

    READING = "READING"
    PRICE_DIFF = "PRICE_DIFF"


class SplitMode(StrEnum):
    RATIO = "RATIO"
    QUANTITY = "QUANTITY"


# ---------------------------------------------------------------------------------- allot ----
def allot(total: Decimal, weights: Sequence[Decimal | int], designated: int) -> list[Decimal]:
    """`total` (m3, 0.01) cut by `weights`: every part but `designated` is its exact share truncated to
    0.01, the designated part takes the rest. Parts sum exactly to `total`; none is negative."""
    if total < 0:
        raise ValueError("a quantity to cut must not be negative")
    whole = sum((Decimal(w) for w in weights), Decimal(0))
    if whole <= 0 or any(Decimal(w) < 0 for w in weights):
        raise ValueError("weights must be non-negative with a positive sum")
    if not 0 <= designated < len(weights):
        raise ValueError("the designated part must be one of the parts")
    parts = [
        ZERO if i == designated else (total * Decimal(w) / whole).quantize(M3, rounding=ROUND_DOWN)
        for i, w in enumerate(weights)
    ]
    parts[designated] = total - sum(parts, ZERO)
    return parts


# ------------------------------------------------------------------------------ mixed use ----
class SplitPart(NamedTuple):
    """One part of a mixed-use meter: a price code and either a ratio of what the fixed quantities
    leave, or a fixed quantity taken first."""

    price_code: str
    mode: SplitMode
    value: Decimal  # the ratio (0 < r <= 1, four places) or the quantity (m3 > 0, two places)


def check_split(parts: Sequence[SplitPart]) -> None:
    """ValueError naming what is wrong with a split; nothing for a valid one."""
    if not 1 <= len(parts) <= MAX_PARTS:
        raise ValueError(f"须有 1 至 {MAX_PARTS} 个分项")
    ratios = [p.value for p in parts if p.mode is SplitMode.RATIO]
    if not ratios:
        raise ValueError("须至少有一个 RATIO 分项（承接固定水量以外的用量）")
    for p in parts:
        places = -p.value.as_tuple().exponent  # type: ignore[operator]
        if p.mode is SplitMode.RATIO and not (0 < p.value <= ONE and places <= 4):
            raise ValueError(f"{p.price_code}: ratio 须大于 0、不超过 1，最多四位小数")
        if p.mode is SplitMode.QUANTITY and not (p.value > 0 and places <= 2):
            raise ValueError(f"{p.price_code}: quantity 须大于 0，最多两位小数")
    if sum(ratios, Decimal(0)) != ONE:
        raise ValueError(f"RATIO 分项的 ratio 之和须为 1（现为 {sum(ratios, Decimal(0))}）")
    if len({p.price_code for p in parts}) != len(parts):
        raise ValueError("同一价格编码只能出现在一个分项")


def designated_part(parts: Sequence[SplitPart]) -> int:
    """The part that takes the rounding remainder and carries the minimum usage and the fixed charges:
    the RATIO part with the largest ratio, the first of equals."""
    return max(
        (i for i, p in enumerate(parts) if p.mode is SplitMode.RATIO),
        key=lambda i: (parts[i].value, -i),
    )


def split_usage(usage: Decimal, parts: Sequence[SplitPart]) -> list[Decimal]:
    """Each part's usage: QUANTITY parts take the first m3 in part order (as much as there is), the
    RATIO parts share the rest by `allot` with the designated part taking the remainder."""
    check_split(parts)
    if usage < 0:
        raise ValueError("usage must not be negative")
    out = [ZERO] * len(parts)
    left = usage
    for i, p in enumerate(parts):
        if p.mode is SplitMode.QUANTITY:
            out[i] = min(p.value, left)
            left -= out[i]
    ratio_parts = [i for i, p in enumerate(parts) if p.mode is SplitMode.RATIO]
    shares = allot(left, [parts[i].value for i in ratio_parts], ratio_parts.index(designated_part(parts)))
    for i, share in zip(ratio_parts, shares, strict=True):
        out[i] = share
    return out


# -------------------------------------------------------------------------- price versions ----
class Version(NamedTuple):
    """A published version of a price code as one customer sees it (decision 28)."""

    template_id: int
    effective: dt.date
    expire: dt.date | None
    number: int
    global_scope: bool  # dept_id NULL
    scope_rank: int = 0  # position of the version's dept in the customer's dept path: deeper wins

    def covers(self, day: dt.date) -> bool:
        return self.effective <= day and (self.expire is None or self.expire >= day)


class Segment(NamedTuple):
    """Days [start, end) of a reading interval priced by one version (template_id None: no version)."""

    template_id: int | None
    start: dt.date
    end: dt.date

    @property
    def days(self) -> int:
        return (self.end - self.start).days


class Timeline:
    """The versions of one price code for one customer dept, and which one prices a given day: the
    dept's own, else its nearest ancestor's, else GLOBAL; the latest effective, then the highest
    version number (the same order as pricing.config.active_templates)."""

    def __init__(self, versions: tuple[Version, ...]) -> None:
        self.versions = versions
        days = {v.effective for v in versions} | {
            v.expire + dt.timedelta(days=1) for v in versions if v.expire is not None
        }
        self._changes = sorted(days)
        self._on: dict[dt.date, int | None] = {}

    def on(self, day: dt.date) -> int | None:
        found = self._on.get(day, -1)
        if found != -1:
            return found
        live = [v for v in self.versions if v.covers(day)]
        best = (
            min(live, key=lambda v: (v.global_scope, -v.scope_rank, -v.effective.toordinal(), -v.number))
            if live
            else None
        )
        self._on[day] = result = None if best is None else best.template_id
        return result

    def segments(self, start: dt.date, end: dt.date) -> list[Segment]:
        """The interval [start, end) cut where the pricing version changes; days no version prices are
        priced by the neighbouring segment (the one before, else the one after). An empty interval
        (end <= start) is one segment of no days priced by the version of `start`."""
        if end <= start:
            return [Segment(self.on(start), start, start)]
        i = bisect.bisect_right(self._changes, start)
        cuts = [start]
        while i < len(self._changes) and self._changes[i] < end:
            cuts.append(self._changes[i])
            i += 1
        raw: list[Segment] = []
        for a, b in zip(cuts, [*cuts[1:], end], strict=True):
            tid = self.on(a)
            if raw and raw[-1].template_id == tid:
                raw[-1] = Segment(tid, raw[-1].start, b)
            else:
                raw.append(Segment(tid, a, b))
        return _merge_gaps(raw)


def _merge_gaps(raw: list[Segment]) -> list[Segment]:
    if all(s.template_id is None for s in raw):
        return [Segment(None, raw[0].start, raw[-1].end)]
    out: list[Segment] = []
    for s in raw:
        if s.template_id is None and out:
            out[-1] = Segment(out[-1].template_id, out[-1].start, s.end)
        elif (out and out[-1].template_id is None) or (out and out[-1].template_id == s.template_id):
            out[-1] = Segment(s.template_id, out[-1].start, s.end)
        else:
            out.append(s)
    return out


def prorated_bounds(
    full: Sequence[tuple[Decimal, ...]], days: Sequence[int], index: int
) -> tuple[Decimal, ...]:
    """Segment `index`'s tier bounds: each of its own version's bounds `full[index]` cut by days with
    `allot` (the last segment designated), so segments of one version sum to its bounds exactly."""
    return tuple(allot(b, days, len(days) - 1)[index] for b in full[index])


# ------------------------------------------------------------------------------- bill lines ----
class BillLine(NamedTuple):
    line_no: int
    component: str
    tier_no: int  # 0 on a FIXED line
    quantity: Decimal
    unit_price: Decimal
    amount: Decimal
    tax_rate: Decimal
    template_id: int
    part_no: int = 1
    segment_no: int = 1
    kind: LineKind = LineKind.USAGE
    segment_from: dt.date | None = None  # set when the reading was prorated
    segment_to: dt.date | None = None
    ref_line_no: int | None = None  # PRICE_DIFF: the original bill's line


class PricedSegment(NamedTuple):
    tariff: Tariff
    start: dt.date
    end: dt.date

    @property
    def days(self) -> int:
        return (self.end - self.start).days


class PartInput(NamedTuple):
    """One part of a reading (the whole reading for a meter of one family): its family, its usage, and
    the versions that price it over the reading interval (one segment when none changed)."""

    part_no: int
    price_code: str
    usage: Decimal
    segments: tuple[PricedSegment, ...]


class Composed(NamedTuple):
    lines: tuple[BillLine, ...]
    annual_usage: dict[str, Decimal]  # per price code: the usage that counts on ANNUAL tiers this year

    @property
    def total(self) -> Decimal:
        return sum((line.amount for line in self.lines), ZERO)


def compose(
    parts: Sequence[PartInput],
    *,
    population: int,
    year_usage: Mapping[str, Decimal],
    primary: int = 0,
) -> Composed:
    """A bill's lines: each part's usage priced segment by segment (split by days when a version took
    effect inside the interval; MONTHLY bounds prorated the same way, ANNUAL tiers counting the year's
    usage of the family, earlier segments included); then the primary part's version on the reading day
    adds the shortfall below its minimum usage (MINIMUM lines, continuing its tiers) and its fixed
    charges (one FIXED line each). Lines are numbered in that order."""
    lines: list[BillLine] = []
    annual: dict[str, Decimal] = {}
    total_usage = sum((p.usage for p in parts), ZERO)
    tail: tuple[Tariff, tuple[Decimal, ...], Decimal, int, int, PricedSegment | None] | None = None
    for index, part in enumerate(parts):
        segs = part.segments
        prorated = len(segs) > 1
        days = [s.days for s in segs]
        usages = allot(part.usage, days, len(segs) - 1) if prorated else [part.usage]
        full = [effective_bounds(s.tariff, population) for s in segs]
        running = year_usage.get(part.price_code, ZERO)
        for n, (seg, usage) in enumerate(zip(segs, usages, strict=True), start=1):
            tariff = seg.tariff
            annual_tiers = tariff.tier_mode is TierMode.ANNUAL
            bounds = full[n - 1] if annual_tiers or not prorated else prorated_bounds(full, days, n - 1)
            already = running if annual_tiers else ZERO
            for line in price_tiers(tariff, bounds, already, usage):
                lines.append(
                    BillLine(
                        len(lines) + 1,
                        line.component,
                        line.tier_no,
                        line.quantity,
                        line.unit_price,
                        line.amount,
                        line.tax_rate,
                        tariff.template_id,
                        part.part_no,
                        n,
                        LineKind.USAGE,
                        seg.start if prorated else None,
                        seg.end if prorated else None,
                    )
                )
            if annual_tiers:
                running += usage
                annual[part.price_code] = annual.get(part.price_code, ZERO) + usage
            if index == primary and n == len(segs):
                tail = (tariff, bounds, already + usage, part.part_no, n, seg if prorated else None)
    if tail is not None:
        tariff, bounds, reached, part_no, seg_no, last = tail
        start, end = (last.start, last.end) if last is not None else (None, None)
        if tariff.minimum_usage is not None and total_usage < tariff.minimum_usage:
            shortfall = tariff.minimum_usage - total_usage
            for line in price_tiers(tariff, bounds, reached, shortfall):
                lines.append(
                    BillLine(
                        len(lines) + 1,
                        line.component,
                        line.tier_no,
                        line.quantity,
                        line.unit_price,
                        line.amount,
                        line.tax_rate,
                        tariff.template_id,
                        part_no,
                        seg_no,
                        LineKind.MINIMUM,
                        start,
                        end,
                    )
                )
        for fixed in tariff.fixed_charges:
            lines.append(
                BillLine(
                    len(lines) + 1,
                    fixed.code,
                    0,
                    ONE,
                    fixed.amount,
                    line_amount(ONE, fixed.amount),
                    fixed.tax_rate,
                    tariff.template_id,
                    part_no,
                    seg_no,
                    LineKind.FIXED,
                    start,
                    end,
                )
            )
    return Composed(tuple(lines), annual)


# ---------------------------------------------------------------------------- price difference --
def price_difference(quantity: Decimal, billed: Decimal, corrected_unit_price: Decimal) -> Decimal:
    """What a corrected unit price adds to a line already billed `billed` in all (its amount and any
    earlier differences): the line's amount at the corrected price, by the one rule, less what was
    billed. Applied again with the same price it is zero."""
    return line_amount(quantity, corrected_unit_price) - billed


# --------------------------------------------------------------------------- prepaid deduction --
class Due(NamedTuple):
    """What one bill asks of a deduction: its principal still owed and its late-payment penalty (违约金)
    owed on the day."""

    charge_id: int
    bill_period: str
    principal: Decimal
    penalty: Decimal = ZERO

    @property
    def total(self) -> Decimal:
        return self.principal + self.penalty


def amounts_due(bills: Iterable[Bill]) -> list[Due]:
    """The one place that says what a deduction pays on each bill of an account: the principal still
    owed per bill and the penalty owed on it as of the day (billing.dues puts it on the Bill)."""
    return [Due(b.charge_id, b.bill_period, b.owed, b.penalty) for b in bills]


def plan_deduction(
    balance: Decimal, bills: Sequence[Bill], *, penalty_first: bool = False
) -> Allocation | None:
    """What `balance` pays of the account's `bills`: as much as it covers of what they owe (principal and
    penalty), oldest bill first by the shared write-off rule, the penalties or the principals first as
    the coverage order says; None when it pays nothing."""
    owed = sum((d.total for d in amounts_due(bills)), ZERO)
    amount = min(balance, owed)
    if amount <= 0:
        return None
    return allocate(amount, bills, penalty_first=penalty_first)
