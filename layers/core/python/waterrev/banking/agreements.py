"""Bank agreements: signing, termination and the customer status check, for withholding (代扣,
biz_cust_withholding_rel) and collection (托收, biz_cust_collection_rel) alike.

The account number is sealed (waterrev.crypto) and found by its blind index; in clear the table keeps only
the masked number, and no reply, log line or audit row carries more. One SIGNED agreement of a kind per
customer: signing the same account again answers the agreement there is (idempotent, also by requestNo),
another account while one is signed is a conflict (terminate first). A customer the caller may not see is
answered as one that does not exist.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.exc import IntegrityError

from waterrev import audit, crypto
from waterrev.banking.commands import CustomerCheck, Sign, Terminate
from waterrev.context import RequestContext
from waterrev.db import UnitOfWork
from waterrev.domain.states import AGREEMENT, AgreementStatus
from waterrev.errors import AppError, ErrorCode
from waterrev.masking import mask_bank_account, mask_mobile
from waterrev.visibility import customer_scope, require_customer_visible

MODULE = "REV-008"
KINDS = {
    "WITHHOLDING": ("biz_cust_withholding_rel", "sign_no", "WH"),
    "COLLECTION": ("biz_cust_collection_rel", "agreement_no", "TS"),
}


def _table(kind: str) -> tuple[str, str, str]:
    try:
        return KINDS[kind]
    except KeyError:
        raise AppError(ErrorCode.BAD_REQUEST, f"kind: {kind} 不是 WITHHOLDING 或 COLLECTION") from None


def _view(kind: str, row: dict[str, Any] | None, cust: dict[str, Any]) -> dict[str, Any]:
    _t, no_col, _p = _table(kind)
    if row is None:
        return {
            "custId": cust["id"],
            "custCode": cust["code"],
            "agreementType": kind,
            "signStatus": "UNSIGNED",
            "signNo": None,
            "bankCode": None,
            "bankAccount": None,
            "accountName": None,
            "channelCode": None,
            "mobile": None,
            "signTime": None,
            "terminateTime": None,
            "terminateReason": None,
            "custStatus": cust["status"],
        }
    return {
        "custId": cust["id"],
        "custCode": cust["code"],
        "agreementType": kind,
        "signStatus": row["status"],
        "signNo": row[no_col],
        "bankCode": row["bank_code"],
        "bankAccount": mask_bank_account(row["bank_account"]),
        "accountName": row["account_name"],
        "channelCode": row["channel_code"],
        "mobile": mask_mobile(row["mobile"]),
        "signTime": row["sign_time"],
        "terminateTime": row["terminate_time"],
        "terminateReason": row["terminate_reason"],
        "custStatus": cust["status"],
    }


def _customer(uow: UnitOfWork, ctx: RequestContext, cust_id: int, *, active: bool) -> dict[str, Any]:
    require_customer_visible(uow, ctx, cust_id, active=active)
    cust = uow.one("SELECT id, code, status FROM biz_cust WHERE id = :c", {"c": cust_id})
    assert cust is not None
    return cust


def sign(ctx: RequestContext, cmd: Sign) -> dict[str, Any]:
    table, no_col, prefix = _table(cmd.kind)
    number = crypto.normalize_account(cmd.bank_account)
    try:
        with UnitOfWork() as uow:
            if cmd.request_no is not None:
                done = uow.one(f"SELECT * FROM {table} WHERE request_no = :r", {"r": cmd.request_no})
                if done is not None:
                    if int(done["cust_id"]) != cmd.cust_id:
                        raise AppError(ErrorCode.CONFLICT, f"requestNo {cmd.request_no} 已用于另一签约")
                    cust = _customer(uow, ctx, cmd.cust_id, active=False)
                    return {**_view(cmd.kind, done, cust), "duplicate": True}
            cust = _customer(uow, ctx, cmd.cust_id, active=True)
            uow.execute("SELECT id FROM biz_cust WHERE id = :c FOR UPDATE", {"c": cmd.cust_id})
            keys = crypto.keys(uow.conn)
            index = keys.index(number)
            current = uow.one(
                f"SELECT * FROM {table} WHERE cust_id = :c AND status = 'SIGNED'", {"c": cmd.cust_id}
            )
            if current is not None:
                if current["bank_account_index"] == index and current["bank_code"] == cmd.bank_code:
                    return {**_view(cmd.kind, current, cust), "duplicate": True}
                raise AppError(
                    ErrorCode.CONFLICT,
                    f"客户已有生效的{'代扣' if cmd.kind == 'WITHHOLDING' else '托收'}协议"
                    f"（账号 {mask_bank_account(current['bank_account'])}），请先解约",
                    data={"signNo": current[no_col], "signStatus": current["status"]},
                )
            row_id = int(uow.scalar(f"SELECT nextval('{table}_id_seq')"))
            sign_no = cmd.sign_no or f"{prefix}{row_id:014d}"
            row = uow.one(
                f"INSERT INTO {table} (id, cust_id, bank_code, bank_account, bank_account_cipher,"
                f" bank_account_index, account_name, {no_col}, status, channel_code, mobile, mobile_cipher,"
                " mobile_index, request_no) VALUES (:id, :c, :b, :masked, :cipher, :index, :name, :no, :st, :ch,"
                " :mobile, :mobile_cipher, :mobile_index, :req) RETURNING *",
                {
                    "id": row_id,
                    "c": cmd.cust_id,
                    "b": cmd.bank_code,
                    "masked": mask_bank_account(number),
                    "cipher": keys.seal(number),
                    "index": index,
                    "name": cmd.account_name,
                    "no": sign_no,
                    "st": AgreementStatus.SIGNED,
                    "ch": cmd.channel_code,
                    **crypto.columns("mobile", keys.pii(crypto.MOBILE, cmd.mobile)),
                    "req": cmd.request_no,
                },
            )
            assert row is not None
            reply = _view(cmd.kind, row, cust)
            audit.record(
                uow,
                ctx,
                module=MODULE,
                operation=f"{cmd.kind}_SIGN",
                object_type=table,
                object_id=row_id,
                after={k: v for k, v in reply.items() if k != "mobile"},
            )
            uow.commit()
    except IntegrityError as exc:  # a concurrent signing of the same customer or request committed first
        raise AppError(ErrorCode.CONFLICT, "同一客户或请求号的签约正在处理或已完成，请查询后重试") from exc
    return {**reply, "duplicate": False}


def terminate(ctx: RequestContext, cmd: Terminate) -> dict[str, Any]:
    table, no_col, _prefix = _table(cmd.kind)
    with UnitOfWork() as uow:
        cust = _customer(uow, ctx, cmd.cust_id, active=False)
        current = uow.one(
            f"SELECT * FROM {table} WHERE cust_id = :c AND status = 'SIGNED' FOR UPDATE", {"c": cmd.cust_id}
        )
        if current is None or (cmd.sign_no is not None and current[no_col] != cmd.sign_no):
            last = uow.one(
                f"SELECT * FROM {table} WHERE cust_id = :c AND (CAST(:no AS text) IS NULL OR {no_col} = :no)"
                " ORDER BY id DESC LIMIT 1",
                {"c": cmd.cust_id, "no": cmd.sign_no},
            )
            if last is not None and last["status"] == AgreementStatus.TERMINATED:
                return {**_view(cmd.kind, last, cust), "duplicate": True}  # already terminated: same answer
            raise AppError(
                ErrorCode.NOT_FOUND,
                f"custId={cmd.cust_id} 无生效的协议" + (f" signNo={cmd.sign_no}" if cmd.sign_no else ""),
            )
        AGREEMENT.require(current["status"], AgreementStatus.TERMINATED)
        row = uow.one(
            f"UPDATE {table} SET status = 'TERMINATED', terminate_time = now(), terminate_reason = :r"
            " WHERE id = :id RETURNING *",
            {"r": cmd.reason, "id": current["id"]},
        )
        reply = _view(cmd.kind, row, cust)
        audit.record(
            uow,
            ctx,
            module=MODULE,
            operation=f"{cmd.kind}_TERMINATE",
            object_type=table,
            object_id=current["id"],
            before={"signStatus": current["status"]},
            after={"signStatus": AgreementStatus.TERMINATED, "reason": cmd.reason},
        )
        uow.commit()
    return {**reply, "duplicate": False}


def check(ctx: RequestContext, cmd: CustomerCheck) -> dict[str, Any]:
    """A customer's agreement of a kind (by custId), or the customers whose agreement holds an account
    number (by bankAccount, through the blind index: the number is never compared in clear)."""
    table, _no, _p = _table(cmd.kind)
    with UnitOfWork() as uow:
        if cmd.cust_id is not None:
            cust = _customer(uow, ctx, cmd.cust_id, active=False)
            row = uow.one(
                f"SELECT * FROM {table} WHERE cust_id = :c ORDER BY (status = 'SIGNED') DESC, id DESC LIMIT 1",
                {"c": cmd.cust_id},
            )
            return {"list": [_view(cmd.kind, row, cust)]}
        if not cmd.bank_account:
            raise AppError(ErrorCode.BAD_REQUEST, "custId 或 bankAccount 必填其一")
        index = crypto.keys(uow.conn).index(cmd.bank_account)
        where, params = customer_scope(ctx)
        rows = uow.all(
            f"SELECT r.*, c.code AS cust_code, c.status AS cust_status FROM {table} r JOIN biz_cust c ON c.id = r.cust_id"
            f" WHERE r.bank_account_index = :i AND {where} ORDER BY r.id",
            {"i": index, **params},
        )
        return {
            "list": [
                _view(cmd.kind, r, {"id": r["cust_id"], "code": r["cust_code"], "status": r["cust_status"]})
                for r in rows
            ]
        }


def open_account(uow: UnitOfWork, blob: bytes | memoryview) -> str:
    """The account number of a sealed agreement (for the bank's file only)."""
    return crypto.keys(uow.conn).open(blob)
