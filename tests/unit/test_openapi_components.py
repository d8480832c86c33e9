"""The merged OpenAPI document refuses two different models of one name (each function's resolver names
its components alone; merged, one would silently replace the other: IF-REV-005's GenerateRequest went
missing when IF-REV-013 first named its own model the same)."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import pytest

from waterrev import catalog
from waterrev.local import openapi


def _module(components: dict[str, Any]) -> SimpleNamespace:
    schema = {"paths": {}, "components": {"schemas": components}}
    return SimpleNamespace(app=SimpleNamespace(get_openapi_json_schema=lambda title: json.dumps(schema)))


def _modules(first: dict[str, Any], second: dict[str, Any]) -> dict[str, Any]:
    modules: dict[str, Any] = {i.function: SimpleNamespace() for i in catalog.built()}
    a, b = [i.function for i in catalog.built()][:2]
    modules[a], modules[b] = _module(first), _module(second)
    return modules


def test_two_different_models_of_one_name_are_refused() -> None:
    with pytest.raises(ValueError, match="Thing"):
        openapi.build(_modules({"Thing": {"type": "object"}}, {"Thing": {"type": "string"}}))


def test_the_same_model_shared_by_two_functions_is_one_component() -> None:
    spec = openapi.build(_modules({"Thing": {"type": "object"}}, {"Thing": {"type": "object"}}))
    assert spec["components"]["schemas"]["Thing"] == {"type": "object"}
