"""SYS-010's delivery-result callbacks (IF-EXT-008 回传执行结果), received on our signed webhook route.

Verified on the raw body (HMAC-SHA256 over `timestamp\\nnonce\\nbody\\n` with the SYS010 webhook key named
by X-Waterrev-Key-Id, a 5-minute window, each nonce once: `waterrev.webhook`), kept as received
(biz_message_callback), and mapped to the seed's four states under the message's row lock:

- a change the message's lifecycle allows is applied (PENDING -> SUCCESS / FAIL; FAIL -> SUCCESS: it did
  reach the customer after all) and its reminder task follows;
- the same status again with a new receipt (reachStatus, sendTime) is written beside it (补写回执);
- the same result twice changes nothing; a late FAIL never overwrites SUCCESS or MANUAL_VERIFIED;
- a result for a message we never sent is kept as an exception for a person (UNKNOWN_RESULT).

A refused signature is kept (REJECTED) and answered 401, an unreadable body kept (UNPARSABLE) and 400:
SYS-010 sends again. Everything else answers success, so SYS-010 stops.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

from waterrev import audit, crypto, webhook
from waterrev.context import RequestContext
from waterrev.db import UnitOfWork
from waterrev.domain.states import DispatchState, MessageExceptionStatus, MessageExceptionType, MessageStatus
from waterrev.errors import AppError, ErrorCode
from waterrev.masking import mask_text
from waterrev.notifications import _tasks, relay, rules

PLATFORM = "SYS010"
_MOBILE = re.compile(r"1[3-9]\d{9}")
_HEADERS = ("x-waterrev-key-id", "x-waterrev-timestamp", "x-waterrev-nonce", "content-type")


def keepable(raw: bytes) -> str:
    """A body as text a column can keep: bytes that are not UTF-8 as U+FFFD, NUL escaped, 20,000 at most,
    mobiles and ID numbers masked (a result names its receiver's mobile; none is kept in clear)."""
    return mask_text(raw.decode("utf-8", "replace").replace("\x00", "\\u0000"))[:20000]


def _keep(headers: dict[str, str], raw: bytes, outcome: str, **fields: Any) -> None:
    with UnitOfWork() as uow:
        _insert(uow, headers, keepable(raw), outcome, verified=outcome != "REJECTED", **fields)
        uow.commit()


def _insert(
    uow: UnitOfWork, headers: dict[str, str], raw: str, outcome: str, *, verified: bool, **fields: Any
) -> None:
    uow.execute(
        "INSERT INTO biz_message_callback (message_id, platform_message_id, send_status, reach_status, verified,"
        " outcome, headers, raw_body) VALUES (:m, :p, :s, :r, :v, :o, CAST(:h AS jsonb), :b)",
        {
            "m": fields.get("message_id"),
            "p": (fields.get("platform_message_id") or None) and str(fields["platform_message_id"])[:64],
            "s": (fields.get("send_status") or None) and str(fields["send_status"])[:16],
            "r": (fields.get("reach_status") or None) and str(fields["reach_status"])[:16],
            "v": verified,
            "o": outcome,
            "h": json.dumps(headers),
            "b": raw,
        },
    )


def _receiver_key(channel: str, receiver: Any) -> str | None:
    """Our biz_message.receiver for SYS-010's receiver object: the mobile, the openid or the inbox."""
    if not isinstance(receiver, dict):
        return str(receiver) if isinstance(receiver, str) and receiver else None
    keys = {"SMS": ("mobile",), "WECHAT": ("openId",), "INBOX": ("inbox",), "EMAIL": ("email",)}
    for key in keys.get(channel, ("mobile", "openId", "inbox", "email")):
        if receiver.get(key):
            return str(receiver[key])
    return None


def _time(value: Any) -> dt.datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = dt.datetime.fromisoformat(value.replace(" ", "T"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=_tasks.zone())


def accept(ctx: RequestContext, headers: dict[str, str], raw: bytes) -> dict[str, Any]:
    """Verify, keep and apply one result callback; {outcome, messageStatus}."""
    headers = {
        k.lower(): v
        for k, v in headers.items()
        if k.lower() in _HEADERS or k.lower().startswith("x-waterrev")
    }
    try:
        text = raw.decode("utf-8")
        webhook.verify(PLATFORM, headers, text)
    except UnicodeDecodeError:
        _keep(headers, raw, "REJECTED")
        raise AppError(ErrorCode.BAD_REQUEST, "body: 不是 UTF-8 文本") from None
    except AppError:
        _keep(headers, raw, "REJECTED")
        raise
    try:
        body = json.loads(text)
        webhook.check_storable(body)
        if not isinstance(body, dict):
            raise ValueError("not a JSON object")
        event_no, template = str(body["eventNo"]), str(body["templateCode"])
        send_status = str(body["sendStatus"])
        channel = str(body.get("channel") or "")
        receiver = _receiver_key(channel, body.get("receiver"))
        platform_id = str(body.get("messageId") or "") or None
        reach = str(body["reachStatus"])[:16] if body.get("reachStatus") else None
        send_time = _time(body.get("sendTime"))
        result_msg = str(body.get("resultMsg") or "")[:255] or None
    except (ValueError, KeyError, TypeError) as exc:
        _keep(headers, raw, "UNPARSABLE")
        raise AppError(ErrorCode.BAD_REQUEST, f"回执报文无法解析：{exc}") from None
    reported = rules.result_state(send_status)
    with UnitOfWork() as uow:
        message = None
        if receiver is not None:
            # receiver_key: a sealed mobile's blind index, any other receiver as it is (migration 0120)
            mobile = channel == "SMS" or (not channel and _MOBILE.fullmatch(receiver) is not None)
            key = crypto.keys(uow.conn).pii_index(crypto.MOBILE, receiver) if mobile else receiver
            message = uow.one(
                "SELECT * FROM biz_message WHERE message_biz_no = :e AND template_code = :t AND receiver_key = :r"
                " FOR UPDATE",
                {"e": event_no, "t": template, "r": key},
            )
        if message is None and platform_id:
            message = uow.one(
                "SELECT * FROM biz_message WHERE platform_message_id = :p AND message_biz_no = :e FOR UPDATE",
                {"p": platform_id, "e": event_no},
            )
        fields = {"platform_message_id": platform_id, "send_status": send_status, "reach_status": reach}
        if message is None:
            _insert(uow, headers, text, "UNKNOWN", verified=True, **fields)
            relay.record_exception(
                uow,
                ctx,
                kind=MessageExceptionType.UNKNOWN_RESULT,
                dedup_key=f"RESULT:{event_no}|{template}|{mask_text(receiver or 'None')}|{send_status}"[:200],
                last_error=f"回执对应的消息不存在：eventNo={event_no} templateCode={template}",
                detail={
                    "eventNo": event_no,
                    "templateCode": template,
                    "channel": channel,
                    "sendStatus": send_status,
                    "reachStatus": reach,
                    "platformMessageId": platform_id,
                },
            )
            uow.commit()
            return {"outcome": "UNKNOWN", "messageStatus": None}
        receipt_changed = (reach, send_time) != (message["reach_status"], message["send_time"]) and (
            reach is not None or send_time is not None
        )
        decided = rules.apply_result(message["status"], reported, receipt_changed)
        if decided.outcome in ("APPLIED", "RECEIPT"):
            final = decided.status is not MessageStatus.PENDING
            uow.execute(
                "UPDATE biz_message SET status = :s, result_time = now(), send_time = COALESCE(:st, send_time),"
                " reach_status = COALESCE(:r, reach_status), result_msg = COALESCE(:rm, result_msg),"
                " platform_message_id = COALESCE(platform_message_id, :p),"
                " failure_reason = CASE WHEN :s = 'FAIL' THEN COALESCE(:rm, 'SYS-010 回执失败') ELSE NULL END,"
                f" dispatch_state = CASE WHEN :final AND dispatch_state IN ('{DispatchState.DEAD}', '{DispatchState.ACCEPTED}')"
                f" THEN '{DispatchState.CLOSED}' ELSE dispatch_state END, update_time = now() WHERE id = :id",
                {
                    "s": decided.status,
                    "st": send_time,
                    "r": reach,
                    "rm": result_msg,
                    "p": platform_id,
                    "final": final,
                    "id": message["id"],
                },
            )
            if final:  # delivered (or refused) after all: a dead letter of it needs nobody any more
                uow.execute(
                    f"UPDATE biz_message_exception SET status = '{MessageExceptionStatus.RESOLVED}',"
                    " resolution = 'DISMISSED', resolve_remark = 'SYS-010 已回执结果', resolve_time = now()"
                    f" WHERE message_id = :id AND status = '{MessageExceptionStatus.OPEN}'",
                    {"id": message["id"]},
                )
        _insert(uow, headers, text, decided.outcome, verified=True, message_id=message["id"], **fields)
        if decided.outcome == "APPLIED":
            audit.record(
                uow,
                ctx,
                module=_tasks.MODULE,
                operation="MESSAGE_RESULT",
                object_type="biz_message",
                object_id=message["id"],
                before={"status": message["status"]},
                after={"status": decided.status, "sendStatus": send_status, "reachStatus": reach},
            )
            if message["source"] == _tasks.SOURCE:
                _tasks.settle(uow, ctx, message["message_biz_no"])
        uow.commit()
    return {"outcome": decided.outcome, "messageStatus": decided.status.value}
