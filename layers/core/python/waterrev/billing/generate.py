"""IF-REV-005 bill generation, built for bill runs of any size.

A call bills the VALID readings of one period (optionally narrowed by batch, customers or tasks)
in chunks; each chunk is one transaction: its readings are locked with SKIP LOCKED (so two runs
never bill the same reading), priced in Python with the pure tariff, and written with COPY
(biz_charge and biz_charge_detail), then readings, tasks and account arrears are updated and one
audit row records the chunk's bills. A customer whose price template, tier rule, cost component or
settle volume is missing gets no bill at all (1_002_002_003 in failureList), and its reading stays
ready, so a run after the configuration is fixed bills exactly what is left.
"""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from waterrev import audit
from waterrev.billing.commands import GenerateBills
from waterrev.context import RequestContext
from waterrev.db import UnitOfWork
from waterrev.domain.states import BillStatus, MeterReadStatus, ReadingStatus
from waterrev.errors import AppError, ErrorCode
from waterrev.pricing.config import active_templates, load_tariff
from waterrev.pricing.tariff import Line, Tariff, TierMode, price, total
from waterrev.visibility import dept_params

MODULE = "REV-002"
CHUNK = 5000
ZERO = Decimal("0.00")
SETTLE_TYPES = ("ACTUAL_USAGE", "FIXED_VOLUME", "PER_POPULATION", "MINIMUM_CHARGE")


@dataclass
class Outcome:
    success: list[dict[str, Any]] = field(default_factory=list)
    failures: list[dict[str, Any]] = field(default_factory=list)
    total_amount: Decimal = ZERO
    readings: int = 0

    def merge(self, other: Outcome) -> None:
        self.success += other.success
        self.failures += other.failures
        self.total_amount += other.total_amount
        self.readings += other.readings


class Blocked(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def billed_usage(settle_type: str, actual: Decimal, volume: Decimal | None, population: int) -> Decimal:
    """The usage a bill charges for, by the customer's settle type."""
    if settle_type == "ACTUAL_USAGE":
        return actual
    if volume is None:
        raise Blocked(f"结算方式 {settle_type} 未配置结算水量")
    if settle_type == "FIXED_VOLUME":
        return volume
    if settle_type == "PER_POPULATION":
        return volume * population
    if settle_type == "MINIMUM_CHARGE":
        return max(actual, volume)
    raise Blocked(f"未知结算方式 {settle_type}")


# Claim a chunk: lock the next ready readings (skipping any another run holds) and mark them and
# their tasks BILLED in the same statement; readings that cannot be billed are put back to VALID
# (their tasks to READ) before commit: the claim undone, not a change of the lifecycle.
_CLAIM = f"""
WITH picked AS (
    SELECT r.id, sc.cust_type, sc.price_code, sc.population, sc.settle_type, sc.settle_volume, sc.dept_id
      FROM biz_reading_data r JOIN biz_cust sc ON sc.id = r.cust_id
     WHERE r.status = '{ReadingStatus.VALID}' AND r.bill_period = :period
       AND r.cust_id >= :after_cust AND (r.cust_id > :after_cust OR r.id > :after_id) AND r.cust_id <= :upto_cust
       AND (CAST(:all_depts AS boolean) OR sc.dept_id = ANY(CAST(:depts AS bigint[])))
       AND (CAST(:batch AS varchar) IS NULL OR EXISTS (SELECT 1 FROM biz_meter_read t
                                                       WHERE t.id = r.meter_read_id AND t.reading_batch_no = :batch))
       AND (cardinality(CAST(:custs AS bigint[])) = 0 OR r.cust_id = ANY(CAST(:custs AS bigint[])))
       AND (cardinality(CAST(:tasks AS bigint[])) = 0 OR r.meter_read_id = ANY(CAST(:tasks AS bigint[])))
     ORDER BY r.cust_id, r.id LIMIT :limit
       FOR UPDATE OF r SKIP LOCKED
), claimed AS (
    UPDATE biz_reading_data r SET status = '{ReadingStatus.BILLED}' WHERE r.id = ANY(ARRAY(SELECT id FROM picked))
    RETURNING r.id, r.meter_read_id, r.meter_id, r.cust_id, r.usage_amount
), tasks AS (
    UPDATE biz_meter_read t SET status = '{MeterReadStatus.BILLED}' WHERE t.id = ANY(ARRAY(SELECT meter_read_id FROM claimed))
)
SELECT k.id AS reading_id, k.meter_read_id, k.meter_id, k.usage_amount, k.cust_id,
       p.cust_type, p.price_code, p.population, p.settle_type, p.settle_volume, p.dept_id,
       (SELECT min(a.id) FROM biz_account a WHERE a.cust_id = k.cust_id) AS account_id
  FROM claimed k JOIN picked p ON p.id = k.id
 ORDER BY k.cust_id, k.id
"""


def generate(
    ctx: RequestContext,
    cmd: GenerateBills,
    *,
    run_id: int | None = None,
    chunk: int = CHUNK,
    keep_lists: bool = True,
    cust_range: tuple[int, int] | None = None,
) -> dict[str, Any]:
    """Bill the ready readings the caller's data scope reaches. `cust_range` (exclusive low,
    inclusive high customer id) limits a workflow chunk: a household's readings are always billed
    by one chunk, in order, so its annual tiers count every bill before it."""
    if cmd.due_date < dt.date.fromisoformat(cmd.bill_period + "-01"):
        raise AppError(ErrorCode.BAD_REQUEST, "dueDate: 不得早于账期首日")
    if cmd.operator_id is not None and cmd.operator_id != ctx.principal.user_id:
        # the bills are generated (and audited) as the caller; another operator is not taken on trust
        raise AppError(ErrorCode.FORBIDDEN, f"operatorId: {cmd.operator_id} 不是当前登录用户")
    outcome = Outcome()
    after_cust, upto_cust = cust_range or (0, 2**62)
    cursor: tuple[int, int] | None = (after_cust, 0)
    while cursor is not None:
        part, cursor = _bill_chunk(ctx, cmd, cursor, upto_cust, chunk, run_id)
        outcome.merge(part)
    return {
        "generateCount": len(outcome.success),
        "totalAmount": outcome.total_amount,
        "readingCount": outcome.readings,
        "failureCount": len(outcome.failures),
        "successList": outcome.success if keep_lists else [],
        "failureList": outcome.failures,
    }


def _bill_chunk(
    ctx: RequestContext,
    cmd: GenerateBills,
    after: tuple[int, int],
    upto_cust: int,
    limit: int,
    run_id: int | None,
) -> tuple[Outcome, tuple[int, int] | None]:
    outcome = Outcome()
    with UnitOfWork() as uow:
        rows = uow.all(
            _CLAIM,
            {
                "period": cmd.bill_period,
                "after_cust": after[0],
                "after_id": after[1],
                "upto_cust": upto_cust,
                **dept_params(ctx),
                "batch": cmd.reading_batch_no,
                "custs": list(cmd.customer_ids),
                "tasks": list(cmd.meter_read_ids),
                "limit": limit,
            },
        )
        if not rows:
            return outcome, None
        outcome.readings = len(rows)
        priced = _price_rows(uow, rows, cmd.bill_period, outcome)
        if outcome.failures:
            unbilled = {
                "ids": [f["readingId"] for f in outcome.failures],
                "tasks": [f["meterReadId"] for f in outcome.failures],
            }
            uow.execute(
                f"UPDATE biz_reading_data SET status = '{ReadingStatus.VALID}' WHERE id = ANY(CAST(:ids AS bigint[]))",
                unbilled,
            )
            uow.execute(
                f"UPDATE biz_meter_read SET status = '{MeterReadStatus.READ}' WHERE id = ANY(CAST(:tasks AS bigint[]))",
                unbilled,
            )
        if priced:
            _write(uow, ctx, cmd, priced, run_id, outcome)
        if run_id is not None and outcome.failures:
            _record_failures(uow, run_id, outcome.failures)
        uow.commit()
    last = rows[-1]
    return outcome, (int(last["cust_id"]), int(last["reading_id"])) if len(rows) == limit else None


@dataclass
class Priced:
    row: dict[str, Any]
    tariff: Tariff
    usage: Decimal
    lines: list[Line]
    amount: Decimal
    line_text: tuple[str, ...]  # COPY text of each line after its charge id


Memo = dict[tuple[int, Decimal, int, Decimal], tuple[list[Line], Decimal, tuple[str, ...]]]


def _priced_lines(
    memo: Memo, tariff: Tariff, usage: Decimal, population: int, before: Decimal
) -> tuple[list[Line], Decimal, tuple[str, ...]]:
    """The tariff is pure: within one chunk (one loaded version per template) the same inputs give
    the same lines, so each distinct (version, usage, household size, usage so far) is priced and
    formatted once."""
    key = (tariff.template_id, usage, population, before)
    found = memo.get(key)
    if found is None:
        lines = price(tariff, usage, population, before)
        text = tuple(
            f"\t{n}\t{line.component}\t{line.tier_no}\t{line.quantity}\t{line.unit_price}\t{line.amount}"
            f"\t{line.tax_rate}\n"
            for n, line in enumerate(lines, start=1)
        )
        found = memo[key] = (lines, total(lines), text)
    return found


def _price_rows(uow: UnitOfWork, rows: list[dict[str, Any]], period: str, outcome: Outcome) -> list[Priced]:
    period_start = dt.date.fromisoformat(period + "-01")
    # one statement for the chunk: each distinct (code, customer dept) to its scoped version
    templates = active_templates(
        uow, {(r["price_code"] or r["cust_type"], r["dept_id"]) for r in rows}, period_start
    )
    tariffs: dict[int, Tariff | str] = {}
    memo: Memo = {}
    year_usage: dict[int, Decimal] = {}
    annual = uow.scalar(
        "SELECT bool_or(tier_mode = 'ANNUAL') FROM biz_price_template WHERE id = ANY(CAST(:ids AS bigint[]))",
        {"ids": list(templates.values())},
    )
    if annual:
        year_usage = _usage_this_year(uow, [r["cust_id"] for r in rows], period)
    priced: list[Priced] = []
    for row in rows:
        code = row["price_code"] or row["cust_type"]
        try:
            if row["account_id"] is None:
                raise Blocked("客户无账户")
            template_id = templates.get((code, row["dept_id"]))
            if template_id is None:
                raise Blocked(f"价格模板 {code} 在 {period} 无生效版本")
            tariff = tariffs.get(template_id)
            if tariff is None:
                try:
                    tariff = load_tariff(uow, template_id)
                except AppError as exc:
                    tariff = exc.detail or exc.msg
                tariffs[template_id] = tariff
            if isinstance(tariff, str):
                raise Blocked(tariff)
            usage = billed_usage(
                row["settle_type"],
                Decimal(row["usage_amount"]),
                None if row["settle_volume"] is None else Decimal(row["settle_volume"]),
                row["population"],
            )
            before = year_usage.get(row["cust_id"], ZERO) if tariff.tier_mode is TierMode.ANNUAL else ZERO
            lines = _priced_lines(memo, tariff, usage, row["population"], before)
            if tariff.tier_mode is TierMode.ANNUAL:
                year_usage[row["cust_id"]] = before + usage
            priced.append(Priced(row, tariff, usage, lines[0], lines[1], lines[2]))
        except Blocked as blocked:
            outcome.failures.append(
                {
                    "readingId": row["reading_id"],
                    "meterReadId": row["meter_read_id"],
                    "custId": row["cust_id"],
                    "errorCode": ErrorCode.PRICE_OR_COMPONENT_MISSING.code,
                    "reason": f"{ErrorCode.PRICE_OR_COMPONENT_MISSING.message}：{blocked.reason}",
                }
            )
    return priced


def _usage_this_year(uow: UnitOfWork, cust_ids: list[int], period: str) -> dict[int, Decimal]:
    rows = uow.all(
        "SELECT cust_id, sum(usage_amount) AS used FROM biz_charge WHERE cust_id = ANY(CAST(:c AS bigint[]))"
        f" AND bill_period >= :start AND bill_period <= :period AND status <> '{BillStatus.CANCELLED}'"
        " GROUP BY cust_id",
        {"c": sorted(set(cust_ids)), "start": period[:4] + "-01", "period": period},
    )
    return {int(r["cust_id"]): Decimal(r["used"]) for r in rows}


def _copy(uow: UnitOfWork, table: str, columns: tuple[str, ...], text: str) -> None:
    raw = uow.conn.connection.dbapi_connection
    raw.run(f"COPY {table} ({', '.join(columns)}) FROM STDIN", stream=io.StringIO(text))  # type: ignore[union-attr]


def _n(value: object) -> str:
    return "\\N" if value is None else str(value)


def _write(
    uow: UnitOfWork,
    ctx: RequestContext,
    cmd: GenerateBills,
    priced: list[Priced],
    run_id: int | None,
    outcome: Outcome,
) -> None:
    """COPY the bills and their lines. Every value is a number, a date, a period or a component code
    (validated as [A-Z0-9_]), so no COPY escaping is needed."""
    n = len(priced)
    ids: list[int] = uow.scalar(
        "SELECT array_agg(nextval('biz_charge_id_seq')) FROM generate_series(1, :n)", {"n": n}
    )
    period, digits, due, run = cmd.bill_period, cmd.bill_period.replace("-", ""), cmd.due_date, _n(run_id)
    charges: list[str] = []
    details: list[str] = []
    success = outcome.success
    amount_sum = ZERO
    arrears: dict[int, Decimal] = {}
    for charge_id, p in zip(ids, priced, strict=True):
        row = p.row
        code = f"ZD{digits}{charge_id:010d}"  # unique with the id, readable with the period
        arrears[row["account_id"]] = arrears.get(row["account_id"], ZERO) + p.amount
        charges.append(
            f"{charge_id}\t{code}\t{row['cust_id']}\t{row['account_id']}\t{row['meter_id']}\t{period}\t{p.usage}\t"
            f"{p.amount}\t{due}\t{row['meter_read_id']}\t{row['reading_id']}\t{p.tariff.template_id}\t"
            f"{row['settle_type']}\t{run}\n"
        )
        prefix = str(charge_id)
        details.extend(prefix + tail for tail in p.line_text)
        success.append(
            {"chargeId": charge_id, "chargeCode": code, "custId": row["cust_id"], "totalAmount": p.amount}
        )
        amount_sum += p.amount
    outcome.total_amount += amount_sum
    _copy(
        uow,
        "biz_charge",
        (
            "id",
            "code",
            "cust_id",
            "account_id",
            "meter_id",
            "bill_period",
            "usage_amount",
            "total_amount",
            "due_date",
            "meter_read_id",
            "reading_id",
            "price_template_id",
            "settle_type",
            "bill_run_id",
        ),
        "".join(charges),
    )
    _copy(
        uow,
        "biz_charge_detail",
        (
            "charge_id",
            "line_no",
            "cost_component",
            "tier_no",
            "usage_amount",
            "unit_price",
            "amount",
            "tax_rate",
        ),
        "".join(details),
    )
    uow.execute(
        "UPDATE biz_account a SET arrears_amount = a.arrears_amount + d.amount FROM"
        " unnest(CAST(:accounts AS bigint[]), CAST(:amounts AS numeric[])) AS d(account_id, amount)"
        " WHERE a.id = d.account_id",
        {"accounts": list(arrears), "amounts": [str(v) for v in arrears.values()]},
    )
    audit.record(
        uow,
        ctx,
        module=MODULE,
        operation="CHARGE_GENERATE",
        object_type="biz_charge",
        object_id=f"{ids[0]}..{ids[-1]}" if n > 1 else ids[0],
        after={
            "billPeriod": cmd.bill_period,
            "billRunId": run_id,
            "count": n,
            "totalAmount": amount_sum,
            "chargeIds": ids,
        },
    )


def _record_failures(uow: UnitOfWork, run_id: int, failures: list[dict[str, Any]]) -> None:
    uow.execute(
        "INSERT INTO biz_bill_failure (bill_run_id, reading_id, cust_id, error_code, reason)"
        " SELECT :run, * FROM unnest(CAST(:r AS bigint[]), CAST(:c AS bigint[]), CAST(:e AS bigint[]),"
        " CAST(:m AS varchar[]))",
        {
            "run": run_id,
            "r": [f["readingId"] for f in failures],
            "c": [f["custId"] for f in failures],
            "e": [f["errorCode"] for f in failures],
            "m": [f["reason"] for f in failures],
        },
    )
