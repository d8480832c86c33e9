"""IF-CS-002: a bound customer's bills, payments, usage, arrears and invoices, newest first."""

from __future__ import annotations

from typing import Any

from waterrev.context import RequestContext
from waterrev.db import UnitOfWork
from waterrev.envelope import page
from waterrev.services.channel import require_bound

QUERY_TYPES = ("BILL", "PAYMENT", "USAGE", "ARREARS", "INVOICE")


def _bill(r: dict[str, Any]) -> dict[str, Any]:
    return {
        "chargeId": r["id"],
        "chargeCode": r["code"],
        "billPeriod": r["bill_period"],
        "usageAmount": r["usage_amount"],
        "totalAmount": r["total_amount"],
        "paidAmount": r["paid_amount"],
        "unpaidAmount": r["total_amount"] - r["paid_amount"],
        "payStatus": r["status"],
        "invoiceStatus": r["invoice_status"],
        "dueDate": r["due_date"],
    }


def history(
    ctx: RequestContext,
    *,
    cust_id: int,
    query_type: str,
    bill_period: str | None,
    charge_status: str | None,
    page_no: int,
    page_size: int,
) -> dict[str, Any]:
    params: dict[str, Any] = {
        "c": cust_id,
        "p": bill_period,
        "s": charge_status,
        "lim": page_size,
        "off": (page_no - 1) * page_size,
    }
    with UnitOfWork() as uow:
        require_bound(uow, ctx, cust_id)
        if query_type in ("BILL", "USAGE", "ARREARS"):
            where = (
                "cust_id = :c AND (CAST(:p AS varchar) IS NULL OR bill_period = :p)"
                " AND (CAST(:s AS varchar) IS NULL OR status = :s) AND status <> 'CANCELLED'"
            )
            if query_type == "ARREARS":
                where += " AND status IN ('UNPAID', 'PARTIAL')"
            total = uow.scalar(f"SELECT count(*) FROM biz_charge WHERE {where}", params)
            rows = uow.all(
                f"SELECT * FROM biz_charge WHERE {where} ORDER BY bill_period DESC, id DESC"
                " LIMIT :lim OFFSET :off",
                params,
            )
            if query_type == "USAGE":
                items = [
                    {
                        "chargeId": r["id"],
                        "billPeriod": r["bill_period"],
                        "meterId": r["meter_id"],
                        "usageAmount": r["usage_amount"],
                    }
                    for r in rows
                ]
            else:
                items = [_bill(r) for r in rows]
                if query_type == "ARREARS":
                    for item in items:
                        item["arrearsAmount"] = item["unpaidAmount"]
        elif query_type == "PAYMENT":
            total = uow.scalar("SELECT count(*) FROM biz_collection WHERE cust_id = :c", params)
            items = [
                {
                    "collectionId": r["id"],
                    "collectionCode": r["code"],
                    "amount": r["amount"],
                    "paymentChannel": r["channel"],
                    "tradeNo": r["trade_no"],
                    "payStatus": r["status"],
                    "payTime": r["pay_time"],
                }
                for r in uow.all(
                    "SELECT * FROM biz_collection WHERE cust_id = :c"
                    " ORDER BY create_time DESC, id DESC LIMIT :lim OFFSET :off",
                    params,
                )
            ]
        else:
            total = uow.scalar("SELECT count(*) FROM biz_invoice WHERE cust_id = :c", params)
            items = [
                {
                    "invoiceId": r["id"],
                    "applicationNo": r["application_no"],
                    "invoiceType": r["invoice_type"],
                    "invoiceStatus": r["invoice_status"],
                    "invoiceCode": r["invoice_code"],
                    "invoiceNumber": r["invoice_number"],
                    "amount": r["amount"],
                    "fileUrl": r["file_url"],
                    "createTime": r["create_time"],
                }
                for r in uow.all(
                    "SELECT * FROM biz_invoice WHERE cust_id = :c"
                    " ORDER BY create_time DESC, id DESC LIMIT :lim OFFSET :off",
                    params,
                )
            ]
    return page(items, int(total), page_no, page_size)
