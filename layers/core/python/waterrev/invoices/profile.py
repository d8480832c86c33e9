"""The customer's invoice profile (biz_cust_invoice) as changed on the customer's behalf (开票方式变更,
IF-CS-006): in the caller's unit of work, audited there. What is not given stays as it was; a customer
without a profile gets one titled with its name."""

from __future__ import annotations

from typing import Any

from waterrev import audit
from waterrev.context import RequestContext
from waterrev.db import UnitOfWork

_COLUMNS = {
    "invoiceType": "invoice_type",
    "titleType": "title_type",
    "invoiceTitle": "invoice_title",
    "taxNo": "tax_no",
    "email": "email",
}


def update_profile(
    uow: UnitOfWork, ctx: RequestContext, cust_id: int, changes: dict[str, Any], reference: str
) -> dict[str, Any]:
    """Apply `changes` (the seed's names: invoiceType, titleType, invoiceTitle, taxNo, email)."""
    uow.execute(
        "INSERT INTO biz_cust_invoice (cust_id, invoice_title) SELECT id, name FROM biz_cust WHERE id = :c"
        " ON CONFLICT (cust_id) DO NOTHING",
        {"c": cust_id},
    )
    before = uow.one("SELECT * FROM biz_cust_invoice WHERE cust_id = :c FOR UPDATE", {"c": cust_id}) or {}
    values = {_COLUMNS[k]: v for k, v in changes.items() if k in _COLUMNS and v is not None}
    if values:
        sets = ", ".join(f"{k} = :{k}" for k in values)
        uow.execute(
            f"UPDATE biz_cust_invoice SET {sets} WHERE cust_id = :cust_id", {**values, "cust_id": cust_id}
        )
    audit.record(
        uow,
        ctx,
        module="CS-006",
        operation="INVOICE_PROFILE_CHANGE",
        object_type="biz_cust_invoice",
        object_id=cust_id,
        before={k: before.get(k) for k in values},
        after=values,
        remark=reference,
    )
    return values
