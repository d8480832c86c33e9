"""What every connection-application step shares: the process row under a lock (another office's
application answers exactly as a missing one), a status change through the INSTALL lifecycle with its
trail row, and documents checked against S3 then recorded with their digests."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

from waterrev.adapters import documents
from waterrev.context import RequestContext
from waterrev.db import UnitOfWork
from waterrev.domain.states import INSTALL, INSTALL_NEXT_NODE, InstallStatus
from waterrev.errors import AppError, ErrorCode
from waterrev.installation.commands import Attachment
from waterrev.visibility import dept_visible

PROCESS_TYPE = "INSTALL"
MODULE = "INST-001"


def not_found(process_id: int) -> AppError:
    return AppError(ErrorCode.PROCESS_NOT_FOUND, f"processId={process_id}")


def lock(uow: UnitOfWork, ctx: RequestContext, process_id: int) -> dict[str, Any]:
    """The application (process and form) locked for this step; PROCESS_NOT_FOUND when it does not
    exist or lies outside the caller's data scope."""
    row = uow.one(
        "SELECT p.id, p.code, p.process_status, p.current_node, p.dept_id, a.*"
        " FROM installation_process p JOIN installation_apply a ON a.process_id = p.id"
        " WHERE p.id = :id AND p.process_type = 'INSTALL' FOR UPDATE OF p, a",
        {"id": process_id},
    )
    if row is None or not dept_visible(ctx, row["dept_id"]):
        raise not_found(process_id)
    return row


def move(
    uow: UnitOfWork,
    ctx: RequestContext,
    process: dict[str, Any],
    target: InstallStatus,
    action: str,
    *,
    remark: str | None = None,
    idem_key: str | None = None,
) -> int:
    """Change the status (IllegalTransition, 1_002_007_002, when the lifecycle refuses) and write its
    trail row; returns the transfer id."""
    current = str(process["process_status"])
    INSTALL.require(current, target, f"报装申请 {process['code']}")
    node = INSTALL_NEXT_NODE[target]
    uow.execute(
        "UPDATE installation_process SET process_status = :s, current_node = :n, update_time = now() WHERE id = :id",
        {"s": target, "n": node, "id": process["id"]},
    )
    if target in (InstallStatus.COMPLETED, InstallStatus.REJECTED):
        uow.execute(
            "UPDATE installation_apply SET live = false WHERE process_id = :id", {"id": process["id"]}
        )
    process["process_status"], process["current_node"] = str(target), node
    transfer_id = trail(
        uow, ctx, int(process["id"]), action, current, str(target), remark=remark, idem_key=idem_key
    )
    if current != target:
        notify(uow, process, transfer_id)
    return transfer_id


def notify(uow: UnitOfWork, process: dict[str, Any], transfer_id: int) -> None:
    """The applicant told of the step by SMS, through the message pipeline (outbox -> queue -> SYS-010),
    in the step's transaction; one message per step (messageBizNo INST:<code>:<transferId>)."""
    from waterrev import crypto, messages

    messages.enqueue(
        uow,
        biz_no=f"INST:{process['code']}:{transfer_id}",
        template_code="INSTALL_PROGRESS",
        receiver=str(process["mobile"]),
        sealed=crypto.stored(process, "mobile"),  # sealed at rest; only the delivery opens it
        channel="SMS",
        source="INSTALL",
        cust_id=process.get("cust_id"),
        payload={
            "processCode": process["code"],
            "applicantName": process["applicant_name"],
            "processStatus": process["process_status"],
            "nextNode": process["current_node"],
        },
    )


def trail(
    uow: UnitOfWork,
    ctx: RequestContext,
    process_id: int,
    action: str,
    from_status: str | None,
    to_status: str,
    *,
    remark: str | None = None,
    idem_key: str | None = None,
) -> int:
    return int(
        uow.scalar(
            "INSERT INTO installation_transfer (process_id, action, from_status, to_status, to_node, operator_id,"
            " remark, idem_key) VALUES (:p, :a, :f, :t, :n, :o, :r, :k) RETURNING id",
            {
                "p": process_id,
                "a": action,
                "f": from_status,
                "t": to_status,
                "n": INSTALL_NEXT_NODE[InstallStatus(to_status)],
                "o": ctx.principal.user_id,
                "r": remark,
                "k": idem_key,
            },
        )
    )


class Checked(NamedTuple):
    attachment: Attachment
    stored: documents.Stored | None
    problem: str | None


def check(attachments: Sequence[Attachment]) -> list[Checked]:
    """Each attachment's object read back from S3 and compared with what was declared (outside any
    transaction: it reads the objects)."""
    from waterrev.settings import get_settings

    limit = get_settings().document_max_bytes
    out = []
    for a in attachments:
        try:
            stored = documents.verify(
                a.file_key, sha256=a.sha256, size=a.file_size, content_type=a.file_type, max_bytes=limit
            )
            out.append(Checked(a, stored, None))
        except documents.DocumentProblem as exc:
            out.append(Checked(a, None, str(exc)))
    return out


def require_all(checked: Sequence[Checked]) -> list[Checked]:
    """Every attachment good, or a 400 naming the first one that is not."""
    for index, c in enumerate(checked):
        if c.problem:
            raise AppError(
                ErrorCode.BAD_REQUEST, f"attachmentList[{index}]: {c.attachment.file_name}：{c.problem}"
            )
    return list(checked)


def record(
    uow: UnitOfWork,
    process_id: int,
    category: str,
    file_name: str,
    stored: documents.Stored,
    batch_no: str | None = None,
) -> bool:
    """One document of the process with its digest; False when the same content was already recorded
    under the category (an idempotent repeat)."""
    added = uow.scalar(
        "INSERT INTO installation_document (process_id, category, file_name, file_key, content_type, file_size,"
        " sha256, archive_batch_no) VALUES (:p, :c, :n, :k, :t, :s, :h, :b)"
        " ON CONFLICT (process_id, category, sha256) DO NOTHING RETURNING id",
        {
            "p": process_id,
            "c": category,
            "n": file_name,
            "k": stored.key,
            "t": stored.content_type,
            "s": stored.size,
            "h": stored.sha256,
            "b": batch_no,
        },
    )
    return added is not None


def next_no(uow: UnitOfWork, prefix: str) -> str:
    from waterrev import clock

    n = int(uow.scalar("SELECT nextval('installation_no_seq')"))
    return f"{prefix}{clock.today():%Y%m%d}{n:08d}"
