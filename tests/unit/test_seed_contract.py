"""The seed's field tables (docs/seed/fields.json, extracted from 字段级请求与响应定义) against the served
OpenAPI document: every built operation takes the seed's request fields and answers its response
fields, with the seed's names, enum values and required flags. An extension may add a field or an
enum value only where ALLOWED_EXTRA says why; it may never rename or drop one."""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

import pytest

from waterrev import catalog

ROOT = Path(__file__).resolve().parents[2]
SEED = json.loads((ROOT / "docs" / "seed" / "fields.json").read_text(encoding="utf-8"))

# Which operations implement each seed table: (IF id, table title) -> [(method, path), ...]. A request
# field may be taken by any of the listed operations (the seed's one path is several routes here, e.g.
# IF-REV-001 by id, by code and by mobile); a response field must be in the reply of every one.
CONTRACT: dict[tuple[str, str], list[tuple[str, str]]] = {
    ("IF-REV-001", "请求参数"): [
        ("GET", "/admin-api/revenue/customer/{id}"),
        ("GET", "/admin-api/revenue/customer/get"),
        ("GET", "/admin-api/revenue/customer/page"),
    ],
    ("IF-REV-001", "响应参数"): [
        ("GET", "/admin-api/revenue/customer/{id}"),
        ("GET", "/admin-api/revenue/customer/get"),
    ],
    ("IF-REV-004", "请求参数"): [("POST", "/admin-api/revenue/reading-data/create")],
    ("IF-REV-004", "响应参数"): [("POST", "/admin-api/revenue/reading-data/create")],
    ("IF-REV-005", "请求参数"): [
        ("POST", "/admin-api/revenue/charge/generate"),
        ("POST", "/admin-api/revenue/charge/price-diff"),
    ],
    ("IF-REV-005", "响应参数"): [
        ("POST", "/admin-api/revenue/charge/generate"),
        ("POST", "/admin-api/revenue/charge/price-diff"),
    ],
    ("IF-REV-006", "请求参数"): [("POST", "/admin-api/revenue/collection/create")],
    ("IF-REV-006", "响应参数"): [("POST", "/admin-api/revenue/collection/create")],
    # the seed's route; the penalty waiver (adjustType PENALTY_WAIVER, no usage or trade) answers the same reply
    ("IF-REV-007", "请求参数"): [("POST", "/admin-api/revenue/accounting/adjust")],
    ("IF-REV-007", "响应参数"): [
        ("POST", "/admin-api/revenue/accounting/adjust"),
        ("POST", "/admin-api/revenue/accounting/adjust/approve"),
        ("POST", "/admin-api/revenue/accounting/adjust/reject"),
        ("POST", "/admin-api/revenue/accounting/penalty-waiver"),
        ("POST", "/admin-api/revenue/accounting/penalty-waiver/approve"),
        ("POST", "/admin-api/revenue/accounting/penalty-waiver/reject"),
    ],
    ("IF-REV-012", "请求参数"): [
        ("GET", "/admin-api/revenue/parameter/config"),
        ("POST", "/admin-api/revenue/parameter/config"),
    ],
    ("IF-REV-012", "响应参数"): [("POST", "/admin-api/revenue/parameter/config")],
    ("IF-CS-001", "请求参数"): [("POST", "/app-api/customer/account/bind")],
    ("IF-CS-001", "响应参数"): [("POST", "/app-api/customer/account/bind")],
    ("IF-CS-002", "请求参数"): [("GET", "/app-api/customer/bill/history")],
    ("IF-CS-002", "响应参数"): [("GET", "/app-api/customer/bill/history")],
    ("IF-CS-003", "请求参数"): [("POST", "/app-api/customer/payment/order")],
    ("IF-CS-003", "响应参数"): [
        ("POST", "/app-api/customer/payment/order"),
        ("GET", "/app-api/customer/payment/order/{bizOrderNo}"),
    ],
    ("IF-CS-007", "请求参数"): [("POST", "/admin-api/counter/scan-pay/create")],
    ("IF-CS-007", "响应参数"): [
        ("POST", "/admin-api/counter/scan-pay/create"),
        ("GET", "/admin-api/counter/scan-pay/{bizOrderNo}"),
    ],
    ("IF-INST-001", "请求参数"): [("POST", "/admin-api/installation/apply/create")],
    ("IF-INST-001", "响应参数"): [("POST", "/admin-api/installation/apply/create")],
    ("IF-INST-002", "请求参数"): [("POST", "/admin-api/installation/survey/result")],
    ("IF-INST-002", "响应参数"): [("POST", "/admin-api/installation/survey/result")],
    ("IF-INST-004", "请求参数"): [("POST", "/admin-api/installation/contract/sign/callback")],
    ("IF-INST-004", "响应参数"): [("POST", "/admin-api/installation/contract/sign/callback")],
    ("IF-INST-005", "请求参数"): [("POST", "/admin-api/installation/archive/submit")],
    ("IF-INST-005", "响应参数"): [("POST", "/admin-api/installation/archive/submit")],
    ("IF-REV-008", "请求参数"): [("POST", "/business/invoice/apply")],
    ("IF-REV-008", "响应参数"): [("POST", "/business/invoice/apply")],
    ("IF-REV-008", "后台作废请求参数（/business/invoice/invalidate）"): [
        ("POST", "/business/invoice/invalidate")
    ],
    ("IF-REV-008", "后台红冲请求参数（/business/invoice/red-ink）"): [("POST", "/business/invoice/red-ink")],
    ("IF-REV-009", "请求参数"): [
        ("POST", "/business/invoice/query"),
        ("POST", "/business/invoice/query/compensate"),
    ],
    ("IF-REV-009", "响应参数"): [
        ("POST", "/business/invoice/query"),
        ("POST", "/business/invoice/query/compensate"),
    ],
    ("IF-CS-004", "查询/下载请求参数"): [
        ("POST", "/business/invoice/customer/query"),
        ("POST", "/business/invoice/customer/download"),
    ],
    ("IF-CS-004", "推送请求参数"): [("POST", "/business/invoice/customer/push")],
    ("IF-CS-004", "响应参数"): [
        ("POST", "/business/invoice/customer/query"),
        ("POST", "/business/invoice/customer/download"),
        ("POST", "/business/invoice/customer/push"),
    ],
    ("IF-REV-013", "请求参数"): [
        ("POST", "/admin-api/revenue/reminder/task"),
        ("POST", "/admin-api/revenue/reminder/task/query"),
        ("POST", "/admin-api/revenue/reminder/task/manual-verify"),
    ],
    ("IF-REV-013", "响应参数"): [
        ("POST", "/admin-api/revenue/reminder/task"),
        ("POST", "/admin-api/revenue/reminder/task/query"),
        ("POST", "/admin-api/revenue/reminder/task/manual-verify"),
    ],
    ("IF-REV-011", "请求参数"): [("POST", "/admin-api/revenue/bank/withholding/batch")],
    ("IF-REV-011", "响应参数"): [
        ("POST", "/admin-api/revenue/bank/withholding/batch"),
        ("GET", "/admin-api/revenue/bank/withholding/send-disc-check"),
    ],
    # the export answers the file (exportNo, downloadUrl...): the seed's response is the query's
    ("IF-REV-010", "请求参数"): [
        ("POST", "/admin-api/revenue/statistics/query"),
        ("POST", "/admin-api/revenue/statistics/export"),
    ],
    ("IF-REV-010", "响应参数"): [("POST", "/admin-api/revenue/statistics/query")],
    ("IF-METER-004", "请求参数"): [("POST", "/admin-api/meter/iot/reading/receive")],
    ("IF-METER-004", "响应参数"): [("POST", "/admin-api/meter/iot/reading/receive")],
    ("IF-CS-006", "请求参数"): [("POST", "/app-api/customer/process")],
    ("IF-CS-006", "响应参数"): [
        ("POST", "/app-api/customer/process"),
        ("GET", "/app-api/customer/process"),
        ("GET", "/admin-api/customer/process/{processId}"),
        ("POST", "/admin-api/customer/process/accept"),
        ("POST", "/admin-api/customer/process/approve"),
    ],
    ("IF-METER-001", "请求参数"): [
        ("GET", "/admin-api/meter/archive/{id}"),
        ("GET", "/admin-api/meter/archive/get"),
    ],
    ("IF-METER-001", "响应参数"): [
        ("GET", "/admin-api/meter/archive/{id}"),
        ("GET", "/admin-api/meter/archive/get"),
    ],
    ("IF-METER-003", "请求参数"): [("POST", "/admin-api/meter/stock/in-out")],
    ("IF-METER-003", "响应参数"): [("POST", "/admin-api/meter/stock/in-out")],
}

# Deliberate differences from a seed table, each with its reason. Keys: (IF id, table, field).
ALLOWED_EXTRA: dict[tuple[str, str, str], str] = {
    ("IF-REV-011", "响应参数", "batchStatus"): (
        "扩展枚举：SENDING（文件上传中：不可取消、不可再发）与 CANCELLED（银行取走文件前已取消），"
        "之外为种子的 CREATED、SENT、RETURNED、RECONCILED、SETTLED（docs/DECISIONS.md）"
    ),
    (
        "IF-REV-008",
        "响应参数",
        "invoiceStatus",
    ): "扩展枚举：SUBMITTED/PENDING/REJECTED 之外，结果先于受理应答到达时答 SUCCESS/FAIL，"
    "重复申请答既有申请的当前状态（全部为 biz_invoice.invoice_status 的取值）",
    (
        "IF-REV-009",
        "响应参数",
        "invoiceStatus",
    ): "扩展枚举：REJECTED（SYS-008 拒绝受理申请），IF-REV-008 响应的取值之一",
    ("IF-CS-002", "请求参数", "queryType"): (
        "扩展: the seed's five values and REMINDER, the customer's reminders (IF-REV-013) as the seed's 历史查询 "
        "rows for 催缴、停复水 ask (docs/DECISIONS.md 54)"
    ),
}


@lru_cache(maxsize=1)
def spec() -> dict[str, Any]:
    from waterrev.local.gateway import build_targets, merged_openapi

    return merged_openapi(build_targets())


def _resolve(schema: dict[str, Any]) -> dict[str, Any]:
    """Follow $ref and unwrap anyOf [X, null] (an optional field)."""
    while True:
        if "$ref" in schema:
            name = schema["$ref"].rsplit("/", 1)[-1]
            schema = spec()["components"]["schemas"][name]
            continue
        options = [s for s in schema.get("anyOf", []) if s.get("type") != "null"]
        if len(options) == 1 and "anyOf" in schema:
            schema = options[0]
            continue
        if schema.get("allOf") and len(schema["allOf"]) == 1:
            schema = schema["allOf"][0]
            continue
        return schema


def _enum(schema: dict[str, Any]) -> list[str] | None:
    schema = _resolve(schema)
    if "enum" in schema:
        return [str(v) for v in schema["enum"]]
    if schema.get("type") == "array":
        return _enum(schema.get("items", {}))
    match = re.fullmatch(r"\^\(([A-Za-z_|]+)\)\$", schema.get("pattern", ""))
    return match.group(1).split("|") if match else None


def _operation(method: str, path: str) -> dict[str, Any]:
    op = spec()["paths"].get(path, {}).get(method.lower())
    assert op is not None, f"{method} {path} is not in /openapi.json"
    return op


def _request_fields(method: str, path: str) -> dict[str, tuple[dict[str, Any], bool]]:
    """name -> (schema, required) over the operation's parameters and its JSON body."""
    op = _operation(method, path)
    found = {p["name"]: (p.get("schema", {}), bool(p.get("required"))) for p in op.get("parameters", [])}
    body = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
    if body:
        body = _resolve(body)
        required = set(body.get("required", []))
        for name, prop in body.get("properties", {}).items():
            found[name] = (prop, name in required)
            items = _resolve(_resolve(prop).get("items", {})) if _resolve(prop).get("type") == "array" else {}
            for inner, inner_prop in items.get(
                "properties", {}
            ).items():  # `list[].field` of an array of objects
                found[f"{name}[].{inner}"] = (inner_prop, inner in set(items.get("required", [])))
    return found


def _reply_schema(method: str, path: str) -> dict[str, Any]:
    op = _operation(method, path)
    content = op["responses"].get("200", {}).get("content", {}).get("application/json", {})
    assert "schema" in content, f"{method} {path} declares no reply model"
    envelope = _resolve(content["schema"])
    return _resolve(envelope["properties"]["data"])


def _reply_field(schema: dict[str, Any], dotted: str) -> dict[str, Any] | None:
    """Find `a.b`, `a[].b` in a reply schema (a page's items count as the reply's own fields too)."""
    current = _resolve(schema)
    for part in dotted.split("."):
        many = part.endswith("[]")
        name = part.removesuffix("[]")
        props = current.get("properties", {})
        if name not in props and "list" in props and name not in ("list", "total"):
            current = _resolve(_resolve(props["list"]).get("items", {}))  # a page: the item's fields
            props = current.get("properties", {})
        if name not in props:
            return None
        current = _resolve(props[name])
        if many:
            current = _resolve(current.get("items", {}))
    return current


def _cases() -> list[tuple[str, str]]:
    built = {i.if_id for i in catalog.built()}
    return [(if_id, title) for if_id, entry in SEED.items() if if_id in built for title in entry["tables"]]


def test_every_built_interface_with_a_seed_table_is_mapped() -> None:
    """Given the seed's field tables, every table of a built interface names the operations that
    implement it (a new interface cannot skip its contract)."""
    missing = [case for case in _cases() if case not in CONTRACT]

    assert not missing, f"map these seed tables to operations in CONTRACT: {missing}"


@pytest.mark.parametrize("case", _cases(), ids=lambda c: f"{c[0]} {c[1]}")
def test_operation_matches_the_seed_table(case: tuple[str, str]) -> None:
    """Given a seed table, the mapped operations use every field with the seed's name, enum values and
    required flag."""
    if_id, title = case
    table = SEED[if_id]["tables"][title]
    operations = CONTRACT.get(case, [])
    problems: list[str] = []
    for field in table["fields"]:
        name = field["name"]
        if (if_id, title, name) in ALLOWED_EXTRA:
            continue
        if table["kind"] == "request":
            offered = [_request_fields(m, p).get(name) for m, p in operations]
            found = [f for f in offered if f is not None]
            if not found:
                problems.append(f"request field {name} is taken by none of {operations}")
                continue
            if field.get("required") and not any(r for _, r in found):
                problems.append(f"request field {name} is required by the seed, optional here")
            if not field.get("required") and all(r for _, r in found) and len(found) == len(operations):
                problems.append(f"request field {name} is optional in the seed, required here")
            schemas = [s for s, _ in found]
        else:
            schemas = []
            for method, path in operations:
                got = _reply_field(_reply_schema(method, path), name)
                if got is None:
                    problems.append(f"response field {name} missing from {method} {path}")
                else:
                    schemas.append(got)
        if field.get("enum"):
            for schema in schemas:
                values = _enum(schema)
                if values is None or set(values) != set(field["enum"]):
                    problems.append(f"{name}: enum {values} differs from the seed's {field['enum']}")

    assert not problems, "\n".join(problems)


def test_allowed_differences_are_still_differences() -> None:
    """Every entry of ALLOWED_EXTRA names a real seed field (no stale excuses)."""
    for if_id, title, name in ALLOWED_EXTRA:
        assert any(f["name"] == name for f in SEED[if_id]["tables"][title]["fields"]), (if_id, title, name)


def test_every_operation_declares_its_reply_and_errors() -> None:
    """Given /openapi.json, every operation documents its success reply (a model inside the envelope,
    or the media type it returns), its errors, and a security scheme (empty only for public routes)."""
    problems = []
    for path, ops in spec()["paths"].items():
        for method, op in ops.items():
            responses = op.get("responses", {})
            ok = responses.get("200", {}).get("content", {})
            if "application/json" in ok:
                envelope = _resolve(ok["application/json"].get("schema", {}))
                data = envelope.get("properties", {}).get("data")
                if set(envelope.get("properties", {})) != {"code", "data", "msg"} or not data:
                    problems.append(f"{method.upper()} {path}: no reply model inside the envelope")
            elif not ok:
                problems.append(f"{method.upper()} {path}: no success reply documented")
            if not any(status.startswith("4") for status in responses):
                problems.append(f"{method.upper()} {path}: no error replies")
            if "security" not in op:
                problems.append(f"{method.upper()} {path}: no security")
            if (
                method in ("post", "put")
                and "requestBody" not in op
                and path != "/admin-api/system/auth/logout"
            ):
                problems.append(f"{method.upper()} {path}: takes a body but documents none")
            schema_422 = (
                responses.get("422", {}).get("content", {}).get("application/json", {}).get("schema", {})
            )
            if "HTTPValidationError" in json.dumps(schema_422):  # Powertools' own; business 422s are real
                problems.append(f"{method.upper()} {path}: documents 422, the API answers 400")
            if "HTTPValidationError" in json.dumps(responses.get("422") or {}):
                problems.append(f"{method.upper()} {path}: documents Powertools' 422, the API answers 400")

    assert not problems, "\n".join(problems)
