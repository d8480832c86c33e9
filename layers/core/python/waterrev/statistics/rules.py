"""The statistics catalogue, pure: themes (主题), the dimensions each may be filtered and grouped by (维度),
the indicators (指标) each answers and how a derived one (a rate, a share) is computed from the summed
measures. No I/O: the use case (statistics.query) turns a theme into SQL over its summary table.

Receivable, received and arrears are different indicators with different codes and never add up into
one another; a prepaid deduction (channel PREPAY) is money received earlier into the balance, so it is
its own indicator (PREPAY_DEDUCTED_AMOUNT) and never part of RECEIVED_AMOUNT (docs/STATISTICS.md).
IF-REV-007 adjustments: a reversal (冲正) takes its collection's money out of RECEIVED_AMOUNT on the
reversal's day (and shows as REVERSED_AMOUNT), a refund is REFUNDED_AMOUNT and NET_RECEIVED_AMOUNT =
RECEIVED_AMOUNT - REFUNDED_AMOUNT; a bad-debt write-off is BAD_DEBT_AMOUNT of the receivables (and no
longer arrears); a USAGE / AMOUNT adjustment is an ADJUST bill of the original's period (receivable).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import NamedTuple

from waterrev.domain.states import BillStatus, CollectionStatus, InvoiceStatus

THEMES = ("RECEIVABLE", "COLLECTION", "ARREARS", "CUSTOMER", "READING", "INVOICE")
# groupBy values: the request's own filter names (plus ageing and invoiceType)
DIMENSIONS = (
    "period",
    "deptId",
    "customerCategory",
    "priceCode",
    "channelCode",
    "status",
    "ageing",
    "invoiceType",
)
AGEING_BUCKETS = ("NOT_DUE", "D1_30", "D31_90", "D91_180", "D181_365", "OVER_365")
AGEING_NAMES = {
    "NOT_DUE": "未到期",
    "D1_30": "逾期1-30天",
    "D31_90": "逾期31-90天",
    "D91_180": "逾期91-180天",
    "D181_365": "逾期181-365天",
    "OVER_365": "逾期365天以上",
}
DIMENSION_NAMES = {
    "period": "期间",
    "deptId": "营业所",
    "customerCategory": "客户类别",
    "priceCode": "价格类别",
    "channelCode": "渠道",
    "status": "状态",
    "ageing": "账龄",
    "invoiceType": "票据类型",
}
ZERO = Decimal("0")
HUNDRED = Decimal("100")


class Indicator(NamedTuple):
    code: str
    name: str
    unit: str
    # a summed measure (its column alias), or a ratio of two measures (numerator, denominator) in percent
    measure: str | None = None
    ratio: tuple[str, str] | None = None
    share_of: str | None = None  # percent of the whole result's sum of this measure (渠道占比)
    difference: tuple[str, str] | None = None  # one measure less another (净实收 = 实收 - 退款)


class Theme(NamedTuple):
    code: str
    name: str
    time_kind: str  # PERIOD: bill periods in [dateFrom, dateTo]; DAY: days in it; SNAPSHOT: the book now
    dimensions: tuple[str, ...]
    statuses: tuple[str, ...]  # what statusSet may hold
    indicators: tuple[Indicator, ...]
    trend: str  # the indicator a chart draws when grouped by period
    defaults: tuple[str, ...] | None = None  # the statuses counted when statusSet is empty (None: all)


def _i(code: str, name: str, unit: str, measure: str) -> Indicator:
    return Indicator(code, name, unit, measure=measure)


CATALOGUE: dict[str, Theme] = {
    "RECEIVABLE": Theme(
        "RECEIVABLE",
        "应收汇总",
        "PERIOD",
        ("period", "deptId", "customerCategory", "priceCode", "status"),
        tuple(BillStatus),
        (
            _i("BILL_COUNT", "账单数", "笔", "bill_count"),
            _i("RECEIVABLE_AMOUNT", "应收金额", "元", "receivable"),
            _i("WRITTEN_OFF_AMOUNT", "已核销本金", "元", "paid"),
            _i("BAD_DEBT_AMOUNT", "坏账核销金额", "元", "bad_debt"),
            _i("USAGE_AMOUNT", "计费水量", "m³", "usage_amount"),
            Indicator("RECOVERY_RATE", "回收率（已核销本金/应收金额）", "%", ratio=("paid", "receivable")),
        ),
        "RECEIVABLE_AMOUNT",
        # a CANCELLED bill owes nothing; a BAD_DEBT one was owed (its unpaid part is BAD_DEBT_AMOUNT)
        (BillStatus.UNPAID, BillStatus.PARTIAL, BillStatus.PAID, BillStatus.BAD_DEBT),
    ),
    "COLLECTION": Theme(
        "COLLECTION",
        "收费与实收（渠道交易）",
        "DAY",
        ("period", "deptId", "customerCategory", "priceCode", "channelCode", "status"),
        tuple(CollectionStatus),
        (
            _i("TRANSACTION_COUNT", "交易笔数", "笔", "tx_count"),
            _i("RECEIVED_AMOUNT", "实收金额（已扣冲正，不含预存抵扣）", "元", "received"),
            _i("REVERSED_AMOUNT", "冲正金额", "元", "reversed"),
            _i("REFUNDED_AMOUNT", "退款金额", "元", "refunded"),
            Indicator(
                "NET_RECEIVED_AMOUNT", "净实收（实收-退款）", "元", difference=("received", "refunded")
            ),
            _i("PREPAY_DEDUCTED_AMOUNT", "预存抵扣金额", "元", "prepay_deducted"),
            _i("WRITTEN_OFF_AMOUNT", "核销金额（含预存抵扣）", "元", "written_off"),
            _i("TO_BALANCE_AMOUNT", "转入预存金额", "元", "to_balance"),
            Indicator("CHANNEL_SHARE", "渠道占比（实收）", "%", share_of="received"),
        ),
        "RECEIVED_AMOUNT",
        (CollectionStatus.SUCCESS, CollectionStatus.PARTIAL),  # written off; money on its way is not
    ),
    "ARREARS": Theme(
        "ARREARS",
        "欠费规模与账龄",
        "PERIOD",
        ("period", "deptId", "customerCategory", "priceCode", "ageing"),
        (BillStatus.UNPAID, BillStatus.PARTIAL),
        (
            _i("ARREARS_BILL_COUNT", "欠费账单数", "笔", "bill_count"),
            _i("ARREARS_AMOUNT", "欠费余额", "元", "arrears"),
        ),
        "ARREARS_AMOUNT",
    ),
    "CUSTOMER": Theme(
        "CUSTOMER",
        "客户结构",
        "SNAPSHOT",
        ("deptId", "customerCategory", "priceCode", "status"),
        ("NORMAL", "STOPPED"),
        (_i("CUSTOMER_COUNT", "客户数", "户", "cust_count"),),
        "CUSTOMER_COUNT",
    ),
    "READING": Theme(
        "READING",
        "抄表完成率与异常率",
        "PERIOD",
        ("period", "deptId", "customerCategory", "priceCode"),
        (),
        (
            _i("TASK_COUNT", "抄表任务数", "个", "task_count"),
            _i("READ_COUNT", "已抄任务数", "个", "done_count"),
            Indicator("COMPLETION_RATE", "抄表完成率", "%", ratio=("done_count", "task_count")),
            _i("READING_COUNT", "有效读数数", "条", "reading_count"),
            _i("ABNORMAL_COUNT", "异常读数数", "条", "abnormal_count"),
            Indicator("ABNORMAL_RATE", "异常率", "%", ratio=("abnormal_count", "reading_count")),
            _i("ESTIMATED_COUNT", "估抄读数数", "条", "estimated_count"),
        ),
        "COMPLETION_RATE",
    ),
    "INVOICE": Theme(
        "INVOICE",
        "发票状态",
        "DAY",
        ("period", "deptId", "customerCategory", "priceCode", "status", "invoiceType"),
        tuple(InvoiceStatus),
        (
            _i("INVOICE_COUNT", "发票申请数", "张", "invoice_count"),
            _i("INVOICE_AMOUNT", "开票金额", "元", "amount"),
            _i("ISSUED_COUNT", "开具成功数", "张", "issued_count"),
            _i("FAILED_COUNT", "开具失败数", "张", "failed_count"),
        ),
        "INVOICE_AMOUNT",
    ),
}


def months_between(date_from: dt.date, date_to: dt.date) -> tuple[str, str]:
    """The bill periods (YYYY-MM) a date range covers: the months of its first and last day."""
    return f"{date_from:%Y-%m}", f"{date_to:%Y-%m}"


def ageing_bucket(due_date: dt.date, as_of: dt.date) -> str:
    """Days past the due date, as of a day, in the buckets of AGEING_BUCKETS (what the SQL computes)."""
    days = (as_of - due_date).days
    if days <= 0:
        return "NOT_DUE"
    if days <= 30:
        return "D1_30"
    if days <= 90:
        return "D31_90"
    if days <= 180:
        return "D91_180"
    if days <= 365:
        return "D181_365"
    return "OVER_365"


def percent(numerator: Decimal, denominator: Decimal) -> Decimal | None:
    """A rate in percent with two places (None when nothing to divide by)."""
    if not denominator:
        return None
    return (numerator * HUNDRED / denominator).quantize(Decimal("0.01"))


def indicator_values(
    theme: Theme, measures: dict[str, Decimal], whole: dict[str, Decimal] | None = None
) -> list[tuple[Indicator, Decimal | None]]:
    """Each indicator of the theme from summed measures; a share is of `whole` (the result's total)."""
    out: list[tuple[Indicator, Decimal | None]] = []
    for ind in theme.indicators:
        if ind.measure is not None:
            out.append((ind, measures.get(ind.measure, ZERO)))
        elif ind.ratio is not None:
            out.append((ind, percent(measures.get(ind.ratio[0], ZERO), measures.get(ind.ratio[1], ZERO))))
        elif ind.share_of is not None:
            total = (whole or measures).get(ind.share_of, ZERO)
            out.append((ind, percent(measures.get(ind.share_of, ZERO), total)))
        elif ind.difference is not None:
            out.append((ind, measures.get(ind.difference[0], ZERO) - measures.get(ind.difference[1], ZERO)))
    return out


def measures_of(theme: Theme) -> tuple[str, ...]:
    """The summed measures a theme's SQL must return (the indicators' inputs), in a stable order."""
    seen: list[str] = []
    for ind in theme.indicators:
        for m in (ind.measure, *(ind.ratio or ()), ind.share_of, *(ind.difference or ())):
            if m and m not in seen:
                seen.append(m)
    return tuple(seen)


def format_value(ind: Indicator, value: Decimal | None) -> str | None:
    """The wire text of an indicator value: money with two places, counts whole, rates two places."""
    if value is None:
        return None
    if ind.unit in ("元", "m³", "%"):
        return str(value.quantize(Decimal("0.01")))
    return str(int(value))
