"""IF-REV-010 /statistics/query: a theme's indicators over the caller's data scope, totals and groups.

Each theme has two sources answering the same question with the same outer query:
- SUMMARY, the biz_stat_* tables kept by the business tables' statement triggers in the same
  transaction (migration 0090), read by default: their size is the number of groups, not the book;
- LIVE, the business tables themselves, read for one customer (custId / accountId, an index scan) and
  for groupBy custId (a customer grain the summaries do not keep); the benchmark times it as the floor.
The filters (period or day range, office subtree, type, price family, channel, status) and the data
scope apply to a source's rows the same way, so the two agree (tests/integration/test_statistics.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any, NamedTuple

from waterrev import clock
from waterrev.context import RequestContext
from waterrev.db import UnitOfWork
from waterrev.errors import AppError, ErrorCode, bad_request
from waterrev.statistics import rules
from waterrev.statistics.commands import StatQuery
from waterrev.visibility import customer_not_found, customer_visible, dept_params, dept_visible

QUERY_PERMISSION = "revenue:statistics:query"
EXPORT_PERMISSION = "revenue:statistics:export"
MAX_QUERY_ROWS = 5000  # /query answers at most this many groups; an export takes up to MAX_EXPORT_ROWS
MAX_EXPORT_ROWS = 1_000_000
_CUST_DIM = "custId"  # groupBy custId: per customer, from the live tables (RECEIVABLE, ARREARS, COLLECTION)
_CUST_THEMES = ("RECEIVABLE", "ARREARS", "COLLECTION")

_CUST = "JOIN biz_cust c ON c.id = {alias}.cust_id"
_CUST_COLS = (
    "c.dept_id, c.cust_type, COALESCE(c.price_code, '') AS price_code, c.id AS cust_id, c.code AS cust_code"
)

# Every base yields the same column names: the dimensions (period, day, dept_id, cust_type, price_code,
# channel, status, due_date, invoice_type, cust_id, cust_code where they exist) and the theme's measures.
SUMMARY: dict[str, str] = {
    "RECEIVABLE": "SELECT bill_period AS period, dept_id, cust_type, price_code, status, bill_count, receivable,"
    " paid, CASE WHEN status = 'BAD_DEBT' THEN receivable - paid ELSE 0 END AS bad_debt, usage_amount"
    " FROM biz_stat_receivable",
    "ARREARS": "SELECT bill_period AS period, dept_id, cust_type, price_code, status, due_date, bill_count,"
    " receivable - paid AS arrears FROM biz_stat_receivable",
    "COLLECTION": "SELECT to_char(pay_date, 'YYYY-MM') AS period, pay_date AS day, dept_id, cust_type, price_code,"
    " channel, status, tx_count,"
    " CASE WHEN channel <> 'PREPAY' THEN amount ELSE 0 END AS received,"
    " CASE WHEN channel = 'PREPAY' THEN amount ELSE 0 END AS prepay_deducted, written_off,"
    " CASE WHEN channel <> 'PREPAY' THEN to_balance ELSE 0 END AS to_balance,"
    " CASE WHEN channel <> 'PREPAY' THEN reversed ELSE 0 END AS reversed, refunded FROM biz_stat_collection",
    "CUSTOMER": "SELECT dept_id, cust_type, price_code, status, cust_count FROM biz_stat_customer",
    "READING": "SELECT bill_period AS period, dept_id, cust_type, price_code, task_count, done_count,"
    " reading_count, abnormal_count, estimated_count FROM biz_stat_reading",
    "INVOICE": "SELECT to_char(apply_date, 'YYYY-MM') AS period, apply_date AS day, dept_id, cust_type,"
    " price_code, invoice_type, invoice_status AS status, invoice_count, amount,"
    " CASE WHEN invoice_status = 'SUCCESS' THEN invoice_count ELSE 0 END AS issued_count,"
    " CASE WHEN invoice_status = 'FAIL' THEN invoice_count ELSE 0 END AS failed_count FROM biz_stat_invoice",
}

_PAY_DAY = "(COALESCE(k.pay_time, k.create_time) AT TIME ZONE 'Asia/Shanghai')::date"
_APPLY_DAY = "(i.create_time AT TIME ZONE 'Asia/Shanghai')::date"
LIVE: dict[str, str] = {
    "RECEIVABLE": f"SELECT ch.bill_period AS period, {_CUST_COLS}, ch.status, 1 AS bill_count,"
    " ch.total_amount AS receivable, ch.paid_amount AS paid,"
    " CASE WHEN ch.status = 'BAD_DEBT' THEN ch.total_amount - ch.paid_amount ELSE 0 END AS bad_debt, ch.usage_amount"
    f" FROM biz_charge ch {_CUST.format(alias='ch')} WHERE {{cust:ch}}",
    "ARREARS": f"SELECT ch.bill_period AS period, {_CUST_COLS}, ch.status, ch.due_date, 1 AS bill_count,"
    " ch.total_amount - ch.paid_amount AS arrears"
    f" FROM biz_charge ch {_CUST.format(alias='ch')} WHERE {{cust:ch}}",
    "COLLECTION": f"SELECT to_char({_PAY_DAY}, 'YYYY-MM') AS period, {_PAY_DAY} AS day, {_CUST_COLS},"
    " k.channel, k.status, 1 AS tx_count,"
    " CASE WHEN k.channel <> 'PREPAY' THEN k.amount ELSE 0 END AS received,"
    " CASE WHEN k.channel = 'PREPAY' THEN k.amount ELSE 0 END AS prepay_deducted, k.written_off,"
    " CASE WHEN k.channel <> 'PREPAY' THEN k.to_balance ELSE 0 END AS to_balance, 0 AS reversed, 0 AS refunded"
    f" FROM biz_collection k {_CUST.format(alias='k')} WHERE {{cust:k}}"
    # reversals (their ledger lines) and refunds: the rows the adjustment triggers add (migration 0110)
    f" UNION ALL SELECT to_char(v.pay_date, 'YYYY-MM'), v.pay_date, {_CUST_COLS}, v.channel, v.status, 0,"
    " CASE WHEN v.channel <> 'PREPAY' THEN v.amount ELSE 0 END,"
    " CASE WHEN v.channel = 'PREPAY' THEN v.amount ELSE 0 END, v.written_off,"
    " CASE WHEN v.channel <> 'PREPAY' THEN v.to_balance ELSE 0 END,"
    " CASE WHEN v.channel <> 'PREPAY' THEN v.reversed ELSE 0 END, v.refunded"
    f" FROM stat_adjust_collection_v v {_CUST.format(alias='v')} WHERE {{cust:v}}",
    "CUSTOMER": f"SELECT {_CUST_COLS}, c.status, 1 AS cust_count FROM biz_cust c WHERE {{cust:c}}",
    "READING": f"SELECT t.bill_period AS period, {_CUST_COLS}, 1 AS task_count,"
    " CASE WHEN t.status <> 'OPEN' THEN 1 ELSE 0 END AS done_count, 0 AS reading_count, 0 AS abnormal_count,"
    f" 0 AS estimated_count FROM biz_meter_read t {_CUST.format(alias='t')} WHERE {{cust:t}}"
    f" UNION ALL SELECT r.bill_period, {_CUST_COLS}, 0, 0, 1, CASE WHEN r.abnormal_flag THEN 1 ELSE 0 END,"
    f" CASE WHEN r.estimated THEN 1 ELSE 0 END FROM biz_reading_data r {_CUST.format(alias='r')}"
    " WHERE r.status NOT IN ('REJECTED', 'SUPERSEDED') AND {cust:r}",
    "INVOICE": f"SELECT to_char({_APPLY_DAY}, 'YYYY-MM') AS period, {_APPLY_DAY} AS day, {_CUST_COLS},"
    " COALESCE(i.invoice_type, '') AS invoice_type, i.invoice_status AS status, 1 AS invoice_count,"
    " COALESCE(i.amount, 0) AS amount,"
    " CASE WHEN i.invoice_status = 'SUCCESS' THEN 1 ELSE 0 END AS issued_count,"
    " CASE WHEN i.invoice_status = 'FAIL' THEN 1 ELSE 0 END AS failed_count"
    f" FROM biz_invoice i {_CUST.format(alias='i')} WHERE {{cust:i}}",
}

_AGEING = (
    "CASE WHEN CAST(:as_of AS date) - b.due_date <= 0 THEN 'NOT_DUE'"
    " WHEN CAST(:as_of AS date) - b.due_date <= 30 THEN 'D1_30'"
    " WHEN CAST(:as_of AS date) - b.due_date <= 90 THEN 'D31_90'"
    " WHEN CAST(:as_of AS date) - b.due_date <= 180 THEN 'D91_180'"
    " WHEN CAST(:as_of AS date) - b.due_date <= 365 THEN 'D181_365' ELSE 'OVER_365' END"
)
DIM_SQL = {
    "period": "b.period",
    "deptId": "b.dept_id",
    "customerCategory": "b.cust_type",
    "priceCode": "b.price_code",
    "channelCode": "b.channel",
    "status": "b.status",
    "ageing": _AGEING,
    "invoiceType": "b.invoice_type",
    _CUST_DIM: "b.cust_id",
}
DIM_KEY = {  # the reply's field for each dimension
    "period": "period",
    "deptId": "deptId",
    "customerCategory": "customerCategory",
    "priceCode": "priceCode",
    "channelCode": "channelCode",
    "status": "status",
    "ageing": "ageing",
    "invoiceType": "invoiceType",
    _CUST_DIM: "custId",
}


class Plan(NamedTuple):
    theme: rules.Theme
    source: str  # SUMMARY | LIVE
    sql: str
    params: dict[str, Any]
    group_by: tuple[str, ...]
    measures: tuple[str, ...]
    summary: dict[str, Any]  # dimensionSummary
    from_where: str  # " FROM (<base>) b WHERE <filters>": the same rows without the grouping


def _live_cust_filter(sql: str, cust_id: int | None) -> str:
    for alias in ("ch", "k", "c", "t", "r", "i", "v"):
        column = "c.id" if alias == "c" else f"{alias}.cust_id"  # c is biz_cust itself
        sql = sql.replace(
            "{cust:" + alias + "}", "true" if cust_id is None else f"{column} = CAST(:cust_id AS bigint)"
        )
    return sql


def plan(uow: UnitOfWork, ctx: RequestContext, cmd: StatQuery, *, source: str | None = None) -> Plan:
    """Check the request against the theme and the caller's scope; the SQL that answers it."""
    theme = rules.CATALOGUE[cmd.theme_code]
    if cmd.date_to < cmd.date_from:
        raise bad_request("dateTo: 结束日期不得早于开始日期")
    for dim in cmd.group_by:
        if dim not in theme.dimensions and not (dim == _CUST_DIM and theme.code in _CUST_THEMES):
            raise bad_request(f"groupBy: 主题 {theme.code} 不支持分组维度 {dim}")
    if len(set(cmd.group_by)) != len(cmd.group_by):
        raise bad_request("groupBy: 分组维度重复")
    for status in cmd.status_set:
        if status not in theme.statuses:
            allowed = "、".join(str(x) for x in theme.statuses) or "（无）"
            raise bad_request(f"statusSet: 主题 {theme.code} 的状态只能是 {allowed}")
    if cmd.channel_code is not None and "channelCode" not in theme.dimensions:
        raise bad_request(f"channelCode: 主题 {theme.code} 没有渠道维度")
    if cmd.bill_period is not None and theme.time_kind == "SNAPSHOT":
        raise bad_request(f"billPeriod: 主题 {theme.code} 是当前客户档案的结构，不按账期")
    if cmd.region_code is not None:
        raise bad_request("regionCode: 客户档案尚未登记片区，片区维度暂不支持（按营业所 deptId 统计）")

    params: dict[str, Any] = {**dept_params(ctx), "as_of": clock.today()}
    where = ["(CAST(:all_depts AS boolean) OR b.dept_id = ANY(CAST(:depts AS bigint[])))"]
    summary: dict[str, Any] = {
        "dateFrom": cmd.date_from,
        "dateTo": cmd.date_to,
        "groupBy": list(cmd.group_by),
        "asOf": params["as_of"],
    }
    if theme.time_kind == "PERIOD":
        params["p_from"], params["p_to"] = rules.months_between(cmd.date_from, cmd.date_to)
        where.append("b.period BETWEEN :p_from AND :p_to")
    elif theme.time_kind == "DAY":
        params["d_from"], params["d_to"] = cmd.date_from, cmd.date_to
        where.append("b.day BETWEEN CAST(:d_from AS date) AND CAST(:d_to AS date)")
    if cmd.bill_period is not None:
        params["bill_period"] = cmd.bill_period
        where.append("b.period = :bill_period")
        summary["billPeriod"] = cmd.bill_period
    if cmd.dept_id is not None:
        path = uow.scalar("SELECT tree_path FROM system_dept WHERE id = :d", {"d": cmd.dept_id})
        if path is None or not dept_visible(ctx, cmd.dept_id):
            raise AppError(ErrorCode.NOT_FOUND, f"deptId: 单位 {cmd.dept_id} 不存在")
        params["dept_path"] = f"{path}%"
        where.append("b.dept_id IN (SELECT id FROM system_dept WHERE tree_path LIKE :dept_path)")
        summary["deptId"] = cmd.dept_id
        summary["deptName"] = uow.scalar("SELECT name FROM system_dept WHERE id = :d", {"d": cmd.dept_id})
    for field, column, key in (
        (cmd.customer_category, "b.cust_type", "customerCategory"),
        (cmd.price_code, "b.price_code", "priceCode"),
        (cmd.channel_code, "b.channel", "channelCode"),
    ):
        if field is not None:
            params[key] = field
            where.append(f"{column} = :{key}")
            summary[key] = field
    statuses = [
        str(x) for x in cmd.status_set or (theme.statuses if theme.defaults is None else theme.defaults)
    ]
    if statuses:
        params["statuses"] = statuses
        where.append("b.status = ANY(CAST(:statuses AS varchar[]))")
        summary["statusSet"] = statuses

    cust_id = _customer_of(uow, ctx, cmd)
    if cust_id is not None:
        params["cust_id"] = cust_id
        summary["custId"] = cust_id
        if cmd.account_id is not None:
            summary["accountId"] = cmd.account_id
    live = cust_id is not None or _CUST_DIM in cmd.group_by or source == "LIVE"
    chosen = "LIVE" if live else "SUMMARY"
    base = _live_cust_filter(LIVE[theme.code], cust_id) if live else SUMMARY[theme.code]
    summary["source"] = chosen

    measures = rules.measures_of(theme)
    dims = [DIM_SQL[d] for d in cmd.group_by]
    if _CUST_DIM in cmd.group_by:
        dims.append("b.cust_code")
    select = [f"{expr} AS g{n}" for n, expr in enumerate(dims)]
    select += [f"COALESCE(sum(b.{m}), 0) AS {m}" for m in measures]
    from_where = f" FROM ({base}) b WHERE {' AND '.join(where)}"
    sql = f"SELECT {', '.join(select)}{from_where}"
    if dims:
        positions = ", ".join(str(n + 1) for n in range(len(dims)))
        sql += f" GROUP BY {positions}"
        nonzero = " OR ".join(f"COALESCE(sum(b.{m}), 0) <> 0" for m in measures)
        sql += f" HAVING {nonzero} ORDER BY {positions}"
    return Plan(theme, chosen, sql, params, cmd.group_by, measures, summary, from_where)


def _customer_of(uow: UnitOfWork, ctx: RequestContext, cmd: StatQuery) -> int | None:
    """custId / accountId: the customer they name, if the caller may see it (else as not found)."""
    cust_id = cmd.cust_id
    if cmd.account_id is not None:
        owner = uow.scalar("SELECT cust_id FROM biz_account WHERE id = :a", {"a": cmd.account_id})
        if owner is None or (cust_id is not None and owner != cust_id):
            raise customer_not_found(ctx, f"accountId={cmd.account_id}")
        cust_id = owner
    if cust_id is not None and not customer_visible(uow, ctx, cust_id):
        raise customer_not_found(
            ctx, f"custId={cmd.cust_id}" if cmd.cust_id else f"accountId={cmd.account_id}"
        )
    return cust_id


def group_rows(uow: UnitOfWork, p: Plan, *, chunk: int = 5000) -> Iterator[dict[str, Any]]:
    """The plan's rows, streamed through a server-side cursor (an export of a million groups never
    holds them all): {"dims": {name: value}, "measures": {measure: Decimal}}."""
    uow.execute(f"DECLARE stat_rows NO SCROLL CURSOR FOR {p.sql}", p.params)
    try:
        n_dims = len(p.group_by) + (1 if _CUST_DIM in p.group_by else 0)
        while True:
            batch = uow.all(f"FETCH FORWARD {int(chunk)} FROM stat_rows")
            if not batch:
                return
            for row in batch:
                values = list(row.values())
                dims = dict(zip(p.group_by, values[: len(p.group_by)], strict=True))
                if _CUST_DIM in p.group_by:
                    dims["custCode"] = values[n_dims - 1]
                measures = {m: Decimal(values[n_dims + i]) for i, m in enumerate(p.measures)}
                yield {"dims": dims, "measures": measures}
    finally:
        uow.execute("CLOSE stat_rows")


def dept_names(uow: UnitOfWork, dept_ids: set[int]) -> dict[int, str]:
    if not dept_ids:
        return {}
    rows = uow.all(
        "SELECT id, name FROM system_dept WHERE id = ANY(CAST(:ids AS bigint[]))", {"ids": sorted(dept_ids)}
    )
    return {int(r["id"]): str(r["name"]) for r in rows}


def indicator_list(theme: rules.Theme, measures: dict[str, Decimal], whole: dict[str, Decimal]) -> list[dict]:
    return [
        {
            "indicatorCode": ind.code,
            "indicatorName": ind.name,
            "indicatorValue": rules.format_value(ind, value),
            "unit": ind.unit,
        }
        for ind, value in rules.indicator_values(theme, measures, whole)
    ]


def dimension_fields(dims: dict[str, Any], names: dict[int, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for dim, value in dims.items():
        if dim == "custCode":
            out["custCode"] = value
            continue
        key = DIM_KEY[dim]
        out[key] = int(value) if dim in ("deptId", _CUST_DIM) else value
        if dim == "deptId":
            out["deptName"] = names.get(int(value))
        if dim == "ageing":
            out["ageingName"] = rules.AGEING_NAMES.get(str(value))
    return out


def run(ctx: RequestContext, cmd: StatQuery, *, source: str | None = None, limit: int | None = None) -> dict:
    """The reply of /statistics/query (without an export): at most MAX_QUERY_ROWS groups."""
    limit = MAX_QUERY_ROWS if limit is None else limit
    with UnitOfWork() as uow:
        p = plan(uow, ctx, cmd, source=source)
        collected: list[dict[str, Any]] = []
        for row in group_rows(uow, p, chunk=min(limit + 1, 5000)):
            collected.append(row)
            if len(collected) > limit:
                raise bad_request(f"groupBy: 分组结果超过 {limit} 行，请缩小范围或使用导出")
        names = dept_names(uow, {int(r["dims"]["deptId"]) for r in collected if "deptId" in r["dims"]})
        if "deptName" in p.summary:
            names.setdefault(int(p.summary["deptId"]), str(p.summary["deptName"]))
    total = {m: sum((r["measures"][m] for r in collected), Decimal(0)) for m in p.measures}
    rows = [] if not p.group_by else collected
    return {
        "themeCode": p.theme.code,
        "themeName": p.theme.name,
        "dimensionSummary": p.summary,
        "indicatorList": indicator_list(p.theme, total, total),
        "groupRows": [
            {
                **dimension_fields(r["dims"], names),
                "indicatorList": indicator_list(p.theme, r["measures"], total),
            }
            for r in rows
        ],
        "exportAllowed": ctx.principal.has(EXPORT_PERMISSION),
        "msg": _explain(p),
    }


def _explain(p: Plan) -> str:
    where = "汇总表（与业务变更同事务维护）" if p.source == "SUMMARY" else "在线业务表"
    return f"{p.theme.name}：口径来源 {where}；应收、实收、欠费分列，预存抵扣不计入实收，冲正冲减实收，退款、坏账单列"
