"""Tiered water prices: pure arithmetic, no I/O.

A tariff has tiers (cumulative upper bounds of usage, the last one open) and cost components
(water fee, sewage treatment fee, water resource fee, ...), each with a unit price per tier and a
tax rate. Tier widths grow with household population: every person above the base population
widens tier k by `population_step[k]`. With ANNUAL tiers the bounds are yearly and usage already
billed this year counts first; with MONTHLY tiers every bill starts from zero.

A tariff (one template version) may also have a minimum usage per bill period (最低计量水量) and
fixed charges per period (a component billed once per bill, quantity 1, e.g. a meter maintenance fee);
`waterrev.billing.rules` composes them, with mixed-use parts and day proration, into a bill's lines.

Rounding (the one rule, see money.py): each line amount = quantity x unit price rounded half-up
to the fen; a bill total is the sum of its lines and is never rounded again.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

from waterrev.money import FEN

ZERO = Decimal("0")


class TierMode(StrEnum):
    MONTHLY = "MONTHLY"
    ANNUAL = "ANNUAL"


@dataclass(frozen=True)
class Component:
    code: str  # WATER_FEE | SEWAGE_FEE | RESOURCE_FEE | ...
    name: str
    tax_rate: Decimal
    prices: tuple[Decimal, ...]  # unit price per tier, index 0 = tier 1


@dataclass(frozen=True)
class FixedCharge:
    """A component billed per bill period at a fixed amount (one line, quantity 1)."""

    code: str  # METER_FEE | ...
    name: str
    tax_rate: Decimal
    amount: Decimal


@dataclass(frozen=True)
class Tariff:
    template_id: int
    tier_mode: TierMode
    bounds: tuple[Decimal, ...]  # cumulative upper bounds of tiers 1..n-1; tier n is open
    components: tuple[Component, ...]
    base_population: int = 4
    population_step: tuple[Decimal, ...] = ()  # per extra person, added to each tier's width
    minimum_usage: Decimal | None = None  # m3 per bill period billed at least (最低计量水量)
    fixed_charges: tuple[FixedCharge, ...] = ()
    code: str = ""  # the price family (biz_price_template.code) and this version's number
    version: int = 0

    def __post_init__(self) -> None:
        tiers = len(self.bounds) + 1
        if any(b <= a for a, b in zip(self.bounds, self.bounds[1:], strict=False)) or (
            self.bounds and self.bounds[0] <= 0
        ):
            raise ValueError("tier bounds must be positive and increasing")
        if self.population_step and len(self.population_step) != len(self.bounds):
            raise ValueError("population_step needs one entry per bounded tier")
        for c in self.components:
            if len(c.prices) != tiers:
                raise ValueError(f"component {c.code} needs {tiers} tier prices")
            if any(p < 0 for p in c.prices):
                raise ValueError(f"component {c.code} has a negative price")
        if self.minimum_usage is not None and self.minimum_usage <= 0:
            raise ValueError("minimum usage must be positive")
        if any(f.amount < 0 for f in self.fixed_charges):
            raise ValueError("a fixed charge must not be negative")

    @property
    def tier_count(self) -> int:
        return len(self.bounds) + 1


@dataclass(frozen=True)
class Line:
    component: str
    tier_no: int
    quantity: Decimal
    unit_price: Decimal
    amount: Decimal
    tax_rate: Decimal


def effective_bounds(tariff: Tariff, population: int) -> tuple[Decimal, ...]:
    """Cumulative tier bounds for a household: each width widened by the extra persons."""
    extra = max(0, population - tariff.base_population)
    if not extra or not tariff.population_step:
        return tariff.bounds
    bounds: list[Decimal] = []
    previous_raw = previous = ZERO
    for raw, step in zip(tariff.bounds, tariff.population_step, strict=True):
        width = raw - previous_raw + step * extra
        previous = previous + width
        previous_raw = raw
        bounds.append(previous)
    return tuple(bounds)


def split(bounds: tuple[Decimal, ...], already: Decimal, usage: Decimal) -> list[tuple[int, Decimal]]:
    """The part of [already, already + usage] that falls in each tier: (tier_no, quantity > 0)."""
    if usage < 0 or already < 0:
        raise ValueError("usage and prior usage must not be negative")
    parts: list[tuple[int, Decimal]] = []
    start, end = already, already + usage
    lower = ZERO
    for index, upper in enumerate((*bounds, None)):
        top = end if upper is None else min(end, upper)
        low = max(start, lower)
        if top > low:
            parts.append((index + 1, top - low))
        if upper is None or end <= upper:
            break
        lower = upper
    return parts


def line_amount(quantity: Decimal, unit_price: Decimal) -> Decimal:
    """The one rounding rule: quantity x unit price, half-up to the fen."""
    return (quantity * unit_price).quantize(FEN, rounding=ROUND_HALF_UP)


def price_tiers(tariff: Tariff, bounds: tuple[Decimal, ...], already: Decimal, usage: Decimal) -> list[Line]:
    """The lines for `usage` on top of `already` with the given cumulative bounds (the tariff's,
    widened for the household, or prorated: they may then touch, and an empty tier is skipped)."""
    parts = split(bounds, already, usage)
    return [
        Line(
            component=c.code,
            tier_no=tier_no,
            quantity=quantity,
            unit_price=c.prices[tier_no - 1],
            amount=line_amount(quantity, c.prices[tier_no - 1]),
            tax_rate=c.tax_rate,
        )
        for c in tariff.components
        for tier_no, quantity in parts
    ]


def price(
    tariff: Tariff, usage: Decimal, population: int = 1, billed_this_year: Decimal = ZERO
) -> list[Line]:
    """The bill lines for `usage`: one per tier touched per component, amounts rounded to the fen."""
    already = billed_this_year if tariff.tier_mode is TierMode.ANNUAL else ZERO
    return price_tiers(tariff, effective_bounds(tariff, population), already, usage)


def total(lines: list[Line]) -> Decimal:
    return sum((line.amount for line in lines), ZERO).quantize(FEN)
