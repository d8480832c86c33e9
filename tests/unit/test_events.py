"""Every sample event fits its function: API events route to a catalog route served by the function
whose folder holds them; task events are the payloads the workflow definitions send."""

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from waterrev import catalog

ROOT = Path(__file__).resolve().parents[2]
EVENTS = sorted((ROOT / "events").glob("*/*.json"))
TASKS = {t.function for t in catalog.TASK_FUNCTIONS}
# The DefinitionSubstitutions placeholder each workflow task function's ARN fills in.
TASK_PLACEHOLDER = {"wf_bill_run": "${BillRunFunctionArn}", "wf_withholding": "${WithholdingFunctionArn}"}
QUEUE_CONSUMERS = {"msg_consumer"}  # invoked by an SQS event source mapping with a batch of records
SCHEDULED = TASKS - set(TASK_PLACEHOLDER) - QUEUE_CONSUMERS  # invoked by an EventBridge schedule
API_EVENTS = [p for p in EVENTS if p.parent.name not in TASKS]
TASK_EVENTS = [p for p in EVENTS if p.parent.name in TASK_PLACEHOLDER]
SCHEDULE_EVENTS = [p for p in EVENTS if p.parent.name in SCHEDULED]
QUEUE_EVENTS = [p for p in EVENTS if p.parent.name in QUEUE_CONSUMERS]
WORKFLOWS = sorted((ROOT / "layers" / "core" / "python" / "waterrev" / "workflows").glob("*.asl.json"))


def _task_states(states: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for state in states.values():
        if state["Type"] == "Task":
            yield state
        for branch in (state.get("ItemProcessor"), state.get("Iterator"), *state.get("Branches", [])):
            if branch:
                yield from _task_states(branch["States"])


def payloads_sent_to(function: str) -> dict[str, set[str]]:
    """step -> the payload keys the workflows send to `function` (JSONPath `.$` suffixes dropped)."""
    sent: dict[str, set[str]] = {}
    for path in WORKFLOWS:
        for state in _task_states(json.loads(path.read_text(encoding="utf-8"))["States"]):
            parameters = state.get("Parameters", {})
            if parameters.get("FunctionName") == TASK_PLACEHOLDER[function]:
                payload = parameters["Payload"]
                sent[payload["step"]] = {k.removesuffix(".$") for k in payload}
    return sent


def test_every_built_function_and_task_function_has_sample_events() -> None:
    folders = {p.parent.name for p in EVENTS}
    assert folders == {i.function for i in catalog.built()} | TASKS


@pytest.mark.parametrize("path", API_EVENTS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_event_matches_its_function(path: Path) -> None:
    event = json.loads(path.read_text(encoding="utf-8"))
    found = catalog.route_for(event["routeKey"])
    assert found is not None, event["routeKey"]
    interface, _ = found
    assert interface.function == path.parent.name
    assert event["version"] == "2.0" and event["requestContext"]["routeKey"] == event["routeKey"]


@pytest.mark.parametrize("path", TASK_EVENTS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_task_event_is_the_payload_a_workflow_sends(path: Path) -> None:
    event = json.loads(path.read_text(encoding="utf-8"))
    sent = payloads_sent_to(path.parent.name)

    assert path.stem == event["step"]
    assert set(event) == sent[event["step"]]


@pytest.mark.parametrize("path", SCHEDULE_EVENTS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_scheduled_event_is_an_eventbridge_scheduled_event(path: Path) -> None:
    event = json.loads(path.read_text(encoding="utf-8"))

    assert event["detail-type"] == "Scheduled Event" and "time" in event


@pytest.mark.parametrize("function", sorted(TASK_PLACEHOLDER))
def test_every_step_a_workflow_sends_has_a_sample_event(function: str) -> None:
    samples = {p.stem for p in TASK_EVENTS if p.parent.name == function}

    assert payloads_sent_to(function)
    assert samples == set(payloads_sent_to(function))


@pytest.mark.parametrize("path", QUEUE_EVENTS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_queue_event_is_an_sqs_event_of_the_relays_bodies(path: Path) -> None:
    """A consumer's sample is what the event source mapping hands it: SQS records whose body is what the
    relay sends (a message id and its relay count)."""
    from waterrev.notifications.relay import parse

    event = json.loads(path.read_text(encoding="utf-8"))

    assert event["Records"] and all(r["eventSource"] == "aws:sqs" for r in event["Records"])
    assert all(
        parse(r["body"]) is not None and r["attributes"]["ApproximateReceiveCount"] for r in event["Records"]
    )
