"""The OpenAPI document of every built interface: what a client developer reads at /openapi.json.

Each function's resolver describes its own operations (request models, the reply model inside the
envelope and the business errors it declares with `api.doc`). This module merges them, tags every
operation with its seed interface id, and adds what the catalog knows and a function does not: the
real security scheme of each caller kind (back-office token, customer-channel token, the platform
signature headers of a webhook) and the generic errors every such route can answer (400, 401, 403,
413, 415, and 429 where the route has a per-caller rate). Powertools documents a 422 for validation; this API answers 400 in the envelope, so that is
replaced.
"""

from __future__ import annotations

import json
from typing import Any

from waterrev import catalog
from waterrev.api import error_schema
from waterrev.errors import ErrorCode

SECURITY_SCHEMES: dict[str, dict[str, Any]] = {
    "adminToken": {
        "type": "http",
        "scheme": "bearer",
        "description": "后台访问令牌：POST /admin-api/system/auth/login (IF-UP-001) 签发",
    },
    "customerToken": {
        "type": "http",
        "scheme": "bearer",
        "description": "客户渠道访问令牌：POST /app-api/customer/auth/channel-login 签发，仅可访问本人绑定的客户",
    },
    "sys009Signature": {
        "type": "apiKey",
        "in": "header",
        "name": "X-Sys009-Signature",
        "description": (
            "SYS-009 平台签名：RSA-SHA256 覆盖 `timestamp\\nnonce\\nbody\\n`（原始报文字节），"
            "同时携带 X-Sys009-Timestamp、X-Sys009-Nonce、X-Sys009-Serial（平台证书序列号）；5 分钟重放窗口"
        ),
    },
    "platformHmac": {
        "type": "apiKey",
        "in": "header",
        "name": "X-Waterrev-Signature",
        "description": (
            "外部平台（银行、集抄平台、SYS-008、SYS-010、电子签章）签名：HMAC-SHA256 覆盖 `timestamp\\nnonce\\nbody\\n`，"
            "同时携带 X-Waterrev-Key-Id、X-Waterrev-Timestamp、X-Waterrev-Nonce；nonce 在重放窗口内只接受一次"
        ),
    },
}

_SECURITY_BY_CALLER: dict[catalog.Caller, list[dict[str, list[str]]]] = {
    catalog.Caller.ADMIN: [{"adminToken": []}],
    catalog.Caller.CUSTOMER: [{"customerToken": []}],
    catalog.Caller.PUBLIC: [],
}

# (status, code) pairs every route of a caller kind can answer, besides what the operation declares.
_GENERIC: dict[catalog.Caller, tuple[ErrorCode, ...]] = {
    catalog.Caller.ADMIN: (ErrorCode.UNAUTHORIZED, ErrorCode.FORBIDDEN),
    catalog.Caller.CUSTOMER: (ErrorCode.UNAUTHORIZED, ErrorCode.FORBIDDEN),
    catalog.Caller.WEBHOOK: (ErrorCode.UNAUTHORIZED,),
    catalog.Caller.PUBLIC: (),
}


def _add_error(op: dict[str, Any], error: ErrorCode) -> None:
    responses = op.setdefault("responses", {})
    status = str(error.http_status)
    existing = responses.get(status)
    codes: list[int] = []
    if existing:
        schema = existing.get("content", {}).get("application/json", {}).get("schema", {})
        codes = list(schema.get("properties", {}).get("code", {}).get("enum", []))
    if error.code in codes:
        return
    codes.append(error.code)
    lines = [existing["description"]] if existing and existing.get("description") else []
    lines.append(f"{error.code} {error.message}")
    responses[status] = {
        "description": "; ".join(lines),
        "content": {"application/json": {"schema": error_schema(codes)}},
    }


# The routes SYS-009 signs with its RSA key (its payment and refund notifications); every other webhook
# is signed with a platform HMAC key (waterrev.webhook).
SYS009_SIGNED = frozenset({"/open-api/pay/notify", "/open-api/pay/refund-notify"})


def _webhook_security(route: catalog.Route) -> list[dict[str, list[str]]]:
    return [{"sys009Signature": []}] if route.path in SYS009_SIGNED else [{"platformHmac": []}]


# The headers a webhook's signature comes with (the scheme names only the signature itself).
_SIGNATURE_HEADERS = {
    "sys009Signature": (
        ("X-Sys009-Timestamp", "签名时间戳（Unix 秒），5 分钟内有效"),
        ("X-Sys009-Nonce", "随机串，与时间戳、原始报文一起签名"),
        ("X-Sys009-Serial", "平台证书序列号，选择验签公钥"),
    ),
    "platformHmac": (
        ("X-Waterrev-Key-Id", "签名密钥 ID（可轮换）"),
        ("X-Waterrev-Timestamp", "签名时间戳（Unix 秒），重放窗口内有效"),
        ("X-Waterrev-Nonce", "随机串，重放窗口内只接受一次"),
    ),
}


def _signature_headers(op: dict[str, Any], scheme: str) -> None:
    params = op.setdefault("parameters", [])
    named = {p.get("name", "").lower() for p in params}
    for name, meaning in _SIGNATURE_HEADERS[scheme]:
        if name.lower() not in named:
            params.append(
                {
                    "name": name,
                    "in": "header",
                    "required": True,
                    "schema": {"type": "string"},
                    "description": meaning,
                }
            )


def finish_operation(op: dict[str, Any], interface: catalog.Interface, route: catalog.Route) -> None:
    """Tag, secure and complete one operation's error replies from the catalog."""
    op["x-interface-id"] = interface.if_id
    op["tags"] = [f"{interface.if_id} {interface.name}"]
    op["security"] = (
        _webhook_security(route)
        if route.caller is catalog.Caller.WEBHOOK
        else _SECURITY_BY_CALLER[route.caller]
    )
    if route.caller is catalog.Caller.WEBHOOK:
        _signature_headers(op, next(iter(op["security"][0])))
    if route.permission:
        op["x-permission"] = route.permission
        op["description"] = (op.get("description") or "") + f"\n\n所需权限：`{route.permission}`"
    responses = op.setdefault("responses", {})
    if "HTTPValidationError" in json.dumps(responses.get("422") or {}):
        # Powertools' own validation 422: this API answers 400 in the envelope instead. A 422 an operation
        # declares itself is a business error (1_002_008_001, 1_002_008_003, 1_002_006_002) and stays.
        responses.pop("422")
    has_input = bool(op.get("parameters")) or "requestBody" in op or route.caller is catalog.Caller.WEBHOOK
    if has_input:
        _add_error(op, ErrorCode.BAD_REQUEST)
    if "requestBody" in op and route.caller is not catalog.Caller.WEBHOOK:
        _add_error(op, ErrorCode.UNSUPPORTED_MEDIA_TYPE)
    if "requestBody" in op or route.caller is catalog.Caller.WEBHOOK:
        _add_error(op, ErrorCode.PAYLOAD_TOO_LARGE)
    if route.rate is not None:
        _add_error(op, ErrorCode.TOO_MANY_REQUESTS)
        op["x-rate-limit"] = {
            "calls": route.rate.calls,
            "windowSeconds": route.rate.window_s,
            "per": "caller",
        }
        op["description"] = (
            op.get("description") or ""
        ) + f"\n\n限流：每位调用者每 {route.rate.window_s} 秒最多 {route.rate.calls} 次，超出返回 429"
    for error in _GENERIC[route.caller]:
        _add_error(op, error)
    if any(p.get("in") == "path" for p in op.get("parameters", [])):
        _add_error(op, ErrorCode.NOT_FOUND)  # a path value no route matches answers the resolver's 404


def build(modules: dict[str, Any]) -> dict[str, Any]:
    """The merged document; `modules` maps a function name to its imported handler module."""
    spec: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {
            "title": "SYS-002 营收业务系统 API",
            "version": "0.1.0",
            "description": (
                "每个应答都是信封 {code, data, msg}：code 0 为成功，400-499 为通用错误，1_002_xxx_xxx 为业务错误"
                "（docs/ERRORS.md）。金额为两位小数的字符串，时间为 Asia/Shanghai 的 `YYYY-MM-DD HH:MM:SS`。"
                "每个操作的 x-interface-id 是设计文档中的接口编号。"
            ),
        },
        "paths": {},
        "components": {"schemas": {}, "securitySchemes": SECURITY_SCHEMES},
    }
    by_key = {r.route_key: (i, r) for i in catalog.built() for r in i.routes}
    for interface in catalog.built():
        assert interface.function is not None
        module = modules[interface.function]
        if not hasattr(module, "app"):
            continue
        schema = json.loads(module.app.get_openapi_json_schema(title=interface.name))
        for path, ops in schema.get("paths", {}).items():
            for method, op in ops.items():
                found = by_key.get(f"{method.upper()} {path}")
                if found is None or found[0] is not interface:
                    continue
                finish_operation(op, *found)
                spec["paths"].setdefault(path, {})[method] = op
        for name, component in schema.get("components", {}).get("schemas", {}).items():
            if name in ("HTTPValidationError", "ValidationError"):
                continue
            known = spec["components"]["schemas"].get(name)
            if known is not None and known != component:
                # two handlers' models of one name: the document would silently keep only the last one
                raise ValueError(f"two different models are named {name}: rename one ({interface.function})")
            spec["components"]["schemas"][name] = component
    return spec


def documented_codes(spec: dict[str, Any], method: str, path: str) -> dict[int, set[int]]:
    """HTTP status -> the envelope codes an operation documents for it (0 for a success reply)."""
    op = spec["paths"].get(path, {}).get(method.lower(), {})
    found: dict[int, set[int]] = {}
    for status, response in op.get("responses", {}).items():
        schema = response.get("content", {}).get("application/json", {}).get("schema", {})
        enum = schema.get("properties", {}).get("code", {}).get("enum")
        found[int(status)] = set(enum) if enum else {0}
    return found
