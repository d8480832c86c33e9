"""Shared pydantic conventions: camelCase on the wire, strict fields, field-level validators."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel


class Model(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", str_strip_whitespace=True
    )


_MOBILE = re.compile(r"^1[3-9]\d{9}$")
_PERIOD = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


def _mobile(value: str) -> str:
    if not _MOBILE.match(value):
        raise ValueError("手机号须为 11 位中国大陆手机号")
    return value


def valid_id_card(value: str) -> bool:
    """GB 11643: 17 digits and a checksum character."""
    if len(value) != 18 or not value[:17].isdigit():
        return False
    total = sum(int(d) * w for d, w in zip(value[:17], _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11] == value[17].upper()


def _period(value: str) -> str:
    if not _PERIOD.match(value):
        raise ValueError("账期格式须为 YYYY-MM")
    return value


def _amount(value: Decimal) -> Decimal:
    if value.as_tuple().exponent < -2:  # type: ignore[operator]
        raise ValueError("金额最多两位小数")
    return value


Mobile = Annotated[str, AfterValidator(_mobile)]
BillPeriod = Annotated[str, AfterValidator(_period)]
Amount = Annotated[Decimal, Field(ge=0, max_digits=14), AfterValidator(_amount)]
BankAccount = Annotated[str, Field(pattern=r"^\d{8,30}$")]
