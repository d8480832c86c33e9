"""IF-REV-009 发票结果查询: one invoice's result asked of SYS-008 (MANUAL, AUTO_COMPENSATE,
CALLBACK_VERIFY share one state rule, inv_apply_results.sql), and the compensation sweep that queries
every invoice without a result with backoff.

A query of an invoice whose state is final and that has no void / red-ink under way answers what is
stored (a person asking MANUAL or AUTO_COMPENSATE learns nothing new from the platform); CALLBACK_VERIFY
always asks SYS-008. /query/compensate also repairs: an application or a void / red-ink SYS-008 never
received is sent again, an issued invoice's missing file is copied, and the next query is planned.

The sweep works in batches: one statement claims up to `batch` due invoices (FOR UPDATE SKIP LOCKED, so
sweeps may run side by side), SYS-008 is asked by batch query (`Sys008Client.query_batch`, up to 200
requestNos a call, a few calls at once), and one statement settles the whole batch through the same
rule (one round trip). Files are copied afterwards, a bounded number per run.
"""

from __future__ import annotations

import concurrent.futures
from collections.abc import Sequence
from typing import Any

from waterrev.context import RequestContext
from waterrev.db import UnitOfWork, call_atomic
from waterrev.domain.lifecycle import sql_in
from waterrev.domain.states import LIVE_INVOICE, LIVE_MODIFY, InvoiceStatus, PushStatus
from waterrev.errors import AppError, ErrorCode
from waterrev.invoices import results
from waterrev.invoices.commands import QueryInvoice
from waterrev.logs import get_logger
from waterrev.visibility import customer_visible

SOURCES = ("MANUAL", "AUTO_COMPENSATE", "CALLBACK_VERIFY")
CLAIM_LEASE_S = 300  # a claimed invoice is not claimed again for this long, unless settled first


def find(
    uow: UnitOfWork, ctx: RequestContext, application_no: str | None, sys_request_no: str | None
) -> dict[str, Any]:
    """The invoice named by applicationNo or sysRequestNo, if the caller may see its customer; an
    invoice of a customer outside the caller's scope answers exactly as a missing one."""
    if application_no:
        row = uow.one(results.VIEW_SQL + " WHERE i.application_no = :a", {"a": application_no})
        asked = f"applicationNo={application_no}"
    elif sys_request_no:
        row = uow.one(results.VIEW_SQL + " WHERE i.sys_request_no = :s", {"s": sys_request_no})
        asked = f"sysRequestNo={sys_request_no}"
    else:
        raise AppError(ErrorCode.BAD_REQUEST, "applicationNo 与 sysRequestNo 须二选一")
    if row is None or not customer_visible(uow, ctx, row["cust_id"]):
        raise AppError(ErrorCode.NOT_FOUND, f"发票不存在：{asked}")
    return row


def _reload(invoice_id: int) -> dict[str, Any]:
    with UnitOfWork() as uow:
        row = uow.one(results.VIEW_SQL + " WHERE i.id = :i", {"i": invoice_id})
    assert row is not None
    return row


def query(ctx: RequestContext, cmd: QueryInvoice) -> dict[str, Any]:
    from waterrev.adapters.sys008 import Sys008Exception

    if cmd.query_source not in SOURCES:
        raise AppError(ErrorCode.BAD_REQUEST, f"querySource: 须为 {'、'.join(SOURCES)}")
    with UnitOfWork() as uow:
        row = find(uow, ctx, cmd.application_no, cmd.sys_request_no)
        live_modifies = uow.all(
            f"SELECT id, modify_no, status FROM biz_process_invoice_modifys WHERE invoice_id = :i"
            f" AND status IN ({sql_in(LIVE_MODIFY)})",
            {"i": row["id"]},
        )
    status = row["invoice_status"]
    missing_file = status == InvoiceStatus.SUCCESS and row["file_key"] is None and row["file_url"]
    asks = (
        cmd.query_source == "CALLBACK_VERIFY"
        or status in LIVE_INVOICE
        or bool(live_modifies)
        or (cmd.compensate and missing_file)
    )
    if not asks:
        return results.admin_view(row, "发票已是终态，返回已落账结果")
    msg = None
    try:
        view = results.platform().query(
            request_no=row["application_no"], sys_request_no=row["sys_request_no"]
        )
    except Sys008Exception as exc:
        results.settle(
            ctx,
            cmd.query_source,
            [{"invoiceId": row["id"], "requestNo": row["application_no"], "error": str(exc)}],
            query=True,
            backoff=cmd.compensate,
        )
        return results.admin_view(_reload(row["id"]), "发票服务查询失败，已记录，稍后补偿重试")
    if view is None:
        if cmd.compensate and status == InvoiceStatus.SUBMITTED:
            from waterrev.invoices.apply import resend

            resend(ctx, row["id"])  # SYS-008 never received it: send it again
            msg = "发票服务未收到申请，已重新提交"
        error = msg or "发票服务无此申请（未收到或尚未受理）"
        results.settle(
            ctx,
            cmd.query_source,
            [{"invoiceId": row["id"], "requestNo": row["application_no"], "error": error}],
            query=True,
            backoff=cmd.compensate,
        )
        return results.admin_view(_reload(row["id"]), msg or error)
    issue = results.issue_result(view, invoice_id=row["id"])
    if view.get("invoiceStatus") == InvoiceStatus.SUCCESS and row["file_key"] is None:
        issue["fileKey"] = results.copy_file(
            row["application_no"], view.get("invoiceNo"), view.get("fileUrl")
        )
    ops = results.operation_results(view, [m["modify_no"] for m in live_modifies])
    if cmd.compensate:
        from waterrev.invoices.modify import resend_modify

        known = {op["requestNo"] for op in ops}
        for m in live_modifies:
            if m["status"] == "SUBMITTED" and m["modify_no"] not in known:
                resend_modify(ctx, m["id"])  # SYS-008 never received the void / red-ink: ask again
    outcome = results.settle(ctx, cmd.query_source, [issue, *ops], query=True, backoff=cmd.compensate)
    conflicts = [o for o in outcome if o["outcome"] == "CONFLICT"]
    if conflicts:
        msg = "查询结果与当前终态冲突，未覆盖，已转入异常核查"
    return results.admin_view(_reload(row["id"]), msg or "查询完成，已按结果落账")


# ---- the compensation sweep (job_invoice_compensate, and the benchmark) --------------------------
def compensate_due(
    ctx: RequestContext, *, limit: int = 2000, batch: int = 500, concurrency: int = 4, files: int = 50
) -> dict[str, int]:
    """Query SYS-008 for up to `limit` due invoices without a result, then the due voids / red-inks,
    then copy missing files (at most `files`) and note undelivered pushes."""
    counts = {"claimed": 0, "applied": 0, "unchanged": 0, "conflict": 0, "failed": 0, "resent": 0}
    client = results.platform()
    with concurrent.futures.ThreadPoolExecutor(max_workers=concurrency) as pool:
        while counts["claimed"] < limit:
            claimed = _claim(min(batch, limit - counts["claimed"]))
            if not claimed:
                break
            counts["claimed"] += len(claimed)
            _sweep_batch(ctx, client, pool, claimed, counts)
    counts["modifies"] = _sweep_modifies(ctx, client, limit=max(1, limit // 10))
    counts["files"] = copy_missing_files(limit=files)
    counts["pushFailed"] = note_failed_pushes()
    return counts


def _claim(n: int) -> list[dict[str, Any]]:
    with UnitOfWork() as uow:
        rows = uow.all(
            "UPDATE biz_invoice SET next_plan_time = now() + make_interval(secs => :lease) WHERE id IN ("
            f" SELECT id FROM biz_invoice WHERE invoice_status IN ({sql_in(LIVE_INVOICE)}) AND next_plan_time <= now()"
            " ORDER BY next_plan_time, id LIMIT :n FOR UPDATE SKIP LOCKED)"
            " RETURNING id, application_no, sys_request_no, invoice_status",
            {"lease": CLAIM_LEASE_S, "n": n},
        )
        uow.commit()
    return rows


def _sweep_batch(
    ctx: RequestContext,
    client: Any,
    pool: concurrent.futures.ThreadPoolExecutor,
    claimed: list[dict[str, Any]],
    counts: dict[str, int],
) -> None:
    from waterrev.adapters.sys008 import BATCH_QUERY_MAX, Sys008Exception

    chunks = [claimed[i : i + BATCH_QUERY_MAX] for i in range(0, len(claimed), BATCH_QUERY_MAX)]
    futures = {
        pool.submit(client.query_batch, [r["application_no"] for r in chunk]): chunk for chunk in chunks
    }
    found: list[dict[str, Any]] = []
    for future in concurrent.futures.as_completed(futures):
        chunk = futures[future]
        try:
            views = future.result()
        except Sys008Exception as exc:
            counts["failed"] += len(chunk)
            found += [
                {"invoiceId": r["id"], "requestNo": r["application_no"], "error": str(exc)[:250]}
                for r in chunk
            ]
            continue
        for r in chunk:
            view = views.get(r["application_no"])
            if view is None:
                found.append(
                    {"invoiceId": r["id"], "requestNo": r["application_no"], "error": "发票服务无此申请"}
                )
                if r["invoice_status"] == InvoiceStatus.SUBMITTED:
                    from waterrev.invoices.apply import resend

                    resend(ctx, r["id"])
                    counts["resent"] += 1
            else:
                found.append(results.issue_result(view, invoice_id=r["id"]))
    for outcome in results.settle(ctx, "AUTO_COMPENSATE", found, query=True, backoff=True):
        key = outcome["outcome"].lower()
        if key in counts:
            counts[key] += 1


def _sweep_modifies(ctx: RequestContext, client: Any, *, limit: int) -> int:
    """Voids and red-inks under way: their invoice's view, their operation's result (or a resend)."""
    from waterrev.adapters.sys008 import Sys008Exception

    with UnitOfWork() as uow:
        due = uow.all(
            "UPDATE biz_process_invoice_modifys x SET next_plan_time = now() + make_interval(secs => :lease)"
            " FROM biz_invoice i WHERE i.id = x.invoice_id AND x.id IN (SELECT id FROM biz_process_invoice_modifys"
            f" WHERE status IN ({sql_in(LIVE_MODIFY)}) AND next_plan_time <= now() ORDER BY next_plan_time, id"
            " LIMIT :n FOR UPDATE SKIP LOCKED) RETURNING x.id, x.modify_no, x.status, i.application_no, i.id AS invoice_id",
            {"lease": CLAIM_LEASE_S, "n": limit},
        )
        uow.commit()
    if not due:
        return 0
    try:
        views = client.query_batch(sorted({d["application_no"] for d in due}))
    except Sys008Exception as exc:
        get_logger().warning("invoice modify sweep: query failed", extra={"error": str(exc)})
        return 0
    found: list[dict[str, Any]] = []
    for d in due:
        ops = results.operation_results(views.get(d["application_no"]) or {}, [d["modify_no"]])
        if ops:
            found += ops
        elif d["status"] == "SUBMITTED":
            from waterrev.invoices.modify import resend_modify

            resend_modify(ctx, d["id"])
    results.settle(ctx, "AUTO_COMPENSATE", found, query=True, backoff=True)
    return len(due)


def copy_missing_files(*, limit: int = 50) -> int:
    """Copy the files of issued invoices that have none in S3 yet (their first copy failed)."""
    with UnitOfWork() as uow:
        rows = uow.all(
            "SELECT id, application_no, invoice_number, file_url FROM biz_invoice WHERE invoice_status = 'SUCCESS'"
            " AND file_key IS NULL AND file_url IS NOT NULL ORDER BY id LIMIT :n",
            {"n": limit},
        )
    copied = 0
    for r in rows:
        key = results.copy_file(r["application_no"], r["invoice_number"], r["file_url"])
        if key is None:
            continue
        with UnitOfWork() as uow:
            uow.execute(
                "UPDATE biz_invoice SET file_key = :k WHERE id = :i AND file_key IS NULL",
                {"k": key, "i": r["id"]},
            )
            uow.commit()
        copied += 1
    return copied


def note_failed_pushes() -> int:
    """pushStatus FAIL (with the reason) for pushes the message pipeline reports undelivered."""
    return int(
        call_atomic(
            "WITH failed AS (UPDATE biz_invoice i SET push_status = $1, push_fail_reason = 'message '"
            " || m.id || ' ' || m.status, update_time = now() FROM biz_message m WHERE m.id = i.push_message_id"
            " AND i.push_status = $2 AND m.status = 'FAIL' RETURNING 1) SELECT count(*) FROM failed",
            PushStatus.FAIL.value,
            PushStatus.PUSHED.value,
        )
        or 0
    )


def due_count(statuses: Sequence[str] = tuple(LIVE_INVOICE)) -> int:
    with UnitOfWork() as uow:
        return int(
            uow.scalar(
                "SELECT count(*) FROM biz_invoice WHERE invoice_status = ANY(CAST(:s AS varchar[]))",
                {"s": list(statuses)},
            )
        )


def backlog() -> dict[str, int]:
    """Invoices waiting for SYS-008's result: all of them (pending), and those submitted over an hour ago
    (stuck: the compensation's queries keep failing or SYS-008 never decides)."""
    with UnitOfWork() as uow:
        row = uow.one(
            "SELECT count(*) AS pending, count(*) FILTER (WHERE create_time < now() - interval '1 hour') AS stuck"
            f" FROM biz_invoice WHERE invoice_status IN ({sql_in(LIVE_INVOICE)})"
        )
    assert row is not None
    return {"pending": int(row["pending"]), "stuck": int(row["stuck"])}
