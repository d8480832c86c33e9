"""A local HTTP gateway that behaves like API Gateway HTTP API (payload v2) in front of our handlers.

Routes come from the catalog, exactly as CDK creates them. Each request becomes a v2 event with
the matched routeKey and path parameters and is passed to the same `handler` the cloud runs.
Concurrency is Lambda's: each function has execution environments (a fresh import of its handler
module each) that serve one request at a time; a request takes an idle one or starts another, up
to WATERREV_LOCAL_CONCURRENCY requests running at once in the whole gateway.
"""

from __future__ import annotations

import base64
import importlib
import importlib.util
import itertools
import os
import re
import sys
import threading
import time
import traceback
import uuid
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from waterrev import catalog, envelope
from waterrev.errors import ErrorCode

REPO_ROOT = Path(__file__).resolve().parents[5]
DEFAULT_CONCURRENCY = 10
PAYLOAD_LIMIT = (
    10 * 1024 * 1024
)  # API Gateway's HTTP API payload quota: bigger requests never reach a function


def local_concurrency() -> int:
    """How many requests run at once in the local stack (WATERREV_LOCAL_CONCURRENCY): Lambda's
    concurrency limit, small. Each running request may hold one database connection."""
    return max(1, int(os.environ.get("WATERREV_LOCAL_CONCURRENCY") or DEFAULT_CONCURRENCY))


_environment_ids = itertools.count(1)


def new_environment(function: str) -> ModuleType:
    """A fresh import of functions/<function>/handler.py under a module name of its own, as a new
    Lambda execution environment imports it: the handler's resolver (`app`) keeps the current
    request's context, so two requests running at once must never share one module."""
    path = REPO_ROOT / "functions" / function / "handler.py"
    name = f"functions.{function}.handler_env{next(_environment_ids)}"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


class Environments:
    """The execution environments of one function. An environment serves one request at a time; a
    request takes an idle one or starts a new one (a cold start). `slots`, shared by every function of
    a gateway, caps how many requests run at once; beyond it a request waits for a slot."""

    def __init__(self, function: str, slots: threading.BoundedSemaphore) -> None:
        self.function = function
        self._slots = slots
        self._idle: list[ModuleType] = []
        self._started = 0
        self._guard = threading.Lock()

    @property
    def started(self) -> int:
        """How many environments this function has had to start: its peak concurrency."""
        return self._started

    def invoke(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        with self._slots:
            with self._guard:
                module = self._idle.pop() if self._idle else None
                if module is None:
                    self._started += 1
            if module is None:
                try:
                    module = new_environment(self.function)
                except BaseException:
                    with self._guard:
                        self._started -= 1
                    raise
            try:
                return dict(module.handler(event, context))
            finally:
                with self._guard:
                    self._idle.append(module)


@dataclass
class Target:
    """One catalog route. `environments` runs requests as Lambda would (several at once, each in an
    environment of its own); `handler` is the function's ordinary import, for a caller that runs one
    request at a time itself (benchmarks, OpenAPI)."""

    interface: catalog.Interface
    route: catalog.Route
    pattern: re.Pattern[str]
    handler: Any
    environments: Environments


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


def build_targets(concurrency: int | None = None) -> list[Target]:
    """The catalog's routes, most specific first, with one set of environments per function and at
    most `concurrency` (default: local_concurrency()) requests running at once across all of them."""
    slots = threading.BoundedSemaphore(concurrency or local_concurrency())
    targets: list[Target] = []
    for interface in catalog.built():
        assert interface.function is not None
        module = load_handler(interface.function)
        environments = Environments(interface.function, slots)
        for route in interface.routes:
            regex = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(route.path))
            targets.append(Target(interface, route, re.compile(f"^{regex}$"), module.handler, environments))
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
<link rel="icon" type="image/png" href="/docs/assets/favicon-32x32.png">
<link rel="stylesheet" href="/docs/assets/swagger-ui.css"></head>
<body><div id="ui"></div><script src="/docs/assets/swagger-ui-bundle.js"></script>
<script>SwaggerUIBundle({url: "/openapi.json", dom_id: "#ui", validatorUrl: null});</script></body></html>"""
ASSETS = "/docs/assets/"
ASSET_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".map": "application/json",
    ".png": "image/png",
}


def swagger_asset(name: str) -> tuple[bytes, str] | None:
    """A file of Swagger UI's distribution (the dev dependency swagger-ui-bundle-v2) and its content
    type. The stack serves them itself: neither these machines nor a utility's closed network reach a
    CDN, and a page that loads its scripts from one is blank there."""
    suffix = Path(name).suffix
    if not re.fullmatch(r"[A-Za-z0-9][\w.-]*", name) or suffix not in ASSET_TYPES:
        return None
    try:
        from swagger_ui_bundle import swagger_ui_path
    except ImportError:  # runtime dependencies only: /docs has nothing to show
        return None
    asset = swagger_ui_path.joinpath(name)
    return (asset.read_bytes(), ASSET_TYPES[suffix]) if asset.is_file() else None


class GatewayServer(ThreadingHTTPServer):
    """http.server's listen backlog of 5 resets connections when a burst arrives together (20 at once
    lost 1-3%); API Gateway takes them all."""

    request_queue_size = 128
    daemon_threads = True
    targets: list[Target]

    def environments(self, function: str) -> Environments:
        """The execution environments of `function` (tests look at how many were started)."""
        for target in self.targets:
            if target.interface.function == function:
                return target.environments
        raise KeyError(function)


def allowed_methods(targets: list[Target], path: str) -> list[str]:
    """The methods some route has for `path`: a request with another method is a 405, not a 404."""
    methods = {t.route.method for t in targets if t.pattern.match(path)}
    if path in ("/openapi.json", "/docs", "/docs/") or path.startswith(ASSETS):
        methods.add("GET")
    return sorted(methods)


def make_server(host: str, port: int, *, concurrency: int | None = None) -> GatewayServer:
    targets = build_targets(concurrency)
    openapi = envelope.dumps(merged_openapi(targets)).encode()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        default_request_version = "HTTP/1.1"  # a garbled request line still gets a status line back

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
            if self.command != "HEAD":  # a HEAD answer has the headers of the body it does not send
                self.wfile.write(body)

        def _fail(
            self, error: ErrorCode, detail: str | None = None, headers: dict[str, str] | None = None
        ) -> None:
            msg = f"{error.message}：{detail}" if detail else error.message
            body = envelope.dumps(envelope.fail(error.code, msg)).encode()
            self._send(error.http_status, body, headers=headers)

        def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
            """What http.server refuses on its own is answered in the envelope too, never in HTML: a
            method no route has goes through the routing (404 or 405); anything else - a malformed
            request line, a bad version, a line or headers too long - is the client's error (400)."""
            if code == HTTPStatus.NOT_IMPLEMENTED and self.command:
                self.close_connection = True  # its body, if any, was not read
                return self._refuse(urlsplit(self.path).path)
            self.close_connection = True
            self._fail(ErrorCode.BAD_REQUEST, message or HTTPStatus(code).phrase, {"Connection": "close"})

        def _refuse(self, path: str) -> None:
            allowed = allowed_methods(targets, path)
            if allowed:
                return self._fail(
                    ErrorCode.METHOD_NOT_ALLOWED, f"{self.command} {path}", {"Allow": ", ".join(allowed)}
                )
            return self._fail(ErrorCode.NOT_FOUND, path)

        def _read_chunked(self, limit: int = PAYLOAD_LIMIT) -> bytes:
            """A body sent with Transfer-Encoding: chunked (API Gateway accepts it; so must we)."""
            chunks: list[bytes] = []
            total = 0
            while True:
                size_line = self.rfile.readline(1024).split(b";", 1)[0].strip()
                size = int(size_line, 16)  # ValueError for a malformed size line
                if size == 0:
                    while self.rfile.readline(1024).strip():  # trailers, up to the empty line
                        pass
                    return b"".join(chunks)
                total += size
                if size < 0 or total > limit:
                    raise ValueError("chunked body too large")
                chunks.append(self.rfile.read(size))
                self.rfile.readline(1024)  # the CRLF after each chunk

        def _dispatch(self) -> None:
            parts = urlsplit(self.path)
            try:
                length = int(self.headers.get("Content-Length") or 0)
                if length < 0:
                    raise ValueError(length)
            except ValueError:
                self.close_connection = True
                return self._fail(ErrorCode.BAD_REQUEST, "Content-Length", {"Connection": "close"})
            if length > PAYLOAD_LIMIT:  # refused unread, as API Gateway refuses a payload over its quota
                self.close_connection = True
                return self._fail(
                    ErrorCode.PAYLOAD_TOO_LARGE,
                    f"Content-Length {length} > {PAYLOAD_LIMIT}",
                    {"Connection": "close"},
                )
            if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
                try:
                    body = self._read_chunked()
                except ValueError:
                    self.close_connection = True
                    return self._fail(ErrorCode.BAD_REQUEST, "Transfer-Encoding", {"Connection": "close"})
            else:
                body = self.rfile.read(length) if length else b""
            if self.command == "GET" and parts.path == "/openapi.json":
                return self._send(200, openapi)
            if self.command == "GET" and parts.path in ("/docs", "/docs/"):
                return self._send(200, SWAGGER_HTML.encode(), "text/html; charset=utf-8")
            if self.command == "GET" and parts.path.startswith(ASSETS):
                asset = swagger_asset(parts.path.removeprefix(ASSETS))
                if asset is None:
                    return self._fail(ErrorCode.NOT_FOUND, parts.path)
                return self._send(200, *asset)
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
                try:
                    result = target.environments.invoke(event, FakeLambdaContext(target.interface.function))
                except Exception:  # the function itself failed (an import error, say): Lambda's 500
                    traceback.print_exc()
                    return self._fail(ErrorCode.INTERNAL_ERROR, event["requestContext"]["requestId"])
                payload = result.get("body") or ""
                raw = base64.b64decode(payload) if result.get("isBase64Encoded") else payload.encode()
                headers = dict(result.get("headers") or {})
                return self._send(
                    int(result.get("statusCode", 200)),
                    raw,
                    headers.get("Content-Type", "application/json"),
                    headers,
                )
            return self._refuse(parts.path)

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _dispatch

    server = GatewayServer((host, port), Handler)
    server.targets = targets
    return server
