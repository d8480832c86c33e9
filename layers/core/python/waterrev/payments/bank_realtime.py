"""IF-EXT-003 bank real-time charging: a bank (counter, online or mobile banking) asks what a
customer owes and pays it. What is owed is each bill's principal and its late-payment penalty as of
today (`billing.dues`); the bank pays exactly that. Same write-off and rules as the counter; the bank's
serial number is the idempotency key (a repeat answers the first result and writes nothing). Every bank payment also
keeps a settled bk_transaction row (trade number "<bankCode>:<serial>", channel and scene BANK), so
the trades of every channel are in one table for reconciliation."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import Any

from sqlalchemy.exc import IntegrityError

from waterrev.billing.dues import Dues, amount_due
from waterrev.context import Principal, RequestContext, UserType
from waterrev.db import UnitOfWork
from waterrev.domain.lifecycle import sql_in
from waterrev.domain.states import PAYABLE_BILLS
from waterrev.errors import AppError, ErrorCode
from waterrev.payments.collection import (
    WriteOff,
    chosen_bills,
    dues_of,
    lock_account,
    lock_charges,
    record_trade,
    short_amount,
    unique_violation,
    write_off,
)
from waterrev.payments.commands import BankPay


def _customer(uow: UnitOfWork, cust_code: str) -> dict[str, Any]:
    cust = uow.one("SELECT id, code, name, status FROM biz_cust WHERE code = :c", {"c": cust_code})
    if cust is None or cust["status"] != "NORMAL":
        raise AppError(ErrorCode.CUSTOMER_NOT_FOUND_OR_STOPPED, f"custCode={cust_code}")
    return cust


def _name_masked(name: str) -> str:
    return name[:1] + "*" * (len(name) - 1)


def arrears(cust_code: str) -> dict[str, Any]:
    """What the bank may collect today: every unpaid bill no live online order holds, oldest first, each
    with its principal and penalty; `amount` is what the bank pays for it."""
    with UnitOfWork() as uow:
        cust = _customer(uow, cust_code)
        dues = amount_due(uow, cust["id"])
    payable = [b for b in dues.bills if b.live_order is None]
    return {
        "custCode": cust["code"],
        "custName": _name_masked(cust["name"]),
        "arrearsAmount": sum((b.amount_due for b in payable), Decimal("0.00")),
        "principalAmount": sum((b.principal for b in payable), Decimal("0.00")),
        "penaltyAmount": sum((b.penalty for b in payable), Decimal("0.00")),
        "penaltyAsOf": dues.as_of.isoformat(),
        "penaltyExemption": None if dues.exemption is None else dues.exemption.value,
        "billList": [
            {
                "chargeId": b.charge_id,
                "chargeCode": b.code,
                "billPeriod": b.bill_period,
                "amount": b.amount_due,
                "principalAmount": b.principal,
                "penaltyAmount": b.penalty,
                "dueDate": b.due_date.isoformat(),
            }
            for b in payable
        ],
    }


def _by_serial(uow: UnitOfWork, key: str) -> dict[str, Any] | None:
    return uow.one(
        "SELECT k.id, k.code, k.status, k.amount, k.cust_id, c.code AS cust_code FROM biz_collection k"
        " JOIN biz_cust c ON c.id = k.cust_id WHERE k.idempotency_key = :k",
        {"k": key},
    )


def _replayed(
    uow: UnitOfWork,
    done: dict[str, Any],
    *,
    bank_serial_no: str,
    cust_code: str,
    charge_ids: list[int] | None,
    amount: Decimal,
) -> dict[str, Any]:
    """The same serial again: the first result if it is the same payment, else a conflict."""
    if done["cust_code"] != cust_code:
        differs = ["custCode"]  # another customer's payment: say nothing more about it
    else:
        differs = [] if Decimal(done["amount"]) == amount else ["amount"]
        if charge_ids and {int(b["charge_id"]) for b in chosen_bills(uow, done)} != set(charge_ids):
            differs.append("chargeIds")
    if differs:
        raise AppError(
            ErrorCode.CONFLICT,
            f"bankSerialNo {bank_serial_no} 已用于另一笔缴费（{'、'.join(differs)} 不一致），不能重复核销",
            data={"bankSerialNo": bank_serial_no, "mismatch": differs},
        )
    return {
        "collectionCode": done["code"],
        "writeOffStatus": done["status"],
        "paidAmount": done["amount"],
        "bankSerialNo": bank_serial_no,
        "duplicate": True,
    }


def pay(ctx: RequestContext, cmd: BankPay) -> dict[str, Any]:
    """The bank's serial is the idempotency key: a repeat answers the first result - also one that
    waited on the account lock for the first to finish, and, as the last line, one the unique index
    refused - while the same serial with another customer, amount or bills is a conflict. The bank
    acts as itself (`bank:<bankCode>` in the audit), whoever relayed its signed request."""
    ctx = replace(ctx, principal=Principal(0, UserType.SYSTEM, f"bank:{cmd.bank_code}", dept_ids=None))
    bank_code, bank_serial_no = cmd.bank_code, cmd.bank_serial_no
    cust_code, amount = cmd.cust_code, cmd.amount
    charge_ids = None if cmd.charge_ids is None else list(cmd.charge_ids)
    key = f"BANK:{bank_code}:{bank_serial_no}"

    def replayed(uow: UnitOfWork, done: dict[str, Any]) -> dict[str, Any]:
        return _replayed(
            uow,
            done,
            bank_serial_no=bank_serial_no,
            cust_code=cust_code,
            charge_ids=charge_ids,
            amount=amount,
        )

    try:
        with UnitOfWork() as uow:
            if (done := _by_serial(uow, key)) is not None:
                return replayed(uow, done)
            cust = _customer(uow, cust_code)
            account = lock_account(uow, cust["id"])
            if (done := _by_serial(uow, key)) is not None:  # it finished while we waited for the lock
                return replayed(uow, done)
            result, charges, dues = _write_off(
                uow, ctx, cust, account, charge_ids, amount, bank_code, bank_serial_no
            )
            record_trade(  # the bank's trade beside every other channel's, for reconciliation
                uow,
                ctx,
                cust_id=cust["id"],
                charges=charges,
                dues=dues,
                result=result,
                channel="BANK",
                scene="BANK",
                amount=amount,
                trade_no=f"{bank_code}:{bank_serial_no}",
                request_key=f"BANK|{bank_code}|{bank_serial_no}",
            )
            uow.commit()
    except IntegrityError as exc:
        if unique_violation(exc) is None:
            raise
        with UnitOfWork() as uow:  # a concurrent request with this serial committed first
            done = _by_serial(uow, key)
            if done is None:  # the trade number is taken by a trade of another kind
                raise AppError(
                    ErrorCode.CONFLICT,
                    f"bankSerialNo {bank_serial_no} 已被其他交易使用",
                    data={"bankSerialNo": bank_serial_no, "mismatch": ["bankSerialNo"]},
                ) from None
            return replayed(uow, done)
    return {
        "collectionCode": result.collection_code,
        "writeOffStatus": result.status,
        "paidAmount": amount,
        "bankSerialNo": bank_serial_no,
        "duplicate": False,
    }


def _write_off(
    uow: UnitOfWork,
    ctx: RequestContext,
    cust: dict[str, Any],
    account: dict[str, Any],
    charge_ids: list[int] | None,
    amount: Decimal,
    bank_code: str,
    bank_serial_no: str,
) -> tuple[WriteOff, list[dict[str, Any]], Dues]:
    if not charge_ids:  # all that is owed, oldest first
        charge_ids = [
            r["id"]
            for r in uow.all(
                f"SELECT id FROM biz_charge c WHERE cust_id = :c AND status IN ({sql_in(PAYABLE_BILLS)}) AND NOT EXISTS"
                " (SELECT 1 FROM biz_order_charge o WHERE o.charge_id = c.id AND o.live)",
                {"c": cust["id"]},
            )
        ]
    if not charge_ids:
        raise AppError(ErrorCode.CHARGE_ALREADY_WRITTEN_OFF, f"客户 {cust['code']} 无待缴账单")
    charges = lock_charges(uow, cust["id"], charge_ids)
    dues = dues_of(uow, cust["id"], charges)
    if amount != dues.total:
        raise short_amount(dues, amount, "银行扣款")
    result = write_off(
        uow,
        ctx,
        cust_id=cust["id"],
        account=account,
        charges=charges,
        dues=dues,
        amount=amount,
        channel="BANK",
        source="BANK",
        trade_no=bank_serial_no,
        idempotency_key=f"BANK:{bank_code}:{bank_serial_no}",
        remark=f"银行实时缴费 {bank_code}",
    )
    return result, charges, dues
