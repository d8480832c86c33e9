"""Migration verification (迁移验收对账): the legacy records of an object type against the new system's
objects, over a period range (and office, import), as a summary of counts and amounts per period and
office (and channel for collections) on both sides, and the differing rows, each traceable by its original
and new identifiers:
- MISSING_IN_NEW: a legacy record whose newNo names no object of the new system;
- MISSING_IN_LEGACY: an object of the new system in the range that no legacy record maps to;
- AMOUNT_MISMATCH, STATUS_MISMATCH, CUSTOMER_MISMATCH, PERIOD_MISMATCH: mapped, but different.
Read-only; within the caller's data scope (both sides filtered by office).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from waterrev.context import RequestContext
from waterrev.db import UnitOfWork
from waterrev.errors import AppError, ErrorCode, bad_request
from waterrev.history import rules
from waterrev.history.commands import MigrationVerify
from waterrev.visibility import dept_params, dept_visible

# the new system's side of each verifiable object type: id, number, period, office, amount, status,
# customer number, channel (collections), restricted to what the range and scope name
NEW_SIDE = {
    "BILL": "SELECT ch.id, ch.code AS new_no, ch.bill_period AS period, c.dept_id, ch.total_amount AS amount,"
    " ch.status, c.code AS cust_code, CAST(NULL AS varchar) AS channel"
    " FROM biz_charge ch JOIN biz_cust c ON c.id = ch.cust_id",
    "COLLECTION": "SELECT k.id, k.code AS new_no,"
    " to_char(COALESCE(k.pay_time, k.create_time) AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM') AS period,"
    " c.dept_id, k.amount, k.status, c.code AS cust_code, k.channel"
    " FROM biz_collection k JOIN biz_cust c ON c.id = k.cust_id",
    "INVOICE": "SELECT i.id, i.application_no AS new_no,"
    " to_char(i.create_time AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM') AS period, c.dept_id,"
    " COALESCE(i.amount, 0) AS amount, i.invoice_status AS status, c.code AS cust_code,"
    " CAST(NULL AS varchar) AS channel FROM biz_invoice i JOIN biz_cust c ON c.id = i.cust_id",
}


def verify(ctx: RequestContext, cmd: MigrationVerify) -> dict[str, Any]:
    if cmd.object_type not in rules.VERIFIABLE:
        raise bad_request(f"objectType: 迁移核对支持 {'、'.join(rules.VERIFIABLE)}（其余对象用历史查询追溯）")
    if cmd.period_to < cmd.period_from:
        raise bad_request("periodTo: 结束账期不得早于开始账期")
    with UnitOfWork() as uow:
        params: dict[str, Any] = {
            **dept_params(ctx),
            "t": cmd.object_type,
            "p_from": cmd.period_from,
            "p_to": cmd.period_to,
            "import_no": cmd.import_no,
            "lim": cmd.max_diff_rows,
        }
        dept_filter = "true"
        if cmd.dept_id is not None:
            path = uow.scalar("SELECT tree_path FROM system_dept WHERE id = :d", {"d": cmd.dept_id})
            if path is None or not dept_visible(ctx, cmd.dept_id):
                raise AppError(ErrorCode.NOT_FOUND, f"deptId: 单位 {cmd.dept_id} 不存在")
            params["dept_path"] = f"{path}%"
            dept_filter = "{a}.dept_id IN (SELECT id FROM system_dept WHERE tree_path LIKE :dept_path)"
        import_id = None
        if cmd.import_no is not None:
            import_id = uow.scalar(
                "SELECT id FROM biz_hist_import WHERE import_no = :no AND object_type = :t",
                {"no": cmd.import_no, "t": cmd.object_type},
            )
            if import_id is None:
                raise AppError(ErrorCode.NOT_FOUND, f"importNo: 导入批次 {cmd.import_no} 不存在")
        params["import_id"] = import_id
        scope = "(CAST(:all_depts AS boolean) OR {a}.dept_id = ANY(CAST(:depts AS bigint[])))"
        legacy = (
            "SELECT h.* FROM biz_hist_record h WHERE h.object_type = :t"
            " AND h.bill_period BETWEEN :p_from AND :p_to"
            " AND (CAST(:import_id AS bigint) IS NULL OR h.import_id = CAST(:import_id AS bigint))"
            f" AND {scope.format(a='h')} AND {dept_filter.format(a='h')}"
        )
        new_all = NEW_SIDE[cmd.object_type]
        new = (
            f"SELECT * FROM ({new_all}) n WHERE n.period BETWEEN :p_from AND :p_to"
            f" AND {scope.format(a='n')} AND {dept_filter.format(a='n')}"
        )
        with_channel = cmd.object_type == "COLLECTION"
        key = "period, dept_id" + (", channel" if with_channel else "")
        summary = uow.all(
            f"WITH l AS ({legacy}), n AS ({new}),"
            f" la AS (SELECT bill_period AS period, dept_id{', channel' if with_channel else ''},"
            "   count(*) AS legacy_count, COALESCE(sum(amount), 0) AS legacy_amount FROM l GROUP BY 1, 2"
            f"{', 3' if with_channel else ''}),"
            f" na AS (SELECT {key}, count(*) AS new_count, sum(amount) AS new_amount FROM n GROUP BY 1, 2"
            f"{', 3' if with_channel else ''})"
            f" SELECT * FROM la FULL JOIN na USING ({key}) ORDER BY {key}",
            params,
        )
        diffs = uow.all(
            f"WITH l AS ({legacy}), n AS ({new}), x AS ("
            " SELECT l.legacy_no, l.legacy_batch_no, l.new_no, l.new_id, l.cust_code AS legacy_cust,"
            "  l.bill_period AS legacy_period, l.dept_id AS legacy_dept, l.amount AS legacy_amount,"
            "  l.status AS legacy_status_code, l.legacy_status, l.line_no, l.channel AS legacy_channel,"
            "  m.new_no AS found_no, m.cust_code AS new_cust, m.period AS new_period, m.dept_id AS new_dept,"
            "  m.amount AS new_amount, m.status AS new_status, m.id AS found_id"
            f"  FROM l LEFT JOIN ({new_all}) m ON m.id = l.new_id"
            " UNION ALL"
            " SELECT NULL, NULL, n.new_no, n.id, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,"
            "  n.new_no, n.cust_code, n.period, n.dept_id, n.amount, n.status, n.id"
            "  FROM n WHERE NOT EXISTS (SELECT 1 FROM biz_hist_record h WHERE h.object_type = :t"
            "   AND h.new_id = n.id))"
            " SELECT * FROM x WHERE found_id IS NULL OR legacy_no IS NULL OR legacy_amount IS DISTINCT FROM new_amount"
            " OR legacy_status_code IS DISTINCT FROM new_status OR legacy_cust IS DISTINCT FROM new_cust"
            " OR legacy_period IS DISTINCT FROM new_period"
            " ORDER BY COALESCE(legacy_period, new_period), COALESCE(legacy_dept, new_dept), legacy_no NULLS LAST,"
            " new_no LIMIT :lim + 1",
            params,
        )
    groups = [_group(g) for g in summary]
    totals = {
        "legacyCount": sum(g["legacyCount"] for g in groups),
        "legacyAmount": sum((g["legacyAmount"] for g in groups), Decimal("0.00")),
        "newCount": sum(g["newCount"] for g in groups),
        "newAmount": sum((g["newAmount"] for g in groups), Decimal("0.00")),
    }
    totals["countDiff"] = totals["newCount"] - totals["legacyCount"]
    totals["amountDiff"] = totals["newAmount"] - totals["legacyAmount"]
    totals["matched"] = totals["countDiff"] == 0 and totals["amountDiff"] == 0 and not diffs
    return {
        "objectType": cmd.object_type,
        "familyIds": list(rules.FAMILIES[cmd.object_type]),
        "periodFrom": cmd.period_from,
        "periodTo": cmd.period_to,
        "deptId": cmd.dept_id,
        "importNo": cmd.import_no,
        "total": totals,
        "summaryRows": groups,
        "diffRows": [_diff(d) for d in diffs[: cmd.max_diff_rows]],
        "diffTruncated": len(diffs) > cmd.max_diff_rows,
    }


def _group(g: dict[str, Any]) -> dict[str, Any]:
    legacy_count, new_count = int(g.get("legacy_count") or 0), int(g.get("new_count") or 0)
    legacy_amount = Decimal(g.get("legacy_amount") or 0).quantize(Decimal("0.01"))
    new_amount = Decimal(g.get("new_amount") or 0).quantize(Decimal("0.01"))
    return {
        "period": g["period"],
        "deptId": g["dept_id"],
        "channel": g.get("channel"),
        "legacyCount": legacy_count,
        "legacyAmount": legacy_amount,
        "newCount": new_count,
        "newAmount": new_amount,
        "countDiff": new_count - legacy_count,
        "amountDiff": new_amount - legacy_amount,
        "matched": legacy_count == new_count and legacy_amount == new_amount,
    }


def _diff(d: dict[str, Any]) -> dict[str, Any]:
    kinds: list[str] = []
    if d["legacy_no"] is None:
        kinds.append("MISSING_IN_LEGACY")
    elif d["found_id"] is None:
        kinds.append("MISSING_IN_NEW")
    else:
        if d["legacy_amount"] != d["new_amount"]:
            kinds.append("AMOUNT_MISMATCH")
        if d["legacy_status_code"] != d["new_status"]:
            kinds.append("STATUS_MISMATCH")
        if d["legacy_cust"] != d["new_cust"]:
            kinds.append("CUSTOMER_MISMATCH")
        if d["legacy_period"] != d["new_period"]:
            kinds.append("PERIOD_MISMATCH")
    return {
        "diffTypes": kinds,
        "legacyNo": d["legacy_no"],
        "legacyBatchNo": d["legacy_batch_no"],
        "lineNo": d["line_no"],
        "newNo": d["found_no"] if d["found_id"] is not None else d["new_no"],
        "newId": d["found_id"],
        "legacyCustCode": d["legacy_cust"],
        "newCustCode": d["new_cust"],
        "legacyPeriod": d["legacy_period"],
        "newPeriod": d["new_period"],
        "legacyDeptId": d["legacy_dept"],
        "newDeptId": d["new_dept"],
        "legacyAmount": d["legacy_amount"],
        "newAmount": d["new_amount"],
        "legacyStatus": d["legacy_status_code"],
        "legacyStatusText": d["legacy_status"],
        "newStatus": d["new_status"],
    }
