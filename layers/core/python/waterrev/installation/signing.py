"""IF-INST-003 合同签署发起 and IF-INST-004 签章回执.

Initiating writes the contract (its text, S3 object and SHA-256) and a signing request number in one
transaction, moving the application to SIGNING; the document is then stored in S3 and the request sent
to the e-signature service, outside any transaction. Until the service accepts it the contract is
PENDING: initiating again re-sends the same request (the service is idempotent by requestNo), which is
how a timeout or a refusal is repaired.

The service's callback is verified on the raw body (waterrev.webhook, platform ESIGN: HMAC-SHA256 over
`timestamp\\nnonce\\nbody\\n`, a 5-minute window, each nonce once). The verdict on a request is written
once (installation_signature.request_no is unique): a repeat answers IGNORE_REPEAT with the first
verdict's ids. SUCCESS brings the signed document: fetched from the service, its SHA-256 compared with
hashValue, copied to S3 before the transaction; then, in one transaction, the signature, its evidence,
the contract SIGNED, the application SIGNED. FAIL and CANCEL end the contract and send the application
back to SURVEYED (a new contract may be initiated). A callback that cannot be applied (unknown request,
another contract, a hash that does not match, a verdict after another verdict) answers FAIL and stays
in installation_sign_callback for a person to list.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
from dataclasses import replace
from typing import Any

from waterrev import audit, crypto, webhook
from waterrev.adapters import documents, esign
from waterrev.context import SYSTEM, RequestContext
from waterrev.db import UnitOfWork
from waterrev.domain.states import ContractStatus, InstallStatus, SignStatus
from waterrev.errors import AppError, ErrorCode
from waterrev.installation import _process, rules
from waterrev.installation.commands import InitiateSign
from waterrev.logs import get_logger
from waterrev.visibility import dept_params

PLATFORM = "ESIGN"
MODULE = "INST-002"


def _client() -> esign.EsignClient:
    return esign.client_from_settings()


def initiate(ctx: RequestContext, cmd: InitiateSign) -> dict[str, Any]:
    ask: dict[str, Any] | None = None
    with UnitOfWork() as uow:
        process = _process.lock(uow, ctx, cmd.process_id)
        contract = uow.one(
            "SELECT * FROM installation_contract WHERE process_id = :p AND contract_status IN ('SIGNING', 'SIGNED')",
            {"p": cmd.process_id},
        )
        if contract is not None and contract["contract_status"] != "SIGNING":
            return _reply(contract, process, "重复发起：返回已签署的合同")
        if contract is not None and contract["send_status"] == "SENT":
            ask = contract
        if contract is None:
            _process.move(
                uow, ctx, process, InstallStatus.SIGNING, "CONTRACT_INITIATE"
            )  # 1_002_007_002 if not SURVEYED
            contract = _new_contract(uow, ctx, process, cmd)
        uow.commit()
    if ask is not None:
        return _ask(ctx, ask, process)
    return _send(ctx, contract, process)


def _ask(ctx: RequestContext, contract: dict[str, Any], process: dict[str, Any]) -> dict[str, Any]:
    """Initiating again while the contract is out for signature asks the service for its verdict (the
    repair of a callback that never came): a decided task is settled as its callback would be."""
    try:
        view = _client().query_task(str(contract["request_no"]))
    except esign.EsignException as exc:
        return _reply(contract, process, f"重复发起：签署进行中（签章服务查询失败：{exc}）"[:255])
    if view is None or view.get("taskStatus") not in set(SignStatus):
        return _reply(contract, process, "重复发起：签署进行中，等待签署人")
    body: dict[str, Any] = {
        "contractId": contract["id"],
        "requestNo": contract["request_no"],
        "signStatus": view["taskStatus"],
    }
    for name in ("evidenceNo", "fileUrl", "hashValue", "resultMsg"):
        if isinstance(view.get(name), str):
            body[name] = view[name]
    if isinstance(view.get("signatureTime"), str):
        with contextlib.suppress(ValueError):
            body["signatureTime"] = dt.datetime.fromisoformat(view["signatureTime"])
    outcome = settle(ctx, body)
    with UnitOfWork() as uow:
        fresh = uow.one("SELECT * FROM installation_contract WHERE id = :i", {"i": contract["id"]})
        status = uow.scalar(
            "SELECT process_status FROM installation_process WHERE id = :p", {"p": process["id"]}
        )
    assert fresh is not None
    return _reply(fresh, {**process, "process_status": status}, f"查询补偿：{outcome['msg']}")


def _new_contract(
    uow: UnitOfWork, ctx: RequestContext, process: dict[str, Any], cmd: InitiateSign
) -> dict[str, Any]:
    contract_no = _process.next_no(uow, "HT")
    signer = cmd.signer_name or str(process["applicant_name"])
    text = rules.contract_text(
        contract_no=contract_no,
        process_code=str(process["code"]),
        applicant_name=str(process["applicant_name"]),
        address=str(process["address"]),
        apply_type=str(process["apply_type"]),
        water_use_type=str(process["water_use_type"]),
        scheme_version=str(process["scheme_version"]),
        amount=process["estimate_amount"],
        signer_name=signer,
    )
    signer_mobile = (
        crypto.keys(uow.conn).pii(crypto.MOBILE, cmd.signer_mobile)
        if cmd.signer_mobile
        else crypto.stored(process, "mobile")
    )
    row = uow.one(
        "INSERT INTO installation_contract (process_id, contract_no, request_no, contract_amount, signer_name,"
        " signer_mobile, signer_mobile_cipher, signer_mobile_index, document, file_key, file_sha256, operator_id)"
        " VALUES (:p, :no, :rq, :amt, :sn, :signer_mobile, :signer_mobile_cipher, :signer_mobile_index,"
        " :doc, :key, :sha, :op) RETURNING *",
        {
            "p": process["id"],
            "no": contract_no,
            "rq": "QS" + contract_no[2:],
            "amt": process["estimate_amount"],
            "sn": signer,
            **crypto.columns("signer_mobile", signer_mobile),
            "doc": text,
            "key": f"installation/{process['code']}/contract/{contract_no}.txt",
            "sha": hashlib.sha256(text.encode()).hexdigest(),
            "op": ctx.principal.user_id,
        },
    )
    assert row is not None
    audit.record(
        uow,
        ctx,
        module=MODULE,
        operation="INSTALL_CONTRACT_INITIATE",
        object_type="installation_contract",
        object_id=row["id"],
        after={"contractNo": contract_no, "requestNo": row["request_no"], "amount": row["contract_amount"]},
    )
    return row


def _send(ctx: RequestContext, contract: dict[str, Any], process: dict[str, Any]) -> dict[str, Any]:
    """Store the document and hand the request to the service (outside any transaction)."""
    from waterrev.settings import get_settings

    s = get_settings()
    content = str(contract["document"]).encode()
    with UnitOfWork() as uow:  # the signer's mobile is sealed at rest: opened for the call only
        signer_mobile = crypto.keys(uow.conn).open_pii(crypto.MOBILE, contract["signer_mobile_cipher"])
    try:
        documents.store(contract["file_key"], content, "text/plain")
        accepted = _client().create_task(
            {
                "requestNo": contract["request_no"],
                "contractId": contract["id"],
                "contractNo": contract["contract_no"],
                "title": f"供水报装工程合同 {contract['contract_no']}",
                "documentUrl": documents.download_link(contract["file_key"], s.document_link_ttl_s),
                "documentSha256": contract["file_sha256"],
                "signer": {"name": contract["signer_name"], "mobile": signer_mobile},
                "notifyUrl": s.esign_notify_url,
            }
        )
    except Exception as exc:  # the service or S3: stays PENDING, initiate again
        reason = str(exc)[:255]
        get_logger().warning(
            "esign send failed", extra={"request_no": contract["request_no"], "error": reason}
        )
        with UnitOfWork() as uow:
            uow.execute(
                "UPDATE installation_contract SET send_error = :e, update_time = now() WHERE id = :i",
                {"e": reason, "i": contract["id"]},
            )
            uow.commit()
        return _reply(contract, process, "电子签章服务暂不可用：签署请求待发送，可再次发起重发")
    with UnitOfWork() as uow:
        row = uow.one(
            "UPDATE installation_contract SET send_status = 'SENT', task_no = :t, sign_url = :u, send_error = NULL,"
            " update_time = now() WHERE id = :i RETURNING *",
            {
                "t": str(accepted.get("taskNo") or "")[:64],
                "u": str(accepted.get("signUrl") or "")[:512],
                "i": contract["id"],
            },
        )
        uow.commit()
    assert row is not None
    return _reply(row, process, "签署请求已发送至电子签章服务")


def _reply(contract: dict[str, Any], process: dict[str, Any], msg: str) -> dict[str, Any]:
    return {
        "contractId": contract["id"],
        "contractNo": contract["contract_no"],
        "requestNo": contract["request_no"],
        "contractAmount": contract["contract_amount"],
        "fileSha256": contract["file_sha256"],
        "sendStatus": contract["send_status"],
        "signUrl": contract["sign_url"],
        "processStatus": process["process_status"],
        "msg": msg,
    }


# ---- IF-INST-004: the service's callback --------------------------------------------------------
_TEXT = {
    "requestNo": 40,
    "signStatus": 8,
    "signerId": 64,
    "signatureTime": 40,
    "evidenceNo": 64,
    "fileUrl": 512,
    "hashValue": 128,
    "resultMsg": 500,
}


def parse(raw: str) -> dict[str, Any]:
    try:
        body = json.loads(raw)
        webhook.check_storable(body)
    except ValueError as exc:
        raise AppError(ErrorCode.BAD_REQUEST, f"body: 不是合法的 JSON（{exc}）") from None
    if not isinstance(body, dict):
        raise AppError(ErrorCode.BAD_REQUEST, "body: 须为 JSON 对象")
    out: dict[str, Any] = {}
    contract_id = body.get("contractId")
    if not isinstance(contract_id, int) or isinstance(contract_id, bool) or not 0 < contract_id < 2**63:
        raise AppError(ErrorCode.BAD_REQUEST, "contractId: 必填，正整数")
    out["contractId"] = contract_id
    for name, limit in _TEXT.items():
        value = body.get(name)
        if value is None:
            continue
        if not isinstance(value, str) or len(value) > limit or "\x00" in value:
            raise AppError(ErrorCode.BAD_REQUEST, f"{name}: 须为不超过 {limit} 个字符的字符串")
        out[name] = value
    if not out.get("requestNo"):
        raise AppError(ErrorCode.BAD_REQUEST, "requestNo: 必填")
    if out.get("signStatus") not in set(SignStatus):
        raise AppError(ErrorCode.BAD_REQUEST, "signStatus: 须为 SUCCESS、FAIL、CANCEL")
    if "signatureTime" in out:
        try:
            moment = dt.datetime.fromisoformat(out["signatureTime"])
        except ValueError:
            raise AppError(ErrorCode.BAD_REQUEST, "signatureTime: 须为 ISO 8601 时间") from None
        if moment.tzinfo is None:
            raise AppError(ErrorCode.BAD_REQUEST, "signatureTime: 须带时区")
        out["signatureTime"] = moment
    if out["signStatus"] == SignStatus.SUCCESS and not (out.get("fileUrl") and out.get("hashValue")):
        raise AppError(ErrorCode.BAD_REQUEST, "fileUrl, hashValue: 签章成功须回传已签文件地址与存证哈希")
    return out


def callback(ctx: RequestContext, headers: dict[str, str], raw: bytes) -> dict[str, Any]:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise AppError(ErrorCode.BAD_REQUEST, "body: 不是 UTF-8 文本") from None
    webhook.verify(PLATFORM, headers, text)
    return settle(ctx, parse(text))


def settle(ctx: RequestContext, body: dict[str, Any]) -> dict[str, Any]:
    """A verdict on a signing request (a verified callback, or the service's answer to our query),
    written once."""
    ctx = replace(ctx, principal=SYSTEM)  # the service acts for the company: every office's contracts
    request_no, status = body["requestNo"], body["signStatus"]
    with UnitOfWork() as uow:
        first = uow.one(
            "SELECT s.id, s.signature_status, e.id AS evidence_id FROM installation_signature s"
            " LEFT JOIN installation_evidence e ON e.signature_id = s.id WHERE s.request_no = :r",
            {"r": request_no},
        )
        contract = uow.one("SELECT * FROM installation_contract WHERE request_no = :r", {"r": request_no})
    if first is not None:
        return _receipt(body, first, "已处理的签章回执")
    problem = None
    if contract is None or contract["id"] != body["contractId"]:
        problem = f"requestNo {request_no} 与合同 {body['contractId']} 不对应"
    stored = None
    if problem is None and status == SignStatus.SUCCESS:
        stored, problem = _copy_signed(contract, body)  # type: ignore[arg-type]
    if problem is not None:
        return _failed(body, problem)
    assert contract is not None
    with UnitOfWork() as uow:
        process = _process.lock(uow, ctx, int(contract["process_id"]))
        current = uow.one(
            "SELECT contract_status FROM installation_contract WHERE id = :i FOR UPDATE",
            {"i": contract["id"]},
        )
        again = uow.one(
            "SELECT s.id, s.signature_status, e.id AS evidence_id FROM installation_signature s"
            " LEFT JOIN installation_evidence e ON e.signature_id = s.id WHERE s.request_no = :r",
            {"r": request_no},
        )
        assert current is not None
        late = again is None and current["contract_status"] != ContractStatus.SIGNING
        if again is None and not late:
            answer = _apply(uow, ctx, process, contract, body, stored)
            uow.commit()
    if again is not None:  # a concurrent copy got here first
        return _receipt(body, again, "已处理的签章回执")
    if late:
        return _failed(body, f"合同当前状态为 {current['contract_status']}，不接受 {status}")
    return answer


def _apply(
    uow: UnitOfWork,
    ctx: RequestContext,
    process: dict[str, Any],
    contract: dict[str, Any],
    body: dict[str, Any],
    stored: documents.Stored | None,
) -> dict[str, Any]:
    """The verdict written: signature, evidence, documents, contract and application statuses."""
    request_no, status = body["requestNo"], body["signStatus"]
    signature_id = int(
        uow.scalar(
            "INSERT INTO installation_signature (contract_id, request_no, signature_status, signer_id,"
            " signature_time, file_url, file_key, result_msg) VALUES (:c, :r, :s, :sid, :t, :u, :k, :m)"
            " RETURNING id",
            {
                "c": contract["id"],
                "r": request_no,
                "s": status,
                "sid": body.get("signerId"),
                "t": body.get("signatureTime"),
                "u": body.get("fileUrl"),
                "k": stored.key if stored else None,
                "m": body.get("resultMsg"),
            },
        )
    )
    evidence_id = None
    if status == SignStatus.SUCCESS:
        assert stored is not None
        evidence_id = int(
            uow.scalar(
                "INSERT INTO installation_evidence (process_id, evidence_type, contract_id, signature_id,"
                " evidence_no, hash_value, document_count) VALUES (:p, 'SIGNATURE', :c, :s, :no, :h, 1)"
                " RETURNING id",
                {
                    "p": contract["process_id"],
                    "c": contract["id"],
                    "s": signature_id,
                    "no": body.get("evidenceNo"),
                    "h": body["hashValue"],
                },
            )
        )
        _process.record(
            uow,
            int(contract["process_id"]),
            "CONTRACT",
            f"{contract['contract_no']}.txt",
            documents.Stored(
                contract["file_key"],
                len(str(contract["document"]).encode()),
                "text/plain",
                contract["file_sha256"],
            ),
        )
        _process.record(
            uow, int(contract["process_id"]), "SIGNED", f"{contract['contract_no']}-signed.txt", stored
        )
        new_status, target, action = ContractStatus.SIGNED, InstallStatus.SIGNED, "SIGN_SUCCESS"
    else:
        new_status = ContractStatus.FAILED if status == SignStatus.FAIL else ContractStatus.CANCELLED
        target, action = InstallStatus.SURVEYED, f"SIGN_{status}"
    uow.execute(
        "UPDATE installation_contract SET contract_status = :s, update_time = now() WHERE id = :i",
        {"s": new_status, "i": contract["id"]},
    )
    _process.move(uow, ctx, process, target, action, remark=body.get("resultMsg"))
    _log(uow, body, "SUCCESS", None)
    audit.record(
        uow,
        ctx,
        module=MODULE,
        operation="INSTALL_SIGN_RESULT",
        object_type="installation_contract",
        object_id=contract["id"],
        before={"contractStatus": ContractStatus.SIGNING},
        after={"contractStatus": new_status, "requestNo": request_no, "signatureId": signature_id},
    )
    return {
        "signatureId": signature_id,
        "evidenceId": evidence_id,
        "writeBackStatus": "SUCCESS",
        "msg": "签章结果已回写",
    }


def _copy_signed(
    contract: dict[str, Any], body: dict[str, Any]
) -> tuple[documents.Stored | None, str | None]:
    """The signed document fetched from the service, checked against hashValue, copied to S3."""
    from waterrev.settings import get_settings

    try:
        content = _client().fetch_file(body["fileUrl"], max_bytes=get_settings().document_max_bytes)
    except esign.EsignException as exc:
        return None, f"已签文件无法获取：{exc}"[:500]
    digest = hashlib.sha256(content).hexdigest()
    if digest != str(body["hashValue"]).lower():
        return None, "已签文件摘要与 hashValue 不符"
    process_code = contract["file_key"].split("/")[1]
    key = f"installation/{process_code}/signed/{contract['contract_no']}.txt"
    try:
        return documents.store(key, content, "text/plain"), None
    except Exception as exc:  # S3 unavailable: FAIL now, the service calls back again
        return None, f"已签文件保存失败：{type(exc).__name__}"


def _log(uow: UnitOfWork, body: dict[str, Any], outcome: str, reason: str | None) -> None:
    uow.execute(
        "INSERT INTO installation_sign_callback (request_no, sign_status, outcome, reason, body)"
        " VALUES (:r, :s, :o, :why, CAST(:b AS jsonb))",
        {
            "r": body.get("requestNo"),
            "s": body.get("signStatus"),
            "o": outcome,
            "why": reason,
            "b": json.dumps(
                {k: (v.isoformat() if isinstance(v, dt.datetime) else v) for k, v in body.items()},
                ensure_ascii=False,
            ),
        },
    )


def _receipt(body: dict[str, Any], first: dict[str, Any], msg: str) -> dict[str, Any]:
    with UnitOfWork() as uow:
        _log(
            uow,
            body,
            "IGNORE_REPEAT",
            None if first["signature_status"] == body["signStatus"] else "与首次结果不同",
        )
        uow.commit()
    same = first["signature_status"] == body["signStatus"]
    return {
        "signatureId": first["id"],
        "evidenceId": first["evidence_id"],
        "writeBackStatus": "IGNORE_REPEAT",
        "msg": msg
        if same
        else f"{msg}：该请求已回写 {first['signature_status']}，不接受 {body['signStatus']}",
    }


def _failed(body: dict[str, Any], reason: str) -> dict[str, Any]:
    with UnitOfWork() as uow:
        _log(uow, body, "FAIL", reason)
        uow.commit()
    return {"signatureId": None, "evidenceId": None, "writeBackStatus": "FAIL", "msg": f"回写失败：{reason}"}


def exceptions(ctx: RequestContext, page_no: int, page_size: int) -> dict[str, Any]:
    """The callbacks that could not be applied (writeBackStatus FAIL), newest first, for a person: those
    of contracts in the caller's data scope (a callback naming no contract of ours: scope ALL only)."""
    scope = dept_params(ctx)
    where = (
        " FROM installation_sign_callback cb LEFT JOIN installation_contract c ON c.request_no = cb.request_no"
        " LEFT JOIN installation_process p ON p.id = c.process_id WHERE cb.outcome = 'FAIL'"
        " AND (CAST(:all_depts AS boolean) OR p.dept_id = ANY(CAST(:depts AS bigint[])))"
    )
    with UnitOfWork() as uow:
        total = int(uow.scalar("SELECT count(*)" + where, scope))
        rows = uow.all(
            "SELECT cb.id, cb.request_no, cb.sign_status, cb.reason, cb.create_time"
            + where
            + " ORDER BY cb.id DESC LIMIT :l OFFSET :o",
            {**scope, "l": page_size, "o": (page_no - 1) * page_size},
        )
    items = [
        {
            "callbackId": r["id"],
            "requestNo": r["request_no"],
            "signStatus": r["sign_status"],
            "reason": r["reason"],
            "receiveTime": r["create_time"],
        }
        for r in rows
    ]
    return {"list": items, "total": total, "pageNo": page_no, "pageSize": page_size}
