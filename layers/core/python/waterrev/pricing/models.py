"""IF-REV-012 业务参数配置接口 edge models: the request (seed field names) and the replies. The PRICE
document inside configValue is pricing.spec.PriceTemplateSpec; the use cases take pricing.commands."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal, Self

from pydantic import ConfigDict, Field, model_validator

from waterrev.fields import BIGINT_MAX, DateStr, Decimal4, Model, Money, Reply

ConfigType = Literal["PRICE", "RULE", "PAGE", "NOTICE"]
EffectStatus = Literal["DRAFT", "ACTIVE", "EXPIRED"]
_PRICE_EXAMPLE = (
    '{"name": "居民阶梯水价", "tierMode": "ANNUAL", "basePopulation": 4,'
    ' "tiers": [{"tierNo": 1, "upperBound": "216", "populationStep": "54"},'
    ' {"tierNo": 2, "upperBound": "300", "populationStep": "75"}, {"tierNo": 3}],'
    ' "components": [{"code": "WATER_FEE", "name": "水费", "taxRate": "0.09",'
    ' "prices": ["2.15", "3.23", "6.45"]}, {"code": "SEWAGE_FEE", "name": "污水处理费",'
    ' "taxRate": "0", "prices": ["1.00", "1.00", "1.00"]}],'
    ' "minimumUsage": "3", "fixedCharges": [{"code": "METER_FEE", "name": "水表维护费", "taxRate": "0.06",'
    ' "amount": "2.00"}]}'
)


class ConfigRequest(Model):
    """IF-REV-012 请求参数。PRICE 的 configValue 为价格模板 JSON（阶梯 tiers 与费用组成 components；扩展：
    最低计量水量 minimumUsage 与固定费用 fixedCharges，可省略）；RULE、PAGE、NOTICE 的 configValue 为参数值。"""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "action": "CREATE",
                    "configType": "PRICE",
                    "configCode": "RESIDENT",
                    "configValue": _PRICE_EXAMPLE,
                    "deptId": 2,
                    "effectiveDate": "2026-04-01",
                    "operatorId": 1,
                },
                {
                    "action": "UPDATE",
                    "configType": "PRICE",
                    "configCode": "RESIDENT",
                    "configVersion": 3,
                    "effectStatus": "ACTIVE",
                    "effectiveDate": "2026-04-01",
                },
                {
                    "action": "CREATE",
                    "configType": "RULE",
                    "configCode": "revenue.reading.warn-ratio",
                    "configValue": "3",
                },
                {"action": "QUERY", "configType": "PRICE", "configCode": "RESIDENT"},
            ]
        }
    )

    action: Literal["QUERY", "CREATE", "UPDATE"] = Field(description="动作：QUERY、CREATE、UPDATE")
    config_type: ConfigType = Field(description="配置类型：PRICE、RULE、PAGE、NOTICE")
    config_code: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z][A-Za-z0-9_.\-]{1,99}$",
        description="配置编码（PRICE 为价格模板编码，最长 32 位）；CREATE、UPDATE 必填",
    )
    config_value: str | None = Field(
        default=None, max_length=20000, description="配置值或 JSON 内容；CREATE 必填"
    )
    config_version: Annotated[int, Field(ge=1, le=2_147_483_647)] | None = Field(
        default=None, description="扩展：UPDATE PRICE 的目标版本（缺省为最新草稿）"
    )
    effect_status: Literal["DRAFT", "ACTIVE"] | None = Field(
        default=None, description="扩展：ACTIVE 即发布（PRICE 缺省为 DRAFT，参数缺省为 ACTIVE）"
    )
    dept_id: Annotated[int, Field(gt=0, le=BIGINT_MAX)] | None = Field(
        default=None, description="生效单位（缺省为全局 GLOBAL）"
    )
    effective_date: dt.date | None = Field(default=None, description="生效日期（发布时缺省为当天）")
    operator_id: Annotated[int, Field(gt=0, le=BIGINT_MAX)] | None = Field(
        default=None, description="操作人 ID（须为当前登录用户；操作以登录用户记审计）"
    )

    @model_validator(mode="after")
    def _needs(self) -> Self:
        if self.action != "QUERY" and not self.config_code:
            raise ValueError("configCode: CREATE/UPDATE 须填写")
        if self.config_type == "PRICE" and self.config_code and len(self.config_code) > 32:
            raise ValueError("configCode: 价格模板编码最长 32 位")  # biz_price_template.code
        if self.action == "CREATE" and not self.config_value:
            raise ValueError("configValue: CREATE 须填写")
        return self


# ---- replies -------------------------------------------------------------------------------------
class TierValue(Reply):
    tier_no: int = Field(description="阶梯序号，从 1 起")
    upper_bound: Decimal4 | None = Field(description="累计用量上限（m³）；最后一级为 null")
    population_step: Decimal4 = Field(description="基准人口以上每多一人，本级加宽的用量（m³）")


class ComponentValue(Reply):
    code: str = Field(description="费用组成编码，如 WATER_FEE、SEWAGE_FEE")
    name: str = Field(description="费用组成名称")
    tax_rate: Decimal4 = Field(description="税率")
    prices: list[Decimal4] = Field(description="各级阶梯单价（元/m³）")


class FixedChargeValue(Reply):
    code: str = Field(description="固定费用编码，如 METER_FEE")
    name: str = Field(description="固定费用名称，如 水表维护费")
    tax_rate: Decimal4 = Field(description="税率")
    amount: Money = Field(description="每个账期的金额（一行，数量 1）")


class PriceValue(Reply):
    """The PRICE document as stored: what CREATE took in configValue."""

    name: str = Field(description="价格模板名称")
    tier_mode: Literal["MONTHLY", "ANNUAL"] = Field(description="阶梯周期：按月或按年")
    base_population: int = Field(description="基准人口")
    tiers: list[TierValue] = Field(description="阶梯")
    components: list[ComponentValue] = Field(description="费用组成")
    minimum_usage: Decimal4 | None = Field(
        description="扩展：最低计量水量（m³/账期）；抄见水量低于它时按它计费，差额记 MINIMUM 明细；null 为无"
    )
    fixed_charges: list[FixedChargeValue] = Field(
        description="扩展：固定费用（每账期每项一行 FIXED 明细，数量 1），如水表维护费；无则为空"
    )


class ConfigItem(Reply):
    """One version of a configuration (a PRICE template version or a parameter version)."""

    config_id: int = Field(
        description="配置主键（PRICE 为 biz_price_template.id，其他为 biz_parameter_settings.id）"
    )
    config_code: str = Field(description="配置编码")
    config_version: str = Field(description="配置版本")
    effect_scope: str = Field(description="生效范围：GLOBAL 或 DEPT:<单位 ID>")
    effect_status: EffectStatus = Field(description="生效状态：DRAFT、ACTIVE、EXPIRED")
    config_type: ConfigType = Field(description="扩展：配置类型")
    config_value: str | PriceValue = Field(description="扩展：配置值；PRICE 为价格模板对象")
    effective_date: DateStr | None = Field(description="扩展：生效日期")
    expire_date: DateStr | None = Field(
        description="扩展：失效日期（PRICE 被新版本接替时为其前一天；参数为 null）"
    )


class ConfigReply(Reply):
    """IF-REV-012 响应参数 (configId ... msg) and our additions. CREATE/UPDATE: the saved version. QUERY:
    the first match (codes ascending, newest version first), all matches in configList."""

    config_id: int | None = Field(description="配置主键；QUERY 无匹配时为 null")
    config_code: str | None = Field(description="配置编码")
    config_version: str | None = Field(description="配置版本")
    effect_scope: str | None = Field(description="生效范围：GLOBAL 或 DEPT:<单位 ID>")
    effect_status: EffectStatus | None = Field(description="生效状态：DRAFT、ACTIVE、EXPIRED")
    msg: str = Field(description="处理说明")
    config_type: ConfigType = Field(description="扩展：配置类型")
    config_value: str | PriceValue | None = Field(description="扩展：配置值；PRICE 为价格模板对象")
    effective_date: DateStr | None = Field(description="扩展：生效日期")
    expire_date: DateStr | None = Field(description="扩展：失效日期")
    config_list: list[ConfigItem] | None = Field(
        description="扩展：QUERY 时为全部匹配的版本（同 GET），CREATE、UPDATE 时为 null"
    )
