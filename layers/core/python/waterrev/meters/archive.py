"""IF-METER-001 水表档案查询: a meter by id or code - its base data and status, and with
queryType lifeCycle / all its customer, recent readings, work orders, verification certificates and
its log. A meter serving a customer the caller may not see answers as one that does not exist."""

from __future__ import annotations

from typing import Any

from waterrev.context import RequestContext
from waterrev.db import UnitOfWork
from waterrev.errors import AppError, ErrorCode
from waterrev.masking import mask_mobile
from waterrev.meters.commands import ArchiveQuery
from waterrev.meters.work_orders import orders_of_meter
from waterrev.visibility import customer_visible


def get(ctx: RequestContext, query: ArchiveQuery) -> dict[str, Any]:
    asked = f"id={query.meter_id}" if query.meter_id is not None else f"code={query.code}"
    with UnitOfWork() as uow:
        meter = uow.one(
            "SELECT m.*, l.reading_value AS last_reading, l.read_time AS last_read_time FROM biz_meter m"
            " LEFT JOIN biz_last_reading l ON l.meter_id = m.id"
            " WHERE (CAST(:id AS bigint) IS NULL OR m.id = :id) AND (CAST(:code AS varchar) IS NULL OR m.meter_no = :code)",
            {"id": query.meter_id, "code": query.code},
        )
        if meter is None:
            raise AppError(ErrorCode.NOT_FOUND, f"水表不存在：{asked}")
        # its customer now, or the last one it served (a removed meter keeps its history)
        serving = uow.one(
            "SELECT cm.cust_id, cm.status, cm.bind_date, c.code, c.name, c.mobile FROM biz_cust_meter cm"
            " JOIN biz_cust c ON c.id = cm.cust_id WHERE cm.meter_id = :m ORDER BY (cm.status = 'ACTIVE') DESC, cm.id DESC"
            " LIMIT 1",
            {"m": meter["id"]},
        )
        if serving is not None and not customer_visible(uow, ctx, serving["cust_id"]):
            raise AppError(ErrorCode.NOT_FOUND, f"水表不存在：{asked}")
        reply: dict[str, Any] = {
            "id": meter["id"],
            "code": meter["meter_no"],
            "meterStatus": meter["status"],
            "modelCode": meter["model"],
            "caliberCode": meter["caliber"],
            "rangeCode": meter["range_code"],
            "installAddress": meter["install_address"],
            "lastReading": meter["last_reading"]
            if meter["last_reading"] is not None
            else meter["initial_reading"],
            "meterType": meter["meter_type"],
            "stockStatus": meter["stock_status"],
            "warehouseCode": meter["warehouse_code"],
            "installDate": meter["install_date"].isoformat() if meter["install_date"] else None,
            "lastReadTime": meter["last_read_time"],
            "customer": None,
            "readings": None,
            "workOrders": None,
            "certificates": None,
            "lifeCycle": None,
        }
        if query.query_type in ("status", "all", "lifeCycle") and serving is not None:
            reply["customer"] = {
                "custId": serving["cust_id"],
                "custCode": serving["code"],
                "custName": serving["name"],
                "mobile": mask_mobile(serving["mobile"]),
                "bindStatus": serving["status"],
                "bindDate": serving["bind_date"].isoformat(),
            }
        if query.query_type in ("lifeCycle", "all"):
            reply["readings"] = [
                {
                    "readingId": r["id"],
                    "billPeriod": r["bill_period"],
                    "readTime": r["read_time"],
                    "previousReading": r["previous_reading"],
                    "currentReading": r["current_reading"],
                    "usageAmount": r["usage_amount"],
                    "readType": r["read_type"],
                    "status": r["status"],
                }
                for r in uow.all(
                    "SELECT * FROM biz_reading_data WHERE meter_id = :m ORDER BY read_time DESC, id DESC LIMIT 24",
                    {"m": meter["id"]},
                )
            ]
            reply["workOrders"] = [
                {
                    "workOrderNo": o["order_no"],
                    "orderType": o["order_type"],
                    "orderStatus": o["status"],
                    "reason": o["reason"],
                    "processId": o["process_id"],
                    "newMeterId": o["new_meter_id"],
                    "createTime": o["create_time"],
                    "finishTime": o["finish_time"],
                }
                for o in orders_of_meter(uow, meter["id"])
            ]
            reply["certificates"] = [
                {
                    "certificateNo": c["certificate_no"],
                    "verifyResult": c["verify_result"],
                    "verifyDate": c["verify_date"].isoformat(),
                    "validUntil": c["valid_until"].isoformat() if c["valid_until"] else None,
                    "agency": c["agency"],
                }
                for c in uow.all(
                    "SELECT * FROM biz_meter_certificate WHERE meter_id = :m ORDER BY verify_date DESC, id DESC",
                    {"m": meter["id"]},
                )
            ]
            reply["lifeCycle"] = [
                {"event": x["event"], "time": x["create_time"], "detail": x["detail"]}
                for x in uow.all(
                    "SELECT event, create_time, detail FROM biz_meter_log WHERE meter_id = :m ORDER BY id DESC LIMIT 100",
                    {"m": meter["id"]},
                )
            ]
    return reply
