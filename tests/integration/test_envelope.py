"""The envelope {code, data, msg} on every error, and unknown routes answered as 404 envelopes."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from tests.support import Reply, admin_login, call, channel_login, expect_error, unique


def _raw_event(method: str, path: str, route_key: str) -> dict[str, Any]:
    return {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": path,
        "rawQueryString": "",
        "headers": {"content-type": "application/json", "authorization": f"Bearer {admin_login()}"},
        "requestContext": {
            "requestId": str(uuid.uuid4()),
            "routeKey": route_key,
            "stage": "$default",
            "http": {"method": method, "path": path, "sourceIp": "10.0.0.8", "userAgent": "pytest"},
        },
        "isBase64Encoded": False,
    }


def _invoke(handler: Callable[..., dict[str, Any]], event: dict[str, Any]) -> Reply:
    from waterrev.local.gateway import FakeLambdaContext

    result = handler(event, FakeLambdaContext("test"))
    return Reply(result["statusCode"], json.loads(result["body"]))


def test_route_key_outside_the_catalog_is_a_404_envelope() -> None:
    """Given an event whose routeKey is not in the catalog, when a function receives it, then a 404
    envelope naming the route."""
    from functions.rev_customer_query.handler import handler

    reply = _invoke(
        handler, _raw_event("GET", "/admin-api/revenue/nothing", "GET /admin-api/revenue/nothing")
    )

    expect_error(reply, 404, mentions="/admin-api/revenue/nothing")


def test_route_the_function_does_not_serve_is_a_404_envelope() -> None:
    """Given a catalog route delivered to the wrong function, when it resolves, then a 404 envelope."""
    from functions.up_dict.handler import handler

    reply = _invoke(
        handler, _raw_event("GET", "/admin-api/revenue/customer/page", "GET /admin-api/revenue/customer/page")
    )

    expect_error(reply, 404)


@pytest.fixture(scope="module")
def local_gateway() -> Any:
    from waterrev.local.gateway import make_server

    server = make_server("127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize(
    ("method", "path"), [("GET", "/admin-api/no/such/route"), ("DELETE", "/app-api/customer/no/such")]
)
def test_unknown_path_through_the_local_gateway_is_a_404_envelope(
    local_gateway: str, method: str, path: str
) -> None:
    """Given the local gateway, when a path no route has is requested, then HTTP 404 with exactly code,
    data and msg (a known path with another method is a 405: test_local_gateway)."""
    request = urllib.request.Request(local_gateway + path, method=method)

    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=10)

    assert caught.value.code == 404
    body = json.loads(caught.value.read())
    assert set(body) == {"code", "data", "msg"} and body["code"] == 404 and body["data"] is None


def _error_calls() -> dict[str, tuple[Callable[[], Reply], int]]:
    def member() -> str:
        return channel_login(unique("env"))

    return {
        "401 no token": (lambda: call("GET", "/admin-api/system/auth/get-permission-info"), 401),
        "401 bad login": (
            lambda: call(
                "POST", "/admin-api/system/auth/login", {"username": unique("x"), "password": "nope"}
            ),
            401,
        ),
        "403 wrong token kind": (
            lambda: call("GET", "/app-api/customer/account/list", token=admin_login()),
            403,
        ),
        "400 validation": (
            lambda: call("POST", "/admin-api/revenue/customer/create", {"name": ""}, token=admin_login()),
            400,
        ),
        "400 malformed json": (
            lambda: call(
                "POST", "/admin-api/revenue/customer/create", token=admin_login(), raw_body=b"{not json"
            ),
            400,
        ),
        "400 bad query": (
            lambda: call(
                "GET", "/app-api/customer/bill/history", token=member(), query="custId=1&queryType=NOPE"
            ),
            400,
        ),
        "404 parameter": (
            lambda: call("GET", "/admin-api/system/param/get", token=admin_login(), query="key=no.such"),
            404,
        ),
        "1_002_001_001": (
            lambda: call("GET", "/admin-api/revenue/customer/987654321", token=admin_login()),
            1_002_001_001,
        ),
        "1_002_001_002": (
            lambda: call(
                "GET",
                "/app-api/customer/bill/history",
                token=member(),
                query="custId=987654321&queryType=BILL",
            ),
            1_002_001_002,
        ),
    }


@pytest.mark.parametrize("case", list(_error_calls()))
def test_every_error_answer_is_exactly_code_data_msg(case: str) -> None:
    """Given an error of each kind, when answered, then the body has exactly code, data and msg, a
    non-empty msg, and the HTTP status of the error table."""
    make, code = _error_calls()[case]

    reply = make()

    expect_error(reply, code)
    assert reply.msg and reply.msg != "success"


def test_malformed_json_body_is_400_not_500() -> None:
    """Given a body that is not JSON, when a customer is created, then 400 (a caller error), not 500."""
    reply = call("POST", "/admin-api/revenue/customer/create", token=admin_login(), raw_body=b"{not json")

    expect_error(reply, 400)


def test_success_answer_is_the_envelope_with_code_zero() -> None:
    """Given a valid call, when answered, then {code: 0, data, msg: success}."""
    reply = call(
        "GET", "/admin-api/system/dict-data/simple-list", token=admin_login(), query="dictType=biz_cust_type"
    )

    assert set(reply.body) == {"code", "data", "msg"} and reply.code == 0 and reply.msg == "success"
    assert reply.status == 200
