"""IF-REV-005 账单生成接口 request model (seed field names)."""

from __future__ import annotations

import datetime as dt

from pydantic import Field

from waterrev.fields import BillPeriod, Model


class GenerateRequest(Model):
    bill_period: BillPeriod
    reading_batch_no: str | None = Field(default=None, pattern=r"^[A-Za-z0-9-]{1,40}$")
    customer_ids: list[int] = Field(default_factory=list, max_length=10000)
    meter_read_ids: list[int] = Field(default_factory=list, max_length=10000)
    due_date: dt.date
    operator_id: int | None = Field(default=None, gt=0)
