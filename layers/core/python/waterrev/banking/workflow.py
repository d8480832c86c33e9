"""The batch workflow (workflows/withholding.asl.json) from the outside: start a batch's execution,
resume one waiting for its return.

An execution is named after its batch (`withholding-<batchNo>`): starting a batch twice starts it once.
Resuming uses the task token the waiting execution left on the batch; a token already used or expired
(a repeated receipt, a receipt while the execution is polling) is ignored: the execution finds the
batch's state by itself.
"""

from __future__ import annotations

import json
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
