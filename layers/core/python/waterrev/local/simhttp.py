"""What every simulator's HTTP handler shares (SYS-008/009/010, the e-signature service): quiet logs,
GET and POST routed to `_route(method)`, a body read up to a limit (413 beyond it), and JSON or raw
answers that tolerate a caller which already gave up (its timeout) before the answer."""

from __future__ import annotations

import json
from http.server import BaseHTTPRequestHandler
from typing import Any

MAX_BODY = 1 << 20


class SimHandler(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._route("GET")

    def do_POST(self) -> None:
        self._route("POST")

    def _route(self, method: str) -> None:
        raise NotImplementedError

    def _body(self, limit: int = MAX_BODY) -> bytes | None:
        """The request body, or None after answering 413 (a length that is not a number, or too long)."""
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if not 0 <= length <= limit:
            self._send_json(413, {"code": "PARAM_ERROR", "message": "body too large"})
            return None
        return self.rfile.read(length) if length else b""

    def _send_json(self, status: int, payload: Any) -> None:
        self._send(
            status, json.dumps(payload, ensure_ascii=False).encode(), "application/json; charset=utf-8"
        )

    def _send(self, status: int, content: bytes, content_type: str) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(content)))
            self.end_headers()
            self.wfile.write(content)
        except OSError:  # the caller gave up (its timeout) before the answer
            pass
