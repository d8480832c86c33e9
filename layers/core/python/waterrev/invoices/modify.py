"""IF-REV-008 后台作废 / 红冲: void or red-ink one SUCCESS invoice through SYS-008.

Only from SUCCESS (INVALID and RED_INK are terminal and refuse a second request); one void or red-ink
at a time per invoice (a unique index over the live requests). The reason, remark, the original
invoice's code and number (checked against the record when the caller sends them) and the trigger
source (ADMIN_INVALIDATE / ADMIN_RED_INK) are written with the request and audited in one
transaction; SYS-008 is asked afterwards, outside it. Its answer only means accepted: the invoice
becomes INVALID / RED_INK, and its bills invoiceable again, when the result arrives by IF-EXT-007 or
IF-REV-009. A red-ink of a 数电票 goes through a red-letter confirmation form (红字确认单); a form that
is denied, not confirmed in 72 hours or withdrawn ends the request FAIL, the invoice still SUCCESS.
"""

from __future__ import annotations

from typing import Any

from waterrev import audit
from waterrev.context import RequestContext
from waterrev.db import UnitOfWork
from waterrev.domain.states import INVOICE, InvoiceModifyType, InvoiceStatus
from waterrev.errors import AppError, ErrorCode
from waterrev.invoices import results
from waterrev.invoices.apply import next_number
from waterrev.invoices.commands import ModifyInvoice
from waterrev.logs import get_logger
from waterrev.visibility import customer_visible

KINDS = {
    InvoiceModifyType.INVALIDATE: ("ZF", "ADMIN_INVALIDATE", InvoiceStatus.INVALID, "作废"),
    InvoiceModifyType.RED_INK: ("HC", "ADMIN_RED_INK", InvoiceStatus.RED_INK, "红冲"),
}


def modify(ctx: RequestContext, cmd: ModifyInvoice) -> dict[str, Any]:
    kind = InvoiceModifyType(cmd.modify_type)
    prefix, trigger, target, word = KINDS[kind]
    with UnitOfWork() as uow:
        row = uow.one("SELECT * FROM biz_invoice WHERE id = :i FOR UPDATE", {"i": cmd.invoice_id})
        if row is None or not customer_visible(uow, ctx, row["cust_id"]):
            raise AppError(ErrorCode.NOT_FOUND, f"发票不存在：invoiceId={cmd.invoice_id}")
        current = row["invoice_status"]
        if not INVOICE.allows(current, target):
            raise AppError(
                ErrorCode.INVOICE_NOT_ELIGIBLE,
                f"invoiceId: 发票当前状态为 {current}，仅 SUCCESS 的发票可{word}",
                data={"currentStatus": current, "targetStatus": target},
            )
        for field, given, kept in (
            ("originalInvoiceCode", cmd.original_invoice_code, row["invoice_code"]),
            ("originalInvoiceNumber", cmd.original_invoice_number, row["invoice_number"]),
        ):
            if given is not None and given != kept:
                raise AppError(ErrorCode.INVOICE_NOT_ELIGIBLE, f"{field}: 与当前发票记录不一致")
        modify_no = next_number(uow, prefix)
        modify_id = uow.scalar(
            "INSERT INTO biz_process_invoice_modifys (modify_no, invoice_id, modify_type, trigger_source,"
            " target_status, reason, remark, original_invoice_code, original_invoice_number, operator_id,"
            " operator_name, next_plan_time) VALUES (:no, :i, :t, :src, :target, :reason, :remark, :code, :num,"
            " :op, :opname, now() + interval '1 minute') ON CONFLICT DO NOTHING RETURNING id",
            {
                "no": modify_no,
                "i": row["id"],
                "t": kind,
                "src": trigger,
                "target": target,
                "reason": cmd.reason,
                "remark": cmd.remark,
                "code": row["invoice_code"],
                "num": row["invoice_number"],
                "op": ctx.principal.user_id,
                "opname": ctx.principal.name,
            },
        )
        if modify_id is None:
            raise AppError(
                ErrorCode.INVOICE_NOT_ELIGIBLE, "invoiceId: 该发票已有作废或红冲处理中，请等待结果"
            )
        reason_cols = (
            "invalid_reason = :reason, invalid_remark = :remark"
            if kind is InvoiceModifyType.INVALIDATE
            else "red_ink_reason = :reason, red_ink_remark = :remark"
        )
        uow.execute(
            f"UPDATE biz_invoice SET {reason_cols}, original_invoice_code = invoice_code,"
            " original_invoice_number = invoice_number, update_time = now() WHERE id = :i",
            {"reason": cmd.reason, "remark": cmd.remark, "i": row["id"]},
        )
        audit.record(
            uow,
            ctx,
            module="REV-005",
            operation=f"INVOICE_{kind}",
            object_type="biz_invoice",
            object_id=row["id"],
            before={"invoiceStatus": current},
            after={
                "modifyNo": modify_no,
                "triggerSource": trigger,
                "targetStatus": target,
                "reason": cmd.reason,
                "remark": cmd.remark,
                "originalInvoiceCode": row["invoice_code"],
                "originalInvoiceNumber": row["invoice_number"],
            },
        )
        uow.commit()
    return _send(ctx, modify_id)


def resend_modify(ctx: RequestContext, modify_id: int) -> dict[str, Any]:
    """Ask SYS-008 again for a request whose first answer never arrived (idempotent there by requestNo)."""
    return _send(ctx, modify_id)


def _send(ctx: RequestContext, modify_id: int) -> dict[str, Any]:
    from waterrev.adapters.sys008 import Sys008Error, Sys008Exception

    with UnitOfWork() as uow:
        m = uow.one(
            "SELECT x.*, i.sys_request_no, i.application_no, i.invoice_type FROM biz_process_invoice_modifys x"
            " JOIN biz_invoice i ON i.id = x.invoice_id WHERE x.id = :m",
            {"m": modify_id},
        )
    assert m is not None
    operation = {
        "requestNo": m["modify_no"],
        "originalRequestNo": m["application_no"],
        "reason": m["reason"],
        "remark": m["remark"],
        "invoiceCode": m["original_invoice_code"],
        "invoiceNo": m["original_invoice_number"],
    }
    platform = results.platform()
    name = m["sys_request_no"] or m["application_no"]
    msg = "已受理，最终结果以 IF-REV-009 查询或 IF-EXT-007 回写为准"
    try:
        if m["modify_type"] == InvoiceModifyType.INVALIDATE:
            answer = platform.invalidate(name, operation)
        else:
            answer = platform.red_ink(name, operation)
    except Sys008Error as exc:
        if not exc.refused:
            return _unanswered(m, exc)
        answer = {"operationStatus": "FAIL", "resultMsg": f"{exc.code}: {exc.message}"[:200]}
        msg = f"发票服务拒绝受理：{exc.message or exc.code}"
    except Sys008Exception as exc:
        return _unanswered(m, exc)
    status = answer.get("operationStatus") or "PENDING"
    result = {
        "requestNo": m["modify_no"],
        "operationType": m["modify_type"],
        "invoiceStatus": m["target_status"]
        if status == "SUCCESS"
        else "FAIL"
        if status == "FAIL"
        else "PENDING",
        "redFormNo": answer.get("redFormNo"),
        "redFormStatus": answer.get("redFormStatus"),
        "redInvoiceCode": answer.get("redInvoiceCode"),
        "redInvoiceNo": answer.get("redInvoiceNo"),
        "redFileUrl": answer.get("redFileUrl"),
        "resultMsg": answer.get("resultMsg"),
    }
    results.settle(ctx, m["trigger_source"], [result])
    return _reply(m["id"], msg)


def _unanswered(m: dict[str, Any], exc: Exception) -> dict[str, Any]:
    get_logger().warning(
        "SYS-008 did not take the request", extra={"modifyNo": m["modify_no"], "error": str(exc)}
    )
    with UnitOfWork() as uow:
        uow.execute(
            "UPDATE biz_process_invoice_modifys SET latest_error = :e, update_time = now() WHERE id = :m",
            {"e": str(exc)[:250], "m": m["id"]},
        )
        uow.commit()
    return _reply(m["id"], "发票服务暂未应答：请求已保存，将由补偿查询继续处理")


def _reply(modify_id: int, msg: str) -> dict[str, Any]:
    with UnitOfWork() as uow:
        r = uow.one(
            "SELECT x.*, i.invoice_status FROM biz_process_invoice_modifys x JOIN biz_invoice i ON i.id = x.invoice_id"
            " WHERE x.id = :m",
            {"m": modify_id},
        )
    assert r is not None
    return {
        "invoiceId": r["invoice_id"],
        "modifyNo": r["modify_no"],
        "modifyType": r["modify_type"],
        "triggerSource": r["trigger_source"],
        "modifyStatus": r["status"],
        "invoiceStatus": r["invoice_status"],
        "originalInvoiceCode": r["original_invoice_code"],
        "originalInvoiceNumber": r["original_invoice_number"],
        "redFormNo": r["red_form_no"],
        "redFormStatus": r["red_form_status"],
        "failReason": r["fail_reason"],
        "msg": msg,
    }
