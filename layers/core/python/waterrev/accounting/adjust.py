"""IF-REV-007 账务调整接口 (/admin-api/revenue/accounting/adjust): USAGE, AMOUNT, REFUND, REVERSE and BAD_DEBT
adjustments, with a second person's approval above a threshold or for chosen types (docs/LEDGER.md,
docs/DECISIONS.md 97-103).

Every adjustment is a new entry, never an edit of a posted amount:
- USAGE: the bill's usage corrected by `adjustUsage` m3 (signed) and priced again by its tariff version
  (pricing.tariff); the difference, per component and tier, is a new ADJUST bill of the original (as a
  PRICE_DIFF bill is: a rise is UNPAID, a decrease a credit settled into the balance);
- AMOUNT: `adjustAmount` (signed) as a new ADJUST bill of one line, the same way;
- REFUND: `adjustAmount` off the balance, paid back to the payer of the original transaction
  (`sourceTradeNo`, this customer's, settled; at most what it brought in less what was refunded of it):
  through SYS-009's refund call when it was a SYS-009 trade, else recorded as paid out at the counter;
- REVERSE (冲正): the collection of `sourceTradeNo` - it must have written off the bill `chargeId` - comes
  back off every bill it paid (principal and penalty lines, negative), the bills are UNPAID or PARTIAL
  again and their penalty accrues again from the next day, and the money goes back where it came from: to
  the balance when it came off the balance (PREPAY), else to the payer as a refund of the whole amount (the
  part that went to the balance is taken back off it). A collection is reversed once; a bill with an
  invoice is not reversed (the invoice is voided or red-inked first);
- BAD_DEBT: the principal still owed on an UNPAID / PARTIAL bill is written off as bad debt; the bill
  is BAD_DEBT (no longer owed, no penalty accrues).

A request whose type is one of revenue.adjust.approval-types, or which moves more money than
revenue.adjust.approval-threshold, is PENDING_APPROVAL until someone else (approver != requester, also
enforced by ck_adjustment_second_person) approves it - it is then checked again and carried out, or ends
FAIL when it no longer can be - or rejects it. Idempotent: the request key (the caller's `requestNo`, or
the request's content on the business day) is unique, so the same request again - also two at once - answers
the first one. Locks: the account, then the bills in id order (as every payment), then the adjustment's
row; each step one transaction with its audit row; refunds go out to SYS-009 after the commit
(accounting.refunds).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy.exc import IntegrityError

from waterrev import audit, clock
from waterrev.accounting import refunds, rules, waiver
from waterrev.accounting.commands import DecideAdjustment, DecideWaiver, FindAdjustments, RequestAdjustment
from waterrev.billing.dues import amount_due
from waterrev.context import RequestContext
from waterrev.db import UnitOfWork
from waterrev.domain.states import BILL, PAYABLE_BILLS, BillStatus
from waterrev.envelope import page
from waterrev.errors import AppError, ErrorCode
from waterrev.masking import mask_text
from waterrev.pricing.config import load_tariff
from waterrev.pricing.tariff import TierMode, price
from waterrev.scoped import ADJUST_APPROVAL_THRESHOLD, ADJUST_APPROVAL_TYPES, rule_value
from waterrev.visibility import customer_scope, customer_visible

MODULE = "REV-004"
ZERO = Decimal("0.00")
CODE_PREFIX = "TZ"  # 调账 bills (biz_charge source_type ADJUST)
NO_PREFIX = "AJ"

PENDING, SUCCESS, REJECTED, FAIL = "PENDING_APPROVAL", "SUCCESS", "REJECTED", "FAIL"
RESULT_STATUS = {PENDING: "PENDING_APPROVAL", SUCCESS: "SUCCESS", REJECTED: "FAIL", FAIL: "FAIL"}


def _state_error(detail: str, data: Any = None) -> AppError:
    return AppError(ErrorCode.ADJUST_STATE_NOT_ALLOWED, detail, data=data)


# ------------------------------------------------------------------------------------ the view --
_VIEW = (
    "SELECT a.*, r.refund_no, r.status AS refund_status, r.method AS refund_method,"
    " u.username AS requested_by_name, d.username AS decided_by_name, n.code AS new_charge_code"
    " FROM biz_adjustment a"
    " LEFT JOIN LATERAL (SELECT * FROM biz_refund f WHERE f.adjustment_id = a.id ORDER BY f.id LIMIT 1) r ON true"
    " LEFT JOIN system_users u ON u.id = a.requested_by LEFT JOIN system_users d ON d.id = a.decided_by"
    " LEFT JOIN biz_charge n ON n.id = a.new_charge_id"
)


def _message(row: dict[str, Any]) -> str:
    status = row["status"]
    if status == PENDING:
        return "调整已登记，须由申请人以外的审批人审批后生效"
    if status == REJECTED:
        return "调整已驳回，账务未变更"
    if status == FAIL:
        return f"审批时调整已不能执行：{row['fail_reason']}"
    kind = row["adjust_type"]
    result = row["result"] or {}
    if kind in ("USAGE", "AMOUNT"):
        if row["new_charge_id"] is None:
            return "调整后金额无差额，未生成调整账单"
        return f"已生成调整账单 {row['new_charge_code']}，金额 {result.get('totalAmount')}"
    if kind == "REFUND":
        return f"已从余额退款 {row['adjust_amount']}（退款单 {row['refund_no']}，{row['refund_status']}）"
    if kind == "REVERSE":
        back = "退回余额" if result.get("refund") in (None, "0.00") else f"退款单 {row['refund_no']}"
        return f"已冲正收费 {result.get('collectionCode')}，账单恢复未缴，资金{back}"
    return f"已核销坏账 {result.get('badDebtAmount')}"


def _view(row: dict[str, Any], *, replay: bool = False) -> dict[str, Any]:
    return {
        "adjustmentNo": row["adjustment_no"],
        "chargeId": row["charge_id"],
        "resultStatus": RESULT_STATUS[row["status"]],
        "writeBackStatus": row["write_back_status"],
        "approvalRequired": row["approval_required"],
        "msg": _message(row),
        "adjustType": row["adjust_type"],
        "adjustStatus": row["status"],
        "custId": row["cust_id"],
        "adjustAmount": row["adjust_amount"],
        "adjustUsage": row["adjust_usage"],
        "sourceTradeNo": row["source_trade_no"],
        "effectAmount": row["effect_amount"],
        "newChargeId": row["new_charge_id"],
        "refundNo": row["refund_no"],
        "refundStatus": row["refund_status"],
        "refundMethod": row["refund_method"],
        "reasonCode": row["reason_code"],
        "remark": row["remark"],
        "attachmentList": list(row["attachment_list"] or []),
        "requestedBy": row["requested_by"],
        "requestedByName": row["requested_by_name"],
        "requestTime": row["request_time"],
        "decidedBy": row["decided_by"],
        "decidedByName": row["decided_by_name"],
        "decisionRemark": row["decision_remark"],
        "decidedTime": row["decided_time"],
        "failReason": row["fail_reason"],
        "replay": replay,
    }


def _reload(uow: UnitOfWork, adjustment_id: int, *, replay: bool = False) -> dict[str, Any]:
    row = uow.one(_VIEW + " WHERE a.id = :id", {"id": adjustment_id})
    assert row is not None
    return _view(row, replay=replay)


# ------------------------------------------------------------------------------------- locking --
def _bill(uow: UnitOfWork, ctx: RequestContext, charge_id: int) -> dict[str, Any]:
    bill = uow.one("SELECT id, cust_id FROM biz_charge WHERE id = :id", {"id": charge_id})
    if bill is None or not customer_visible(uow, ctx, bill["cust_id"]):
        raise AppError(ErrorCode.NOT_FOUND, f"chargeId: 账单 {charge_id} 不存在")
    return bill


def _lock_account(uow: UnitOfWork, cust_id: int) -> dict[str, Any]:
    account = uow.one(
        "SELECT id, balance, arrears_amount FROM biz_account WHERE cust_id = :c ORDER BY id LIMIT 1 FOR UPDATE",
        {"c": cust_id},
    )
    if account is None:
        raise AppError(ErrorCode.CUSTOMER_NOT_FOUND_OR_STOPPED, f"custId={cust_id} 无账户")
    return account


_BILLS = (
    "SELECT c.*, (SELECT o.biz_order_no FROM biz_order_charge o WHERE o.charge_id = c.id AND o.live) AS live_order"
    " FROM biz_charge c WHERE c.id = ANY(CAST(:ids AS bigint[])) ORDER BY c.id FOR UPDATE OF c"
)


def _lock_bills(uow: UnitOfWork, ids: list[int]) -> dict[int, dict[str, Any]]:
    return {int(r["id"]): r for r in uow.all(_BILLS, {"ids": sorted(set(ids))})}


# ---------------------------------------------------------------------------------------- plans --
@dataclass
class _Ask:
    adjust_type: str
    amount: Decimal | None
    usage: Decimal | None
    source_trade_no: str | None


@dataclass
class _Plan:
    effect: Decimal
    bills: dict[int, dict[str, Any]]
    lines: list[rules.DiffLine] = field(default_factory=list)  # USAGE / AMOUNT: the new bill's lines
    total: Decimal = ZERO  # USAGE / AMOUNT: the new bill's total
    trade: dict[str, Any] | None = None  # REFUND / REVERSE
    collection: dict[str, Any] | None = None  # REVERSE
    reversal: rules.Reversal | None = None  # REVERSE
    bad_debt: Decimal = ZERO  # BAD_DEBT
    penalty: Decimal = ZERO  # BAD_DEBT: the penalty owed then, no longer owed


def _trade(uow: UnitOfWork, cust_id: int, trade_no: str) -> dict[str, Any] | None:
    return uow.one(
        "SELECT * FROM bk_transaction WHERE (trade_no = :t OR biz_order_no = :t) AND cust_id = :c"
        " ORDER BY id LIMIT 1",
        {"t": trade_no, "c": cust_id},
    )


def _no_trade(trade_no: str) -> AppError:
    return AppError(ErrorCode.NOT_FOUND, f"sourceTradeNo: 原交易 {trade_no} 不存在")


def _prepare(
    uow: UnitOfWork, ask: _Ask, charge_id: int, account: dict[str, Any], itself: int | None = None
) -> _Plan:
    """What the adjustment (`itself` once recorded) would do now, or the reason it cannot (1_002_004_001
    with the current state). The account is locked; this locks the bills."""
    kind = ask.adjust_type
    if kind == "REVERSE":
        return _prepare_reverse(uow, ask, charge_id, account, itself)
    bills = _lock_bills(uow, [charge_id])
    bill = bills[charge_id]
    if kind in ("USAGE", "AMOUNT"):
        if bill["status"] in (BillStatus.CANCELLED, BillStatus.BAD_DEBT):
            raise _state_error(
                f"账单 {bill['code']} 状态为 {bill['status']}，不能再调整", data=_bill_state(bill)
            )
        if bill["source_type"] == "ADJUST":
            raise _state_error(f"账单 {bill['code']} 本身是调整账单，请调整其原账单", data=_bill_state(bill))
        if kind == "AMOUNT":
            assert ask.amount is not None
            line = rules.DiffLine("ADJUST", 1, ZERO, ZERO, ask.amount, ZERO)
            return _Plan(abs(ask.amount), bills, [line], ask.amount)
        return _prepare_usage(uow, ask, bill, bills)
    if kind == "BAD_DEBT":
        if bill["status"] not in PAYABLE_BILLS:
            raise _state_error(
                f"账单 {bill['code']} 状态为 {bill['status']}，无可核销的欠费", data=_bill_state(bill)
            )
        if bill["live_order"] is not None:
            raise _state_error(
                f"账单 {bill['code']} 正在订单 {bill['live_order']} 中支付", data=_bill_state(bill)
            )
        owed = Decimal(bill["total_amount"]) - Decimal(bill["paid_amount"])
        if ask.amount is not None and ask.amount != owed:
            raise _state_error(
                f"adjustAmount: 坏账金额须为账单 {bill['code']} 尚欠的本金 {owed}", data=_bill_state(bill)
            )
        dues = amount_due(uow, int(bill["cust_id"]), charge_ids=[charge_id])
        return _Plan(owed, bills, bad_debt=owed, penalty=dues.of(charge_id).penalty)
    # REFUND: from the balance, back to the payer of the original transaction
    assert kind == "REFUND" and ask.amount is not None and ask.source_trade_no is not None
    trade = _trade(uow, int(bill["cust_id"]), ask.source_trade_no)
    if trade is None:
        raise _no_trade(ask.source_trade_no)
    if trade["status"] != "SUCCESS" or trade["channel_code"] == "PREPAY":
        raise _state_error(
            f"原交易 {ask.source_trade_no} 状态为 {trade['status']}（渠道 {trade['channel_code']}），没有可退的款项",
            data={"sourceTradeNo": ask.source_trade_no, "tradeStatus": trade["status"]},
        )
    paid_in = Decimal(trade["success_amount"] or trade["trade_amount"])
    refundable = paid_in - refunds.refunded_of(uow, refunds.trade_key(trade))
    balance = Decimal(account["balance"])
    if ask.amount > refundable or ask.amount > balance:
        raise _state_error(
            f"adjustAmount: 退款 {ask.amount} 超过可退金额（原交易尚可退 {refundable}，账户余额 {balance}）",
            data={"sourceTradeNo": ask.source_trade_no, "refundable": refundable, "balance": balance},
        )
    return _Plan(ask.amount, bills, trade=trade)


def _bill_state(bill: dict[str, Any]) -> dict[str, Any]:
    return {
        "chargeId": bill["id"],
        "chargeCode": bill["code"],
        "payStatus": bill["status"],
        "totalAmount": bill["total_amount"],
        "paidAmount": bill["paid_amount"],
        "invoiceStatus": bill["invoice_status"],
        "liveOrder": bill["live_order"],
    }


def _prepare_usage(
    uow: UnitOfWork, ask: _Ask, bill: dict[str, Any], bills: dict[int, dict[str, Any]]
) -> _Plan:
    assert ask.usage is not None
    lines = uow.all(
        "SELECT line_kind, part_no, segment_no FROM biz_charge_detail WHERE charge_id = :c", {"c": bill["id"]}
    )
    simple = all(
        r["part_no"] == 1 and r["segment_no"] == 1 and r["line_kind"] in ("USAGE", "FIXED") for r in lines
    )
    if bill["source_type"] != "READING" or bill["price_template_id"] is None or not simple:
        raise _state_error(
            f"账单 {bill['code']} 含分表、调价分段或最低水量，不能按水量重新计价（请用 AMOUNT 调整）",
            data=_bill_state(bill),
        )
    tariff = load_tariff(uow, int(bill["price_template_id"]))
    earlier = Decimal(
        uow.scalar(
            "SELECT COALESCE(sum(adjust_usage), 0) FROM biz_adjustment WHERE charge_id = :c"
            " AND adjust_type = 'USAGE' AND status = 'SUCCESS'",
            {"c": bill["id"]},
        )
    )
    population = int(uow.scalar("SELECT population FROM biz_cust WHERE id = :c", {"c": bill["cust_id"]}) or 1)
    billed = Decimal(bill["usage_amount"]) + earlier
    corrected = billed + ask.usage
    if corrected < 0:
        raise AppError(
            ErrorCode.BAD_REQUEST,
            f"adjustUsage: 调整后水量 {corrected} 小于 0（已计费水量 {billed}）",
        )
    if tariff.minimum_usage is not None and min(billed, corrected) < tariff.minimum_usage:
        raise _state_error(
            f"账单 {bill['code']} 的水量低于最低计量水量 {tariff.minimum_usage}，不能按水量重新计价（请用 AMOUNT 调整）",
            data=_bill_state(bill),
        )
    year = ZERO
    # ANNUAL: the tiers continue from the year's usage billed before this bill
    if tariff.tier_mode is TierMode.ANNUAL:
        year = Decimal(
            uow.scalar(
                "SELECT COALESCE(sum(usage_amount), 0) FROM biz_charge WHERE cust_id = :c AND status <> 'CANCELLED'"
                " AND bill_period >= :start AND (bill_period < :p OR (bill_period = :p AND id < :id))"
                " AND (source_charge_id IS NULL OR source_charge_id <> :id)",
                {
                    "c": bill["cust_id"],
                    "start": str(bill["bill_period"])[:4] + "-01",
                    "p": bill["bill_period"],
                    "id": bill["id"],
                },
            )
        )
    diff = rules.usage_difference(
        price(tariff, billed, population, billed_this_year=year),
        price(tariff, corrected, population, billed_this_year=year),
    )
    total = sum((d.amount for d in diff), ZERO)
    return _Plan(abs(total), bills, diff, total)


def _prepare_reverse(
    uow: UnitOfWork, ask: _Ask, charge_id: int, account: dict[str, Any], itself: int | None
) -> _Plan:
    assert ask.source_trade_no is not None
    cust_id = int(uow.scalar("SELECT cust_id FROM biz_charge WHERE id = :c", {"c": charge_id}))
    trade = _trade(uow, cust_id, ask.source_trade_no)
    if trade is not None:
        collection = uow.one(
            "SELECT * FROM biz_collection WHERE cust_id = :c AND (code = :o OR (trade_no = CAST(:t AS text)"
            " AND CAST(:t AS text) IS NOT NULL))"
            " ORDER BY id LIMIT 1",
            {"c": cust_id, "o": trade["biz_order_no"], "t": trade["trade_no"]},
        )
    else:  # a prepaid deduction at billing has no trade: its collection code
        collection = uow.one(
            "SELECT * FROM biz_collection WHERE cust_id = :c AND code = :t",
            {"c": cust_id, "t": ask.source_trade_no},
        )
    if collection is None:
        raise _no_trade(ask.source_trade_no)
    items = uow.all(
        "SELECT charge_id, COALESCE(sum(amount) FILTER (WHERE item_type = 'PRINCIPAL'), 0) AS principal,"
        " COALESCE(sum(amount) FILTER (WHERE item_type = 'PENALTY'), 0) AS penalty"
        " FROM biz_collection_item WHERE collection_id = :id GROUP BY charge_id ORDER BY charge_id",
        {"id": collection["id"]},
    )
    bills = _lock_bills(uow, [int(i["charge_id"]) for i in items] + [charge_id])
    state = {
        "sourceTradeNo": ask.source_trade_no,
        "collectionCode": collection["code"],
        "chargeIds": [int(i["charge_id"]) for i in items],
    }
    if charge_id not in {int(i["charge_id"]) for i in items}:
        raise _state_error(
            f"chargeId: 账单 {charge_id} 不在收费 {collection['code']} 核销的账单中", data=state
        )
    done = uow.one(
        "SELECT adjustment_no, status FROM biz_adjustment WHERE source_collection_id = :id AND adjust_type = 'REVERSE'"
        " AND status IN ('PENDING_APPROVAL', 'SUCCESS') AND id <> COALESCE(CAST(:me AS bigint), 0)",
        {"id": collection["id"], "me": itself},
    )
    if done is not None:
        raise _state_error(
            f"收费 {collection['code']} 已有冲正 {done['adjustment_no']}（{done['status']}）",
            data={**state, "adjustmentNo": done["adjustment_no"], "adjustStatus": done["status"]},
        )
    blocked = [
        _bill_state(b)
        for b in bills.values()
        if b["invoice_status"] != "NONE"
        or b["live_order"] is not None
        or b["status"] not in BILL.sources(BillStatus.UNPAID)
    ]
    if blocked:
        raise _state_error(
            "账单已开票、正在支付或已核销坏账，不能冲正（先作废或红冲发票）",
            data={**state, "charges": blocked},
        )
    plan = rules.reverse(
        str(collection["channel"]),
        Decimal(collection["amount"]),
        Decimal(collection["to_balance"]),
        [
            rules.WrittenOff(
                int(i["charge_id"]),
                Decimal(i["principal"]),
                Decimal(i["penalty"]),
                Decimal(bills[int(i["charge_id"])]["total_amount"]),
                Decimal(bills[int(i["charge_id"])]["paid_amount"]),
            )
            for i in items
        ],
    )
    if Decimal(account["balance"]) + plan.balance_change < 0:
        raise _state_error(
            f"收费 {collection['code']} 转入余额的 {-plan.balance_change} 已被使用（余额 {account['balance']}），不能冲正",
            data={**state, "balance": account["balance"], "toBalance": collection["to_balance"]},
        )
    return _Plan(Decimal(collection["amount"]), bills, trade=trade, collection=collection, reversal=plan)


# ------------------------------------------------------------------------------------ carrying out --
def _flow(uow: UnitOfWork, account_id: int, change: Decimal, kind: str, ref: str) -> Decimal:
    balance = uow.scalar(
        "UPDATE biz_account SET balance = balance + :d WHERE id = :a RETURNING balance",
        {"d": change, "a": account_id},
    )
    uow.execute(
        "INSERT INTO biz_account_flow (account_id, change_amount, balance_after, biz_type, ref_no)"
        " VALUES (:a, :d, :b, :t, :r)",
        {"a": account_id, "d": change, "b": balance, "t": kind, "r": ref},
    )
    return Decimal(balance)


def _line(
    uow: UnitOfWork,
    row: dict[str, Any],
    kind: str,
    amount: Decimal,
    *,
    charge_id: int | None = None,
    collection_id: int | None = None,
) -> None:
    uow.execute(
        "INSERT INTO biz_adjustment_line (adjustment_id, cust_id, account_id, charge_id, collection_id, line_type,"
        " amount, as_of) VALUES (:a, :c, :acc, :ch, :col, :t, :amt, :d)",
        {
            "a": row["id"],
            "c": row["cust_id"],
            "acc": row["account_id"],
            "ch": charge_id,
            "col": collection_id,
            "t": kind,
            "amt": amount,
            "d": clock.today(),
        },
    )


def _execute(uow: UnitOfWork, ctx: RequestContext, row: dict[str, Any], plan: _Plan) -> dict[str, Any]:
    """Carry the plan out on the locked account and bills: new entries only. Returns what was done."""
    kind = row["adjust_type"]
    charge_id = int(row["charge_id"])
    account_id = int(row["account_id"])
    if kind in ("USAGE", "AMOUNT"):
        if plan.total == 0:
            return {"totalAmount": ZERO}
        new_id = _difference_bill(uow, row, plan.bills[charge_id], plan)
        return {"totalAmount": plan.total, "newChargeId": new_id, "lines": len(plan.lines)}
    if kind == "BAD_DEBT":
        bill = plan.bills[charge_id]
        BILL.require(bill["status"], BillStatus.BAD_DEBT, f"账单 {bill['code']}")
        uow.execute(
            "UPDATE biz_charge SET status = :s WHERE id = :id", {"s": BillStatus.BAD_DEBT, "id": charge_id}
        )
        uow.execute(
            "UPDATE biz_account SET arrears_amount = GREATEST(arrears_amount - :d, 0) WHERE id = :a",
            {"d": plan.bad_debt, "a": account_id},
        )
        _line(uow, row, "BAD_DEBT", plan.bad_debt, charge_id=charge_id)
        return {
            "badDebtAmount": plan.bad_debt,
            "penaltyDropped": plan.penalty,
            "payStatusBefore": bill["status"],
        }
    if kind == "REFUND":
        assert plan.trade is not None
        amount = Decimal(row["adjust_amount"])
        balance = _flow(uow, account_id, -amount, "REFUND", row["adjustment_no"])
        _line(uow, row, "BALANCE", -amount)
        _line(uow, row, "REFUND", amount)
        refund = refunds.record(
            uow,
            ctx,
            amount=amount,
            trade=plan.trade,
            cust_id=int(row["cust_id"]),
            account_id=account_id,
            adjustment_id=int(row["id"]),
            booked=True,
        )
        return {"refundNo": refund["refund_no"], "refund": amount, "balanceAfter": balance}
    # REVERSE
    assert plan.reversal is not None and plan.collection is not None
    reversal, collection = plan.reversal, plan.collection
    for back in reversal.bills:
        bill = plan.bills[back.charge_id]
        if back.principal == 0 and back.penalty == 0:
            continue
        BILL.require(bill["status"], back.status_after, f"账单 {bill['code']}")
        uow.execute(
            "UPDATE biz_charge SET paid_amount = :p, status = :s, paid_time = NULL WHERE id = :id",
            {"p": back.paid_after, "s": back.status_after, "id": back.charge_id},
        )
        if back.principal:
            _line(
                uow,
                row,
                "PRINCIPAL",
                -back.principal,
                charge_id=back.charge_id,
                collection_id=collection["id"],
            )
        if back.penalty:
            _line(
                uow, row, "PENALTY", -back.penalty, charge_id=back.charge_id, collection_id=collection["id"]
            )
    uow.execute(
        "UPDATE biz_account SET arrears_amount = arrears_amount + :d WHERE id = :a",
        {"d": reversal.principal, "a": account_id},
    )
    out: dict[str, Any] = {
        "collectionCode": collection["code"],
        "collectionId": collection["id"],
        "principal": reversal.principal,
        "writtenOff": reversal.written_off,
        "balanceChange": reversal.balance_change,
        "refund": reversal.refund,
        "charges": [
            {"chargeId": b.charge_id, "payStatus": b.status_after, "paidAmount": b.paid_after}
            for b in reversal.bills
        ],
    }
    if reversal.balance_change:
        out["balanceAfter"] = _flow(uow, account_id, reversal.balance_change, "REVERSE", row["adjustment_no"])
        _line(uow, row, "BALANCE", reversal.balance_change)
    if reversal.refund > 0:
        _line(uow, row, "REFUND", reversal.refund)
        trade = plan.trade or {
            "trade_no": collection["trade_no"],
            "biz_order_no": collection["code"],
            "scene": collection["source"],
            "channel_code": collection["channel"],
        }
        refund = refunds.record(
            uow,
            ctx,
            amount=reversal.refund,
            trade=trade,
            cust_id=int(row["cust_id"]),
            account_id=account_id,
            adjustment_id=int(row["id"]),
            booked=True,
        )
        out["refundNo"] = refund["refund_no"]
    return out


def _difference_bill(uow: UnitOfWork, row: dict[str, Any], source: dict[str, Any], plan: _Plan) -> int:
    """The ADJUST bill of the original: a rise UNPAID (arrears up), a decrease a credit settled into the
    balance at once (flow ADJUST), as price_diff writes its PRICE_DIFF bills."""
    new_id = int(uow.scalar("SELECT nextval('biz_charge_id_seq')"))
    code = f"{CODE_PREFIX}{str(source['bill_period']).replace('-', '')}{new_id:010d}"
    due = max(source["due_date"], clock.today() + dt.timedelta(days=15))
    credit = plan.total < 0
    uow.execute(
        "INSERT INTO biz_charge (id, code, cust_id, account_id, meter_id, bill_period, usage_amount, total_amount,"
        " paid_amount, status, due_date, paid_time, price_template_id, settle_type, source_type, source_charge_id)"
        " VALUES (:id, :code, :c, :a, :m, :p, :u, :t, :paid, :s, :due, :pt, :tpl, :st, 'ADJUST', :src)",
        {
            "id": new_id,
            "code": code,
            "c": source["cust_id"],
            "a": source["account_id"],
            "m": source["meter_id"],
            "p": source["bill_period"],
            "u": row["adjust_usage"] or ZERO,
            "t": plan.total,
            "paid": plan.total if credit else ZERO,
            "s": BillStatus.PAID if credit else BillStatus.UNPAID,
            "due": due,
            "pt": dt.datetime.now(dt.UTC) if credit else None,
            "tpl": source["price_template_id"],
            "st": source["settle_type"],
            "src": source["id"],
        },
    )
    for n, line in enumerate(plan.lines, start=1):
        uow.execute(
            "INSERT INTO biz_charge_detail (charge_id, line_no, cost_component, tier_no, usage_amount, unit_price,"
            " amount, tax_rate, price_template_id, line_kind) VALUES (:c, :n, :comp, :tier, :q, :up, :amt, :tax,"
            " :tpl, 'ADJUST')",
            {
                "c": new_id,
                "n": n,
                "comp": line.component,
                "tier": line.tier_no,
                "q": line.quantity,
                "up": line.unit_price,
                "amt": line.amount,
                "tax": line.tax_rate,
                "tpl": source["price_template_id"],
            },
        )
    if credit:
        _flow(uow, int(source["account_id"]), -plan.total, "ADJUST", code)
        _line(uow, row, "BALANCE", -plan.total)
    else:
        uow.execute(
            "UPDATE biz_account SET arrears_amount = arrears_amount + :d WHERE id = :a",
            {"d": plan.total, "a": source["account_id"]},
        )
    uow.execute("UPDATE biz_adjustment SET new_charge_id = :n WHERE id = :id", {"n": new_id, "id": row["id"]})
    return new_id


# ------------------------------------------------------------------------------------- request --
def _request_key(ctx: RequestContext, cmd: RequestAdjustment) -> str:
    if cmd.request_no:
        return f"RNO:{ctx.principal.user_id}:{cmd.request_no}"
    content = json.dumps(
        [
            ctx.principal.user_id,
            cmd.charge_id,
            cmd.adjust_type,
            None if cmd.adjust_amount is None else str(cmd.adjust_amount),
            None if cmd.adjust_usage is None else str(cmd.adjust_usage),
            cmd.source_trade_no,
            cmd.reason_code,
            cmd.remark,
            clock.today().isoformat(),
        ],
        ensure_ascii=False,
    )
    return "H:" + hashlib.sha256(content.encode()).hexdigest()


def _replayed(uow: UnitOfWork, done: dict[str, Any], cmd: RequestAdjustment) -> dict[str, Any]:
    differs = [
        name
        for name, stored, asked in (
            ("chargeId", done["charge_id"], cmd.charge_id),
            ("adjustType", done["adjust_type"], cmd.adjust_type),
            ("adjustAmount", done["adjust_amount"], cmd.adjust_amount),
            ("adjustUsage", done["adjust_usage"], cmd.adjust_usage),
            ("sourceTradeNo", done["source_trade_no"], cmd.source_trade_no),
        )
        if stored != asked
    ]
    if differs:
        raise AppError(
            ErrorCode.CONFLICT,
            f"requestNo {cmd.request_no} 已用于另一笔调整 {done['adjustment_no']}（{'、'.join(differs)} 不一致）",
            data={"adjustmentNo": done["adjustment_no"], "mismatch": differs},
        )
    return _reload(uow, int(done["id"]), replay=True)


def request(ctx: RequestContext, cmd: RequestAdjustment) -> dict[str, Any]:
    if cmd.operator_id != ctx.principal.user_id:
        raise AppError(ErrorCode.FORBIDDEN, f"operatorId: {cmd.operator_id} 不是当前登录用户")
    key = _request_key(ctx, cmd)
    try:
        reply, refund_ids = _request(ctx, cmd, key)
    except IntegrityError:
        with UnitOfWork() as uow:  # a concurrent duplicate committed first
            done = uow.one("SELECT * FROM biz_adjustment WHERE request_key = :k", {"k": key})
            if done is None:
                raise
            return _replayed(uow, done, cmd)
    refunds.send_many(refund_ids)
    return reply if not refund_ids else _refreshed(reply)


def _refreshed(reply: dict[str, Any]) -> dict[str, Any]:
    with UnitOfWork() as uow:
        row = uow.one(_VIEW + " WHERE a.adjustment_no = :no", {"no": reply["adjustmentNo"]})
        assert row is not None
        return _view(row, replay=reply["replay"])


def _request(ctx: RequestContext, cmd: RequestAdjustment, key: str) -> tuple[dict[str, Any], list[int]]:
    with UnitOfWork() as uow:
        if (done := uow.one("SELECT * FROM biz_adjustment WHERE request_key = :k", {"k": key})) is not None:
            return _replayed(uow, done, cmd), []
        bill = _bill(uow, ctx, cmd.charge_id)
        account = _lock_account(uow, int(bill["cust_id"]))
        if (done := uow.one("SELECT * FROM biz_adjustment WHERE request_key = :k", {"k": key})) is not None:
            return _replayed(uow, done, cmd), []  # it committed while we waited for the account
        ask = _Ask(cmd.adjust_type, cmd.adjust_amount, cmd.adjust_usage, cmd.source_trade_no)
        plan = _prepare(uow, ask, cmd.charge_id, account)
        threshold = rule_value(uow, ADJUST_APPROVAL_THRESHOLD.code, cust_id=int(bill["cust_id"]))
        types = rule_value(uow, ADJUST_APPROVAL_TYPES.code, cust_id=int(bill["cust_id"]))
        approval = rules.needs_approval(cmd.adjust_type, plan.effect, threshold, types)
        seq = uow.scalar("SELECT nextval('biz_adjustment_seq')")
        number = f"{NO_PREFIX}{dt.datetime.now(dt.UTC):%Y%m%d}{int(seq):08d}"
        row = uow.one(
            "INSERT INTO biz_adjustment (adjustment_no, adjust_type, charge_id, cust_id, account_id, adjust_amount,"
            " adjust_usage, source_trade_no, source_collection_id, reason_code, remark, attachment_list, status,"
            " write_back_status, approval_required, effect_amount, request_key, requested_by) VALUES (:no, :t, :c,"
            " :cust, :a, :amt, :u, :src, :col, :reason, :remark, CAST(:att AS jsonb), :s, :wb, :appr, :eff, :k, :by)"
            " RETURNING *",
            {
                "no": number,
                "t": cmd.adjust_type,
                "c": cmd.charge_id,
                "cust": bill["cust_id"],
                "a": account["id"],
                "amt": cmd.adjust_amount,
                "u": cmd.adjust_usage,
                "src": cmd.source_trade_no,
                "col": None if plan.collection is None else plan.collection["id"],
                "reason": cmd.reason_code,
                "remark": None if cmd.remark is None else mask_text(cmd.remark),
                "att": json.dumps(list(cmd.attachments), ensure_ascii=False),
                "s": PENDING,
                "wb": "PENDING",
                "appr": approval,
                "eff": plan.effect,
                "k": key,
                "by": ctx.principal.user_id,
            },
        )
        assert row is not None
        audit.record(
            uow,
            ctx,
            module=MODULE,
            operation="ADJUST_REQUEST",
            object_type="biz_adjustment",
            object_id=row["id"],
            after={
                "adjustmentNo": number,
                "adjustType": cmd.adjust_type,
                "chargeId": cmd.charge_id,
                "adjustAmount": cmd.adjust_amount,
                "adjustUsage": cmd.adjust_usage,
                "sourceTradeNo": cmd.source_trade_no,
                "effectAmount": plan.effect,
                "approvalRequired": approval,
                "reasonCode": cmd.reason_code,
            },
            remark=None if cmd.remark is None else mask_text(cmd.remark),
        )
        refund_ids: list[int] = []
        if not approval:
            refund_ids = _carry_out(uow, ctx, row, plan, operation="ADJUST_EXECUTE")
        reply = _reload(uow, int(row["id"]))
        uow.commit()
    return reply, refund_ids


def _carry_out(
    uow: UnitOfWork, ctx: RequestContext, row: dict[str, Any], plan: _Plan, *, operation: str
) -> list[int]:
    result = _execute(uow, ctx, row, plan)
    write_back = "NONE" if row["adjust_type"] == "REFUND" else "SUCCESS"
    uow.execute(
        "UPDATE biz_adjustment SET status = :s, write_back_status = :wb, executed_time = now(),"
        " result = CAST(:r AS jsonb) WHERE id = :id",
        {
            "s": SUCCESS,
            "wb": write_back,
            "r": json.dumps(_jsonable(result), ensure_ascii=False),
            "id": row["id"],
        },
    )
    audit.record(
        uow,
        ctx,
        module=MODULE,
        operation=operation,
        object_type="biz_adjustment",
        object_id=row["id"],
        before={"status": row["status"]},
        after={"status": SUCCESS, "writeBackStatus": write_back, "result": result},
    )
    return [
        int(r["id"])
        for r in uow.all(
            "SELECT id FROM biz_refund WHERE adjustment_id = :a AND method = 'SYS009' AND status = 'PENDING'",
            {"a": row["id"]},
        )
    ]


def _jsonable(value: Any) -> Any:
    from waterrev.envelope import jsonable

    return jsonable(value)


# ------------------------------------------------------------------------------------ decisions --
def _lock_adjustment(uow: UnitOfWork, ctx: RequestContext, number: str) -> dict[str, Any]:
    row = uow.one("SELECT * FROM biz_adjustment WHERE adjustment_no = :no FOR UPDATE", {"no": number})
    if row is None or not customer_visible(uow, ctx, row["cust_id"]):
        raise AppError(ErrorCode.NOT_FOUND, f"adjustmentNo: 调整 {number} 不存在")
    return row


def _decided(uow: UnitOfWork, row: dict[str, Any], target: str) -> dict[str, Any] | None:
    """The stored answer when this decision was made already; a refusal when another one was."""
    if row["status"] == PENDING:
        return None
    if (target == SUCCESS and row["status"] in (SUCCESS, FAIL) and row["decided_by"] is not None) or (
        target == REJECTED and row["status"] == REJECTED
    ):
        return _reload(uow, int(row["id"]), replay=True)
    raise _state_error(
        f"调整 {row['adjustment_no']} 当前状态为 {row['status']}，不能再{'审批' if target == SUCCESS else '驳回'}",
        data=_reload(uow, int(row["id"])),
    )


def _second_person(ctx: RequestContext, row: dict[str, Any]) -> None:
    if row["requested_by"] == ctx.principal.user_id:
        raise AppError(
            ErrorCode.FORBIDDEN,
            f"调整 {row['adjustment_no']} 须由申请人以外的人审批（申请人不能审批或驳回自己的申请）",
        )


# ----------------------------------------------------------------------- penalty waivers (JM...) --
WAIVER_STATUS = {"PENDING": PENDING, "APPROVED": SUCCESS, "REJECTED": REJECTED}


def _waiver_view(w: dict[str, Any]) -> dict[str, Any]:
    """A penalty waiver request (accounting.waiver) answered as an adjustment."""
    return {
        **{
            k: w[k]
            for k in (
                "adjustmentNo",
                "chargeId",
                "resultStatus",
                "writeBackStatus",
                "approvalRequired",
                "msg",
                "adjustType",
                "custId",
                "adjustAmount",
                "reasonCode",
                "remark",
                "attachmentList",
                "requestedBy",
                "requestedByName",
                "requestTime",
                "decidedBy",
                "decidedByName",
                "decisionRemark",
                "decidedTime",
            )
        },
        "adjustStatus": WAIVER_STATUS[w["waiverStatus"]],
        "adjustUsage": None,
        "sourceTradeNo": None,
        "effectAmount": w["waivedAmount"]
        if w["waivedAmount"] is not None
        else w["adjustAmount"] or w["penaltyOwed"],
        "newChargeId": None,
        "refundNo": None,
        "refundStatus": None,
        "refundMethod": None,
        "failReason": None,
        "replay": bool(w.get("replay", False)),
    }


def _waiver_decision(ctx: RequestContext) -> None:
    """Penalty waivers are decided through the same approval routes by whoever may approve waivers."""
    if not ctx.principal.has("revenue:penalty:approve"):
        raise AppError(ErrorCode.FORBIDDEN, "违约金减免申请须由具有 revenue:penalty:approve 权限的人审批")


def approve(ctx: RequestContext, cmd: DecideAdjustment) -> dict[str, Any]:
    if cmd.adjustment_no.startswith("JM"):
        _waiver_decision(ctx)
        return _waiver_view(waiver.approve(ctx, DecideWaiver(cmd.adjustment_no, cmd.remark)))
    refund_ids: list[int] = []
    with UnitOfWork() as uow:
        row = _lock_adjustment(uow, ctx, cmd.adjustment_no)
        if (done := _decided(uow, row, SUCCESS)) is not None:
            return done
        _second_person(ctx, row)
        decision = {
            "by": ctx.principal.user_id,
            "r": None if cmd.remark is None else mask_text(cmd.remark),
            "id": row["id"],
        }
        account = _lock_account(uow, int(row["cust_id"]))
        ask = _Ask(
            row["adjust_type"],
            None if row["adjust_amount"] is None else Decimal(row["adjust_amount"]),
            None if row["adjust_usage"] is None else Decimal(row["adjust_usage"]),
            row["source_trade_no"],
        )
        uow.execute("SAVEPOINT adjust_check")
        try:
            plan = _prepare(uow, ask, int(row["charge_id"]), account, int(row["id"]))
        except AppError as exc:  # it can no longer be done: the request ends FAIL, nothing moved
            uow.execute("ROLLBACK TO SAVEPOINT adjust_check")
            uow.execute(
                "UPDATE biz_adjustment SET status = :s, write_back_status = 'NONE', decided_by = :by,"
                " decision_remark = :r, decided_time = now(), fail_reason = :f WHERE id = :id",
                {**decision, "s": FAIL, "f": (exc.detail or exc.msg)[:255]},
            )
            audit.record(
                uow,
                ctx,
                module=MODULE,
                operation="ADJUST_APPROVE",
                object_type="biz_adjustment",
                object_id=row["id"],
                before={"status": row["status"]},
                after={"status": FAIL, "failReason": exc.detail, "state": exc.data},
            )
            reply = _reload(uow, int(row["id"]))
            uow.commit()
            return reply
        uow.execute(
            "UPDATE biz_adjustment SET decided_by = :by, decision_remark = :r, decided_time = now() WHERE id = :id",
            decision,
        )
        row = {**row, "decided_by": ctx.principal.user_id}
        refund_ids = _carry_out(uow, ctx, row, plan, operation="ADJUST_APPROVE")
        reply = _reload(uow, int(row["id"]))
        uow.commit()
    if refund_ids:
        refunds.send_many(refund_ids)
        return _refreshed(reply)
    return reply


def reject(ctx: RequestContext, cmd: DecideAdjustment) -> dict[str, Any]:
    if cmd.adjustment_no.startswith("JM"):
        _waiver_decision(ctx)
        return _waiver_view(waiver.reject(ctx, DecideWaiver(cmd.adjustment_no, cmd.remark)))
    with UnitOfWork() as uow:
        row = _lock_adjustment(uow, ctx, cmd.adjustment_no)
        if (done := _decided(uow, row, REJECTED)) is not None:
            return done
        _second_person(ctx, row)
        uow.execute(
            "UPDATE biz_adjustment SET status = :s, write_back_status = 'NONE', decided_by = :by,"
            " decision_remark = :r, decided_time = now() WHERE id = :id",
            {
                "s": REJECTED,
                "by": ctx.principal.user_id,
                "r": None if cmd.remark is None else mask_text(cmd.remark),
                "id": row["id"],
            },
        )
        audit.record(
            uow,
            ctx,
            module=MODULE,
            operation="ADJUST_REJECT",
            object_type="biz_adjustment",
            object_id=row["id"],
            before={"status": row["status"]},
            after={"status": REJECTED},
            remark=None if cmd.remark is None else mask_text(cmd.remark),
        )
        reply = _reload(uow, int(row["id"]))
        uow.commit()
    return reply


# ------------------------------------------------------------------------------------------ page --
_STATUSES = {"SUCCESS": (SUCCESS,), "PENDING_APPROVAL": (PENDING,), "FAIL": (REJECTED, FAIL)}
_WAIVER_STATUSES = {"SUCCESS": "APPROVED", "PENDING_APPROVAL": "PENDING", "FAIL": "REJECTED"}


def find(ctx: RequestContext, query: FindAdjustments) -> dict[str, Any]:
    """The adjustments - and the penalty waiver requests, decided through the same approval - of customers
    in the caller's data scope, newest first (resultStatus PENDING_APPROVAL: what waits for a decision)."""
    in_scope, params = customer_scope(ctx, "k.dept_id")
    mine, theirs = [in_scope], [in_scope]
    for name, value in (("cust_id", query.cust_id), ("charge_id", query.charge_id)):
        if value is not None:
            mine.append(f"a.{name} = :{name}")
            theirs.append(f"w.{name} = :{name}")
            params[name] = value
    if query.adjust_type is not None:
        mine.append("a.adjust_type = :type")
        params["type"] = query.adjust_type
        if query.adjust_type != waiver.ADJUST_TYPE:
            theirs.append("false")
    if query.result_status is not None:
        mine.append("a.status = ANY(CAST(:statuses AS text[]))")
        theirs.append("w.status = :wstatus")
        params["statuses"] = list(_STATUSES[query.result_status])
        params["wstatus"] = _WAIVER_STATUSES[query.result_status]
    union = (
        f"SELECT 'A' AS kind, a.id, a.request_time FROM biz_adjustment a JOIN biz_cust k ON k.id = a.cust_id"
        f" WHERE {' AND '.join(mine)} UNION ALL SELECT 'W', w.id, w.request_time FROM biz_penalty_waiver w"
        f" JOIN biz_cust k ON k.id = w.cust_id WHERE {' AND '.join(theirs)}"
    )
    with UnitOfWork() as uow:
        total = uow.scalar(f"SELECT count(*) FROM ({union}) u", params)
        keys = uow.all(
            f"SELECT kind, id FROM ({union}) u ORDER BY request_time DESC, id DESC LIMIT :lim OFFSET :off",
            {**params, "lim": query.page_size, "off": (query.page_no - 1) * query.page_size},
        )
        ids = [int(k["id"]) for k in keys if k["kind"] == "A"]
        wids = [int(k["id"]) for k in keys if k["kind"] == "W"]
        mine_rows = (
            {
                int(r["id"]): _view(r)
                for r in uow.all(_VIEW + " WHERE a.id = ANY(CAST(:ids AS bigint[]))", {"ids": ids})
            }
            if ids
            else {}
        )
        waiver_rows = (
            {
                int(r["id"]): _waiver_view(waiver._view(r))
                for r in uow.all(waiver._VIEW + " WHERE w.id = ANY(CAST(:ids AS bigint[]))", {"ids": wids})
            }
            if wids
            else {}
        )
    items = [
        {
            k: v
            for k, v in (mine_rows if key["kind"] == "A" else waiver_rows)[int(key["id"])].items()
            if k != "replay"
        }
        for key in keys
    ]
    return page(items, int(total), query.page_no, query.page_size)
