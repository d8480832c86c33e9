"""IF-CS-002: a bound customer's bills, payments, usage, arrears and invoices, newest first.

Every row carries the seed's list fields (chargeId, billPeriod, usageAmount, payStatus,
invoiceStatus), null where its queryType has no such value, and the extensions of its queryType
(billing/models.py describes them). An ARREARS row says what the bill owes today: its principal
(arrearsAmount, the water fee unpaid), its late-payment penalty as of today and the two together
(dueAmount), as every payment channel asks for it (billing.dues)."""

from __future__ import annotations

from typing import Any

from waterrev.billing.dues import amount_due
from waterrev.context import RequestContext
from waterrev.db import UnitOfWork
from waterrev.domain.lifecycle import sql_in
from waterrev.domain.states import COUNTED_READINGS, PAYABLE_BILLS, BillStatus
from waterrev.envelope import page
from waterrev.visibility import require_customer_visible

QUERY_TYPES = ("BILL", "PAYMENT", "USAGE", "ARREARS", "INVOICE", "REMINDER")  # REMINDER: 扩展


def _row(
    charge_id: Any = None,
    bill_period: Any = None,
    usage_amount: Any = None,
    pay_status: Any = None,
    invoice_status: Any = None,
) -> dict[str, Any]:
    return {
        "chargeId": charge_id,
        "billPeriod": bill_period,
        "usageAmount": usage_amount,
        "payStatus": pay_status,
        "invoiceStatus": invoice_status,
    }


def _bill(r: dict[str, Any], lines: list[dict[str, Any]]) -> dict[str, Any]:
    return _row(r["id"], r["bill_period"], r["usage_amount"], r["status"], r["invoice_status"]) | {
        "chargeCode": r["code"],
        "totalAmount": r["total_amount"],
        "paidAmount": r["paid_amount"],
        "unpaidAmount": r["total_amount"] - r["paid_amount"],
        "dueDate": r["due_date"],
        "sourceType": r["source_type"],
        "sourceChargeId": r["source_charge_id"],
        "lineList": [
            {
                "lineNo": d["line_no"],
                "costComponent": d["cost_component"],
                "tierNo": d["tier_no"],
                "usageAmount": d["usage_amount"],
                "unitPrice": d["unit_price"],
                "amount": d["amount"],
                "taxRate": d["tax_rate"],
                "lineKind": d["line_kind"],
                "partNo": d["part_no"],
                "priceCode": d["code"],
                "configVersion": None if d["version"] is None else str(d["version"]),
                "priceTemplateId": d["price_template_id"],
                "segmentNo": d["segment_no"],
                "segmentFrom": d["segment_from"],
                "segmentTo": d["segment_to"],
                "refLineNo": d["ref_line_no"],
            }
            for d in lines
        ],
    }


def _lines(uow: UnitOfWork, charge_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    """The lines of a page's bills, in one statement, with each line's price family and version."""
    out: dict[int, list[dict[str, Any]]] = {c: [] for c in charge_ids}
    if charge_ids:
        for d in uow.all(
            "SELECT d.*, t.code, t.version FROM biz_charge_detail d LEFT JOIN biz_price_template t"
            " ON t.id = d.price_template_id WHERE d.charge_id = ANY(CAST(:ids AS bigint[]))"
            " ORDER BY d.charge_id, d.line_no",
            {"ids": charge_ids},
        ):
            out[int(d["charge_id"])].append(d)
    return out


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
        require_customer_visible(uow, ctx, cust_id)
        if query_type == "USAGE":
            total, items = _usage(uow, params)
        elif query_type in ("BILL", "ARREARS"):
            where = (
                "cust_id = :c AND (CAST(:p AS varchar) IS NULL OR bill_period = :p)"
                f" AND (CAST(:s AS varchar) IS NULL OR status = :s) AND status <> '{BillStatus.CANCELLED}'"
            )
            if query_type == "ARREARS":
                where += f" AND status IN ({sql_in(PAYABLE_BILLS)})"
            total = uow.scalar(f"SELECT count(*) FROM biz_charge WHERE {where}", params)
            rows = uow.all(
                f"SELECT * FROM biz_charge WHERE {where} ORDER BY bill_period DESC, id DESC"
                " LIMIT :lim OFFSET :off",
                params,
            )
            lines = _lines(uow, [int(r["id"]) for r in rows])
            items = [_bill(r, lines[int(r["id"])]) for r in rows]
            if query_type == "ARREARS":  # what each owes today: principal and penalty (billing.dues)
                dues = amount_due(uow, cust_id, charge_ids=[r["id"] for r in rows])
                for item in items:
                    due = dues.of(item["chargeId"])
                    item["arrearsAmount"] = item["unpaidAmount"]
                    item["penaltyAmount"] = due.penalty
                    item["dueAmount"] = due.amount_due
                    item["penaltyAsOf"] = dues.as_of.isoformat()
                    item["penaltyExemption"] = None if dues.exemption is None else dues.exemption.value
        elif query_type == "REMINDER":  # 扩展: the seed's 历史查询 rows for 催缴 (IF-REV-013)
            from waterrev.notifications.reminders import history as reminder_history

            total, reminders = reminder_history(uow, cust_id, bill_period, page_size, params["off"])
            items = [_row(bill_period=r.pop("billPeriod")) | r for r in reminders]
        elif query_type == "PAYMENT":
            total = uow.scalar("SELECT count(*) FROM biz_collection WHERE cust_id = :c", params)
            items = [
                _row(pay_status=r["status"])
                | {
                    "collectionId": r["id"],
                    "collectionCode": r["code"],
                    "amount": r["amount"],
                    "paymentChannel": r["channel"],
                    "tradeNo": r["trade_no"],
                    "payTime": r["pay_time"],
                    "chargeIds": list(r["charge_ids"]),
                }
                for r in uow.all(
                    # a bill paid principal and penalty has two lines: listed once
                    "SELECT c.*, ARRAY(SELECT DISTINCT i.charge_id FROM biz_collection_item i"
                    " WHERE i.collection_id = c.id ORDER BY i.charge_id) AS charge_ids"
                    " FROM biz_collection c WHERE c.cust_id = :c"
                    " ORDER BY c.create_time DESC, c.id DESC LIMIT :lim OFFSET :off",
                    params,
                )
            ]
        else:
            total = uow.scalar("SELECT count(*) FROM biz_invoice WHERE cust_id = :c", params)
            items = [
                _row(invoice_status=r["invoice_status"])
                | {
                    "invoiceId": r["id"],
                    "applicationNo": r["application_no"],
                    "invoiceType": r["invoice_type"],
                    "invoiceCode": r["invoice_code"],
                    "invoiceNumber": r["invoice_number"],
                    "amount": r["amount"],
                    # never the platform's address: a time-limited link to our copy (IF-CS-004)
                    "fileUrl": _invoice_link(r),
                    "createTime": r["create_time"],
                }
                for r in uow.all(
                    "SELECT * FROM biz_invoice WHERE cust_id = :c"
                    " ORDER BY create_time DESC, id DESC LIMIT :lim OFFSET :off",
                    params,
                )
            ]
    return page(items, int(total), page_no, page_size)


def _invoice_link(row: dict[str, Any]) -> str | None:
    if row["invoice_status"] != "SUCCESS" or not row.get("file_key"):
        return None
    from waterrev.adapters import (
        invoice_files,
    )  # our copy of the file in S3, the link the invoices route gives

    name = row["invoice_number"] or row["application_no"]
    return invoice_files.link(row["file_key"], filename=f"{name}.pdf")


# Usage per reading (the seed's source, biz_reading_data.usage_amount), newest first; periods billed
# without a reading (history migrated from the old system) show the bill's usage instead. Each branch
# is limited on its own index before the merge, so a page costs the same whatever the history's size.
_READINGS = f"""
SELECT r.bill_period, r.read_time, r.meter_id, r.previous_reading, r.current_reading, r.usage_amount,
       r.read_type, r.estimated, ch.id AS charge_id, r.id AS reading_id, ch.status AS pay_status,
       ch.invoice_status
  FROM biz_reading_data r LEFT JOIN biz_charge ch ON ch.reading_id = r.id
 WHERE r.cust_id = :c AND r.status IN ({sql_in(COUNTED_READINGS)}) AND (CAST(:p AS varchar) IS NULL OR r.bill_period = :p)
"""
_HISTORY = f"""
SELECT ch.bill_period, NULL::timestamptz AS read_time, ch.meter_id, NULL::numeric AS previous_reading,
       NULL::numeric AS current_reading, ch.usage_amount, 'HISTORY' AS read_type, false AS estimated,
       ch.id AS charge_id, NULL::bigint AS reading_id, ch.status AS pay_status, ch.invoice_status
  FROM biz_charge ch
 WHERE ch.cust_id = :c AND ch.reading_id IS NULL AND ch.status <> '{BillStatus.CANCELLED}'
   AND (CAST(:p AS varchar) IS NULL OR ch.bill_period = :p)
"""
_ORDER = " ORDER BY bill_period DESC, read_time DESC NULLS LAST, reading_id DESC NULLS LAST, charge_id DESC"


def _usage(uow: UnitOfWork, params: dict[str, Any]) -> tuple[int, list[dict[str, Any]]]:
    total = int(
        uow.scalar(
            f"SELECT (SELECT count(*) FROM ({_READINGS}) a) + (SELECT count(*) FROM ({_HISTORY}) b)", params
        )
    )
    window = {**params, "top": params["lim"] + params["off"]}
    rows = uow.all(
        f"SELECT * FROM (({_READINGS}{_ORDER} LIMIT :top) UNION ALL ({_HISTORY}{_ORDER} LIMIT :top)) u"
        f"{_ORDER} LIMIT :lim OFFSET :off",
        window,
    )
    return total, [
        _row(r["charge_id"], r["bill_period"], r["usage_amount"], r["pay_status"], r["invoice_status"])
        | {
            "meterId": r["meter_id"],
            "readTime": r["read_time"],
            "previousReading": r["previous_reading"],
            "currentReading": r["current_reading"],
            "readType": r["read_type"],
            "estimated": r["estimated"],
            "readingId": r["reading_id"],
        }
        for r in rows
    ]
