"""IF-EXT-003 bank real-time charging: a bank (counter, online or mobile banking) asks what a
customer owes and pays it. Same write-off and rules as the counter; the bank's serial number is the
idempotency key (a repeat answers the first result and writes nothing)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from waterrev.context import RequestContext
from waterrev.db import UnitOfWork
from waterrev.errors import AppError, ErrorCode
from waterrev.services.collection import due, lock_account, lock_charges, write_off


def _customer(uow: UnitOfWork, cust_code: str) -> dict[str, Any]:
    cust = uow.one("SELECT id, code, name, status FROM biz_cust WHERE code = :c", {"c": cust_code})
    if cust is None or cust["status"] != "NORMAL":
        raise AppError(ErrorCode.CUSTOMER_NOT_FOUND_OR_STOPPED, f"custCode={cust_code}")
    return cust


def _name_masked(name: str) -> str:
    return name[:1] + "*" * (len(name) - 1)


def arrears(cust_code: str) -> dict[str, Any]:
    with UnitOfWork() as uow:
        cust = _customer(uow, cust_code)
        bills = uow.all(
            "SELECT id, code, bill_period, total_amount - paid_amount AS unpaid, due_date,"
            " EXISTS (SELECT 1 FROM biz_order_charge o WHERE o.charge_id = c.id AND o.live) AS in_order"
            " FROM biz_charge c WHERE cust_id = :c AND status IN ('UNPAID', 'PARTIAL') ORDER BY bill_period, id",
            {"c": cust["id"]},
        )
    payable = [b for b in bills if not b["in_order"]]
    return {
        "custCode": cust["code"],
        "custName": _name_masked(cust["name"]),
        "arrearsAmount": sum((Decimal(b["unpaid"]) for b in payable), Decimal("0.00")),
        "billList": [
            {
                "chargeId": b["id"],
                "chargeCode": b["code"],
                "billPeriod": b["bill_period"],
                "amount": b["unpaid"],
                "dueDate": b["due_date"],
            }
            for b in payable
        ],
    }


def pay(
    ctx: RequestContext,
    *,
    bank_code: str,
    bank_serial_no: str,
    cust_code: str,
    charge_ids: list[int] | None,
    amount: Decimal,
) -> dict[str, Any]:
    key = f"BANK:{bank_code}:{bank_serial_no}"
    with UnitOfWork() as uow:
        done = uow.one(
            "SELECT code, status, amount, written_off FROM biz_collection WHERE idempotency_key = :k",
            {"k": key},
        )
        if done is not None:
            return {
                "collectionCode": done["code"],
                "writeOffStatus": done["status"],
                "paidAmount": done["amount"],
                "bankSerialNo": bank_serial_no,
                "duplicate": True,
            }
        cust = _customer(uow, cust_code)
        account = lock_account(uow, cust["id"])
        if not charge_ids:  # all that is owed, oldest first
            charge_ids = [
                r["id"]
                for r in uow.all(
                    "SELECT id FROM biz_charge c WHERE cust_id = :c AND status IN ('UNPAID', 'PARTIAL') AND NOT EXISTS"
                    " (SELECT 1 FROM biz_order_charge o WHERE o.charge_id = c.id AND o.live)",
                    {"c": cust["id"]},
                )
            ]
        if not charge_ids:
            raise AppError(ErrorCode.CHARGE_ALREADY_WRITTEN_OFF, f"客户 {cust_code} 无待缴账单")
        charges = lock_charges(uow, cust["id"], charge_ids)
        owed = due(charges)
        if amount != owed:
            raise AppError(
                ErrorCode.PAYMENT_AMOUNT_MISMATCH,
                f"应缴 {owed}，银行扣款 {amount}，差额 {owed - amount}",
                data={"dueAmount": owed, "paymentAmount": amount, "difference": owed - amount},
            )
        result = write_off(
            uow,
            ctx,
            cust_id=cust["id"],
            account=account,
            charges=charges,
            amount=amount,
            channel="BANK",
            source="BANK",
            trade_no=bank_serial_no,
            idempotency_key=key,
            remark=f"银行实时缴费 {bank_code}",
        )
        uow.commit()
    return {
        "collectionCode": result.collection_code,
        "writeOffStatus": result.status,
        "paidAmount": amount,
        "bankSerialNo": bank_serial_no,
        "duplicate": False,
    }
