"""Invoice rules, pure: the lines of an invoice (多税率拆票), the title checks, the keys, and how a
reported result meets the current state (the Python statement of inv_apply_results.sql's rule, which
the tests hold the database function to). No I/O."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from decimal import ROUND_HALF_UP, Decimal
from typing import NamedTuple

from waterrev.domain.states import INVOICE, InvoiceStatus
from waterrev.money import FEN

# 税收分类编码 and the item name printed on the invoice, by cost component. Illustrative codes of the
# national classification (自来水 / 污水处理费 / 水资源费); a component not listed is invoiced under
# the generic code with its own name (docs/DECISIONS.md).
TAX_CODES: dict[str, tuple[str, str]] = {
    "WATER_FEE": ("1100301010000000000", "*水冰雪*自来水"),
    "SEWAGE_FEE": ("3040801050000000000", "*非税收入*污水处理费"),
    "RESOURCE_FEE": ("3040801030000000000", "*非税收入*水资源费"),
}
GENERIC_TAX_CODE = "3049900000000000000"
# Components that are never invoiced with the bills: a late-payment penalty is its own ledger line
# (违约金), not a water-service charge.
NOT_INVOICED = frozenset({"LATE_FEE", "PENALTY", "LATE_PAYMENT_PENALTY"})

_ORGANISATION = re.compile(r"(公司|集团|企业|有限|事务所|合作社|委员会|研究院|学校|医院|银行|厂|局|中心)")
_USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_LEGACY_TAX_NO = re.compile(r"^[0-9A-Z]{15}$|^[0-9A-Z]{20}$")


class DetailLine(NamedTuple):
    """One bill line (biz_charge_detail): its component, tax rate and amount (tax included)."""

    cost_component: str
    component_name: str
    tax_rate: Decimal
    amount: Decimal


class InvoiceLine(NamedTuple):
    """One invoice line (biz_invoice_taxrate): a component at one rate, tax split out."""

    line_no: int
    cost_component: str
    item_name: str
    tax_code: str
    tax_rate: Decimal
    amount: Decimal  # tax included: the sum of the bills' lines
    amount_ex_tax: Decimal
    tax_amount: Decimal


def split_tax(amount: Decimal, rate: Decimal) -> tuple[Decimal, Decimal]:
    """(amount without tax, tax) of a tax-included amount: the first rounded half-up to the fen, the
    tax what remains, so the two always add up to the amount."""
    ex_tax = (amount / (Decimal(1) + rate)).quantize(FEN, rounding=ROUND_HALF_UP)
    return ex_tax, amount - ex_tax


def invoice_lines(details: Iterable[DetailLine]) -> list[InvoiceLine]:
    """The bills' lines grouped by component and tax rate, in first-seen order (water before sewage,
    as billed); penalty lines are left out. Amounts are sums of the bills' rounded lines."""
    groups: dict[tuple[str, Decimal], tuple[str, Decimal]] = {}
    for d in details:
        if d.cost_component in NOT_INVOICED:
            continue
        key = (d.cost_component, d.tax_rate)
        name, total = groups.get(key, (d.component_name, Decimal("0.00")))
        groups[key] = (name, total + d.amount)
    lines = []
    for n, ((component, rate), (name, amount)) in enumerate(groups.items(), start=1):
        code, item = TAX_CODES.get(component, (GENERIC_TAX_CODE, f"*水费*{name}"))
        ex_tax, tax = split_tax(amount, rate)
        lines.append(InvoiceLine(n, component, item, code, rate, amount, ex_tax, tax))
    return lines


def charge_key(charge_ids: Sequence[int]) -> str:
    """The seed's idempotency key custId + chargeIds, its bills part: the set, order and repeats aside."""
    return ",".join(str(i) for i in sorted(set(charge_ids)))


def valid_uscc(tax_no: str) -> bool:
    """统一社会信用代码 (GB 32100-2015): 18 characters, the last a checksum of the first 17."""
    if len(tax_no) != 18 or any(c not in _USCC_CHARS for c in tax_no):
        return False
    total = sum(_USCC_CHARS.index(c) * w for c, w in zip(tax_no[:17], _USCC_WEIGHTS, strict=True))
    return _USCC_CHARS[(31 - total % 31) % 31] == tax_no[17]


def valid_tax_no(tax_no: str) -> bool:
    """A credit code with its checksum, or an old-style 15- or 20-character taxpayer number."""
    return valid_uscc(tax_no) or bool(_LEGACY_TAX_NO.match(tax_no))


def title_type(invoice_title: str, tax_no: str | None, profile_type: str | None = None) -> str:
    """ENTERPRISE for a title with a tax number, one the customer's invoice profile calls an enterprise,
    or a title that names an organisation; PERSONAL otherwise."""
    if tax_no or profile_type == "ENTERPRISE" or _ORGANISATION.search(invoice_title):
        return "ENTERPRISE"
    return "PERSONAL"


def title_problems(
    *, invoice_type: str, kind: str, tax_no: str | None, email: str | None, mobile: str | None
) -> list[str]:
    """Why a title cannot be invoiced (IF-REV-008 申请校验): empty when it can."""
    problems = []
    if kind == "ENTERPRISE":
        if not tax_no:
            problems.append("taxNo: 企业抬头须提供税号")
        elif not valid_tax_no(tax_no):
            problems.append("taxNo: 税号不完整或校验位不符（统一社会信用代码 18 位）")
    if invoice_type == "ELECTRONIC" and not (email or mobile):
        problems.append("email/mobile: 电子发票须提供接收邮箱或手机号至少一项")
    return problems


# ---- a reported result against the current state --------------------------------------------------
APPLIED, UNCHANGED, CONFLICT = "APPLIED", "UNCHANGED", "CONFLICT"
_SETTLED_VIEW = {InvoiceStatus.INVALID, InvoiceStatus.RED_INK}
_UNISSUED = {InvoiceStatus.FAIL, InvoiceStatus.REJECTED}


def decide(current: str, reported: str, *, live_modify_target: str | None = None) -> str:
    """What a result reported for an application does (inv_apply_results.sql, operationType ISSUE):
    APPLIED (the lifecycle allows it), UNCHANGED (the same state, a PENDING that is old news, or the
    platform's older view of an invoice settled since), CONFLICT (anything else: a FAIL after SUCCESS
    never overwrites it, it is kept for a person). INVALID / RED_INK on a SUCCESS invoice settle the
    live void / red-ink request of that target, and are a conflict without one."""
    if reported == current:
        return UNCHANGED
    if reported == InvoiceStatus.PENDING:
        return APPLIED if current == InvoiceStatus.SUBMITTED else UNCHANGED
    if reported in _SETTLED_VIEW and current == InvoiceStatus.SUCCESS:
        return APPLIED if live_modify_target == reported else CONFLICT
    if reported in (InvoiceStatus.SUCCESS, *_UNISSUED) and INVOICE.allows(current, reported):
        return APPLIED
    if (reported == InvoiceStatus.SUCCESS and current in _SETTLED_VIEW) or (
        reported in _UNISSUED and current in _UNISSUED
    ):
        return UNCHANGED
    return CONFLICT


def backoff_minutes(try_count: int) -> int:
    """Minutes until the next compensation query after `try_count` queries: 1, 2, 4 ... 60."""
    return min(60, 2 ** min(try_count, 6))
