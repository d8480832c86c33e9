"""IF-METER-003 库存出入库: IN, OUT (领用), RETURN (退库), SCRAP (报废) of a batch of meters.

Each meter is a line, SUCCESS or FAIL with its reason; the batch is SUCCESS, PARTIAL or FAIL. A meter's
stock status moves only along the STOCK lifecycle, under its row lock (meters locked in id order), and
the warehouse balance (biz_meter_stock, CHECK quantity >= 0) moves in the same transaction by what the
successful lines did, balances updated in (warehouse, caliber) order - so the balance is always the count
of meters in stock, concurrent batches wait for each other instead of overdrawing, and two batches
never deadlock. The seed's key is the batch: (action, batchNo) is unique, written first, and a repeated
batch answers the result it had the first time without moving anything.
"""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

from waterrev import audit
from waterrev.context import RequestContext
from waterrev.db import UnitOfWork
from waterrev.domain.states import StockStatus
from waterrev.errors import AppError, ErrorCode
from waterrev.meters.commands import StockAction
from waterrev.meters.rules import ACTION_NAMES, MOVES, action_status, refusal, scrap_delta

MODULE = "METER-002"


def _reply(uow: UnitOfWork, head: dict[str, Any], note: str) -> dict[str, Any]:
    lines = uow.all(
        "SELECT meter_id, line_status, reason FROM biz_meter_in_out_rel WHERE in_out_id = :i ORDER BY meter_id",
        {"i": head["id"]},
    )
    return {
        "inOutId": head["id"],
        "batchNo": head["batch_no"],
        "actionStatus": head["action_status"],
        "successCount": head["success_count"],
        "failCount": head["fail_count"],
        "msg": note,
        "action": head["action"],
        "warehouseCode": head["warehouse_code"],
        "lines": [
            {"meterId": r["meter_id"], "lineStatus": r["line_status"], "reason": r["reason"]} for r in lines
        ],
    }


def _register(uow: UnitOfWork, cmd: StockAction) -> list[int]:
    """IN's new meters (扩展 newMeters): registered by meter number; a number already known is that meter
    (whose line then says whether it can come in)."""
    ids = []
    for m in cmd.new_meters:
        found = uow.scalar(
            "INSERT INTO biz_meter (meter_no, caliber, model, range_code, max_reading, status) VALUES"
            " (:no, :cal, :model, :rng, :max, 'ACTIVE') ON CONFLICT (meter_no) DO NOTHING RETURNING id",
            {"no": m.meter_no, "cal": m.caliber, "model": m.model, "rng": m.range_code, "max": m.max_reading},
        )
        if found is None:
            found = uow.scalar("SELECT id FROM biz_meter WHERE meter_no = :no", {"no": m.meter_no})
        ids.append(int(found))
    return ids


def in_out(ctx: RequestContext, cmd: StockAction) -> dict[str, Any]:
    move = MOVES[cmd.action]
    if cmd.action in ("IN", "RETURN") and not cmd.warehouse_code:
        raise AppError(ErrorCode.BAD_REQUEST, f"warehouseCode: {ACTION_NAMES[cmd.action]}须指定仓库")
    with UnitOfWork() as uow:
        head_id = uow.scalar(
            "INSERT INTO biz_meter_in_out (batch_no, action, warehouse_code, action_status, success_count,"
            " fail_count, remark, operator_id) VALUES (:b, :a, :w, 'FAIL', 0, 0, :r, :op)"
            " ON CONFLICT (action, batch_no) DO NOTHING RETURNING id",
            {
                "b": cmd.batch_no,
                "a": cmd.action,
                "w": cmd.warehouse_code,
                "r": cmd.remark,
                "op": cmd.operator_id,
            },
        )
        if head_id is None:
            head = uow.one(
                "SELECT * FROM biz_meter_in_out WHERE action = :a AND batch_no = :b",
                {"a": cmd.action, "b": cmd.batch_no},
            )
            assert head is not None
            return _reply(uow, head, "批次已处理，返回首次处理结果")
        meter_ids = sorted(set(cmd.meter_ids) | set(_register(uow, cmd) if cmd.action == "IN" else ()))
        if not meter_ids:
            raise AppError(ErrorCode.BAD_REQUEST, "meterIds: 不能为空")
        deltas: dict[tuple[str, str], int] = defaultdict(int)
        lines: list[dict[str, Any]] = []
        for meter_id in meter_ids:
            meter = uow.one(
                "SELECT m.id, m.caliber, m.stock_status, m.warehouse_code, EXISTS (SELECT 1 FROM biz_cust_meter cm"
                " WHERE cm.meter_id = m.id AND cm.status = 'ACTIVE') AS serving FROM biz_meter m WHERE m.id = :m"
                " FOR UPDATE OF m",
                {"m": meter_id},
            )
            reason = None
            current = None if meter is None else meter["stock_status"]
            if meter is None:
                reason = "水表不存在"
            elif current not in move.sources:
                reason = refusal(cmd.action, current)
            elif cmd.action == "IN" and meter["serving"]:
                reason = "在用水表不能入库（先换表拆回）"
            elif (
                cmd.action in ("OUT", "SCRAP")
                and current == StockStatus.IN_STOCK
                and cmd.warehouse_code
                and meter["warehouse_code"] != cmd.warehouse_code
            ):
                reason = f"水表不在仓库 {cmd.warehouse_code}"
            if reason is not None or meter is None:
                lines.append({"m": meter_id, "s": "FAIL", "r": reason})
                continue
            warehouse = cmd.warehouse_code if cmd.action in ("IN", "RETURN") else meter["warehouse_code"]
            delta = scrap_delta(current) if cmd.action == "SCRAP" else move.delta
            if delta:
                deltas[(str(warehouse), meter["caliber"])] += delta
            uow.execute(
                "UPDATE biz_meter SET stock_status = :t, warehouse_code = :w WHERE id = :m",
                {"t": move.target, "w": warehouse, "m": meter_id},
            )
            uow.execute(
                "INSERT INTO biz_meter_log (meter_id, event, in_out_id, detail, operator_id) VALUES"
                " (:m, :e, :io, CAST(:d AS jsonb), :op)",
                {
                    "m": meter_id,
                    "e": f"STOCK_{cmd.action}",
                    "io": head_id,
                    "d": json.dumps({"from": current, "to": move.target, "warehouse": warehouse}),
                    "op": cmd.operator_id,
                },
            )
            lines.append({"m": meter_id, "s": "SUCCESS", "r": None})
        for (warehouse, caliber), delta in sorted(deltas.items()):
            if delta:
                uow.execute(
                    "INSERT INTO biz_meter_stock (warehouse_code, caliber) VALUES (:w, :c) ON CONFLICT DO NOTHING",
                    {"w": warehouse, "c": caliber},
                )
                uow.execute(
                    "UPDATE biz_meter_stock SET quantity = quantity + :d, update_time = now()"
                    " WHERE warehouse_code = :w AND caliber = :c",
                    {"w": warehouse, "c": caliber, "d": delta},
                )
        uow.execute(
            "INSERT INTO biz_meter_in_out_rel (in_out_id, meter_id, line_status, reason)"
            " SELECT :i, m, s, r FROM unnest(CAST(:ms AS bigint[]), CAST(:ss AS varchar[]), CAST(:rs AS varchar[]))"
            " AS u(m, s, r)",
            {
                "i": head_id,
                "ms": [x["m"] for x in lines],
                "ss": [x["s"] for x in lines],
                "rs": [x["r"] for x in lines],
            },
        )
        ok_count = sum(x["s"] == "SUCCESS" for x in lines)
        status = action_status(x["s"] == "SUCCESS" for x in lines)
        uow.execute(
            "UPDATE biz_meter_in_out SET action_status = :s, success_count = :ok, fail_count = :bad WHERE id = :i",
            {"s": status, "ok": ok_count, "bad": len(lines) - ok_count, "i": head_id},
        )
        audit.record(
            uow,
            ctx,
            module=MODULE,
            operation=f"STOCK_{cmd.action}",
            object_type="biz_meter_in_out",
            object_id=head_id,
            after={"batchNo": cmd.batch_no, "actionStatus": status, "successCount": ok_count, "lines": lines},
        )
        head = uow.one("SELECT * FROM biz_meter_in_out WHERE id = :i", {"i": head_id})
        assert head is not None
        reply = _reply(
            uow, head, f"{ACTION_NAMES[cmd.action]}：成功 {ok_count} 只，失败 {len(lines) - ok_count} 只"
        )
        uow.commit()
    return reply


def balance(ctx: RequestContext, warehouse_code: str | None) -> list[dict[str, Any]]:
    """The stock balance per warehouse and caliber (扩展)."""
    with UnitOfWork() as uow:
        rows = uow.all(
            "SELECT warehouse_code, caliber, quantity FROM biz_meter_stock"
            " WHERE CAST(:w AS varchar) IS NULL OR warehouse_code = :w ORDER BY warehouse_code, caliber",
            {"w": warehouse_code},
        )
    return [
        {"warehouseCode": r["warehouse_code"], "caliber": r["caliber"], "quantity": r["quantity"]}
        for r in rows
    ]
