"""The audit log (biz_operat_log): written in the same transaction as the change it records."""

from __future__ import annotations

import json
from typing import Any

from waterrev.context import RequestContext
from waterrev.db import UnitOfWork
from waterrev.envelope import jsonable
from waterrev.masking import mask_any, mask_named


def record(
    uow: UnitOfWork,
    ctx: RequestContext,
    *,
    module: str,
    operation: str,
    object_type: str,
    object_id: object,
    before: Any = None,
    after: Any = None,
    remark: str | None = None,
) -> None:
    def as_json(value: Any) -> str | None:
        # Masked: the audit trail is read by many people; the masked form identifies the change.
        return (
            None if value is None else json.dumps(mask_any(mask_named(jsonable(value))), ensure_ascii=False)
        )

    p = ctx.principal
    uow.execute(
        "INSERT INTO biz_operat_log (request_id, user_id, user_type, user_name, module, operation,"
        " object_type, object_id, before_data, after_data, remark)"
        " VALUES (:rid, :uid, :utype, :uname, :module, :op, :otype, :oid,"
        " CAST(:before AS jsonb), CAST(:after AS jsonb), :remark)",
        {
            "rid": ctx.request_id,
            "uid": p.user_id,
            "utype": p.user_type.value,
            "uname": p.name,
            "module": module,
            "op": operation,
            "otype": object_type,
            "oid": str(object_id),
            "before": as_json(before),
            "after": as_json(after),
            "remark": remark,
        },
    )


def actor(ctx: RequestContext) -> str:
    """Who caused a change, as the database's settlement functions write it into biz_operat_log
    (rev_audit): the same request id, user id, user type and name `record` writes."""
    p = ctx.principal
    return json.dumps(
        {"requestId": ctx.request_id, "userId": p.user_id, "userType": p.user_type.value, "userName": p.name},
        ensure_ascii=False,
    )
