"""IF-INST-005 报装归档, and the completion it brings.

Each attachment is read back from S3 and checked (size, type, SHA-256) before the transaction; those
that pass are archived under the batch, those that do not are listed with their reason: SUCCESS when
all passed, PARTIAL when some did, FAIL when none did. Every batch that archived anything records an
evidence hash over every document of the application (rules.evidence_hash: the application and survey
attachments, the contract and its signed copy, every archive) as an installation_evidence row of type
ARCHIVE. What a type requires and where a SUCCESS moves the application is rules.ARCHIVE_STEPS: CHECK
(验收) needs the signed contract and records the installed meter; FINISH completes the application and,
in the same transaction, creates its customer, account and meter (customers.master.create_in) and links
them, ready for the meter's next reading. A PARTIAL or FAIL batch moves nothing. A SUCCESS batch is
written once per process, type and set of documents: the same request again answers it.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy.exc import IntegrityError

from waterrev import audit, crypto
from waterrev.context import RequestContext
from waterrev.customers import master
from waterrev.customers.commands import Contact, MeterLink, NewCustomer
from waterrev.db import UnitOfWork
from waterrev.domain.lifecycle import IllegalTransition
from waterrev.domain.states import InstallStatus
from waterrev.errors import AppError, ErrorCode
from waterrev.installation import _process, rules
from waterrev.installation.commands import Archive

MODULE = "INST-003"


def submit(ctx: RequestContext, cmd: Archive) -> dict[str, Any]:
    step = rules.ARCHIVE_STEPS[cmd.archive_type]
    if cmd.archive_type == "CHECK" and cmd.meter is None:
        raise AppError(ErrorCode.BAD_REQUEST, "meterInfo: 验收归档（CHECK）须登记所装水表")
    key = rules.archive_request_key(cmd.process_id, cmd.archive_type, (a.sha256 for a in cmd.attachments))
    with UnitOfWork() as uow:  # answer a repeat, and refuse a wrong node, before reading any object
        process = _process.lock(uow, ctx, cmd.process_id)
        done = _done(uow, key)
        if done is None:
            _require_step(process, cmd.archive_type, step)
    if done is not None:
        return {**done, "processStatus": process["process_status"]}
    checked = _process.check(cmd.attachments)
    try:
        with UnitOfWork() as uow:
            process = _process.lock(uow, ctx, cmd.process_id)
            done = _done(uow, key)
            if done is not None:
                return {**done, "processStatus": process["process_status"]}
            _require_step(process, cmd.archive_type, step)
            reply = _archive(uow, ctx, process, cmd, step, checked, key)
            uow.commit()
    except IntegrityError as exc:
        if "meter" in str(exc.orig):
            raise AppError(
                ErrorCode.CONFLICT, f"meterInfo.meterNo: 水表 {process['meter_no']} 已被占用"
            ) from exc
        raise
    return reply


def _require_step(process: dict[str, Any], archive_type: str, step: rules.ArchiveStep) -> None:
    current = str(process["process_status"])
    if InstallStatus(current) not in step.allowed_from:
        raise IllegalTransition(
            f"报装申请 {process['code']}",
            current,
            str(step.target or archive_type),
            ErrorCode.PROCESS_NODE_NOT_ALLOWED,
        )


def _done(uow: UnitOfWork, key: str) -> dict[str, Any] | None:
    row = uow.one(
        "SELECT batch_no, archive_status, archive_count, fail_list FROM installation_archive"
        " WHERE request_key = :k AND archive_status = 'SUCCESS'",
        {"k": key},
    )
    if row is None:
        return None
    return _reply(
        row["batch_no"],
        row["archive_status"],
        row["archive_count"],
        row["fail_list"],
        "重复归档：返回已完成的归档批次",
    )


def _archive(
    uow: UnitOfWork,
    ctx: RequestContext,
    process: dict[str, Any],
    cmd: Archive,
    step: rules.ArchiveStep,
    checked: list[_process.Checked],
    key: str,
) -> dict[str, Any]:
    process_id = int(process["id"])
    failures = [{"fileName": c.attachment.file_name, "reason": c.problem} for c in checked if c.problem]
    if cmd.archive_type == "CONTRACT":
        failures += _contract_refs(uow, process_id, cmd)
    good = [c for c in checked if not c.problem]
    status = rules.archive_status(len(good), len(failures))
    batch_no = _process.next_no(uow, "GD")
    for c in good:
        assert c.stored is not None
        if not _process.record(uow, process_id, cmd.archive_type, c.attachment.file_name, c.stored, batch_no):
            uow.execute(  # already archived under this type: the batch names it again
                "UPDATE installation_document SET archive_batch_no = :b WHERE process_id = :p AND category = :c"
                " AND sha256 = :h",
                {"b": batch_no, "p": process_id, "c": cmd.archive_type, "h": c.stored.sha256},
            )
    evidence_id, digest = None, None
    if good:
        docs = uow.all(
            "SELECT category, file_name, sha256 FROM installation_document WHERE process_id = :p AND sha256 IS NOT NULL",
            {"p": process_id},
        )
        digest = rules.evidence_hash(
            [rules.Document(d["category"], d["file_name"], d["sha256"]) for d in docs]
        )
        evidence_id = int(
            uow.scalar(
                "INSERT INTO installation_evidence (process_id, evidence_type, evidence_no, hash_value, archive_batch_no,"
                " document_count) VALUES (:p, 'ARCHIVE', :no, :h, :b, :n) RETURNING id",
                {"p": process_id, "no": batch_no, "h": digest, "b": batch_no, "n": len(docs)},
            )
        )
    uow.execute(
        "INSERT INTO installation_archive (batch_no, process_id, archive_type, archive_status, archive_count,"
        " fail_list, evidence_id, request_key, operator_id) VALUES (:b, :p, :t, :s, :n, CAST(:f AS jsonb), :e,"
        " :k, :o)",
        {
            "b": batch_no,
            "p": process_id,
            "t": cmd.archive_type,
            "s": status,
            "n": len(good),
            "f": json.dumps(failures, ensure_ascii=False),
            "e": evidence_id,
            "k": key,
            "o": cmd.operator_id or ctx.principal.user_id,
        },
    )
    before = str(process["process_status"])
    created: dict[str, Any] | None = None
    if status == "SUCCESS" and step.target is not None:
        if cmd.archive_type == "CHECK":
            assert cmd.meter is not None
            if uow.scalar("SELECT 1 FROM biz_meter WHERE meter_no = :no", {"no": cmd.meter.meter_no}):
                raise AppError(ErrorCode.CONFLICT, f"meterInfo.meterNo: 水表 {cmd.meter.meter_no} 已在档")
            uow.execute(
                "UPDATE installation_apply SET meter_no = :no, caliber = :cal, initial_reading = :r,"
                " install_date = COALESCE(:d, CURRENT_DATE) WHERE process_id = :p",
                {
                    "no": cmd.meter.meter_no,
                    "cal": cmd.meter.caliber,
                    "r": cmd.meter.initial_reading,
                    "d": cmd.meter.install_date,
                    "p": process_id,
                },
            )
        if cmd.archive_type == "FINISH":
            created = _complete(uow, ctx, process)
        _process.move(uow, ctx, process, step.target, f"ARCHIVE_{cmd.archive_type}", remark=batch_no)
    else:
        _process.trail(
            uow, ctx, process_id, f"ARCHIVE_{cmd.archive_type}_{status}", before, before, remark=batch_no
        )
    audit.record(
        uow,
        ctx,
        module=MODULE,
        operation="INSTALL_ARCHIVE",
        object_type="installation_process",
        object_id=process_id,
        before={"processStatus": before},
        after={
            "batchNo": batch_no,
            "archiveType": cmd.archive_type,
            "archiveStatus": status,
            "archived": len(good),
            "failed": len(failures),
            "processStatus": process["process_status"],
            **({"created": created} if created else {}),
        },
    )
    msg = {"SUCCESS": "归档完成", "PARTIAL": "部分归档：见 failList", "FAIL": "归档失败：见 failList"}[status]
    if created:
        msg += f"；已立户 {created['code']}"
    reply = _reply(batch_no, status, len(good), failures, msg)
    reply["processStatus"] = process["process_status"]
    reply["evidenceHash"] = digest
    return reply


def _contract_refs(uow: UnitOfWork, process_id: int, cmd: Archive) -> list[dict[str, Any]]:
    """A CONTRACT batch names the signed contract and its evidence: both must be this application's."""
    problems = []
    signed = uow.one(
        "SELECT c.id, e.id AS evidence_id FROM installation_contract c JOIN installation_signature s"
        " ON s.request_no = c.request_no JOIN installation_evidence e ON e.signature_id = s.id"
        " WHERE c.process_id = :p AND c.contract_status = 'SIGNED'",
        {"p": process_id},
    )
    if cmd.contract_id is not None and (signed is None or signed["id"] != cmd.contract_id):
        problems.append({"fileName": f"contractId={cmd.contract_id}", "reason": "不是该报装已签署的合同"})
    if cmd.evidence_id is not None and (signed is None or signed["evidence_id"] != cmd.evidence_id):
        problems.append({"fileName": f"evidenceId={cmd.evidence_id}", "reason": "不是该报装合同的签章存证"})
    return problems


def _complete(uow: UnitOfWork, ctx: RequestContext, process: dict[str, Any]) -> dict[str, Any]:
    """The customer, its account and its meter, linked to the application (in its transaction)."""
    mobile = str(
        crypto.keys(uow.conn).open_pii(crypto.MOBILE, process["mobile_cipher"])
    )  # sealed again there
    created = master.create_in(
        uow,
        ctx,
        NewCustomer(
            name=str(process["applicant_name"]),
            cust_type=str(process["water_use_type"]),
            address=str(process["address"]),
            dept_id=int(process["dept_id"]),
            mobile=mobile,
            contact_list=(Contact(str(process["applicant_name"]), mobile, "SELF", True),),
            meter_list=(
                MeterLink(
                    meter_no=str(process["meter_no"]),
                    caliber=str(process["caliber"]),
                    initial_reading=process["initial_reading"],
                    install_address=str(process["address"]),
                    install_date=process["install_date"],
                ),
            ),
        ),
        module=MODULE,
    )
    meter_id = created["meterIds"][0]
    uow.execute(
        "UPDATE installation_apply SET cust_id = :c, account_id = :a, meter_id = :m, completed_time = now()"
        " WHERE process_id = :p",
        {"c": created["id"], "a": created["accountId"], "m": meter_id, "p": process["id"]},
    )
    uow.execute(
        "UPDATE installation_process SET cust_id = :c WHERE id = :p", {"c": created["id"], "p": process["id"]}
    )
    return {
        "custId": created["id"],
        "code": created["code"],
        "accountId": created["accountId"],
        "meterId": meter_id,
    }


def _reply(batch_no: str, status: str, count: int, failures: Any, msg: str) -> dict[str, Any]:
    return {
        "archiveBatchNo": batch_no,
        "archiveStatus": status,
        "archiveCount": count,
        "failList": list(failures or []),
        "msg": msg,
    }
