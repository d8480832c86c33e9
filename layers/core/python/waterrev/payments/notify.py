"""IF-EXT-005: SYS-009's payment notifications.

The signature is checked on the raw body (RSA-SHA256, the platform key named by its serial, so
keys can rotate) with a 5-minute window; a failure answers 1_002_003_003 and is kept as a rejected
callback and an exception record, never touching the books. Every verified notification is kept
in bk_transaction_callback; its key (tradeNo, tradeStatus, notifyTime) makes a repeat - even 50 at
once - a harmless duplicate that answers success. A verified notification whose body cannot be
read is kept too (outcome UNPARSABLE) with an exception record, and answered with an error.
"""

from __future__ import annotations

import hashlib
import json
import time
from decimal import Decimal
from typing import Any

from waterrev.context import RequestContext
from waterrev.db import UnitOfWork, call_atomic
from waterrev.domain.states import PaymentExceptionStatus, PaymentExceptionType
from waterrev.errors import AppError, ErrorCode
from waterrev.webhook import check_storable

WINDOW_S = 300
_HEADERS = ("x-sys009-timestamp", "x-sys009-nonce", "x-sys009-serial", "x-sys009-signature")
# The widths of the columns a notification's fields are kept in (bk_transaction_callback,
# bk_transaction_exception): a longer value is a body we cannot read, not a database error.
_WIDTHS = {"tradeNo": 64, "tradeStatus": 8, "notifyTime": 40, "id": 64, "businessOrderNo": 40}


def _platform_keys() -> dict[str, str]:
    from waterrev.adapters.sys009 import platform_keys_from_settings

    return platform_keys_from_settings()


def _reread_platform_keys() -> bool:
    from waterrev.adapters.sys009 import reread_secret

    return reread_secret()


def keepable(raw: bytes) -> str:
    """A body as text a database column can keep, whatever it holds: bytes that are not UTF-8 become
    U+FFFD and a NUL (which PostgreSQL text refuses) its JSON escape; at most 20,000 characters."""
    return raw.decode("utf-8", "replace").replace("\x00", "\\u0000")[:20000]


def _reject(headers: dict[str, str], raw: bytes, reason: str) -> AppError:
    with UnitOfWork() as uow:
        uow.execute(
            "INSERT INTO bk_transaction_callback (verified, outcome, headers, raw_body) VALUES (false, 'REJECTED',"
            " CAST(:h AS jsonb), :b)",
            {"h": json.dumps(headers), "b": keepable(raw)},
        )
        uow.execute(
            "INSERT INTO bk_transaction_exception (exception_type, detail) VALUES (:t, CAST(:d AS jsonb))",
            {
                "t": PaymentExceptionType.SIGNATURE_INVALID,
                "d": json.dumps({"reason": reason, "serial": headers.get("x-sys009-serial")}),
            },
        )
        uow.commit()
    return AppError(ErrorCode.CALLBACK_SIGNATURE_INVALID, reason)


def _unparsable(headers: dict[str, str], raw: bytes, reason: str) -> AppError:
    """A notification the platform signed but we cannot read is kept (verified, outcome UNPARSABLE)
    with an exception record for a person, and answered with an error so that the platform sends it
    again; nothing reaches the books."""
    with UnitOfWork() as uow:
        uow.execute(
            "INSERT INTO bk_transaction_callback (verified, outcome, headers, raw_body) VALUES (true, 'UNPARSABLE',"
            " CAST(:h AS jsonb), :b)",
            {"h": json.dumps(headers), "b": keepable(raw)},
        )
        digest = hashlib.sha256(raw).hexdigest()
        uow.execute(  # one open exception per body: the platform's retries of it are kept, not re-raised
            "INSERT INTO bk_transaction_exception (exception_type, detail) SELECT :t, CAST(:d AS jsonb)"
            " WHERE NOT EXISTS (SELECT 1 FROM bk_transaction_exception WHERE exception_type = :t"
            " AND status = :open AND detail ->> 'bodySha256' = :h)",
            {
                "t": PaymentExceptionType.UNPARSABLE,
                "open": PaymentExceptionStatus.OPEN,
                "d": json.dumps(
                    {"reason": reason[:500], "serial": headers.get("x-sys009-serial"), "bodySha256": digest},
                    ensure_ascii=False,
                ),
                "h": digest,
            },
        )
        uow.commit()
    return AppError(ErrorCode.BAD_REQUEST, reason)


def verify(headers: dict[str, str], raw: bytes) -> None:
    from waterrev.adapters.paysign import verify_notification

    ts, nonce, serial, signature = (headers.get(h, "") for h in _HEADERS)
    if not (ts.isdigit() and nonce and serial and signature):
        raise _reject(headers, raw, "签名头缺失")
    if abs(time.time() - int(ts)) > WINDOW_S:
        raise _reject(headers, raw, f"时间戳超出 {WINDOW_S} 秒有效期")
    keys = _platform_keys()
    if serial not in keys and _reread_platform_keys():
        keys = _platform_keys()
    if serial not in keys:
        raise _reject(headers, raw, f"未知的平台证书序列号 {serial}")
    if not verify_notification(keys, serial, ts, nonce, signature, raw):
        raise _reject(headers, raw, "签名不匹配")


def handle(ctx: RequestContext, headers: dict[str, str], raw: bytes) -> dict[str, Any]:
    """Verify, keep and settle one notification in one database round trip (pay_notify_accept)."""
    from waterrev.audit import actor

    headers = {k.lower(): v for k, v in headers.items() if k.lower().startswith(("x-sys009", "content-type"))}
    verify(headers, raw)
    try:
        raw_text = raw.decode("utf-8")  # the platform sends UTF-8; anything else is unreadable
        body = json.loads(raw_text, parse_float=str)
        check_storable(body)
        trade_no, status, notify_time = (
            str(body["tradeNo"]),
            str(body["tradeStatus"]),
            str(body["notifyTime"]),
        )
        notify_id = str(body.get("id") or "")
        biz_order_no = None if body.get("businessOrderNo") is None else str(body["businessOrderNo"])
        fields = {
            "tradeNo": trade_no,
            "tradeStatus": status,
            "notifyTime": notify_time,
            "id": notify_id,
            "businessOrderNo": biz_order_no or "",
        }
        if any("\x00" in value for value in fields.values()):
            raise ValueError("a NUL character in a field")
        for name, value in fields.items():
            if len(value) > _WIDTHS[name]:
                raise ValueError(f"{name} 超过 {_WIDTHS[name]} 个字符")
        amount = body.get("successAmount")
        success_amount = None if amount is None else Decimal(str(amount))
        if success_amount is not None and not success_amount.is_finite():
            raise ValueError(f"successAmount {amount!r}")
    except (ValueError, KeyError, TypeError, ArithmeticError) as exc:
        raise _unparsable(headers, raw, f"通知报文无法解析：{exc}") from exc
    outcome = call_atomic(
        "SELECT pay_notify_accept(p_actor => CAST($1 AS jsonb), p_trade_no => $2, p_status => $3,"
        " p_notify_time => $4, p_notify_id => $5, p_headers => CAST($6 AS jsonb), p_raw => $7,"
        " p_success_amount => CAST($8 AS numeric), p_biz_order_no => $9)",
        actor(ctx),
        trade_no,
        status,
        notify_time,
        notify_id,
        json.dumps(headers),
        raw_text,
        None if success_amount is None else str(success_amount),
        biz_order_no,
    )
    from waterrev import metrics
    from waterrev.payments.orders import settled_metrics

    for name in settled_metrics(outcome):  # pay_notify_accept has committed
        metrics.put(name)
    return {"writeBackStatus": outcome["writeBackStatus"], "tradeNo": trade_no}
