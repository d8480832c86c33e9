"""The local gateway over real sockets: bursts are all answered, one function serves requests at once
in environments of its own (as Lambda scales out), and whatever it refuses is refused in the envelope."""

from __future__ import annotations

import http.client
import json
import select
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from waterrev.local.gateway import GatewayServer

REFRESH = "/admin-api/system/auth/refresh-token"  # IF-UP-001, public: no token, no database needed
PERMISSION_INFO = "/admin-api/system/auth/get-permission-info"  # IF-UP-002: without a token, a 401


@pytest.fixture
def gateway() -> Iterator[GatewayServer]:
    """A gateway on a free loopback port, not yet accepting: the test starts it with `serve`."""
    from waterrev.local.gateway import make_server

    server = make_server("127.0.0.1", 0)
    yield server
    if getattr(server, "serving", False):  # shutdown() waits for a loop that was never started
        server.shutdown()
    server.server_close()


def serve(server: GatewayServer) -> int:
    server.serving = True  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return int(server.server_address[1])


def exchange(port: int, raw: bytes, method: str = "GET") -> tuple[http.client.HTTPResponse, bytes]:
    """Send `raw` bytes as they are (http.client would not send a malformed request) and read the answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(raw)
        response = http.client.HTTPResponse(sock, method=method)
        response.begin()
        return response, response.read()


def envelope_of(response: http.client.HTTPResponse, body: bytes) -> dict[str, Any]:
    assert response.getheader("Content-Type", "").startswith("application/json"), response.getheaders()
    parsed = json.loads(body)
    assert set(parsed) == {"code", "data", "msg"} and parsed["data"] is None, parsed
    return dict(parsed)


# ------------------------------------------------------------------------------- concurrency --
def test_a_burst_of_40_connections_is_all_accepted_and_answered(gateway: GatewayServer) -> None:
    """Given a gateway whose accept loop is busy (not yet running)
    When 40 clients connect at once and each sends a request
    Then the kernel completes all 40 handshakes (http.server's backlog of 5 held 6 and dropped the
    rest) and, once the gateway runs, each gets its own envelope: none is reset."""
    port = int(gateway.server_address[1])
    clients = []
    for _ in range(40):
        client = socket.socket()
        client.setblocking(False)
        client.connect_ex(("127.0.0.1", port))
        clients.append(client)
    try:
        established: set[socket.socket] = set()
        deadline = time.monotonic() + 10
        while len(established) < len(clients) and time.monotonic() < deadline:
            _, writable, _ = select.select([], [c for c in clients if c not in established], [], 0.2)
            established.update(c for c in writable if c.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0)
        assert len(established) == 40, f"only {len(established)} of 40 connections were accepted"

        request = f"GET {PERMISSION_INFO} HTTP/1.1\r\nHost: local\r\nConnection: close\r\n\r\n".encode()
        for client in clients:
            client.setblocking(True)
            client.settimeout(60)
            client.sendall(request)
        serve(gateway)

        def answer(client: socket.socket) -> dict[str, Any]:
            response = http.client.HTTPResponse(client, method="GET")
            response.begin()
            assert response.status == 401
            return envelope_of(response, response.read())

        with ThreadPoolExecutor(8) as pool:
            replies = list(pool.map(answer, clients))
    finally:
        for client in clients:
            client.close()

    assert [r["code"] for r in replies] == [401] * 40


def test_two_requests_to_one_function_run_at_once_each_with_its_own_context(
    gateway: GatewayServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Given a gateway, and IF-UP-001's refresh made to answer the user agent its request context holds
    When two refresh requests (user agents "one" and "two") are sent at once
    Then both are inside the function at the same time (a barrier only two requests running together
    can pass: one lock per function never let them) and, although each stored its context in its
    resolver before either read it, each answers its own user agent: the two ran in two environments
    (two resolvers), as two Lambda execution environments would."""
    from aws_lambda_powertools.event_handler import APIGatewayHttpResolver

    from waterrev import api
    from waterrev.platform import auth

    inside, stored = threading.Barrier(2, timeout=30), threading.Barrier(2, timeout=30)
    real_authenticate, real_append = api.authenticate, APIGatewayHttpResolver.append_context

    def authenticate(*args: Any) -> Any:
        inside.wait()
        return real_authenticate(*args)

    def append_context(self: APIGatewayHttpResolver, **kwargs: Any) -> None:
        real_append(self, **kwargs)
        stored.wait()

    monkeypatch.setattr(api, "authenticate", authenticate)
    monkeypatch.setattr(APIGatewayHttpResolver, "append_context", append_context)
    monkeypatch.setattr(auth, "refresh", lambda ctx, _token: {"userAgent": ctx.user_agent})
    port = serve(gateway)

    def refresh(agent: str) -> tuple[int, dict[str, Any]]:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        body = json.dumps({"refreshToken": "r" * 32})
        connection.request("POST", REFRESH, body, {"Content-Type": "application/json", "User-Agent": agent})
        response = connection.getresponse()
        return response.status, json.loads(response.read())

    with ThreadPoolExecutor(2) as pool:
        replies = list(pool.map(refresh, ["one", "two"]))

    assert replies == [
        (200, {"code": 0, "data": {"userAgent": "one"}, "msg": "success"}),
        (200, {"code": 0, "data": {"userAgent": "two"}, "msg": "success"}),
    ]


def test_environments_are_fresh_imports_reused_when_idle_and_capped(monkeypatch: pytest.MonkeyPatch) -> None:
    """Given one function's environments with room for two requests at once
    When two requests run together, then a third arrives while they run, then the two end
    Then the two ran in two environments, each its own import of the handler module (its own `app`,
    not the one `functions.up_auth.handler` holds); the third waited for a free slot and then ran in
    one of the two: no third environment was started."""
    import importlib

    from waterrev.local import gateway

    real_new = gateway.new_environment
    modules: list[Any] = []
    served_by: list[Any] = []
    running, release = threading.Barrier(3, timeout=30), threading.Event()

    def new_environment(function: str) -> Any:
        module = real_new(function)
        modules.append(module)

        def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
            served_by.append(module)
            if event.get("hold"):
                running.wait()
                assert release.wait(30)
            return {"statusCode": 200, "body": "{}"}

        module.handler = handler
        return module

    monkeypatch.setattr(gateway, "new_environment", new_environment)
    environments = gateway.Environments("up_auth", threading.BoundedSemaphore(2))
    first_two = [threading.Thread(target=environments.invoke, args=({"hold": True}, None)) for _ in range(2)]
    for thread in first_two:
        thread.start()
    running.wait()  # both are inside the function at once

    third = threading.Thread(target=environments.invoke, args=({}, None))
    third.start()
    third.join(0.3)
    assert third.is_alive() and len(served_by) == 2, "the third request did not wait for a free slot"

    release.set()
    for thread in [*first_two, third]:
        thread.join(30)

    assert len(modules) == 2 and environments.started == 2
    assert modules[0].app is not modules[1].app
    assert importlib.import_module("functions.up_auth.handler").app not in (modules[0].app, modules[1].app)
    assert len(served_by) == 3 and served_by[2] in modules


# ------------------------------------------------------------------- what the gateway refuses --
@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("TRACE", "/admin-api/system/auth/login", "POST"),
        ("OPTIONS", "/admin-api/system/auth/login", "POST"),
        ("DELETE", "/app-api/customer/bill/history", "GET"),
        ("PUT", "/admin-api/revenue/customer/42", "GET"),
        ("BREW", "/admin-api/revenue/charge/bill-run", "POST"),
        ("POST", "/openapi.json", "GET"),
    ],
)
def test_a_method_the_path_does_not_have_is_a_405_envelope_naming_the_allowed_ones(
    gateway: GatewayServer, method: str, path: str, allow: str
) -> None:
    """Given a path some route has
    When it is requested with a method none of its routes has (a garbage method too)
    Then HTTP 405 with an Allow header, and the envelope with code 405 - not http.server's HTML 501."""
    port = serve(gateway)

    response, body = exchange(
        port, f"{method} {path} HTTP/1.1\r\nHost: local\r\nConnection: close\r\n\r\n".encode()
    )

    assert response.status == 405
    assert response.getheader("Allow") == allow
    assert envelope_of(response, body)["code"] == 405


def test_head_on_a_post_only_path_is_a_405_with_headers_only(gateway: GatewayServer) -> None:
    """Given a POST-only path
    When it is asked for with HEAD, twice on one kept-alive connection
    Then each answer is 405 with Allow: POST and a JSON content type, and carries no body (the second
    answer is read intact after the first)."""
    port = serve(gateway)
    head = b"HEAD /admin-api/system/auth/login HTTP/1.1\r\nHost: local\r\n\r\n"

    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        statuses = []
        for _ in range(2):
            sock.sendall(head)
            response = http.client.HTTPResponse(sock, method="HEAD")
            response.begin()
            assert response.read() == b""
            assert response.getheader("Allow") == "POST"
            assert response.getheader("Content-Type") == "application/json"
            statuses.append(response.status)

    assert statuses == [405, 405]


@pytest.mark.parametrize("method", ["GET", "TRACE", "FROB"])
def test_a_path_no_route_has_is_a_404_envelope_whatever_the_method(
    gateway: GatewayServer, method: str
) -> None:
    """Given a path no route has
    When it is requested with a known, an unusual or a garbage method
    Then HTTP 404 and the envelope with code 404."""
    port = serve(gateway)

    response, body = exchange(
        port, f"{method} /admin-api/no/such HTTP/1.1\r\nHost: l\r\nConnection: close\r\n\r\n".encode()
    )

    assert response.status == 404
    assert envelope_of(response, body)["code"] == 404


@pytest.mark.parametrize(
    "raw",
    [
        b"GARBAGE\r\n\r\n",
        b"GET /docs HTTP/1.1 extra\r\n\r\n",
        b"GET /docs HTTP/9.9\r\nHost: l\r\n\r\n",
        b"GET /docs XTTP/1.1\r\nHost: l\r\n\r\n",
        b"GET /" + b"a" * 70_000 + b" HTTP/1.1\r\n\r\n",
        b"POST /admin-api/system/auth/login HTTP/1.1\r\nHost: l\r\nContent-Length: ten\r\n\r\n",
    ],
    ids=["no-method", "four-words", "version-9.9", "not-http", "line-too-long", "bad-length"],
)
def test_a_malformed_request_is_a_400_envelope(gateway: GatewayServer, raw: bytes) -> None:
    """Given a malformed request (request line, version, length of the line, Content-Length)
    When it reaches the gateway
    Then HTTP 400 and the envelope with code 400, in JSON: nothing the gateway sends is HTML."""
    port = serve(gateway)

    response, body = exchange(port, raw)

    assert response.status == 400
    assert envelope_of(response, body)["code"] == 400


def test_a_chunked_body_reaches_the_function_as_api_gateway_would_pass_it(gateway: GatewayServer) -> None:
    """Given a login sent with Transfer-Encoding: chunked (no Content-Length)
    When it reaches the gateway
    Then the function gets the whole body: a wrong password is answered 401, not 400 "Field required"."""
    port = serve(gateway)
    payload = b'{"username": "admin", "password": "wrong-password"}'
    chunked = (
        b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in (payload[:10], payload[10:])) + b"0\r\n\r\n"
    )
    raw = (
        b"POST /admin-api/system/auth/login HTTP/1.1\r\nHost: l\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n" + chunked
    )

    response, body = exchange(port, raw, "POST")

    assert response.status == 401, body
    assert envelope_of(response, body)["code"] == 401


def test_a_malformed_chunked_body_is_a_400_envelope(gateway: GatewayServer) -> None:
    """Given a chunk size that is not hexadecimal, then 400 in the envelope."""
    port = serve(gateway)
    raw = b"POST /admin-api/system/auth/login HTTP/1.1\r\nHost: l\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n"

    response, body = exchange(port, raw, "POST")

    assert response.status == 400
    assert envelope_of(response, body)["code"] == 400


def test_a_declared_length_over_api_gateways_quota_is_a_413_unread(gateway: GatewayServer) -> None:
    """Given a request that declares a body of 11 MiB (API Gateway's quota is 10 MiB) and sends none of it
    When it reaches the gateway
    Then 413 in the envelope at once: the gateway does not wait for, or read, what it would refuse."""
    port = serve(gateway)
    raw = (
        b"POST /admin-api/system/auth/login HTTP/1.1\r\nHost: l\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\n\r\n" % (11 * 1024 * 1024)
    )

    response, body = exchange(port, raw, "POST")

    assert response.status == 413
    assert envelope_of(response, body)["code"] == 413
