"""IF-REV-006 collection and the one write-off every payment goes through.

Write-off rules: the bills are locked in id order (no deadlocks between payments of overlapping
bills); a bill already paid, or held by another live online order, refuses the payment
(1_002_003_001); what is due on each is its principal and its late-payment penalty as of today
(`billing.dues.amount_due`, read after the lock); an amount short of that is written off oldest bill
first, penalty or principal first as revenue.penalty.coverage says, when partial payment is allowed
(parameter revenue.collection.allow-partial) and refused with the difference (1_002_003_002)
otherwise; any excess goes to the account balance. A paid penalty is a write-off line of its own.
Every collection has its write-off lines, the account's arrears and balance move in the same
transaction, and the audit log records it. The write-off itself is the database function rev_write_off (waterrev/sql/functions), the same
one the settlement of online and QR orders runs; the checks that answer with an error stay here.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy.exc import IntegrityError

from waterrev import audit, metrics
from waterrev.billing.dues import Dues, amount_due
from waterrev.context import RequestContext
from waterrev.db import UnitOfWork
from waterrev.domain.states import PAYABLE_BILLS, BillStatus, CollectionStatus, OrderStatus
from waterrev.errors import AppError, ErrorCode
from waterrev.payments.commands import Collect
from waterrev.payments.rules import Allocation, Bill, allocate
from waterrev.scoped import ALLOW_PARTIAL, rule_value
from waterrev.visibility import require_customer_visible

MODULE = "REV-003"
ZERO = Decimal("0.00")


@dataclass
class WriteOff:
    collection_id: int
    collection_code: str
    status: str  # CollectionStatus SUCCESS | PARTIAL
    written_off: Decimal
    to_balance: Decimal
    remain: Decimal
    charges: list[dict[str, Any]]


def allow_partial(uow: UnitOfWork, cust_id: int) -> bool:
    """revenue.collection.allow-partial as configured for the customer's dept (decision 28)."""
    return bool(rule_value(uow, ALLOW_PARTIAL.code, cust_id=cust_id))


def new_collection_code(uow: UnitOfWork, prefix: str = "SF") -> str:
    seq = uow.scalar("SELECT nextval('biz_collection_code_seq')")
    return f"{prefix}{dt.datetime.now(dt.UTC):%Y%m%d}{int(seq):08d}"


def lock_account(uow: UnitOfWork, cust_id: int) -> dict[str, Any]:
    account = uow.one(
        "SELECT id, balance, arrears_amount, status FROM biz_account WHERE cust_id = :c ORDER BY id LIMIT 1 FOR UPDATE",
        {"c": cust_id},
    )
    if account is None:
        raise AppError(ErrorCode.CUSTOMER_NOT_FOUND_OR_STOPPED, f"custId={cust_id} 无账户")
    return account


def lock_charges(
    uow: UnitOfWork, cust_id: int, charge_ids: list[int], *, order_no: str | None = None
) -> list[dict[str, Any]]:
    """The bills, locked in id order; refuses bills a payment may not settle (paid, cancelled) or
    held by another live order."""
    rows = uow.all(
        "SELECT c.id, c.code, c.bill_period, c.total_amount, c.paid_amount, c.status, c.invoice_status,"
        " (SELECT o.biz_order_no FROM biz_order_charge o WHERE o.charge_id = c.id AND o.live) AS live_order"
        " FROM biz_charge c WHERE c.id = ANY(CAST(:ids AS bigint[])) AND c.cust_id = :c ORDER BY c.id FOR UPDATE",
        {"ids": sorted(charge_ids), "c": cust_id},
    )
    missing = sorted(set(charge_ids) - {r["id"] for r in rows})
    if missing:
        raise AppError(ErrorCode.NOT_FOUND, f"chargeIds: 账单 {missing} 不存在或不属于该客户")
    blocked = [
        r
        for r in rows
        if r["status"] not in PAYABLE_BILLS or (r["live_order"] is not None and r["live_order"] != order_no)
    ]
    if blocked:
        raise AppError(
            ErrorCode.CHARGE_ALREADY_WRITTEN_OFF,
            "账单 " + ", ".join(r["code"] for r in blocked) + " 已核销或正在支付中",
            data=[
                {
                    "chargeId": r["id"],
                    "payStatus": r["status"],
                    "writeOffStatus": (
                        CollectionStatus.SUCCESS
                        if r["status"] == BillStatus.PAID
                        else CollectionStatus.PENDING
                    ),
                    "liveOrder": r["live_order"],
                }
                for r in blocked
            ],
        )
    return rows


def dues_of(uow: UnitOfWork, cust_id: int, charges: list[dict[str, Any]]) -> Dues:
    """What the locked bills owe today, principal and penalty (billing.dues, read after the lock)."""
    return amount_due(uow, cust_id, charge_ids=[int(c["id"]) for c in charges])


def short_amount(dues: Dues, amount: Decimal, verb: str = "本次支付") -> AppError:
    """1_002_003_002 with the difference: what is due (principal and penalty) against what was paid."""
    owed = dues.total
    return AppError(
        ErrorCode.PAYMENT_AMOUNT_MISMATCH,
        f"应缴 {owed}（本金 {dues.principal}，违约金 {dues.penalty}），{verb} {amount}，差额 {owed - amount}",
        data={
            "dueAmount": owed,
            "paymentAmount": amount,
            "difference": owed - amount,
            "principalAmount": dues.principal,
            "penaltyAmount": dues.penalty,
        },
    )


def plan(amount: Decimal, charges: list[dict[str, Any]], dues: Dues) -> Allocation:
    """The write-off rule (payments.rules) applied to locked bill rows and what they owe today: what
    rev_write_off will do."""
    penalties = dues.penalty_of()
    return allocate(
        amount,
        (
            Bill(
                int(c["id"]),
                str(c["bill_period"]),
                Decimal(c["total_amount"]),
                Decimal(c["paid_amount"]),
                str(c["status"]),
                penalties.get(int(c["id"]), ZERO),
            )
            for c in charges
        ),
        penalty_first=dues.penalty_first,
    )


def write_off(
    uow: UnitOfWork,
    ctx: RequestContext,
    *,
    cust_id: int,
    account: dict[str, Any],
    charges: list[dict[str, Any]],
    dues: Dues,
    amount: Decimal,
    channel: str,
    source: str,
    trade_no: str | None,
    idempotency_key: str | None,
    code: str | None = None,
    partial_ok: bool = False,
    actual_amount: Decimal | None = None,
    outlet: str | None = None,
    remark: str | None = None,
) -> WriteOff:
    """Apply `amount` to the locked bills, which owe `dues` (principal and penalty as of its day): the
    penalties or the principals first as the coverage order says, oldest period first; the excess goes
    to the balance. The rule decides first - a short amount is refused unless partial payment is
    allowed, a bill the payment may not change is refused - and the database function then writes it."""
    allocation = plan(amount, charges, dues)
    if allocation.remain > 0 and not partial_ok:
        raise short_amount(dues.only(int(c["id"]) for c in charges), amount)
    code = code or new_collection_code(uow)
    penalties = dues.penalty_of()
    result = uow.scalar(
        "SELECT rev_write_off(p_actor => CAST(:actor AS jsonb), p_cust_id => :c, p_account_id => :a,"
        " p_charge_ids => CAST(:ids AS bigint[]), p_amount => :amt, p_channel => :ch, p_source => :src,"
        " p_trade_no => :trade, p_idempotency_key => :key, p_code => :code, p_actual_amount => :actual,"
        " p_outlet => :outlet, p_remark => :remark, p_operator_id => :op,"
        " p_penalties => CAST(:pens AS numeric[]), p_penalty_first => :first, p_as_of => :as_of)",
        {
            "actor": audit.actor(ctx),
            "c": cust_id,
            "a": account["id"],
            "ids": [c["id"] for c in charges],
            "amt": amount,
            "ch": channel,
            "src": source,
            "trade": trade_no,
            "key": idempotency_key,
            "code": code,
            "actual": actual_amount,
            "outlet": outlet,
            "remark": remark,
            "op": ctx.principal.user_id or None,
            "pens": [penalties.get(int(c["id"]), ZERO) for c in charges],
            "first": dues.penalty_first,
            "as_of": dues.as_of,
        },
    )
    to_balance = Decimal(result["toBalance"])
    account["balance"] = Decimal(account["balance"]) + to_balance
    metrics.on_commit(uow, metrics.PAYMENTS_SETTLED)
    return WriteOff(
        int(result["collectionId"]),
        str(result["code"]),
        str(result["status"]),
        Decimal(result["writtenOff"]),
        to_balance,
        Decimal(result["remain"]),
        [
            {
                "chargeId": line["chargeId"],
                "amount": Decimal(line["amount"]),
                "penaltyAmount": Decimal(line["penalty"]),
            }
            for line in result["lines"]
        ],
    )


def unique_violation(exc: IntegrityError) -> str | None:
    """The unique index a statement ran into, or None for any other integrity error."""
    details = exc.orig.args[0] if exc.orig is not None and exc.orig.args else None
    if isinstance(details, dict) and details.get("C") == "23505":
        return str(details.get("n") or "")
    return None


def record_trade(
    uow: UnitOfWork,
    ctx: RequestContext,
    *,
    cust_id: int,
    charges: list[dict[str, Any]],
    dues: Dues,
    result: WriteOff,
    channel: str,
    scene: str,
    amount: Decimal,
    trade_no: str | None,
    request_key: str,
) -> None:
    """The settled bk_transaction row of a counter or bank trade (every channel's trades in one table),
    and the bills it was asked to pay with what each owed then, principal and penalty (biz_order_charge,
    never live: the trade holds nothing). Status SUCCESS, so compensation never looks it up at SYS-009."""
    penalties = dues.penalty_of()
    uow.execute(
        "WITH t AS (INSERT INTO bk_transaction (biz_order_no, trade_no, cust_id, channel_code, scene, trade_amount,"
        " status, success_amount, expire_time, paid_time, notify_time, request_key, operator_id, penalty_as_of)"
        " VALUES (:o, :t, :c, :ch, :sc, :amt, :st, :amt, now(), now(), now(), :k, :op, :as_of)"
        " RETURNING biz_order_no)"
        " INSERT INTO biz_order_charge (biz_order_no, charge_id, amount, penalty, live)"
        " SELECT t.biz_order_no, b.id, b.owed, b.penalty, false FROM t,"
        " unnest(CAST(:ids AS bigint[]), CAST(:owed AS numeric[]), CAST(:pens AS numeric[])) AS b (id, owed, penalty)",
        {
            "o": result.collection_code,
            "t": trade_no,
            "c": cust_id,
            "ch": channel,
            "sc": scene,
            "amt": amount,
            "st": OrderStatus.SUCCESS,
            "k": request_key,
            "op": ctx.principal.user_id or None,
            "ids": [c["id"] for c in charges],
            "owed": [Decimal(c["total_amount"]) - Decimal(c["paid_amount"]) for c in charges],
            "pens": [penalties.get(int(c["id"]), ZERO) for c in charges],
            "as_of": dues.as_of,
        },
    )


def chosen_bills(uow: UnitOfWork, row: dict[str, Any]) -> list[dict[str, Any]]:
    """Every bill a collection was asked to pay, oldest first, with what it owed then (principal `owed`,
    `penalty_owed`), what this collection wrote off on it (`amount` principal, `penalty`; 0.00 for a bill
    the money did not reach) and its state now. A collection made before its bills were kept
    (biz_order_charge) falls back to its write-off lines."""
    bills = uow.all(
        "SELECT o.charge_id, o.amount AS owed, o.penalty AS penalty_owed,"
        " COALESCE(sum(i.amount) FILTER (WHERE i.item_type = 'PRINCIPAL'), 0) AS amount,"
        " COALESCE(sum(i.amount) FILTER (WHERE i.item_type = 'PENALTY'), 0) AS penalty, c.status, c.invoice_status"
        " FROM biz_order_charge o JOIN biz_charge c ON c.id = o.charge_id"
        " LEFT JOIN biz_collection_item i ON i.collection_id = :id AND i.charge_id = o.charge_id"
        " WHERE o.biz_order_no = :code"
        " GROUP BY o.charge_id, o.amount, o.penalty, c.status, c.invoice_status, c.bill_period, c.id"
        " ORDER BY c.bill_period, c.id",
        {"id": row["id"], "code": row["code"]},
    )
    if bills:
        return bills
    return uow.all(
        "SELECT i.charge_id, i.amount + c.total_amount - c.paid_amount AS owed, 0 AS penalty_owed, i.amount,"
        " 0 AS penalty, c.status, c.invoice_status FROM biz_collection_item i JOIN biz_charge c ON c.id = i.charge_id"
        " WHERE i.collection_id = :id AND i.item_type = 'PRINCIPAL' ORDER BY i.id",
        {"id": row["id"]},
    )


def _trade_conflict(done: dict[str, Any], cmd: Collect, owed_then: Decimal, bill_ids: set[int]) -> list[str]:
    """What in this request differs from the collection its tradeNo already made."""
    if done["cust_id"] != cmd.cust_id:
        return ["custId"]  # someone else's collection: say nothing more about it
    asked = min(cmd.payment_amount, owed_then) if cmd.payment_channel == "PREPAY" else cmd.payment_amount
    differs = []
    if bill_ids != set(cmd.charge_ids):
        differs.append("chargeIds")
    if Decimal(done["amount"]) != asked:
        differs.append("paymentAmount")
    if done["channel"] != cmd.payment_channel:
        differs.append("paymentChannel")
    return differs


def _replayed(uow: UnitOfWork, done: dict[str, Any], cmd: Collect) -> dict[str, Any]:
    """The same trade again: the first answer, or a conflict when the request is not the same one."""
    bills = chosen_bills(uow, done)
    owed_then = sum((Decimal(b["owed"]) + Decimal(b["penalty_owed"]) for b in bills), ZERO)
    differs = _trade_conflict(done, cmd, owed_then, {int(b["charge_id"]) for b in bills})
    if differs:
        raise AppError(
            ErrorCode.CONFLICT,
            f"tradeNo {cmd.trade_no} 已用于另一笔收费（{'、'.join(differs)} 不一致），不能重复核销",
            data={"tradeNo": cmd.trade_no, "mismatch": differs},
        )
    return _reply(done, bills, replay=True)


def _by_trade(uow: UnitOfWork, key: str) -> dict[str, Any] | None:
    return uow.one("SELECT * FROM biz_collection WHERE idempotency_key = :k", {"k": key})


def collect(ctx: RequestContext, cmd: Collect) -> dict[str, Any]:
    """IF-REV-006: counter collection (CASH, WECHAT/ALIPAY/BANK confirmed at the counter, PREPAY).

    The tradeNo is the idempotency key: the same trade again answers the first collection, looked up
    once more under the account lock (a retry that waited for the first request to finish) and, as the
    last line, when the unique index refuses it. Only after the customer scope check, and only for the
    same customer, bills, amount and channel; anything else with that tradeNo is a conflict."""
    key = f"TRADE:{cmd.trade_no}" if cmd.trade_no else None
    try:
        return _collect(ctx, cmd, key)
    except IntegrityError as exc:
        if key is None or unique_violation(exc) is None:
            raise
        with UnitOfWork() as uow:  # a concurrent request with this tradeNo committed first
            done = _by_trade(uow, key)
            if done is None:  # the tradeNo is another channel trade's (bk_transaction.trade_no)
                raise AppError(
                    ErrorCode.CONFLICT,
                    f"tradeNo {cmd.trade_no} 已被其他交易使用",
                    data={"tradeNo": cmd.trade_no, "mismatch": ["tradeNo"]},
                ) from None
            return _replayed(uow, done, cmd)


def _collect(ctx: RequestContext, cmd: Collect, key: str | None) -> dict[str, Any]:
    with UnitOfWork() as uow:
        require_customer_visible(uow, ctx, cmd.cust_id)
        if key is not None and (done := _by_trade(uow, key)) is not None:
            return _replayed(uow, done, cmd)
        account = lock_account(uow, cmd.cust_id)
        if key is not None and (done := _by_trade(uow, key)) is not None:  # it finished while we waited
            return _replayed(uow, done, cmd)
        charges = lock_charges(uow, cmd.cust_id, list(cmd.charge_ids))
        dues = dues_of(uow, cmd.cust_id, charges)
        amount = cmd.payment_amount
        if cmd.payment_channel == "PREPAY":
            amount = min(amount, dues.total)
            if Decimal(account["balance"]) < amount:
                raise AppError(
                    ErrorCode.PAYMENT_AMOUNT_MISMATCH,
                    f"余额 {account['balance']} 不足以支付 {amount}",
                    data={
                        "balance": account["balance"],
                        "paymentAmount": amount,
                        "difference": amount - Decimal(account["balance"]),
                    },
                )
            account["balance"] = Decimal(account["balance"]) - amount
            uow.execute(
                "UPDATE biz_account SET balance = :b WHERE id = :id",
                {"b": account["balance"], "id": account["id"]},
            )
        result = write_off(
            uow,
            ctx,
            cust_id=cmd.cust_id,
            account=account,
            charges=charges,
            dues=dues,
            amount=amount,
            channel=cmd.payment_channel,
            source="COUNTER",
            trade_no=cmd.trade_no,
            idempotency_key=key,
            partial_ok=allow_partial(uow, cmd.cust_id),
            actual_amount=cmd.actual_amount,
            outlet=cmd.outlet_code,
            remark=cmd.remark,
        )
        record_trade(  # the transaction record of IF-REV-006 (bk_transaction): the counter trade, settled
            uow,
            ctx,
            cust_id=cmd.cust_id,
            charges=charges,
            dues=dues,
            result=result,
            channel=cmd.payment_channel,
            scene="COUNTER",
            amount=amount,
            trade_no=cmd.trade_no,
            request_key=f"COUNTER|{result.collection_code}",
        )
        if cmd.payment_channel == "PREPAY":
            uow.execute(
                "INSERT INTO biz_account_flow (account_id, change_amount, balance_after, biz_type, ref_no)"
                " VALUES (:a, :amt, :b, 'PREPAY_USE', :ref)",
                {
                    "a": account["id"],
                    "amt": -amount,
                    "b": account["balance"] - result.to_balance,
                    "ref": result.collection_code,
                },
            )
        row = uow.one("SELECT * FROM biz_collection WHERE id = :id", {"id": result.collection_id})
        assert row is not None
        reply = _reply(row, chosen_bills(uow, row))
        uow.commit()
    return reply


def _reply(row: dict[str, Any], bills: list[dict[str, Any]], replay: bool = False) -> dict[str, Any]:
    """remainAmount is what is still owed on all the chosen bills after this collection (principal and
    penalty as of its day), and chargeList names every chosen bill - a bill the money did not reach too
    (amount 0.00) - with its state; amount is the water fee written off, penaltyAmount the penalty."""

    def left(b: dict[str, Any]) -> Decimal:
        return (
            Decimal(b["owed"]) + Decimal(b["penalty_owed"]) - Decimal(b["amount"]) - Decimal(b["penalty"])
        ).quantize(ZERO)

    remain = sum((left(b) for b in bills), ZERO)
    return {
        "collectionId": row["id"],
        "collectionCode": row["code"],
        "writeOffStatus": row["status"],
        "paidAmount": row["amount"],
        "writtenOffAmount": row["written_off"],
        "penaltyAmount": sum((Decimal(b["penalty"]) for b in bills), ZERO),
        "remainAmount": remain,
        "balanceAdded": row["to_balance"],
        "changeAmount": row["change_amount"],
        "tradeNo": row["trade_no"],
        "invoiceAvailable": row["status"] == CollectionStatus.SUCCESS
        and all(b["invoice_status"] == "NONE" for b in bills),
        "chargeList": [
            {
                "chargeId": b["charge_id"],
                "amount": Decimal(b["amount"]).quantize(ZERO),
                "penaltyAmount": Decimal(b["penalty"]).quantize(ZERO),
                "remainAmount": left(b),
                "payStatus": b["status"],
            }
            for b in bills
        ],
        "replay": replay,
    }
