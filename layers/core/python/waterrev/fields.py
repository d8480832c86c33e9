"""Shared pydantic conventions: camelCase on the wire, strict fields, field-level validators.

`Model` is a request model: every value a caller sends is checked for what the database would refuse
(a NUL in a string, text that is not UTF-8, an integer beyond BIGINT), so such input is a 400 naming
the field, never a database error. `Reply` is a reply model: what the interface answers inside the
envelope, money and times as the strings the envelope writes (docs/DECISIONS.md 7, 10, 11).
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Annotated, Any, Generic, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel

BIGINT_MAX = 2**63 - 1


def wire_problem(value: Any, path: str = "") -> str | None:
    """The first value PostgreSQL could not store as sent, named by its field path; None if all can be."""
    if isinstance(value, str):
        if "\x00" in value:
            return f"{path or 'body'}: 不允许包含 NUL 字符"
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return f"{path or 'body'}: 含有无法编码的字符（孤立的代理项）"
    elif isinstance(value, int) and not isinstance(value, bool):
        if not -BIGINT_MAX <= value <= BIGINT_MAX:
            return f"{path or 'body'}: 数值超出范围（绝对值须不大于 {BIGINT_MAX}）"
    elif isinstance(value, dict):
        for key, item in value.items():
            found = wire_problem(key, path) if isinstance(key, str) else None
            found = found or wire_problem(item, f"{path}.{key}" if path else str(key))
            if found:
                return found
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            found = wire_problem(item, f"{path}[{index}]")
            if found:
                return found
    return None


class Model(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", str_strip_whitespace=True
    )

    @model_validator(mode="before")
    @classmethod
    def _storable(cls, data: Any) -> Any:
        problem = wire_problem(data)
        if problem:
            raise ValueError(problem)
        return data


Id = Annotated[int, Field(gt=0, le=BIGINT_MAX)]


class Reply(BaseModel):
    """A reply model: the seed's response fields (camelCase on the wire), nothing undeclared."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


T = TypeVar("T")

# What the envelope writes (envelope.jsonable): money with two places, unit prices and rates with
# four, times in the utility's zone.
Money = Annotated[
    str, Field(pattern=r"^-?\d+\.\d{2}$", examples=["58.65"], description="金额（元），两位小数的字符串")
]
Decimal4 = Annotated[
    str, Field(pattern=r"^-?\d+\.\d{2,}$", examples=["3.4500"], description="单价、税率或用量：字符串")
]
DateTime = Annotated[
    str, Field(pattern=r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$", examples=["2026-03-11 09:30:00"])
]
DateStr = Annotated[str, Field(pattern=r"^\d{4}-\d{2}-\d{2}$", examples=["2026-03-31"])]


class Envelope(BaseModel, Generic[T]):
    """The seed's 通用响应格式: {code: 0, data, msg: "success"}."""

    code: int = Field(description="0 表示成功")
    data: T
    msg: str


class Page(BaseModel, Generic[T]):
    """The seed's 分页响应: {list, total, pageNo, pageSize}."""

    model_config = ConfigDict(extra="forbid")

    list: list[T]
    total: int
    pageNo: int
    pageSize: int


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


EARLIEST_TIME, LATEST_TIME = 2000, 2099  # the years a business time may fall in


def _utility_time(value: dt.datetime) -> dt.datetime:
    """A time without an offset is the utility's local time, as the seed writes it ("2026-03-11
    09:30:00", Asia/Shanghai); without this it would be read as UTC (or the host's zone), 8 hours off
    and, near midnight on a month's last day, in the wrong period. A time outside the years a revenue
    system can mean (year 1, year 9999 with an offset) is refused: the driver cannot convert it."""
    if value.tzinfo is None:
        from zoneinfo import ZoneInfo

        from waterrev.settings import get_settings

        value = value.replace(tzinfo=ZoneInfo(get_settings().display_time_zone))
    if not EARLIEST_TIME <= value.year <= LATEST_TIME:
        raise ValueError(f"时间须在 {EARLIEST_TIME} 年至 {LATEST_TIME} 年之间")
    try:
        value.astimezone(dt.UTC)
    except OverflowError:
        raise ValueError(f"时间须在 {EARLIEST_TIME} 年至 {LATEST_TIME} 年之间") from None
    return value


LocalDateTime = Annotated[
    dt.datetime,
    AfterValidator(_utility_time),
    Field(
        description="YYYY-MM-DD HH:MM:SS（Asia/Shanghai），或带时区偏移的 ISO 8601",
        examples=["2026-03-11 09:30:00"],
    ),
]
Mobile = Annotated[str, AfterValidator(_mobile)]
BillPeriod = Annotated[str, AfterValidator(_period)]
# NUMERIC(14,2): at most 12 digits before the point, 2 after.
Amount = Annotated[Decimal, Field(ge=0, max_digits=14, decimal_places=2), AfterValidator(_amount)]
BankAccount = Annotated[str, Field(pattern=r"^\d{8,30}$")]
