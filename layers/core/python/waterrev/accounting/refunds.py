"""Refunds (退款): money paid back to a customer, one biz_refund row each, recorded in the transaction that
takes the money out of the ledger (an IF-REV-007 REFUND or REVERSE, or a REFUND decision of the payment
exception review).

- a SYS-009 trade (scene ONLINE or COUNTER_QR) is refunded through SYS-009's refund call
  (`POST /v1/pay/refunds`, adapters.sys009, docs/SYS009.md), made after the commit: PENDING until the
  platform accepts it (PROCESSING), then its signed refund notification (IF-EXT-005's
  /open-api/pay/refund-notify, verified on the raw body like the payment notifications) or a query by the
  compensation job settles it SUCCESS or FAIL. A timeout leaves it PENDING for the job, which sends the
  same refundNo again (the platform answers the same refund);
- anything else (cash, a card or code confirmed at the counter, a bank) is recorded as paid out at the
  counter by the operator: SUCCESS at once.

A FAIL of money that was in the ledger (`booked`) puts it back on the customer's balance (flow
REFUND_FAIL, and lines on the adjustment). Each change is one transaction, audited.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from waterrev import audit
from waterrev.context import SYSTEM, RequestContext
from waterrev.db import UnitOfWork
from waterrev.errors import AppError, ErrorCode
from waterrev.webhook import check_storable

MODULE = "REV-004"
SYS009_SCENES = frozenset({"ONLINE", "COUNTER_QR"})
SYS009_CHANNELS = frozenset({"WECHAT", "ALIPAY"})
LIVE = ("PENDING", "PROCESSING")
RETRY_S = (30, 60, 300, 900, 3600)


def trade_key(trade: dict[str, Any]) -> str:
    """How a refund names the transaction it pays back: SYS-009's tradeNo, else our order number."""
    return str(trade.get("trade_no") or trade["biz_order_no"])


def refunded_of(uow: UnitOfWork, key: str) -> Decimal:
    """What has been (or is being) paid back of a transaction."""
    return Decimal(
        uow.scalar(
            "SELECT COALESCE(sum(amount), 0) FROM biz_refund WHERE source_trade_no = :k AND status <> 'FAIL'",
            {"k": key},
        )
    )


def _method(trade: dict[str, Any]) -> str:
    if (
        trade.get("scene") in SYS009_SCENES
        and trade.get("channel_code") in SYS009_CHANNELS
        and trade.get("trade_no")
    ):
        return "SYS009"
    return "COUNTER"


def record(
    uow: UnitOfWork,
    ctx: RequestContext,
    *,
    amount: Decimal,
    trade: dict[str, Any],
    cust_id: int | None,
    account_id: int | None,
    adjustment_id: int | None = None,
    exception_id: int | None = None,
    booked: bool,
) -> dict[str, Any]:
    """A refund of `amount` of `trade`, in the caller's transaction (which took the money out)."""
    method = _method(trade)
    seq = uow.scalar("SELECT nextval('biz_refund_seq')")
    refund_no = f"TK{dt.datetime.now(dt.UTC):%Y%m%d}{int(seq):08d}"
    row = uow.one(
        "INSERT INTO biz_refund (refund_no, adjustment_id, exception_id, cust_id, account_id, amount, booked, method,"
        " source_trade_no, channel_code, status, operator_id, paid_time) VALUES (:no, :adj, :exc, :c, :a, :amt,"
        " :booked, :m, :t, :ch, :s, :op, CASE WHEN :s = 'SUCCESS' THEN now() END) RETURNING *",
        {
            "no": refund_no,
            "adj": adjustment_id,
            "exc": exception_id,
            "c": cust_id,
            "a": account_id,
            "amt": amount,
            "booked": booked,
            "m": method,
            "t": trade_key(trade),
            "ch": trade.get("channel_code"),
            "s": "PENDING" if method == "SYS009" else "SUCCESS",  # the counter pays it out now
            "op": ctx.principal.user_id or None,
        },
    )
    assert row is not None
    audit.record(
        uow,
        ctx,
        module=MODULE,
        operation="REFUND_CREATE",
        object_type="biz_refund",
        object_id=row["id"],
        after={
            "refundNo": refund_no,
            "amount": amount,
            "method": method,
            "sourceTradeNo": trade_key(trade),
            "status": row["status"],
            "adjustmentId": adjustment_id,
            "exceptionId": exception_id,
        },
    )
    return row


def record_for_exception(
    uow: UnitOfWork,
    ctx: RequestContext,
    *,
    exception_id: int,
    trade_no: str | None,
    biz_order_no: str | None,
    amount: Decimal,
    booked: bool,
) -> dict[str, Any]:
    """The payment exception review decided REFUND: the money goes back through SYS-009 (the trade is a
    SYS-009 trade). `booked`: it was on the balance (taken off it by the review)."""
    trade = uow.one(
        "SELECT * FROM bk_transaction WHERE biz_order_no = :o OR (trade_no = CAST(:t AS text) AND CAST(:t AS text)"
        " IS NOT NULL) ORDER BY id LIMIT 1",
        {"o": biz_order_no, "t": trade_no},
    ) or {
        "trade_no": trade_no,
        "biz_order_no": biz_order_no or trade_no,
        "scene": "ONLINE",
        "channel_code": None,
    }
    account_id = None
    if booked and trade.get("cust_id") is not None:
        account_id = uow.scalar(
            "SELECT id FROM biz_account WHERE cust_id = :c ORDER BY id LIMIT 1", {"c": trade["cust_id"]}
        )
    return record(
        uow,
        ctx,
        amount=amount,
        trade={**trade, "trade_no": trade_no or trade.get("trade_no")},
        cust_id=trade.get("cust_id"),
        account_id=account_id,
        exception_id=exception_id,
        booked=booked,
    )


def keepable(raw: bytes) -> str:
    """A body as text a column can keep (as payments.notify keeps payment notifications)."""
    return raw.decode("utf-8", "replace").replace("\x00", "\\u0000")[:20000]


# ------------------------------------------------------------------------------- SYS-009 calls --
def _notify_url() -> str:
    from waterrev.settings import get_settings

    base = get_settings().sys009_notify_url or "http://127.0.0.1/open-api/pay/notify"
    return base.rsplit("/", 1)[0] + "/refund-notify"


def send_many(ids: Iterable[int]) -> None:
    for refund_id in ids:
        send(refund_id)


def send(refund_id: int) -> str:
    """Ask SYS-009 to pay back one PENDING refund (outside any transaction); the status after."""
    from waterrev.adapters.sys009 import Sys009Error, Sys009Timeout, client_from_settings

    with UnitOfWork() as uow:
        row = uow.one("SELECT * FROM biz_refund WHERE id = :id", {"id": refund_id})
    if row is None or row["status"] != "PENDING" or row["method"] != "SYS009":
        return "" if row is None else str(row["status"])
    try:
        answer = client_from_settings().refund(
            refund_no=row["refund_no"],
            trade_no=row["source_trade_no"],
            amount=Decimal(row["amount"]),
            notify_url=_notify_url(),
        )
    except Sys009Timeout as exc:
        return _retry_later(refund_id, str(exc))
    except Sys009Error as exc:
        if exc.http_status == 0 or exc.http_status >= 500 or exc.http_status == 429:
            return _retry_later(refund_id, str(exc))
        return apply_result(row["refund_no"], "FAIL", reason=f"{exc.code}: {exc.message}"[:500])
    status = str(answer.get("refundStatus") or "PROCESSING")
    if status in ("SUCCESS", "FAIL"):
        return apply_result(row["refund_no"], status, sys_refund_no=answer.get("sysRefundNo"))
    with UnitOfWork() as uow:
        uow.execute(
            "UPDATE biz_refund SET status = 'PROCESSING', sys_refund_no = :s, attempts = attempts + 1,"
            " next_try_time = now() + interval '10 minutes', update_time = now() WHERE id = :id AND status = 'PENDING'",
            {"s": answer.get("sysRefundNo"), "id": refund_id},
        )
        uow.commit()
    return "PROCESSING"


def _retry_later(refund_id: int, error: str) -> str:
    with UnitOfWork() as uow:
        attempts = uow.scalar(
            "UPDATE biz_refund SET attempts = attempts + 1, last_error = :e, update_time = now() WHERE id = :id"
            " RETURNING attempts",
            {"e": error[:500], "id": refund_id},
        )
        delay = RETRY_S[min(int(attempts or 1), len(RETRY_S)) - 1]
        uow.execute(
            "UPDATE biz_refund SET next_try_time = now() + make_interval(secs => :d) WHERE id = :id",
            {"d": delay, "id": refund_id},
        )
        uow.commit()
    return "PENDING"


def compensate(limit: int = 200) -> dict[str, int]:
    """The scheduled sweep: PENDING refunds due are sent (again: the same refundNo), PROCESSING ones due
    are looked up at SYS-009 and settled."""
    from waterrev.adapters.sys009 import Sys009Exception, client_from_settings

    with UnitOfWork() as uow:
        due = uow.all(
            "SELECT id, refund_no, status FROM biz_refund WHERE status IN ('PENDING', 'PROCESSING') AND method = 'SYS009'"
            " AND next_try_time <= now() ORDER BY next_try_time LIMIT :n",
            {"n": limit},
        )
    counts = {"sent": 0, "queried": 0, "settled": 0}
    for r in due:
        if r["status"] == "PENDING":
            counts["sent"] += 1
            if send(int(r["id"])) in ("SUCCESS", "FAIL"):
                counts["settled"] += 1
            continue
        counts["queried"] += 1
        try:
            found = client_from_settings().query_refund(str(r["refund_no"]))
        except Sys009Exception as exc:
            _retry_later(int(r["id"]), str(exc))
            continue
        if found is None:  # the platform never took it: send it again
            with UnitOfWork() as uow:
                uow.execute(
                    "UPDATE biz_refund SET status = 'PENDING' WHERE id = :id AND status = 'PROCESSING'",
                    {"id": r["id"]},
                )
                uow.commit()
            send(int(r["id"]))
        elif found.get("refundStatus") in ("SUCCESS", "FAIL"):
            apply_result(
                str(r["refund_no"]), str(found["refundStatus"]), sys_refund_no=found.get("sysRefundNo")
            )
            counts["settled"] += 1
        else:
            _retry_later(int(r["id"]), "still processing")
    return counts


# --------------------------------------------------------------------------------------- results --
def apply_result(
    refund_no: str,
    status: str,
    *,
    sys_refund_no: str | None = None,
    reason: str | None = None,
    ctx: RequestContext | None = None,
) -> str:
    """Settle a refund SUCCESS or FAIL once; a later result for a settled refund changes nothing (the
    first final answer stands). A FAIL of booked money goes back on the balance. Returns the status."""
    ctx = ctx or RequestContext(request_id="refund-result", principal=SYSTEM)
    with UnitOfWork() as uow:
        row = uow.one("SELECT * FROM biz_refund WHERE refund_no = :no FOR UPDATE", {"no": refund_no})
        if row is None:
            raise AppError(ErrorCode.NOT_FOUND, f"refundNo: 退款单 {refund_no} 不存在")
        if row["status"] not in LIVE:
            return str(row["status"])
        uow.execute(
            "UPDATE biz_refund SET status = :s, sys_refund_no = COALESCE(:sys, sys_refund_no), last_error = :e,"
            " paid_time = CASE WHEN :s = 'SUCCESS' THEN now() END, update_time = now() WHERE id = :id",
            {"s": status, "sys": sys_refund_no, "e": reason, "id": row["id"]},
        )
        after: dict[str, Any] = {"status": status, "sysRefundNo": sys_refund_no, "reason": reason}
        if status == "FAIL" and row["booked"] and row["account_id"] is not None:
            balance = uow.scalar(
                "UPDATE biz_account SET balance = balance + :d WHERE id = :a RETURNING balance",
                {"d": row["amount"], "a": row["account_id"]},
            )
            uow.execute(
                "INSERT INTO biz_account_flow (account_id, change_amount, balance_after, biz_type, ref_no)"
                " VALUES (:a, :d, :b, 'REFUND_FAIL', :r)",
                {"a": row["account_id"], "d": row["amount"], "b": balance, "r": refund_no},
            )
            if row["adjustment_id"] is not None:
                for kind, amount in (
                    ("BALANCE", Decimal(row["amount"])),
                    ("REFUND", -Decimal(row["amount"])),
                ):
                    uow.execute(
                        "INSERT INTO biz_adjustment_line (adjustment_id, cust_id, account_id, line_type, amount)"
                        " VALUES (:adj, :c, :a, :t, :amt)",
                        {
                            "adj": row["adjustment_id"],
                            "c": row["cust_id"],
                            "a": row["account_id"],
                            "t": kind,
                            "amt": amount,
                        },
                    )
            after["balanceAfter"] = balance
        if row["exception_id"] is not None:
            uow.execute(
                "UPDATE bk_transaction_exception SET refund_status = :s WHERE id = :id",
                {"s": status, "id": row["exception_id"]},
            )
        audit.record(
            uow,
            ctx,
            module=MODULE,
            operation="REFUND_RESULT",
            object_type="biz_refund",
            object_id=row["id"],
            before={"status": row["status"]},
            after=after,
        )
        uow.commit()
    return status


def notify(ctx: RequestContext, headers: dict[str, str], raw: bytes) -> dict[str, Any]:
    """SYS-009's signed refund notification (IF-EXT-005 extension): verified on the raw body with the
    platform keys and the 5-minute window, kept, applied once per notification id."""
    from waterrev.adapters.sys009 import verify_notification_headers

    if not verify_notification_headers(headers, raw):
        with UnitOfWork() as uow:
            uow.execute(
                "INSERT INTO biz_refund_callback (verified, outcome, raw_body) VALUES (false, 'REJECTED', :b)",
                {"b": keepable(raw)},
            )
            uow.commit()
        raise AppError(ErrorCode.CALLBACK_SIGNATURE_INVALID, "退款通知签名校验失败")
    try:
        body = json.loads(raw, parse_float=Decimal)
        check_storable(body)
        refund_no, status, notice_id = str(body["refundNo"]), str(body["refundStatus"]), str(body["id"])
        if status not in ("SUCCESS", "FAIL"):
            raise ValueError(status)
    except (ValueError, KeyError, TypeError) as exc:
        with UnitOfWork() as uow:
            uow.execute(
                "INSERT INTO biz_refund_callback (verified, outcome, raw_body) VALUES (true, 'UNPARSABLE', :b)",
                {"b": keepable(raw)},
            )
            uow.commit()
        raise AppError(ErrorCode.BAD_REQUEST, f"退款通知无法解析：{exc}") from None
    with UnitOfWork() as uow:
        if uow.scalar("SELECT 1 FROM biz_refund WHERE refund_no = :no", {"no": refund_no}) is None:
            uow.execute(
                "INSERT INTO biz_refund_callback (refund_no, refund_status, notify_id, verified, outcome, raw_body)"
                " VALUES (:no, :s, :id, true, 'UNKNOWN', :b)",
                {"no": refund_no, "s": status, "id": notice_id, "b": keepable(raw)},
            )
            uow.commit()
            raise AppError(ErrorCode.NOT_FOUND, f"refundNo: 退款单 {refund_no} 不存在")
        kept = uow.scalar(
            "INSERT INTO biz_refund_callback (refund_no, refund_status, notify_id, verified, outcome, raw_body)"
            " VALUES (:no, :s, :id, true, 'APPLIED', :b) ON CONFLICT DO NOTHING RETURNING id",
            {"no": refund_no, "s": status, "id": notice_id, "b": keepable(raw)},
        )
        uow.commit()
    if kept is None:
        return {"refundNo": refund_no, "refundStatus": status, "duplicate": True}
    now = apply_result(
        refund_no, status, sys_refund_no=body.get("sysRefundNo"), reason=body.get("failReason"), ctx=ctx
    )
    return {"refundNo": refund_no, "refundStatus": now, "duplicate": False}


def backlog() -> int:
    """SYS-009 refunds without a result an hour after they were made: the sweep keeps failing on them."""
    with UnitOfWork() as uow:
        return int(
            uow.scalar(
                "SELECT count(*) FROM biz_refund WHERE status IN ('PENDING', 'PROCESSING') AND method = 'SYS009'"
                " AND create_time < now() - interval '1 hour'"
            )
        )
