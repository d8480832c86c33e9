"""The PRICE configuration document: what `configValue` holds for configType PRICE (IF-REV-012), parsed
and checked as a whole tariff (tiers x cost components). A domain value, not a request model: the use
case parses it from the request's JSON string, the demo data builds it directly."""

from __future__ import annotations

import itertools
from decimal import Decimal
from typing import Literal, Self

from pydantic import Field, model_validator

from waterrev.fields import Model

UNIT_PRICE_MAX = Decimal("999999.9999")  # biz_cost_component_price.unit_price NUMERIC(10,4)
FIXED_AMOUNT_MAX = Decimal("999999.99")  # a line's unit price is NUMERIC(10,4)


class TierSpec(Model):
    tier_no: int = Field(ge=1, le=10)
    upper_bound: Decimal | None = Field(default=None, gt=0, max_digits=12, decimal_places=2)
    population_step: Decimal = Field(default=Decimal("0"), ge=0, max_digits=12, decimal_places=2)


class ComponentSpec(Model):
    code: str = Field(pattern=r"^[A-Z][A-Z0-9_]{1,31}$")
    name: str = Field(min_length=1, max_length=64)
    tax_rate: Decimal = Field(ge=0, lt=1, max_digits=6, decimal_places=4)
    prices: list[Decimal] = Field(min_length=1, max_length=10)

    @model_validator(mode="after")
    def _prices(self) -> Self:
        for p in self.prices:
            if not p.is_finite() or p < 0 or p.as_tuple().exponent < -4:  # type: ignore[operator]
                raise ValueError(f"prices of {self.code}: 单价须非负且最多四位小数")
            if p > UNIT_PRICE_MAX:
                raise ValueError(f"prices of {self.code}: 单价不得超过 {UNIT_PRICE_MAX}")
        return self


class FixedChargeSpec(Model):
    """A component billed once per bill period at a fixed amount (quantity 1), e.g. a meter fee."""

    code: str = Field(pattern=r"^[A-Z][A-Z0-9_]{1,31}$")
    name: str = Field(min_length=1, max_length=64)
    tax_rate: Decimal = Field(ge=0, lt=1, max_digits=6, decimal_places=4)
    amount: Decimal = Field(ge=0, le=FIXED_AMOUNT_MAX, max_digits=8, decimal_places=2)


class PriceTemplateSpec(Model):
    """configValue of a PRICE config: a complete tariff (tiers x cost components), and optionally the
    family's minimum usage per bill period (最低计量水量) and its fixed charges per period. A document
    without the two optional keys is read as before: no minimum, no fixed charge."""

    name: str = Field(min_length=1, max_length=100)
    tier_mode: Literal["MONTHLY", "ANNUAL"]
    base_population: int = Field(default=4, ge=1, le=20)
    tiers: list[TierSpec] = Field(min_length=1, max_length=10)
    components: list[ComponentSpec] = Field(min_length=1, max_length=10)
    minimum_usage: Decimal | None = Field(default=None, gt=0, max_digits=12, decimal_places=2)
    fixed_charges: list[FixedChargeSpec] = Field(default_factory=list, max_length=10)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        numbers = [t.tier_no for t in self.tiers]
        if numbers != list(range(1, len(self.tiers) + 1)):
            raise ValueError("tiers: tierNo 须从 1 起连续")
        if self.tiers[-1].upper_bound is not None or any(t.upper_bound is None for t in self.tiers[:-1]):
            raise ValueError("tiers: 仅最后一级不设 upperBound")
        bounds = [t.upper_bound for t in self.tiers[:-1]]
        if any(b <= a for a, b in itertools.pairwise(bounds)):  # type: ignore[operator]
            raise ValueError("tiers: upperBound 须逐级递增")
        for c in self.components:
            if len(c.prices) != len(self.tiers):
                raise ValueError(f"components.{c.code}: 须为每一级阶梯给出单价（{len(self.tiers)} 个）")
        if len({c.code for c in self.components}) != len(self.components):
            raise ValueError("components: 费用组成编码重复")
        codes = {c.code for c in self.components}
        fixed = [f.code for f in self.fixed_charges]
        if len(set(fixed)) != len(fixed) or codes & set(fixed):
            raise ValueError("fixedCharges: 固定费用编码重复或与 components 的编码相同")
        return self
