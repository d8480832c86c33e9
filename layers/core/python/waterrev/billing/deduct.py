"""Prepaid balance deduction (预存抵扣): bills just generated are paid from the account's balance, in the
transaction that writes them, set-based.

The books end exactly as a PREPAY write-off through the shared write-off (`rev_write_off`, what the
counter does for paymentChannel PREPAY) would leave them, one write-off per account: the balance
less what it paid with a PREPAY_USE flow, a collection (channel PREPAY, source DEDUCT, its own code
DK...) with one item per bill reached, the bills' paid amounts and statuses (oldest first, by
payments.rules.allocate through billing.rules.plan_deduction), the arrears less what was written
off. What differs is how: one statement per table per chunk instead of a function call per account
(a bill run meets thousands of prepaid accounts per chunk), and the new bills are written already
paid. tests/integration/test_prepay_deduction.py runs both paths on the same data and compares them.

Which accounts: a NORMAL account (a frozen balance is not touched) with a positive balance whose
customer's dept has `revenue.billing.prepay-deduct` on (dept-scoped RULE, default on). Which bills:
the new bills, and the account's older UNPAID / PARTIAL bills not held by a live online order when the
account owed anything before (its arrears), each with its late-payment penalty as of the day
(billing.dues: the same amount due every channel shows), paid penalty or principal first as the coverage
order says, a paid penalty its own PENALTY line that does not lower the arrears. A balance left below `revenue.billing.prepay-low-balance`
(default 20.00) queues one PREPAY_LOW_BALANCE SMS to the customer's mobile per deduction.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from decimal import Decimal, InvalidOperation
from typing import NamedTuple

from waterrev import audit, clock, crypto, messages
from waterrev.billing.bulk import copy_rows, copy_value, draw
from waterrev.billing.dues import amount_due
from waterrev.billing.rules import plan_deduction
from waterrev.context import RequestContext
from waterrev.db import UnitOfWork
from waterrev.domain.lifecycle import sql_in
from waterrev.domain.states import PAYABLE_BILLS, BillStatus
from waterrev.payments.rules import Bill
from waterrev.scoped import param_values

SWITCH = "revenue.billing.prepay-deduct"
THRESHOLD = "revenue.billing.prepay-low-balance"
DEFAULT_THRESHOLD = Decimal("20.00")
TEMPLATE = "PREPAY_LOW_BALANCE"
CHANNEL = "PREPAY"
SOURCE = "DEDUCT"
CODE_PREFIX = "DK"
MODULE = "REV-003"
ZERO = Decimal("0.00")
_OFF = frozenset({"0", "false", "no", "off", "n"})


class NewBill(NamedTuple):
    charge_id: int
    cust_id: int
    account_id: int
    dept_id: int
    bill_period: str
    amount: Decimal


class Paid(NamedTuple):
    """A bill after the deduction: what is paid on it now in all, and its status."""

    paid: Decimal
    status: BillStatus


@dataclass
class AccountDeduction:
    account_id: int
    cust_id: int
    cust_code: str
    mobile: crypto.Sealed | None  # as biz_cust keeps it: masked, sealed, indexed (never opened here)
    balance_before: Decimal
    amount: Decimal
    status: str  # CollectionStatus of the write-off
    lines: list[tuple[int, Decimal, Decimal]]  # (charge id, principal, penalty), oldest first
    threshold: Decimal
    owed_after: Decimal
    bill_period: str
    penalty_as_of: dt.date | None = None
    collection_id: int = 0
    code: str = ""

    @property
    def balance_after(self) -> Decimal:
        return self.balance_before - self.amount

    @property
    def principal(self) -> Decimal:
        """The water fee written off: what lowers the arrears (a penalty does not)."""
        return sum((line[1] for line in self.lines), ZERO)


@dataclass
class Plan:
    """What a chunk's deduction will write: the state of the new bills it pays (written with them), the
    older bills it pays, and per account the write-off."""

    new_bills: dict[int, Paid] = field(default_factory=dict)
    older: dict[int, Paid] = field(default_factory=dict)
    accounts: list[AccountDeduction] = field(default_factory=list)

    def written(self) -> dict[int, tuple[Decimal, Decimal]]:
        """Per account: what the deduction took from the balance (principal and penalty), and the
        principal it wrote off the arrears."""
        return {a.account_id: (a.amount, a.principal) for a in self.accounts}


def _switch(value: str | None) -> bool:
    """On unless configured off (false, 0, no, off); anything else keeps the default, on."""
    return value is None or value.strip().lower() not in _OFF


def _threshold(value: str | None) -> Decimal:
    """The configured amount, or the default for a value that is not a non-negative amount."""
    try:
        amount = Decimal((value or "").strip()) if value is not None else DEFAULT_THRESHOLD
    except InvalidOperation:
        return DEFAULT_THRESHOLD
    return amount if amount.is_finite() and amount >= 0 else DEFAULT_THRESHOLD


def plan(uow: UnitOfWork, bills: list[NewBill], *, also: set[int] | frozenset[int] = frozenset()) -> Plan:
    """Lock the prepaid accounts of `bills` (id order) and the older bills they may pay (id order), and
    decide what each balance pays. `also`: accounts to look at without a new bill (a balance just
    credited pays their older bills). Nothing is written."""
    out = Plan()
    candidates = sorted({b.account_id for b in bills} | set(also))
    if not candidates:
        return out
    accounts = uow.all(
        "SELECT a.id, a.cust_id, a.balance, a.arrears_amount, c.code, c.mobile, c.mobile_cipher,"
        " c.mobile_index, c.dept_id FROM biz_account a"
        " JOIN biz_cust c ON c.id = a.cust_id WHERE a.id = ANY(CAST(:ids AS bigint[])) AND a.balance > 0"
        " AND a.status = 'NORMAL' ORDER BY a.id FOR UPDATE OF a",  # under the lock: the balance as it is now
        {"ids": candidates},
    )
    switched = param_values(uow, SWITCH, {int(a["dept_id"]) for a in accounts})
    accounts = [a for a in accounts if _switch(switched.get(int(a["dept_id"])))]
    if not accounts:
        return out
    thresholds = {
        d: _threshold(v)
        for d, v in param_values(uow, THRESHOLD, {int(a["dept_id"]) for a in accounts}).items()
    }
    new_of: dict[int, list[NewBill]] = {}
    for b in bills:
        new_of.setdefault(b.account_id, []).append(b)
    owing = [int(a["id"]) for a in accounts if Decimal(a["arrears_amount"]) > 0]
    older: dict[int, list[Bill]] = {}
    penalty_first: dict[int, bool] = {}
    as_of: dict[int, dt.date] = {}
    if owing:
        for r in uow.all(
            "SELECT c.id, c.account_id, c.bill_period, c.total_amount, c.paid_amount, c.status FROM biz_charge c"
            f" WHERE c.account_id = ANY(CAST(:a AS bigint[])) AND c.status IN ({sql_in(PAYABLE_BILLS)})"
            " AND c.cust_id = ANY(CAST(:c AS bigint[])) AND NOT EXISTS (SELECT 1 FROM biz_order_charge o"
            " WHERE o.charge_id = c.id AND o.live) ORDER BY c.id FOR UPDATE OF c",
            {"a": owing, "c": sorted({int(a["cust_id"]) for a in accounts if int(a["id"]) in owing})},
        ):
            older.setdefault(int(r["account_id"]), []).append(
                Bill(
                    int(r["id"]),
                    str(r["bill_period"]),
                    Decimal(r["total_amount"]),
                    Decimal(r["paid_amount"]),
                    str(r["status"]),
                )
            )
        # what each older bill owes today: its principal and its penalty (rare: an account holding a
        # balance while it owes, one round trip per such account)
        for a in accounts:
            account_id = int(a["id"])
            if account_id not in older:
                continue
            dues = amount_due(uow, int(a["cust_id"]), charge_ids=[b.charge_id for b in older[account_id]])
            penalties = dues.penalty_of()
            older[account_id] = [
                replace(b, penalty=penalties.get(b.charge_id, ZERO)) for b in older[account_id]
            ]
            penalty_first[account_id] = dues.penalty_first
            as_of[account_id] = dues.as_of
    for a in accounts:
        account_id = int(a["id"])
        new = new_of.get(account_id, [])
        chosen = older.get(account_id, []) + [
            Bill(b.charge_id, b.bill_period, b.amount, ZERO, BillStatus.UNPAID) for b in new
        ]
        balance = Decimal(a["balance"])
        allocation = plan_deduction(balance, chosen, penalty_first=penalty_first.get(account_id, False))
        if allocation is None:
            continue
        older_ids = {b.charge_id for b in chosen[: len(chosen) - len(new)]}
        for line in allocation.lines:
            target = out.older if line.charge_id in older_ids else out.new_bills
            target[line.charge_id] = Paid(line.paid_after, line.status_after)
        out.accounts.append(
            AccountDeduction(
                account_id=account_id,
                cust_id=int(a["cust_id"]),
                cust_code=str(a["code"]),
                mobile=crypto.stored(a, "mobile") if a["mobile_cipher"] is not None else None,
                balance_before=balance,
                amount=allocation.amount,
                status=str(allocation.status),
                lines=[(line.charge_id, line.amount, line.penalty) for line in allocation.lines],
                threshold=thresholds.get(int(a["dept_id"]), DEFAULT_THRESHOLD),
                owed_after=allocation.remain,
                bill_period=max(b.bill_period for b in chosen),
                penalty_as_of=as_of.get(account_id),
            )
        )
    return out


def write(uow: UnitOfWork, ctx: RequestContext, deduction: Plan, *, paid_time: dt.datetime) -> None:
    """Write what `plan` decided (the new bills were written paid already): the older bills' payments,
    one collection per account with its items and PREPAY_USE flow, the low-balance notices, and one
    audit row listing the chunk's deductions. The caller moves the accounts' balances and arrears
    (`Plan.written`) in the statement that adds the new bills to the arrears."""
    if not deduction.accounts:
        return
    if deduction.older:
        uow.execute(
            "UPDATE biz_charge c SET paid_amount = l.paid, status = l.status,"
            f" paid_time = CASE WHEN l.status = '{BillStatus.PAID}' THEN now() ELSE c.paid_time END"
            " FROM unnest(CAST(:ids AS bigint[]), CAST(:paid AS numeric[]), CAST(:st AS varchar[]))"
            " AS l (id, paid, status) WHERE c.id = l.id",
            {
                "ids": list(deduction.older),
                "paid": [p.paid for p in deduction.older.values()],
                "st": [str(p.status) for p in deduction.older.values()],
            },
        )
    n = len(deduction.accounts)
    (collection_ids, seqs), _ = draw(uow, ("biz_collection_id_seq", "biz_collection_code_seq"), n)
    day = f"{dt.datetime.now(dt.UTC):%Y%m%d}"
    operator = ctx.principal.user_id or None
    at = paid_time.isoformat()
    today = clock.today()
    collections: list[str] = []
    items: list[str] = []
    flows: list[str] = []
    for account, collection_id, seq in zip(deduction.accounts, collection_ids, seqs, strict=True):
        account.collection_id = int(collection_id)
        account.code = f"{CODE_PREFIX}{day}{int(seq):08d}"
        collections.append(
            f"{collection_id}\t{account.code}\t{account.cust_id}\t{account.account_id}\t{account.amount}\t"
            f"{CHANNEL}\t{account.status}\t{copy_value(operator)}\t预存抵扣\t{at}\t{SOURCE}\t{account.amount}\t0\t"
            f"{account.penalty_as_of or today}\n"
        )
        items.extend(
            f"{collection_id}\t{charge_id}\t{principal}\tPRINCIPAL\n"
            for charge_id, principal, _ in account.lines
            if principal > 0
        )
        items.extend(
            f"{collection_id}\t{charge_id}\t{penalty}\tPENALTY\n"
            for charge_id, _, penalty in account.lines
            if penalty > 0
        )
        flows.append(
            f"{account.account_id}\t{-account.amount}\t{account.balance_after}\tPREPAY_USE\t{account.code}\n"
        )
    copy_rows(
        uow,
        "biz_collection",
        (
            "id",
            "code",
            "cust_id",
            "account_id",
            "amount",
            "channel",
            "status",
            "operator_id",
            "remark",
            "pay_time",
            "source",
            "written_off",
            "to_balance",
            "penalty_as_of",
        ),
        "".join(collections),
    )
    copy_rows(
        uow, "biz_collection_item", ("collection_id", "charge_id", "amount", "item_type"), "".join(items)
    )
    copy_rows(
        uow,
        "biz_account_flow",
        ("account_id", "change_amount", "balance_after", "biz_type", "ref_no"),
        "".join(flows),
    )
    low = [a for a in deduction.accounts if a.balance_after < a.threshold]
    messages.enqueue_many(
        uow,
        [
            {
                "biz_no": a.code,
                "template_code": TEMPLATE,
                "receiver": a.mobile.masked if a.mobile else None,
                "sealed": a.mobile,
                "channel": "SMS",
                "cust_id": a.cust_id,
                "source": "PREPAY_DEDUCT",
                "payload": {
                    "custId": a.cust_id,
                    "custCode": a.cust_code,
                    "billPeriod": a.bill_period,
                    "deductAmount": str(a.amount),
                    "balance": str(a.balance_after),
                    "threshold": str(a.threshold),
                    "arrearsAmount": str(a.owed_after),
                    "collectionCode": a.code,
                },
            }
            for a in low
            if a.mobile
        ],
    )
    ids = [a.collection_id for a in deduction.accounts]
    audit.record(  # the collections, their items and flows hold the detail; the audit names them
        uow,
        ctx,
        module=MODULE,
        operation="PREPAY_DEDUCT",
        object_type="biz_collection",
        object_id=f"{ids[0]}..{ids[-1]}" if n > 1 else ids[0],
        after={
            "count": n,
            "totalAmount": sum((a.amount for a in deduction.accounts), ZERO),
            "collectionIds": ids,
            "accountIds": [a.account_id for a in deduction.accounts],
            "chargeIds": [line[0] for a in deduction.accounts for line in a.lines],
            "penaltyAmount": sum((line[2] for a in deduction.accounts for line in a.lines), ZERO),
            "lowBalanceNotices": len([a for a in low if a.mobile]),
        },
    )
