"""IF-CS-004 电子发票消费: a bound customer's issued e-invoices - list, download, push.

Only SUCCESS electronic invoices that have a file are consumable (客户侧消费约束); the customer must be
one the channel user has bound, and an invoice found by invoiceId, applicationNo or sysRequestNo must
belong to that customer: a stranger's invoice answers exactly as a missing one. The file is handed out
as a presigned link to our copy in S3 that lives `invoice_link_ttl_s`, never the platform's address.
A push is a message queued for the message pipeline (waterrev.messages.enqueue, SYS-010) in the
transaction that sets pushStatus PUSHED; the pipeline's failure turns it FAIL (query.note_failed_pushes).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from waterrev import audit, crypto, messages
from waterrev.context import RequestContext
from waterrev.db import UnitOfWork
from waterrev.domain.states import InvoiceStatus, PushStatus
from waterrev.envelope import page
from waterrev.errors import AppError, ErrorCode
from waterrev.invoices.commands import CustomerInvoices, PushInvoice
from waterrev.masking import mask_mobile
from waterrev.settings import get_settings
from waterrev.visibility import require_customer_visible

TEMPLATES = {"EMAIL": "INVOICE_PUSH_EMAIL", "SMS": "INVOICE_PUSH_SMS"}

_SELECT = """
SELECT i.*, m.status AS message_status,
       (SELECT json_agg(json_build_object('itemName', t.item_name, 'taxRate', t.tax_rate, 'amount', t.amount,
               'taxAmount', t.tax_amount) ORDER BY t.line_no) FROM biz_invoice_taxrate t WHERE t.invoice_id = i.id)
        AS lines
  FROM biz_invoice i LEFT JOIN biz_message m ON m.id = i.push_message_id
 WHERE i.cust_id = :c AND i.invoice_type = 'ELECTRONIC'
"""
_CONSUMABLE = " AND i.invoice_status = 'SUCCESS' AND i.file_url IS NOT NULL"


def _named(uow: UnitOfWork, cmd: CustomerInvoices | PushInvoice) -> dict[str, Any]:
    """The invoice the customer named (any of the three keys; all given must agree), the customer's own."""
    where: list[str] = []
    params: dict[str, Any] = {"c": cmd.cust_id}
    if cmd.invoice_id is not None:
        where.append("i.id = :i")
        params["i"] = cmd.invoice_id
    if cmd.application_no:
        where.append("i.application_no = :a")
        params["a"] = cmd.application_no
    sys_request_no = getattr(cmd, "sys_request_no", None)
    if sys_request_no:
        where.append("i.sys_request_no = :s")
        params["s"] = sys_request_no
    if not where:
        raise AppError(ErrorCode.BAD_REQUEST, "invoiceId、applicationNo、sysRequestNo 须至少提供一个")
    row = uow.one(_SELECT + " AND " + " AND ".join(where), params)
    if row is None:
        raise AppError(ErrorCode.NOT_FOUND, "发票不存在")
    return row


def _require_consumable(row: dict[str, Any]) -> None:
    status = row["invoice_status"]
    if status in (InvoiceStatus.INVALID, InvoiceStatus.RED_INK):
        word = "作废" if status == InvoiceStatus.INVALID else "红冲"
        raise AppError(ErrorCode.INVOICE_NOT_ELIGIBLE, f"发票已{word}，不可下载或推送")
    if status != InvoiceStatus.SUCCESS:
        raise AppError(ErrorCode.INVOICE_NOT_ELIGIBLE, f"发票尚未开具成功（{status}），不可下载或推送")
    if not row["file_url"] or not row["file_key"]:
        raise AppError(ErrorCode.INVOICE_NOT_ELIGIBLE, "电子发票文件尚未就绪，请稍后再试")


def download_link(file_key: str, name: str, ttl_s: int | None = None) -> str:
    """A presigned link to our copy of an invoice file (IF-CS-002's invoice rows use it too)."""
    from waterrev.adapters import invoice_files

    return invoice_files.link(file_key, ttl_s=ttl_s, filename=f"{name}.pdf")


def _link(row: dict[str, Any], ttl_s: int | None = None) -> str | None:
    if not row["file_key"]:
        return None
    return download_link(row["file_key"], row["invoice_number"] or row["application_no"], ttl_s)


def _item(row: dict[str, Any], msg: str, *, file_url: str | None = None) -> dict[str, Any]:
    push = PushStatus.FAIL if row.get("message_status") == "FAIL" else row["push_status"]
    return {
        "invoiceId": row["id"],
        "applicationNo": row["application_no"],
        "invoiceStatus": row["invoice_status"],
        "invoiceCode": row["invoice_code"],
        "invoiceNumber": row["invoice_number"],
        "fileUrl": file_url,
        "pushStatus": push,
        "chargeBindStatus": row["charge_bind_status"],
        "msg": msg,
        "invoiceType": row["invoice_type"],
        "invoiceTitle": row["invoice_title"],
        "amount": row["amount"],
        "taxAmount": row["tax_amount"],
        "issueTime": row["issue_time"],
        "lines": [
            {
                "itemName": x["itemName"],
                "taxRate": _rate(x["taxRate"]),
                "amount": _amt(x["amount"]),
                "taxAmount": _amt(x["taxAmount"]),
            }
            for x in (row["lines"] or [])
        ],
    }


def _rate(value: Any) -> str:
    return f"{float(value):.4f}" if not isinstance(value, str) else value


def _amt(value: Any) -> str:
    from decimal import Decimal

    return f"{Decimal(str(value)):.2f}"


def query(ctx: RequestContext, cmd: CustomerInvoices) -> dict[str, Any]:
    with UnitOfWork() as uow:
        require_customer_visible(uow, ctx, cmd.cust_id)
        if cmd.invoice_id is not None or cmd.application_no or cmd.sys_request_no:
            row = _named(uow, cmd)
            _require_consumable(row)
            rows, total = [row], 1
        else:
            total = int(
                uow.scalar(
                    "SELECT count(*) FROM biz_invoice i WHERE i.cust_id = :c AND i.invoice_type = 'ELECTRONIC'"
                    + _CONSUMABLE,
                    {"c": cmd.cust_id},
                )
            )
            rows = uow.all(
                _SELECT
                + _CONSUMABLE
                + " ORDER BY i.issue_time DESC NULLS LAST, i.id DESC LIMIT :lim OFFSET :off",
                {"c": cmd.cust_id, "lim": cmd.page_size, "off": (cmd.page_no - 1) * cmd.page_size},
            )
    items = [_item(r, "可下载、可推送", file_url=_link(r)) for r in rows]
    return page(items, total, cmd.page_no, cmd.page_size)


def download(ctx: RequestContext, cmd: CustomerInvoices) -> dict[str, Any]:
    with UnitOfWork() as uow:
        require_customer_visible(uow, ctx, cmd.cust_id)
        row = _named(uow, cmd)
        _require_consumable(row)
        audit.record(
            uow,
            ctx,
            module="CS-004",
            operation="INVOICE_DOWNLOAD",
            object_type="biz_invoice",
            object_id=row["id"],
            after={"custId": cmd.cust_id},
        )
        uow.commit()
    ttl = get_settings().invoice_link_ttl_s
    expires = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=ttl)
    item = _item(row, f"下载地址 {ttl} 秒内有效", file_url=_link(row, ttl))
    return {**item, "linkExpireTime": expires}


def push(ctx: RequestContext, cmd: PushInvoice) -> dict[str, Any]:
    settings = get_settings()
    with UnitOfWork() as uow:
        require_customer_visible(uow, ctx, cmd.cust_id)
        row = _named(uow, cmd)
        _require_consumable(row)
        profile = (
            uow.one(
                "SELECT email, mobile, mobile_cipher, mobile_index FROM biz_cust_invoice WHERE cust_id = :c",
                {"c": cmd.cust_id},
            )
            or {}
        )
        sealed = None
        if cmd.push_channel == "EMAIL":
            receiver = cmd.push_email or row["email"] or profile.get("email")
            field = "pushEmail"
        else:
            # a stored mobile is sealed (waterrev.crypto): copied into the message as it is, never opened
            if cmd.push_mobile:
                sealed = crypto.keys(uow.conn).pii(crypto.MOBILE, cmd.push_mobile)
            elif row.get("mobile_cipher") is not None:
                sealed = crypto.stored(row, "mobile")
            elif profile.get("mobile_cipher") is not None:
                sealed = crypto.stored(profile, "mobile")
            receiver = sealed.masked if sealed else None
            field = "pushMobile"
        if not receiver:
            raise AppError(ErrorCode.BAD_REQUEST, f"{field}: 未提供推送地址，客户资料中也没有")
        ttl = settings.invoice_push_link_ttl_s
        moment = dt.datetime.now(dt.UTC)
        message_id = messages.enqueue(
            uow,
            biz_no=f"INVPUSH{row['id']}-{moment:%Y%m%d%H%M}",  # a double click within the minute: one message
            template_code=TEMPLATES[cmd.push_channel],
            receiver=receiver,
            sealed=sealed,
            channel=cmd.push_channel,
            source="INVOICE_PUSH",
            cust_id=cmd.cust_id,
            payload={
                "invoiceId": row["id"],
                "invoiceCode": row["invoice_code"],
                "invoiceNumber": row["invoice_number"],
                "invoiceTitle": row["invoice_title"],
                "amount": str(row["amount"]),
                "fileKey": row["file_key"],
                "downloadUrl": _link(row, ttl),
                "linkExpireTime": (moment + dt.timedelta(seconds=ttl)).isoformat(timespec="seconds"),
            },
        )
        if message_id is None:  # the same push within the minute: the message already queued
            message_id = uow.scalar(
                "SELECT id FROM biz_message WHERE message_biz_no = :b AND template_code = :t AND receiver_key = :r",
                {
                    "b": f"INVPUSH{row['id']}-{moment:%Y%m%d%H%M}",
                    "t": TEMPLATES[cmd.push_channel],
                    "r": sealed.index if sealed else receiver,
                },
            )
        uow.execute(
            "UPDATE biz_invoice SET push_status = :s, push_channel = :ch, push_message_id = :m, push_fail_reason = NULL,"
            " update_time = now() WHERE id = :i",
            {"s": PushStatus.PUSHED, "ch": cmd.push_channel, "m": message_id, "i": row["id"]},
        )
        audit.record(
            uow,
            ctx,
            module="CS-004",
            operation="INVOICE_PUSH",
            object_type="biz_invoice",
            object_id=row["id"],
            before={"pushStatus": row["push_status"]},
            after={"pushStatus": PushStatus.PUSHED, "pushChannel": cmd.push_channel, "messageId": message_id},
        )
        uow.commit()
    shown = mask_mobile(receiver) if cmd.push_channel == "SMS" else receiver
    item = _item({**row, "push_status": PushStatus.PUSHED, "message_status": None}, f"已提交推送至 {shown}")
    return item
