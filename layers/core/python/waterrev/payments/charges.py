"""IF-REV-006 扩展: the bills a counter can collect. Counter collection names its bills by id (chargeIds),
so the clerk first looks up one customer's bills - arrears first, the oldest unpaid period on top - with
what each still owes today (principal and late-payment penalty, `billing.dues`) and whether a live online
or QR order holds it (such a bill cannot be collected at
the counter until that order ends). A customer outside the clerk's data scope reads as one that does not
exist."""

from __future__ import annotations

from typing import Any

from waterrev.billing.dues import amount_due
from waterrev.context import RequestContext
from waterrev.db import UnitOfWork
from waterrev.envelope import page
from waterrev.errors import AppError, ErrorCode
from waterrev.payments.commands import FindCharges
from waterrev.visibility import customer_visible

_OPEN = "c.status IN ('UNPAID', 'PARTIAL')"
_WHERE = (
    "c.cust_id = :c AND c.status IN ('UNPAID', 'PARTIAL', 'PAID')"
    " AND (CAST(:p AS varchar) IS NULL OR c.bill_period = :p) AND (CAST(:s AS varchar) IS NULL OR c.status = :s)"
)


def find(ctx: RequestContext, query: FindCharges) -> dict[str, Any]:
    """One customer's bills (by custId or custCode; with both they must name the same customer): unpaid
    and part-paid first, oldest period first, then paid ones, newest first."""
    with UnitOfWork() as uow:
        cust = _customer(uow, ctx, query)
        params = {"c": cust["id"], "p": query.bill_period, "s": query.charge_status}
        total = uow.scalar(f"SELECT count(*) FROM biz_charge c WHERE {_WHERE}", params)
        rows = uow.all(
            "SELECT c.id, c.code, c.bill_period, c.usage_amount, c.total_amount, c.paid_amount, c.status,"
            " c.invoice_status, c.due_date, o.biz_order_no AS live_order"
            " FROM biz_charge c LEFT JOIN biz_order_charge o ON o.charge_id = c.id AND o.live"
            f" WHERE {_WHERE}"
            f" ORDER BY ({_OPEN}) DESC, CASE WHEN {_OPEN} THEN c.bill_period END, c.bill_period DESC, c.id"
            " LIMIT :lim OFFSET :off",
            {**params, "lim": query.page_size, "off": (query.page_no - 1) * query.page_size},
        )
        dues = amount_due(uow, cust["id"], charge_ids=[r["id"] for r in rows])
    penalty = dues.penalty_of()
    items = [
        {
            "chargeId": r["id"],
            "chargeCode": r["code"],
            "custId": cust["id"],
            "custCode": cust["code"],
            "billPeriod": r["bill_period"],
            "usageAmount": r["usage_amount"],
            "totalAmount": r["total_amount"],
            "paidAmount": r["paid_amount"],
            "unpaidAmount": r["total_amount"] - r["paid_amount"],
            "penaltyAmount": penalty[r["id"]],
            "dueAmount": r["total_amount"] - r["paid_amount"] + penalty[r["id"]],
            "penaltyExemption": None if dues.exemption is None else dues.exemption.value,
            "payStatus": r["status"],
            "invoiceStatus": r["invoice_status"],
            "dueDate": r["due_date"],
            "liveOrder": r["live_order"],
        }
        for r in rows
    ]
    return page(items, int(total), query.page_no, query.page_size)


def _customer(uow: UnitOfWork, ctx: RequestContext, query: FindCharges) -> dict[str, Any]:
    if query.cust_id is None and query.cust_code is None:
        raise AppError(ErrorCode.BAD_REQUEST, "custId / custCode: 须指定客户（客户 ID 或客户编号）")
    cust = uow.one(
        "SELECT id, code FROM biz_cust WHERE (CAST(:i AS bigint) IS NULL OR id = :i)"
        " AND (CAST(:k AS varchar) IS NULL OR code = :k)",
        {"i": query.cust_id, "k": query.cust_code},
    )
    if cust is None or not customer_visible(uow, ctx, cust["id"]):
        asked = ", ".join(
            f"{name}={value}"
            for name, value in (("custId", query.cust_id), ("custCode", query.cust_code))
            if value
        )
        raise AppError(ErrorCode.CUSTOMER_NOT_FOUND_OR_STOPPED, asked)
    return cust
