"""Abuse limits: a per-caller rate on the routes where a user is the unit (payment orders, counter QR
orders), a size limit on every body, and a cap on every page size - each answered in the envelope and
declared in /openapi.json. (API Gateway's own throttling of the stage and the public routes is a CDK
assertion: tests/infra/test_api.py.)"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.support import call, channel_login, expect_error, unique
from waterrev import catalog

pytestmark = pytest.mark.integration

ORDER = "/app-api/customer/payment/order"
T0 = 60.0 * 31_666_666 + 20  # a moment 20 s into a minute's window


@pytest.fixture
def fixed_time(monkeypatch: pytest.MonkeyPatch) -> Any:
    from waterrev import limits

    def at(moment: float) -> None:
        monkeypatch.setattr(limits, "now", lambda: moment)

    at(T0)
    return at


def test_an_eleventh_order_in_a_minute_is_429_for_that_customer_only(fixed_time: Any) -> None:
    """Given a customer-channel caller, when it asks for 10 payment orders within one minute (these with an
    empty body: a refused request counts as much as a served one), then each is answered (400, naming the
    field); the 11th is 429 in the envelope with when to try again; another caller in the same minute is
    still served."""
    script, person = channel_login(unique("wx-script-")), channel_login(unique("wx-person-"))

    first = [call("POST", ORDER, {}, token=script) for _ in range(10)]
    eleventh = call("POST", ORDER, {}, token=script)
    other = call("POST", ORDER, {}, token=person)

    assert all(r.code == 400 for r in first), [r.body for r in first]
    expect_error(eleventh, 429, mentions="每 60 秒最多 10 次")
    assert eleventh.data == {"limit": 10, "windowSeconds": 60, "retryAfter": 40}
    assert other.code == 400, other.body


def test_the_count_starts_again_in_the_next_window(fixed_time: Any) -> None:
    """Given a caller refused in one minute, when the next minute begins, then it is served again."""
    token = channel_login(unique("wx-"))
    for _ in range(11):
        call("POST", ORDER, {}, token=token)
    assert call("POST", ORDER, {}, token=token).code == 429

    fixed_time(T0 + 60)

    assert call("POST", ORDER, {}, token=token).code == 400


def test_a_body_over_a_mebibyte_is_413_and_not_parsed(admin: str) -> None:
    """Given a JSON body of just over 1 MiB (valid JSON: only its size is wrong), when it is posted to a
    back-office route and to a webhook, then both answer 413 in the envelope naming the limit."""
    from waterrev.api import MAX_BODY_BYTES

    big = json.dumps({"username": "admin", "password": "x" * MAX_BODY_BYTES}).encode()

    login = call("POST", "/admin-api/system/auth/login", raw_body=big)
    webhook = call("POST", "/open-api/invoice/result", raw_body=big)

    expect_error(login, 413, mentions=str(MAX_BODY_BYTES))
    expect_error(webhook, 413, mentions=str(MAX_BODY_BYTES))


def _operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, op)
        for path, item in spec["paths"].items()
        for method, op in item.items()
        if method in ("get", "post", "put", "delete", "patch")
    ]


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    from waterrev.local.gateway import build_targets, merged_openapi

    return dict(merged_openapi(build_targets()))


def test_every_rated_route_declares_its_429_and_every_body_its_413(spec: dict[str, Any]) -> None:
    """Given /openapi.json, then every operation whose route has a per-caller rate declares 429 and the
    rate, and every operation that takes a body declares 413."""
    rated = {r.route_key: r.rate for i in catalog.built() for r in i.routes if r.rate is not None}
    assert rated, "no route has a rate"
    for method, path, op in _operations(spec):
        key = f"{method} {path}"
        if key in rated:
            assert "429" in op["responses"] and op["x-rate-limit"]["calls"] == rated[key].calls, key
        if "requestBody" in op:
            assert "413" in op["responses"], key


def _resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def test_every_page_size_has_a_maximum(spec: dict[str, Any]) -> None:
    """Given /openapi.json, then every pageSize - a query parameter or a field of a request body - has a
    maximum: no caller can ask for the whole table in one page."""
    seen = []
    for method, path, op in _operations(spec):
        for param in op.get("parameters", []):
            if param["name"] == "pageSize":
                seen.append((method, path))
                assert "maximum" in _resolve(spec, param.get("schema", {})), (method, path)
        body = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
        if body:
            props = _resolve(spec, body).get("properties", {})
            if "pageSize" in props:
                seen.append((method, path))
                schema = _resolve(spec, props["pageSize"])
                options = schema.get("anyOf", [schema])
                assert any("maximum" in o for o in options), (method, path, schema)
    assert len(seen) >= 5, seen
