"""Settling what SYS-008 reports: the one state rule (inv_apply_results.sql) every source goes through
(the writeback, a person's query, the compensation sweep, the answer to an application), the view of
an invoice the back office gets, and our copy of an issued invoice's file."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from waterrev.audit import actor
from waterrev.context import RequestContext
from waterrev.db import UnitOfWork, call_atomic
from waterrev.logs import get_logger

ISSUE = "ISSUE"
RESULT_FIELDS = (
    "invoiceId",
    "requestNo",
    "sysRequestNo",
    "invoiceStatus",
    "invoiceCode",
    "invoiceNo",
    "fileUrl",
    "fileKey",
    "issueTime",
    "resultMsg",
    "operationType",
    "redFormNo",
    "redFormStatus",
    "redInvoiceCode",
    "redInvoiceNo",
    "redFileUrl",
    "error",
)


def settle(
    ctx: RequestContext,
    source: str,
    results: Sequence[dict[str, Any]],
    *,
    query: bool = False,
    backoff: bool = False,
    uow: UnitOfWork | None = None,
) -> list[dict[str, Any]]:
    """Apply results through the database's rule: one statement, its own transaction (one round trip),
    unless `uow` is given (then inside it, uncommitted). Returns one outcome per result."""
    clean = [{k: r[k] for k in RESULT_FIELDS if r.get(k) is not None} for r in results]
    if not clean:
        return []
    payload = json.dumps(clean, ensure_ascii=False, default=str)
    if uow is not None:
        out = uow.scalar(
            "SELECT inv_apply_results(p_actor => CAST(:a AS jsonb), p_source => :s,"
            " p_results => CAST(:r AS jsonb), p_query => :q, p_backoff => :b)",
            {"a": actor(ctx), "s": source, "r": payload, "q": query, "b": backoff},
        )
    else:
        out = call_atomic(
            "SELECT inv_apply_results(p_actor => CAST($1 AS jsonb), p_source => $2,"
            " p_results => CAST($3 AS jsonb), p_query => $4, p_backoff => $5)",
            actor(ctx),
            source,
            payload,
            query,
            backoff,
        )
    return list(out or [])


def issue_result(view: dict[str, Any], *, invoice_id: int | None = None) -> dict[str, Any]:
    """A result of operationType ISSUE from SYS-008's view of an invoice (query or writeback)."""
    return {
        "invoiceId": invoice_id,
        "requestNo": view.get("requestNo"),
        "sysRequestNo": view.get("sysRequestNo"),
        "invoiceStatus": view.get("invoiceStatus"),
        "invoiceCode": view.get("invoiceCode"),
        "invoiceNo": view.get("invoiceNo"),
        "fileUrl": view.get("fileUrl"),
        "fileKey": view.get("fileKey"),
        "issueTime": view.get("issueTime"),
        "resultMsg": view.get("resultMsg"),
        "operationType": ISSUE,
    }


def operation_results(view: dict[str, Any], modify_nos: Sequence[str]) -> list[dict[str, Any]]:
    """Results of our void / red-ink requests found among the view's operations."""
    wanted = set(modify_nos)
    out = []
    for op in view.get("operations") or []:
        if op.get("requestNo") not in wanted:
            continue
        status = op.get("operationStatus")
        out.append(
            {
                "requestNo": op["requestNo"],
                "sysRequestNo": view.get("sysRequestNo"),
                "operationType": op.get("operationType"),
                "invoiceStatus": (
                    op.get("targetStatus")
                    if status == "SUCCESS"
                    else "FAIL"
                    if status == "FAIL"
                    else "PENDING"
                ),
                "redFormNo": op.get("redFormNo"),
                "redFormStatus": op.get("redFormStatus"),
                "redInvoiceCode": op.get("redInvoiceCode"),
                "redInvoiceNo": op.get("redInvoiceNo"),
                "redFileUrl": op.get("redFileUrl"),
                "resultMsg": op.get("resultMsg"),
            }
        )
    return out


def copy_file(application_no: str, invoice_number: str | None, file_url: str | None) -> str | None:
    """Fetch an issued invoice's file from SYS-008 and keep it in S3: its key, or None when that
    failed (the compensation job tries again; the invoice's state does not wait for its file)."""
    if not file_url:
        return None
    from waterrev.adapters import invoice_files
    from waterrev.adapters.sys008 import Sys008Exception

    try:
        content = platform().fetch_file(file_url)
        return invoice_files.store(invoice_files.key_for(application_no, invoice_number), content)
    except (Sys008Exception, OSError) as exc:
        get_logger().warning(
            "invoice file not copied", extra={"applicationNo": application_no, "error": str(exc)}
        )
        return None
    except Exception as exc:  # botocore's errors: the copy is retried later, the result still counts
        if type(exc).__module__.startswith(("botocore", "boto3")):
            get_logger().warning(
                "invoice file not stored", extra={"applicationNo": application_no, "error": str(exc)}
            )
            return None
        raise


def platform() -> Any:
    """The SYS-008 client (replaced in tests that need an impatient one)."""
    from waterrev.adapters.sys008 import client_from_settings

    return client_from_settings()


# ---- what the back office sees of an invoice (IF-REV-009's reply) --------------------------------
VIEW_SQL = """
SELECT i.*, (SELECT jsonb_build_object('modifyNo', x.modify_no, 'modifyType', x.modify_type,
        'triggerSource', x.trigger_source, 'status', x.status, 'reason', x.reason, 'redFormNo', x.red_form_no,
        'redFormStatus', x.red_form_status, 'redInvoiceNumber', x.red_invoice_number,
        'failReason', x.fail_reason)
        FROM biz_process_invoice_modifys x WHERE x.invoice_id = i.id ORDER BY x.id DESC LIMIT 1) AS modify,
       ARRAY(SELECT ic.charge_id FROM biz_invoice_charge ic WHERE ic.invoice_id = i.id ORDER BY ic.charge_id)
        AS charge_ids,
       m.status AS message_status
  FROM biz_invoice i LEFT JOIN biz_message m ON m.id = i.push_message_id
"""


def push_status(row: dict[str, Any]) -> str:
    """pushStatus as it stands: FAIL once the message pipeline reports the push undelivered."""
    if row.get("message_status") == "FAIL":
        return "FAIL"
    return str(row["push_status"])


def admin_view(row: dict[str, Any], msg: str | None = None) -> dict[str, Any]:
    return {
        "invoiceId": row["id"],
        "applicationNo": row["application_no"],
        "sysRequestNo": row["sys_request_no"],
        "invoiceStatus": row["invoice_status"],
        "invoiceCode": row["invoice_code"],
        "invoiceNumber": row["invoice_number"],
        "fileUrl": row["file_url"],
        "failReason": row["fail_reason"],
        "pushStatus": push_status(row),
        "lastQueryTime": row["last_try_time"],
        "tryCount": row["try_count"],
        "latestResult": row["latest_result"],
        "latestError": row["latest_error"],
        "msg": msg,
        "custId": row["cust_id"],
        "invoiceType": row["invoice_type"],
        "amount": row["amount"],
        "taxAmount": row["tax_amount"],
        "chargeIds": list(row["charge_ids"] or []),
        "chargeBindStatus": row["charge_bind_status"],
        "fileStored": row["file_key"] is not None,
        "nextPlanTime": row["next_plan_time"],
        "issueTime": row["issue_time"],
        "modify": row["modify"],
    }
