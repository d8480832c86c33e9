"""Our client of the e-signature service (IF-INST-003; protocol: docs/ESIGN.md).

Every request is signed with the app secret: X-Esign-App-Id, -Timestamp, -Nonce and -Signature, the
hex HMAC-SHA256 of `METHOD\\npath?query\\ntimestamp\\nnonce\\nsha256(body)`. An error answer raises
`EsignError(code, http_status)`; a timeout raises `EsignTimeout` (the outcome is unknown: the contract
stays PENDING and initiating again re-sends the same requestNo, which the service answers idempotently).
Calls never happen inside a database transaction.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import threading
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from waterrev.security import hmac_sha256

if TYPE_CHECKING:
    import httpx


class EsignException(Exception):
    """Any failure talking to the e-signature service."""


class EsignError(EsignException):
    def __init__(self, code: str, http_status: int, message: str = "") -> None:
        super().__init__(f"ESIGN {http_status} {code}" + (f": {message}" if message else ""))
        self.code, self.http_status, self.message = code, http_status, message


class EsignTimeout(EsignException):
    """No answer in time: the request may or may not have taken effect."""


def sign(secret: str, method: str, target: str, timestamp: str, nonce: str, body: bytes) -> str:
    digest = hashlib.sha256(body).hexdigest()
    return hmac_sha256(secret, f"{method}\n{target}\n{timestamp}\n{nonce}\n{digest}")


_HTTP: list[httpx.Client] = []
_HTTP_LOCK = threading.Lock()


def _shared_http() -> httpx.Client:
    with _HTTP_LOCK:
        if not _HTTP:
            import httpx

            _HTTP.append(httpx.Client(headers={"User-Agent": "waterrev-esign/1"}))
        return _HTTP[0]


class EsignClient:
    def __init__(self, base_url: str, app_id: str, app_secret: str, timeout_s: float = 5) -> None:
        self.base_url = base_url.rstrip("/")
        self.app_id, self._secret, self.timeout_s = app_id, app_secret, timeout_s
        self._prefix = urlsplit(self.base_url).path

    def create_task(self, task: dict[str, Any]) -> dict[str, Any]:
        """Send a contract for signature; the same requestNo answers the same task.
        Returns {requestNo, taskNo, taskStatus, signUrl}."""
        return self._json("POST", "/v1/sign-tasks", task)

    def query_task(self, request_no: str) -> dict[str, Any] | None:
        try:
            return self._json("GET", f"/v1/sign-tasks/{quote(request_no, safe='')}", None)
        except EsignError as exc:
            if exc.http_status == 404:
                return None
            raise

    def fetch_file(self, file_url: str, *, max_bytes: int) -> bytes:
        """The signed document at the service's address (signed like every request); only an address on
        the service itself is fetched."""
        if not file_url.startswith(self.base_url + "/"):
            raise EsignError("FILE_URL_FOREIGN", 0, "the file is not on the e-signature service")
        reply = self._send("GET", self._prefix + file_url[len(self.base_url) :], file_url, b"")
        if not reply.is_success:
            raise EsignError(f"HTTP_{reply.status_code}", reply.status_code, "file")
        if len(reply.content) > max_bytes:
            raise EsignError("FILE_TOO_LARGE", reply.status_code, f"more than {max_bytes} bytes")
        return bytes(reply.content)

    # ---- the wire ------------------------------------------------------------------------------
    def _send(self, method: str, target: str, url: str, body: bytes) -> httpx.Response:
        import httpx

        ts, nonce = str(int(time.time())), secrets.token_hex(16)
        headers = {
            "X-Esign-App-Id": self.app_id,
            "X-Esign-Timestamp": ts,
            "X-Esign-Nonce": nonce,
            "X-Esign-Signature": sign(self._secret, method, target, ts, nonce, body),
            "Accept": "application/json",
        }
        if body:
            headers["Content-Type"] = "application/json; charset=utf-8"
        try:
            return _shared_http().request(method, url, content=body, headers=headers, timeout=self.timeout_s)
        except httpx.TimeoutException as exc:
            raise EsignTimeout(f"ESIGN {method} {target}: no answer in {self.timeout_s} s") from exc
        except httpx.TransportError as exc:
            raise EsignError("NETWORK_ERROR", 0, str(exc)) from exc

    def _json(self, method: str, path: str, payload: dict[str, Any] | None) -> dict[str, Any]:
        body = (
            b""
            if payload is None
            else json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
        )
        reply = self._send(method, self._prefix + path, self.base_url + path, body)
        try:
            data = reply.json()
        except ValueError:
            data = None
        if not reply.is_success:
            code = data.get("code") if isinstance(data, dict) else None
            message = data.get("message", "") if isinstance(data, dict) else reply.text[:200]
            raise EsignError(str(code or f"HTTP_{reply.status_code}"), reply.status_code, str(message))
        if not isinstance(data, dict):
            raise EsignError("BAD_REPLY", reply.status_code, "the answer is not a JSON object")
        return data


_secret_config: dict[str, Any] = {}


def client_from_settings() -> EsignClient:
    """The client configured by WATERREV_ESIGN_BASE_URL / _APP_ID / _APP_SECRET (or the secret)."""
    from waterrev.settings import get_settings

    s = get_settings()
    if s.esign_secret_arn and not s.esign_base_url:
        if not _secret_config:
            import boto3

            raw = boto3.client("secretsmanager").get_secret_value(SecretId=s.esign_secret_arn)["SecretString"]
            _secret_config.update(json.loads(raw))
        c = dict(_secret_config)
    else:
        c = {"baseUrl": s.esign_base_url, "appId": s.esign_app_id, "appSecret": s.esign_app_secret}
    if not (c.get("baseUrl") and c.get("appId") and c.get("appSecret")):
        raise EsignError("NOT_CONFIGURED", 0, "the e-signature service is not configured (WATERREV_ESIGN_*)")
    return EsignClient(str(c["baseUrl"]), str(c["appId"]), str(c["appSecret"]))
