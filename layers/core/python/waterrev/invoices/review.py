"""IF-REV-009 人工核查入口: the results that conflicted with a terminal invoice state (a FAIL after
SUCCESS, a SUCCESS after FAIL), listed for a person and resolved with a remark. Resolving records the
person's conclusion; it never changes the invoice's state (a correction is a void or red-ink)."""

from __future__ import annotations

from typing import Any

from waterrev import audit
from waterrev.context import RequestContext
from waterrev.db import UnitOfWork
from waterrev.domain.states import InvoiceExceptionStatus
from waterrev.envelope import page
from waterrev.errors import AppError, ErrorCode
from waterrev.invoices.commands import ResolveInvoiceException
from waterrev.visibility import customer_scope

_FROM = (
    " FROM biz_invoice_exception e JOIN biz_invoice i ON i.id = e.invoice_id JOIN biz_cust c ON c.id = i.cust_id"
    " WHERE {scope} AND (CAST(:st AS varchar) IS NULL OR e.status = :st)"
    " AND (CAST(:a AS varchar) IS NULL OR i.application_no = :a)"
)


def _item(r: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": r["id"],
        "invoiceId": r["invoice_id"],
        "applicationNo": r["application_no"],
        "exceptionType": r["exception_type"],
        "source": r["source"],
        "currentStatus": r["current_status"],
        "reportedStatus": r["reported_status"],
        "invoiceStatus": r["invoice_status"],
        "resultMsg": (r["detail"] or {}).get("resultMsg"),
        "status": r["status"],
        "resolveRemark": r["resolve_remark"],
        "createTime": r["create_time"],
        "resolvedTime": r["resolved_time"],
    }


def page_exceptions(
    ctx: RequestContext, *, status: str | None, application_no: str | None, page_no: int, page_size: int
) -> dict[str, Any]:
    scope, params = customer_scope(ctx)
    params |= {"st": status, "a": application_no, "lim": page_size, "off": (page_no - 1) * page_size}
    sql_from = _FROM.format(scope=scope)
    with UnitOfWork() as uow:
        total = int(uow.scalar("SELECT count(*)" + sql_from, params))
        rows = uow.all(
            "SELECT e.*, i.application_no, i.invoice_status"
            + sql_from
            + " ORDER BY e.id DESC LIMIT :lim OFFSET :off",
            params,
        )
    return page([_item(r) for r in rows], total, page_no, page_size)


def resolve(ctx: RequestContext, cmd: ResolveInvoiceException) -> dict[str, Any]:
    scope, params = customer_scope(ctx)
    with UnitOfWork() as uow:
        row = uow.one(
            "SELECT e.*, i.application_no, i.invoice_status"
            + _FROM.format(scope=scope)
            + " AND e.id = :id FOR UPDATE OF e",
            params | {"st": None, "a": None, "id": cmd.id},
        )
        if row is None:
            raise AppError(ErrorCode.NOT_FOUND, f"发票异常不存在：id={cmd.id}")
        if row["status"] != InvoiceExceptionStatus.OPEN:
            raise AppError(ErrorCode.CONFLICT, "该异常已处理", data={"currentStatus": row["status"]})
        resolved = uow.one(
            "UPDATE biz_invoice_exception SET status = :s, resolve_remark = :r, resolved_by = :u, resolved_time = now()"
            " WHERE id = :id RETURNING *",
            {"s": InvoiceExceptionStatus.RESOLVED, "r": cmd.remark, "u": ctx.principal.user_id, "id": cmd.id},
        )
        assert resolved is not None
        audit.record(
            uow,
            ctx,
            module="REV-005",
            operation="INVOICE_EXCEPTION_RESOLVE",
            object_type="biz_invoice",
            object_id=row["invoice_id"],
            before={"exceptionId": cmd.id, "status": row["status"]},
            after={"exceptionId": cmd.id, "status": InvoiceExceptionStatus.RESOLVED, "remark": cmd.remark},
        )
        uow.commit()
    return _item(
        {**resolved, "application_no": row["application_no"], "invoice_status": row["invoice_status"]}
    )
