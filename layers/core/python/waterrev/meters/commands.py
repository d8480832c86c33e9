"""What the meter asset use cases take (the handlers build them from the models package)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import NamedTuple


class OpenWorkOrder(NamedTuple):
    order_type: str  # CHANGE | MOVE | CALIBRATE | REPAIR
    meter_id: int
    reason: str
    handler_id: int | None = None


class HandleWorkOrder(NamedTuple):
    """IF-METER-002: one step of a work order. COMPLETE carries the result its type needs."""

    order_no: str
    action: str  # DISPATCH | COMPLETE | CANCEL
    handler_id: int | None = None
    remark: str | None = None
    # CHANGE
    old_final_reading: Decimal | None = None
    new_meter_id: int | None = None
    new_initial_reading: Decimal | None = None
    change_time: dt.datetime | None = None
    # MOVE
    install_address: str | None = None
    # CALIBRATE
    certificate_no: str | None = None
    verify_result: str | None = None
    verify_date: dt.date | None = None
    valid_until: dt.date | None = None
    agency: str | None = None


class NewMeter(NamedTuple):
    meter_no: str
    caliber: str
    model: str | None = None
    range_code: str | None = None
    max_reading: Decimal = Decimal("99999")


class StockAction(NamedTuple):
    """IF-METER-003: one stock action on a batch of meters."""

    action: str  # IN | OUT | RETURN | SCRAP
    batch_no: str
    operator_id: int
    meter_ids: tuple[int, ...] = ()
    warehouse_code: str | None = None
    remark: str | None = None
    new_meters: tuple[NewMeter, ...] = ()


class ArchiveQuery(NamedTuple):
    """IF-METER-001: a meter by id or code; queryType base | status | lifeCycle | all."""

    meter_id: int | None = None
    code: str | None = None
    query_type: str = "all"
