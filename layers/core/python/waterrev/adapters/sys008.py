"""Our client of the SYS-008 invoice platform (IF-EXT-006; protocol: docs/SYS008.md).

Every request is signed with the app secret: X-Sys008-App-Id, -Timestamp, -Nonce and -Signature, the
hex HMAC-SHA256 of `METHOD\\npath?query\\ntimestamp\\nnonce\\nsha256(body)`. An error answer raises
`Sys008Error(code, http_status)`; 4xx with a business code is SYS-008 refusing the request, 5xx and
network errors are transient. A timeout raises `Sys008Timeout`: the outcome is unknown, so the caller
keeps its pending state and the compensation query finds out (every request is idempotent by requestNo).
Calls never happen inside a database transaction.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import threading
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from waterrev.security import hmac_sha256

if TYPE_CHECKING:
    import httpx

BATCH_QUERY_MAX = 200  # requestNos in one batch query (an assumption about SYS-008: docs/SYS008.md)


class Sys008Exception(Exception):
    """Any failure talking to SYS-008."""


class Sys008Error(Sys008Exception):
    """SYS-008 answered with an error (http_status 0: no answer, the request never got there)."""

    def __init__(self, code: str, http_status: int, message: str = "") -> None:
        super().__init__(f"SYS-008 {http_status} {code}" + (f": {message}" if message else ""))
        self.code = code
        self.http_status = http_status
        self.message = message

    @property
    def refused(self) -> bool:
        """SYS-008 decided against the request (a business refusal), as opposed to failing to answer."""
        return 400 <= self.http_status < 500 and self.http_status not in (401, 408, 429)


class Sys008Timeout(Sys008Exception):
    """No answer in time: the request may or may not have taken effect."""


def sign(secret: str, method: str, target: str, timestamp: str, nonce: str, body: bytes) -> str:
    digest = hashlib.sha256(body).hexdigest()
    return hmac_sha256(secret, f"{method}\n{target}\n{timestamp}\n{nonce}\n{digest}")


_HTTP: list[httpx.Client] = []
_HTTP_LOCK = threading.Lock()


def _shared_http() -> httpx.Client:
    """One connection pool per execution environment, created on first use."""
    with _HTTP_LOCK:
        if not _HTTP:
            import httpx

            _HTTP.append(
                httpx.Client(
                    headers={"User-Agent": "waterrev-sys008/1"},
                    limits=httpx.Limits(max_connections=32, max_keepalive_connections=32),
                )
            )
        return _HTTP[0]


class Sys008Client:
    def __init__(
        self,
        base_url: str,
        app_id: str,
        app_secret: str,
        timeout_s: float = 5,
        http: httpx.Client | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.app_id = app_id
        self._secret = app_secret
        self.timeout_s = timeout_s
        self._http = http
        self._prefix = urlsplit(self.base_url).path

    # ---- IF-EXT-006: the application and its post-processing --------------------------------
    def apply(self, application: dict[str, Any]) -> dict[str, Any]:
        """Send an application (SYS-008 field names, docs/SYS008.md); the same requestNo gives the same
        answer. Returns {requestNo, sysRequestNo, invoiceStatus}."""
        return self._call("POST", "/v1/invoices", application)

    def query(
        self, *, request_no: str | None = None, sys_request_no: str | None = None
    ) -> dict[str, Any] | None:
        """The platform's view of one invoice (with its void / red-ink operations), or None when
        SYS-008 does not know it."""
        if sys_request_no:
            path = f"/v1/invoices/{quote(sys_request_no, safe='')}"
        elif request_no:
            path = f"/v1/invoices?requestNo={quote(request_no, safe='')}"
        else:
            raise ValueError("name the invoice: request_no or sys_request_no")
        try:
            return self._call("GET", path, None)
        except Sys008Error as exc:
            if exc.http_status == 404 and exc.code == "INVOICE_NOT_EXIST":
                return None
            raise

    def query_batch(self, request_nos: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Views of up to BATCH_QUERY_MAX invoices by requestNo, {requestNo: view}; unknown ones are absent."""
        if len(request_nos) > BATCH_QUERY_MAX:
            raise ValueError(f"at most {BATCH_QUERY_MAX} requestNos a batch")
        reply = self._call("POST", "/v1/invoices/batch-query", {"requestNos": list(request_nos)})
        return {str(v["requestNo"]): v for v in reply.get("data", [])}

    def invalidate(self, sys_request_no: str, operation: dict[str, Any]) -> dict[str, Any]:
        """Ask for a void (作废); the answer means accepted: {requestNo, operationStatus}."""
        return self._call("POST", f"/v1/invoices/{quote(sys_request_no, safe='')}/invalidate", operation)

    def red_ink(self, sys_request_no: str, operation: dict[str, Any]) -> dict[str, Any]:
        """Ask for a red-ink (红冲): {requestNo, operationStatus, redFormNo, redFormStatus}."""
        return self._call("POST", f"/v1/invoices/{quote(sys_request_no, safe='')}/red-ink", operation)

    def fetch_file(self, file_url: str, *, max_bytes: int = 10 << 20) -> bytes:
        """The invoice file at the platform's address (signed like every request); only an address on
        the platform itself is fetched."""
        import httpx

        if not file_url.startswith(self.base_url + "/"):
            raise Sys008Error("FILE_URL_FOREIGN", 0, "the file is not on the SYS-008 platform")
        target = self._prefix + file_url[len(self.base_url) :]
        http = self._http or _shared_http()
        try:
            reply = http.get(file_url, headers=self._headers("GET", target, b""), timeout=self.timeout_s)
        except httpx.TimeoutException as exc:
            raise Sys008Timeout(f"SYS-008 GET file: no answer in {self.timeout_s} s") from exc
        except httpx.TransportError as exc:
            raise Sys008Error("NETWORK_ERROR", 0, str(exc)) from exc
        if not reply.is_success:
            raise Sys008Error(f"HTTP_{reply.status_code}", reply.status_code, "file")
        if len(reply.content) > max_bytes or not reply.content.startswith(b"%PDF"):
            raise Sys008Error("BAD_FILE", reply.status_code, "not a PDF of a sensible size")
        return reply.content

    # ---- the wire ------------------------------------------------------------------------------
    def _headers(self, method: str, target: str, body: bytes) -> dict[str, str]:
        ts, nonce = str(int(time.time())), secrets.token_hex(16)
        return {
            "X-Sys008-App-Id": self.app_id,
            "X-Sys008-Timestamp": ts,
            "X-Sys008-Nonce": nonce,
            "X-Sys008-Signature": sign(self._secret, method, target, ts, nonce, body),
            "Accept": "application/json",
        }

    def _call(self, method: str, path: str, payload: dict[str, Any] | None) -> dict[str, Any]:
        import httpx

        body = (
            b""
            if payload is None
            else json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
        )
        headers = self._headers(method, self._prefix + path, body)
        if payload is not None:
            headers["Content-Type"] = "application/json; charset=utf-8"
        http = self._http or _shared_http()
        try:
            reply = http.request(
                method, self.base_url + path, content=body, headers=headers, timeout=self.timeout_s
            )
        except httpx.TimeoutException as exc:
            raise Sys008Timeout(f"SYS-008 {method} {path}: no answer in {self.timeout_s} s") from exc
        except httpx.TransportError as exc:
            raise Sys008Error("NETWORK_ERROR", 0, str(exc)) from exc
        try:
            data = reply.json()
        except ValueError:
            data = None
        if not reply.is_success:
            code = data.get("code") if isinstance(data, dict) else None
            message = data.get("message", "") if isinstance(data, dict) else reply.text[:200]
            raise Sys008Error(str(code or f"HTTP_{reply.status_code}"), reply.status_code, str(message))
        if not isinstance(data, dict):
            raise Sys008Error("BAD_REPLY", reply.status_code, "the answer is not a JSON object")
        return data


_secret_config: dict[str, Any] = {}


def _config() -> dict[str, Any]:
    from waterrev.settings import get_settings

    s = get_settings()
    if s.sys008_secret_arn and not s.sys008_base_url:
        if not _secret_config:
            import boto3

            raw = boto3.client("secretsmanager").get_secret_value(SecretId=s.sys008_secret_arn)[
                "SecretString"
            ]
            _secret_config.update(json.loads(raw))
        return dict(_secret_config)
    return {"baseUrl": s.sys008_base_url, "appId": s.sys008_app_id, "appSecret": s.sys008_app_secret}


def client_from_settings() -> Sys008Client:
    """The client configured by WATERREV_SYS008_BASE_URL / _APP_ID / _APP_SECRET (or the secret)."""
    c = _config()
    if not (c.get("baseUrl") and c.get("appId") and c.get("appSecret")):
        # as a platform that cannot be reached: what was asked stays pending, compensation tries later
        raise Sys008Error(
            "NOT_CONFIGURED",
            0,
            "SYS-008 is not configured: set WATERREV_SYS008_BASE_URL, WATERREV_SYS008_APP_ID "
            "and WATERREV_SYS008_APP_SECRET (or WATERREV_SYS008_SECRET_ARN)",
        )
    return Sys008Client(c["baseUrl"], c["appId"], c["appSecret"])
