"""'Not yours' answers exactly as 'not there' on every customer route of the catalog.

A stranger (a channel user bound to a customer of its own) asks every /app-api route for the objects of
another customer, and for objects that do not exist; the two answers must be the same: HTTP status,
envelope code, data, and message, once the identifiers asked for are written as <ID>. The walk reads the
routes from the catalog and their requests from /openapi.json (the request model's example, and each
enum value of its top-level fields), so a new customer route is covered by itself; a request field
that names an object the walk cannot fill (an `...Id(s)`, `...No(s)` or `...Code(s)` it does not know) fails the
test until IDENTIFIERS learns it."""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from typing import Any

import pytest

from tests.support import Reply, admin_login, bind, call, channel_login, new_bills, unique
from waterrev import catalog

MISSING = 987_654_321_000  # an id no table reaches in the test database
MISSING_ORDER = "DD2099010199999999"

# Fields that are not objects of a customer: the caller's own channel identity, paging, codes it types.
NOT_OBJECTS = {
    "channelUserId",
    "channelType",
    "pageNo",
    "pageSize",
    "openId",
    "verifyCode",
    "custName",
    "businessTypeCode",  # a business type (IF-CS-005/006), the same for every customer
    "outletCode",  # an outlet (IF-CS-005): public, no customer's
}


@dataclass
class Party:
    openid: str
    token: str
    cust_id: int
    bills: list[int]
    account_id: int
    order_no: str | None = None
    invoice_id: int | None = None
    application_no: str | None = None
    sys_request_no: str | None = None
    process_id: int | None = None


def _values(party: Party | None) -> dict[str, Any]:
    """What each identifier field is when naming `party`'s objects (None: objects that do not exist)."""
    if party is None:
        return {
            "custId": MISSING,
            "chargeIds": [MISSING],
            "chargeId": MISSING,
            "accountId": MISSING,
            "bizOrderNo": MISSING_ORDER,
            "invoiceId": MISSING,
            "applicationNo": "FP-MISSING-0001",
            "sysRequestNo": "SR-MISSING-0001",
            "processId": MISSING,
        }
    return {
        "custId": party.cust_id,
        "chargeIds": party.bills[:1],
        "chargeId": party.bills[0],
        "accountId": party.account_id,
        "bizOrderNo": party.order_no or MISSING_ORDER,
        "invoiceId": party.invoice_id or MISSING,
        "applicationNo": party.application_no or "FP-MISSING-0001",
        "sysRequestNo": party.sys_request_no or "SR-MISSING-0001",
        "processId": party.process_id or MISSING,
    }


IDENTIFIERS = set(_values(None))
IDENTIFIER_NAME = re.compile(r"(Id|Ids|No|Nos|Code|Codes)$")  # custCode, meterCode name objects too


@lru_cache(maxsize=1)
def _spec() -> dict[str, Any]:
    from waterrev.local.gateway import build_targets, merged_openapi

    return merged_openapi(build_targets())


def _resolve(schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = _spec()["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


CUSTOMER_ROUTES = [r for i in catalog.built() for r in i.routes if r.caller is catalog.Caller.CUSTOMER]


def _request_shape(route: catalog.Route) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """(example body or None, parameters) of a route's operation."""
    op = _spec()["paths"][route.path][route.method.lower()]
    body_schema = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
    body = None
    if body_schema is not None:
        resolved = _resolve(body_schema)
        examples = resolved.get("examples") or []
        assert examples, f"{route.route_key}: its request model has no example to walk with"
        body = copy.deepcopy(examples[0])
    return body, op.get("parameters", [])


def _variants(route: catalog.Route) -> list[tuple[dict[str, Any] | None, dict[str, str]]]:
    """Requests to try: the example, and the example with each enum value of its top-level fields."""
    body, params = _request_shape(route)
    query: dict[str, str] = {}
    for p in params:
        if p["in"] == "query" and p.get("required") and p["name"] not in IDENTIFIERS:
            schema = _resolve(p.get("schema", {}))
            if "enum" in schema:
                query[p["name"]] = str(schema["enum"][0])
            elif p.get("example") is not None or schema.get("examples"):
                query[p["name"]] = str(p.get("example", (schema.get("examples") or [None])[0]))
    variants: list[tuple[dict[str, Any] | None, dict[str, str]]] = [(body, query)]
    if body is not None:
        props = _resolve(_body_schema(route)).get("properties", {})
        for name, prop in props.items():
            for value in _resolve(prop).get("enum", []):
                if body.get(name) != value:
                    variants.append(({**body, name: value}, query))
    for p in params:
        schema = _resolve(p.get("schema", {}))
        if p["in"] == "query" and p["name"] not in IDENTIFIERS:
            for value in schema.get("enum", []):
                if query.get(p["name"]) != str(value):
                    variants.append((body, {**query, p["name"]: str(value)}))
    return variants


def _body_schema(route: catalog.Route) -> dict[str, Any]:
    op = _spec()["paths"][route.path][route.method.lower()]
    return op["requestBody"]["content"]["application/json"]["schema"]


def _identifier_fields(route: catalog.Route) -> list[str]:
    body, params = _request_shape(route)
    names = [p["name"] for p in params]
    if body is not None:
        names += list(_resolve(_body_schema(route)).get("properties", {}))
    found = [n for n in names if IDENTIFIER_NAME.search(n) and n not in NOT_OBJECTS]
    unknown = [n for n in found if n not in IDENTIFIERS]
    assert not unknown, f"{route.route_key}: teach IDENTIFIERS how to name a customer's {unknown}"
    return found


def _ask(
    route: catalog.Route,
    caller: Party,
    body: dict[str, Any] | None,
    query: dict[str, str],
    values: dict[str, Any],
) -> Reply:
    path = route.path
    for name, value in values.items():
        path = path.replace("{" + name + "}", str(value))
    query = {**query, **{k: str(v) for k, v in values.items() if k in _query_names(route)}}
    if body is not None:
        body = {**body, **{k: v for k, v in values.items() if k in body or k in _body_props(route)}}
        if "channelUserId" in body:
            body["channelUserId"] = caller.openid
        if "channelType" in body:
            body["channelType"] = "WECHAT"
    return call(
        route.method,
        path,
        body,
        token=caller.token,
        query="&".join(f"{k}={v}" for k, v in query.items()),
    )


def _query_names(route: catalog.Route) -> set[str]:
    return {p["name"] for p in _request_shape(route)[1] if p["in"] in ("query", "path")}


def _body_props(route: catalog.Route) -> set[str]:
    body, _ = _request_shape(route)
    return set(_resolve(_body_schema(route)).get("properties", {})) if body is not None else set()


def _normalised(reply: Reply, values: dict[str, Any]) -> tuple[int, int, str, str]:
    text = json.dumps(reply.body.get("data"), ensure_ascii=False, sort_keys=True, default=str)
    msg = reply.msg
    for value in sorted((str(v) for v in _flat(values)), key=len, reverse=True):
        text, msg = text.replace(value, "<ID>"), msg.replace(value, "<ID>")
    return reply.status, reply.code, msg, text


def _flat(values: dict[str, Any]) -> list[Any]:
    out: list[Any] = []
    for v in values.values():
        out.extend(v if isinstance(v, list) else [v])
    return out


@pytest.fixture(scope="module")
def parties(sys009_module: Any) -> tuple[Party, Party]:
    admin = admin_login()

    def party(with_order: bool) -> Party:
        cust, bills = new_bills(admin, ["2021-01", "2021-02"])
        openid = unique("ny")
        token = channel_login(openid)
        assert bind(token, openid, cust).code == 0
        from tests.support import sql_scalar

        account = int(sql_scalar("SELECT min(id) FROM biz_account WHERE cust_id = :c", {"c": cust}))
        p = Party(openid, token, cust, [int(b["id"]) for b in bills], account)
        if with_order:
            total = sum((Decimal(str(b["total_amount"])) for b in bills[1:]), Decimal("0"))
            reply = call(
                "POST",
                "/app-api/customer/payment/order",
                {
                    "custId": cust,
                    "chargeIds": [int(b["id"]) for b in bills[1:]],
                    "paymentChannel": "WECHAT",
                    "paymentAmount": f"{total:.2f}",
                },
                token=token,
            )
            assert reply.code == 0, reply.body
            p.order_no = reply.data["bizOrderNo"]
        # an issued e-invoice of its own (IF-CS-004 names it by invoiceId, applicationNo or sysRequestNo)
        from tests.support import sql_exec

        p.application_no, p.sys_request_no = unique("FPW"), unique("SRW")
        p.invoice_id = int(
            sql_exec(
                "INSERT INTO biz_invoice (application_no, cust_id, invoice_type, invoice_status, amount, sys_request_no,"
                " invoice_number, file_url, file_key, email, charge_bind_status) VALUES (:a, :c, 'ELECTRONIC', 'SUCCESS',"
                " 10, :s, :n, 'http://sys008.invalid/f.pdf', 'invoices/w/f.pdf', 'w@example.com', 'BOUND') RETURNING id",
                {"a": p.application_no, "c": cust, "s": p.sys_request_no, "n": unique("N")},
            )
        )
        # an online application of its own (IF-CS-006 names it by processId)
        applied = call(
            "POST",
            "/app-api/customer/process",
            {
                "action": "CREATE",
                "custId": cust,
                "businessTypeCode": "CONTACT_CHANGE",
                "applyData": {"mobile": "13800138001"},
            },
            token=token,
        )
        assert applied.code == 0, applied.body
        p.process_id = int(applied.data["processId"])
        return p

    return party(True), party(False)


@pytest.fixture(scope="module")
def sys009_module() -> Any:
    """The SYS-009 simulator for the module (orders are created against it)."""
    import os
    import secrets

    from tests.support import NotifyRelay
    from waterrev.local import sys009_sim
    from waterrev.settings import reset_settings

    relay = NotifyRelay()
    app_secret = secrets.token_hex(16)
    sim = sys009_sim.start(port=0, app_id="waterrev-test", app_secret=app_secret, retry_scale=0.001)
    saved = {
        k: os.environ.get(k)
        for k in (
            "WATERREV_SYS009_BASE_URL",
            "WATERREV_SYS009_APP_ID",
            "WATERREV_SYS009_APP_SECRET",
            "WATERREV_SYS009_PLATFORM_KEYS",
            "WATERREV_SYS009_NOTIFY_URL",
        )
    }
    os.environ.update(
        WATERREV_SYS009_BASE_URL=sim.base_url,
        WATERREV_SYS009_APP_ID="waterrev-test",
        WATERREV_SYS009_APP_SECRET=app_secret,
        WATERREV_SYS009_PLATFORM_KEYS=json.dumps(sim.public_keys()),
        WATERREV_SYS009_NOTIFY_URL=relay.url,
    )
    reset_settings()
    yield sim
    sim.stop()
    relay.stop()
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    reset_settings()


@pytest.mark.parametrize("route", CUSTOMER_ROUTES, ids=lambda r: r.route_key)
def test_a_strangers_object_answers_as_a_missing_one(
    route: catalog.Route, parties: tuple[Party, Party]
) -> None:
    """Given an owner's objects and a stranger bound to its own customer, when the stranger names the
    owner's objects (all of them, or one at a time beside its own), then the answer is exactly the one
    objects that do not exist get."""
    owner, stranger = parties
    fields = _identifier_fields(route)
    if not fields:
        return  # the route names no object: nothing of another customer can be asked for
    mixes: list[list[str]] = [fields] + ([[f] for f in fields] if len(fields) > 1 else [])
    for body, query in _variants(route):
        for mix in mixes:
            own = {k: v for k, v in _values(stranger).items() if k in fields and k not in mix}
            theirs = {k: v for k, v in _values(owner).items() if k in mix} | own
            missing = {k: v for k, v in _values(None).items() if k in mix} | own
            a = _ask(route, stranger, body, query, theirs)
            b = _ask(route, stranger, body, query, missing)
            asked_a = {k: theirs[k] for k in mix}
            asked_b = {k: missing[k] for k in mix}
            assert a.status < 500 and b.status < 500, (a.body, b.body)
            assert _normalised(a, asked_a) == _normalised(b, asked_b), (
                f"{route.route_key} {mix} body={body} query={query}:\n another's: {a.status} {a.body}\n"
                f" missing:   {b.status} {b.body}"
            )
