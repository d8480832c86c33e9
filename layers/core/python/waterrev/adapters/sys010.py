"""Our client of the SYS-010 message service (IF-EXT-008 消息触达接口, docs/SYS010.md).

One call: POST /v1/messages with the event number, template, channel, receiver and payload (the seed's
SYS-002 <-> SYS-010 mapping), signed with the app secret as SYS-009 calls are (paysign.sign_request).
SYS-010 answers "accepted" and later calls our result route back. It keeps the seed's idempotency key
(eventNo + templateCode + receiver): the same message sent again is answered with the same messageId and
delivered once, so a retry after a timeout never reaches the customer twice.

A 2xx (or 409: it has the message already) is an acceptance; 400/422 is a refusal of this message
(`Sys010Rejected`: it can never be sent as it is); anything else - a timeout, a connection error, 5xx,
401/403/404/429 - is `Sys010Unavailable`: the outcome is unknown or temporary, the message stays PENDING
and is retried (1_002_008_002 消息通道调用超时: 标记待重试，不直接判定业务失败).
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from waterrev.adapters import paysign

if TYPE_CHECKING:
    import httpx

CONNECT_TIMEOUT_S = 2.0


class Sys010Exception(Exception):
    """A call to SYS-010 that did not end in an acceptance."""

    def __init__(self, code: str, http_status: int | None, message: str = "") -> None:
        super().__init__(f"SYS-010 {http_status or '-'} {code}" + (f": {message}" if message else ""))
        self.code, self.http_status, self.message = code, http_status, message


class Sys010Rejected(Sys010Exception):
    """SYS-010 refused this message (400/422: unknown template, a receiver it cannot use)."""


class Sys010Unavailable(Sys010Exception):
    """No acceptance, for now: a timeout (`timeout`), no connection, 5xx, or an answer that is not the
    message's fault. Retry later; SYS-010 delivers a message sent twice once."""

    def __init__(
        self, code: str, http_status: int | None, message: str = "", *, timeout: bool = False
    ) -> None:
        super().__init__(code, http_status, message)
        self.timeout = timeout


_HTTP: list[httpx.Client] = []
_HTTP_LOCK = threading.Lock()


def _shared_http() -> httpx.Client:
    """One connection pool per execution environment (consumers send a batch's messages at once)."""
    with _HTTP_LOCK:
        if not _HTTP:
            import httpx

            _HTTP.append(
                httpx.Client(
                    headers={"User-Agent": "waterrev-sys010/1"},
                    limits=httpx.Limits(max_connections=32, max_keepalive_connections=32),
                )
            )
        return _HTTP[0]


class Sys010Client:
    def __init__(
        self,
        base_url: str,
        app_id: str,
        app_secret: str,
        timeout_s: float = 5.0,
        http: httpx.Client | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.app_id = app_id
        self._secret = app_secret
        self.timeout_s = timeout_s
        self._http = http
        self._prefix = urlsplit(self.base_url).path

    def send(
        self,
        *,
        event_no: str,
        template_code: str,
        channel: str,
        receiver: dict[str, str],
        payload: dict[str, Any],
        callback_url: str | None,
    ) -> dict[str, Any]:
        """Hand one message to SYS-010: {messageId, eventNo, sendStatus: ACCEPTED, duplicate}."""
        body: dict[str, Any] = {
            "eventNo": event_no,
            "templateCode": template_code,
            "channel": channel,
            "receiver": receiver,
            "payload": payload,
        }
        if callback_url:
            body["callbackUrl"] = callback_url
        return self._call("POST", "/v1/messages", body)

    def _call(self, method: str, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        import httpx

        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":"), default=str).encode()
        ts, nonce = str(int(time.time())), secrets.token_hex(16)
        headers = {
            "X-Sys010-App-Id": self.app_id,
            "X-Sys010-Timestamp": ts,
            "X-Sys010-Nonce": nonce,
            "X-Sys010-Signature": paysign.sign_request(
                self._secret, method, self._prefix + path, ts, nonce, body
            ),
            "Content-Type": "application/json; charset=utf-8",
            "Accept": "application/json",
        }
        timeout = httpx.Timeout(self.timeout_s, connect=min(CONNECT_TIMEOUT_S, self.timeout_s))
        try:
            reply = (self._http or _shared_http()).request(
                method, self.base_url + path, content=body, headers=headers, timeout=timeout
            )
        except httpx.TimeoutException as exc:
            raise Sys010Unavailable(
                "TIMEOUT", None, f"no answer in {self.timeout_s} s", timeout=True
            ) from exc
        except httpx.TransportError as exc:
            raise Sys010Unavailable("NETWORK_ERROR", None, type(exc).__name__) from exc
        try:
            data = reply.json()
        except ValueError:
            data = None
        code = str(data.get("code") or "") if isinstance(data, dict) else ""
        message = str(data.get("message") or "")[:200] if isinstance(data, dict) else reply.text[:200]
        if reply.status_code in (400, 422):
            raise Sys010Rejected(code or f"HTTP_{reply.status_code}", reply.status_code, message)
        if reply.status_code == 409 and isinstance(data, dict) and data.get("messageId"):
            return {**data, "duplicate": True}
        if not reply.is_success:
            raise Sys010Unavailable(code or f"HTTP_{reply.status_code}", reply.status_code, message)
        if not isinstance(data, dict) or not data.get("messageId"):
            raise Sys010Unavailable("BAD_REPLY", reply.status_code, "the answer names no messageId")
        return data


_secret_config: dict[str, Any] = {}


def _config() -> dict[str, Any]:
    """WATERREV_SYS010_* values, or (in the cloud) the JSON secret named by WATERREV_SYS010_SECRET_ARN:
    {"baseUrl", "appId", "appSecret"}, read once per execution environment."""
    from waterrev.settings import get_settings

    s = get_settings()
    if s.sys010_secret_arn and not s.sys010_base_url:
        if not _secret_config:
            import boto3

            raw = boto3.client("secretsmanager").get_secret_value(SecretId=s.sys010_secret_arn)[
                "SecretString"
            ]
            _secret_config.update(json.loads(raw))
        return dict(_secret_config)
    return {"baseUrl": s.sys010_base_url, "appId": s.sys010_app_id, "appSecret": s.sys010_app_secret}


def client_from_settings() -> Sys010Client:
    from waterrev.settings import get_settings

    c = _config()
    if not (c.get("baseUrl") and c.get("appId") and c.get("appSecret")):
        raise Sys010Unavailable(
            "NOT_CONFIGURED",
            None,
            "set WATERREV_SYS010_BASE_URL, WATERREV_SYS010_APP_ID and WATERREV_SYS010_APP_SECRET"
            " (or WATERREV_SYS010_SECRET_ARN)",
        )
    return Sys010Client(c["baseUrl"], c["appId"], c["appSecret"], get_settings().sys010_timeout_ms / 1000)
