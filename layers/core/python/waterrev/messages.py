"""Queue a notification: the one way a use case asks for a message to be sent (the outbox).

The message is written in the caller's unit of work, so it exists exactly when the business change
that raised it commits, and never otherwise. The seed's idempotency key (幂等键: messageBizNo +
templateCode + receiver) is a unique key of `biz_message`: writing the same event to the same receiver
again returns None and sends nothing twice. The pipeline that delivers it (relay, queue, SYS-010) reads
`biz_message`; nothing here calls out.

An SMS receiver is a mobile, kept as every mobile is (waterrev.crypto): `receiver` masked, the mobile
sealed in `receiver_cipher` and found by `receiver_index` (the idempotency key compares the index). A
caller that read a customer's sealed mobile passes it as `sealed` (copied, never opened); a caller holding
a mobile in clear passes `receiver` and it is sealed here. Only the delivery opens it, to call SYS-010.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from waterrev import crypto
from waterrev.db import UnitOfWork

CHANNELS = frozenset({"SMS", "WECHAT", "INBOX", "EMAIL"})


def enqueue(
    uow: UnitOfWork,
    *,
    biz_no: str,
    template_code: str,
    receiver: str,
    channel: str,
    source: str,
    payload: dict[str, Any],
    cust_id: int | None = None,
    not_before: dt.datetime | None = None,
    sealed: crypto.Sealed | None = None,
) -> int | None:
    """The new message's id, or None when this event was already queued for this receiver."""
    if channel not in CHANNELS:
        raise ValueError(f"unknown message channel {channel}")
    if channel == "SMS" and sealed is None:
        sealed = crypto.keys(uow.conn).pii(crypto.MOBILE, receiver)
    if sealed is None:
        sealed = crypto.Sealed(receiver, None, None)
    return uow.scalar(
        "INSERT INTO biz_message (message_biz_no, template_code, receiver, receiver_cipher, receiver_index,"
        " channel, cust_id, source, payload, not_before) VALUES (:b, :t, :r, :rc, :ri, :c, :cust, :s,"
        " CAST(:p AS jsonb), COALESCE(:nb, now()))"
        " ON CONFLICT ON CONSTRAINT biz_message_key DO NOTHING RETURNING id",
        {
            "b": biz_no,
            "t": template_code,
            "r": sealed.masked,
            "rc": sealed.cipher,
            "ri": sealed.index,
            "c": channel,
            "cust": cust_id,
            "s": source,
            "p": json.dumps(payload, ensure_ascii=False, default=str),
            "nb": not_before,
        },
    )


def enqueue_many(uow: UnitOfWork, messages: list[dict[str, Any]]) -> list[int]:
    """`enqueue` for many messages in one statement (a bill chunk's notices): each dict has the keyword
    arguments of `enqueue` (not_before: now; an SMS's mobile as `sealed` or in clear as `receiver`). The same key rule holds: a message already queued for its
    event, template and receiver is skipped. Returns the ids of the messages written now. The rows travel
    as one JSON document (jsonb_to_recordset): arrays of text would be escaped character by character."""
    if not messages:
        return []
    for m in messages:
        if m["channel"] not in CHANNELS:
            raise ValueError(f"unknown message channel {m['channel']}")
    keys = None
    rows = []
    for m in messages:
        sealed = m.get("sealed")
        if sealed is None and m["channel"] == "SMS":
            keys = keys or crypto.keys(uow.conn)
            sealed = keys.pii(crypto.MOBILE, m["receiver"])
        if sealed is None:
            sealed = crypto.Sealed(m["receiver"], None, None)
        rows.append(_row(m, sealed))
    ids = uow.scalar(
        "WITH written AS (INSERT INTO biz_message (message_biz_no, template_code, receiver, receiver_cipher,"
        " receiver_index, channel, cust_id, source, payload) SELECT m.b, m.t, m.r, decode(m.rc, 'hex'), m.ri,"
        " m.c, m.cust, m.s, m.p FROM jsonb_to_recordset(CAST(:rows AS jsonb))"
        " AS m(b varchar, t varchar, r varchar, rc text, ri char(64), c varchar, cust bigint, s varchar, p jsonb)"
        " ON CONFLICT ON CONSTRAINT biz_message_key DO NOTHING RETURNING id)"
        " SELECT COALESCE(string_agg(id::text, ',' ORDER BY id), '') FROM written",
        {"rows": json.dumps(rows, ensure_ascii=False, default=str)},
    )
    return [int(i) for i in ids.split(",")] if ids else []


def _row(m: dict[str, Any], sealed: crypto.Sealed) -> dict[str, Any]:
    return {
        "b": m["biz_no"],
        "t": m["template_code"],
        "r": sealed.masked,
        "rc": None if sealed.cipher is None else bytes(sealed.cipher).hex(),
        "ri": sealed.index,
        "c": m["channel"],
        "cust": m.get("cust_id"),
        "s": m["source"],
        "p": m["payload"],
    }
