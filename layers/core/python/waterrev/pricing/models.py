"""IF-REV-012 业务参数配置接口 request models, and the PRICE configValue document."""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal
from typing import Literal, Self

from pydantic import Field, model_validator

from waterrev.fields import Model

ConfigType = Literal["PRICE", "RULE", "PAGE", "NOTICE"]


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
            if p < 0 or p.as_tuple().exponent < -4:  # type: ignore[operator]
                raise ValueError(f"prices of {self.code}: 单价须非负且最多四位小数")
        return self


class PriceTemplateSpec(Model):
    """configValue of a PRICE config: a complete tariff (tiers x cost components)."""

    name: str = Field(min_length=1, max_length=100)
    tier_mode: Literal["MONTHLY", "ANNUAL"]
    base_population: int = Field(default=4, ge=1, le=20)
    tiers: list[TierSpec] = Field(min_length=1, max_length=10)
    components: list[ComponentSpec] = Field(min_length=1, max_length=10)

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
        return self


class ConfigRequest(Model):
    action: Literal["QUERY", "CREATE", "UPDATE"]
    config_type: ConfigType
    config_code: str | None = Field(default=None, pattern=r"^[A-Za-z][A-Za-z0-9_.\-]{1,99}$")
    config_value: str | None = Field(default=None, max_length=20000)
    config_version: int | None = Field(default=None, ge=1, description="UPDATE: 目标版本（缺省为最新草稿）")
    effect_status: Literal["DRAFT", "ACTIVE"] | None = Field(
        default=None, description="UPDATE: ACTIVE 即发布"
    )
    dept_id: int | None = Field(default=None, gt=0)
    effective_date: dt.date | None = None
    operator_id: int | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _needs(self) -> Self:
        if self.action != "QUERY" and not self.config_code:
            raise ValueError("configCode: CREATE/UPDATE 须填写")
        if self.config_type == "PRICE" and self.config_code and len(self.config_code) > 32:
            raise ValueError("configCode: 价格模板编码最长 32 位")  # biz_price_template.code
        if self.action == "CREATE" and not self.config_value:
            raise ValueError("configValue: CREATE 须填写")
        return self
