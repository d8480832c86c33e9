"""What the billing use cases take (the handler builds it from the request model; a bill run's chunk
builds it from the workflow's state)."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import NamedTuple

_PERIOD = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


def check_period(period: str) -> str:
    """A bill period as YYYY-MM, or ValueError (the workflow's input is not a request model)."""
    if not isinstance(period, str) or not _PERIOD.match(period):
        raise ValueError(f"billPeriod {period!r} is not YYYY-MM")
    return period


@dataclass(frozen=True)
class GenerateBills:
    """IF-REV-005: bill the period's ready readings, optionally only of a reading batch, of some
    customers or of some reading tasks."""

    bill_period: str
    due_date: dt.date
    reading_batch_no: str | None = None
    customer_ids: tuple[int, ...] = ()
    meter_read_ids: tuple[int, ...] = ()
    operator_id: int | None = None

    def __post_init__(self) -> None:
        check_period(self.bill_period)


class PriceDiff(NamedTuple):
    """IF-REV-005 extension (价差调整): bill what a corrected price of `config_code` adds to (or takes off)
    the posted bills of `bill_period`, as new bills due `due_date`; optionally only some customers."""

    bill_period: str
    config_code: str
    due_date: dt.date
    customer_ids: tuple[int, ...] = ()
    operator_id: int | None = None
    remark: str | None = None
