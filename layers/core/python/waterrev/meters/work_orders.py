"""IF-METER-002 表务工单: open a work order on a meter (CHANGE / MOVE / CALIBRATE / REPAIR), dispatch it,
complete it with its result, or cancel it; the WORK_ORDER lifecycle decides what may follow what.

Completing a CHANGE closes the old meter and starts the new one so the next bill is right: the old
meter's final reading less its last counted reading (and any carry it had) is the usage still to bill,
kept as a biz_meter_change the new meter's first reading adds (metering.readings.compute_usage); the
old meter is REMOVED from the customer and from service, the new one (issued from stock) INSTALLED in
its place, in the same meter book, starting at its initial reading, its interval starting where the old
meter's last reading left off; the old meter's open reading task is CLOSED and the new meter gets one
for the same period. A MOVE changes the install address, a CALIBRATE records the verification
certificate, a REPAIR records what was done. Every step is a biz_meter_log row and an audit row.

An order raised by an online application (IF-CS-006) carries its process id; whoever handles the order
may pass `on_finish`, called in the same transaction when the order is DONE or CANCELLED, so the
application moves with it (the service desk passes its own; this package never imports it).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from waterrev import audit
from waterrev.context import RequestContext
from waterrev.db import UnitOfWork
from waterrev.domain.states import STOCK, WORK_ORDER, StockStatus, WorkOrderStatus
from waterrev.envelope import page
from waterrev.errors import AppError, ErrorCode
from waterrev.meters.commands import HandleWorkOrder, OpenWorkOrder
from waterrev.visibility import customer_scope, customer_visible

MODULE = "METER-003"
OnFinish = Callable[[UnitOfWork, RequestContext, dict[str, Any]], None]


def _log(
    uow: UnitOfWork,
    ctx: RequestContext,
    meter_id: int,
    event: str,
    order_id: int | None,
    detail: dict[str, Any],
) -> None:
    uow.execute(
        "INSERT INTO biz_meter_log (meter_id, event, work_order_id, detail, operator_id) VALUES"
        " (:m, :e, :w, CAST(:d AS jsonb), :op)",
        {
            "m": meter_id,
            "e": event,
            "w": order_id,
            "d": json.dumps(detail, ensure_ascii=False, default=str),
            "op": ctx.principal.user_id,
        },
    )


def _serving(uow: UnitOfWork, meter_id: int) -> dict[str, Any] | None:
    return uow.one(
        "SELECT * FROM biz_cust_meter WHERE meter_id = :m AND status = 'ACTIVE'",
        {"m": meter_id},
    )


def _reply(order: dict[str, Any], msg: str) -> dict[str, Any]:
    return {
        "workOrderId": order["id"],
        "workOrderNo": order["order_no"],
        "orderType": order["order_type"],
        "orderStatus": order["status"],
        "meterId": order["meter_id"],
        "custId": order["cust_id"],
        "processId": order["process_id"],
        "newMeterId": order["new_meter_id"],
        "msg": msg,
    }


def open_order(
    uow: UnitOfWork,
    ctx: RequestContext,
    *,
    order_type: str,
    meter_id: int,
    reason: str,
    process_id: int | None = None,
    handler_id: int | None = None,
) -> dict[str, Any]:
    """A new CREATED order in the caller's unit of work (the service desk opens one for a meter change).
    One live order per meter: a second answers 409 naming the live one."""
    meter = uow.one("SELECT * FROM biz_meter WHERE id = :m FOR UPDATE", {"m": meter_id})
    if meter is None:
        raise AppError(ErrorCode.NOT_FOUND, f"meterId: 水表 {meter_id} 不存在")
    serving = _serving(uow, meter_id)
    if order_type in ("CHANGE", "MOVE") and serving is None:
        raise AppError(
            ErrorCode.CONFLICT,
            f"meterId: 水表 {meter_id} 未在用，不能{'换表' if order_type == 'CHANGE' else '移表'}",
        )
    live = uow.scalar(
        "SELECT order_no FROM biz_meter_work_order WHERE meter_id = :m AND status IN ('CREATED', 'DISPATCHED')",
        {"m": meter_id},
    )
    if live is not None:
        raise AppError(ErrorCode.CONFLICT, f"水表 {meter_id} 已有在办工单 {live}", data={"workOrderNo": live})
    seq = int(uow.scalar("SELECT nextval('biz_meter_work_order_seq')"))
    order_no = f"GD{dt.datetime.now(dt.UTC):%Y%m%d}{seq:06d}"
    order = uow.one(
        "INSERT INTO biz_meter_work_order (order_no, order_type, meter_id, cust_id, process_id, reason, handler_id,"
        " creator) VALUES (:no, :t, :m, :c, :p, :r, :h, :u) RETURNING *",
        {
            "no": order_no,
            "t": order_type,
            "m": meter_id,
            "c": None if serving is None else serving["cust_id"],
            "p": process_id,
            "r": reason,
            "h": handler_id,
            "u": ctx.principal.user_id,
        },
    )
    assert order is not None
    _log(uow, ctx, meter_id, "WORK_ORDER_CREATED", order["id"], {"orderType": order_type, "reason": reason})
    audit.record(
        uow,
        ctx,
        module=MODULE,
        operation="WORK_ORDER_CREATE",
        object_type="biz_meter_work_order",
        object_id=order["id"],
        after={"orderNo": order_no, "orderType": order_type, "meterId": meter_id, "processId": process_id},
    )
    return order


def _visible_meter(uow: UnitOfWork, ctx: RequestContext, meter_id: int) -> bool:
    serving = _serving(uow, meter_id)
    return serving is None or customer_visible(uow, ctx, serving["cust_id"])


def create(ctx: RequestContext, cmd: OpenWorkOrder) -> dict[str, Any]:
    with UnitOfWork() as uow:
        if not _visible_meter(uow, ctx, cmd.meter_id):
            raise AppError(ErrorCode.NOT_FOUND, f"meterId: 水表 {cmd.meter_id} 不存在")
        order = open_order(
            uow,
            ctx,
            order_type=cmd.order_type,
            meter_id=cmd.meter_id,
            reason=cmd.reason,
            handler_id=cmd.handler_id,
        )
        uow.commit()
    return _reply(order, "工单已创建")


def _change(
    uow: UnitOfWork, ctx: RequestContext, order: dict[str, Any], cmd: HandleWorkOrder
) -> dict[str, Any]:
    if cmd.old_final_reading is None or cmd.new_meter_id is None:
        raise AppError(ErrorCode.BAD_REQUEST, "oldFinalReading、newMeterId: 换表完工须提供旧表止码与新表")
    old = uow.one("SELECT * FROM biz_meter WHERE id = :m FOR UPDATE", {"m": order["meter_id"]})
    new = uow.one("SELECT * FROM biz_meter WHERE id = :m FOR UPDATE", {"m": cmd.new_meter_id})
    if new is None or new["id"] == order["meter_id"]:
        raise AppError(ErrorCode.NOT_FOUND, f"newMeterId: 水表 {cmd.new_meter_id} 不存在")
    assert old is not None
    if new["stock_status"] != StockStatus.ISSUED:
        raise AppError(
            ErrorCode.CONFLICT,
            f"newMeterId: 新表库存状态为 {new['stock_status'] or '未入库'}，须先领用出库",
            data={"stockStatus": new["stock_status"]},
        )
    STOCK.require(new["stock_status"], StockStatus.INSTALLED, subject=f"水表 {new['meter_no']}")
    serving = uow.one(
        "SELECT * FROM biz_cust_meter WHERE meter_id = :m AND status = 'ACTIVE' FOR UPDATE", {"m": old["id"]}
    )
    if serving is None:
        raise AppError(ErrorCode.CONFLICT, f"水表 {old['id']} 已不在用")
    last = uow.one("SELECT * FROM biz_last_reading WHERE meter_id = :m FOR UPDATE", {"m": old["id"]})
    base = Decimal(last["reading_value"]) if last else Decimal(old["initial_reading"])
    carry = Decimal(last["carry_usage"]) if last else Decimal("0")
    final = cmd.old_final_reading
    if final < base:
        raise AppError(
            ErrorCode.READING_BELOW_LAST,
            f"oldFinalReading: 旧表止码 {final} 小于最近有效读数 {base}",
            data={"lastReading": str(base)},
        )
    initial = (
        cmd.new_initial_reading if cmd.new_initial_reading is not None else Decimal(new["initial_reading"])
    )
    carried = final - base + carry
    when = cmd.change_time or dt.datetime.now(dt.UTC)
    change_id = uow.scalar(
        "INSERT INTO biz_meter_change (old_meter_id, new_meter_id, old_final_reading, new_initial_reading,"
        " carried_usage, change_time) VALUES (:o, :n, :f, :i, :c, :t) RETURNING id",
        {"o": old["id"], "n": new["id"], "f": final, "i": initial, "c": carried, "t": when},
    )
    uow.execute("UPDATE biz_cust_meter SET status = 'REMOVED' WHERE id = :id", {"id": serving["id"]})
    uow.execute(
        "INSERT INTO biz_cust_meter (cust_id, meter_id, status, bind_date) VALUES (:c, :m, 'ACTIVE', :d)",
        {"c": serving["cust_id"], "m": new["id"], "d": when.date()},
    )
    uow.execute(
        "UPDATE biz_meter SET status = 'REMOVED', stock_status = :s WHERE id = :m",
        {"s": StockStatus.REMOVED, "m": old["id"]},
    )
    uow.execute(
        "UPDATE biz_meter SET status = 'ACTIVE', stock_status = :s, book_id = :b, install_address = :a,"
        " install_date = :d, initial_reading = :i WHERE id = :m",
        {
            "s": StockStatus.INSTALLED,
            "b": old["book_id"],
            "a": old["install_address"],
            "d": when.date(),
            "i": initial,
            "m": new["id"],
        },
    )
    # the new meter starts at its initial reading; its first interval starts where the old one's ended
    uow.execute(
        "INSERT INTO biz_last_reading (meter_id, reading_value, read_time) VALUES (:m, :v, :t)"
        " ON CONFLICT (meter_id) DO UPDATE SET reading_id = NULL, reading_value = :v, read_time = :t,"
        " estimated = false, carry_usage = 0, update_time = now()",
        {"m": new["id"], "v": initial, "t": last["read_time"] if last else None},
    )
    # a mixed-use split (一表多价, decision 66) belongs to the supply point: the new meter takes the old one's
    # versions still in force on the change day or starting later, with their dates
    splits = uow.all(
        "INSERT INTO biz_meter_price_split (meter_id, part_no, price_code, split_mode, ratio, quantity,"
        " effective_date, expire_date, operator_id) SELECT :n, part_no, price_code, split_mode, ratio, quantity,"
        " effective_date, expire_date, :op FROM biz_meter_price_split WHERE meter_id = :o"
        " AND (expire_date IS NULL OR expire_date >= :d) ON CONFLICT DO NOTHING RETURNING id",
        {"n": new["id"], "o": old["id"], "d": when.date(), "op": ctx.principal.user_id},
    )
    closed = uow.all(
        "UPDATE biz_meter_read SET status = 'CLOSED' WHERE meter_id = :m AND status = 'OPEN'"
        " RETURNING book_id, cust_id, bill_period, reading_batch_no",
        {"m": old["id"]},
    )
    for task in closed:
        uow.execute(
            "INSERT INTO biz_meter_read (book_id, meter_id, cust_id, bill_period, reading_batch_no)"
            " VALUES (:b, :m, :c, :p, :batch) ON CONFLICT (meter_id, bill_period) DO NOTHING",
            {
                "b": task["book_id"],
                "m": new["id"],
                "c": task["cust_id"],
                "p": task["bill_period"],
                "batch": task["reading_batch_no"],
            },
        )
    detail = {
        "oldMeterId": old["id"],
        "newMeterId": new["id"],
        "oldFinalReading": final,
        "lastReading": base,
        "carriedUsage": carried,
        "newInitialReading": initial,
        "meterChangeId": change_id,
        "tasksMoved": [t["bill_period"] for t in closed],
        "priceSplitPartsCopied": len(splits),
    }
    _log(uow, ctx, old["id"], "REMOVED", order["id"], detail)
    _log(uow, ctx, new["id"], "INSTALLED", order["id"], detail)
    return detail


def _finish_result(
    uow: UnitOfWork, ctx: RequestContext, order: dict[str, Any], cmd: HandleWorkOrder
) -> dict[str, Any]:
    kind = order["order_type"]
    if kind == "CHANGE":
        return _change(uow, ctx, order, cmd)
    if kind == "MOVE":
        if not cmd.install_address:
            raise AppError(ErrorCode.BAD_REQUEST, "installAddress: 移表完工须提供新安装地址")
        before = uow.scalar("SELECT install_address FROM biz_meter WHERE id = :m", {"m": order["meter_id"]})
        uow.execute(
            "UPDATE biz_meter SET install_address = :a WHERE id = :m",
            {"a": cmd.install_address, "m": order["meter_id"]},
        )
        detail = {"from": before, "to": cmd.install_address}
        _log(uow, ctx, order["meter_id"], "MOVED", order["id"], detail)
        return detail
    if kind == "CALIBRATE":
        if not cmd.certificate_no or cmd.verify_result is None:
            raise AppError(ErrorCode.BAD_REQUEST, "certificateNo、verifyResult: 校表完工须提供检定证书与结论")
        cert = uow.scalar(
            "INSERT INTO biz_meter_certificate (meter_id, certificate_no, verify_result, verify_date, valid_until,"
            " agency, work_order_id) VALUES (:m, :no, :r, :d, :v, :a, :w) ON CONFLICT (certificate_no) DO NOTHING"
            " RETURNING id",
            {
                "m": order["meter_id"],
                "no": cmd.certificate_no,
                "r": cmd.verify_result,
                "d": cmd.verify_date or dt.date.today(),
                "v": cmd.valid_until,
                "a": cmd.agency,
                "w": order["id"],
            },
        )
        if cert is None:
            raise AppError(ErrorCode.CONFLICT, f"certificateNo: 证书 {cmd.certificate_no} 已登记")
        detail = {"certificateNo": cmd.certificate_no, "verifyResult": cmd.verify_result}
        _log(uow, ctx, order["meter_id"], "CALIBRATED", order["id"], detail)
        return detail
    detail = {"remark": cmd.remark}
    _log(uow, ctx, order["meter_id"], "REPAIRED", order["id"], detail)
    return detail


def handle(ctx: RequestContext, cmd: HandleWorkOrder, on_finish: OnFinish | None = None) -> dict[str, Any]:
    target = {"DISPATCH": WorkOrderStatus.DISPATCHED, "COMPLETE": WorkOrderStatus.DONE}.get(
        cmd.action, WorkOrderStatus.CANCELLED
    )
    with UnitOfWork() as uow:
        order = uow.one(
            "SELECT * FROM biz_meter_work_order WHERE order_no = :no FOR UPDATE", {"no": cmd.order_no}
        )
        if order is None or not _visible_meter(uow, ctx, order["meter_id"]):
            raise AppError(ErrorCode.NOT_FOUND, f"workOrderNo: 工单 {cmd.order_no} 不存在")
        if order["status"] == target and target is not WorkOrderStatus.DISPATCHED:
            return _reply(order, "工单已处于该状态，未重复处理")  # a retried COMPLETE / CANCEL
        WORK_ORDER.require(order["status"], target, subject=f"工单 {cmd.order_no}")
        result: dict[str, Any] | None = order["result"]
        if target is WorkOrderStatus.DONE:
            result = _finish_result(uow, ctx, order, cmd)
        order = uow.one(
            "UPDATE biz_meter_work_order SET status = :s, handler_id = COALESCE(:h, handler_id),"
            " new_meter_id = :n, result = CAST(:r AS jsonb), update_time = now(),"
            " finish_time = CASE WHEN :s IN ('DONE', 'CANCELLED') THEN now() END WHERE id = :id RETURNING *",
            {
                "s": target,
                "h": cmd.handler_id,
                "n": (result or {}).get("newMeterId"),
                "r": json.dumps({**(result or {}), "remark": cmd.remark}, ensure_ascii=False, default=str),
                "id": order["id"],
            },
        )
        assert order is not None
        _log(uow, ctx, order["meter_id"], f"WORK_ORDER_{target}", order["id"], {"remark": cmd.remark})
        audit.record(
            uow,
            ctx,
            module=MODULE,
            operation=f"WORK_ORDER_{cmd.action}",
            object_type="biz_meter_work_order",
            object_id=order["id"],
            after={"status": target, "result": result},
        )
        if on_finish is not None and target in (WorkOrderStatus.DONE, WorkOrderStatus.CANCELLED):
            on_finish(uow, ctx, order)
        uow.commit()
    names = {"DISPATCHED": "已派工", "DONE": "已完工", "CANCELLED": "已取消"}
    return _reply(order, f"工单{names[target]}")


def orders_of_meter(uow: UnitOfWork, meter_id: int) -> list[dict[str, Any]]:
    return uow.all(
        "SELECT * FROM biz_meter_work_order WHERE meter_id = :m OR new_meter_id = :m ORDER BY id DESC LIMIT 50",
        {"m": meter_id},
    )


def order_page(
    ctx: RequestContext,
    *,
    status: str | None,
    order_type: str | None,
    meter_id: int | None,
    page_no: int,
    page_size: int,
) -> dict[str, Any]:
    """扩展: work orders, newest first - those of customers in the caller's data scope, and of meters
    serving no one."""
    scope, params = customer_scope(ctx)
    where = (
        f"(o.cust_id IS NULL OR {scope}) AND (CAST(:s AS varchar) IS NULL OR o.status = :s)"
        " AND (CAST(:t AS varchar) IS NULL OR o.order_type = :t) AND (CAST(:m AS bigint) IS NULL OR o.meter_id = :m)"
    )
    params = {**params, "s": status, "t": order_type, "m": meter_id}
    base = "FROM biz_meter_work_order o LEFT JOIN biz_cust c ON c.id = o.cust_id WHERE " + where
    with UnitOfWork() as uow:
        total = int(uow.scalar("SELECT count(*) " + base, params))
        rows = uow.all(
            "SELECT o.* " + base + " ORDER BY o.id DESC LIMIT :l OFFSET :off",
            {**params, "l": page_size, "off": (page_no - 1) * page_size},
        )
    return page([_reply(r, r["reason"]) for r in rows], total, page_no, page_size)
