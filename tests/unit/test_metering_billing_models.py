"""The request models of IF-REV-003/004/005/012, IF-METER-004 and IF-EXT-009: each carries examples
(shown in /openapi.json) that it accepts, and every sample event of their functions is a body its route
accepts, so neither can drift from the contract unnoticed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from waterrev.billing.models import BillRunRequest, GenerateRequest, PriceDiffRequest
from waterrev.metering.models import (
    EstimateRequest,
    IotReadingBatch,
    IotReadingReceive,
    MeterBookSave,
    ReadingSubmit,
    ReviewRequest,
    TaskGenerate,
)
from waterrev.pricing.models import ConfigRequest

ROOT = Path(__file__).resolve().parents[2]

BODY_MODELS: dict[str, type[BaseModel]] = {
    "POST /admin-api/revenue/meter-book/save": MeterBookSave,
    "POST /admin-api/revenue/meter-read/generate": TaskGenerate,
    "POST /admin-api/revenue/reading-data/create": ReadingSubmit,
    "POST /admin-api/revenue/reading-data/estimate": EstimateRequest,
    "POST /admin-api/revenue/reading-data/review": ReviewRequest,
    "POST /admin-api/meter/iot/reading/receive": IotReadingReceive,
    "POST /admin-api/meter/iot/reading/receive-batch": IotReadingBatch,
    "POST /open-api/iot/reading/push": IotReadingBatch,
    "POST /admin-api/revenue/parameter/config": ConfigRequest,
    "POST /admin-api/revenue/charge/generate": GenerateRequest,
    "POST /admin-api/revenue/charge/bill-run": BillRunRequest,
    "POST /admin-api/revenue/charge/price-diff": PriceDiffRequest,
}
FUNCTIONS = (
    "rev_meter_read_task",
    "rev_reading_submit",
    "meter_iot_reading",
    "ext_iot_push",
    "rev_parameter_config",
    "rev_charge_generate",
)
EVENTS = sorted(
    p
    for f in FUNCTIONS
    for p in (ROOT / "events" / f).glob("*.json")
    if json.loads(p.read_text(encoding="utf-8")).get("body")  # GET events carry no body to check
)


def _examples(model: type[BaseModel]) -> list[Any]:
    return list(model.model_json_schema().get("examples", []))


@pytest.mark.parametrize(
    "model", sorted(set(BODY_MODELS.values()), key=lambda m: m.__name__), ids=lambda m: m.__name__
)
def test_every_request_model_has_examples_it_accepts(model: type[BaseModel]) -> None:
    """Given a request model of these interfaces, its schema carries at least one example (camelCase, as
    on the wire) and each example validates."""
    examples = _examples(model)

    assert examples, f"{model.__name__} has no example"
    for example in examples:
        model.model_validate_json(json.dumps(example))


def test_every_body_route_of_these_functions_has_its_model_here() -> None:
    """Given the catalog, every POST route of these functions is listed above (a new route gets checked)."""
    from waterrev import catalog

    routes = {
        r.route_key
        for i in catalog.built()
        if i.function in FUNCTIONS
        for r in i.routes
        if r.method == "POST"
    }

    assert routes == set(BODY_MODELS)


@pytest.mark.parametrize("path", EVENTS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_sample_event_body_is_accepted_by_its_route(path: Path) -> None:
    """Given a sample event of these functions with a body, its route's request model accepts the body."""
    event = json.loads(path.read_text(encoding="utf-8"))

    BODY_MODELS[event["routeKey"]].model_validate_json(event["body"])
