"""The batch workflow (workflows/withholding.asl.json) from the outside: start a batch's execution,
resume one waiting for its return.

An execution is named after its batch (`withholding-<batchNo>`): starting a batch twice starts it once.
Resuming uses the task token the waiting execution left on the batch; a token already used or expired
(a repeated receipt, a receipt while the execution is polling) is ignored: the execution finds the
batch's state by itself.

An execution that ended without deciding (a step that failed for good: FAILED, TIMED_OUT, ABORTED) leaves
its batch where it stopped; `restart_stalled` (job_pay_compensate) starts a new execution for it. Every
step is idempotent and answers a batch past it as it is, so a new execution resumes where the batch is.
One that ended by deciding (SUCCEEDED: cancelled, differences or a statement left for a person) is not
restarted.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from waterrev.settings import get_settings

_local: list[Callable[[], tuple[Any, str]]] = []


def use_local_state_machine(provider: Callable[[], tuple[Any, str]]) -> None:
    """The local stack and the tests plug moto's Step Functions in here (as workflows.starter does)."""
    _local[:] = [provider]


def _state_machine() -> tuple[Any, str]:
    settings = get_settings()
    if settings.withholding_state_machine_arn:
        return _client(), settings.withholding_state_machine_arn
    if settings.env not in ("local", "test") or not _local:
        raise RuntimeError("WATERREV_WITHHOLDING_STATE_MACHINE_ARN is not set")
    return _local[0]()


@lru_cache(maxsize=1)
def _client() -> Any:
    import boto3  # cold path: the functions that start or resume batches

    return boto3.client("stepfunctions")


def start(batch_no: str) -> str:
    """Start (once) the batch's execution; its ARN."""
    client, arn = _state_machine()
    name = f"withholding-{batch_no}"
    run_input = json.dumps({"batchNo": batch_no, "pollSeconds": get_settings().withholding_poll_s})
    try:
        return str(client.start_execution(stateMachineArn=arn, name=name, input=run_input)["executionArn"])
    except client.exceptions.ExecutionAlreadyExists:
        return arn.replace(":stateMachine:", ":execution:") + f":{name}"


def resume(token: str | None, batch_status: str) -> bool:
    """Tell the waiting execution the batch's status; False when no execution waited on that token."""
    if not token:
        return False
    client, _arn = _state_machine()
    try:
        client.send_task_success(taskToken=token, output=json.dumps({"batchStatus": batch_status}))
    except (
        client.exceptions.InvalidToken,
        client.exceptions.TaskTimedOut,
        client.exceptions.TaskDoesNotExist,
    ):
        return False
    return True


def _ended_undecided(client: Any, execution_arn: str | None) -> bool:
    """True when the batch's last execution ended without deciding (or there is none on record)."""
    if not execution_arn:
        return True
    try:
        found = client.describe_execution(executionArn=execution_arn)
    except client.exceptions.ExecutionDoesNotExist:
        return True
    return str(found["status"]) in ("FAILED", "TIMED_OUT", "ABORTED")


def restart_stalled(after_s: int, limit: int = 50) -> list[str]:
    """Start a new execution for each batch whose workflow ended without deciding and that has not moved
    for `after_s` seconds (banking.batch.stalled); the batches restarted."""
    from waterrev.banking import batch  # the batch use cases need the database, this module's others do not

    stalled = batch.stalled(after_s, limit)
    if not stalled:
        return []
    client, arn = _state_machine()
    restarted = []
    for batch_no, execution_arn in stalled:
        if not _ended_undecided(client, execution_arn):
            continue
        name = f"withholding-{batch_no}-r{int(time.time() * 1000)}"
        run_input = json.dumps({"batchNo": batch_no, "pollSeconds": get_settings().withholding_poll_s})
        started = client.start_execution(stateMachineArn=arn, name=name, input=run_input)["executionArn"]
        batch.record_execution(batch_no, str(started))
        restarted.append(batch_no)
    return restarted
