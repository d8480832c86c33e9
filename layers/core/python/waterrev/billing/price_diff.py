"""Price-difference adjustments (价差调整), an IF-REV-005 extension: a price corrected after a period was
billed is billed as new bills, never by editing a posted one.

For one past period and one price code, every posted bill from a reading (source READING) with lines
priced by a version of that code, of a customer in the caller's data scope, is priced again by the
configuration as it is now: each such line's days (its proration segment, or the reading interval) are
cut by the versions that price them today (billing.rules.Timeline), its quantity split by days, and each
part priced at today's unit price for the same component and tier (a fixed charge at today's amount),
by the one rounding rule. What that comes to, less what was billed for the line (its amount and every
earlier difference), is the line's difference. A bill whose lines differ gets one PRICE_DIFF bill
(source_charge_id: the original bill) with one PRICE_DIFF line per line that differs (ref_line_no: the
original line; unit price: today's price on the reading day less the price billed so far).

Run twice for the same correction, nothing differs the second time, so nothing is billed twice; runs of
one period and code queue on an advisory lock, and a unique index (source bill, corrected version)
is the last guard. The accounts are locked before any bill, in id order, as every payment locks them. A price rise is an UNPAID bill (a prepaid balance pays it, as any new bill); a
decrease is a credit bill, settled at once into the account balance (flow PRICE_DIFF): its paid amount
is its (negative) total. One audit row per run.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from waterrev import audit
from waterrev.billing import deduct
from waterrev.billing.bulk import copy_rows, copy_value, draw
from waterrev.billing.commands import PriceDiff
from waterrev.billing.generate import CHARGE_COLUMNS, DETAIL_COLUMNS, EPOCH, move_accounts
from waterrev.billing.rules import ChargeSource, LineKind, Timeline, Version, allot, price_difference
from waterrev.context import RequestContext
from waterrev.db import UnitOfWork
from waterrev.domain.states import BillStatus
from waterrev.errors import AppError, ErrorCode
from waterrev.pricing.config import load_tariff, price_versions
from waterrev.pricing.tariff import Tariff, line_amount
from waterrev.visibility import customer_scope

MODULE = "REV-002"
ZERO = Decimal("0.00")
CODE_PREFIX = "JC"  # 价差

_LINES = f"""
SELECT c.id AS charge_id, c.cust_id, c.account_id, c.meter_id, c.settle_type, cu.dept_id,
       CAST(r.read_time AT TIME ZONE :tz AS date) - DATE '2000-01-01' AS read_day,
       CAST(r.previous_read_time AT TIME ZONE :tz AS date) - DATE '2000-01-01' AS previous_day,
       d.line_no, d.cost_component, d.tier_no, d.usage_amount AS quantity, d.unit_price, d.amount, d.tax_rate,
       d.price_template_id, d.part_no, d.segment_no, d.line_kind, d.segment_from, d.segment_to
  FROM biz_charge c JOIN biz_cust cu ON cu.id = c.cust_id
  JOIN biz_reading_data r ON r.id = c.reading_id
  JOIN biz_charge_detail d ON d.charge_id = c.id
  JOIN biz_price_template t ON t.id = d.price_template_id AND t.code = :code
 WHERE c.bill_period = :period AND c.source_type = '{ChargeSource.READING}' AND c.status <> '{BillStatus.CANCELLED}'
   AND (cardinality(CAST(:custs AS bigint[])) = 0 OR c.cust_id = ANY(CAST(:custs AS bigint[])))
   AND {{scope}}
 ORDER BY c.id, d.line_no
"""


@dataclass
class _Line:
    ref: dict[str, Any]
    quantity: Decimal
    unit_price: Decimal  # today's price on the reading day less the price billed so far
    amount: Decimal
    template_id: int


@dataclass
class _Bill:
    source: dict[str, Any]
    template_id: int = 0  # the newest version the difference prices at
    lines: list[_Line] = field(default_factory=list)

    @property
    def total(self) -> Decimal:
        return sum((line.amount for line in self.lines), ZERO)


def price_diff(ctx: RequestContext, cmd: PriceDiff) -> dict[str, Any]:
    period_start = dt.date.fromisoformat(cmd.bill_period + "-01")
    if cmd.due_date < period_start:
        raise AppError(ErrorCode.BAD_REQUEST, "dueDate: 不得早于账期首日")
    if cmd.operator_id is not None and cmd.operator_id != ctx.principal.user_id:
        raise AppError(ErrorCode.FORBIDDEN, f"operatorId: {cmd.operator_id} 不是当前登录用户")
    from waterrev.settings import get_settings

    with UnitOfWork() as uow:
        uow.execute(
            "SELECT pg_advisory_xact_lock(hashtext(:k))",
            {"k": f"price-diff:{cmd.bill_period}:{cmd.config_code}"},
        )
        if (
            uow.scalar("SELECT 1 FROM biz_price_template WHERE code = :c LIMIT 1", {"c": cmd.config_code})
            is None
        ):
            raise AppError(ErrorCode.NOT_FOUND, f"configCode: 价格模板 {cmd.config_code} 不存在")
        in_scope, scope = customer_scope(ctx, "cu.dept_id")
        rows = uow.all(
            _LINES.format(scope=in_scope),
            {
                **scope,
                "tz": get_settings().display_time_zone,
                "code": cmd.config_code,
                "period": cmd.bill_period,
                "custs": list(cmd.customer_ids),
            },
        )
        # runs of one period and code queue on the advisory lock, so what was billed so far is read once
        sources = sorted({int(r["charge_id"]) for r in rows})
        billed = _billed_so_far(uow, sources)
        bills, failures = _differences(uow, rows, billed, cmd.config_code, period_start)
        if bills:  # accounts before bills, in id order, as every payment locks them (decision 17)
            uow.execute(
                "SELECT id FROM biz_account WHERE id = ANY(CAST(:ids AS bigint[])) ORDER BY id FOR UPDATE",
                {"ids": sorted({int(b.source["account_id"]) for b in bills})},
            )
        result = _write(uow, ctx, cmd, bills) if bills else {"ids": [], "codes": {}}
        uow.commit()
    success = [
        {
            "chargeId": result["ids"][i],
            "chargeCode": result["codes"][result["ids"][i]],
            "custId": b.source["cust_id"],
            "totalAmount": b.total,
            "sourceChargeId": b.source["charge_id"],
            "priceTemplateId": b.template_id,
            "lineCount": len(b.lines),
        }
        for i, b in enumerate(bills)
    ]
    return {
        "generateCount": len(success),
        "successList": success,
        "failureList": failures,
        "totalAmount": sum((b.total for b in bills), ZERO),
        "checkedCount": len(sources),
        "failureCount": len(failures),
    }


def _billed_so_far(uow: UnitOfWork, sources: list[int]) -> dict[tuple[int, int], tuple[Decimal, Decimal]]:
    """Per (original bill, line): the amounts and unit prices earlier differences added to it."""
    if not sources:
        return {}
    out: dict[tuple[int, int], tuple[Decimal, Decimal]] = {}
    for r in uow.all(
        "SELECT c.source_charge_id, d.ref_line_no, sum(d.amount) AS amount, sum(d.unit_price) AS price"
        " FROM biz_charge c JOIN biz_charge_detail d ON d.charge_id = c.id"
        f" WHERE c.source_type = '{ChargeSource.PRICE_DIFF}' AND c.source_charge_id = ANY(CAST(:s AS bigint[]))"
        " GROUP BY c.source_charge_id, d.ref_line_no",
        {"s": sources},
    ):
        out[(int(r["source_charge_id"]), int(r["ref_line_no"]))] = (Decimal(r["amount"]), Decimal(r["price"]))
    return out


def _differences(
    uow: UnitOfWork,
    rows: list[dict[str, Any]],
    billed: dict[tuple[int, int], tuple[Decimal, Decimal]],
    code: str,
    period_start: dt.date,
) -> tuple[list[_Bill], list[dict[str, Any]]]:
    def day(n: int | None) -> dt.date | None:
        return None if n is None else EPOCH + dt.timedelta(days=n)

    upto = max([period_start, *(day(r["read_day"]) or period_start for r in rows)])
    versions = price_versions(uow, {(code, r["dept_id"]) for r in rows}, upto)
    timelines = {
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
    tariffs: dict[int, Tariff] = {}
    by_bill: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        by_bill[int(r["charge_id"])].append(r)
    bills: list[_Bill] = []
    failures: list[dict[str, Any]] = []
    for charge_id, lines in by_bill.items():
        first = lines[0]
        bill = _Bill(first)
        try:
            for line in lines:
                if line["segment_from"] is not None:
                    start, end = line["segment_from"], line["segment_to"]
                else:
                    start = day(line["previous_day"]) or period_start
                    end = day(line["read_day"]) or period_start
                cut = timelines[(code, first["dept_id"])].segments(start, end)
                if any(s.template_id is None for s in cut):
                    raise _Blocked(f"价格模板 {code} 在 {start}..{end} 无生效版本")
                quantity = Decimal(line["quantity"])
                prices = [_unit_price(uow, tariffs, int(s.template_id or 0), line) for s in cut]
                earlier_amount, earlier_price = billed.get((charge_id, int(line["line_no"])), (ZERO, ZERO))
                so_far = Decimal(line["amount"]) + earlier_amount
                if len(cut) == 1:
                    difference = price_difference(quantity, so_far, prices[0])
                else:  # today's versions change inside the line's days: its quantity split by days
                    parts = allot(quantity, [s.days for s in cut], len(cut) - 1)
                    corrected = sum((line_amount(q, p) for q, p in zip(parts, prices, strict=True)), ZERO)
                    difference = corrected - so_far
                if difference == 0:
                    continue
                template = int(cut[-1].template_id or 0)
                bill.lines.append(
                    _Line(
                        line,
                        quantity,
                        prices[-1] - Decimal(line["unit_price"]) - earlier_price,
                        difference,
                        template,
                    )
                )
                bill.template_id = max(bill.template_id, template)
        except _Blocked as blocked:
            failures.append(
                {
                    "chargeId": charge_id,
                    "custId": first["cust_id"],
                    "errorCode": ErrorCode.PRICE_OR_COMPONENT_MISSING.code,
                    "reason": f"{ErrorCode.PRICE_OR_COMPONENT_MISSING.message}：{blocked.reason}",
                }
            )
            continue
        if bill.lines:
            bills.append(bill)
    return bills, failures


class _Blocked(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _unit_price(
    uow: UnitOfWork, tariffs: dict[int, Tariff], template_id: int, line: dict[str, Any]
) -> Decimal:
    """Today's price of the line's component (and tier) in version `template_id`; a fixed charge's amount."""
    tariff = tariffs.get(template_id)
    if tariff is None:
        try:
            tariff = tariffs[template_id] = load_tariff(uow, template_id)
        except AppError as exc:
            raise _Blocked(str(exc.detail or exc.msg)) from exc
    component = str(line["cost_component"])
    if line["line_kind"] == LineKind.FIXED:
        for fixed in tariff.fixed_charges:
            if fixed.code == component:
                return fixed.amount
        raise _Blocked(f"价格模板 {tariff.code} v{tariff.version} 无固定费用 {component}")
    for c in tariff.components:
        if c.code == component and 1 <= int(line["tier_no"]) <= len(c.prices):
            return c.prices[int(line["tier_no"]) - 1]
    raise _Blocked(
        f"价格模板 {tariff.code} v{tariff.version} 无费用组成 {component} 第 {line['tier_no']} 级单价"
    )


def _write(uow: UnitOfWork, ctx: RequestContext, cmd: PriceDiff, bills: list[_Bill]) -> dict[str, Any]:
    """The PRICE_DIFF bills and their lines; credits into the balances; a prepaid balance pays the rises."""
    (ids,), now = draw(uow, ("biz_charge_id_seq",), len(bills))
    digits = cmd.bill_period.replace("-", "")
    codes = {charge_id: f"{CODE_PREFIX}{digits}{charge_id:010d}" for charge_id in ids}
    credited = [
        (int(b.source["account_id"]), -b.total, codes[charge_id])
        for charge_id, b in zip(ids, bills, strict=True)
        if b.total < 0
    ]
    balances = _credit(uow, credited)
    deduction = deduct.plan(
        uow,
        [
            deduct.NewBill(
                charge_id,
                int(b.source["cust_id"]),
                int(b.source["account_id"]),
                int(b.source["dept_id"]),
                cmd.bill_period,
                b.total,
            )
            for charge_id, b in zip(ids, bills, strict=True)
            if b.total > 0
        ],
        also={account for account, _, _ in credited},
    )
    at = now.isoformat()
    columns = (*CHARGE_COLUMNS, "paid_amount", "status", "paid_time", "source_type", "source_charge_id")
    charges: list[str] = []
    lines: list[str] = []
    arrears: dict[int, Decimal] = {}
    for charge_id, b in zip(ids, bills, strict=True):
        src = b.source
        total = b.total
        if total < 0:  # a credit: settled into the balance at once
            paid, status, paid_time = total, BillStatus.PAID, at
        else:
            arrears[int(src["account_id"])] = arrears.get(int(src["account_id"]), ZERO) + total
            state = deduction.new_bills.get(charge_id)
            paid = ZERO if state is None else state.paid
            status = BillStatus.UNPAID if state is None else state.status
            paid_time = at if status == BillStatus.PAID else "\\N"
        charges.append(
            f"{charge_id}\t{codes[charge_id]}\t{src['cust_id']}\t{src['account_id']}\t{copy_value(src['meter_id'])}\t"
            f"{cmd.bill_period}\t0\t{total}\t{cmd.due_date}\t\\N\t\\N\t{b.template_id}\t{src['settle_type']}\t\\N\t"
            f"{paid}\t{status}\t{paid_time}\t{ChargeSource.PRICE_DIFF}\t{src['charge_id']}\n"
        )
        for n, line in enumerate(b.lines, start=1):
            ref = line.ref
            lines.append(
                f"{charge_id}\t{n}\t{ref['cost_component']}\t{ref['tier_no']}\t{line.quantity}\t{line.unit_price}\t"
                f"{line.amount}\t{ref['tax_rate']}\t{line.template_id}\t{LineKind.PRICE_DIFF}\t{ref['part_no']}\t"
                f"{ref['segment_no']}\t{copy_value(ref['segment_from'])}\t{copy_value(ref['segment_to'])}\t{ref['line_no']}\n"
            )
    copy_rows(uow, "biz_charge", columns, "".join(charges))
    copy_rows(uow, "biz_charge_detail", (*DETAIL_COLUMNS, "ref_line_no"), "".join(lines))
    move_accounts(uow, arrears, deduction)
    deduct.write(uow, ctx, deduction, paid_time=now)
    audit.record(
        uow,
        ctx,
        module=MODULE,
        operation="PRICE_DIFF_GENERATE",
        object_type="biz_charge",
        object_id=f"{ids[0]}..{ids[-1]}" if len(ids) > 1 else ids[0],
        after={
            "billPeriod": cmd.bill_period,
            "configCode": cmd.config_code,
            "count": len(ids),
            "totalAmount": sum((b.total for b in bills), ZERO),
            "chargeIds": ids,
            "sourceChargeIds": [b.source["charge_id"] for b in bills],
            "credited": [{"accountId": a, "amount": v, "chargeCode": c} for a, v, c in credited],
            "balancesAfterCredit": {str(a): v for a, v in balances.items()},
            "prepayDeducted": len(deduction.accounts),
        },
        remark=cmd.remark,
    )
    return {"ids": ids, "codes": codes}


def _credit(uow: UnitOfWork, credited: list[tuple[int, Decimal, str]]) -> dict[int, Decimal]:
    """A price decrease credits the account's balance: one PRICE_DIFF flow per credit bill (its code)."""
    if not credited:
        return {}
    totals: dict[int, Decimal] = {}
    for account, amount, _ in credited:
        totals[account] = totals.get(account, ZERO) + amount
    accounts = sorted(totals)
    rows = uow.all(
        "UPDATE biz_account a SET balance = a.balance + d.credit FROM unnest(CAST(:a AS bigint[]),"
        " CAST(:c AS numeric[])) AS d(account_id, credit) WHERE a.id = d.account_id RETURNING a.id, a.balance",
        {"a": accounts, "c": [totals[a] for a in accounts]},
    )
    after = {int(r["id"]): Decimal(r["balance"]) for r in rows}
    running = {a: after[a] - totals[a] for a in accounts}
    flows = []
    for account, amount, code in credited:
        running[account] += amount
        flows.append(f"{account}\t{amount}\t{running[account]}\tPRICE_DIFF\t{code}\n")
    copy_rows(
        uow,
        "biz_account_flow",
        ("account_id", "change_amount", "balance_after", "biz_type", "ref_no"),
        "".join(flows),
    )
    return after
