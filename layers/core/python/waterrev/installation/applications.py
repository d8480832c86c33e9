"""IF-INST-001 报装申请 and IF-INST-002 踏勘结果回填, the attachment upload link, and the application's
detail (its trail, documents, contracts, signatures, archives).

An application is accepted at once and waits for its survey (SURVEYING). One live application per type,
applicant mobile and address: a repeated submission (a retry, a double click, two clerks) answers the
first one, serialised on an advisory lock of that key. A survey's scheme version is written once per
audit result (processId + schemeVersion + auditResult): a repeat answers the same transfer.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from waterrev import audit, crypto
from waterrev.adapters import documents
from waterrev.context import RequestContext
from waterrev.db import UnitOfWork
from waterrev.domain.lifecycle import IllegalTransition
from waterrev.domain.states import InstallStatus
from waterrev.errors import AppError, ErrorCode
from waterrev.installation import _process, rules
from waterrev.installation.commands import Apply, Survey, UploadRequest
from waterrev.masking import mask_mobile
from waterrev.visibility import dept_visible


def upload_link(ctx: RequestContext, cmd: UploadRequest) -> dict[str, Any]:
    """A presigned PUT for one attachment: the key is ours, the type and size are checked again when the
    attachment is used."""
    from waterrev.settings import get_settings

    s = get_settings()
    if cmd.file_size > s.document_max_bytes:
        raise AppError(ErrorCode.BAD_REQUEST, f"fileSize: 超过 {s.document_max_bytes} 字节上限")
    key = documents.upload_key(cmd.file_name)
    url = documents.upload_link(key, cmd.file_type, s.document_link_ttl_s)
    expire = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=s.document_link_ttl_s)
    return {"fileKey": key, "uploadUrl": url, "fileType": cmd.file_type, "expireTime": expire}


def apply(ctx: RequestContext, cmd: Apply) -> dict[str, Any]:
    dept_id = cmd.dept_id or ctx.principal.dept_id
    if dept_id is None:
        raise AppError(ErrorCode.BAD_REQUEST, "deptId: 操作员无所属营业所，须指定受理营业所")
    if not dept_visible(ctx, dept_id):
        raise AppError(ErrorCode.FORBIDDEN, f"deptId: 无营业所 {dept_id} 的数据权限")
    checked = _process.require_all(_process.check(cmd.attachments))
    with UnitOfWork() as uow:
        mobile = crypto.keys(uow.conn).pii(crypto.MOBILE, cmd.mobile)
        assert mobile.index is not None
        key = rules.apply_key(cmd.apply_type, mobile.index, cmd.address)
        if uow.scalar("SELECT 1 FROM system_dept WHERE id = :d AND status = 0", {"d": dept_id}) is None:
            raise AppError(ErrorCode.BAD_REQUEST, f"deptId: 营业所 {dept_id} 不存在或已停用")
        uow.execute("SELECT pg_advisory_xact_lock(hashtextextended(:k, 15))", {"k": key})
        existing = uow.one(
            "SELECT p.id, p.code, p.process_status, p.dept_id FROM installation_apply a"
            " JOIN installation_process p ON p.id = a.process_id WHERE a.apply_key = :k AND a.live",
            {"k": key},
        )
        if existing is not None:
            if not dept_visible(ctx, existing["dept_id"]):
                raise AppError(ErrorCode.CONFLICT, "该申请人同一地址的同类报装已在其他营业所办理中")
            return _apply_reply(existing, "重复提交：返回已受理的报装申请")
        code = _process.next_no(uow, "BZ")
        process_id = int(
            uow.scalar(
                "INSERT INTO installation_process (code, process_type, process_status, current_node, dept_id, source_channel,"
                " creator) VALUES (:c, 'INSTALL', :s, 'SURVEY', :d, :ch, :u) RETURNING id",
                {
                    "c": code,
                    "s": InstallStatus.SURVEYING,
                    "d": dept_id,
                    "ch": cmd.source_channel,
                    "u": ctx.principal.user_id,
                },
            )
        )
        uow.execute(
            "INSERT INTO installation_apply (process_id, apply_type, applicant_name, mobile, mobile_cipher,"
            " mobile_index, address, water_use_type, source_channel, dept_id, apply_key) VALUES (:p, :t, :n,"
            " :mobile, :mobile_cipher, :mobile_index, :a, :w, :ch, :d, :k)",
            {
                "p": process_id,
                "t": cmd.apply_type,
                "n": cmd.applicant_name,
                **crypto.columns("mobile", mobile),
                "a": cmd.address,
                "w": cmd.water_use_type,
                "ch": cmd.source_channel,
                "d": dept_id,
                "k": key,
            },
        )
        for c in checked:
            assert c.stored is not None
            _process.record(uow, process_id, "APPLY", c.attachment.file_name, c.stored)
        transfer_id = _process.trail(
            uow, ctx, process_id, "APPLY", None, InstallStatus.SURVEYING, remark="受理报装申请"
        )
        _process.notify(
            uow,
            {
                "code": code,
                **crypto.columns("mobile", mobile),
                "applicant_name": cmd.applicant_name,
                "process_status": InstallStatus.SURVEYING,
                "current_node": "SURVEY",
            },
            transfer_id,
        )
        audit.record(
            uow,
            ctx,
            module=_process.MODULE,
            operation="INSTALL_APPLY",
            object_type="installation_process",
            object_id=process_id,
            after={**cmd._asdict(), "attachments": len(cmd.attachments), "deptId": dept_id},
        )
        uow.commit()
    return _apply_reply(
        {"id": process_id, "code": code, "process_status": InstallStatus.SURVEYING},
        "报装申请已受理，待现场踏勘",
    )


def _apply_reply(process: dict[str, Any], msg: str) -> dict[str, Any]:
    # the seed's reply enum is INIT / ACCEPTED / SURVEYING: later statuses of a repeated submission are
    # told as SURVEYING's successors in msg, the status itself through the detail route
    status = str(process["process_status"])
    shown = status if status in ("SURVEYING",) else "ACCEPTED"
    return {
        "processId": process["id"],
        "processCode": process["code"],
        "processStatus": shown,
        "acceptStatus": "ACCEPTED",
        "msg": msg if status == shown else f"{msg}（当前状态 {status}）",
    }


def survey(ctx: RequestContext, cmd: Survey) -> dict[str, Any]:
    if cmd.audit_result == "PASS" and cmd.estimate_amount is None:
        raise AppError(ErrorCode.BAD_REQUEST, "estimateAmount: 审核通过须给出预估费用")
    checked = _process.require_all(_process.check(cmd.attachments))
    idem = f"INST-SURVEY:{cmd.process_id}:{cmd.scheme_version}:{cmd.audit_result or '-'}"
    with UnitOfWork() as uow:
        process = _process.lock(uow, ctx, cmd.process_id)
        done = uow.one("SELECT id FROM installation_transfer WHERE idem_key = :k", {"k": idem})
        if done is not None:
            return _survey_reply(int(done["id"]), process, "重复回填：返回已记录的踏勘结果")
        current = InstallStatus(str(process["process_status"]))
        if current not in (InstallStatus.SURVEYING, InstallStatus.SURVEYED):
            raise IllegalTransition(
                f"报装申请 {process['code']}", current, "SURVEYED", ErrorCode.PROCESS_NODE_NOT_ALLOWED
            )
        target = {"PASS": InstallStatus.SURVEYED, "REJECT": InstallStatus.REJECTED}.get(
            cmd.audit_result or "", current
        )
        before = dict(process)
        transfer_id = _process.move(
            uow,
            ctx,
            process,
            target,
            "SURVEY_" + (cmd.audit_result or "RECORD"),
            remark=cmd.survey_result[:500],
            idem_key=idem,
        )
        data = {
            "schemeVersion": cmd.scheme_version,
            "surveyResult": cmd.survey_result,
            "estimateAmount": None if cmd.estimate_amount is None else f"{cmd.estimate_amount:.2f}",
            "auditResult": cmd.audit_result,
            "transferId": transfer_id,
        }
        uow.execute(
            "INSERT INTO installation_survey (process_id, data_type, data_version, data)"
            " VALUES (:p, 'SURVEY', :v, CAST(:d AS jsonb))",
            {"p": cmd.process_id, "v": cmd.scheme_version, "d": json.dumps(data, ensure_ascii=False)},
        )
        if cmd.audit_result == "PASS":
            uow.execute(
                "UPDATE installation_apply SET scheme_version = :v, estimate_amount = :e WHERE process_id = :p",
                {"v": cmd.scheme_version, "e": cmd.estimate_amount, "p": cmd.process_id},
            )
        for c in checked:
            assert c.stored is not None
            _process.record(uow, cmd.process_id, "SURVEY", c.attachment.file_name, c.stored)
        audit.record(
            uow,
            ctx,
            module=_process.MODULE,
            operation="INSTALL_SURVEY",
            object_type="installation_process",
            object_id=cmd.process_id,
            before={"processStatus": before["process_status"]},
            after={**data, "processStatus": process["process_status"], "attachments": len(checked)},
        )
        uow.commit()
    return _survey_reply(transfer_id, process, "踏勘结果已回填")


def _survey_reply(transfer_id: int, process: dict[str, Any], msg: str) -> dict[str, Any]:
    return {
        "transferId": transfer_id,
        "processStatus": process["process_status"],
        "nextNode": process["current_node"],
        "msg": msg,
    }


def detail(ctx: RequestContext, process_id: int) -> dict[str, Any]:
    """The application as the back office follows it: form, status, trail, surveys, documents,
    contracts with their signatures, evidence and archive batches, and what it became."""
    with UnitOfWork() as uow:
        p = uow.one(
            "SELECT p.id, p.code, p.process_status, p.current_node, p.dept_id, p.create_time, a.*"
            " FROM installation_process p JOIN installation_apply a ON a.process_id = p.id"
            " WHERE p.id = :id AND p.process_type = 'INSTALL'",
            {"id": process_id},
        )
        if p is None or not dept_visible(ctx, p["dept_id"]):
            raise _process.not_found(process_id)
        transfers = uow.all(
            "SELECT id, action, from_status, to_status, to_node, operator_id, remark, create_time"
            " FROM installation_transfer WHERE process_id = :p ORDER BY id",
            {"p": process_id},
        )
        docs = uow.all(
            "SELECT id, category, file_name, content_type, file_size, sha256, archive_batch_no, create_time"
            " FROM installation_document WHERE process_id = :p ORDER BY id",
            {"p": process_id},
        )
        contracts = uow.all(
            "SELECT c.id, c.contract_no, c.request_no, c.contract_amount, c.contract_status, c.send_status,"
            " c.sign_url, c.file_sha256, s.id AS signature_id, s.signature_status, s.signature_time,"
            " e.id AS evidence_id, e.evidence_no, e.hash_value"
            " FROM installation_contract c LEFT JOIN installation_signature s ON s.request_no = c.request_no"
            " LEFT JOIN installation_evidence e ON e.signature_id = s.id WHERE c.process_id = :p ORDER BY c.id",
            {"p": process_id},
        )
        archives = uow.all(
            "SELECT a.batch_no, a.archive_type, a.archive_status, a.archive_count, a.create_time, e.hash_value"
            " FROM installation_archive a LEFT JOIN installation_evidence e ON e.id = a.evidence_id"
            " WHERE a.process_id = :p ORDER BY a.id",
            {"p": process_id},
        )
    return {
        "processId": p["id"],
        "processCode": p["code"],
        "processStatus": p["process_status"],
        "currentNode": p["current_node"],
        "applyType": p["apply_type"],
        "applicantName": p["applicant_name"],
        "mobile": mask_mobile(p["mobile"]),
        "address": p["address"],
        "waterUseType": p["water_use_type"],
        "sourceChannel": p["source_channel"],
        "deptId": p["dept_id"],
        "schemeVersion": p["scheme_version"],
        "estimateAmount": p["estimate_amount"],
        "meterNo": p["meter_no"],
        "custId": p["cust_id"],
        "accountId": p["account_id"],
        "meterId": p["meter_id"],
        "createTime": p["create_time"],
        "completedTime": p["completed_time"],
        "transferList": [
            {
                "transferId": t["id"],
                "action": t["action"],
                "fromStatus": t["from_status"],
                "toStatus": t["to_status"],
                "nextNode": t["to_node"],
                "operatorId": t["operator_id"],
                "remark": t["remark"],
                "createTime": t["create_time"],
            }
            for t in transfers
        ],
        "documentList": [
            {
                "documentId": d["id"],
                "category": d["category"],
                "fileName": d["file_name"],
                "fileType": d["content_type"],
                "fileSize": d["file_size"],
                "sha256": d["sha256"],
                "archiveBatchNo": d["archive_batch_no"],
            }
            for d in docs
        ],
        "contractList": [
            {
                "contractId": c["id"],
                "contractNo": c["contract_no"],
                "requestNo": c["request_no"],
                "contractAmount": c["contract_amount"],
                "contractStatus": c["contract_status"],
                "sendStatus": c["send_status"],
                "signUrl": c["sign_url"],
                "fileSha256": c["file_sha256"],
                "signatureId": c["signature_id"],
                "signStatus": c["signature_status"],
                "signatureTime": c["signature_time"],
                "evidenceId": c["evidence_id"],
                "evidenceNo": c["evidence_no"],
                "hashValue": c["hash_value"],
            }
            for c in contracts
        ],
        "archiveList": [
            {
                "archiveBatchNo": a["batch_no"],
                "archiveType": a["archive_type"],
                "archiveStatus": a["archive_status"],
                "archiveCount": a["archive_count"],
                "evidenceHash": a["hash_value"],
                "createTime": a["create_time"],
            }
            for a in archives
        ],
    }
