"""IF-REV-010 /statistics/export (and /query with exportFlag): the same question as /query, every group
row streamed from the database into an XLSX on local disk, the file uploaded to the export bucket, the
export recorded and audited, and a presigned link that lives minutes handed back.

Needs the export permission (revenue:statistics:export, checked by the route and again here for /query
with exportFlag) and answers only within the caller's data scope (the plan's scope condition).
The file is uploaded before the export row and its audit are committed; a crash in between leaves an
object no row names, which the bucket's lifecycle rule deletes (infra/constructs/export_files.py).
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
import tempfile
from decimal import Decimal
from typing import Any

from waterrev import audit
from waterrev.adapters import export_files
from waterrev.context import RequestContext
from waterrev.db import UnitOfWork
from waterrev.envelope import jsonable
from waterrev.errors import AppError, ErrorCode, bad_request
from waterrev.settings import get_settings
from waterrev.statistics import query as stat_query
from waterrev.statistics import rules
from waterrev.statistics.commands import StatQuery

MODULE = "REV-007"  # 统计分析 (the seed's module of IF-REV-010)


def export(ctx: RequestContext, cmd: StatQuery, *, source: str | None = None) -> dict[str, Any]:
    """Write the export; its number, file name, row count and a link living export_link_ttl_s."""
    if not ctx.principal.has(stat_query.EXPORT_PERMISSION):
        raise AppError(ErrorCode.FORBIDDEN, "exportFlag: 没有统计导出权限")
    now = dt.datetime.now(dt.UTC)
    export_no = f"SE{now:%Y%m%d%H%M%S}{secrets.token_hex(4).upper()}"
    with tempfile.TemporaryDirectory(prefix="stat-export-") as tmp:
        path = os.path.join(tmp, "export.xlsx")
        with UnitOfWork() as uow:
            p = stat_query.plan(uow, ctx, cmd, source=source)
            count = _write(uow, p, path, tmp)
        try:
            key = export_files.store(export_files.key_for(export_no), path)
        except Exception as exc:  # the bucket unreachable: nothing recorded, the caller may retry
            raise AppError(ErrorCode.INTERNAL_ERROR, "导出文件存储暂不可用，请稍后重试") from exc
    file_name = f"{p.theme.name}_{cmd.date_from:%Y%m%d}-{cmd.date_to:%Y%m%d}.xlsx"
    with UnitOfWork() as uow:
        uow.execute(
            "INSERT INTO biz_stat_export (export_no, theme_code, request, file_key, row_count, operator_id)"
            " VALUES (:no, :theme, CAST(:req AS jsonb), :key, :rows, :op)",
            {
                "no": export_no,
                "theme": p.theme.code,
                "req": _json(p.summary),
                "key": key,
                "rows": count,
                "op": ctx.principal.user_id,
            },
        )
        audit.record(
            uow,
            ctx,
            module=MODULE,
            operation="STAT_EXPORT",
            object_type="biz_stat_export",
            object_id=export_no,
            after={
                "themeCode": p.theme.code,
                "dimensionSummary": p.summary,
                "rowCount": count,
                "fileKey": key,
            },
        )
        uow.commit()
    ttl = get_settings().export_link_ttl_s
    return {
        "exportNo": export_no,
        "fileName": file_name,
        "rowCount": count,
        "downloadUrl": export_files.link(key, file_name),
        "expireTime": now + dt.timedelta(seconds=ttl),
    }


def _json(value: Any) -> str:
    import json

    return json.dumps(jsonable(value), ensure_ascii=False)


def _write(uow: UnitOfWork, p: stat_query.Plan, path: str, tmp: str) -> int:
    from waterrev.statistics.xlsx import ExportBook

    theme = p.theme
    dims = list(p.group_by)
    columns: list[str] = []
    kinds: list[str | None] = []
    for dim in dims:
        if dim == "custId":
            columns += ["客户标识", "客户编号"]
            kinds += [None, None]
        elif dim == "deptId":
            columns += ["营业所标识", "营业所"]
            kinds += [None, None]
        else:
            columns.append(rules.DIMENSION_NAMES[dim])
            kinds.append(None)
    columns += [f"{ind.name}（{ind.unit}）" for ind in theme.indicators]
    kinds += ["money" if ind.unit in ("元", "m³", "%") else "count" for ind in theme.indicators]
    notes = [f"{k}: {v}" for k, v in jsonable(p.summary).items()]
    # per-period sums of the measures (a few dozen periods at most): the trend sheet, and the total row
    by_period: dict[str, dict[str, Decimal]] = {}
    total = {m: Decimal(0) for m in p.measures}
    count = 0
    names: dict[int, str] = {}
    with ExportBook(path, tmp) as book:
        book.header(f"{theme.name}（{theme.code}）", notes, columns, kinds)
        # shares (渠道占比) need the whole result's total first: one aggregate query before streaming
        whole = _whole(uow, p) if any(ind.share_of for ind in theme.indicators) and dims else None
        for row in stat_query.group_rows(uow, p):
            count += 1
            if count > stat_query.MAX_EXPORT_ROWS:
                raise bad_request(f"groupBy: 导出结果超过 {stat_query.MAX_EXPORT_ROWS} 行，请缩小范围")
            values: list[Any] = []
            for dim in dims:
                value = row["dims"][dim]
                if dim == "custId":
                    values += [int(value), row["dims"].get("custCode")]
                elif dim == "deptId":
                    dept = int(value)
                    if dept not in names:
                        names.update(stat_query.dept_names(uow, {dept}))
                    values += [dept, names.get(dept)]
                elif dim == "ageing":
                    values.append(rules.AGEING_NAMES.get(str(value), value))
                else:
                    values.append(value)
            measures = row["measures"]
            values += [v for _, v in rules.indicator_values(theme, measures, whole or measures)]
            book.row(values)
            for m in p.measures:
                total[m] += measures[m]
            if "period" in dims:
                sums = by_period.setdefault(str(row["dims"]["period"]), {m: Decimal(0) for m in p.measures})
                for m in p.measures:
                    sums[m] += measures[m]
        if dims:
            book.row(
                ["合计", *[None] * (len(columns) - len(theme.indicators) - 1)]
                + [v for _, v in rules.indicator_values(theme, total, total)]
            )
        else:
            book.row([v for _, v in rules.indicator_values(theme, total, total)])
        if "period" in dims:
            trend = next(ind for ind in theme.indicators if ind.code == theme.trend)
            points = [
                (period, dict((i.code, v) for i, v in rules.indicator_values(theme, sums, sums))[trend.code])
                for period, sums in sorted(by_period.items())
            ]
            book.trend(f"{theme.name}：{trend.name}按期间", trend.name, trend.unit, points)
    return count


def _whole(uow: UnitOfWork, p: stat_query.Plan) -> dict[str, Decimal]:
    measures = ", ".join(f"COALESCE(sum(b.{m}), 0) AS {m}" for m in p.measures)
    row = uow.one(f"SELECT {measures}{p.from_where}", p.params) or {}
    return {m: Decimal(row.get(m) or 0) for m in p.measures}
