"""A whole period's bill run, as the Step Functions workflow drives it.

prepare -> Map(bill_chunk, bounded concurrency, retried) -> finish. Chunks are ranges of customer
ids, so the state payload stays small whatever the run's size. Every step is idempotent: a chunk
retried after a crash bills only readings still VALID; a re-run of the period (a new run) bills
only what is left. The summary is computed from the database, never from what the steps said.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from waterrev import audit, metrics
from waterrev.billing.commands import GenerateBills, check_period
from waterrev.context import RequestContext
from waterrev.db import UnitOfWork
from waterrev.domain.states import BILL_RUN, BillRunStatus, ReadingStatus
from waterrev.errors import AppError, ErrorCode
from waterrev.visibility import sees_every_dept

MODULE = "REV-002"
DEFAULT_CHUNK = 5000


def previous_period(today: dt.date) -> str:
    first = today.replace(day=1) - dt.timedelta(days=1)
    return f"{first.year}-{first.month:02d}"


def default_due_date(period: str, days: int = 15) -> dt.date:
    year, month = int(period[:4]), int(period[5:])
    next_month = dt.date(year + month // 12, month % 12 + 1, 1)
    return next_month + dt.timedelta(days=days - 1)


def prepare(
    ctx: RequestContext,
    bill_period: str | None,
    due_date: dt.date | None,
    run_no: str | None = None,
    chunk_size: int = DEFAULT_CHUNK,
    execution_arn: str | None = None,
) -> dict[str, Any]:
    from zoneinfo import ZoneInfo

    from waterrev.settings import get_settings

    # "Last month" where the utility is: the schedule fires at 02:00 on the 1st, Beijing time.
    period = bill_period or previous_period(
        dt.datetime.now(ZoneInfo(get_settings().display_time_zone)).date()
    )
    due = due_date or default_due_date(check_period(period))
    with UnitOfWork() as uow:
        uow.execute("SELECT pg_advisory_xact_lock(hashtext(:k))", {"k": "bill-run:" + period})
        # A retried Prepare (same execution) finds the run it already made.
        run = uow.one(
            "SELECT * FROM biz_bill_run WHERE (CAST(:n AS varchar) IS NOT NULL AND run_no = :n)"
            " OR (CAST(:x AS varchar) IS NOT NULL AND execution_arn = :x) ORDER BY id LIMIT 1",
            {"n": run_no, "x": execution_arn},
        )
        if run is None:
            count = uow.scalar("SELECT count(*) FROM biz_bill_run WHERE bill_period = :p", {"p": period})
            run_no = run_no or f"BR{period.replace('-', '')}-{count + 1:02d}"
            run = uow.one(
                "INSERT INTO biz_bill_run (run_no, bill_period, due_date, execution_arn) VALUES (:n, :p, :d, :x)"
                " RETURNING *",
                {"n": run_no, "p": period, "d": due, "x": execution_arn},
            )
            assert run is not None
            audit.record(
                uow,
                ctx,
                module=MODULE,
                operation="BILL_RUN_START",
                object_type="biz_bill_run",
                object_id=run["id"],
                after={"runNo": run_no, "billPeriod": period, "dueDate": due},
            )
        # Chunks are ranges of customers holding about `chunk_size` ready readings each: a household
        # is never split between chunks running at the same time (annual tiers count its bills).
        per_customer = uow.all(
            f"SELECT cust_id, count(*) AS n FROM biz_reading_data WHERE status = '{ReadingStatus.VALID}'"
            " AND bill_period = :p GROUP BY cust_id ORDER BY cust_id",
            {"p": period},
        )
        total = sum(int(r["n"]) for r in per_customer)
        uow.execute(
            "UPDATE biz_bill_run SET reading_count = :c WHERE id = :id", {"c": total, "id": run["id"]}
        )
        uow.commit()
    chunks: list[dict[str, Any]] = []
    after, size = 0, 0
    for index, row in enumerate(per_customer):
        size += int(row["n"])
        if size >= chunk_size or index == len(per_customer) - 1:
            chunks.append(
                {
                    "runId": run["id"],
                    "billPeriod": period,
                    "dueDate": run["due_date"].isoformat(),
                    "afterId": after,
                    "uptoId": int(row["cust_id"]),
                }
            )  # customer ids
            after, size = int(row["cust_id"]), 0
    return {
        "runId": run["id"],
        "runNo": run["run_no"],
        "billPeriod": period,
        "dueDate": run["due_date"].isoformat(),
        "readingCount": total,
        "chunks": chunks,
    }


def bill_chunk(ctx: RequestContext, chunk: dict[str, Any]) -> dict[str, Any]:
    from waterrev.billing import generate as billing  # only the chunks write bills (not a run's status)

    cmd = GenerateBills(bill_period=chunk["billPeriod"], due_date=dt.date.fromisoformat(chunk["dueDate"]))
    result = billing.generate(
        ctx,
        cmd,
        run_id=int(chunk["runId"]),
        keep_lists=False,
        cust_range=(int(chunk["afterId"]), int(chunk["uptoId"])),
    )
    return {
        "afterId": chunk["afterId"],
        "uptoId": chunk["uptoId"],
        "billed": result["generateCount"],
        "failed": result["failureCount"],
        "amount": str(result["totalAmount"]),
    }


def finish(ctx: RequestContext, run_id: int, results: list[dict[str, Any]]) -> dict[str, Any]:
    """Close the run: counts and amounts from the database; chunks that failed after their retries
    are listed, never dropped (their readings stay VALID for the next run)."""
    failed_chunks = [r for r in results if r.get("chunkFailed")]
    with UnitOfWork() as uow:
        run = uow.one("SELECT * FROM biz_bill_run WHERE id = :id FOR UPDATE", {"id": run_id})
        if run is None:
            raise AppError(ErrorCode.NOT_FOUND, f"bill run {run_id}")
        billed = uow.one(
            "SELECT count(*) AS n, coalesce(sum(total_amount), 0) AS amount FROM biz_charge"
            " WHERE bill_run_id = :id",
            {"id": run_id},
        )
        failures = uow.all(
            "SELECT DISTINCT ON (reading_id) reading_id, cust_id, error_code, reason"
            " FROM biz_bill_failure WHERE bill_run_id = :id ORDER BY reading_id, id DESC",
            {"id": run_id},
        )
        left = uow.scalar(
            f"SELECT count(*) FROM biz_reading_data WHERE status = '{ReadingStatus.VALID}' AND bill_period = :p",
            {"p": run["bill_period"]},
        )
        assert billed is not None
        status = (
            BillRunStatus.SUCCEEDED
            if not failures and not failed_chunks
            else (BillRunStatus.FAILED if billed["n"] == 0 else BillRunStatus.PARTIAL)
        )
        if status != run["status"]:  # a retried Finish writes the same summary again, nothing more
            BILL_RUN.require(run["status"], status, f"开账批次 {run['run_no']}")
            metrics.on_commit(uow, metrics.BILLS_GENERATED, billed["n"])
        summary = {
            "runNo": run["run_no"],
            "billPeriod": run["bill_period"],
            "readingCount": run["reading_count"],
            "successCount": billed["n"],
            "failureCount": len(failures),
            "totalAmount": Decimal(billed["amount"]),
            "unbilledLeft": left,
            "failedChunks": [
                {
                    "afterId": c.get("afterId"),
                    "uptoId": c.get("uptoId"),
                    "error": str(c.get("error") or "")[:500],
                }
                for c in failed_chunks
            ],
            "failures": [
                {
                    "readingId": f["reading_id"],
                    "custId": f["cust_id"],
                    "errorCode": f["error_code"],
                    "reason": f["reason"],
                }
                for f in failures[:200]
            ],
        }
        from waterrev.envelope import jsonable

        uow.execute(
            "UPDATE biz_bill_run SET status = :s, success_count = :ok, failure_count = :bad, total_amount = :amt,"
            " summary = CAST(:summary AS jsonb), end_time = now() WHERE id = :id",
            {
                "s": status,
                "ok": billed["n"],
                "bad": len(failures),
                "amt": billed["amount"],
                "summary": _json(jsonable(summary)),
                "id": run_id,
            },
        )
        audit.record(
            uow,
            ctx,
            module=MODULE,
            operation="BILL_RUN_FINISH",
            object_type="biz_bill_run",
            object_id=run_id,
            before={"status": run["status"]},
            after={"status": status, "successCount": billed["n"], "failureCount": len(failures)},
        )
        uow.commit()
    return {"runId": run_id, "status": status, **summary}


def _json(value: Any) -> str:
    import json

    return json.dumps(value, ensure_ascii=False)


def require_every_dept(ctx: RequestContext) -> None:
    """A run bills (and its summary lists) every dept's readings, as the workflow runs as SYSTEM: only a
    user whose data scope is every dept may start one or read one. A dept's clerk bills its own depts
    through IF-REV-005 generate, which keeps to the caller's scope."""
    if not sees_every_dept(ctx):
        raise AppError(
            ErrorCode.FORBIDDEN,
            "整期开账覆盖全部单位，须由数据范围为全部单位的用户发起或查询；按本单位开账请用 /admin-api/revenue/charge/generate",
        )


def get_run(ctx: RequestContext, run_no: str) -> dict[str, Any]:
    require_every_dept(ctx)
    with UnitOfWork() as uow:
        run = uow.one("SELECT * FROM biz_bill_run WHERE run_no = :n", {"n": run_no})
    if run is None:
        raise AppError(ErrorCode.NOT_FOUND, f"runNo: 开账批次 {run_no} 不存在")
    return {
        "runId": run["id"],
        "runNo": run["run_no"],
        "billPeriod": run["bill_period"],
        "dueDate": run["due_date"],
        "status": run["status"],
        "readingCount": run["reading_count"],
        "successCount": run["success_count"],
        "failureCount": run["failure_count"],
        "totalAmount": run["total_amount"],
        "summary": run["summary"],
        "startTime": run["start_time"],
        "endTime": run["end_time"],
    }
