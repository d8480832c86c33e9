"""Each request's log lines carry its own request id, also when requests run at once in one process
(the local gateway runs several execution environments of a function side by side)."""

from __future__ import annotations

import io
import json
import logging
import threading
from typing import Any

from waterrev.api import lambda_handler, new_app
from waterrev.logs import get_logger

PUBLIC_ROUTE = ("POST", "/admin-api/system/auth/login")  # no token needed: no database in this test


def _environment(both_inside: threading.Barrier) -> Any:
    """A handler like any function's, in an execution environment of its own."""
    app = new_app(validation=False)

    @app.post(PUBLIC_ROUTE[1])
    def work() -> dict:
        both_inside.wait()  # the other request has set its keys by now
        get_logger().info("work")
        return {}

    return lambda_handler(app)


def _event(request_id: str) -> dict[str, Any]:
    method, path = PUBLIC_ROUTE
    return {
        "version": "2.0",
        "routeKey": f"{method} {path}",
        "rawPath": path,
        "headers": {"content-type": "application/json"},
        "body": "{}",
        "requestContext": {
            "requestId": request_id,
            "stage": "$default",
            "http": {"method": method, "path": path},
        },
        "isBase64Encoded": False,
    }


def test_concurrent_requests_log_their_own_request_ids() -> None:
    """Given two environments of a function handling requests A and B at the same time, when each logs
    after both have started, then A's line names A and B's names B (keys kept per process would give
    one of them the other's id)."""
    logger = get_logger()
    stream = io.StringIO()
    capture = logging.StreamHandler(stream)
    capture.setFormatter(logger.registered_formatter)
    logger.addHandler(capture)
    both_inside = threading.Barrier(2)
    envs = {rid: _environment(both_inside) for rid in ("req-A", "req-B")}
    try:
        threads = [threading.Thread(target=envs[rid], args=(_event(rid), None)) for rid in envs]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        logger.removeHandler(capture)

    lines = [json.loads(line) for line in stream.getvalue().splitlines() if '"message":"work"' in line]
    assert sorted(line["request_id"] for line in lines) == ["req-A", "req-B"]
