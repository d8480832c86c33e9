"""What the metering use cases take: plain, validated values (the handlers build them from the request
models in models.py, which no use case imports)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import NamedTuple


class SaveBook(NamedTuple):
    """IF-REV-003: create or change a meter book (by its code) and put meters in it."""

    code: str
    name: str
    area_code: str
    dept_id: int
    read_cycle: str  # MONTHLY | ODD_MONTH | EVEN_MONTH | QUARTERLY
    reader_id: int | None = None
    meter_ids: tuple[int, ...] = ()


class GenerateTasks(NamedTuple):
    """IF-REV-003: one reading task per active meter of the selected books for a period. Books are
    selected by id and/or area (either matches), narrowed to one read cycle when given; with only a
    read cycle, every book of that cycle in the caller's data scope."""

    bill_period: str
    book_ids: tuple[int, ...] = ()
    area_code: str | None = None
    read_cycle: str | None = None
    reading_batch_no: str | None = None


class SubmitReading(NamedTuple):
    """IF-REV-004: one reading on an open task. `read_time` is timezone-aware."""

    meter_read_id: int
    meter_id: int
    read_time: dt.datetime
    current_reading: Decimal
    read_type: str  # MANUAL | IOT | IMPORT
    usage_amount: Decimal | None = None
    photo_list: tuple[str, ...] = ()
    gps: str | None = None
    remark: str | None = None
    abnormal_flag: bool = False


class ReviewReading(NamedTuple):
    """IF-REV-004: a supervisor's decision on a held reading or on a review of a reading below the last."""

    approve: bool
    remark: str
    reading_id: int | None = None
    review_id: int | None = None


class IotReading(NamedTuple):
    """IF-METER-004 / IF-EXT-009: one reading from the IoT platform or the meter data centre."""

    source_system: str  # IOT | MDC
    meter_code: str
    read_time: dt.datetime
    current_reading: Decimal
    device_status: str = "ONLINE"  # ONLINE | OFFLINE | ALARM
    alarm_list: tuple[str, ...] = ()
    file_serial_no: str | None = None
    battery_level: Decimal | None = None
    signal: int | None = None
