"""Which customers a caller may see: the one place every capability asks (docs/DECISIONS.md 5, 29).

By caller kind:
- a customer-channel token (MEMBER) sees only the customers its channel identity has BOUND
  (biz_cust_app_binds);
- a back-office user (ADMIN) sees only customers of the depts in its data scope (all of them with
  scope ALL);
- the system (schedules, workflows, signed webhooks: a SYSTEM principal whose scope is every dept)
  sees every customer; an anonymous caller sees none.

A customer the caller may not see is answered exactly as one that does not exist, with the not-found
error of that caller kind (MEMBER 1_002_001_002, otherwise 1_002_001_001), naming only what the caller
asked for: nothing tells "not yours" from "not there".
"""

from __future__ import annotations

from typing import Any

from waterrev.context import RequestContext, UserType
from waterrev.db import UnitOfWork
from waterrev.errors import AppError, ErrorCode

_BOUND = (
    "SELECT 1 FROM biz_cust_app_binds WHERE channel_type = :t AND channel_user_id = :u AND cust_id = :c"
    " AND status = 'BOUND'"
)


def customer_not_found(ctx: RequestContext, asked: str) -> AppError:
    """The answer for a customer this caller cannot see; `asked` names what the caller sent
    (`custId=12`, `code=KH0000000001`), never anything found."""
    if ctx.principal.user_type is UserType.MEMBER:
        return AppError(ErrorCode.BINDING_NOT_FOUND, asked)
    return AppError(ErrorCode.CUSTOMER_NOT_FOUND_OR_STOPPED, asked)


def customer_visible(
    uow: UnitOfWork, ctx: RequestContext, cust_id: int | None, *, active: bool = False
) -> bool:
    """Whether the caller may see customer `cust_id` (False for one that does not exist, and with
    `active` for one that is not NORMAL: a stopped customer is refused as an absent one)."""
    if cust_id is None:
        return False
    p = ctx.principal
    if p.user_type is UserType.MEMBER:
        if p.channel_type is None or p.channel_user_id is None:
            return False
        found = uow.scalar(_BOUND, {"t": p.channel_type, "u": p.channel_user_id, "c": cust_id})
        if found is None:
            return False
        return (
            not active or uow.scalar("SELECT status FROM biz_cust WHERE id = :c", {"c": cust_id}) == "NORMAL"
        )
    row = uow.one("SELECT dept_id, status FROM biz_cust WHERE id = :c", {"c": cust_id})
    if row is None or (active and row["status"] != "NORMAL"):
        return False
    return p.sees_dept(row["dept_id"])


def require_customer_visible(
    uow: UnitOfWork, ctx: RequestContext, cust_id: int, *, asked: str | None = None, active: bool = False
) -> None:
    """Refuse, as not found for this caller kind, a customer the caller may not see."""
    if not customer_visible(uow, ctx, cust_id, active=active):
        raise customer_not_found(ctx, asked or f"custId={cust_id}")


def customer_scope(ctx: RequestContext, dept_column: str = "c.dept_id") -> tuple[str, dict[str, Any]]:
    """The same rule for a list of customers (a back-office search): an SQL condition on the
    customer's dept and its parameters. MEMBER callers list only their bindings (never through this)."""
    p = ctx.principal
    if p.user_type is UserType.MEMBER:
        return "false", {}
    return (
        f"(CAST(:scope_all AS boolean) OR {dept_column} = ANY(CAST(:scope_depts AS bigint[])))",
        {"scope_all": p.dept_ids is None, "scope_depts": sorted(p.dept_ids or ())},
    )


# ---- depts: what a back-office user may act in ---------------------------------------------------


def dept_visible(ctx: RequestContext, dept_id: int | None) -> bool:
    """Whether the caller's data scope holds the dept (every dept for scope ALL and the system)."""
    return ctx.principal.sees_dept(dept_id)


def sees_every_dept(ctx: RequestContext) -> bool:
    """A data scope of every dept: what company-wide work (a whole bill run, GLOBAL configuration)
    needs."""
    return ctx.principal.dept_ids is None


def dept_params(ctx: RequestContext) -> dict[str, Any]:
    """The caller's scope as SQL parameters: `all_depts` (boolean) and `depts` (bigint[]), for a
    condition such as `(CAST(:all_depts AS boolean) OR c.dept_id = ANY(CAST(:depts AS bigint[])))`."""
    depts = ctx.principal.dept_ids
    return {"all_depts": depts is None, "depts": sorted(depts or ())}
