"""Starting a bill run: an execution of the bill-run state machine (deployed, or moto's locally).

Idempotency: the execution name and the run number both derive from the period and the minute
the request arrived (Beijing time), `billrun-2024-07-202408011030` / `BR202407-202408011030`.
A double click within that minute sends the same name and input: Step Functions answers with the
execution already running; if that one has already ended, it refuses the name and the caller is
told which run it was. Starts in different minutes are different runs, which is safe: billing
locks each reading and bills it once (a later run only bills what is left).

The run number is chosen here, not by Prepare, so the caller can read the run
(GET /admin-api/revenue/charge/bill-run/{runNo}) as soon as Prepare has recorded it.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from waterrev import audit
from waterrev.billing import bill_run
from waterrev.context import RequestContext
from waterrev.db import UnitOfWork
from waterrev.domain.states import BillRunStatus
from waterrev.errors import AppError, ErrorCode
from waterrev.settings import get_settings

BEIJING = dt.timezone(dt.timedelta(hours=8), "Asia/Shanghai")  # no daylight saving time


def start_bill_run(
    ctx: RequestContext,
    bill_period: str | None,
    due_date: dt.date | None,
    *,
    chunk_size: int = bill_run.DEFAULT_CHUNK,
    now: dt.datetime | None = None,
) -> dict[str, Any]:
    bill_run.require_every_dept(ctx)
    moment = (now or dt.datetime.now(BEIJING)).astimezone(BEIJING)
    period = bill_period or bill_run.previous_period(moment.date())
    if due_date is not None and due_date < dt.date.fromisoformat(period + "-01"):
        # Fail here, not in every chunk of the workflow.
        raise AppError(ErrorCode.BAD_REQUEST, "dueDate: 不得早于账期首日")
    due = due_date or bill_run.default_due_date(period)
    stamp = moment.strftime("%Y%m%d%H%M")
    run_no = f"BR{period.replace('-', '')}-{stamp}"
    run_input = {
        "billPeriod": period,
        "dueDate": due.isoformat(),
        "runNo": run_no,
        "chunkSize": chunk_size,
    }
    client, state_machine_arn = _state_machine()
    try:
        started = client.start_execution(
            stateMachineArn=state_machine_arn,
            name=f"billrun-{period}-{stamp}",
            input=json.dumps(run_input, sort_keys=True),
        )
    except client.exceptions.ExecutionAlreadyExists as exc:
        raise AppError(
            ErrorCode.CONFLICT,
            f"runNo: 开账批次 {run_no} 已在本分钟内发起，请查询其结果",
            data={"runNo": run_no},
        ) from exc
    execution_arn = str(started["executionArn"])
    with UnitOfWork() as uow:  # who asked: Prepare's own audit row is written by the workflow (SYSTEM)
        audit.record(
            uow,
            ctx,
            module=bill_run.MODULE,
            operation="BILL_RUN_REQUEST",
            object_type="biz_bill_run",
            object_id=run_no,
            after={**run_input, "executionArn": execution_arn},
        )
        uow.commit()
    return {
        "executionArn": execution_arn,
        "runNo": run_no,
        "billPeriod": period,
        "dueDate": due,
        "status": BillRunStatus.RUNNING,
    }


_local_state_machine: list[Callable[[], tuple[Any, str]]] = []


def use_local_state_machine(provider: Callable[[], tuple[Any, str]]) -> None:
    """The local stack and the tests plug in moto's Step Functions here (waterrev.local ships only with
    the local stack, never in the Lambda layer, so this module cannot import it)."""
    _local_state_machine[:] = [provider]


def _state_machine() -> tuple[Any, str]:
    """boto3's Step Functions client and the bill-run ARN; locally, the plugged-in local runtime."""
    settings = get_settings()
    if settings.bill_run_state_machine_arn:
        return _client(), settings.bill_run_state_machine_arn
    if settings.env not in ("local", "test") or not _local_state_machine:
        raise RuntimeError("WATERREV_BILL_RUN_STATE_MACHINE_ARN is not set")
    return _local_state_machine[0]()


@lru_cache(maxsize=1)
def _client() -> Any:
    import boto3  # cold path: only the function that starts runs needs it

    return boto3.client("stepfunctions")
