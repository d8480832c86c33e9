"""Local Step Functions: moto's ASL interpreter runs the definitions CDK deploys.

One moto server per process (`ThreadedMotoServer` on a loopback port, started on first use and
kept), shared by the gateway's request threads and moto's execution threads, holds an IAM role, a
moto Lambda function per workflow task function and a state machine per workflow, created from the
same `waterrev/workflows/*.asl.json` with the substitutions CloudFormation applies. A server
rather than a process-wide `mock_aws`: every other boto3 call of the local stack (a real Secrets
Manager secret, say) still goes to AWS, and no credentials in the environment are replaced.

moto without Docker would echo a Lambda's payload: `LambdaSimpleBackend.invoke` is patched to run
our handler in-process (`functions.<task>.handler`, the module the cloud runs), marshal its result
as the Lambda runtime does, and report an exception as Lambda does (`x-amz-function-error` and
`{errorType, errorMessage}`), so Retry and Catch see the same error names as in AWS. Map
iterations run on concurrent threads, like separate Lambda execution environments.
"""

from __future__ import annotations

import io
import json
import logging
import os
import re
import threading
import time
import traceback
import zipfile
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

import waterrev.workflows
from waterrev import catalog
from waterrev.local.gateway import FakeLambdaContext, load_handler
from waterrev.logs import get_logger

MOTO_CONFIG: dict[str, dict[str, bool]] = {
    "stepfunctions": {"execute_state_machine": True},
    "lambda": {"use_docker": False},
}
REGION = "us-east-1"
PARTITION = "aws"
WORKFLOWS_DIR = Path(waterrev.workflows.__file__).resolve().parent
BILL_RUN_ASL = WORKFLOWS_DIR / "bill_run.asl.json"
BILL_RUN_TASK = "wf_bill_run"  # the function folder, and the moto function's name
BILL_RUN_STATE_MACHINE = "waterrev-local-bill-run"
WITHHOLDING_ASL = WORKFLOWS_DIR / "withholding.asl.json"
WITHHOLDING_TASK = "wf_withholding"
WITHHOLDING_STATE_MACHINE = "waterrev-local-withholding"

_PLACEHOLDER = re.compile(r"\$\{(\w+)\}")


def substitute(definition: str, substitutions: Mapping[str, str]) -> str:
    """What CloudFormation does with DefinitionSubstitutions: replace each `${Key}`. Only that
    form: JSONPath's `$.x` and `$$.Execution.Id` stay as they are."""

    def replace(match: re.Match[str]) -> str:
        key = match.group(1)
        if key not in substitutions:
            raise KeyError(f"no substitution for ${{{key}}}")
        return substitutions[key]

    return _PLACEHOLDER.sub(replace, definition)


# ---- Lambda: moto's invoke dispatched to our task handlers --------------------------------------
_TASKS: dict[str, str] = {}  # moto function name -> functions/<folder>


class _TaskContext(FakeLambdaContext):
    """The Lambda context our handlers read, with the task function's own timeout."""

    def __init__(self, function_name: str, timeout_s: int) -> None:
        super().__init__(function_name)
        self._deadline = time.monotonic() + timeout_s


def _runtime_json(value: Any) -> Any:
    """The Lambda Python runtime writes a Decimal as a JSON number and fails on anything else
    json cannot encode (dates included): Runtime.MarshalError."""
    if isinstance(value, Decimal):
        return float(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _error(response_headers: dict[str, Any], error_type: str, message: str, stack: list[str]) -> bytes:
    response_headers["x-amz-function-error"] = "Unhandled"
    body = {"errorMessage": message, "errorType": error_type, "stackTrace": stack}
    return json.dumps(body, ensure_ascii=False).encode()


def _task(folder: str) -> catalog.TaskFunction:
    (task,) = (t for t in catalog.TASK_FUNCTIONS if t.function == folder)
    return task


def run_task(folder: str, body: Any, response_headers: dict[str, Any]) -> bytes:
    """Invoke `functions/<folder>/handler.py` as Lambda would, and answer as Lambda's Invoke API."""
    event = json.loads(body or "{}")
    timeout_s = _task(folder).timeout_s
    try:
        result = load_handler(folder).handler(event, _TaskContext(folder, timeout_s))
    except Exception as exc:
        get_logger().exception("task %s failed", folder)
        return _error(response_headers, type(exc).__name__, str(exc), traceback.format_tb(exc.__traceback__))
    try:
        return json.dumps(result, default=_runtime_json, ensure_ascii=False).encode()
    except (TypeError, ValueError) as exc:
        return _error(response_headers, "Runtime.MarshalError", f"Unable to marshal response: {exc}", [])


def _function_name(name_or_arn: str) -> str:
    if ":function:" in name_or_arn:
        return name_or_arn.split(":function:", 1)[1].split(":", 1)[0]
    return name_or_arn


def _install_dispatch() -> None:
    from moto.awslambda_simple.models import LambdaSimpleBackend

    original = LambdaSimpleBackend.invoke
    if getattr(original, "waterrev_dispatch", False):
        return

    def invoke(
        self: Any, function_name: str, qualifier: str | None, body: Any, headers: Any, response_headers: Any
    ) -> str | bytes | None:
        folder = _TASKS.get(_function_name(function_name))
        if folder is None:  # not one of ours: moto's own behaviour
            return original(self, function_name, qualifier, body, headers, response_headers)
        payload = run_task(folder, body, response_headers)
        response_headers["Content-Length"] = str(len(payload))
        return payload

    invoke.waterrev_dispatch = True  # type: ignore[attr-defined]
    LambdaSimpleBackend.invoke = invoke  # type: ignore[method-assign]


def _placeholder_code() -> bytes:
    """moto wants a deployment package; the code that runs is our handler module, in-process."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("handler.py", "def handler(event, context):\n    raise NotImplementedError\n")
    return buffer.getvalue()


# ---- the runtime ------------------------------------------------------------------------------
class LocalStepFunctions:
    """The bill-run workflow on moto. `client` and `bill_run_arn` are what `waterrev.workflows.
    starter` uses in place of boto3's client and the deployed state machine's ARN."""

    def __init__(self) -> None:
        import boto3
        from moto.core.config import default_user_config
        from moto.server import ThreadedMotoServer

        config: dict[str, dict[str, Any]] = default_user_config  # type: ignore[assignment]
        for service, values in MOTO_CONFIG.items():  # what mock_aws(config=...) would set, process-wide
            config.setdefault(service, {}).update(values)
        _install_dispatch()
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no access log line per moto call
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self._server.start()
        host, port = self._server.get_host_and_port()
        os.environ["MOTO_PORT"] = str(port)  # where moto's interpreter sends its Lambda invokes
        self.endpoint_url = f"http://{host}:{port}"
        session = boto3.session.Session(
            aws_access_key_id="local", aws_secret_access_key="local", region_name=REGION
        )
        iam = session.client("iam", endpoint_url=self.endpoint_url)
        lambda_client = session.client("lambda", endpoint_url=self.endpoint_url)
        self.client: Any = session.client("stepfunctions", endpoint_url=self.endpoint_url)
        role_arn = iam.create_role(
            RoleName="waterrev-local-workflows",
            AssumeRolePolicyDocument=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": ["states.amazonaws.com", "lambda.amazonaws.com"]},
                            "Action": "sts:AssumeRole",
                        }
                    ],
                }
            ),
        )["Role"]["Arn"]
        arns = {}
        for task in (BILL_RUN_TASK, WITHHOLDING_TASK):
            arns[task] = lambda_client.create_function(
                FunctionName=task,
                Runtime="python3.12",
                Role=role_arn,
                Handler="handler.handler",
                Code={"ZipFile": _placeholder_code()},
                Timeout=_task(task).timeout_s,
            )["FunctionArn"]
            _TASKS[task] = task
        definition = substitute(
            BILL_RUN_ASL.read_text(encoding="utf-8"),
            {"BillRunFunctionArn": arns[BILL_RUN_TASK], "Partition": PARTITION},
        )
        self.bill_run_arn: str = self.client.create_state_machine(
            name=BILL_RUN_STATE_MACHINE, definition=definition, roleArn=role_arn, type="STANDARD"
        )["stateMachineArn"]
        definition = substitute(
            WITHHOLDING_ASL.read_text(encoding="utf-8"),
            {"WithholdingFunctionArn": arns[WITHHOLDING_TASK], "Partition": PARTITION},
        )
        self.withholding_arn: str = self.client.create_state_machine(
            name=WITHHOLDING_STATE_MACHINE, definition=definition, roleArn=role_arn, type="STANDARD"
        )["stateMachineArn"]

    def start(self, run_input: Mapping[str, Any], name: str) -> str:
        """Start a bill-run execution (always named: the name is what makes a start idempotent)."""
        started = self.client.start_execution(
            stateMachineArn=self.bill_run_arn, name=name, input=json.dumps(run_input, sort_keys=True)
        )
        return str(started["executionArn"])

    def describe(self, execution_arn: str) -> dict[str, Any]:
        return dict(self.client.describe_execution(executionArn=execution_arn))

    def wait(self, execution_arn: str, timeout: float = 120.0) -> tuple[str, Any]:
        """Block until the execution has ended: (status, output parsed from JSON, or the error)."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.describe(execution_arn)
            if found["status"] != "RUNNING":
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"{execution_arn} still RUNNING after {timeout} s")
            time.sleep(0.05)
        if "output" in found:
            return str(found["status"]), json.loads(found["output"])
        return str(found["status"]), {"error": found.get("error"), "cause": found.get("cause")}

    def history(self, execution_arn: str) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"executionArn": execution_arn, "maxResults": 1000}
        while True:
            page = self.client.get_execution_history(**kwargs)
            events += page["events"]
            if not page.get("nextToken"):
                return events
            kwargs["nextToken"] = page["nextToken"]


_runtime: LocalStepFunctions | None = None
_lock = threading.Lock()


def get_runtime() -> LocalStepFunctions:
    """The process's runtime, created on first use (loading moto and creating its resources takes a few seconds)."""
    global _runtime
    with _lock:
        if _runtime is None:
            started = time.monotonic()
            _runtime = LocalStepFunctions()
            get_logger().info(
                "local step functions ready",
                extra={
                    "stateMachineArn": _runtime.bill_run_arn,
                    "endpoint": _runtime.endpoint_url,
                    "seconds": round(time.monotonic() - started, 1),
                },
            )
        return _runtime


def plug_in() -> None:
    """Make the bill-run starter and the withholding workflow use this runtime when no state machine ARN is
    configured."""
    from waterrev.workflows import starter

    def provider() -> tuple[Any, str]:
        runtime = get_runtime()
        return runtime.client, runtime.bill_run_arn

    starter.use_local_state_machine(provider)

    from waterrev.banking import workflow

    def withholding() -> tuple[Any, str]:
        runtime = get_runtime()
        return runtime.client, runtime.withholding_arn

    workflow.use_local_state_machine(withholding)


def warm_up() -> threading.Thread:
    """Create the runtime on a background thread, so that start-up stays fast and the first bill
    run does not wait for moto to load."""
    thread = threading.Thread(target=get_runtime, name="local-stepfunctions", daemon=True)
    thread.start()
    return thread
