"""IF-UP-004 edge models: dictionaries and parameters."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from waterrev.fields import DateStr, Reply


class DictItem(Reply):
    """IF-UP-004: one dictionary entry (system_dict_data)."""

    dict_type: str = Field(description="字典类型")
    label: str = Field(description="字典标签")
    value: str = Field(description="字典键值")
    sort: int = Field(description="排序")
    color_type: str | None = Field(description="颜色类型")


class ParameterReply(Reply):
    """IF-UP-004: the parameter value in force for the caller's dept (biz_parameter_settings)."""

    config_id: int = Field(description="参数记录 ID")
    config_type: Literal["PRICE", "RULE", "PAGE", "NOTICE"] = Field(description="参数类型")
    config_code: str = Field(description="参数编码")
    config_value: str = Field(description="参数值")
    config_version: str = Field(description="参数版本")
    effect_scope: str = Field(
        pattern=r"^(GLOBAL|DEPT:\d+)$",
        description="生效范围：GLOBAL（全局）或 DEPT:<营业所 ID>（与 IF-REV-012 相同）",
    )
    effect_status: Literal["ACTIVE"] = Field(description="生效状态（只返回生效中的版本）")
    effective_date: DateStr | None = Field(description="生效日期")
