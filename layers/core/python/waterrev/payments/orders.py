"""Online and counter-QR payment orders (IF-CS-003, IF-CS-007) and their results.

An order is created in our database first (bk_transaction INIT, its bills marked as held by a live
order), committed, and only then sent to SYS-009, outside any transaction; the answer is written in
a second transaction. A crash in between leaves an INIT order that compensation queries at SYS-009
and settles like a callback would. `apply_platform_status` is the one place where a platform
result changes the books, whether it came by callback or by query.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any

from waterrev import audit, metrics
from waterrev.billing.dues import amount_due
from waterrev.context import RequestContext
from waterrev.db import UnitOfWork
from waterrev.domain.lifecycle import sql_in
from waterrev.domain.states import LIVE_ORDER, ORDER, ORDER_ENDS, UNPAID_ENDS, OrderStatus
from waterrev.errors import AppError, ErrorCode
from waterrev.payments.collection import dues_of, lock_account, lock_charges, short_amount
from waterrev.payments.writeback import PLATFORM_NOT_ANSWERED, seed_order_status
from waterrev.visibility import customer_visible, require_customer_visible

MODULE = "REV-003"
ORDER_TTL = dt.timedelta(hours=2)  # a native QR code_url is valid for 2 hours
_LIVE_BY_REQUEST = f"SELECT * FROM bk_transaction WHERE request_key = :k AND status IN ({sql_in(LIVE_ORDER)})"
# An order becomes PAYING when SYS-009 has its trade, only from where the lifecycle allows it, checked
# in the UPDATE itself: a result that settled the order meanwhile is never overwritten.
_PAYING = f"status = '{OrderStatus.PAYING}'"
_MAY_BECOME_PAYING = f"status IN ({sql_in(ORDER.sources(OrderStatus.PAYING))})"


def apply_platform_status(
    uow: UnitOfWork,
    ctx: RequestContext,
    *,
    trade_no: str | None,
    status: str,
    success_amount: Any,
    business_order_no: str | None = None,
    notify_time: str | None = None,
) -> dict[str, str]:
    """Settle a platform result on the locked transaction (the database function pay_apply_status,
    waterrev/sql/functions). SUCCESS is final: never undone by a late FAIL; a FAIL followed by SUCCESS ends
    SUCCESS. A paid amount that differs from the order is not written off but raised for review.
    Money for bills paid elsewhere meanwhile goes to the balance and is raised as a refund candidate.
    Returns {"writeBackStatus", "callbackOutcome"}."""
    result = uow.scalar(
        "SELECT pay_apply_status(p_actor => CAST(:actor AS jsonb), p_trade_no => :t, p_biz_order_no => :b,"
        " p_status => :s, p_success_amount => :amt, p_notify_time => :n, p_operator_id => :op)",
        {
            "actor": audit.actor(ctx),
            "t": trade_no,
            "b": business_order_no,
            "s": status,
            "amt": None if success_amount is None else Decimal(str(success_amount)),
            "n": notify_time,
            "op": ctx.principal.user_id or None,
        },
    )
    outcome = {
        "writeBackStatus": str(result["writeBackStatus"]),
        "callbackOutcome": str(result["callbackOutcome"]),
    }
    for name in settled_metrics(outcome):
        metrics.on_commit(uow, name)
    return outcome


def settled_metrics(outcome: dict[str, Any]) -> list[str]:
    """The business metrics a platform result counts (pay_apply_status's reply): a payment settled, or an
    exception opened for a person (unknown trade, amount mismatch)."""
    if outcome.get("callbackOutcome") == "EXCEPTION":
        return [metrics.PAYMENT_EXCEPTIONS_OPENED]
    if outcome.get("callbackOutcome") == "PROCESSED" and outcome.get("writeBackStatus") == "SUCCESS":
        return [metrics.PAYMENTS_SETTLED]
    return []


def _end(uow: UnitOfWork, ctx: RequestContext, txn: dict[str, Any], status: OrderStatus) -> None:
    """Close a live order of ours (expired, or replaced by a renewal): the same step as a platform
    FAIL/CLOSED - status, its bills released, audit - done by pay_apply_status. The caller holds the
    order's row lock; the lifecycle refuses an order that may not end so."""
    ORDER.require(txn["status"], status, f"订单 {txn['biz_order_no']}")
    apply_platform_status(
        uow,
        ctx,
        trade_no=txn["trade_no"],
        business_order_no=txn["biz_order_no"],
        status=status,
        success_amount=None,
    )


def order_view(txn: dict[str, Any]) -> dict[str, Any]:
    """An order in the seed's terms (IF-CS-003 响应参数; SYS-002 <-> SYS-009 映射: the amount is SYS-002's
    paymentAmount, SYS-009's tradeAmount; orderStatus is INIT | PAYING | SUCCESS | FAIL)."""
    return {
        "bizOrderNo": txn["biz_order_no"],
        "tradeNo": txn["trade_no"],
        "orderStatus": seed_order_status(txn["status"]),
        "payUrl": txn["pay_url"],
        "prepayInfo": txn["prepay_info"],
        "expireTime": txn["expire_time"],
        "paymentAmount": txn["trade_amount"],
        "paymentChannel": txn["channel_code"],
    }


def order_absent(order_no: str) -> AppError:
    """The one answer for an order the caller may not see and for one that does not exist."""
    return AppError(ErrorCode.NOT_FOUND, f"bizOrderNo: 订单 {order_no} 不存在")


def visible_order(uow: UnitOfWork, ctx: RequestContext, order_no: str) -> dict[str, Any]:
    """A back-office caller's order: one whose customer is in its data scope, else as absent."""
    txn = uow.one("SELECT * FROM bk_transaction WHERE biz_order_no = :o", {"o": order_no})
    if txn is None or not customer_visible(uow, ctx, txn["cust_id"]):
        raise order_absent(order_no)
    return txn


# ---------------------------------------------------------------------------------- orders --
def _platform() -> Any:
    """The SYS-009 client (a port: tests and the local stack point it at the simulator)."""
    from waterrev.adapters.sys009 import client_from_settings

    return client_from_settings()


def _notify_url() -> str:
    from waterrev.settings import get_settings

    url = get_settings().sys009_notify_url
    if not url:
        raise AppError(ErrorCode.INTERNAL_ERROR, "支付回调地址未配置")
    return url


def create_order(
    ctx: RequestContext,
    *,
    cust_id: int,
    charge_ids: list[int],
    channel: str,
    amount: Decimal,
    scene: str,
    open_id: str | None = None,
    counter_code: str | None = None,
) -> dict[str, Any]:
    """The same request (customer, bills, channel, scene) while an order is live returns that order,
    also when both arrive at once: the second waits for the account lock, then finds the first's order.
    A live order that SYS-009 never answered (a timeout, a crash) is sent to SYS-009 again, which
    answers the same trade for the same businessOrderNo."""
    from sqlalchemy.exc import IntegrityError

    request_key = _request_key(cust_id, charge_ids, channel, scene)
    existing: dict[str, Any] | None = None
    try:
        with UnitOfWork() as uow:
            existing = uow.one(_LIVE_BY_REQUEST + " FOR UPDATE", {"k": request_key})
            expired = existing is not None and existing["expire_time"] <= dt.datetime.now(dt.UTC)
            if existing is not None and expired and existing["hold_reason"] is None:
                _end(uow, ctx, existing, OrderStatus.CLOSED)  # expired: its bills are free again
                existing = None
            if existing is None:
                account = lock_account(uow, cust_id)
                # An identical request that held the account lock before us may have made the order
                # since our first look: under READ COMMITTED this statement sees it.
                existing = uow.one(_LIVE_BY_REQUEST, {"k": request_key})
            if existing is None:
                txn, items = _insert_order(
                    uow, ctx, account, cust_id, charge_ids, channel, amount, scene, request_key, counter_code
                )
            uow.commit()
    except IntegrityError as exc:
        if "ux_transaction_live_request" not in str(exc.orig):
            raise
        with UnitOfWork() as uow:  # a concurrent identical request won: answer with its order
            existing = uow.one(_LIVE_BY_REQUEST, {"k": request_key})
        if existing is None:
            raise AppError(ErrorCode.CHARGE_ALREADY_WRITTEN_OFF, "账单正在其他订单中支付") from None
    # Every unit of work above is closed before the next opens: a Lambda's pool holds one connection.
    if existing is not None:
        return _reuse(ctx, existing, open_id)
    return submit_to_platform(ctx, txn, items, open_id)


def _request_key(cust_id: int, charge_ids: list[int], channel: str, scene: str) -> str:
    """custId|sorted chargeIds|channel|scene (the seed's 幂等键建议); a list of bills too long for the
    column (200) is named by its SHA-256 instead."""
    import hashlib

    bills = ",".join(str(i) for i in sorted(charge_ids))
    key = f"{cust_id}|{bills}|{channel}|{scene}"
    if len(key) <= 200:
        return key
    return f"{cust_id}|sha256:{hashlib.sha256(bills.encode()).hexdigest()}|{channel}|{scene}"


def _insert_order(
    uow: UnitOfWork,
    ctx: RequestContext,
    account: dict[str, Any],
    cust_id: int,
    charge_ids: list[int],
    channel: str,
    amount: Decimal,
    scene: str,
    request_key: str,
    counter_code: str | None,
) -> tuple[dict[str, Any], list[tuple[int, Decimal]]]:
    """The order row and its held bills, in the caller's transaction; returns it and (bill, amount)s.
    The order asks for each bill's principal and its penalty as of today; both are kept on the order
    (biz_order_charge amount / penalty, bk_transaction.penalty_as_of) so its settlement, even on a later
    day, books exactly that."""
    from waterrev.payments.collection import new_collection_code

    charges = lock_charges(uow, cust_id, charge_ids)
    dues = dues_of(uow, cust_id, charges)
    nothing = [b.code for b in dues.bills if b.amount_due <= 0]
    if nothing:
        raise AppError(ErrorCode.CHARGE_ALREADY_WRITTEN_OFF, f"账单 {', '.join(nothing)} 无待缴金额")
    if amount != dues.total:
        raise short_amount(dues, amount, "支付金额")
    order_no = new_collection_code(uow, "DD")
    expire = dt.datetime.now(dt.UTC).replace(microsecond=0) + ORDER_TTL
    txn = uow.one(
        "INSERT INTO bk_transaction (biz_order_no, cust_id, channel_code, scene, trade_amount, expire_time,"
        " request_key, next_query_time, operator_id, counter_code, penalty_as_of) VALUES (:o, :c, :ch, :sc,"
        " :amt, :exp, :k, now() + interval '1 minute', :op, :cc, :as_of) RETURNING *",
        {
            "o": order_no,
            "c": cust_id,
            "ch": channel,
            "sc": scene,
            "amt": amount,
            "exp": expire,
            "k": request_key,
            "op": ctx.principal.user_id or None,
            "cc": counter_code,
            "as_of": dues.as_of,
        },
    )
    assert txn is not None
    uow.execute(
        "INSERT INTO biz_order_charge (biz_order_no, charge_id, amount, penalty)"
        " SELECT :o, b.id, b.principal, b.penalty FROM unnest(CAST(:ids AS bigint[]),"
        " CAST(:principals AS numeric[]), CAST(:pens AS numeric[])) AS b (id, principal, penalty)",
        {
            "o": order_no,
            "ids": [b.charge_id for b in dues.bills],
            "principals": [b.principal for b in dues.bills],
            "pens": [b.penalty for b in dues.bills],
        },
    )
    # SYS-009's orderItems: one per bill (sourceId = chargeId, in id order as a resend lists them), its
    # principal and penalty together
    items = sorted((b.charge_id, b.amount_due) for b in dues.bills)
    audit.record(
        uow,
        ctx,
        module=MODULE,
        operation="ORDER_CREATE",
        object_type="bk_transaction",
        object_id=txn["id"],
        after={
            "bizOrderNo": order_no,
            "chargeIds": sorted(charge_ids),
            "amount": amount,
            "penaltyAmount": dues.penalty,
            "penaltyAsOf": dues.as_of,
            "channel": channel,
            "scene": scene,
            "accountId": account["id"],
        },
    )
    return txn, items


def _reuse(ctx: RequestContext, live: dict[str, Any], open_id: str | None) -> dict[str, Any]:
    """The live order of an identical request. If SYS-009 never answered its create (the order has
    no trade number, or compensation found the trade but not its pay URL), it is sent again."""
    if live["hold_reason"] is not None:  # money arrived for it and waits for a person's decision
        raise AppError(
            ErrorCode.CHARGE_ALREADY_WRITTEN_OFF,
            f"订单 {live['biz_order_no']} 的支付待人工复核，账单暂不能再次支付",
            data=order_view(live),
        )
    unanswered = live["trade_no"] is None or (live["pay_url"] is None and live["prepay_info"] is None)
    if live["status"] not in LIVE_ORDER or not unanswered:
        return order_view(live) | {"reused": True}
    with UnitOfWork() as uow:
        held = uow.all(
            "SELECT charge_id, amount + penalty AS amount FROM biz_order_charge WHERE biz_order_no = :o"
            " ORDER BY charge_id",
            {"o": live["biz_order_no"]},
        )
    items = [(int(r["charge_id"]), Decimal(r["amount"])) for r in held]
    return submit_to_platform(ctx, live, items, open_id) | {"reused": True}


def submit_to_platform(
    ctx: RequestContext, txn: dict[str, Any], items: list[tuple[int, Decimal]], open_id: str | None
) -> dict[str, Any]:
    """Outside any transaction: IF-EXT-004 at SYS-009, then the answer in a transaction of its own.
    `items` are (bill id, amount held for it) - what the order was made for."""
    from waterrev.adapters.sys009 import Sys009Error, Sys009Timeout

    try:
        answer = _platform().create_order(
            business_order_no=txn["biz_order_no"],
            items=items,
            customer_id=txn["cust_id"],
            trade_amount=Decimal(txn["trade_amount"]),
            channel_code=txn["channel_code"],
            notify_url=_notify_url(),
            expire_time=txn["expire_time"],
            scene=txn["scene"],
            open_id=open_id,
        )
    except (Sys009Timeout, Sys009Error) as exc:
        with UnitOfWork() as uow:
            uow.execute(
                "UPDATE bk_transaction SET last_error = :e, update_time = now() WHERE id = :id",
                {"e": f"create: {exc}"[:500], "id": txn["id"]},
            )
            uow.commit()
        return order_view(txn) | {"msg": PLATFORM_NOT_ANSWERED}
    with UnitOfWork() as uow:
        row = uow.one(  # INIT, or PAYING as compensation left it (trade number known, pay URL not)
            f"UPDATE bk_transaction SET trade_no = :t, {_PAYING}, pay_url = :u, prepay_info = CAST(:p AS jsonb),"
            f" update_time = now() WHERE id = :id AND {_MAY_BECOME_PAYING} AND hold_reason IS NULL"
            " AND (trade_no IS NULL OR trade_no = :t) RETURNING *",
            {
                "t": answer["tradeNo"],
                "u": answer.get("payUrl"),
                "p": json.dumps(answer.get("payParams") or {}),
                "id": txn["id"],
            },
        ) or uow.one("SELECT * FROM bk_transaction WHERE id = :id", {"id": txn["id"]})
        uow.commit()
    assert row is not None
    return order_view(row)


# ----------------------------------------------------------------------------- compensation --
def compensate(ctx: RequestContext, *, limit: int = 200) -> dict[str, int]:
    """Query SYS-009 for live orders without a result (backoff 1, 2, 4 ... 60 minutes); close the
    expired ones; settle whatever the platform says exactly as a callback would."""
    from waterrev.adapters.sys009 import Sys009Error, Sys009Timeout

    with UnitOfWork() as uow:
        due_rows = uow.all(
            "SELECT id, biz_order_no, trade_no, expire_time, query_count FROM bk_transaction"
            f" WHERE status IN ({sql_in(LIVE_ORDER)}) AND next_query_time <= now() AND hold_reason IS NULL"
            " ORDER BY next_query_time LIMIT :n",
            {"n": limit},
        )
    counts = {"queried": 0, "settled": 0, "closed": 0, "held": 0, "failed": 0}
    client = _platform()
    now = dt.datetime.now(dt.UTC)
    for row in due_rows:
        counts["queried"] += 1
        try:
            remote = (
                client.query_order(row["trade_no"])
                if row["trade_no"]
                else client.query_by_business_order(row["biz_order_no"])
            )
            expired = row["expire_time"] <= now
            if (remote is None or remote.get("tradeStatus") in LIVE_ORDER) and expired:
                if remote is not None:
                    client.close_order(remote["tradeNo"])
                    remote = client.query_order(remote["tradeNo"])  # it may have been paid just now
                status = (
                    remote["tradeStatus"]
                    if remote and remote.get("tradeStatus") == OrderStatus.SUCCESS
                    else OrderStatus.CLOSED
                )
            else:
                status = remote.get("tradeStatus") if remote else OrderStatus.INIT
        except (Sys009Timeout, Sys009Error) as exc:
            _backoff(row, f"query: {exc}")
            counts["failed"] += 1
            continue
        outcome = None
        with UnitOfWork() as uow:
            if status in ORDER_ENDS:
                outcome = apply_platform_status(
                    uow,
                    ctx,
                    trade_no=(remote or {}).get("tradeNo") or row["trade_no"],
                    business_order_no=row["biz_order_no"],
                    status=status,
                    success_amount=(remote or {}).get("successAmount"),
                )["writeBackStatus"]
            elif remote is not None and row["trade_no"] is None and remote.get("tradeNo"):
                # the platform took the order but its answer never reached us: now we know the trade
                uow.execute(
                    f"UPDATE bk_transaction SET trade_no = :t, {_PAYING}, update_time = now()"
                    f" WHERE id = :id AND trade_no IS NULL AND {_MAY_BECOME_PAYING}",
                    {"t": str(remote["tradeNo"]), "id": row["id"]},
                )
            uow.commit()
        if outcome == "EXCEPTION":
            counts["held"] += 1  # held for a person (amount mismatch): not queried again
        elif status == OrderStatus.SUCCESS:
            counts["settled"] += 1
        elif status in UNPAID_ENDS:
            counts["closed"] += 1
        else:
            _backoff(row, None)
    return counts


def _backoff(row: dict[str, Any], error: str | None) -> None:
    minutes = min(60, 2 ** min(row["query_count"], 6))
    with UnitOfWork() as uow:
        uow.execute(
            "UPDATE bk_transaction SET query_count = query_count + 1, last_error = COALESCE(:e, last_error),"
            " next_query_time = now() + make_interval(mins => :m), update_time = now() WHERE id = :id",
            {"e": error, "m": minutes, "id": row["id"]},
        )
        uow.commit()


# --------------------------------------------------------------------------- counter helpers --
def renew_order(ctx: RequestContext, order_no: str) -> dict[str, Any]:
    """A counter QR that expired or was lost: close the old order (at SYS-009 too) and make a new one
    for the same bills, at the same counter. A paid order is never renewed."""
    from waterrev.adapters.sys009 import Sys009Error, Sys009Timeout

    with UnitOfWork() as uow:
        txn = visible_order(uow, ctx, order_no)
        require_customer_visible(
            uow, ctx, txn["cust_id"], active=True
        )  # a new order: for a NORMAL customer only
        cust_id = int(txn["cust_id"])
        charge_ids = [
            r["charge_id"]
            for r in uow.all(
                "SELECT charge_id FROM biz_order_charge WHERE biz_order_no = :o", {"o": order_no}
            )
        ]
    if txn["status"] == OrderStatus.SUCCESS:
        raise AppError(ErrorCode.CHARGE_ALREADY_WRITTEN_OFF, f"订单 {order_no} 已支付", data=order_view(txn))
    if txn["status"] in LIVE_ORDER and txn["trade_no"]:
        try:
            _platform().close_order(txn["trade_no"])
        except Sys009Error as exc:
            if exc.code == "ORDER_PAID":
                raise AppError(
                    ErrorCode.CHARGE_ALREADY_WRITTEN_OFF, f"订单 {order_no} 已支付，等待结果回写"
                ) from exc
            raise AppError(ErrorCode.CONFLICT, f"支付平台拒绝关闭订单：{exc}") from exc
        except Sys009Timeout as exc:
            raise AppError(ErrorCode.UPSTREAM_TIMEOUT, "支付平台（SYS-009）超时，请稍后重试") from exc
    with UnitOfWork() as uow:
        live = uow.one("SELECT * FROM bk_transaction WHERE id = :id FOR UPDATE", {"id": txn["id"]})
        assert live is not None
        if ORDER.allows(live["status"], OrderStatus.CLOSED):
            _end(uow, ctx, live, OrderStatus.CLOSED)
        uow.commit()
    with UnitOfWork() as uow:  # the new order asks for what is due today (the penalty may have grown)
        amount = amount_due(uow, cust_id, charge_ids=charge_ids).total
    return create_order(
        ctx,
        cust_id=cust_id,
        charge_ids=charge_ids,
        channel=txn["channel_code"],
        amount=amount,
        scene=txn["scene"],
        counter_code=txn["counter_code"],
    )


def receipt(ctx: RequestContext, order_no: str) -> dict[str, Any]:
    """The payment voucher (收费凭证) the counter prints or shows once the order is paid."""
    with UnitOfWork() as uow:
        visible_order(uow, ctx, order_no)
        row = uow.one(
            "SELECT t.*, c.code AS cust_code, c.name AS cust_name, c.address, col.id AS collection_id,"
            " col.code AS collection_code, col.written_off, col.to_balance, col.pay_time"
            " FROM bk_transaction t JOIN biz_cust c ON c.id = t.cust_id"
            " LEFT JOIN biz_collection col ON col.code = t.biz_order_no WHERE t.biz_order_no = :o",
            {"o": order_no},
        )
        if row is None:
            raise AppError(ErrorCode.NOT_FOUND, f"bizOrderNo: 订单 {order_no} 不存在")
        if row["status"] != OrderStatus.SUCCESS or row["collection_id"] is None:
            raise AppError(
                ErrorCode.CONFLICT,
                f"订单 {order_no} 尚未支付成功（{row['status']}），不能出具凭证",
                data={"orderStatus": seed_order_status(row["status"])},
            )
        lines = uow.all(  # per bill: the water fee and the penalty paid, each its own write-off line
            "SELECT ch.code, ch.bill_period, ch.usage_amount,"
            " COALESCE(sum(i.amount) FILTER (WHERE i.item_type = 'PRINCIPAL'), 0) AS amount,"
            " COALESCE(sum(i.amount) FILTER (WHERE i.item_type = 'PENALTY'), 0) AS penalty"
            " FROM biz_collection_item i JOIN biz_charge ch ON ch.id = i.charge_id WHERE i.collection_id = :c"
            " GROUP BY ch.id, ch.code, ch.bill_period, ch.usage_amount ORDER BY ch.bill_period, ch.id",
            {"c": row["collection_id"]},
        )
    return {
        "title": "收费凭证",
        "collectionCode": row["collection_code"],
        "bizOrderNo": order_no,
        "tradeNo": row["trade_no"],
        "paymentChannel": row["channel_code"],
        "custCode": row["cust_code"],
        "custName": row["cust_name"],
        "address": row["address"],
        "paidAmount": row["success_amount"],
        "writtenOffAmount": row["written_off"],
        "penaltyAmount": sum((Decimal(r["penalty"]) for r in lines), Decimal("0.00")),
        "toBalance": row["to_balance"],
        "payTime": row["pay_time"],
        "bills": [
            {
                "chargeCode": r["code"],
                "billPeriod": r["bill_period"],
                "usageAmount": r["usage_amount"],
                "amount": r["amount"],
                "penaltyAmount": r["penalty"],
            }
            for r in lines
        ],
    }


STUCK_AFTER_EXPIRY = "1 hour"


def backlog() -> int:
    """Orders still live an hour past their expiry, not held for a person: compensation closes an expired
    order within minutes, so these are orders it cannot settle (SYS-009 unreachable, a query failing)."""
    with UnitOfWork() as uow:
        return int(
            uow.scalar(
                f"SELECT count(*) FROM bk_transaction WHERE status IN ({sql_in(LIVE_ORDER)})"
                f" AND hold_reason IS NULL AND expire_time < now() - interval '{STUCK_AFTER_EXPIRY}'"
            )
        )
