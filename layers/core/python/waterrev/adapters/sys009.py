"""Our client of the SYS-009 payment platform (docs/SYS009.md).

Every call is signed with the app secret (paysign.sign_request). Error answers raise
`Sys009Error(code, http_status)`; a timeout raises `Sys009Timeout`, after which the outcome is
unknown: an order may have been created, so look it up by business order number before trying again.
Amounts go out as strings with two places and come back as the platform's strings (wire format).
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import Iterable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import quote, urlsplit

from waterrev.adapters import paysign
from waterrev.money import fmt, money

if TYPE_CHECKING:
    import httpx

CHANNELS = frozenset({"WECHAT", "ALIPAY"})
SCENES = frozenset({"ONLINE", "COUNTER_QR"})
NOTIFICATION_WINDOW_S = 300


class Sys009Exception(Exception):
    """Any failure talking to SYS-009."""


class Sys009Error(Sys009Exception):
    """SYS-009 answered with an error (http_status 0: no answer, the request never got there)."""

    def __init__(self, code: str, http_status: int, message: str = "") -> None:
        super().__init__(f"SYS-009 {http_status} {code}" + (f": {message}" if message else ""))
        self.code = code
        self.http_status = http_status
        self.message = message


class Sys009Timeout(Sys009Exception):
    """No answer in time: the request may or may not have taken effect."""


class OrderItem(NamedTuple):
    source_id: str | int  # biz_charge.id
    amount: Decimal


_HTTP: list[httpx.Client] = []
_HTTP_LOCK = threading.Lock()


def _shared_http() -> httpx.Client:
    """One connection pool per execution environment, created on first use."""
    with _HTTP_LOCK:
        if not _HTTP:
            import httpx

            _HTTP.append(httpx.Client(headers={"User-Agent": "waterrev-sys009/1"}))
        return _HTTP[0]


class Sys009Client:
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
        self._prefix = urlsplit(self.base_url).path  # signed paths are the request target as sent

    def create_order(
        self,
        *,
        business_order_no: str,
        items: Iterable[OrderItem | tuple[str | int, Decimal]],
        customer_id: str,
        channel_code: str,
        notify_url: str,
        trade_amount: Decimal | None = None,
        expire_time: datetime | None = None,
        scene: str = "ONLINE",
        open_id: str | None = None,
    ) -> dict[str, Any]:
        """Create (or find again: the same business order number gives the same trade) a payment.

        `trade_amount` defaults to the sum of the items. Returns {tradeNo, businessOrderNo,
        tradeStatus, payUrl, payParams, expireTime}.
        """
        if channel_code not in CHANNELS:
            raise ValueError(f"channel_code must be one of {sorted(CHANNELS)}")
        if scene not in SCENES:
            raise ValueError(f"scene must be one of {sorted(SCENES)}")
        lines = [(str(source_id), money(amount)) for source_id, amount in items]
        total = money(trade_amount) if trade_amount is not None else sum((a for _, a in lines), Decimal("0"))
        buyer: dict[str, str] = {"customerId": str(customer_id)}
        if open_id:
            buyer["openId"] = open_id
        body: dict[str, Any] = {
            "businessOrderNo": business_order_no,
            "orderItems": [{"sourceId": source_id, "amount": fmt(amount)} for source_id, amount in lines],
            "buyer": buyer,
            "tradeAmount": fmt(total),
            "channelCode": channel_code,
            "notifyUrl": notify_url,
            "scene": scene,
        }
        if expire_time is not None:
            if expire_time.utcoffset() is None:
                raise ValueError("expire_time must carry a time zone")
            body["expireTime"] = expire_time.isoformat(timespec="seconds")
        return self._call("POST", "/v1/pay/orders", body)

    def query_order(self, trade_no: str) -> dict[str, Any] | None:
        """The trade, or None when SYS-009 does not know it."""
        return self._lookup(f"/v1/pay/orders/{quote(trade_no, safe='')}")

    def query_by_business_order(self, business_order_no: str) -> dict[str, Any] | None:
        return self._lookup(f"/v1/pay/orders?businessOrderNo={quote(business_order_no, safe='')}")

    def close_order(self, trade_no: str) -> dict[str, Any]:
        """Close an unpaid trade; raises Sys009Error ORDER_PAID (409) when it was paid meanwhile."""
        return self._call("POST", f"/v1/pay/orders/{quote(trade_no, safe='')}/close", None)

    def refund(
        self, *, refund_no: str, trade_no: str, amount: Decimal, notify_url: str, reason: str | None = None
    ) -> dict[str, Any]:
        """Pay back `amount` of a paid trade (the same refundNo again answers the same refund). Returns
        {refundNo, sysRefundNo, tradeNo, refundAmount, refundStatus: PROCESSING | SUCCESS | FAIL}; the
        result follows as a signed refund notification to `notify_url`."""
        body: dict[str, Any] = {
            "refundNo": refund_no,
            "tradeNo": trade_no,
            "refundAmount": fmt(money(amount)),
            "notifyUrl": notify_url,
        }
        if reason:
            body["reason"] = reason
        return self._call("POST", "/v1/pay/refunds", body)

    def query_refund(self, refund_no: str) -> dict[str, Any] | None:
        """The refund, or None when SYS-009 does not know it."""
        try:
            return self._call("GET", f"/v1/pay/refunds/{quote(refund_no, safe='')}", None)
        except Sys009Error as exc:
            if exc.http_status == 404 and exc.code == "REFUND_NOT_EXIST":
                return None
            raise

    def certificates(self) -> dict[str, str]:
        """The platform's published public keys, {serial: publicKeyPem}."""
        reply = self._call("GET", "/v1/certificates", None)
        return {item["serial"]: item["publicKeyPem"] for item in reply.get("data", [])}

    def _lookup(self, path: str) -> dict[str, Any] | None:
        try:
            return self._call("GET", path, None)
        except Sys009Error as exc:
            if exc.http_status == 404 and exc.code == "ORDER_NOT_EXIST":
                return None
            raise

    def _call(self, method: str, path: str, payload: dict[str, Any] | None) -> dict[str, Any]:
        import httpx

        body = (
            b""
            if payload is None
            else json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
        )
        ts, nonce = str(int(time.time())), secrets.token_hex(16)
        headers = {
            "X-Sys009-App-Id": self.app_id,
            "X-Sys009-Timestamp": ts,
            "X-Sys009-Nonce": nonce,
            "X-Sys009-Signature": paysign.sign_request(
                self._secret, method, self._prefix + path, ts, nonce, body
            ),
            "Accept": "application/json",
        }
        if payload is not None:
            headers["Content-Type"] = "application/json; charset=utf-8"
        http = self._http or _shared_http()
        try:
            reply = http.request(
                method, self.base_url + path, content=body, headers=headers, timeout=self.timeout_s
            )
        except httpx.TimeoutException as exc:
            raise Sys009Timeout(f"SYS-009 {method} {path}: no answer in {self.timeout_s} s") from exc
        except httpx.TransportError as exc:
            raise Sys009Error("NETWORK_ERROR", 0, str(exc)) from exc
        try:
            data = reply.json()
        except ValueError:
            data = None
        if not reply.is_success:
            code = data.get("code") if isinstance(data, dict) else None
            message = data.get("message", "") if isinstance(data, dict) else reply.text[:200]
            raise Sys009Error(str(code or f"HTTP_{reply.status_code}"), reply.status_code, str(message))
        if not isinstance(data, dict):
            raise Sys009Error("BAD_REPLY", reply.status_code, "the answer is not a JSON object")
        return data


_secret_config: dict[str, Any] = {}
_secret_read_at = [0.0]
REREAD_AFTER_S = 60  # an unknown platform key serial makes us read the secret again, at most this often


def _config() -> dict[str, Any]:
    """SYS-009 connection settings: WATERREV_SYS009_* values, or (in the cloud) the JSON secret named by
    WATERREV_SYS009_SECRET_ARN: {"baseUrl", "appId", "appSecret", "platformKeys": {serial: pem}}."""
    from waterrev.settings import get_settings

    s = get_settings()
    if s.sys009_secret_arn and not s.sys009_base_url:
        if not _secret_config:
            import boto3

            raw = boto3.client("secretsmanager").get_secret_value(SecretId=s.sys009_secret_arn)[
                "SecretString"
            ]
            _secret_config.update(json.loads(raw))
            _secret_read_at[0] = time.monotonic()
        return dict(_secret_config)
    return {
        "baseUrl": s.sys009_base_url,
        "appId": s.sys009_app_id,
        "appSecret": s.sys009_app_secret,
        "platformKeys": json.loads(s.sys009_platform_keys) if s.sys009_platform_keys else {},
    }


def client_from_settings() -> Sys009Client:
    """The client configured by WATERREV_SYS009_BASE_URL / _APP_ID / _APP_SECRET (or the secret)."""
    c = _config()
    if not (c.get("baseUrl") and c.get("appId") and c.get("appSecret")):
        raise RuntimeError(
            "SYS-009 is not configured: set WATERREV_SYS009_BASE_URL, WATERREV_SYS009_APP_ID "
            "and WATERREV_SYS009_APP_SECRET (or WATERREV_SYS009_SECRET_ARN)"
        )
    return Sys009Client(c["baseUrl"], c["appId"], c["appSecret"])


def reread_secret() -> bool:
    """SYS-009 adds a new notification key beside the old one (by serial) before it signs with it: a
    serial we do not know makes us read the secret again - at most once per REREAD_AFTER_S, so
    unknown serials cannot hammer Secrets Manager. True when the next read will be fresh."""
    from waterrev.settings import get_settings

    s = get_settings()
    if not (s.sys009_secret_arn and not s.sys009_base_url):
        return False
    if time.monotonic() - _secret_read_at[0] < REREAD_AFTER_S:
        return False
    _secret_config.clear()
    return True


def platform_keys_from_settings() -> dict[str, str]:
    """{serial: publicKeyPem} of the platform's notification keys (empty when unset)."""
    return {str(k): str(v) for k, v in (_config().get("platformKeys") or {}).items()}


def verify_notification_headers(
    headers: Mapping[str, str],
    body: bytes,
    public_keys: Mapping[str, str] | None = None,
    *,
    window_s: int | None = NOTIFICATION_WINDOW_S,
    now: float | None = None,
) -> bool:
    """Check a notification as received: headers in any case, the raw body bytes.

    Keys default to the configured platform keys. A False answer should be a non-2xx reply, so
    SYS-009 delivers again; deduplicate accepted notifications on the body's `id`.
    """
    h = {k.lower(): v for k, v in headers.items()}
    return paysign.verify_notification(
        platform_keys_from_settings() if public_keys is None else public_keys,
        h.get("x-sys009-serial", ""),
        h.get("x-sys009-timestamp", ""),
        h.get("x-sys009-nonce", ""),
        h.get("x-sys009-signature", ""),
        body,
        window_s=window_s,
        now=now,
    )
