"""A reading the customer reports (自主抄表, IF-CS-006): recorded on the meter's open task through
IF-REV-004's rules (metering.readings.record_reading: the usage rule, the warn ratio, a reading below
the last refused with 1_002_002_002 and a review opened), in the caller's unit of work."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from waterrev.context import RequestContext
from waterrev.db import UnitOfWork
from waterrev.domain.lifecycle import sql_in
from waterrev.domain.states import READABLE_TASKS
from waterrev.errors import AppError, ErrorCode
from waterrev.metering.readings import record_reading

READ_TYPE = "SELF"  # 扩展: biz_reading_data.read_type of a customer's own reading


def submit_self_reading(
    uow: UnitOfWork,
    ctx: RequestContext,
    cust_id: int,
    meter_id: int,
    value: Decimal,
    read_time: dt.datetime,
    reference: str,
) -> dict[str, Any]:
    """The reading's IF-REV-004 reply. The meter must serve the customer and have an open task."""
    meter = uow.one(
        "SELECT m.* FROM biz_meter m JOIN biz_cust_meter cm ON cm.meter_id = m.id AND cm.status = 'ACTIVE'"
        " WHERE m.id = :m AND cm.cust_id = :c",
        {"m": meter_id, "c": cust_id},
    )
    if meter is None:
        raise AppError(ErrorCode.NOT_FOUND, f"applyData.meterId: 水表 {meter_id} 不属于该客户")
    task = uow.one(
        f"SELECT * FROM biz_meter_read WHERE meter_id = :m AND status IN ({sql_in(READABLE_TASKS)})"
        " ORDER BY bill_period DESC LIMIT 1 FOR UPDATE",
        {"m": meter_id},
    )
    if task is None:
        raise AppError(ErrorCode.METER_READ_TASK_NOT_FOUND_OR_CLOSED, f"水表 {meter_id} 当前没有待抄任务")
    return record_reading(uow, ctx, task, meter, value, read_time, READ_TYPE, remark=f"客户自报 {reference}")
