"""IF-REV-005 bill generation, built for bill runs of any size.

A call bills the VALID readings of one period (optionally narrowed by batch, customers or tasks)
in chunks; each chunk is one transaction: its readings are locked with SKIP LOCKED (so two runs
never bill the same reading), priced in Python with the pure tariff, and written with COPY
(biz_charge and biz_charge_detail), then readings, tasks and account arrears are updated and one
audit row records the chunk's bills. A customer whose price template, tier rule, cost component or
settle volume is missing gets no bill at all (1_002_002_003 in failureList), and its reading stays
ready, so a run after the configuration is fixed bills exactly what is left.

A bill's lines follow billing.rules: a mixed-use meter's usage split between its price families
(biz_meter_price_split, the split in force on the reading day), each part priced by the versions that
price it over the reading interval (split by days where a version took effect inside it), the primary
part's minimum usage and fixed charges. Every line carries its version, part, segment and kind. In the
same transaction an account with a prepaid balance pays its new bills (billing.deduct).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from waterrev import audit
from waterrev.billing import deduct
from waterrev.billing.bulk import copy_rows, copy_value, draw
from waterrev.billing.commands import GenerateBills
from waterrev.billing.rules import (
    BillLine,
    LineKind,
    PartInput,
    PricedSegment,
    SplitMode,
    SplitPart,
    Timeline,
    Version,
    compose,
    designated_part,
    split_usage,
)
from waterrev.context import RequestContext
from waterrev.db import UnitOfWork
from waterrev.domain.states import BillStatus, MeterReadStatus, ReadingStatus
from waterrev.errors import AppError, ErrorCode
from waterrev.pricing.config import load_tariff, price_versions
from waterrev.pricing.tariff import Tariff, TierMode
from waterrev.visibility import dept_params

MODULE = "REV-002"
CHUNK = 5000
ZERO = Decimal("0.00")
EPOCH = dt.date(2000, 1, 1)  # days are answered as integers: pg8000 parses each date with strptime
SETTLE_TYPES = ("ACTUAL_USAGE", "FIXED_VOLUME", "PER_POPULATION", "MINIMUM_CHARGE")


@dataclass
class Outcome:
    success: list[dict[str, Any]] = field(default_factory=list)  # kept only when the caller lists them
    failures: list[dict[str, Any]] = field(default_factory=list)
    total_amount: Decimal = ZERO
    readings: int = 0
    billed: int = 0
    keep: bool = True

    def merge(self, other: Outcome) -> None:
        self.success += other.success
        self.billed += other.billed
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
    RETURNING r.id, r.meter_read_id, r.meter_id, r.cust_id, r.usage_amount, r.read_time, r.previous_read_time
), tasks AS (
    UPDATE biz_meter_read t SET status = '{MeterReadStatus.BILLED}' WHERE t.id = ANY(ARRAY(SELECT meter_read_id FROM claimed))
)
SELECT k.id AS reading_id, k.meter_read_id, k.meter_id, k.usage_amount, k.cust_id,
       p.cust_type, p.price_code, p.population, p.settle_type, p.settle_volume, p.dept_id,
       acc.account_id, acc.prepaid,
       EXISTS (SELECT 1 FROM biz_meter_price_split s WHERE s.meter_id = k.meter_id) AS mixed_use,
       CAST(k.read_time AT TIME ZONE :tz AS date) - DATE '2000-01-01' AS read_day,
       CAST(k.previous_read_time AT TIME ZONE :tz AS date) - DATE '2000-01-01' AS previous_day
  FROM claimed k JOIN picked p ON p.id = k.id
  LEFT JOIN LATERAL (SELECT min(a.id) AS account_id, bool_or(a.balance > 0 AND a.status = 'NORMAL') AS prepaid
                       FROM biz_account a WHERE a.cust_id = k.cust_id) acc ON true
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
        part, cursor = _bill_chunk(ctx, cmd, cursor, upto_cust, chunk, run_id, keep_lists)
        outcome.merge(part)
    return {
        "generateCount": outcome.billed,
        "totalAmount": outcome.total_amount,
        "readingCount": outcome.readings,
        "failureCount": len(outcome.failures),
        "successList": outcome.success,
        "failureList": outcome.failures,
    }


def _bill_chunk(
    ctx: RequestContext,
    cmd: GenerateBills,
    after: tuple[int, int],
    upto_cust: int,
    limit: int,
    run_id: int | None,
    keep_lists: bool = True,
) -> tuple[Outcome, tuple[int, int] | None]:
    outcome = Outcome(keep=keep_lists)
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
                "tz": _time_zone(),
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


def _time_zone() -> str:
    from waterrev.settings import get_settings

    return get_settings().display_time_zone


@dataclass
class Priced:
    row: dict[str, Any]
    template_id: int  # the version of the primary part on the reading day (biz_charge.price_template_id)
    usage: Decimal
    amount: Decimal
    line_text: tuple[str, ...]  # "" or "+", then the COPY text of each line after its charge id


Memo = dict[tuple[int, Decimal, int, Decimal], tuple[Decimal, tuple[str, ...]]]


def _line_texts(lines: tuple[BillLine, ...]) -> tuple[str, ...]:
    """COPY text of a bill's lines after the charge id, after a marker: a bill of one part and one segment
    (most bills, "") leaves part, segment and segment dates to their defaults (PLAIN_COLUMNS), any other
    ("+") writes them all (DETAIL_COLUMNS). The writer joins them with the bill's id: one string
    operation per bill, whatever its lines."""
    if all(line.part_no == 1 and line.segment_no == 1 and line.segment_from is None for line in lines):
        plain = [
            f"\t{line.line_no}\t{line.component}\t{line.tier_no}\t{line.quantity}\t{line.unit_price}"
            f"\t{line.amount}\t{line.tax_rate}\t{line.template_id}\t{line.kind}\n"
            for line in lines
        ]
        return ("", *plain)
    full = [
        f"\t{line.line_no}\t{line.component}\t{line.tier_no}\t{line.quantity}\t{line.unit_price}\t{line.amount}"
        f"\t{line.tax_rate}\t{line.template_id}\t{line.kind}\t{line.part_no}\t{line.segment_no}"
        f"\t{copy_value(line.segment_from)}\t{copy_value(line.segment_to)}\n"
        for line in lines
    ]
    return ("+", *full)


@dataclass
class _Split:
    effective: dt.date
    expire: dt.date | None
    parts: list[SplitPart]
    primary: int = 0  # rules.designated_part, once per split


class _Pricer:
    """Prices a chunk's readings: the versions of every (code, dept) the chunk needs in one statement,
    the mixed-use splits of its meters in another, tariffs loaded once per version, and the common
    case (one family, no version change in the interval) memoised per distinct (version, usage,
    household size, usage so far) as before."""

    def __init__(self, uow: UnitOfWork, rows: list[dict[str, Any]], period: str) -> None:
        self.uow = uow
        self.period = period
        self.period_start = dt.date.fromisoformat(period + "-01")
        self.splits = _meter_splits(uow, sorted({int(r["meter_id"]) for r in rows if r["mixed_use"]}))
        days: dict[int | None, dt.date | None] = {None: None}  # the claim answers days since 2000-01-01
        for row in rows:
            for column in ("read_day", "previous_day"):
                n = row[column]
                day = days.get(n, EPOCH)
                if day is EPOCH:
                    day = days[n] = EPOCH + dt.timedelta(days=n)
                row[column] = day
            row["split"] = _split_on(self.splits.get(int(row["meter_id"]), ()), row["read_day"])
        keys: set[tuple[str, int | None]] = set()
        for row in rows:
            for code in _codes(row):
                keys.add((code, row["dept_id"]))
        upto = max([self.period_start, *(r["read_day"] for r in rows if r["read_day"] is not None)])
        versions = price_versions(uow, keys, upto)
        self.timelines = {
            key: Timeline(
                tuple(
                    Version(
                        int(v["id"]),
                        v["effective_date"],
                        v["expire_date"],
                        int(v["version"]),
                        v["dept_id"] is None,
                        int(v["rank"]),
                    )
                    for v in found
                )
            )
            for key, found in versions.items()
        }
        self.annual = any(v["tier_mode"] == "ANNUAL" for found in versions.values() for v in found)
        self.tariffs: dict[int, Tariff | str] = {}
        self.memo: Memo = {}
        self.mixed_memo: dict[tuple[Any, ...], tuple[Decimal, tuple[str, ...]]] = {}
        self.segments: dict[tuple[str, int | None, dt.date, dt.date], tuple[PricedSegment, ...] | str] = {}
        custs = sorted({int(r["cust_id"]) for r in rows})
        split_custs = sorted({int(r["cust_id"]) for r in rows if r["split"] is not None})
        self.year_usage = _usage_this_year(uow, custs, period) if self.annual else {}
        self.family_usage = (
            _family_usage_this_year(uow, split_custs, period, {int(r["cust_id"]): _own_code(r) for r in rows})
            if self.annual and split_custs
            else {}
        )

    def tariff(self, template_id: int) -> Tariff:
        found = self.tariffs.get(template_id)
        if found is None:
            try:
                found = load_tariff(self.uow, template_id)
            except AppError as exc:
                found = exc.detail or exc.msg
            self.tariffs[template_id] = found
        if isinstance(found, str):
            raise Blocked(found)
        return found

    def priced_segments(self, code: str, row: dict[str, Any]) -> tuple[PricedSegment, ...]:
        """The versions that price `code` for this customer over the reading interval: [previous reading
        day, reading day), from the period's first day for a meter's first reading."""
        start = row["previous_day"] or self.period_start
        end = row["read_day"] or self.period_start
        key = (code, row["dept_id"], start, end)
        found = self.segments.get(key)
        if found is None:
            timeline = self.timelines.get((code, row["dept_id"]))
            cut = [] if timeline is None else timeline.segments(start, end)
            if not cut or any(s.template_id is None for s in cut):
                found = f"价格模板 {code} 在 {self.period} 无生效版本"
            else:
                try:
                    found = tuple(
                        PricedSegment(self.tariff(int(s.template_id or 0)), s.start, s.end) for s in cut
                    )
                except Blocked as blocked:
                    found = blocked.reason
            self.segments[key] = found
        if isinstance(found, str):
            raise Blocked(found)
        return found

    def price(self, row: dict[str, Any], usage: Decimal) -> Priced:
        """The bill of one reading. Its template (biz_charge.price_template_id) is the version that prices
        the primary part on the reading day; each line names its own."""
        cust = int(row["cust_id"])
        split: _Split | None = row["split"]
        if split is None:
            code = _own_code(row)
            segments = self.priced_segments(code, row)
            if len(segments) == 1:
                return self._simple(row, segments[0].tariff, usage)
            before = self.year_usage.get(cust, ZERO)
            composed = compose(
                [PartInput(1, code, usage, segments)], population=row["population"], year_usage={code: before}
            )
            if composed.annual_usage:
                self.year_usage[cust] = before + usage
            return self._priced(row, segments[-1].tariff.template_id, composed.lines, usage)
        cuts = [self.priced_segments(p.price_code, row) for p in split.parts]
        primary = split.primary
        template_id = cuts[primary][-1].tariff.template_id
        annual = any(s.tariff.tier_mode is TierMode.ANNUAL for part in cuts for s in part)
        # without ANNUAL tiers the lines depend only on these: memoised like the common case (the
        # segment tuples are the chunk's own cached objects, one per code, dept and interval)
        key = (tuple(split.parts), usage, row["population"], tuple(id(part) for part in cuts))
        if not annual and (found := self.mixed_memo.get(key)) is not None:
            return Priced(row, template_id, usage, found[0], found[1])
        usages = split_usage(usage, split.parts)
        parts = [
            PartInput(n, p.price_code, u, segs)
            for n, (p, u, segs) in enumerate(zip(split.parts, usages, cuts, strict=True), start=1)
        ]
        year = self.family_usage.setdefault(cust, {})
        composed = compose(parts, population=row["population"], year_usage=year, primary=primary)
        for code, used in composed.annual_usage.items():
            year[code] = year.get(code, ZERO) + used
        priced = self._priced(row, template_id, composed.lines, usage)
        if not annual:
            self.mixed_memo[key] = (priced.amount, priced.line_text)
        return priced

    def _simple(self, row: dict[str, Any], tariff: Tariff, usage: Decimal) -> Priced:
        """One family, one version: memoised, since the tariff is pure."""
        cust = int(row["cust_id"])
        annual = tariff.tier_mode is TierMode.ANNUAL
        before = self.year_usage.get(cust, ZERO) if annual else ZERO
        key = (tariff.template_id, usage, row["population"], before)
        found = self.memo.get(key)
        if found is None:
            segment = PricedSegment(tariff, self.period_start, self.period_start)
            composed = compose(
                [PartInput(1, tariff.code, usage, (segment,))],
                population=row["population"],
                year_usage={tariff.code: before},
            )
            found = self.memo[key] = (composed.total, _line_texts(composed.lines))
        if annual:
            self.year_usage[cust] = before + usage
        return Priced(row, tariff.template_id, usage, found[0], found[1])

    def _priced(
        self, row: dict[str, Any], template_id: int, lines: tuple[BillLine, ...], usage: Decimal
    ) -> Priced:
        amount = sum((line.amount for line in lines), ZERO)
        return Priced(row, template_id, usage, amount, _line_texts(lines))


def _own_code(row: dict[str, Any]) -> str:
    return str(row["price_code"] or row["cust_type"])


def _codes(row: dict[str, Any]) -> list[str]:
    split: _Split | None = row["split"]
    return [_own_code(row)] if split is None else [p.price_code for p in split.parts]


def _meter_splits(uow: UnitOfWork, meter_ids: list[int]) -> dict[int, list[_Split]]:
    if not meter_ids:
        return {}
    rows = uow.all(
        "SELECT meter_id, effective_date - DATE '2000-01-01' AS effective, expire_date - DATE '2000-01-01' AS expire,"
        " part_no, price_code, split_mode, ratio, quantity FROM biz_meter_price_split"
        " WHERE meter_id = ANY(CAST(:m AS bigint[])) ORDER BY meter_id, effective_date, part_no",
        {"m": meter_ids},
    )
    days: dict[int | None, dt.date | None] = {None: None}
    out: dict[int, list[_Split]] = {}
    for r in rows:
        versions = out.setdefault(int(r["meter_id"]), [])
        for key in (r["effective"], r["expire"]):
            if key not in days:
                days[key] = EPOCH + dt.timedelta(days=key)
        effective = days[r["effective"]]
        assert effective is not None
        if not versions or versions[-1].effective != effective:
            versions.append(_Split(effective, days[r["expire"]], []))
        if r["split_mode"] == "RATIO":
            versions[-1].parts.append(
                SplitPart(str(r["price_code"]), SplitMode.RATIO, Decimal(r["ratio"]).normalize())
            )
        else:
            versions[-1].parts.append(
                SplitPart(str(r["price_code"]), SplitMode.QUANTITY, Decimal(r["quantity"]))
            )
    for versions in out.values():
        for v in versions:
            v.primary = designated_part(v.parts)
    return out


def _split_on(versions: Iterable[_Split], day: dt.date | None) -> _Split | None:
    """The split in force on the reading day (None: the meter is priced by its customer's family)."""
    if day is None:
        return None
    for v in versions:
        if v.effective <= day and (v.expire is None or v.expire >= day):
            return v
    return None


def _price_rows(uow: UnitOfWork, rows: list[dict[str, Any]], period: str, outcome: Outcome) -> list[Priced]:
    pricer = _Pricer(uow, rows, period)
    priced: list[Priced] = []
    for row in rows:
        try:
            if row["account_id"] is None:
                raise Blocked("客户无账户")
            usage = billed_usage(
                row["settle_type"],
                Decimal(row["usage_amount"]),
                None if row["settle_volume"] is None else Decimal(row["settle_volume"]),
                row["population"],
            )
            priced.append(pricer.price(row, usage))
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


def _family_usage_this_year(
    uow: UnitOfWork, cust_ids: list[int], period: str, own: dict[int, str]
) -> dict[int, dict[str, Decimal]]:
    """For customers with a mixed-use meter: this year's usage per price family, for the ANNUAL tiers of
    each part. A bill's usage of a family is read from its USAGE lines (every component of a part,
    segment and tier has the same quantity: one of them counts); a bill without priced lines (history
    migrated from the old system) counts whole for the customer's own family."""
    params = {"c": cust_ids, "start": period[:4] + "-01", "period": period}
    window = (
        "c.cust_id = ANY(CAST(:c AS bigint[])) AND c.bill_period >= :start AND c.bill_period <= :period"
        f" AND c.status <> '{BillStatus.CANCELLED}'"
    )
    out: dict[int, dict[str, Decimal]] = {}
    for r in uow.all(
        "SELECT x.cust_id, x.code, sum(x.q) AS used FROM (SELECT DISTINCT ON (d.charge_id, d.part_no, d.segment_no,"
        " d.tier_no) c.cust_id, t.code, d.usage_amount AS q FROM biz_charge c JOIN biz_charge_detail d"
        f" ON d.charge_id = c.id AND d.line_kind = '{LineKind.USAGE}' JOIN biz_price_template t"
        f" ON t.id = d.price_template_id WHERE {window}"
        " ORDER BY d.charge_id, d.part_no, d.segment_no, d.tier_no) x GROUP BY x.cust_id, x.code",
        params,
    ):
        out.setdefault(int(r["cust_id"]), {})[str(r["code"])] = Decimal(r["used"])
    for r in uow.all(
        f"SELECT c.cust_id, sum(c.usage_amount) AS used FROM biz_charge c WHERE {window} AND NOT EXISTS"
        " (SELECT 1 FROM biz_charge_detail d WHERE d.charge_id = c.id AND d.price_template_id IS NOT NULL)"
        " GROUP BY c.cust_id",
        params,
    ):
        cust = int(r["cust_id"])
        family = out.setdefault(cust, {})
        family[own[cust]] = family.get(own[cust], ZERO) + Decimal(r["used"])
    return out


CHARGE_COLUMNS = (
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
)
PLAIN_COLUMNS = (
    "charge_id",
    "line_no",
    "cost_component",
    "tier_no",
    "usage_amount",
    "unit_price",
    "amount",
    "tax_rate",
    "price_template_id",
    "line_kind",
)
DETAIL_COLUMNS = (*PLAIN_COLUMNS, "part_no", "segment_no", "segment_from", "segment_to")


def _write(
    uow: UnitOfWork,
    ctx: RequestContext,
    cmd: GenerateBills,
    priced: list[Priced],
    run_id: int | None,
    outcome: Outcome,
) -> None:
    """COPY the bills and their lines, the new bills a prepaid balance pays written paid, then the
    deduction's collections. Every value is a number, a date, a time, a period or a component code
    (validated as [A-Z0-9_]), so no COPY escaping is needed."""
    n = len(priced)
    (ids,), now = draw(uow, ("biz_charge_id_seq",), n)
    period, digits, due, run = (
        cmd.bill_period,
        cmd.bill_period.replace("-", ""),
        cmd.due_date,
        copy_value(run_id),
    )
    deduction = deduct.plan(
        uow,
        [
            deduct.NewBill(
                charge_id, p.row["cust_id"], p.row["account_id"], p.row["dept_id"], period, p.amount
            )
            for charge_id, p in zip(ids, priced, strict=True)
            if p.row["prepaid"]  # the claim saw a balance: plan() locks the account and looks again
        ],
    )
    paid_at = now.isoformat()
    charges: list[str] = []
    paid_charges: list[str] = []  # written already paid (in full or in part) by a prepaid balance
    details: list[str] = []
    full: list[str] = []  # lines of mixed-use or prorated bills
    success = outcome.success
    keep = outcome.keep
    outcome.billed += n
    amount_sum = ZERO
    arrears: dict[int, Decimal] = {}
    for charge_id, p in zip(ids, priced, strict=True):
        row = p.row
        code = f"ZD{digits}{charge_id:010d}"  # unique with the id, readable with the period
        arrears[row["account_id"]] = arrears.get(row["account_id"], ZERO) + p.amount
        text = (
            f"{charge_id}\t{code}\t{row['cust_id']}\t{row['account_id']}\t{row['meter_id']}\t{period}\t{p.usage}\t"
            f"{p.amount}\t{due}\t{row['meter_read_id']}\t{row['reading_id']}\t{p.template_id}\t"
            f"{row['settle_type']}\t{run}"
        )
        paid = deduction.new_bills.get(charge_id)
        if paid is None:  # UNPAID, nothing paid: the columns' defaults
            charges.append(text + "\n")
        else:
            at = paid_at if paid.status == BillStatus.PAID else "\\N"
            paid_charges.append(f"{text}\t{paid.paid}\t{paid.status}\t{at}\n")
        prefix = str(charge_id)
        if p.line_text[0]:
            full.append(prefix.join(p.line_text)[1:])
        else:
            details.append(prefix.join(p.line_text))
        if keep:
            success.append(
                {"chargeId": charge_id, "chargeCode": code, "custId": row["cust_id"], "totalAmount": p.amount}
            )
        amount_sum += p.amount
    outcome.total_amount += amount_sum
    if charges:
        copy_rows(uow, "biz_charge", CHARGE_COLUMNS, "".join(charges))
    if paid_charges:
        copy_rows(
            uow, "biz_charge", (*CHARGE_COLUMNS, "paid_amount", "status", "paid_time"), "".join(paid_charges)
        )
    if details:
        copy_rows(uow, "biz_charge_detail", PLAIN_COLUMNS, "".join(details))
    if full:
        copy_rows(uow, "biz_charge_detail", DETAIL_COLUMNS, "".join(full))
    move_accounts(uow, arrears, deduction)
    deduct.write(uow, ctx, deduction, paid_time=now)
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
            "prepayDeducted": len(deduction.accounts),
        },
    )


def move_accounts(uow: UnitOfWork, arrears: dict[int, Decimal], deduction: deduct.Plan) -> None:
    """The accounts' arrears grow by their new bills and fall by the principal the deduction wrote off
    (never below zero, as rev_write_off keeps them; a penalty is not arrears); a deducting account's
    balance falls by what it paid, principal and penalty. Each
    account is updated once; the accounts nothing was deducted from keep the bill run's plain update.
    Amounts go as Decimals: pg8000 escapes text array elements character by character."""
    written = deduction.written()
    plain = sorted(a for a in arrears if a not in written)
    if plain:
        uow.execute(
            "UPDATE biz_account a SET arrears_amount = a.arrears_amount + d.added FROM"
            " unnest(CAST(:accounts AS bigint[]), CAST(:added AS numeric[])) AS d(account_id, added)"
            " WHERE a.id = d.account_id",
            {"accounts": plain, "added": [arrears[a] for a in plain]},
        )
    if written:
        paying = sorted(written)
        uow.execute(
            "UPDATE biz_account a SET arrears_amount = GREATEST(a.arrears_amount + d.added - d.principal, 0),"
            " balance = a.balance - d.taken FROM unnest(CAST(:accounts AS bigint[]), CAST(:added AS numeric[]),"
            " CAST(:taken AS numeric[]), CAST(:principal AS numeric[])) AS d(account_id, added, taken, principal)"
            " WHERE a.id = d.account_id",
            {
                "accounts": paying,
                "added": [arrears.get(a, ZERO) for a in paying],
                "taken": [written[a][0] for a in paying],
                "principal": [written[a][1] for a in paying],
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
