"""The queue consumer's work (functions/msg_consumer): a batch of queue copies -> SYS-010.

Per batch, not per record, so a batch costs two transactions whatever its size: one claims every message
it names (a conditional UPDATE: only a PENDING message not with SYS-010 already and not held by another
consumer's live lease - the guard against sending one event to one receiver twice), then the calls run
at once, outside any transaction, with timeouts, and one transaction records what came of them:

- accepted (2xx, or 409: SYS-010 has it already): ACCEPTED, still PENDING until the result callback;
- refused (400/422: this message can never be sent as it is): FAIL with SYS-010's reason, not retried;
- a timeout, 5xx or no answer: still PENDING (1_002_008_002 消息通道调用超时: 标记待重试，不直接判定业务失败),
  back to QUEUED, and the copy is reported failed and made visible again after a backoff; on its last
  receive it is marked DEAD with an exception record, and SQS moves it to the dead-letter queue.

`deliver` answers, per queue copy, why it failed (None: done); the handler reports those to SQS as
batch item failures (Powertools BatchProcessor).
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any, NamedTuple

from waterrev import audit, crypto
from waterrev.adapters import queue
from waterrev.adapters.sys010 import Sys010Client, Sys010Rejected, Sys010Unavailable, client_from_settings
from waterrev.context import RequestContext
from waterrev.db import UnitOfWork
from waterrev.domain.lifecycle import sql_in
from waterrev.domain.states import CLAIMABLE, DispatchState, MessageExceptionType, MessageStatus
from waterrev.errors import ErrorCode
from waterrev.logs import get_logger
from waterrev.notifications import _tasks, relay, rules
from waterrev.settings import get_settings

SENDERS = 16  # calls to SYS-010 at once within a batch (a batch is 25)
_POOL: list[ThreadPoolExecutor] = []  # one per execution environment, started on first use
# Payload keys that must not outlive their delivery: a bind code is not kept once SYS-010 has it.
SECRET_KEYS = {rules.VERIFY_CODE_TEMPLATE: "code"}


class Copy(NamedTuple):
    """One queue copy of a message, as the SQS event record carries it."""

    sqs_id: str
    receipt_handle: str | None
    receive_count: int
    message_id: int | None
    relay: int


class Sent(NamedTuple):
    message_id: int
    outcome: str  # ACCEPTED | REJECTED | RETRY
    platform_message_id: str | None = None
    error: str | None = None


def copies(records: list[dict[str, Any]]) -> list[Copy]:
    found = []
    for record in records:
        parsed = relay.parse(str(record.get("body") or ""))
        attributes = record.get("attributes") or {}
        found.append(
            Copy(
                sqs_id=str(record.get("messageId")),
                receipt_handle=record.get("receiptHandle"),
                receive_count=int(attributes.get("ApproximateReceiveCount") or 1),
                message_id=parsed[0] if parsed else None,
                relay=parsed[1] if parsed else 0,
            )
        )
    return found


def deliver(
    ctx: RequestContext, records: list[dict[str, Any]], *, client: Sys010Client | None = None
) -> dict[str, str]:
    """Deliver a batch of queue copies; {SQS message id: why it failed} for the copies to retry."""
    batch = copies(records)
    failures: dict[str, str] = {c.sqs_id: "队列消息无法解析" for c in batch if c.message_id is None}
    for copy in batch:
        if copy.message_id is None:
            _back_off(copy, last=_last_attempt(copy))
    wanted = sorted({c.message_id for c in batch if c.message_id is not None})
    if not wanted:
        return failures
    claimed, why_not = _claim(wanted)
    results: list[Sent] = []
    if claimed:
        try:
            sys010 = client or client_from_settings()
        except Sys010Unavailable as exc:
            results = [Sent(m["id"], "RETRY", error=str(exc)) for m in claimed]
        else:
            results = list(_senders().map(lambda m: _send(sys010, m), claimed))
    by_id = {c.message_id: c for c in batch if c.message_id is not None}
    last = {r.message_id for r in results if r.outcome == "RETRY" and _last_attempt(by_id[r.message_id])}
    _record(ctx, results, last, {mid: by_id[mid] for mid in last})
    outcome = {r.message_id: r for r in results}
    for copy in batch:
        if copy.message_id is None:
            continue
        sent = outcome.get(copy.message_id)
        if sent is not None and sent.outcome == "RETRY":
            failures[copy.sqs_id] = sent.error or "SYS-010 暂不可用"
            _back_off(copy, last=copy.message_id in last)
        elif sent is None and why_not.get(copy.message_id):
            failures[copy.sqs_id] = why_not[copy.message_id]
            _back_off(copy, last=_last_attempt(copy))
    if failures:
        get_logger().info("deliveries to retry", extra={"failures": len(failures), "batch": len(batch)})
    return failures


def _senders() -> ThreadPoolExecutor:
    if not _POOL:
        _POOL.append(ThreadPoolExecutor(max_workers=SENDERS, thread_name_prefix="sys010-send"))
    return _POOL[0]


def _last_attempt(copy: Copy) -> bool:
    return copy.receive_count >= get_settings().message_max_receives


def _claim(ids: list[int]) -> tuple[list[dict[str, Any]], dict[int, str]]:
    """Claim the messages a consumer may send now; for the others, why not (None: nothing to send)."""
    with UnitOfWork() as uow:
        claimed = uow.all(
            f"UPDATE biz_message SET dispatch_state = '{DispatchState.SENDING}', attempts = attempts + 1,"
            " claim_time = now(), update_time = now() WHERE id = ANY(CAST(:ids AS bigint[]))"
            f" AND status = '{MessageStatus.PENDING}' AND (dispatch_state IN ({sql_in(CLAIMABLE)})"
            f" OR (dispatch_state = '{DispatchState.SENDING}' AND claim_time < now() - make_interval(secs => :lease)))"
            " RETURNING id, message_biz_no, template_code, receiver, receiver_cipher, channel, cust_id, payload,"
            " source",
            {"ids": ids, "lease": get_settings().message_lease_s},
        )
        _open_receivers(uow, claimed)
        rest = sorted(set(ids) - {m["id"] for m in claimed})
        why_not: dict[int, str] = {}
        if rest:
            found = {
                r["id"]: r
                for r in uow.all(
                    "SELECT id, status, dispatch_state FROM biz_message WHERE id = ANY(CAST(:ids AS bigint[]))",
                    {"ids": rest},
                )
            }
            for mid in rest:
                row = found.get(mid)
                if row is None:
                    why_not[mid] = f"消息 {mid} 不存在"
                elif (
                    row["status"] == MessageStatus.PENDING and row["dispatch_state"] == DispatchState.SENDING
                ):
                    why_not[mid] = f"消息 {mid} 正由另一投递处理"  # its lease is live: try again later
                # anything else is with SYS-010 already, has a result, or was closed: nothing to send
        uow.commit()
    return claimed, why_not


def _open_receivers(uow: UnitOfWork, claimed: list[dict[str, Any]]) -> None:
    """An SMS receiver is kept sealed (waterrev.messages); SYS-010 needs the mobile, so it is opened here,
    for the call only, and never written back or logged."""
    sealed = [m for m in claimed if m.get("receiver_cipher") is not None]
    if not sealed:
        return
    keys = crypto.keys(uow.conn)
    for m in sealed:
        m["receiver"] = keys.open_pii(crypto.MOBILE, m.pop("receiver_cipher"))


def _receiver(message: dict[str, Any]) -> dict[str, str]:
    """SYS-010's receiver (seed mapping: custId -> receiver.customerId, mobile -> receiver.mobile)."""
    found = {"customerId": str(message["cust_id"] or "")}
    if message["channel"] == "SMS":
        found["mobile"] = message["receiver"]
    elif message["channel"] == "WECHAT":
        found["openId"] = message["receiver"]
    elif message["channel"] == "EMAIL":
        found["email"] = message["receiver"]
    else:
        found["inbox"] = message["receiver"]
    return found


def _send(sys010: Sys010Client, message: dict[str, Any]) -> Sent:
    payload = message["payload"] if isinstance(message["payload"], dict) else json.loads(message["payload"])
    try:
        answer = sys010.send(
            event_no=message["message_biz_no"],
            template_code=message["template_code"],
            channel=message["channel"],
            receiver=_receiver(message),
            payload=payload,
            callback_url=get_settings().sys010_callback_url,
        )
    except Sys010Rejected as exc:
        return Sent(message["id"], "REJECTED", error=f"SYS-010 拒收（{exc.code}）：{exc.message}"[:255])
    except Sys010Unavailable as exc:
        prefix = ErrorCode.MESSAGE_CHANNEL_TIMEOUT.code if exc.timeout else exc.http_status or "-"
        return Sent(
            message["id"],
            "RETRY",
            error=f"{prefix} {ErrorCode.MESSAGE_CHANNEL_TIMEOUT.message if exc.timeout else 'SYS-010 暂不可用'}：{exc}"[
                :500
            ],
        )
    except Exception as exc:  # never lose a message to a bug here: it is retried, then a dead letter
        get_logger().exception("sending to SYS-010 failed")
        return Sent(message["id"], "RETRY", error=f"{type(exc).__name__}: {exc}"[:500])
    return Sent(message["id"], "ACCEPTED", platform_message_id=str(answer.get("messageId") or "") or None)


def _record(ctx: RequestContext, results: list[Sent], last: set[int], last_copies: dict[int, Copy]) -> None:
    if not results:
        return
    accepted = [r for r in results if r.outcome == "ACCEPTED"]
    rejected = [r for r in results if r.outcome == "REJECTED"]
    retry = [r for r in results if r.outcome == "RETRY"]
    with UnitOfWork() as uow:
        if accepted:
            scrub = " ".join(
                f"WHEN '{template}' THEN m.payload - '{key}'" for template, key in SECRET_KEYS.items()
            )
            uow.execute(
                # a result callback may have come before this answer was recorded: then it is CLOSED
                f"UPDATE biz_message m SET dispatch_state = CASE WHEN m.dispatch_state <> '{DispatchState.SENDING}'"
                f" THEN m.dispatch_state WHEN m.status = '{MessageStatus.PENDING}' THEN '{DispatchState.ACCEPTED}'"
                f" ELSE '{DispatchState.CLOSED}' END, accept_time = now(), last_error = NULL,"
                " platform_message_id = COALESCE(m.platform_message_id, a.platform_id), update_time = now(),"
                f" payload = CASE m.template_code {scrub} ELSE m.payload END"
                " FROM unnest(CAST(:ids AS bigint[]), CAST(:pids AS varchar[])) AS a (id, platform_id) WHERE m.id = a.id",
                {"ids": [r.message_id for r in accepted], "pids": [r.platform_message_id for r in accepted]},
            )
        for sent in rejected:
            failed = uow.one(
                f"UPDATE biz_message SET status = '{MessageStatus.FAIL}', dispatch_state = '{DispatchState.CLOSED}',"
                " failure_reason = :f, last_error = :f, result_time = now(), update_time = now()"
                f" WHERE id = :id AND status = '{MessageStatus.PENDING}' RETURNING message_biz_no, source",
                {"id": sent.message_id, "f": sent.error},
            )
            if failed is not None and failed["source"] == _tasks.SOURCE:
                _tasks.settle(uow, ctx, failed["message_biz_no"])
        if retry:
            uow.execute(
                f"UPDATE biz_message m SET dispatch_state = CASE WHEN m.dispatch_state = '{DispatchState.SENDING}'"
                f" THEN '{DispatchState.QUEUED}' ELSE m.dispatch_state END, last_error = a.error, update_time = now()"
                " FROM unnest(CAST(:ids AS bigint[]), CAST(:errors AS varchar[])) AS a (id, error) WHERE m.id = a.id",
                {"ids": [r.message_id for r in retry], "errors": [r.error for r in retry]},
            )
        for sent in retry:
            if sent.message_id in last:
                copy = last_copies[sent.message_id]
                relay.mark_dead(uow, ctx, sent.message_id, sent.error)
                relay.record_exception(
                    uow,
                    ctx,
                    kind=MessageExceptionType.DEAD_LETTER,
                    dedup_key=f"DEAD:{sent.message_id}",
                    message_id=sent.message_id,
                    sqs_message_id=copy.sqs_id,
                    receive_count=copy.receive_count,
                    last_error=sent.error,
                )
        audit.record(
            uow,
            ctx,
            module=_tasks.MODULE,
            operation="MESSAGE_DELIVERY",
            object_type="biz_message",
            object_id=f"batch:{results[0].message_id}",
            after={
                "accepted": [r.message_id for r in accepted],
                "rejected": [r.message_id for r in rejected],
                "retry": [r.message_id for r in retry],
                "deadLettered": sorted(last),
            },
        )
        uow.commit()


def _back_off(copy: Copy, *, last: bool = False) -> None:
    """Hide a failed copy for the backoff of its attempt (the queue's own visibility timeout otherwise);
    after the last attempt, none: the next receive moves it to the dead-letter queue at once."""
    s = get_settings()
    if not (s.message_queue_url and copy.receipt_handle):
        return
    wait = 0 if last else rules.backoff_s(copy.receive_count, s.message_retry_base_s, s.message_retry_max_s)
    try:
        queue.change_visibility(s.message_queue_url, copy.receipt_handle, wait)
    except Exception:  # the queue's visibility timeout still applies: a backoff, just not this one
        get_logger().warning("could not set the retry backoff", extra={"sqsMessageId": copy.sqs_id})
