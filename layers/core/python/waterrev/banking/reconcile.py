"""Reconciliation and settlement of a returned batch (IF-REV-011 RECONCILE / SETTLEMENT).

Our ledger (each item as the return left it: written off or not), the return and the bank's statement
file (what it really debited) are compared item by item (banking.rules.classify). Each difference is a
bk_reconcile_diff a person resolves: WRITE_OFF (the bank has the money: the bill is written off now, the
bank's serial as trade number), REVERSE (we wrote off what the bank did not debit: a reversal entry puts
the bill back in arrears, the collection itself is never edited) or IGNORE (with a reason). Settlement
is refused while any difference is open (1_002_006_003).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from waterrev import audit
from waterrev.adapters.bank_sftp import BankSftpError
from waterrev.banking import batch as batches
from waterrev.banking import rules
from waterrev.banking.commands import Resolve
from waterrev.billing.dues import amount_due
from waterrev.context import RequestContext
from waterrev.db import UnitOfWork
from waterrev.domain.states import BillStatus, ReconcileDiffStatus, WithholdingBatchStatus
from waterrev.errors import AppError, ErrorCode
from waterrev.payments.collection import lock_account, lock_charges, record_trade, write_off

S = WithholdingBatchStatus
MODULE = batches.MODULE


def reconcile(ctx: RequestContext, batch_no: str) -> dict[str, Any]:
    """Compare the returned batch with the bank's statement; once per batch (a repeat answers the
    reconciliation there is)."""
    with UnitOfWork() as uow:
        batch = batches.get(uow, batch_no)
    if batch["status"] in (S.RECONCILED, S.SETTLED):
        return batches.status(ctx, batch_no)
    if batch["status"] != S.RETURNED:
        raise AppError(
            ErrorCode.WITHHOLDING_BATCH_MISSING_OR_SENT,
            f"batchNo {batch_no} 当前 {batch['status']}：回盘后才能对账",
            data={"batchNo": batch_no, "batchStatus": batch["status"]},
        )
    try:
        with batches.connect(batch) as sftp:
            data = sftp.read(batch["reconcile_file_path"])
    except BankSftpError as exc:
        raise AppError(ErrorCode.CONFLICT, f"对账文件尚不可读：{exc}") from None
    try:
        statement = rules.parse_statement_file(data, batch_no)
    except rules.FileError as exc:
        with UnitOfWork() as uow:
            batches.review_record(uow, batch_no, "STATEMENT", batch["reconcile_file_path"], str(exc))
            uow.commit()
        raise AppError(ErrorCode.BANK_RETURN_FILE_INVALID, f"对账文件：{exc}（已记录，待人工核查）") from None
    with UnitOfWork() as uow:
        batch = batches.get(uow, batch_no, lock=True)
        done = batch["status"] != S.RETURNED  # another reconciliation finished first
        if not done:
            _record(uow, ctx, batch, statement)
        uow.commit()
    return batches.status(ctx, batch_no)


def _record(
    uow: UnitOfWork, ctx: RequestContext, batch: dict[str, Any], statement: list[rules.StatementLine]
) -> None:
    batch_no = batch["batch_no"]
    items = [
        rules.OurItem(
            int(r["id"]),
            int(r["seq_no"]),
            int(r["cust_id"]),
            int(r["charge_id"]),
            Decimal(r["amount"]),
            str(r["status"]),
            r["bank_serial_no"],
        )
        for r in uow.all(
            "SELECT * FROM bk_withholding_item WHERE batch_id = :b ORDER BY seq_no", {"b": batch["id"]}
        )
    ]
    diffs = rules.classify(items, statement)
    ours = [i for i in items if i.status == "SUCCESS"]
    reconcile_id = uow.scalar(
        "INSERT INTO bk_reconcile_batch (batch_id, status, statement_file_path, our_count, our_amount, bank_count,"
        " bank_amount, diff_count) VALUES (:b, :st, :p, :oc, :oa, :bc, :ba, :dc) RETURNING id",
        {
            "b": batch["id"],
            "st": "DIFF" if diffs else "BALANCED",
            "p": batch["reconcile_file_path"],
            "oc": len(ours),
            "oa": sum((i.amount for i in ours), Decimal("0.00")),
            "bc": len(statement),
            "ba": sum((s.amount for s in statement), Decimal("0.00")),
            "dc": len(diffs),
        },
    )
    for d in diffs:
        uow.execute(
            "INSERT INTO bk_reconcile_diff (reconcile_id, item_id, diff_type, cust_id, charge_id, bank_serial_no,"
            " our_amount, bank_amount) VALUES (:r, :i, :t, :c, :ch, :s, :oa, :ba)",
            {
                "r": reconcile_id,
                "i": d.item_id,
                "t": d.diff_type,
                "c": d.cust_id,
                "ch": d.charge_id,
                "s": d.bank_serial_no,
                "oa": d.our_amount,
                "ba": d.bank_amount,
            },
        )
    uow.execute(
        "UPDATE bk_withholding_batch SET status = 'RECONCILED', reconcile_status = :rs, update_time = now() WHERE id = :id",
        {"rs": "DIFF" if diffs else "BALANCED", "id": batch["id"]},
    )
    audit.record(
        uow,
        ctx,
        module=MODULE,
        operation="WITHHOLDING_BATCH_RECONCILE",
        object_type="bk_withholding_batch",
        object_id=batch_no,
        after={"diffCount": len(diffs), "bankCount": len(statement)},
    )


def diffs(ctx: RequestContext, batch_no: str, status: str | None) -> list[dict[str, Any]]:
    with UnitOfWork() as uow:
        batch = batches.get(uow, batch_no)
        rows = uow.all(
            "SELECT d.* FROM bk_reconcile_diff d JOIN bk_reconcile_batch r ON r.id = d.reconcile_id"
            " WHERE r.batch_id = :b AND (CAST(:st AS text) IS NULL OR d.status = :st) ORDER BY d.id",
            {"b": batch["id"], "st": status},
        )
    return [batches.diff_view(d) for d in rows]


def resolve(ctx: RequestContext, cmd: Resolve) -> dict[str, Any]:
    """A person's decision on one difference, once (a resolved one answers as it was resolved)."""
    with UnitOfWork() as uow:
        diff = uow.one(
            "SELECT d.*, r.batch_id, r.id AS reconcile_id FROM bk_reconcile_diff d"
            " JOIN bk_reconcile_batch r ON r.id = d.reconcile_id WHERE d.id = :id FOR UPDATE OF d",
            {"id": cmd.diff_id},
        )
        if diff is None:
            raise AppError(ErrorCode.NOT_FOUND, f"diffId={cmd.diff_id} 不存在")
        if diff["status"] == ReconcileDiffStatus.RESOLVED:
            if diff["resolution"] != cmd.action:
                raise AppError(ErrorCode.CONFLICT, f"差异 {cmd.diff_id} 已按 {diff['resolution']} 处置")
            return batches.diff_view(diff)
        allowed = rules.RESOLUTIONS[diff["diff_type"]]
        if cmd.action not in allowed:
            raise AppError(
                ErrorCode.BAD_REQUEST, f"action: 差异类型 {diff['diff_type']} 只允许 {' / '.join(allowed)}"
            )
        if cmd.action == "IGNORE" and not (cmd.reason or "").strip():
            raise AppError(ErrorCode.BAD_REQUEST, "reason: 忽略差异须说明原因")
        batch = uow.one(
            "SELECT * FROM bk_withholding_batch WHERE id = :id FOR UPDATE", {"id": diff["batch_id"]}
        )
        assert batch is not None
        collection_id = None
        if cmd.action == "WRITE_OFF":
            collection_id = _write_off(uow, ctx, batch, diff)
        elif cmd.action == "REVERSE":
            _reverse(uow, ctx, diff, cmd.reason or "对账冲正")
        row = uow.one(
            "UPDATE bk_reconcile_diff SET status = 'RESOLVED', resolution = :a, reason = :r, resolved_by = :u,"
            " resolved_time = now(), collection_id = :k WHERE id = :id RETURNING *",
            {
                "a": cmd.action,
                "r": cmd.reason,
                "u": ctx.principal.user_id or None,
                "k": collection_id,
                "id": cmd.diff_id,
            },
        )
        still_open = uow.scalar(
            "SELECT count(*) FROM bk_reconcile_diff WHERE reconcile_id = :r AND status = 'OPEN'",
            {"r": diff["reconcile_id"]},
        )
        if not still_open:
            uow.execute(
                "UPDATE bk_reconcile_batch SET status = 'RESOLVED', update_time = now() WHERE id = :r",
                {"r": diff["reconcile_id"]},
            )
            uow.execute(
                "UPDATE bk_withholding_batch SET reconcile_status = 'RESOLVED', update_time = now() WHERE id = :id",
                {"id": batch["id"]},
            )
        audit.record(
            uow,
            ctx,
            module=MODULE,
            operation="WITHHOLDING_DIFF_RESOLVE",
            object_type="bk_reconcile_diff",
            object_id=cmd.diff_id,
            before={"status": diff["status"], "diffType": diff["diff_type"]},
            after={"resolution": cmd.action, "reason": cmd.reason, "collectionId": collection_id},
        )
        uow.commit()
    assert row is not None
    return batches.diff_view(row)


def _write_off(uow: UnitOfWork, ctx: RequestContext, batch: dict[str, Any], diff: dict[str, Any]) -> int:
    cust_id, charge_id = int(diff["cust_id"]), int(diff["charge_id"])
    amount = Decimal(diff["bank_amount"])
    account = lock_account(uow, cust_id)
    charges = lock_charges(uow, cust_id, [charge_id])
    dues = amount_due(
        uow, cust_id, as_of=batch["create_time"].astimezone(batches.BEIJING).date(), charge_ids=[charge_id]
    )
    serial = str(diff["bank_serial_no"])
    result = write_off(
        uow,
        ctx,
        cust_id=cust_id,
        account=account,
        charges=charges,
        dues=dues,
        amount=amount,
        channel="BANK",
        source="WITHHOLD",
        trade_no=serial,
        idempotency_key=f"WITHHOLD:{batch['channel_code']}:{serial}",
        partial_ok=True,
        remark=f"代扣对账补核销 {batch['batch_no']}",
    )
    record_trade(
        uow,
        ctx,
        cust_id=cust_id,
        charges=charges,
        dues=dues,
        result=result,
        channel="BANK",
        scene="WITHHOLD",
        amount=amount,
        trade_no=f"{batch['channel_code']}:{serial}",
        request_key=f"WITHHOLD|{batch['channel_code']}|{serial}",
    )
    uow.execute(
        "UPDATE bk_withholding_item SET status = 'SUCCESS', collection_id = :k WHERE id = :id",
        {"k": result.collection_id, "id": diff["item_id"]},
    )
    return result.collection_id


def _reverse(uow: UnitOfWork, ctx: RequestContext, diff: dict[str, Any], reason: str) -> None:
    """The bank did not debit what we wrote off: the bill owes it again. A reversal entry of its own
    (bk_withholding_reversal); the bill's paid amount and status and the account's arrears move back; the
    collection and its lines stay as they were (posted money is never edited)."""
    item = uow.one("SELECT * FROM bk_withholding_item WHERE id = :id", {"id": diff["item_id"]})
    if item is None or item["collection_id"] is None:
        raise AppError(ErrorCode.CONFLICT, f"差异 {diff['id']} 无可冲正的核销")
    lines = uow.one(
        "SELECT COALESCE(sum(amount) FILTER (WHERE item_type = 'PRINCIPAL'), 0) AS principal,"
        " COALESCE(sum(amount) FILTER (WHERE item_type = 'PENALTY'), 0) AS penalty"
        " FROM biz_collection_item WHERE collection_id = :k AND charge_id = :c",
        {"k": item["collection_id"], "c": item["charge_id"]},
    )
    assert lines is not None
    principal, penalty = Decimal(lines["principal"]), Decimal(lines["penalty"])
    lock_account(uow, int(item["cust_id"]))
    charge = uow.one("SELECT * FROM biz_charge WHERE id = :c FOR UPDATE", {"c": item["charge_id"]})
    assert charge is not None
    paid = Decimal(charge["paid_amount"]) - principal
    uow.execute(
        "UPDATE biz_charge SET paid_amount = :p, status = :s, paid_time = CASE WHEN CAST(:p AS numeric) = 0 THEN NULL ELSE paid_time END"
        " WHERE id = :c",
        {"p": paid, "s": BillStatus.UNPAID if paid == 0 else BillStatus.PARTIAL, "c": item["charge_id"]},
    )
    uow.execute(
        "UPDATE biz_account SET arrears_amount = arrears_amount + :p WHERE cust_id = :c",
        {"p": principal, "c": item["cust_id"]},
    )
    uow.execute(
        "INSERT INTO bk_withholding_reversal (diff_id, collection_id, charge_id, principal, penalty, reason, operator_id)"
        " VALUES (:d, :k, :c, :p, :pen, :r, :u)",
        {
            "d": diff["id"],
            "k": item["collection_id"],
            "c": item["charge_id"],
            "p": principal,
            "pen": penalty,
            "r": reason,
            "u": ctx.principal.user_id or None,
        },
    )
    uow.execute(
        "UPDATE bk_withholding_item SET status = 'FAIL', result_msg = :m WHERE id = :id",
        {"m": f"对账冲正：{reason}"[:200], "id": item["id"]},
    )
    audit.record(
        uow,
        ctx,
        module=MODULE,
        operation="WITHHOLDING_REVERSE",
        object_type="biz_charge",
        object_id=item["charge_id"],
        before={"paidAmount": charge["paid_amount"], "status": charge["status"]},
        after={"paidAmount": paid, "reversedPrincipal": principal, "reversedPenalty": penalty},
    )


def settle(ctx: RequestContext, batch_no: str) -> dict[str, Any]:
    """Settlement of a reconciled batch: refused while a difference is open (1_002_006_003); once."""
    with UnitOfWork() as uow:
        batch = batches.get(uow, batch_no, lock=True)
        if batch["status"] != S.SETTLED:
            _settle(uow, ctx, batch)
            uow.commit()
    return batches.status(ctx, batch_no)


def _settle(uow: UnitOfWork, ctx: RequestContext, batch: dict[str, Any]) -> None:
    batch_no = batch["batch_no"]
    if batch["status"] != S.RECONCILED:
        raise AppError(
            ErrorCode.WITHHOLDING_BATCH_MISSING_OR_SENT,
            f"batchNo {batch_no} 当前 {batch['status']}：对账后才能结算",
            data={"batchNo": batch_no, "batchStatus": batch["status"]},
        )
    open_diffs = uow.all(
        "SELECT d.* FROM bk_reconcile_diff d JOIN bk_reconcile_batch r ON r.id = d.reconcile_id"
        " WHERE r.batch_id = :b AND d.status = 'OPEN' ORDER BY d.id",
        {"b": batch["id"]},
    )
    if open_diffs:
        raise AppError(
            ErrorCode.RECONCILE_DIFF_UNRESOLVED,
            f"批次 {batch_no} 尚有 {len(open_diffs)} 条对账差异未处理",
            data={"batchNo": batch_no, "diffList": [batches.diff_view(d) for d in open_diffs]},
        )
    settled = uow.one(
        "SELECT count(*) AS n, COALESCE(sum(amount), 0) AS amount FROM bk_withholding_item"
        " WHERE batch_id = :b AND status = 'SUCCESS'",
        {"b": batch["id"]},
    )
    assert settled is not None
    uow.execute(
        "INSERT INTO bk_settlement_batch (batch_id, settlement_no, settle_count, settle_amount, operator_id)"
        " VALUES (:b, :no, :n, :a, :u)",
        {
            "b": batch["id"],
            "no": f"JS{batch_no}"[:40],
            "n": settled["n"],
            "a": settled["amount"],
            "u": ctx.principal.user_id or None,
        },
    )
    uow.execute(
        "UPDATE bk_withholding_batch SET status = 'SETTLED', settlement_status = 'SETTLED', update_time = now() WHERE id = :id",
        {"id": batch["id"]},
    )
    audit.record(
        uow,
        ctx,
        module=MODULE,
        operation="WITHHOLDING_BATCH_SETTLE",
        object_type="bk_withholding_batch",
        object_id=batch_no,
        after={"settleCount": settled["n"], "settleAmount": settled["amount"]},
    )
