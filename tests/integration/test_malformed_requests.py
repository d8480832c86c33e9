"""No malformed request gets a 5xx: bodies that are not JSON, bytes that are not UTF-8, values the
database could not store. Walks the catalog, so a new route is covered by itself."""

from __future__ import annotations

import pytest

from tests.support import admin_login, call, channel_login, expect_error, unique
from waterrev import catalog

BODY_ROUTES = [
    r
    for i in catalog.built()
    for r in i.routes
    if r.method in ("POST", "PUT") and r.caller is not catalog.Caller.WEBHOOK
]


def _concrete(path: str) -> str:
    return (
        path.replace("{bizOrderNo}", "DD2026010100000001")
        .replace("{runNo}", "BR202601-01")
        .replace("{id}", "1")
    )


def _token(route: catalog.Route) -> str | None:
    if route.caller is catalog.Caller.ADMIN:
        return admin_login()
    if route.caller is catalog.Caller.CUSTOMER:
        return channel_login(unique("mal"))
    return None


@pytest.mark.parametrize("route", BODY_ROUTES, ids=lambda r: r.route_key)
@pytest.mark.parametrize(
    ("content_type", "raw", "code"),
    [
        ("text/plain", b'{"a": 1}', 415),
        ("application/json", b"\xff\xfe{\x00", 400),
        ("application/json", b"{not json", 400),
        ("application/json", b"[" * 5000 + b"]" * 5000, 400),
        ("application/json", b'{"a": NaN}', 400),
    ],
    ids=["text-plain", "not-utf8", "not-json", "deep", "nan"],
)
def test_a_body_that_cannot_be_read_is_a_4xx_in_the_envelope(
    route: catalog.Route, content_type: str, raw: bytes, code: int
) -> None:
    """Given any route that takes a JSON body, when the body is not readable JSON, then a 4xx envelope
    saying why, never a 500."""
    reply = call(
        route.method,
        _concrete(route.path),
        token=_token(route),
        raw_body=raw,
        headers={"content-type": content_type},
    )

    expect_error(reply, code)
    assert "body" in reply.msg or "Content-Type" in reply.msg


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"custId": 10**20, "chargeIds": [1], "paymentChannel": "CASH", "paymentAmount": "1"}, "custId"),
        ({"custId": 1, "chargeIds": [2**64], "paymentChannel": "CASH", "paymentAmount": "1"}, "chargeIds[0]"),
        (
            {
                "custId": 1,
                "chargeIds": [1],
                "paymentChannel": "CASH",
                "paymentAmount": "1",
                "remark": "a\x00b",
            },
            "remark",
        ),
    ],
    ids=["bigint-overflow", "bigint-in-list", "nul-byte"],
)
def test_a_value_the_database_cannot_store_is_a_400_naming_the_field(body: dict, field: str) -> None:
    """Given a value beyond BIGINT or a string with a NUL byte, when sent, then 400 naming the field
    (before, the database refused it and the caller got a 500)."""
    reply = call("POST", "/admin-api/revenue/collection/create", body, token=admin_login())

    expect_error(reply, 400, mentions=field)


def test_a_nul_byte_in_a_query_parameter_is_a_400() -> None:
    """Given a NUL byte in a query value, when searched, then 400 naming the parameter, not a 500."""
    reply = call("GET", "/admin-api/revenue/customer/page", token=admin_login(), query="name=a%00b")

    expect_error(reply, 400, mentions="name")


@pytest.mark.parametrize(
    "read_time", ["0001-01-01 00:00:00", "9999-12-31T23:59:59-12:00", "1999-12-31 23:59:59"], ids=str
)
def test_a_time_outside_the_business_years_is_a_400_not_a_500(read_time: str) -> None:
    """Given a reading time the driver cannot convert (year 1, year 9999 with an offset), when an IoT
    reading of a real meter is sent, then 400 naming readTime (before: 500 from the database driver)."""
    body = {"meterCode": "WM-0001", "readTime": read_time, "currentReading": "1", "sourceSystem": "IOT"}

    reply = call("POST", "/admin-api/meter/iot/reading/receive", body, token=admin_login())

    expect_error(reply, 400, mentions="readTime")


@pytest.mark.parametrize("field", ["paymentAmount", "actualAmount"])
def test_an_amount_beyond_the_money_column_is_a_400_not_a_500(field: str) -> None:
    """Given an amount with more digits than NUMERIC(14,2) holds, when collected at the counter, then 400
    naming the field (before: 500 from a numeric overflow inside the write-off)."""
    body = {
        "custId": 1,
        "chargeIds": [1],
        "paymentChannel": "CASH",
        "paymentAmount": "58.65",
        field: "12345678901234",
    }

    reply = call("POST", "/admin-api/revenue/collection/create", body, token=admin_login())

    expect_error(reply, 400, mentions=field)
