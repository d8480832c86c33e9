"""Which customers a back-office caller may act for in payments: those of the depts its data scope
holds. Outside the scope a customer reads exactly as one that does not exist (docs/DECISIONS.md 5), so
every payment use case asks here, and customer-channel callers ask `require_bound` (IF-CS-002's binding
check) the same way."""

from __future__ import annotations

from waterrev.context import RequestContext
from waterrev.db import UnitOfWork
from waterrev.errors import AppError, ErrorCode


def customer_in_scope(uow: UnitOfWork, ctx: RequestContext, cust_id: int, *, active: bool = False) -> bool:
    """True when the customer exists (and is NORMAL, with `active`) in a dept the caller may see."""
    row = uow.one("SELECT dept_id, status FROM biz_cust WHERE id = :c", {"c": cust_id})
    if row is None or (active and row["status"] != "NORMAL"):
        return False
    return ctx.principal.sees_dept(row["dept_id"])


def require_customer_in_scope(
    uow: UnitOfWork, ctx: RequestContext, cust_id: int, *, active: bool = True
) -> None:
    """1_002_001_001 naming the custId asked for, for a customer absent, outside the scope, or (with
    `active`) stopped."""
    if not customer_in_scope(uow, ctx, cust_id, active=active):
        raise AppError(ErrorCode.CUSTOMER_NOT_FOUND_OR_STOPPED, f"custId={cust_id}")
