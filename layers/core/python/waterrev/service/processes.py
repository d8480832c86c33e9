"""IF-CS-006 业务办理: a bound customer applies online (CREATE), follows it (QUERY) and supplements when
asked (SUPPLEMENT); the back office accepts, transfers, asks for a supplement, approves or rejects; on
approval the change really happens. The PROCESS lifecycle decides which status may follow which.

- Attachments go straight to S3 through a presigned POST (`upload_link`); when an application or a
  supplement names one, the object is read back outside any transaction and must have the declared size,
  type and SHA-256 before it is linked (biz_content_attach).
- Idempotency: one live application per customer and type (a unique index); a CREATE with the same
  content (type, applyData, attachments: `submit_digest`) answers the live application, a different one
  1_002_007_002. A supplement is keyed by the seed's processId + action + attachmentDigest (a unique index
  on the trail): the same supplement again changes nothing. A finished application refuses supplements
  with its terminal state.
- Every step is a biz_process_transfer row (the trail), an audit row and a notice to the customer's
  reserved mobile through the message pipeline (waterrev.messages, template PROCESS_PROGRESS, keyed by
  the process code and step number), all in the step's transaction.
- Approval applies the change in the same transaction: 更名 / 过户 / 联系方式变更 / 一户多人口 / 低保 change
  the customer master (customers.changes, audited), 开票方式变更 the invoice profile (invoices.profile),
  自主抄表 records the reading through IF-REV-004's rules (metering.self_reading), 换表申请 opens a meter
  work order (meters.work_orders) and the application waits at node WORK_ORDER until the order is done
  (`work_order_finished`, passed to IF-METER-002 as its on_finish port).
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from decimal import Decimal
from typing import Any

from waterrev import audit, crypto, messages
from waterrev.context import RequestContext, UserType
from waterrev.customers import changes
from waterrev.db import UnitOfWork
from waterrev.domain.states import PROCESS, ProcessStatus
from waterrev.envelope import page
from waterrev.errors import AppError, ErrorCode
from waterrev.invoices import profile
from waterrev.masking import mask_any
from waterrev.metering import self_reading
from waterrev.meters import work_orders
from waterrev.service import rules
from waterrev.service.commands import AttachmentLink, HandleProcess, ProcessAction, ProcessFilter
from waterrev.settings import get_settings
from waterrev.visibility import customer_scope, customer_visible, require_customer_visible

MODULE = "CS-006"
TEMPLATE = "PROCESS_PROGRESS"
CONTENT_TYPES = frozenset({"image/jpeg", "image/png", "application/pdf"})
LIVE = (ProcessStatus.INIT, ProcessStatus.ACCEPTED, ProcessStatus.PROCESSING)
ACTION_NAMES = {
    "CREATE": "提交申请",
    "SUPPLEMENT": "补充资料",
    "ACCEPT": "受理",
    "TRANSFER": "转办",
    "ASK_SUPPLEMENT": "要求补件",
    "APPROVE": "审批通过",
    "WORK_ORDER": "表务工单",
    "DONE": "办结",
    "REJECT": "驳回",
}


# ---------------------------------------------------------------------------- attachments ----
def upload_link(ctx: RequestContext, cmd: AttachmentLink) -> dict[str, Any]:
    """A presigned POST for one attachment of the customer's; the declaration is recorded PENDING."""
    from waterrev.adapters import attachments

    settings = get_settings()
    if cmd.content_type not in CONTENT_TYPES:
        raise AppError(ErrorCode.BAD_REQUEST, f"contentType: 仅支持 {'、'.join(sorted(CONTENT_TYPES))}")
    if cmd.file_size > settings.attachment_max_bytes:
        raise AppError(ErrorCode.BAD_REQUEST, f"fileSize: 不能超过 {settings.attachment_max_bytes} 字节")
    if not rules.is_sha256(cmd.sha256):
        raise AppError(ErrorCode.BAD_REQUEST, "sha256: 须为 64 位小写十六进制 SHA-256")
    ttl = settings.attachment_upload_ttl_s
    expires = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=ttl)
    key = f"{attachments.PREFIX}{cmd.cust_id}/{uuid.uuid4().hex}"
    with UnitOfWork() as uow:
        require_customer_visible(uow, ctx, cmd.cust_id)
        uow.execute(
            "INSERT INTO biz_content_attach (file_key, cust_id, file_name, content_type, file_size, sha256,"
            " expire_time) VALUES (:k, :c, :n, :t, :s, :h, :e)",
            {
                "k": key,
                "c": cmd.cust_id,
                "n": cmd.file_name,
                "t": cmd.content_type,
                "s": cmd.file_size,
                "h": cmd.sha256,
                "e": expires,
            },
        )
        uow.commit()
    form = attachments.upload_form(key, cmd.content_type, cmd.file_size, ttl)
    return {
        "attachmentId": key,
        "uploadUrl": form["url"],
        "formFields": form["fields"],
        "expireTime": expires,
        "maxBytes": cmd.file_size,
        "msg": f"请在 {ttl // 60} 分钟内以 multipart/form-data POST 上传（先附 formFields，最后附 file）",
    }


def _attachments(
    ctx: RequestContext, cust_id: int, keys: tuple[str, ...], process_id: int | None = None
) -> list[dict[str, Any]]:
    """The named attachments of this customer, each checked against what S3 holds (outside any
    transaction); PENDING ones that pass are marked UPLOADED. A key of another customer answers as an
    unknown one."""
    from waterrev.adapters import attachments

    if not keys:
        return []
    if len(set(keys)) != len(keys):
        raise AppError(ErrorCode.BAD_REQUEST, "attachmentList: 附件重复")
    with UnitOfWork() as uow:
        rows = uow.all(
            "SELECT * FROM biz_content_attach WHERE file_key = ANY(CAST(:k AS varchar[])) AND cust_id = :c",
            {"k": list(keys), "c": cust_id},
        )
    found = {r["file_key"]: r for r in rows}
    missing = [k for k in keys if k not in found]
    if missing:
        raise AppError(ErrorCode.BAD_REQUEST, f"attachmentList: 附件 {missing[0]} 不存在")
    used = [k for k in keys if found[k]["process_id"] not in (None, process_id)]
    if used:
        raise AppError(
            ErrorCode.BAD_REQUEST, f"attachmentList: 附件 {found[used[0]]['file_name']} 已用于其他办理单"
        )
    now = dt.datetime.now(dt.UTC)
    checked: list[str] = []
    for key in keys:
        row = found[key]
        if row["status"] == "UPLOADED":
            continue
        stored = attachments.inspect(key, get_settings().attachment_max_bytes)
        if stored is None:
            late = "，上传链接已过期" if row["expire_time"] < now else ""
            raise AppError(ErrorCode.BAD_REQUEST, f"attachmentList: 附件 {row['file_name']} 尚未上传{late}")
        if stored.size != row["file_size"] or stored.content_type != row["content_type"]:
            raise AppError(
                ErrorCode.BAD_REQUEST,
                f"attachmentList: 附件 {row['file_name']} 的大小或类型与申报不符",
            )
        if stored.sha256 != row["sha256"]:
            raise AppError(ErrorCode.BAD_REQUEST, f"attachmentList: 附件 {row['file_name']} 的摘要与申报不符")
        checked.append(key)
    if checked:
        with UnitOfWork() as uow:
            uow.execute(
                "UPDATE biz_content_attach SET status = 'UPLOADED', uploaded_time = now()"
                " WHERE file_key = ANY(CAST(:k AS varchar[])) AND status = 'PENDING'",
                {"k": checked},
            )
            uow.commit()
    return [found[k] for k in keys]


# ------------------------------------------------------------------------------- replies -----
def _reply(uow: UnitOfWork, proc: dict[str, Any], msg: str) -> dict[str, Any]:
    trail = uow.all(
        "SELECT * FROM biz_process_transfer WHERE process_id = :p ORDER BY step_no", {"p": proc["id"]}
    )
    files = uow.all(
        "SELECT file_key, file_name, content_type, file_size, sha256, uploaded_time FROM biz_content_attach"
        " WHERE process_id = :p ORDER BY id",
        {"p": proc["id"]},
    )
    data = uow.scalar("SELECT apply_data FROM biz_business_datas WHERE process_id = :p", {"p": proc["id"]})
    type_name = uow.scalar(
        "SELECT name FROM biz_business_types WHERE code = :c", {"c": proc["business_type_code"]}
    )
    return {
        "processId": proc["id"],
        "processCode": proc["code"],
        "processStatus": proc["status"],
        "currentNode": proc["current_node"],
        "transferList": [
            {
                "stepNo": t["step_no"],
                "action": t["action"],
                "actionName": ACTION_NAMES.get(t["action"], t["action"]),
                "fromStatus": t["from_status"],
                "toStatus": t["to_status"],
                "fromNode": t["from_node"],
                "toNode": t["to_node"],
                "operatorType": t["operator_type"],
                "remark": t["remark"],
                "createTime": t["create_time"],
            }
            for t in trail
        ],
        "attachmentRequired": proc["attachment_required"],
        "msg": msg,
        "currentNodeName": rules.NODE_NAMES.get(proc["current_node"], proc["current_node"]),
        "businessTypeCode": proc["business_type_code"],
        "businessTypeName": type_name,
        "custId": proc["cust_id"],
        "applyData": _shown_data(data or {}),
        "attachments": [
            {
                "attachmentId": f["file_key"],
                "fileName": f["file_name"],
                "contentType": f["content_type"],
                "fileSize": f["file_size"],
                "sha256": f["sha256"],
                "uploadedTime": f["uploaded_time"],
            }
            for f in files
        ],
        "workOrderNo": proc["work_order_no"],
        "resultMsg": proc["result_msg"],
        "createTime": proc["create_time"],
        "finishTime": proc["finish_time"],
    }


# ID numbers and mobiles in applyData are kept as every one is (waterrev.crypto.seal_fields): the field
# masked, the value sealed beside it (`<field>Sealed`), never shown; digests take their blind indexes.
_SEALED_FIELDS = {"mobile": crypto.MOBILE, "idNo": crypto.ID_NO}


def _sealed_data(keys: crypto.Keys, data: dict[str, Any]) -> dict[str, Any]:
    return crypto.seal_fields(keys, data, _SEALED_FIELDS)


def _indexed_data(keys: crypto.Keys, data: dict[str, Any]) -> dict[str, Any]:
    return {
        k: keys.pii_index(_SEALED_FIELDS[k], str(v)) if k in _SEALED_FIELDS and v else v
        for k, v in data.items()
    }


def _opened_data(keys: crypto.Keys, data: dict[str, Any]) -> dict[str, Any]:
    return crypto.open_fields(keys, data, _SEALED_FIELDS)


def _shown_data(data: dict[str, Any]) -> dict[str, Any]:
    return mask_any({k: v for k, v in data.items() if not k.endswith(crypto.SEALED_SUFFIX)})


def _locked(uow: UnitOfWork, ctx: RequestContext, process_id: int) -> dict[str, Any]:
    """The application, locked, if the caller may see its customer; otherwise exactly as a missing one."""
    proc = uow.one("SELECT * FROM biz_process WHERE id = :p FOR UPDATE", {"p": process_id})
    if proc is None or not customer_visible(uow, ctx, proc["cust_id"]):
        raise AppError(ErrorCode.PROCESS_NOT_FOUND, f"processId={process_id}")
    return proc


def _notify(uow: UnitOfWork, proc: dict[str, Any], step_no: int, action: str, remark: str | None) -> None:
    """The customer's notice of a step, to its reserved mobile (as it is now: after a contact change the
    new one), through the message pipeline; a customer without a mobile gets none."""
    cust = uow.one(
        "SELECT mobile, mobile_cipher, mobile_index FROM biz_cust WHERE id = :c", {"c": proc["cust_id"]}
    )
    if not cust or not cust["mobile"] or cust["mobile_cipher"] is None:
        return
    type_name = uow.scalar(
        "SELECT name FROM biz_business_types WHERE code = :c", {"c": proc["business_type_code"]}
    )
    messages.enqueue(
        uow,
        biz_no=f"{proc['code']}-{step_no}",
        template_code=TEMPLATE,
        receiver=cust["mobile"],
        sealed=crypto.stored(cust, "mobile"),
        channel="SMS",
        source="PROCESS",
        cust_id=proc["cust_id"],
        payload={
            "processCode": proc["code"],
            "businessTypeName": type_name,
            "processStatus": proc["status"],
            "nodeName": rules.NODE_NAMES.get(proc["current_node"], proc["current_node"]),
            "actionName": ACTION_NAMES.get(action, action),
            "remark": remark or "",
        },
    )


def _step(
    uow: UnitOfWork,
    ctx: RequestContext,
    proc: dict[str, Any],
    action: str,
    *,
    status: str,
    node: str,
    remark: str | None = None,
    digest: str | None = None,
    to_handler_id: int | None = None,
    attachment_required: bool | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any] | None:
    """Record one step (trail, process row, notice, audit); None if this step (same action and digest) is
    already on the trail. The process row is locked by the caller."""
    if status != proc["status"]:
        PROCESS.require(proc["status"], status, subject=f"业务办理单 {proc['code']}")
    step_no = proc["step_no"] + 1
    p = ctx.principal
    written = uow.scalar(
        "INSERT INTO biz_process_transfer (process_id, step_no, action, from_status, to_status, from_node, to_node,"
        " attachment_digest, operator_type, operator_id, operator_name, to_handler_id, remark) VALUES"
        " (:p, :n, :a, :fs, :ts, :fn, :tn, :d, :ot, :oi, :on, :h, :r)"
        " ON CONFLICT (process_id, action, attachment_digest) WHERE attachment_digest IS NOT NULL DO NOTHING"
        " RETURNING id",
        {
            "p": proc["id"],
            "n": step_no,
            "a": action,
            "fs": proc["status"],
            "ts": status,
            "fn": proc["current_node"],
            "tn": node,
            "d": digest,
            "ot": p.user_type.value,
            "oi": p.user_id,
            "on": (p.name or "")[:64] if p.user_type is not UserType.MEMBER else None,
            "h": to_handler_id,
            "r": remark,
        },
    )
    if written is None:
        return None
    sets = {
        "status": status,
        "current_node": node,
        "step_no": step_no,
        **({"attachment_required": attachment_required} if attachment_required is not None else {}),
        **(extra or {}),
    }
    if status in (ProcessStatus.DONE, ProcessStatus.REJECTED):
        sets["finish_time"] = dt.datetime.now(dt.UTC)
    assignments = ", ".join(f"{k} = :{k}" for k in sets)
    updated = uow.one(
        f"UPDATE biz_process SET {assignments}, update_time = now() WHERE id = :pid RETURNING *",
        {**sets, "pid": proc["id"]},
    )
    assert updated is not None
    _notify(uow, updated, step_no, action, remark)
    audit.record(
        uow,
        ctx,
        module=MODULE,
        operation=f"PROCESS_{action}",
        object_type="biz_process",
        object_id=proc["id"],
        before={"status": proc["status"], "currentNode": proc["current_node"]},
        after={"status": status, "currentNode": node, "stepNo": step_no, "remark": remark},
    )
    return updated


# ------------------------------------------------------------------------ customer side ------
def act(ctx: RequestContext, cmd: ProcessAction) -> dict[str, Any]:
    if cmd.action == "CREATE":
        if cmd.process_id is not None:
            raise AppError(ErrorCode.BAD_REQUEST, "processId: CREATE 不带办理流程 ID（查询、补件时使用）")
        return create(ctx, cmd)
    if cmd.process_id is None:
        raise AppError(ErrorCode.BAD_REQUEST, "processId: QUERY、SUPPLEMENT 须提供办理流程 ID")
    if cmd.action == "QUERY":
        return query(ctx, cmd.process_id, cmd.cust_id)
    return supplement(ctx, cmd)


def _check_meter(uow: UnitOfWork, cust_id: int, data: dict[str, Any]) -> None:
    if "meterId" in data:
        serving = uow.scalar(
            "SELECT 1 FROM biz_cust_meter WHERE cust_id = :c AND meter_id = :m AND status = 'ACTIVE'",
            {"c": cust_id, "m": data["meterId"]},
        )
        if serving is None:
            raise AppError(
                ErrorCode.BAD_REQUEST, f"applyData.meterId: 水表 {data['meterId']} 不是该客户的在用水表"
            )


def create(ctx: RequestContext, cmd: ProcessAction) -> dict[str, Any]:
    if cmd.cust_id is None or not cmd.business_type_code:
        raise AppError(ErrorCode.BAD_REQUEST, "custId、businessTypeCode: CREATE 须提供")
    with UnitOfWork() as uow:
        require_customer_visible(uow, ctx, cmd.cust_id, active=True)
        btype = uow.one(
            "SELECT * FROM biz_business_types WHERE code = :c AND status = 'ENABLED' AND online",
            {"c": cmd.business_type_code},
        )
    if btype is None:
        raise AppError(ErrorCode.BAD_REQUEST, f"businessTypeCode: {cmd.business_type_code} 不可线上办理")
    try:
        data = rules.normalize_apply_data(cmd.business_type_code, cmd.apply_data or {})
    except rules.ApplyDataError as exc:
        raise AppError(ErrorCode.BAD_REQUEST, str(exc)) from None
    files = _attachments(ctx, cmd.cust_id, cmd.attachment_list)
    if len(files) < btype["min_attachments"]:
        raise AppError(
            ErrorCode.BAD_REQUEST,
            f"attachmentList: {btype['name']}须至少提供 {btype['min_attachments']} 个附件",
        )
    shas = [f["sha256"] for f in files]
    with UnitOfWork() as uow:
        keys = crypto.keys(uow.conn)
        digest = rules.submit_digest(cmd.business_type_code, _indexed_data(keys, data), shas)
        _check_meter(uow, cmd.cust_id, data)
        seq = int(uow.scalar("SELECT nextval('biz_process_code_seq')"))
        code = f"YW{dt.datetime.now(dt.UTC):%Y%m%d}{seq:06d}"
        p = ctx.principal
        proc = uow.one(
            "INSERT INTO biz_process (code, business_type_code, cust_id, status, current_node, submit_digest,"
            " channel_type, channel_user_id, step_no) VALUES (:code, :t, :c, 'INIT', :node, :d, :ct, :cu, 0)"
            " ON CONFLICT (cust_id, business_type_code) WHERE status IN ('INIT', 'ACCEPTED', 'PROCESSING')"
            " DO NOTHING RETURNING *",
            {
                "code": code,
                "t": cmd.business_type_code,
                "c": cmd.cust_id,
                "node": rules.NODE_SUBMITTED,
                "d": digest,
                "ct": p.channel_type,
                "cu": p.channel_user_id,
            },
        )
        if proc is None:
            live = uow.one(
                "SELECT * FROM biz_process WHERE cust_id = :c AND business_type_code = :t"
                " AND status IN ('INIT', 'ACCEPTED', 'PROCESSING')",
                {"c": cmd.cust_id, "t": cmd.business_type_code},
            )
            if live is None:  # it ended in between: the caller may submit again
                raise AppError(ErrorCode.CONFLICT, "同类业务办理单刚刚办结，请重新提交")
            if live["submit_digest"] == digest:
                return _reply(uow, live, "重复提交：返回已受理的办理单")
            raise AppError(
                ErrorCode.PROCESS_NODE_NOT_ALLOWED,
                f"已有在办的{btype['name']}业务 {live['code']}（{live['status']}）",
                data={
                    "processId": live["id"],
                    "processStatus": live["status"],
                    "currentNode": live["current_node"],
                },
            )
        uow.execute(
            "INSERT INTO biz_business_datas (process_id, apply_data) VALUES (:p, CAST(:d AS jsonb))",
            {"p": proc["id"], "d": json.dumps(_sealed_data(keys, data), ensure_ascii=False)},
        )
        if files:
            uow.execute(
                "UPDATE biz_content_attach SET process_id = :p WHERE id = ANY(CAST(:ids AS bigint[]))"
                " AND process_id IS NULL",
                {"p": proc["id"], "ids": [f["id"] for f in files]},
            )
        proc = {**proc, "status": "INIT", "current_node": rules.NODE_SUBMITTED}
        stepped = _step(
            uow,
            ctx,
            {**proc, "status": ProcessStatus.INIT, "current_node": None},
            "CREATE",
            status=ProcessStatus.INIT,
            node=rules.NODE_SUBMITTED,
            digest=rules.attachment_digest(shas),
            remark=cmd.remark,
        )
        assert stepped is not None
        reply = _reply(uow, stepped, "已提交，等待受理")
        uow.commit()
    return reply


def query(ctx: RequestContext, process_id: int, cust_id: int | None = None) -> dict[str, Any]:
    """An application the caller may see (and, when custId is given, of that customer)."""
    with UnitOfWork() as uow:
        proc = uow.one("SELECT * FROM biz_process WHERE id = :p", {"p": process_id})
        if (
            proc is None
            or cust_id not in (None, proc["cust_id"])
            or not customer_visible(uow, ctx, proc["cust_id"])
        ):
            raise AppError(ErrorCode.PROCESS_NOT_FOUND, f"processId={process_id}")
        return _reply(uow, proc, rules.NODE_NAMES.get(proc["current_node"], proc["current_node"]))


def supplement(ctx: RequestContext, cmd: ProcessAction) -> dict[str, Any]:
    assert cmd.process_id is not None
    with UnitOfWork() as uow:
        proc = uow.one("SELECT * FROM biz_process WHERE id = :p", {"p": cmd.process_id})
        if proc is None or not customer_visible(uow, ctx, proc["cust_id"]):
            raise AppError(ErrorCode.PROCESS_NOT_FOUND, f"processId={cmd.process_id}")
        cust_id = proc["cust_id"]
    if cmd.cust_id is not None and cmd.cust_id != cust_id:
        raise AppError(ErrorCode.PROCESS_NOT_FOUND, f"processId={cmd.process_id}")
    data = None
    if cmd.apply_data:
        try:
            data = rules.normalize_apply_data(proc["business_type_code"], cmd.apply_data)
        except rules.ApplyDataError as exc:
            raise AppError(ErrorCode.BAD_REQUEST, str(exc)) from None
    files = _attachments(ctx, cust_id, cmd.attachment_list, proc["id"])
    if not files and data is None:
        raise AppError(ErrorCode.BAD_REQUEST, "attachmentList: 补件须提供附件或更正的 applyData")
    shas = [f["sha256"] for f in files]
    with UnitOfWork() as uow:
        keys = crypto.keys(uow.conn)
        if (
            data is not None
        ):  # corrected fields count in the digest: a different correction is a new supplement
            shas.append(rules.submit_digest(proc["business_type_code"], _indexed_data(keys, data), []))
        digest = rules.attachment_digest(shas)
        proc = _locked(uow, ctx, cmd.process_id)
        if PROCESS.is_terminal(proc["status"]):
            raise AppError(
                ErrorCode.PROCESS_NODE_NOT_ALLOWED,
                f"办理单 {proc['code']} 已{'办结' if proc['status'] == ProcessStatus.DONE else '驳回'}，不能补件",
                data={"processStatus": proc["status"], "currentNode": proc["current_node"]},
            )
        repeat = uow.scalar(
            "SELECT 1 FROM biz_process_transfer WHERE process_id = :p AND action = 'SUPPLEMENT'"
            " AND attachment_digest = :d",
            {"p": proc["id"], "d": digest},
        )
        if repeat:
            return _reply(uow, proc, "相同补件已提交，未重复处理")
        if not proc["attachment_required"] and proc["status"] != ProcessStatus.INIT:
            raise AppError(
                ErrorCode.PROCESS_NODE_NOT_ALLOWED,
                f"办理单 {proc['code']} 当前节点 {rules.NODE_NAMES.get(proc['current_node'])} 不需要补件",
                data={"processStatus": proc["status"], "currentNode": proc["current_node"]},
            )
        if files:
            uow.execute(
                "UPDATE biz_content_attach SET process_id = :p WHERE id = ANY(CAST(:ids AS bigint[]))"
                " AND (process_id IS NULL OR process_id = :p)",
                {"p": proc["id"], "ids": [f["id"] for f in files]},
            )
        if data is not None:
            uow.execute(
                "UPDATE biz_business_datas SET apply_data = apply_data || CAST(:d AS jsonb), update_time = now()"
                " WHERE process_id = :p",
                {"p": proc["id"], "d": json.dumps(_sealed_data(keys, data), ensure_ascii=False)},
            )
        node = rules.NODE_SUBMITTED if proc["status"] == ProcessStatus.INIT else rules.NODE_HANDLING
        stepped = _step(
            uow,
            ctx,
            proc,
            "SUPPLEMENT",
            status=proc["status"],
            node=node,
            digest=digest,
            remark=cmd.remark,
            attachment_required=False,
        )
        if stepped is None:  # a concurrent twin of this supplement got there first
            return _reply(uow, proc, "相同补件已提交，未重复处理")
        reply = _reply(uow, stepped, "补件已提交")
        uow.commit()
    return reply


def customer_page(ctx: RequestContext, cust_id: int, page_no: int, page_size: int) -> dict[str, Any]:
    """扩展: a bound customer's applications, newest first."""
    with UnitOfWork() as uow:
        require_customer_visible(uow, ctx, cust_id)
        total = int(uow.scalar("SELECT count(*) FROM biz_process WHERE cust_id = :c", {"c": cust_id}))
        rows = uow.all(
            "SELECT * FROM biz_process WHERE cust_id = :c ORDER BY id DESC LIMIT :l OFFSET :o",
            {"c": cust_id, "l": page_size, "o": (page_no - 1) * page_size},
        )
        items = [_reply(uow, r, rules.NODE_NAMES.get(r["current_node"], r["current_node"])) for r in rows]
    return page(items, total, page_no, page_size)


# ------------------------------------------------------------------------ back office ------
def _apply(uow: UnitOfWork, ctx: RequestContext, proc: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """Make the approved change; (what happened, columns of biz_process to set)."""
    data: dict[str, Any] = _opened_data(  # the new mobile or ID number itself: sealed again where it goes
        crypto.keys(uow.conn),
        uow.scalar("SELECT apply_data FROM biz_business_datas WHERE process_id = :p", {"p": proc["id"]})
        or {},
    )
    kind, cust_id, ref = proc["business_type_code"], proc["cust_id"], proc["code"]
    if kind == rules.RENAME:
        changes.rename(uow, ctx, cust_id, data["newName"], ref)
        return f"客户名称已变更为 {data['newName']}", {}
    if kind == rules.TRANSFER:
        ended = changes.transfer_owner(
            uow,
            ctx,
            cust_id,
            name=data["newName"],
            id_type=data["idType"],
            id_no=data["idNo"],
            mobile=data["mobile"],
            reference=ref,
        )
        return f"已过户至 {data['newName']}，原绑定 {ended} 个已解除", {}
    if kind == rules.CONTACT_CHANGE:
        changes.change_contact(uow, ctx, cust_id, data["mobile"], data.get("contactName"), ref)
        return "预留手机号已变更", {}
    if kind == rules.INVOICE_CHANGE:
        profile.update_profile(uow, ctx, cust_id, data, ref)
        return "开票信息已变更", {}
    if kind == rules.POPULATION:
        changes.set_population(uow, ctx, cust_id, int(data["population"]), ref)
        return f"用水人口已登记为 {data['population']} 人，自下次出账起按人口调整阶梯", {}
    if kind == rules.LOW_INCOME:
        changes.set_low_income(uow, ctx, cust_id, ref)
        return "已登记为低保户", {}
    if kind == rules.SELF_READING:
        read_time = (
            dt.datetime.fromisoformat(data["readTime"]) if data.get("readTime") else dt.datetime.now(dt.UTC)
        )
        reading = self_reading.submit_self_reading(
            uow, ctx, cust_id, int(data["meterId"]), Decimal(data["currentReading"]), read_time, ref
        )
        return f"自报读数已入账：用量 {reading['usageAmount']}（{reading['validateStatus']}）", {}
    if kind == rules.METER_CHANGE:
        _check_meter(uow, cust_id, data)
        order = work_orders.open_order(
            uow,
            ctx,
            order_type="CHANGE",
            meter_id=int(data["meterId"]),
            reason=f"{ref} 客户申请换表：{data.get('reason') or ''}"[:255],
            process_id=proc["id"],
        )
        return f"已生成换表工单 {order['order_no']}", {"work_order_no": order["order_no"]}
    raise AppError(ErrorCode.BAD_REQUEST, f"businessTypeCode: 不支持的业务类型 {kind}")


def handle(ctx: RequestContext, cmd: HandleProcess) -> dict[str, Any]:
    with UnitOfWork() as uow:
        proc = _locked(uow, ctx, cmd.process_id)
        status = proc["status"]
        if PROCESS.is_terminal(status):
            raise AppError(
                ErrorCode.PROCESS_NODE_NOT_ALLOWED,
                f"办理单 {proc['code']} 已是终态 {status}",
                data={"processStatus": status, "currentNode": proc["current_node"]},
            )
        if proc["current_node"] == rules.NODE_WORK_ORDER and cmd.action != "REJECT":
            raise AppError(
                ErrorCode.PROCESS_NODE_NOT_ALLOWED,
                f"办理单 {proc['code']} 正等待表务工单 {proc['work_order_no']} 完成",
                data={"processStatus": status, "currentNode": proc["current_node"]},
            )
        msg = ACTION_NAMES[cmd.action]
        stepped: dict[str, Any] | None
        if cmd.action == "ACCEPT":
            PROCESS.require(status, ProcessStatus.ACCEPTED, subject=f"业务办理单 {proc['code']}")
            stepped = _step(
                uow,
                ctx,
                proc,
                "ACCEPT",
                status=ProcessStatus.ACCEPTED,
                node=rules.NODE_HANDLING,
                remark=cmd.remark,
                extra={"handler_id": ctx.principal.user_id},
            )
        elif cmd.action == "TRANSFER":
            if not uow.scalar("SELECT 1 FROM system_users WHERE id = :u", {"u": cmd.to_handler_id}):
                raise AppError(ErrorCode.BAD_REQUEST, f"toHandlerId: 用户 {cmd.to_handler_id} 不存在")
            if status == ProcessStatus.INIT:
                PROCESS.require(status, ProcessStatus.PROCESSING, subject=f"业务办理单 {proc['code']}")
            stepped = _step(
                uow,
                ctx,
                proc,
                "TRANSFER",
                status=ProcessStatus.PROCESSING,
                node=rules.NODE_HANDLING,
                remark=cmd.remark,
                to_handler_id=cmd.to_handler_id,
                extra={"handler_id": cmd.to_handler_id},
            )
        elif cmd.action == "ASK_SUPPLEMENT":
            stepped = _step(
                uow,
                ctx,
                proc,
                "ASK_SUPPLEMENT",
                status=status,
                node=rules.NODE_SUPPLEMENT,
                remark=cmd.remark,
                attachment_required=True,
            )
        elif cmd.action == "REJECT":
            if proc["current_node"] == rules.NODE_WORK_ORDER:
                raise AppError(
                    ErrorCode.PROCESS_NODE_NOT_ALLOWED,
                    f"办理单 {proc['code']} 的表务工单 {proc['work_order_no']} 在办：请先取消工单",
                    data={"processStatus": status, "currentNode": proc["current_node"]},
                )
            stepped = _step(
                uow,
                ctx,
                proc,
                "REJECT",
                status=ProcessStatus.REJECTED,
                node=rules.NODE_REJECTED,
                remark=cmd.remark,
                extra={"result_msg": (cmd.remark or "")[:255]},
            )
        else:  # APPROVE
            if status == ProcessStatus.INIT:
                PROCESS.require(status, ProcessStatus.PROCESSING, subject=f"业务办理单 {proc['code']}")
            if proc["attachment_required"]:
                raise AppError(
                    ErrorCode.PROCESS_NODE_NOT_ALLOWED,
                    f"办理单 {proc['code']} 等待客户补件，不能审批",
                    data={"processStatus": status, "currentNode": proc["current_node"]},
                )
            # the change first: a self reading refused by IF-REV-004's rules leaves the application as it was
            msg, extra = _apply(uow, ctx, proc)
            if status == ProcessStatus.ACCEPTED:
                proc = (
                    _step(
                        uow,
                        ctx,
                        proc,
                        "APPROVE",
                        status=ProcessStatus.PROCESSING,
                        node=rules.NODE_HANDLING,
                        remark=cmd.remark,
                    )
                    or proc
                )
            if proc["business_type_code"] == rules.METER_CHANGE:
                stepped = _step(
                    uow,
                    ctx,
                    proc,
                    "WORK_ORDER",
                    status=ProcessStatus.PROCESSING,
                    node=rules.NODE_WORK_ORDER,
                    remark=msg,
                    extra={**extra, "result_msg": msg[:255]},
                )
            else:
                stepped = _step(
                    uow,
                    ctx,
                    proc,
                    "DONE",
                    status=ProcessStatus.DONE,
                    node=rules.NODE_DONE,
                    remark=msg,
                    extra={**extra, "result_msg": msg[:255]},
                )
        assert stepped is not None
        reply = _reply(uow, stepped, msg)
        uow.commit()
    return reply


def work_order_finished(uow: UnitOfWork, ctx: RequestContext, order: dict[str, Any]) -> None:
    """IF-METER-002's on_finish port: the application of a finished meter-change order is done; of a
    cancelled one, back with its handler (who may reject it or approve again for a new order)."""
    if order["process_id"] is None:
        return
    proc = uow.one("SELECT * FROM biz_process WHERE id = :p FOR UPDATE", {"p": order["process_id"]})
    if proc is None or proc["current_node"] != rules.NODE_WORK_ORDER:
        return
    if order["status"] == "DONE":
        new_no = uow.scalar("SELECT meter_no FROM biz_meter WHERE id = :m", {"m": order["new_meter_id"]})
        msg = f"换表完成：新表 {new_no} 已启用"
        _step(
            uow,
            ctx,
            proc,
            "DONE",
            status=ProcessStatus.DONE,
            node=rules.NODE_DONE,
            remark=msg,
            extra={"result_msg": msg},
        )
    else:
        _step(
            uow,
            ctx,
            proc,
            "WORK_ORDER",
            status=ProcessStatus.PROCESSING,
            node=rules.NODE_HANDLING,
            remark=f"表务工单 {order['order_no']} 已取消",
            extra={"work_order_no": None},
        )


def admin_page(ctx: RequestContext, f: ProcessFilter) -> dict[str, Any]:
    scope, params = customer_scope(ctx)
    where = (
        f"{scope} AND (CAST(:c AS bigint) IS NULL OR p.cust_id = :c)"
        " AND (CAST(:s AS varchar) IS NULL OR p.status = :s) AND (CAST(:t AS varchar) IS NULL OR p.business_type_code = :t)"
    )
    params = {**params, "c": f.cust_id, "s": f.status, "t": f.business_type_code}
    with UnitOfWork() as uow:
        total = int(
            uow.scalar(
                f"SELECT count(*) FROM biz_process p JOIN biz_cust c ON c.id = p.cust_id WHERE {where}",
                params,
            )
        )
        rows = uow.all(
            f"SELECT p.* FROM biz_process p JOIN biz_cust c ON c.id = p.cust_id WHERE {where}"
            " ORDER BY p.id DESC LIMIT :l OFFSET :o",
            {**params, "l": f.page_size, "o": (f.page_no - 1) * f.page_size},
        )
        items = [_reply(uow, r, rules.NODE_NAMES.get(r["current_node"], r["current_node"])) for r in rows]
    return page(items, total, f.page_no, f.page_size)
