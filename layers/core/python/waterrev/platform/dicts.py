"""IF-UP-004: dictionaries and parameters."""

from __future__ import annotations

import datetime as dt
from typing import Any

from waterrev.db import UnitOfWork
from waterrev.errors import AppError, ErrorCode
from waterrev.scoped import param_row


def dict_data(dict_type: str | None) -> list[dict[str, Any]]:
    with UnitOfWork() as uow:
        rows = uow.all(
            "SELECT d.dict_type, d.label, d.value, d.sort, d.color_type FROM system_dict_data d"
            " JOIN system_dict_type t ON t.type = d.dict_type"
            " WHERE d.status = 0 AND t.status = 0 AND (CAST(:t AS varchar) IS NULL OR d.dict_type = :t)"
            " ORDER BY d.dict_type, d.sort, d.id",
            {"t": dict_type},
        )
    return [
        {
            "dictType": r["dict_type"],
            "label": r["label"],
            "value": r["value"],
            "sort": r["sort"],
            "colorType": r["color_type"],
        }
        for r in rows
    ]


def parameter(code: str, dept_id: int | None) -> dict[str, Any]:
    """The ACTIVE version of a parameter for the dept: its own, its nearest ancestor's, else GLOBAL."""
    with UnitOfWork() as uow:
        row = param_row(uow, code, dept_id=dept_id, on=dt.date.today(), visible_only=True)
    if row is None:
        raise AppError(ErrorCode.NOT_FOUND, f"参数 {code} 不存在")
    return {
        "configId": row["id"],
        "configType": row["config_type"],
        "configCode": row["config_code"],
        "configValue": row["config_value"],
        "configVersion": str(row["config_version"]),
        "effectScope": f"DEPT:{row['dept_id']}" if row["dept_id"] else "GLOBAL",
        "effectStatus": row["effect_status"],
        "effectiveDate": row["effective_date"],
    }
