"""History query (最小历史查询保留集): legacy objects by customer number, ID number, mobile, meter number,
period, office, channel, original or new number - read-only - as a summary and a page of detail, each
row with its original <-> new identifiers and, where it was mapped, the new object's current status
(状态映射). ID numbers and mobiles are looked up by their exact value and answered masked; a caller sees
only the records of the offices in its data scope (a record without an office: scope ALL only).
"""

from __future__ import annotations

from typing import Any

from waterrev import crypto
from waterrev.context import RequestContext
from waterrev.db import UnitOfWork
from waterrev.errors import AppError, ErrorCode
from waterrev.history import rules
from waterrev.history.commands import HistSearch
from waterrev.masking import mask_columns, mask_id_no, mask_mobile
from waterrev.visibility import dept_params, dept_visible

_CURRENT = (
    "CASE h.object_type"
    " WHEN 'BILL' THEN (SELECT status FROM biz_charge WHERE id = h.new_id)"
    " WHEN 'COLLECTION' THEN (SELECT status FROM biz_collection WHERE id = h.new_id)"
    " WHEN 'INVOICE' THEN (SELECT invoice_status FROM biz_invoice WHERE id = h.new_id)"
    " WHEN 'REMINDER' THEN (SELECT status FROM biz_reminder_task WHERE id = h.new_id)"
    " WHEN 'METER' THEN (SELECT status FROM biz_meter WHERE id = h.new_id)"
    " WHEN 'CONFIG' THEN (SELECT effect_status FROM biz_parameter_settings WHERE id = h.new_id)"
    " END"
)


def _where(uow: UnitOfWork, ctx: RequestContext, cmd: HistSearch) -> tuple[str, dict[str, Any]]:
    params: dict[str, Any] = dict(dept_params(ctx))
    where = ["(CAST(:all_depts AS boolean) OR h.dept_id = ANY(CAST(:depts AS bigint[])))"]
    exact = (
        ("object_type", cmd.object_type),
        ("cust_code", cmd.cust_code),
        ("id_no", cmd.id_no),
        ("mobile", cmd.mobile),
        ("meter_no", cmd.meter_no),
        ("bill_period", cmd.bill_period),
        ("channel", cmd.channel),
        ("legacy_no", cmd.legacy_no),
        ("new_no", cmd.new_no),
    )
    sealed = {"id_no": crypto.ID_NO, "mobile": crypto.MOBILE}  # by blind index (waterrev.crypto)
    for column, value in exact:
        if value is not None and column in sealed:
            params[column] = crypto.keys(uow.conn).pii_index(sealed[column], value)
            where.append(f"h.{column}_index = :{column}")
        elif value is not None:
            params[column] = value
            where.append(f"h.{column} = :{column}")
    if cmd.period_from is not None:
        params["p_from"] = cmd.period_from
        where.append("h.bill_period >= :p_from")
    if cmd.period_to is not None:
        params["p_to"] = cmd.period_to
        where.append("h.bill_period <= :p_to")
    if cmd.dept_id is not None:
        path = uow.scalar("SELECT tree_path FROM system_dept WHERE id = :d", {"d": cmd.dept_id})
        if path is None or not dept_visible(ctx, cmd.dept_id):
            raise AppError(ErrorCode.NOT_FOUND, f"deptId: 单位 {cmd.dept_id} 不存在")
        params["dept_path"] = f"{path}%"
        where.append("h.dept_id IN (SELECT id FROM system_dept WHERE tree_path LIKE :dept_path)")
    if cmd.import_no is not None:
        params["import_no"] = cmd.import_no
        where.append("h.import_id = (SELECT id FROM biz_hist_import WHERE import_no = :import_no)")
    return " AND ".join(where), params


def search(ctx: RequestContext, cmd: HistSearch) -> dict[str, Any]:
    with UnitOfWork() as uow:
        where, params = _where(uow, ctx, cmd)
        groups = uow.all(
            "SELECT h.object_type, count(*) AS n, COALESCE(sum(h.amount), 0) AS amount,"
            " count(h.new_id) AS mapped FROM biz_hist_record h"
            f" WHERE {where} GROUP BY h.object_type ORDER BY h.object_type",
            params,
        )
        rows = uow.all(
            f"SELECT h.*, i.import_no, i.source_system, d.name AS dept_name, {_CURRENT} AS current_status"
            " FROM biz_hist_record h JOIN biz_hist_import i ON i.id = h.import_id"
            " LEFT JOIN system_dept d ON d.id = h.dept_id"
            f" WHERE {where} ORDER BY h.object_type, h.bill_period DESC NULLS LAST, h.id"
            " LIMIT :lim OFFSET :off",
            {**params, "lim": cmd.page_size, "off": (cmd.page_no - 1) * cmd.page_size},
        )
    total = sum(int(g["n"]) for g in groups)
    mapped = sum(int(g["mapped"]) for g in groups)
    return {
        "summary": {
            "recordCount": total,
            "mappedCount": mapped,
            "unmappedCount": total - mapped,
            "byObjectType": [
                {
                    "objectType": g["object_type"],
                    "familyIds": list(rules.FAMILIES[g["object_type"]]),
                    "recordCount": int(g["n"]),
                    "amount": g["amount"],
                    "mappedCount": int(g["mapped"]),
                }
                for g in groups
            ],
        },
        "list": [_item(r) for r in rows],
        "total": total,
        "pageNo": cmd.page_no,
        "pageSize": cmd.page_size,
    }


def _item(r: dict[str, Any]) -> dict[str, Any]:
    return {
        "objectType": r["object_type"],
        "familyIds": list(rules.FAMILIES[r["object_type"]]),
        "legacyNo": r["legacy_no"],
        "legacyBatchNo": r["legacy_batch_no"],
        "newNo": r["new_no"],
        "newId": r["new_id"],
        "mapped": r["new_id"] is not None,
        "currentStatus": r["current_status"],
        "custCode": r["cust_code"],
        "custId": r["cust_id"],
        "idNo": mask_id_no(r["id_no"]),
        "mobile": mask_mobile(r["mobile"]),
        "meterNo": r["meter_no"],
        "billPeriod": r["bill_period"],
        "deptId": r["dept_id"],
        "deptName": r["dept_name"],
        "channel": r["channel"],
        "amount": r["amount"],
        "status": r["status"],
        "legacyStatus": r["legacy_status"],
        "bizType": r["biz_type"],
        "eventTime": r["event_time"],
        "sourceSystem": r["source_system"],
        "importNo": r["import_no"],
        "lineNo": r["line_no"],
        "detail": {k: str(v) for k, v in mask_columns(r["detail"] or {}).items()},
    }
