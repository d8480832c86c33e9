"""IF-EXT-007 发票结果回写: SYS-008's signed result of an application, a void or a red-ink.

The signature is checked on the raw body (waterrev.webhook, platform "SYS008": HMAC-SHA256 over
`timestamp\\nnonce\\nbody\\n`, a 5-minute window, each nonce once). Every verified writeback is kept in
biz_invoice_callback under the seed's key requestNo + invoiceStatus: a repeat only counts on its row
and answers what the first one did. A new one is settled by the one state rule (inv_apply_results.sql)
in the same transaction as its receipt: an issued invoice's number, file and time are stored and its
bills marked invoiced together; a result that conflicts with a terminal state (a FAIL after SUCCESS)
changes nothing and becomes an exception a person lists and resolves (1_002_005_002 to the platform).
The file is copied to S3 before the transaction (an outbound call); a copy that fails is retried by
the compensation job.
"""

from __future__ import annotations

import json
from typing import Any

from waterrev import webhook
from waterrev.context import RequestContext
from waterrev.db import UnitOfWork
from waterrev.domain.states import InvoiceStatus
from waterrev.errors import AppError, ErrorCode
from waterrev.invoices import results

PLATFORM = "SYS008"
STATUSES = frozenset(InvoiceStatus) - {InvoiceStatus.SUBMITTED}
OPERATIONS = frozenset({"ISSUE", "INVALIDATE", "RED_INK"})
_TEXT = {
    "requestNo": 64,
    "sysRequestNo": 64,
    "invoiceCode": 32,
    "invoiceNo": 32,
    "fileUrl": 512,
    "issueTime": 40,
    "resultMsg": 500,
    "redFormNo": 40,
    "redFormStatus": 2,
    "redInvoiceCode": 32,
    "redInvoiceNo": 32,
    "redFileUrl": 512,
    "operationType": 16,
    "invoiceStatus": 16,
    "originalRequestNo": 64,
}


def parse(raw: str) -> dict[str, Any]:
    """The writeback's fields, each checked (a 400 naming the field otherwise)."""
    try:
        body = json.loads(raw)
        webhook.check_storable(body)
    except ValueError as exc:
        raise AppError(ErrorCode.BAD_REQUEST, f"body: 不是合法的 JSON（{exc}）") from None
    if not isinstance(body, dict):
        raise AppError(ErrorCode.BAD_REQUEST, "body: 须为 JSON 对象")
    out: dict[str, Any] = {}
    for name, limit in _TEXT.items():
        value = body.get(name)
        if value is None:
            continue
        if not isinstance(value, str) or len(value) > limit or "\x00" in value:
            raise AppError(ErrorCode.BAD_REQUEST, f"{name}: 须为不超过 {limit} 个字符的字符串")
        out[name] = value
    if not out.get("requestNo"):
        raise AppError(ErrorCode.BAD_REQUEST, "requestNo: 必填")
    if out.get("invoiceStatus") not in STATUSES:
        raise AppError(
            ErrorCode.INVOICE_WRITEBACK_INVALID, f"invoiceStatus: 非法的发票状态 {out.get('invoiceStatus')!r}"
        )
    out.setdefault("operationType", "ISSUE")
    if out["operationType"] not in OPERATIONS:
        raise AppError(ErrorCode.BAD_REQUEST, "operationType: 须为 ISSUE、INVALIDATE、RED_INK")
    if "issueTime" in out:
        import datetime as dt

        try:
            dt.datetime.fromisoformat(out["issueTime"])
        except ValueError:
            raise AppError(ErrorCode.BAD_REQUEST, "issueTime: 须为 ISO 8601 时间") from None
    return out


def handle(ctx: RequestContext, headers: dict[str, str], raw: bytes) -> dict[str, Any]:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise AppError(ErrorCode.BAD_REQUEST, "body: 不是 UTF-8 文本") from None
    webhook.verify(PLATFORM, headers, text)
    body = parse(text)
    request_no, status = body["requestNo"], body["invoiceStatus"]
    if body["operationType"] == "ISSUE" and status == InvoiceStatus.SUCCESS:
        with UnitOfWork() as uow:
            row = uow.one(
                "SELECT application_no, file_key FROM biz_invoice WHERE application_no = :r",
                {"r": request_no},
            )
        if row is not None and row["file_key"] is None:
            body["fileKey"] = results.copy_file(request_no, body.get("invoiceNo"), body.get("fileUrl"))
    with UnitOfWork() as uow:
        receipt = uow.one(
            "INSERT INTO biz_invoice_callback (request_no, invoice_status, outcome, body)"
            " VALUES (:r, :s, 'RECEIVED', CAST(:b AS jsonb)) ON CONFLICT ON CONSTRAINT biz_invoice_callback_key"
            " DO UPDATE SET receive_count = biz_invoice_callback.receive_count + 1, last_time = now()"
            " RETURNING id, outcome, invoice_id, (xmax = 0) AS fresh",
            {"r": request_no, "s": status, "b": json.dumps(body, ensure_ascii=False)},
        )
        assert receipt is not None
        if receipt["fresh"]:
            outcome = results.settle(ctx, "CALLBACK", [body], uow=uow)[0]
            verdict = outcome["outcome"]
            uow.execute(
                "UPDATE biz_invoice_callback SET outcome = :o, invoice_id = :i WHERE id = :id",
                {"o": verdict, "i": outcome["invoiceId"], "id": receipt["id"]},
            )
            current = outcome["invoiceStatus"]
        else:
            verdict = "DUPLICATE" if receipt["outcome"] not in ("CONFLICT", "UNKNOWN") else receipt["outcome"]
            current = (
                uow.scalar(
                    "SELECT invoice_status FROM biz_invoice WHERE id = :i", {"i": receipt["invoice_id"]}
                )
                if receipt["invoice_id"]
                else None
            )
        uow.commit()
    if verdict == "UNKNOWN":
        raise AppError(ErrorCode.INVOICE_WRITEBACK_INVALID, f"requestNo: 无此申请或后处理请求 {request_no}")
    if verdict == "CONFLICT":
        raise AppError(
            ErrorCode.INVOICE_WRITEBACK_INVALID,
            f"发票当前状态为 {current}，不接受 {status}：已转入异常核查",
            data={"currentStatus": current, "reportedStatus": status},
        )
    return {
        "requestNo": request_no,
        "invoiceStatus": status,
        "writeBackStatus": "DUPLICATE"
        if verdict == "DUPLICATE"
        else "APPLIED"
        if verdict == "APPLIED"
        else "UNCHANGED",
        "currentStatus": current,
        "msg": "重复回写：仅更新回执" if verdict == "DUPLICATE" else "回写已处理",
    }
