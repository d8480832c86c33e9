"""The relay: due messages from the outbox (biz_message) onto the SQS queue, and the dead-letter sweep.

A message is taken with FOR UPDATE SKIP LOCKED (relays running at once share the work, never a message),
sent to the queue, and marked QUEUED in the same transaction: sent and not marked (a crash between the
two) means it is sent again, which the consumer's claim and SYS-010's idempotency key make harmless;
marked and not sent cannot happen. Each queue copy carries the message's relay count, so a dead-letter
copy of a message replayed since is known as stale.

The sweep reads the dead-letter queue without taking messages out of it: each copy of a message that is
still undelivered gets its exception record (the consumer usually wrote it on the last attempt; a copy
whose consumer died is recorded here) and stays in the queue - its depth is what the alarm watches -
until a person replays or dismisses it; a copy of a message delivered, closed or replayed since is
deleted.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from waterrev import audit, metrics
from waterrev.adapters import queue
from waterrev.context import RequestContext
from waterrev.db import UnitOfWork
from waterrev.domain.states import DispatchState, MessageExceptionStatus, MessageExceptionType, MessageStatus
from waterrev.logs import get_logger
from waterrev.settings import get_settings

BATCH = 500
SWEEP_HIDE_S = 300  # a dead letter the sweep has recorded is not looked at again for this long


def _urls() -> tuple[str, str | None]:
    s = get_settings()
    if not s.message_queue_url:
        raise RuntimeError("no message queue configured: set WATERREV_MESSAGE_QUEUE_URL")
    return s.message_queue_url, s.message_dlq_url


def body(message_id: int, relay: int) -> str:
    return json.dumps({"messageId": message_id, "relay": relay}, separators=(",", ":"))


def relay_once(limit: int = BATCH) -> int:
    """Put up to `limit` due messages on the queue; how many were sent."""
    queue_url, _ = _urls()
    with UnitOfWork() as uow:
        rows = uow.all(
            f"SELECT id, relay_count FROM biz_message WHERE dispatch_state = '{DispatchState.NEW}'"
            " AND not_before <= now() ORDER BY not_before, id LIMIT :n FOR UPDATE SKIP LOCKED",
            {"n": limit},
        )
        if not rows:
            return 0
        failed = set(
            queue.send(queue_url, [(str(r["id"]), body(r["id"], r["relay_count"] + 1)) for r in rows])
        )
        sent = [r["id"] for r in rows if str(r["id"]) not in failed]
        uow.execute(
            f"UPDATE biz_message SET dispatch_state = '{DispatchState.QUEUED}', relay_count = relay_count + 1,"
            " relay_time = now(), update_time = now() WHERE id = ANY(CAST(:ids AS bigint[]))",
            {"ids": sent},
        )
        uow.commit()
    if failed:
        get_logger().warning("messages the queue did not take stay NEW", extra={"messageIds": sorted(failed)})
    return len(sent)


def run(
    ctx: RequestContext,
    *,
    seconds: float,
    idle_sleep_s: float = 1.0,
    sweep: bool = True,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    """Relay until `seconds` have passed (a scheduled invocation keeps relaying for most of its minute, so
    a message waits about a second, not a minute); sweep the dead-letter queue once first."""
    deadline = clock() + seconds
    swept = sweep_dead_letters(ctx) if sweep else {}
    relayed = 0
    while clock() < deadline:
        sent = relay_once()
        relayed += sent
        if sent < BATCH:
            sleep(min(idle_sleep_s, max(0.0, deadline - clock())))
    return {"relayed": relayed, **swept}


def sweep_dead_letters(
    ctx: RequestContext, max_messages: int = 200, hide_s: int = SWEEP_HIDE_S
) -> dict[str, int]:
    """Record every dead letter of an undelivered message (once) and delete the copies nobody needs; the
    others stay in the queue, out of the sweep's sight for `hide_s`."""
    _, dlq_url = _urls()
    counts = {"deadLetters": 0, "recorded": 0, "deleted": 0}
    if not dlq_url:
        return counts
    seen: set[str] = set()
    while counts["deadLetters"] < max_messages:
        batch = [m for m in queue.receive(dlq_url, visibility_s=hide_s) if m["MessageId"] not in seen]
        if not batch:
            break
        seen |= {m["MessageId"] for m in batch}
        counts["deadLetters"] += len(batch)
        obsolete = []
        with UnitOfWork() as uow:
            for letter in batch:
                if _obsolete(uow, letter):
                    obsolete.append(letter["ReceiptHandle"])
                elif _record_dead_letter(uow, ctx, letter):
                    counts["recorded"] += 1
            uow.commit()
        if obsolete:
            queue.delete(dlq_url, obsolete)
            counts["deleted"] += len(obsolete)
    return counts


def parse(raw: str) -> tuple[int, int] | None:
    """(message id, relay count) from a queue copy's body; None when it is not one of ours."""
    try:
        data = json.loads(raw)
        message_id, relay = int(data["messageId"]), int(data.get("relay") or 0)
    except (ValueError, TypeError, KeyError):
        return None
    return (message_id, relay) if message_id > 0 else None


def _state(uow: UnitOfWork, message_id: int) -> dict[str, Any] | None:
    return uow.one(
        "SELECT id, status, dispatch_state, relay_count, last_error, attempts FROM biz_message WHERE id = :id"
        " FOR UPDATE",
        {"id": message_id},
    )


def _undelivered_current(message: dict[str, Any] | None, relay: int) -> bool:
    return (
        message is not None
        and message["status"] == MessageStatus.PENDING
        and message["dispatch_state"] not in (DispatchState.ACCEPTED, DispatchState.CLOSED, DispatchState.NEW)
        and message["relay_count"] == relay
    )


def _record_dead_letter(uow: UnitOfWork, ctx: RequestContext, letter: dict[str, Any]) -> bool:
    """Record a dead letter that needs a person: a copy we cannot read (once per queue copy) or the
    current copy of an undelivered message (once per message, marked DEAD). True when newly recorded."""
    receive_count = int(letter.get("Attributes", {}).get("ApproximateReceiveCount") or 0)
    parsed = parse(letter.get("Body") or "")
    if parsed is None:
        return record_exception(
            uow,
            ctx,
            kind=MessageExceptionType.DEAD_LETTER,
            dedup_key=f"DLQ:{letter['MessageId']}",
            sqs_message_id=letter["MessageId"],
            receive_count=receive_count,
            last_error="队列消息无法解析",
            detail={"body": (letter.get("Body") or "")[:2000]},
        )
    message_id, relay = parsed
    message = _state(uow, message_id)
    if message is None:
        return record_exception(
            uow,
            ctx,
            kind=MessageExceptionType.DEAD_LETTER,
            dedup_key=f"DLQ:{letter['MessageId']}",
            sqs_message_id=letter["MessageId"],
            receive_count=receive_count,
            last_error=f"消息 {message_id} 不存在",
            detail={"body": letter.get("Body")},
        )
    if not _undelivered_current(message, relay):
        return False
    mark_dead(uow, ctx, message_id, message["last_error"])
    return record_exception(
        uow,
        ctx,
        kind=MessageExceptionType.DEAD_LETTER,
        dedup_key=f"DEAD:{message_id}",
        message_id=message_id,
        sqs_message_id=letter["MessageId"],
        receive_count=receive_count,
        last_error=message["last_error"],
    )


def _obsolete(uow: UnitOfWork, letter: dict[str, Any]) -> bool:
    """A copy nobody needs: its message was delivered, closed or replayed since; or a copy we cannot read
    whose exception a person has resolved."""
    parsed = parse(letter.get("Body") or "")
    if parsed is None:
        return bool(
            uow.scalar(
                "SELECT 1 FROM biz_message_exception WHERE dedup_key = :k"
                f" AND status = '{MessageExceptionStatus.RESOLVED}' LIMIT 1",
                {"k": f"DLQ:{letter['MessageId']}"},
            )
        )
    message = _state(uow, parsed[0])
    return message is not None and not _undelivered_current(message, parsed[1])


def mark_dead(uow: UnitOfWork, ctx: RequestContext, message_id: int, last_error: str | None) -> None:
    done = uow.scalar(
        f"UPDATE biz_message SET dispatch_state = '{DispatchState.DEAD}', update_time = now() WHERE id = :id"
        f" AND dispatch_state <> '{DispatchState.DEAD}' RETURNING id",
        {"id": message_id},
    )
    if done is not None:
        metrics.on_commit(uow, metrics.MESSAGES_DEAD_LETTERED)
        audit.record(
            uow,
            ctx,
            module="REV-006",
            operation="MESSAGE_DEAD_LETTER",
            object_type="biz_message",
            object_id=message_id,
            after={"dispatchState": DispatchState.DEAD, "lastError": last_error},
        )


def record_exception(
    uow: UnitOfWork,
    ctx: RequestContext,
    *,
    kind: MessageExceptionType,
    dedup_key: str,
    message_id: int | None = None,
    sqs_message_id: str | None = None,
    receive_count: int | None = None,
    last_error: str | None = None,
    detail: dict[str, Any] | None = None,
) -> bool:
    """One open exception per dedup key; True when this call opened it."""
    created = uow.scalar(
        "INSERT INTO biz_message_exception (exception_type, message_id, sqs_message_id, dedup_key, receive_count,"
        " last_error, detail) VALUES (:t, :m, :q, :k, :n, :e, CAST(:d AS jsonb))"
        f" ON CONFLICT (dedup_key) WHERE status = '{MessageExceptionStatus.OPEN}' DO NOTHING RETURNING id",
        {
            "t": kind,
            "m": message_id,
            "q": sqs_message_id,
            "k": dedup_key,
            "n": receive_count,
            "e": (last_error or "")[:500] or None,
            "d": json.dumps(detail or {}, ensure_ascii=False, default=str),
        },
    )
    if created is not None:
        audit.record(
            uow,
            ctx,
            module="REV-006",
            operation="MESSAGE_EXCEPTION",
            object_type="biz_message_exception",
            object_id=created,
            after={
                "type": kind,
                "messageId": message_id,
                "sqsMessageId": sqs_message_id,
                "lastError": last_error,
            },
        )
    return created is not None


def backlog() -> int:
    """Outbox messages due over 15 minutes ago and still not on the queue: the relay is not keeping up or
    cannot reach SQS."""
    with UnitOfWork() as uow:
        return int(
            uow.scalar(
                f"SELECT count(*) FROM biz_message WHERE dispatch_state = '{DispatchState.NEW}'"
                " AND not_before < now() - interval '15 minutes'"
            )
        )
