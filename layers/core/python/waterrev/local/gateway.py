"""A local HTTP gateway that behaves like API Gateway HTTP API (payload v2) in front of our handlers.

Routes come from the catalog, exactly as CDK creates them. Each request becomes a v2 event with
the matched routeKey and path parameters and is passed to the same `handler` the cloud runs. One
lock per function mirrors Lambda running one request at a time in an execution environment.
"""

from __future__ import annotations

import base64
import importlib
import re
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from waterrev import catalog, envelope
from waterrev.errors import ErrorCode

REPO_ROOT = Path(__file__).resolve().parents[5]


@dataclass
class Target:
    interface: catalog.Interface
    route: catalog.Route
    pattern: re.Pattern[str]
    handler: Any
    lock: threading.Lock


class FakeLambdaContext:
    def __init__(self, function_name: str) -> None:
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = 512
        self.invoked_function_arn = f"arn:aws:lambda:local:000000000000:function:{function_name}"
        self.aws_request_id = str(uuid.uuid4())
        self._deadline = time.monotonic() + 30

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def load_handler(function: str) -> Any:
    if str(REPO_ROOT) not in sys.path:
        sys.path.insert(0, str(REPO_ROOT))
    return importlib.import_module(f"functions.{function}.handler")


def build_targets() -> list[Target]:
    targets: list[Target] = []
    for interface in catalog.built():
        assert interface.function is not None
        module = load_handler(interface.function)
        lock = threading.Lock()
        for route in interface.routes:
            regex = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(route.path))
            targets.append(Target(interface, route, re.compile(f"^{regex}$"), module.handler, lock))
    # API Gateway prefers the most specific route: static paths before parameterized ones.
    targets.sort(key=lambda t: "{" in t.route.path)
    return targets


def to_event(
    method: str,
    raw_path: str,
    query: str,
    headers: dict[str, str],
    body: bytes,
    target: Target,
    path_params: dict[str, str],
    source_ip: str,
) -> dict[str, Any]:
    now = time.time()
    query_params: dict[str, str] = {}
    for key, value in parse_qsl(query, keep_blank_values=True):
        query_params[key] = f"{query_params[key]},{value}" if key in query_params else value
    text_body: str | None = None
    is_base64 = False
    if body:
        try:
            text_body = body.decode("utf-8")
        except UnicodeDecodeError:
            text_body, is_base64 = base64.b64encode(body).decode(), True
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": target.route.route_key,
        "rawPath": raw_path,
        "rawQueryString": query,
        "headers": {k.lower(): v for k, v in headers.items()},
        "requestContext": {
            "accountId": "000000000000",
            "apiId": "local",
            "domainName": headers.get("Host", "127.0.0.1"),
            "http": {
                "method": method,
                "path": raw_path,
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": headers.get("User-Agent", ""),
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": target.route.route_key,
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "timeEpoch": int(now * 1000),
        },
        "isBase64Encoded": is_base64,
    }
    if query_params:
        event["queryStringParameters"] = query_params
    if path_params:
        event["pathParameters"] = path_params
    if text_body is not None:
        event["body"] = text_body
    return event


def merged_openapi(targets: list[Target]) -> dict[str, Any]:
    """One OpenAPI document for every served route (waterrev.local.openapi)."""
    from waterrev.local import openapi

    modules = {
        t.interface.function: load_handler(t.interface.function) for t in targets if t.interface.function
    }
    return openapi.build(modules)


SWAGGER_HTML = """<!doctype html><html><head><meta charset="utf-8"><title>SYS-002 API</title>
<link rel="stylesheet" href="https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui.css"></head>
<body><div id="ui"></div><script src="https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui-bundle.js">
</script><script>SwaggerUIBundle({url: "/openapi.json", dom_id: "#ui"});</script></body></html>"""


def make_server(host: str, port: int) -> ThreadingHTTPServer:
    targets = build_targets()
    openapi = envelope.dumps(merged_openapi(targets)).encode()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt: str, *args: Any) -> None:  # the handlers log structurally
            return

        def _send(
            self,
            status: int,
            body: bytes,
            content_type: str = "application/json",
            headers: dict[str, str] | None = None,
        ) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for key, value in (headers or {}).items():
                if key.lower() not in ("content-type", "content-length"):
                    self.send_header(key, value)
            self.end_headers()
            self.wfile.write(body)

        def _dispatch(self) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            if self.command == "GET" and parts.path == "/openapi.json":
                return self._send(200, openapi)
            if self.command == "GET" and parts.path in ("/docs", "/docs/"):
                return self._send(200, SWAGGER_HTML.encode(), "text/html; charset=utf-8")
            for target in targets:
                if target.route.method != self.command:
                    continue
                match = target.pattern.match(parts.path)
                if match is None:
                    continue
                event = to_event(
                    self.command,
                    parts.path,
                    parts.query,
                    dict(self.headers.items()),
                    body,
                    target,
                    match.groupdict(),
                    self.client_address[0],
                )
                assert target.interface.function is not None
                with target.lock:
                    result = target.handler(event, FakeLambdaContext(target.interface.function))
                payload = result.get("body") or ""
                raw = base64.b64decode(payload) if result.get("isBase64Encoded") else payload.encode()
                headers = dict(result.get("headers") or {})
                return self._send(
                    int(result.get("statusCode", 200)),
                    raw,
                    headers.get("Content-Type", "application/json"),
                    headers,
                )
            missing = envelope.fail(ErrorCode.NOT_FOUND.code, f"{ErrorCode.NOT_FOUND.message}：{parts.path}")
            return self._send(404, envelope.dumps(missing).encode())

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _dispatch

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    return server
