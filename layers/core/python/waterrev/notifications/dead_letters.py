"""What the pipeline could not deliver or match, for a person (IF-REV-013, our addition): list the open
exceptions and replay them after a fix (or dismiss them).

REPLAY puts a dead message back in the outbox (dispatch NEW): the relay sends it again, the consumer
delivers it once (it is still PENDING and no other copy holds it), and the sweep deletes its stale
dead-letter copy. DISMISS gives up on it: the message ends FAIL (a person's explicit failure), its
reminder task follows, and the sweep deletes the copy. A result callback for a message we never sent can
only be dismissed. One transaction per decision, under the exception's row lock; the same decision again
answers the stored one (`replay: true`), another decision on a resolved exception is a 409.
"""

from __future__ import annotations

from typing import Any

from waterrev import audit
from waterrev.context import RequestContext, UserType
from waterrev.db import UnitOfWork
from waterrev.domain.states import (
    MESSAGE_EXCEPTION,
    DispatchState,
    MessageExceptionStatus,
    MessageExceptionType,
    MessageStatus,
)
from waterrev.envelope import page
from waterrev.errors import AppError, ErrorCode
from waterrev.masking import mask_mobile
from waterrev.notifications import _tasks
from waterrev.notifications.commands import FindDeadLetters, ResolveDeadLetters

RESOLUTION = {"REPLAY": "REPLAYED", "DISMISS": "DISMISSED"}


def _scope(ctx: RequestContext) -> tuple[str, dict[str, Any]]:
    """An exception is seen by whoever sees its message's customer; one with no customer (a body nobody
    could read, a result for no message) only with data scope ALL."""
    p = ctx.principal
    if p.dept_ids is None:
        return "true", {}
    return (
        "(u.dept_id = ANY(CAST(:scope_depts AS bigint[])))",
        {"scope_depts": sorted(p.dept_ids)},
    )


_FROM = (
    "biz_message_exception x LEFT JOIN biz_message m ON m.id = x.message_id"
    " LEFT JOIN biz_cust u ON u.id = m.cust_id"
)


def _item(r: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": r["id"],
        "exceptionType": r["exception_type"],
        "status": r["status"],
        "messageId": r["message_id"],
        "eventNo": r["message_biz_no"] or (r["detail"] or {}).get("eventNo"),
        "templateCode": r["template_code"] or (r["detail"] or {}).get("templateCode"),
        "channel": r["channel"],
        "receiver": mask_mobile(r["receiver"]) if r["channel"] == "SMS" else r["receiver"],
        "source": r["source"],
        "custId": r["cust_id"],
        "messageStatus": r["message_status"],
        "dispatchState": r["dispatch_state"],
        "attempts": r["attempts"],
        "receiveCount": r["receive_count"],
        "lastError": r["last_error"],
        "sqsMessageId": r["sqs_message_id"],
        "resolution": r["resolution"],
        "resolverName": r["resolver_name"],
        "resolveRemark": r["resolve_remark"],
        "resolveTime": r["resolve_time"],
        "createTime": r["create_time"],
    }


_COLUMNS = (
    "x.*, m.message_biz_no, m.template_code, m.channel, m.receiver, m.source, m.cust_id, m.status AS message_status,"
    " m.dispatch_state, m.attempts"
)


def find(ctx: RequestContext, query: FindDeadLetters) -> dict[str, Any]:
    scope, params = _scope(ctx)
    where = [scope]
    if query.status is not None:
        where.append("x.status = :status")
        params["status"] = query.status
    if query.exception_type is not None:
        where.append("x.exception_type = :type")
        params["type"] = query.exception_type
    sql_where = " AND ".join(where)
    with UnitOfWork() as uow:
        total = uow.scalar(f"SELECT count(*) FROM {_FROM} WHERE {sql_where}", params)
        rows = uow.all(
            f"SELECT {_COLUMNS} FROM {_FROM} WHERE {sql_where} ORDER BY x.id DESC LIMIT :lim OFFSET :off",
            {**params, "lim": query.page_size, "off": (query.page_no - 1) * query.page_size},
        )
    return page([_item(r) for r in rows], int(total), query.page_no, query.page_size)


def resolve(ctx: RequestContext, command: ResolveDeadLetters) -> dict[str, Any]:
    """Each exception in its own transaction, in id order (a failure leaves the others decided)."""
    results = [
        _resolve_one(ctx, exception_id, command.action, command.remark)
        for exception_id in sorted(set(command.ids))
    ]
    return {"results": results}


def _resolve_one(ctx: RequestContext, exception_id: int, action: str, remark: str) -> dict[str, Any]:
    scope, params = _scope(ctx)
    resolution = RESOLUTION[action]
    p = ctx.principal
    resolver = (p.user_id if p.user_type is UserType.ADMIN else None, p.name)
    with UnitOfWork() as uow:
        row = uow.one(
            f"SELECT {_COLUMNS} FROM {_FROM} WHERE x.id = :id AND {scope} FOR UPDATE OF x",
            {**params, "id": exception_id},
        )
        if row is None:
            raise AppError(ErrorCode.NOT_FOUND, f"ids: 异常记录 {exception_id} 不存在")
        if row["status"] == MessageExceptionStatus.RESOLVED:
            if row["resolution"] == resolution:
                return _item(row) | {"replay": True}
            raise AppError(
                ErrorCode.CONFLICT,
                f"异常记录 {exception_id} 已处理为 {row['resolution']}",
                data={"id": exception_id, "resolution": row["resolution"]},
            )
        MESSAGE_EXCEPTION.require(row["status"], MessageExceptionStatus.RESOLVED, f"异常记录 {exception_id}")
        message_change: dict[str, Any] | None = None
        if action == "REPLAY":
            if row["exception_type"] != MessageExceptionType.DEAD_LETTER or row["message_id"] is None:
                raise AppError(
                    ErrorCode.CONFLICT,
                    f"异常记录 {exception_id}（{row['exception_type']}）没有可重发的消息，只能忽略（DISMISS）",
                    data={"id": exception_id, "exceptionType": row["exception_type"]},
                )
            message_change = uow.one(
                f"UPDATE biz_message SET dispatch_state = '{DispatchState.NEW}', not_before = now(), last_error = NULL,"
                f" update_time = now() WHERE id = :m AND status = '{MessageStatus.PENDING}'"
                f" AND dispatch_state NOT IN ('{DispatchState.ACCEPTED}', '{DispatchState.CLOSED}')"
                " RETURNING id, dispatch_state",
                {"m": row["message_id"]},
            )
        elif row["message_id"] is not None:
            message_change = uow.one(
                f"UPDATE biz_message SET status = '{MessageStatus.FAIL}', dispatch_state = '{DispatchState.CLOSED}',"
                " failure_reason = :f, result_time = now(), update_time = now()"
                f" WHERE id = :m AND status = '{MessageStatus.PENDING}' RETURNING id, dispatch_state, message_biz_no, source",
                {"m": row["message_id"], "f": f"人工放弃投递：{remark}"[:255]},
            )
            if message_change is not None and message_change["source"] == _tasks.SOURCE:
                _tasks.settle(uow, ctx, message_change["message_biz_no"])
        uow.execute(
            f"UPDATE biz_message_exception SET status = '{MessageExceptionStatus.RESOLVED}', resolution = :r,"
            " resolver_id = :uid, resolver_name = :un, resolve_remark = :rm, resolve_time = now() WHERE id = :id",
            {"r": resolution, "uid": resolver[0], "un": resolver[1], "rm": remark, "id": exception_id},
        )
        audit.record(
            uow,
            ctx,
            module=_tasks.MODULE,
            operation=f"MESSAGE_EXCEPTION_{action}",
            object_type="biz_message_exception",
            object_id=exception_id,
            before={
                "status": row["status"],
                "messageStatus": row["message_status"],
                "dispatchState": row["dispatch_state"],
            },
            after={
                "status": MessageExceptionStatus.RESOLVED,
                "resolution": resolution,
                "remark": remark,
                "messageChanged": message_change is not None,
            },
        )
        done = uow.one(f"SELECT {_COLUMNS} FROM {_FROM} WHERE x.id = :id", {"id": exception_id})
        uow.commit()
    assert done is not None
    return _item(done) | {"replay": False}
