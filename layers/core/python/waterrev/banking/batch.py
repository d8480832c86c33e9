"""A withholding (代扣) or collection (托收) batch, from its creation to its return (IF-REV-011, IF-EXT-001,
IF-EXT-002). The steps are use cases the batch workflow (workflows/withholding.asl.json) calls in order;
the routes create, show, cancel and feed it.

- create: the transfer configuration is resolved at once (an unusable one is answered now, never
  replaced by another tenant's or channel's) and kept on the batch: protocol, directories, paths, the
  scope it came from. batchNo is unique: a batch already sent is never sent again (1_002_006_001).
- select: the period's unpaid bills of customers with an active agreement of the kind and channel, with
  what each owes as billing.dues says (principal and late-payment penalty as of the batch's day), none
  held by a live online order or another open batch.
- send: the GBK fixed-width file built and uploaded (SFTP, pinned host key) under a claim (CREATED ->
  SENDING -> SENT), so a cancel racing it either wins before the upload or is refused; an upload whose
  answer was lost after its rename was issued is resolved from the send directory, never uploaded blindly
  again (sent once, 1_002_006_001).
- cancel: before the bank has taken the file only (its removal from the send directory is the proof).
- apply_return: each return file once (batchNo + fileSerialNo); a bad one is refused with
  1_002_006_002 and a review record (bk_transaction_exception BANK_RETURN_INVALID); the successes are
  written off as the shared write-off (payments.collection) writes them, set-based (banking.write_off_set),
  with the bank's serial as trade number,
  failures keep their arrears.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Any

from sqlalchemy.exc import IntegrityError

from waterrev import audit, clock, crypto
from waterrev.adapters.bank_sftp import BankSftp, BankSftpError
from waterrev.banking import rules, transfer, write_off_set
from waterrev.banking.commands import NewBatch
from waterrev.billing.dues import amount_due
from waterrev.context import RequestContext
from waterrev.db import UnitOfWork
from waterrev.domain.lifecycle import sql_in
from waterrev.domain.states import (
    PAYABLE_BILLS,
    PaymentExceptionType,
    WithholdingBatchStatus,
)
from waterrev.errors import AppError, ErrorCode
from waterrev.payments.collection import lock_account, lock_charges, record_trade, write_off

MODULE = "REV-008"
BEIJING = dt.timezone(dt.timedelta(hours=8), "Asia/Shanghai")
S = WithholdingBatchStatus
AGREEMENT_TABLE = {"WITHHOLDING": "biz_cust_withholding_rel", "COLLECTION": "biz_cust_collection_rel"}
SIGN_NO = {"WITHHOLDING": "sign_no", "COLLECTION": "agreement_no"}
OPEN_BATCH = (S.CREATED, S.SENDING, S.SENT)


def _today() -> dt.date:
    return clock.today()


def root_tenant(uow: UnitOfWork) -> int:
    """The company (the root dept) when a request names no tenant."""
    return int(uow.scalar("SELECT id FROM system_dept WHERE parent_id = 0 ORDER BY id LIMIT 1"))


def get(uow: UnitOfWork, batch_no: str, *, lock: bool = False) -> dict[str, Any]:
    row = uow.one(
        "SELECT * FROM bk_withholding_batch WHERE batch_no = :b" + (" FOR UPDATE" if lock else ""),
        {"b": batch_no},
    )
    if row is None:
        raise AppError(ErrorCode.WITHHOLDING_BATCH_MISSING_OR_SENT, f"batchNo {batch_no} 不存在")
    return row


def _paths(
    cfg: rules.Transfer, batch_no: str, channel: str, period: str, tenant_id: int, day: dt.date
) -> dict[str, Any]:
    variables = {
        "batchNo": batch_no,
        "channelCode": channel,
        "billPeriod": period,
        "tenantId": str(tenant_id),
        "date": day.strftime("%Y%m%d"),
    }
    try:
        send_dir = rules.render(cfg.send_dir, variables)
        back_dir = rules.render(cfg.back_dir, variables)
        reconcile_dir = rules.render(cfg.reconcile_dir, variables)
        file_name = rules.render(cfg.send_file_template, variables)
        statement = rules.render(cfg.reconcile_file_template, variables)
    except (rules.ConfigError, KeyError) as exc:
        if isinstance(exc, rules.ConfigError):
            raise transfer.config_error(exc) from None
        raise transfer.config_error(
            rules.ConfigError("sendFileTemplate", None, f"模板变量 {exc} 在此阶段不可用")
        ) from None
    return {
        "send_dir": send_dir,
        "file_name": file_name,
        "send_file_path": rules.join(send_dir, file_name),
        "back_dir": back_dir,
        "reconcile_dir": reconcile_dir,
        "reconcile_file_path": rules.join(reconcile_dir, statement),
    }


def view(row: dict[str, Any], diffs: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The seed's reply (batchNo, batchStatus, successCount, failCount, reconcileStatus, settlementStatus,
    diffList) and, 扩展, what was resolved and kept on the batch."""
    return {
        "batchNo": row["batch_no"],
        "batchStatus": row["status"],
        "successCount": row["success_count"],
        "failCount": row["fail_count"],
        "reconcileStatus": row["reconcile_status"],
        "settlementStatus": row["settlement_status"],
        "diffList": diffs or [],
        "businessType": "WITHHOLDING" if row["biz_kind"] == "WITHHOLDING" else "COLLECTION",
        "channelCode": row["channel_code"],
        "billPeriod": row["bill_period"],
        "itemCount": row["item_count"],
        "totalAmount": row["total_amount"],
        "successAmount": row["success_amount"],
        "protocol": row["protocol"],
        "sourceScope": row["source_scope"],
        "sendDir": row["send_dir"],
        "sendFilePath": row["send_file_path"],
        "fileName": row["file_name"],
        "backProtocol": row["back_protocol"],
        "backDir": row["back_dir"],
        "backFilePath": row["back_file_path"],
        "reconcileFilePath": row["reconcile_file_path"],
        "sendTime": row["send_time"],
        "returnTime": row["return_time"],
        "cancelTime": row["cancel_time"],
        "cancelReason": row["cancel_reason"],
        "lastError": row["last_error"],
    }


# ---------------------------------------------------------------------------------- create --
def create(ctx: RequestContext, cmd: NewBatch) -> tuple[dict[str, Any], bool]:
    """The batch row with its resolved transfer configuration (and the seed's itemList, when given);
    (reply, created). The same batchNo again: the batch there is while it has not been sent (a retry),
    1_002_006_001 once it has."""
    if ctx.principal.dept_ids is not None:
        raise AppError(ErrorCode.FORBIDDEN, "代扣批次覆盖全公司客户：需要全部数据权限")
    day = _today()
    try:
        with UnitOfWork() as uow:
            tenant_id = cmd.tenant_id or root_tenant(uow)
            existing = uow.one("SELECT * FROM bk_withholding_batch WHERE batch_no = :b", {"b": cmd.batch_no})
            if existing is not None:
                return _again(existing, cmd), False
            cfg = transfer.resolve(uow, tenant_id, cmd.channel_code)
            paths = _paths(cfg, str(cmd.batch_no), cmd.channel_code, cmd.bill_period, tenant_id, day)
            row = uow.one(
                "INSERT INTO bk_withholding_batch (batch_no, biz_kind, channel_code, tenant_id, bill_period, protocol,"
                " host, port, username, credential_ref, host_key, source_scope, send_dir, send_file_path, file_name,"
                " back_protocol, back_dir, reconcile_dir, reconcile_file_path, creator)"
                " VALUES (:b, :kind, :ch, :t, :p, :proto, :host, :port, :user, :cred, :hk, :scope, :send_dir, :send_path,"
                " :file, :proto, :back_dir, :rec_dir, :rec_path, :creator) RETURNING *",
                {
                    "b": cmd.batch_no,
                    "kind": cmd.kind,
                    "ch": cmd.channel_code,
                    "t": tenant_id,
                    "p": cmd.bill_period,
                    "proto": cfg.protocol,
                    "host": cfg.host,
                    "port": int(cfg.port),
                    "user": cfg.username,
                    "cred": cfg.credential_ref,
                    "hk": cfg.host_key,
                    "scope": cfg.source_scope,
                    "send_dir": paths["send_dir"],
                    "send_path": paths["send_file_path"],
                    "file": paths["file_name"],
                    "back_dir": paths["back_dir"],
                    "rec_dir": paths["reconcile_dir"],
                    "rec_path": paths["reconcile_file_path"],
                    "creator": ctx.principal.user_id or None,
                },
            )
            assert row is not None
            if cmd.items:
                _take_items(uow, row, [(i.cust_id, i.charge_id, i.amount) for i in cmd.items])
                row = get(uow, str(cmd.batch_no))
            audit.record(
                uow,
                ctx,
                module=MODULE,
                operation="WITHHOLDING_BATCH_CREATE",
                object_type="bk_withholding_batch",
                object_id=cmd.batch_no,
                after={
                    "channelCode": cmd.channel_code,
                    "billPeriod": cmd.bill_period,
                    "sourceScope": cfg.source_scope,
                },
            )
            uow.commit()
    except IntegrityError:  # the same batchNo created concurrently: answered as a repeat
        with UnitOfWork() as again:
            return _again(get(again, str(cmd.batch_no)), cmd), False
    return view(row), True


def _again(existing: dict[str, Any], cmd: NewBatch) -> dict[str, Any]:
    same = existing["channel_code"] == cmd.channel_code and existing["bill_period"] == cmd.bill_period
    if existing["status"] == S.CREATED and same:
        return view(existing)
    raise AppError(
        ErrorCode.WITHHOLDING_BATCH_MISSING_OR_SENT,
        f"batchNo {existing['batch_no']} 已存在（{existing['status']}），禁止重复下发",
        data={"batchNo": existing["batch_no"], "batchStatus": existing["status"]},
    )


def record_execution(batch_no: str, execution_arn: str) -> None:
    with UnitOfWork() as uow:
        uow.execute(
            "UPDATE bk_withholding_batch SET execution_arn = :e, update_time = now() WHERE batch_no = :b",
            {"e": execution_arn, "b": batch_no},
        )
        uow.commit()


# ---------------------------------------------------------------------------------- select --
_CANDIDATES = """
SELECT c.id AS charge_id, c.cust_id, c.bill_period, a.id AS agreement_id, a.{sign_no} AS sign_no
  FROM biz_charge c
  JOIN {agreements} a ON a.cust_id = c.cust_id AND a.status = 'SIGNED' AND a.channel_code = :ch
  JOIN biz_cust k ON k.id = c.cust_id AND k.status = 'NORMAL'
  JOIN system_dept d ON d.id = k.dept_id AND d.tree_path LIKE :tree
 WHERE c.bill_period = :p AND c.status IN ({payable})
   AND NOT EXISTS (SELECT 1 FROM biz_order_charge o WHERE o.charge_id = c.id AND o.live)
   AND NOT EXISTS (SELECT 1 FROM bk_withholding_item i JOIN bk_withholding_batch b ON b.id = i.batch_id
                    WHERE i.charge_id = c.id AND b.status IN ({open_batch}) AND b.id <> :batch)
 ORDER BY c.cust_id, c.id
"""


def _take_items(uow: UnitOfWork, batch: dict[str, Any], asked: list[tuple[int, int, Decimal]] | None) -> None:
    kind = batch["biz_kind"]
    rows = uow.all(
        _CANDIDATES.format(
            sign_no=SIGN_NO[kind],
            agreements=AGREEMENT_TABLE[kind],
            payable=sql_in(PAYABLE_BILLS),
            open_batch=sql_in(OPEN_BATCH),
        ),
        {
            "ch": batch["channel_code"],
            "tree": f"%/{batch['tenant_id']}/%",
            "p": batch["bill_period"],
            "batch": batch["id"],
        },
    )
    if asked is not None:
        by_charge = {int(r["charge_id"]): r for r in rows}
        missing = [c for cust, c, _ in asked if c not in by_charge or int(by_charge[c]["cust_id"]) != cust]
        if missing:
            raise AppError(
                ErrorCode.CHARGE_ALREADY_WRITTEN_OFF,
                f"itemList: 账单 {missing} 不可代扣（已缴、不属于该客户、客户无生效协议或已在其他批次中）",
            )
        rows = [by_charge[c] for _cust, c, _ in asked]
    as_of = batch["create_time"].astimezone(BEIJING).date()
    by_cust: dict[int, list[dict[str, Any]]] = {}
    for r in rows:
        by_cust.setdefault(int(r["cust_id"]), []).append(r)
    seq, total = 0, Decimal("0.00")
    custs: list[int] = []
    charges: list[int] = []
    agreements: list[int] = []
    signs: list[str | None] = []
    amounts: list[Decimal] = []
    principals: list[Decimal] = []
    penalties: list[Decimal] = []
    seqs: list[int] = []
    wanted = {c: amount for _cust, c, amount in asked} if asked is not None else {}
    for cust_id, bills in by_cust.items():
        dues = amount_due(uow, cust_id, as_of=as_of, charge_ids=[int(b["charge_id"]) for b in bills])
        for b in bills:
            due = dues.of(int(b["charge_id"]))
            amount = due.amount_due
            if asked is not None and wanted[int(b["charge_id"])] != amount:
                raise AppError(
                    ErrorCode.PAYMENT_AMOUNT_MISMATCH,
                    f"itemList[].amount: 账单 {b['charge_id']} 应缴 {amount}，请求 {wanted[int(b['charge_id'])]}",
                    data={"chargeId": b["charge_id"], "dueAmount": amount},
                )
            if amount <= 0:
                continue
            seq += 1
            total += amount
            seqs.append(seq)
            custs.append(cust_id)
            charges.append(int(b["charge_id"]))
            agreements.append(int(b["agreement_id"]))
            signs.append(b["sign_no"])
            amounts.append(amount)
            principals.append(due.principal)
            penalties.append(due.penalty)
    if seqs:
        uow.execute(
            "INSERT INTO bk_withholding_item (batch_id, seq_no, cust_id, charge_id, agreement_id, sign_no, amount,"
            " principal, penalty) SELECT :b, * FROM unnest(CAST(:seq AS int[]), CAST(:cust AS bigint[]),"
            " CAST(:charge AS bigint[]), CAST(:agr AS bigint[]), CAST(:sign AS text[]), CAST(:amt AS numeric[]),"
            " CAST(:pr AS numeric[]), CAST(:pen AS numeric[]))",
            {
                "b": batch["id"],
                "seq": seqs,
                "cust": custs,
                "charge": charges,
                "agr": agreements,
                "sign": signs,
                "amt": amounts,
                "pr": principals,
                "pen": penalties,
            },
        )
    uow.execute(
        "UPDATE bk_withholding_batch SET item_count = :n, total_amount = :t, update_time = now() WHERE id = :id",
        {"n": len(seqs), "t": total, "id": batch["id"]},
    )


def select(ctx: RequestContext, batch_no: str) -> dict[str, Any]:
    """The workflow's first step: the batch's items (none taken again when it already has them)."""
    with UnitOfWork() as uow:
        batch = get(uow, batch_no, lock=True)
        has_items = uow.scalar(
            "SELECT EXISTS (SELECT 1 FROM bk_withholding_item WHERE batch_id = :b)", {"b": batch["id"]}
        )
        if batch["status"] == S.CREATED and not has_items:
            _take_items(uow, batch, None)
            batch = get(uow, batch_no)
            if batch["item_count"] == 0:
                uow.execute(
                    "UPDATE bk_withholding_batch SET status = 'CANCELLED', cancel_time = now(),"
                    " cancel_reason = '无待代扣账单', update_time = now() WHERE id = :id",
                    {"id": batch["id"]},
                )
            audit.record(
                uow,
                ctx,
                module=MODULE,
                operation="WITHHOLDING_BATCH_SELECT",
                object_type="bk_withholding_batch",
                object_id=batch_no,
                after={"itemCount": batch["item_count"], "totalAmount": batch["total_amount"]},
            )
            batch = get(uow, batch_no)
        uow.commit()
    return {"batchNo": batch_no, "itemCount": batch["item_count"], "batchStatus": batch["status"]}


# ------------------------------------------------------------------------------------ send --
def connect(batch: dict[str, Any]) -> Any:
    creds = transfer.credentials(str(batch["credential_ref"]), str(batch["username"]))
    if batch["protocol"] != "SFTP":
        raise AppError(
            ErrorCode.CONFLICT, f"文件传输配置错误：protocol {batch['protocol']} 未实现（仅 SFTP）"
        )
    return BankSftp.connect(str(batch["host"]), int(batch["port"]), creds, str(batch["host_key"]))


def send_file(uow: UnitOfWork, batch: dict[str, Any]) -> bytes:
    """The send file of a batch: every item with its customer and the agreement's account (opened here
    only), in sequence order."""
    kind = batch["biz_kind"]
    rows = uow.all(
        f"SELECT i.seq_no, i.charge_id, i.amount, i.sign_no, k.code AS cust_code, c.bill_period,"
        f" a.account_name, a.bank_account_cipher FROM bk_withholding_item i"
        f" JOIN biz_cust k ON k.id = i.cust_id JOIN biz_charge c ON c.id = i.charge_id"
        f" JOIN {AGREEMENT_TABLE[kind]} a ON a.id = i.agreement_id WHERE i.batch_id = :b ORDER BY i.seq_no",
        {"b": batch["id"]},
    )
    keys = crypto.keys(uow.conn)
    items = [
        rules.SendItem(
            int(r["seq_no"]),
            r["cust_code"],
            int(r["charge_id"]),
            r["bill_period"],
            r["sign_no"] or "",
            keys.open(r["bank_account_cipher"]),
            r["account_name"],
            Decimal(r["amount"]),
        )
        for r in rows
    ]
    return rules.build_send_file(
        batch_no=batch["batch_no"],
        channel_code=batch["channel_code"],
        bill_period=batch["bill_period"],
        biz_kind=batch["biz_kind"],
        created=batch["create_time"].astimezone(BEIJING).date(),
        items=items,
    )


def send(ctx: RequestContext, batch_no: str, *, retry: bool = False) -> dict[str, Any]:
    """Claim the batch (CREATED -> SENDING; the workflow's own retry may take a SENDING one again), upload
    its file, mark it SENT. A batch past CREATED is never sent again: 1_002_006_001 (or, for the
    workflow's retry of a batch it already sent, the batch as it is).

    Sent once (1_002_006_001, docs/BANK.md "Sending once"): the file is written as its partial copy and
    renamed into place, and `publish_time` is committed between the two. An upload error before that
    leaves the file certainly not at the bank: the batch goes back to CREATED. After it the answer is
    ambiguous (the rename may have happened, the bank may already have taken the file): the batch stays
    SENDING, and the next attempt looks at the send directory before anything else: the file in place, or
    gone with its partial gone (the rename happened and the bank took it), is SENT without uploading again;
    only a partial still there (the rename never happened) is uploaded again."""
    with UnitOfWork() as uow:
        claimable = [S.CREATED, S.SENDING] if retry else [S.CREATED]
        batch = uow.one(
            "UPDATE bk_withholding_batch SET status = 'SENDING', update_time = now()"
            " WHERE batch_no = :b AND status = ANY(CAST(:from AS text[])) AND item_count > 0 RETURNING *",
            {"b": batch_no, "from": claimable},
        )
        if batch is None:
            current = get(uow, batch_no)
            if retry and current["status"] not in (S.CREATED,):
                return {
                    "batchNo": batch_no,
                    "batchStatus": current["status"],
                    "sent": current["status"] != S.CANCELLED,
                }
            raise AppError(
                ErrorCode.WITHHOLDING_BATCH_MISSING_OR_SENT,
                f"batchNo {batch_no} 当前 {current['status']}，不能发送",
                data={"batchNo": batch_no, "batchStatus": current["status"]},
            )
        data = send_file(uow, batch)
        uow.commit()
    found = "UPLOADED"
    try:
        with connect(batch) as sftp:
            if batch["publish_time"] is not None:  # an earlier attempt may have put the file in place
                found = _already_published(sftp, batch)
            if found == "UPLOADED":
                sftp.upload(batch["send_file_path"], data, before_rename=lambda: _publishing(batch_no))
    except (BankSftpError, AppError) as exc:
        # Before publish_time the bank cannot have the file: back to CREATED (the workflow's retry sends it
        # again; a person may cancel it). After it the batch stays SENDING, for the next attempt to resolve.
        _note_error(batch_no, f"送盘失败：{exc}", back_to_created=True)
        raise
    with UnitOfWork() as uow:
        row = uow.one(
            "UPDATE bk_withholding_batch SET status = 'SENT', send_time = now(), file_sha256 = :h, last_error = NULL,"
            " taken_time = CASE WHEN CAST(:taken AS boolean) THEN COALESCE(taken_time, now()) ELSE taken_time END,"
            " update_time = now() WHERE batch_no = :b AND status = 'SENDING' RETURNING *",
            {"b": batch_no, "h": rules.sha256(data), "taken": found == "TAKEN"},
        )
        audit.record(
            uow,
            ctx,
            module=MODULE,
            operation="WITHHOLDING_BATCH_SEND",
            object_type="bk_withholding_batch",
            object_id=batch_no,
            after={"sendFilePath": batch["send_file_path"], "bytes": len(data), "found": found},
        )
        uow.commit()
    return {"batchNo": batch_no, "batchStatus": row["status"] if row else S.SENT, "sent": True}


def _already_published(sftp: BankSftp, batch: dict[str, Any]) -> str:
    """After an ambiguous upload (publish_time set): IN_PLACE (the file is in the send directory), TAKEN
    (neither it nor its partial is there: the rename, which is atomic, happened and the bank has moved the
    file away) or UPLOADED (the partial is still there: the rename never happened, upload again)."""
    path = str(batch["send_file_path"])
    if sftp.exists(path):
        return "IN_PLACE"
    if sftp.exists(BankSftp.partial_path(path)):
        return "UPLOADED"
    return "TAKEN"


def _publishing(batch_no: str) -> None:
    """Committed before the send file's rename is issued: from now on the bank may have it."""
    with UnitOfWork() as uow:
        uow.execute(
            "UPDATE bk_withholding_batch SET publish_time = now(), update_time = now()"
            " WHERE batch_no = :b AND status = 'SENDING'",
            {"b": batch_no},
        )
        uow.commit()


def _note_error(batch_no: str, message: str, *, back_to_created: bool = False) -> None:
    """The error kept on the batch; an upload that never reached its rename (no publish_time) puts the
    batch back to CREATED, any other stays SENDING (the file may be at the bank)."""
    with UnitOfWork() as uow:
        uow.execute(
            "UPDATE bk_withholding_batch SET last_error = :m, update_time = now(),"
            " status = CASE WHEN CAST(:back AS boolean) AND status = 'SENDING' AND publish_time IS NULL"
            " THEN 'CREATED' ELSE status END"
            " WHERE batch_no = :b",
            {"m": message[:512], "b": batch_no, "back": back_to_created},
        )
        uow.commit()


def status(ctx: RequestContext, batch_no: str) -> dict[str, Any]:
    with UnitOfWork() as uow:
        batch = get(uow, batch_no)
        diffs = uow.all(
            "SELECT d.* FROM bk_reconcile_diff d JOIN bk_reconcile_batch r ON r.id = d.reconcile_id"
            " WHERE r.batch_id = :b ORDER BY d.id",
            {"b": batch["id"]},
        )
        returns = uow.all(
            "SELECT file_serial_no, file_path, status, item_count, success_count, fail_count, error, receipt_count,"
            " create_time FROM bk_withholding_return WHERE batch_no = :b ORDER BY id",
            {"b": batch_no},
        )
    out = view(batch, [diff_view(d) for d in diffs])
    out["returnList"] = [
        {
            "fileSerialNo": r["file_serial_no"],
            "backFilePath": r["file_path"],
            "status": r["status"],
            "itemCount": r["item_count"],
            "successCount": r["success_count"],
            "failCount": r["fail_count"],
            "error": r["error"],
            "receiptCount": r["receipt_count"],
            "receiveTime": r["create_time"],
        }
        for r in returns
    ]
    return out


def diff_view(d: dict[str, Any]) -> dict[str, Any]:
    return {
        "diffId": d["id"],
        "diffType": d["diff_type"],
        "custId": d["cust_id"],
        "chargeId": d["charge_id"],
        "bankSerialNo": d["bank_serial_no"],
        "ourAmount": d["our_amount"],
        "bankAmount": d["bank_amount"],
        "status": d["status"],
        "resolution": d["resolution"],
        "reason": d["reason"],
        "resolvedTime": d["resolved_time"],
    }


# ---------------------------------------------------------------------------------- cancel --
def cancel(ctx: RequestContext, batch_no: str, reason: str) -> tuple[dict[str, Any], str | None]:
    """Cancel before the bank took the file. CREATED: at once (the send step's claim then fails). SENT:
    the file is removed from the send directory first; if it is gone the bank has it: refused. SENDING
    (an upload under way) and anything later: refused (1_002_006_001). Returns the reply and the task
    token of a workflow waiting for this batch's return (to be told it was cancelled)."""
    with UnitOfWork() as uow:
        batch = get(uow, batch_no, lock=True)
        if batch["status"] == S.CREATED:
            row = _cancelled(uow, ctx, batch, reason)
            uow.commit()
            return view(row), None
        if batch["status"] != S.SENT or batch["taken_time"] is not None:
            raise AppError(
                ErrorCode.WITHHOLDING_BATCH_MISSING_OR_SENT,
                f"batchNo {batch_no} 当前 {batch['status']}，"
                + ("银行已取走文件，" if batch["taken_time"] else "")
                + "不能取消",
                data={"batchNo": batch_no, "batchStatus": batch["status"]},
            )
    try:
        with connect(batch) as sftp:
            removed = sftp.remove(batch["send_file_path"])
    except BankSftpError as exc:
        raise AppError(ErrorCode.CONFLICT, f"银行文件通道不可用，未能取消：{exc}") from None
    with UnitOfWork() as uow:
        batch = get(uow, batch_no, lock=True)
        if not removed:
            uow.execute(
                "UPDATE bk_withholding_batch SET taken_time = COALESCE(taken_time, now()) WHERE id = :id",
                {"id": batch["id"]},
            )
            uow.commit()
            raise AppError(
                ErrorCode.WITHHOLDING_BATCH_MISSING_OR_SENT,
                f"batchNo {batch_no} 银行已取走送盘文件，不能取消",
                data={"batchNo": batch_no, "batchStatus": batch["status"]},
            )
        if batch["status"] != S.SENT:
            raise AppError(
                ErrorCode.WITHHOLDING_BATCH_MISSING_OR_SENT, f"batchNo {batch_no} 当前 {batch['status']}"
            )
        row = _cancelled(uow, ctx, batch, reason)
        uow.commit()
    return view(row), batch["task_token"]


def _cancelled(uow: UnitOfWork, ctx: RequestContext, batch: dict[str, Any], reason: str) -> dict[str, Any]:
    row = uow.one(
        "UPDATE bk_withholding_batch SET status = 'CANCELLED', cancel_time = now(), cancel_reason = :r,"
        " update_time = now() WHERE id = :id RETURNING *",
        {"r": reason, "id": batch["id"]},
    )
    audit.record(
        uow,
        ctx,
        module=MODULE,
        operation="WITHHOLDING_BATCH_CANCEL",
        object_type="bk_withholding_batch",
        object_id=batch["batch_no"],
        before={"batchStatus": batch["status"]},
        after={"batchStatus": S.CANCELLED, "reason": reason},
    )
    assert row is not None
    return row


# ---------------------------------------------------------------------------------- return --
def remember_token(batch_no: str, token: str) -> str:
    """The waiting workflow's task token, kept on the batch; the batch's status."""
    with UnitOfWork() as uow:
        row = uow.one(
            "UPDATE bk_withholding_batch SET task_token = :t, update_time = now() WHERE batch_no = :b RETURNING status",
            {"t": token, "b": batch_no},
        )
        uow.commit()
    if row is None:
        raise AppError(ErrorCode.WITHHOLDING_BATCH_MISSING_OR_SENT, f"batchNo {batch_no} 不存在")
    return str(row["status"])


def _serial_pattern(batch: dict[str, Any], template: str) -> re.Pattern[str]:
    marker = "FILESERIALNOMARKER"
    name = rules.render(
        template,
        {
            "batchNo": batch["batch_no"],
            "channelCode": batch["channel_code"],
            "billPeriod": batch["bill_period"],
            "tenantId": str(batch["tenant_id"]),
            "date": batch["create_time"].astimezone(BEIJING).strftime("%Y%m%d"),
            "fileSerialNo": marker,
        },
    )
    return re.compile("^" + re.escape(name).replace(marker, "(?P<serial>[A-Za-z0-9]+)") + "$")


def find_return(batch_no: str) -> list[tuple[str, str]]:
    """The return files of the batch in its back directory that were never processed: (serial, path)."""
    with UnitOfWork() as uow:
        batch = get(uow, batch_no)
        seen = {
            r["file_serial_no"]
            for r in uow.all(
                "SELECT file_serial_no FROM bk_withholding_return WHERE batch_no = :b", {"b": batch_no}
            )
        }
        template = (
            uow.scalar(
                "SELECT back_file_template FROM bk_transfer_config WHERE back_file_template IS NOT NULL"
                " AND (tenant_id IS NULL OR tenant_id = :t) AND (channel_code IS NULL OR channel_code = :c)"
                " ORDER BY (tenant_id IS NOT NULL AND channel_code IS NOT NULL) DESC, (tenant_id IS NOT NULL) DESC,"
                " (channel_code IS NOT NULL) DESC LIMIT 1",
                {"t": batch["tenant_id"], "c": batch["channel_code"]},
            )
            or rules.DEFAULT_TEMPLATES["back_file_template"]
        )
    pattern = _serial_pattern(batch, template)
    with connect(batch) as sftp:
        names = sftp.listdir(batch["back_dir"])
        if (
            batch["status"] == S.SENT
            and batch["taken_time"] is None
            and not sftp.exists(batch["send_file_path"])
        ):
            _mark_taken(batch_no)
    found = []
    for name in names:
        m = pattern.match(name)
        if m and m.group("serial") not in seen:
            found.append((m.group("serial"), rules.join(batch["back_dir"], name)))
    return found


def _mark_taken(batch_no: str) -> None:
    with UnitOfWork() as uow:
        uow.execute(
            "UPDATE bk_withholding_batch SET taken_time = now() WHERE batch_no = :b AND taken_time IS NULL",
            {"b": batch_no},
        )
        uow.commit()


def review_record(uow: UnitOfWork, batch_no: str, serial: str, path: str, reason: str) -> None:
    """A return file refused: kept for a person (the payment exception list, type BANK_RETURN_INVALID)."""
    import json

    uow.execute(
        "INSERT INTO bk_transaction_exception (trade_no, biz_order_no, exception_type, detail)"
        " VALUES (:t, :o, :type, CAST(:d AS jsonb))",
        {
            "t": serial,
            "o": batch_no[:40],
            "type": PaymentExceptionType.BANK_RETURN_INVALID,
            "d": json.dumps(
                {"batchNo": batch_no, "fileSerialNo": serial, "backFilePath": path, "reason": reason},
                ensure_ascii=False,
            ),
        },
    )


def apply_return(
    ctx: RequestContext,
    batch_no: str,
    file_serial_no: str,
    path: str | None = None,
    *,
    set_based: bool = True,
) -> dict[str, Any]:
    """Process one return file of the batch, once (batchNo + fileSerialNo): a repeat only counts and
    answers what the first did. Every line is checked against the batch before anything is written: a bad
    format, a total that does not add up, another batch's number or a line that is not the batch's item
    (sequence, bill, amount) refuses the whole file (1_002_006_002, and a review record). Then the
    successes are written off, each under a savepoint: a bill the shared write-off refuses (paid at the
    counter meanwhile) becomes WRITE_OFF_FAILED, a difference reconciliation will show.

    The successes are written off set-based (banking.write_off_set: the same rows, a chunk of lines per
    statement); `set_based=False` writes each through the shared write-off, as the real-time bank and the
    counter do (the twin test compares the two)."""
    if not re.fullmatch(r"[A-Za-z0-9]{1,32}", file_serial_no):
        raise AppError(ErrorCode.BAD_REQUEST, "fileSerialNo: 须为 1-32 位字母或数字")
    with UnitOfWork() as uow:
        batch = get(uow, batch_no)
        done = uow.one(
            "UPDATE bk_withholding_return SET receipt_count = receipt_count + 1 WHERE batch_no = :b AND file_serial_no = :s"
            " RETURNING *",
            {"b": batch_no, "s": file_serial_no},
        )
        uow.commit()
    if done is not None:
        if done["status"] == "INVALID":  # the first delivery was refused: so is its repeat
            raise AppError(
                ErrorCode.BANK_RETURN_FILE_INVALID,
                f"回盘文件 {file_serial_no}：{done['error']}（重复送达，已记录）",
                data={"batchNo": batch_no, "fileSerialNo": file_serial_no},
            )
        return _return_reply(batch_no, done, duplicate=True)
    if batch["status"] not in (S.SENT, S.RETURNED):
        raise AppError(
            ErrorCode.WITHHOLDING_BATCH_MISSING_OR_SENT,
            f"batchNo {batch_no} 当前 {batch['status']}，不接收回盘",
        )
    if path is None:
        path = rules.join(
            batch["back_dir"], f"{batch['file_name'].rsplit('.', 1)[0]}_RET_{file_serial_no}.txt"
        )
    if not path.startswith(batch["back_dir"].rstrip("/") + "/") or ".." in path.split("/"):
        raise AppError(ErrorCode.BAD_REQUEST, "backFilePath: 须在该批次的回盘目录下")
    try:
        with connect(batch) as sftp:
            data = sftp.read(path)
    except BankSftpError as exc:
        raise AppError(ErrorCode.BANK_RETURN_FILE_INVALID, f"回盘文件读取失败：{exc}") from None
    with UnitOfWork() as uow:
        batch = get(uow, batch_no, lock=True)  # one return of a batch at a time
        fresh = uow.scalar(
            "INSERT INTO bk_withholding_return (batch_no, file_serial_no, batch_id, file_path, file_sha256, status)"
            " VALUES (:b, :s, :id, :p, :h, 'APPLIED') ON CONFLICT (batch_no, file_serial_no) DO NOTHING RETURNING id",
            {"b": batch_no, "s": file_serial_no, "id": batch["id"], "p": path, "h": rules.sha256(data)},
        )
        raced = fresh is None  # another delivery of this file got the lock first: answered as a repeat
        refused: str | None = None
        row = receipt = None
        if raced:
            uow.commit()
        else:
            try:
                if batch["status"] != S.SENT:
                    raise rules.FileError(
                        f"批次当前 {batch['status']}，已回盘：同一批次的另一回盘文件不予处理"
                    )
                parsed = rules.parse_return_file(data, batch_no)
                if parsed.file_serial_no != file_serial_no:
                    raise rules.FileError(
                        f"文件流水号不匹配：文件 {parsed.file_serial_no}，通知 {file_serial_no}"
                    )
                items = {
                    int(r["seq_no"]): r
                    for r in uow.all(
                        "SELECT id, seq_no, cust_id, charge_id, amount FROM bk_withholding_item WHERE batch_id = :b",
                        {"b": batch["id"]},
                    )
                }
                for line in parsed.lines:
                    item = items.get(line.seq_no)
                    if (
                        item is None
                        or int(item["charge_id"]) != line.charge_id
                        or Decimal(item["amount"]) != line.amount
                    ):
                        raise rules.FileError(f"序号 {line.seq_no} 与批次明细不符（账单或金额）")
            except rules.FileError as exc:
                refused = str(exc)
                uow.execute(
                    "UPDATE bk_withholding_return SET status = 'INVALID', error = :e WHERE id = :id",
                    {"e": refused[:512], "id": fresh},
                )
                review_record(uow, batch_no, file_serial_no, path, refused)
            else:
                row = _apply_lines(uow, ctx, batch, items, parsed, file_serial_no, path, fresh, set_based)
                receipt = uow.one("SELECT * FROM bk_withholding_return WHERE id = :id", {"id": fresh})
            uow.commit()
    if raced:
        return apply_return(ctx, batch_no, file_serial_no, path, set_based=set_based)
    if refused is not None:
        raise AppError(
            ErrorCode.BANK_RETURN_FILE_INVALID,
            f"回盘文件 {file_serial_no}：{refused}（已记录，待人工核查）",
            data={"batchNo": batch_no, "fileSerialNo": file_serial_no},
        )
    assert row is not None and receipt is not None
    return _return_reply(batch_no, receipt, duplicate=False)


def _apply_lines(
    uow: UnitOfWork,
    ctx: RequestContext,
    batch: dict[str, Any],
    items: dict[int, dict[str, Any]],
    parsed: rules.ReturnFile,
    file_serial_no: str,
    path: str,
    receipt_id: int,
    set_based: bool,
) -> dict[str, Any] | None:
    """The checked lines applied: failures recorded, successes written off (set-based, what that leaves
    one by one); the batch RETURNED."""
    batch_no = batch["batch_no"]
    fresh = receipt_id
    success = fail = 0
    success_amount = Decimal("0.00")
    as_of = batch["create_time"].astimezone(BEIJING).date()
    lines = [write_off_set.Line(items[line.seq_no], line) for line in parsed.lines]
    refused = [x for x in lines if not x.line.success]
    write_off_set.mark_failed(uow, refused)
    debited = [x for x in lines if x.line.success]
    fail += len(refused)
    left = write_off_set.write_off(uow, ctx, batch, fresh, debited, as_of) if set_based else debited
    success = len(debited) - len(left)
    success_amount += sum((x.line.amount for x in debited), Decimal("0.00"))
    for x in left:  # what the set-based write-off leaves: each bill through the shared write-off
        if _write_off_item(uow, ctx, batch, x.item, x.line, as_of) is None:
            success += 1
        else:
            fail += 1
            success_amount -= x.line.amount
    uow.execute(
        "UPDATE bk_withholding_return SET item_count = :n, success_count = :s, fail_count = :f WHERE id = :id",
        {"n": len(parsed.lines), "s": success, "f": fail, "id": fresh},
    )
    row = uow.one(
        "UPDATE bk_withholding_batch SET status = 'RETURNED', return_time = now(), back_file_path = :p,"
        " success_count = :s, fail_count = :f, success_amount = :a, taken_time = COALESCE(taken_time, now()),"
        " update_time = now() WHERE id = :id RETURNING *",
        {"p": path, "s": success, "f": fail, "a": success_amount, "id": batch["id"]},
    )
    audit.record(
        uow,
        ctx,
        module=MODULE,
        operation="WITHHOLDING_BATCH_RETURN",
        object_type="bk_withholding_batch",
        object_id=batch_no,
        after={
            "fileSerialNo": file_serial_no,
            "successCount": success,
            "failCount": fail,
            "successAmount": success_amount,
        },
    )
    return row


def _write_off_item(
    uow: UnitOfWork,
    ctx: RequestContext,
    batch: dict[str, Any],
    item: dict[str, Any],
    line: rules.ReturnLine,
    as_of: dt.date,
) -> str | None:
    """The shared write-off of one debited bill, under a savepoint; None when written off, else why not."""
    cust_id = int(item["cust_id"])
    savepoint = uow.conn.begin_nested()
    try:
        account = lock_account(uow, cust_id)
        charges = lock_charges(uow, cust_id, [int(item["charge_id"])])
        dues = amount_due(uow, cust_id, as_of=as_of, charge_ids=[int(item["charge_id"])])
        trade = f"{batch['channel_code']}:{line.bank_serial_no}"
        result = write_off(
            uow,
            ctx,
            cust_id=cust_id,
            account=account,
            charges=charges,
            dues=dues,
            amount=line.amount,
            channel="BANK",
            source="WITHHOLD",
            trade_no=line.bank_serial_no,
            idempotency_key=f"WITHHOLD:{batch['channel_code']}:{line.bank_serial_no}",
            partial_ok=True,
            remark=f"银行代扣 {batch['batch_no']} #{line.seq_no}",
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
            amount=line.amount,
            trade_no=trade,
            request_key=f"WITHHOLD|{batch['channel_code']}|{line.bank_serial_no}",
        )
        uow.execute(
            "UPDATE bk_withholding_item SET status = 'SUCCESS', result_code = :c, result_msg = :m, bank_serial_no = :s,"
            " bank_amount = :a, collection_id = :k WHERE id = :id",
            {
                "c": line.result_code,
                "m": line.result_msg[:200],
                "s": line.bank_serial_no,
                "a": line.amount,
                "k": result.collection_id,
                "id": item["id"],
            },
        )
        savepoint.commit()
        return None
    except (AppError, IntegrityError) as exc:
        savepoint.rollback()
        why = exc.msg if isinstance(exc, AppError) else "核销冲突（流水号已使用）"
        uow.execute(
            "UPDATE bk_withholding_item SET status = 'WRITE_OFF_FAILED', result_code = :c, result_msg = :m,"
            " bank_serial_no = :s, bank_amount = :a WHERE id = :id",
            {
                "c": line.result_code,
                "m": f"银行已扣款，核销失败：{why}"[:200],
                "s": line.bank_serial_no,
                "a": line.amount,
                "id": item["id"],
            },
        )
        return why


def _return_reply(batch_no: str, receipt: dict[str, Any], *, duplicate: bool) -> dict[str, Any]:
    return {
        "batchNo": batch_no,
        "fileSerialNo": receipt["file_serial_no"],
        "returnStatus": receipt["status"],
        "itemCount": receipt["item_count"],
        "successCount": receipt["success_count"],
        "failCount": receipt["fail_count"],
        "duplicate": duplicate,
        "msg": receipt["error"] or ("重复回盘，已处理过" if duplicate else "回盘已处理"),
    }


def waiting_token(batch_no: str) -> str | None:
    """The task token of the execution last seen waiting for this batch's return."""
    with UnitOfWork() as uow:
        return uow.scalar("SELECT task_token FROM bk_withholding_batch WHERE batch_no = :b", {"b": batch_no})


def stalled(after_s: int, limit: int) -> list[tuple[str, str | None]]:
    """Batches on their way (CREATED, SENDING, SENT, RETURNED, or RECONCILED with nothing differing) that
    have not moved for `after_s` seconds: (batchNo, the last execution's ARN). Whether the execution still
    runs is banking.workflow's to ask."""
    with UnitOfWork() as uow:
        rows = uow.all(
            "SELECT batch_no, execution_arn FROM bk_withholding_batch"
            " WHERE (status IN ('CREATED', 'SENDING', 'SENT', 'RETURNED')"
            " OR (status = 'RECONCILED' AND reconcile_status = 'BALANCED'))"
            " AND update_time < now() - make_interval(secs => :s) ORDER BY update_time LIMIT :n",
            {"s": after_s, "n": limit},
        )
    return [(str(r["batch_no"]), r["execution_arn"]) for r in rows]


def stuck_count() -> int:
    """Withholding batches that stopped moving: uploading for over an hour (SENDING), sent two days ago
    with no return file (SENT), or returned an hour ago and not reconciled (RETURNED)."""
    with UnitOfWork() as uow:
        return int(
            uow.scalar(
                "SELECT count(*) FROM bk_withholding_batch WHERE"
                " (status = 'SENDING' AND update_time < now() - interval '1 hour')"
                " OR (status = 'SENT' AND send_time < now() - interval '2 days')"
                " OR (status = 'RETURNED' AND update_time < now() - interval '1 hour')"
            )
        )
