"""IF-REV-003 / IF-REV-004 / IF-METER-004 / IF-EXT-009 request models (seed field names)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Literal, Self

from pydantic import Field, model_validator

from waterrev.fields import BillPeriod, Model

Reading = Decimal  # validated below: >= 0, two places


class MeterBookSave(Model):
    code: str = Field(pattern=r"^[A-Za-z0-9-]{2,32}$")
    name: str = Field(min_length=1, max_length=100)
    area_code: str = Field(min_length=1, max_length=32)
    dept_id: int = Field(gt=0)
    read_cycle: Literal["MONTHLY", "ODD_MONTH", "EVEN_MONTH", "QUARTERLY"]
    reader_id: int | None = Field(default=None, gt=0)
    meter_ids: list[int] = Field(default_factory=list, max_length=5000)


class TaskGenerate(Model):
    bill_period: BillPeriod
    book_ids: list[int] = Field(default_factory=list, max_length=1000)
    area_code: str | None = Field(default=None, max_length=32)
    reading_batch_no: str | None = Field(default=None, pattern=r"^[A-Za-z0-9-]{1,40}$")

    @model_validator(mode="after")
    def _scope(self) -> Self:
        if not self.book_ids and not self.area_code:
            raise ValueError("bookIds 与 areaCode 至少填写一项")
        return self


class ReadingSubmit(Model):
    meter_read_id: int = Field(gt=0)
    meter_id: int = Field(gt=0)
    read_time: dt.datetime
    current_reading: Decimal = Field(ge=0, max_digits=12, decimal_places=2)
    read_type: Literal["MANUAL", "IOT", "IMPORT"]
    usage_amount: Decimal | None = Field(default=None, ge=0, max_digits=12, decimal_places=2)
    photo_list: list[str] = Field(default_factory=list, max_length=20)
    gps: str | None = Field(default=None, pattern=r"^-?\d{1,3}\.\d+,-?\d{1,3}\.\d+$")
    remark: str | None = Field(default=None, max_length=255)
    abnormal_flag: bool = False


class EstimateRequest(Model):
    meter_read_id: int = Field(gt=0)
    reason: str = Field(min_length=1, max_length=255)


class ReviewRequest(Model):
    reading_id: int | None = Field(default=None, gt=0, description="WARN 读数的复核")
    review_id: int | None = Field(default=None, gt=0, description="低于上次读数的异常审批")
    approve: bool
    remark: str = Field(min_length=1, max_length=255)

    @model_validator(mode="after")
    def _one(self) -> Self:
        if (self.reading_id is None) == (self.review_id is None):
            raise ValueError("readingId 与 reviewId 须且仅须填写一项")
        return self


class IotReading(Model):
    meter_id: int | None = Field(default=None, gt=0)
    meter_no: str | None = Field(default=None, max_length=32)
    read_time: dt.datetime
    current_reading: Decimal = Field(ge=0, max_digits=12, decimal_places=2)
    file_serial_no: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_\-]{1,64}$")
    device_status: Literal["ONLINE", "OFFLINE", "FAULT"] = "ONLINE"
    alarm_codes: list[str] = Field(default_factory=list, max_length=20)
    battery_level: Decimal | None = Field(default=None, ge=0, le=100)
    signal: int | None = Field(default=None, ge=-200, le=100)

    @model_validator(mode="after")
    def _meter(self) -> Self:
        if self.meter_id is None and not self.meter_no:
            raise ValueError("meterId 与 meterNo 至少填写一项")
        return self


class IotBatch(Model):
    platform_code: str = Field(default="IOT", pattern=r"^[A-Z0-9_]{2,32}$")
    readings: list[IotReading] = Field(min_length=1, max_length=1000)
