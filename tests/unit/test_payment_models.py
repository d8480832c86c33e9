"""The payment interfaces' request models: every one carries an example (shown in /openapi.json), and each
example is a request the model accepts and turns into its use case's command."""

from __future__ import annotations

from typing import Any

import pytest

from waterrev.fields import Model
from waterrev.payments.models.bank import BankPay, BankQuery
from waterrev.payments.models.collection import CollectionCreate, ExceptionResolve
from waterrev.payments.models.counter import CounterScanPayCreate, RenewRequest
from waterrev.payments.models.online import OrderCreate

REQUESTS: list[type[Model]] = [
    CollectionCreate,
    ExceptionResolve,
    OrderCreate,
    CounterScanPayCreate,
    RenewRequest,
    BankQuery,
    BankPay,
]


def _examples(model: type[Model]) -> list[dict[str, Any]]:
    extra = model.model_config.get("json_schema_extra")
    assert isinstance(extra, dict), f"{model.__name__} has no json_schema_extra"
    return list(extra.get("examples") or [])


@pytest.mark.parametrize("model", REQUESTS, ids=lambda m: m.__name__)
def test_every_request_model_has_an_example_it_accepts(model: type[Model]) -> None:
    """Given a request model, then it has at least one example, written as on the wire (camelCase), which
    validates, and which builds its command where the model has one."""
    examples = _examples(model)

    assert examples, model.__name__
    for example in examples:
        parsed = model.model_validate(example)
        assert parsed.model_dump(by_alias=True, exclude_unset=True).keys() == example.keys()
        command = getattr(parsed, "command", None)
        if command is not None:
            command()


def test_a_request_model_keeps_the_shared_request_conventions() -> None:
    """Given a payment request model with its own config (the example), then it still forbids unknown
    fields and strips text, as every request model does."""
    with pytest.raises(ValueError, match="extra"):
        OrderCreate.model_validate(_examples(OrderCreate)[0] | {"tradeAmount": "1.00"})
    assert (
        RenewRequest.model_validate({"bizOrderNo": " DD2026112200000042 "}).biz_order_no
        == "DD2026112200000042"
    )
