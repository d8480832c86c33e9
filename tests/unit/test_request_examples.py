"""Every request model of IF-UP-001..004, IF-REV-001/002 and IF-CS-001 shows an example in
/openapi.json, and the example is a request the model accepts (camelCase, as on the wire)."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from waterrev.customers import models as customer_models
from waterrev.fields import Model
from waterrev.platform import models as platform_models


def _request_models() -> list[type[BaseModel]]:
    found = []
    for module in (platform_models, customer_models):
        for value in vars(module).values():
            if (
                isinstance(value, type)
                and issubclass(value, Model)
                and value.__module__ == module.__name__
                and not value.__name__.startswith("_")
            ):
                found.append(value)
    return found


@pytest.mark.parametrize("model", _request_models(), ids=lambda m: m.__name__)
def test_request_model_has_examples_it_accepts(model: type[BaseModel]) -> None:
    """Given a request model, its JSON schema carries examples, and each validates against the model."""
    examples = model.model_json_schema().get("examples")

    assert examples, f"{model.__name__} has no example"
    for example in examples:
        model.model_validate(example)
