"""The statistics use cases' inputs."""

from __future__ import annotations

import datetime as dt
from typing import NamedTuple


class StatQuery(NamedTuple):
    theme_code: str
    date_from: dt.date
    date_to: dt.date
    bill_period: str | None = None
    dept_id: int | None = None
    region_code: str | None = None
    customer_category: str | None = None
    price_code: str | None = None
    channel_code: str | None = None
    account_id: int | None = None
    cust_id: int | None = None
    status_set: tuple[str, ...] = ()
    group_by: tuple[str, ...] = ()
    export_flag: bool = False
