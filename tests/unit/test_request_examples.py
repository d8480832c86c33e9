"""Every request model of every capability shows an example in /openapi.json, and the example is a
request the model accepts (camelCase, as on the wire)."""

from __future__ import annotations

import importlib
import pkgutil

import pytest
from pydantic import BaseModel

import waterrev
from waterrev.fields import Model


def _model_modules() -> list[object]:
    """Every edge-model module: `waterrev.<capability>.models` and its submodules."""
    found = []
    for info in pkgutil.walk_packages(waterrev.__path__, "waterrev."):
        parts = info.name.split(".")
        if len(parts) >= 3 and parts[2] == "models" and parts[1] != "local":
            found.append(importlib.import_module(info.name))
    return found


def _request_models() -> list[type[BaseModel]]:
    found = []
    for module in _model_modules():
        for value in vars(module).values():
            if (
                isinstance(value, type)
                and issubclass(value, Model)
                and value.__module__ == module.__name__  # type: ignore[attr-defined]
                and not value.__name__.startswith("_")
            ):
                found.append(value)
    return found


def test_every_capability_is_walked() -> None:
    """The walk finds the edge models of every capability (a renamed module cannot hide its models)."""
    names = {m.__module__.split(".")[1] for m in _request_models()}

    assert {"platform", "customers", "metering", "pricing", "billing", "payments"} <= names


@pytest.mark.parametrize("model", _request_models(), ids=lambda m: m.__name__)
def test_request_model_has_examples_it_accepts(model: type[BaseModel]) -> None:
    """Given a request model, its JSON schema carries examples, and each validates against the model."""
    examples = model.model_json_schema().get("examples")

    assert examples, f"{model.__name__} has no example"
    for example in examples:
        model.model_validate(example)
