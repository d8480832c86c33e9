"""Changes of the customer master that other capabilities make on a customer's behalf (the service
desk's completed applications, IF-CS-006): each in the caller's unit of work, audited there with the
before and after, the customer row locked first so two changes never interleave."""

from __future__ import annotations

from typing import Any

from waterrev import audit, crypto
from waterrev.context import RequestContext
from waterrev.db import UnitOfWork
from waterrev.errors import AppError, ErrorCode

MODULE = "CS-006"


def _locked(uow: UnitOfWork, cust_id: int) -> dict[str, Any]:
    row = uow.one("SELECT * FROM biz_cust WHERE id = :c FOR UPDATE", {"c": cust_id})
    if row is None:
        raise AppError(ErrorCode.CUSTOMER_NOT_FOUND_OR_STOPPED, f"custId={cust_id}")
    return row


def sealed_changes(uow: UnitOfWork, changes: dict[str, Any]) -> dict[str, Any]:
    """An ID number or a mobile as biz_cust keeps it (waterrev.crypto): masked, sealed, indexed."""
    out = dict(changes)
    for column, kind in (("mobile", crypto.MOBILE), ("id_no", crypto.ID_NO)):
        if out.get(column) is not None:
            out.update(crypto.columns(column, crypto.keys(uow.conn).pii(kind, out[column])))
    return out


def _update(
    uow: UnitOfWork,
    ctx: RequestContext,
    cust_id: int,
    operation: str,
    changes: dict[str, Any],
    reference: str,
) -> dict[str, Any]:
    """Set `changes` (column -> value) on the customer; the audit row holds what each column was."""
    row = _locked(uow, cust_id)
    before = {k: row[k] for k in changes}
    stored = sealed_changes(uow, changes)
    sets = ", ".join(f"{k} = :{k}" for k in stored)
    uow.execute(
        f"UPDATE biz_cust SET {sets}, version = version + 1, update_time = now() WHERE id = :cust_id",
        {**stored, "cust_id": cust_id},
    )
    audit.record(
        uow,
        ctx,
        module=MODULE,
        operation=operation,
        object_type="biz_cust",
        object_id=cust_id,
        before=before,
        after=changes,
        remark=reference,
    )
    return before


def rename(uow: UnitOfWork, ctx: RequestContext, cust_id: int, name: str, reference: str) -> None:
    """更名: the customer's name changes; its owner does not."""
    _update(uow, ctx, cust_id, "CUST_RENAME", {"name": name}, reference)


def transfer_owner(
    uow: UnitOfWork,
    ctx: RequestContext,
    cust_id: int,
    *,
    name: str,
    id_type: str,
    id_no: str,
    mobile: str,
    reference: str,
) -> int:
    """过户: a new owner - name, identity and reserved mobile change, the primary contact with them,
    and the previous owner's channel bindings end (the new owner binds with its own verification).
    Returns how many bindings ended."""
    _update(
        uow,
        ctx,
        cust_id,
        "CUST_TRANSFER",
        {"name": name, "id_type": id_type, "id_no": id_no, "mobile": mobile},
        reference,
    )
    uow.execute(
        "UPDATE biz_cust_contact SET name = :n, mobile = :mobile, mobile_cipher = :mobile_cipher,"
        " mobile_index = :mobile_index WHERE cust_id = :c AND is_primary",
        {"n": name[:64], **sealed_changes(uow, {"mobile": mobile}), "c": cust_id},
    )
    ended = uow.all(
        "UPDATE biz_cust_app_binds SET status = 'UNBOUND', is_default = false, unbind_time = now()"
        " WHERE cust_id = :c AND status = 'BOUND' RETURNING id",
        {"c": cust_id},
    )
    if ended:
        audit.record(
            uow,
            ctx,
            module=MODULE,
            operation="BIND_END_ON_TRANSFER",
            object_type="biz_cust",
            object_id=cust_id,
            after={"bindIds": [r["id"] for r in ended]},
            remark=reference,
        )
    return len(ended)


def change_contact(
    uow: UnitOfWork, ctx: RequestContext, cust_id: int, mobile: str, contact_name: str | None, reference: str
) -> None:
    """联系方式变更: the reserved mobile (biz_cust.mobile, where notices go) and the primary contact's."""
    _update(uow, ctx, cust_id, "CUST_CONTACT_CHANGE", {"mobile": mobile}, reference)
    uow.execute(
        "UPDATE biz_cust_contact SET mobile = :mobile, mobile_cipher = :mobile_cipher, mobile_index = :mobile_index,"
        " name = COALESCE(:n, name) WHERE cust_id = :c AND is_primary",
        {**sealed_changes(uow, {"mobile": mobile}), "n": contact_name, "c": cust_id},
    )


def set_population(
    uow: UnitOfWork, ctx: RequestContext, cust_id: int, population: int, reference: str
) -> None:
    """一户多人口: billing reads biz_cust.population when it prices a reading, so every bill written
    after this widens its tiers by the tariff's population step (never a bill already written)."""
    _update(uow, ctx, cust_id, "CUST_POPULATION", {"population": population}, reference)


def set_low_income(uow: UnitOfWork, ctx: RequestContext, cust_id: int, reference: str) -> None:
    """低保: the household is marked low-income (exempt from the late-payment penalty where the dept's
    rule says so)."""
    _update(uow, ctx, cust_id, "CUST_LOW_INCOME", {"low_income": True}, reference)
