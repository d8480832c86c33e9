"""Values configured per scope (decision 28): GLOBAL (dept_id NULL) or one dept. A dept's value is
its own, else its nearest ancestor dept's, else the GLOBAL one."""

from __future__ import annotations

import datetime as dt
from typing import Any

from waterrev.db import UnitOfWork

# A dept and its ancestors, nearest last: '/1/2/5/' -> {1,2,5}. A version scoped to dept d applies
# to dept c when d is in c's path; the deepest such d wins, GLOBAL (NULL) last.
DEPT_PATH = "CAST(string_to_array(trim(both '/' from {tree_path}), '/') AS bigint[])"
SCOPE_RANK = "COALESCE(array_position({path}, {scope_dept}), 0) DESC"


def param_row(
    uow: UnitOfWork,
    code: str,
    *,
    dept_id: int | None = None,
    cust_id: int | None = None,
    on: dt.date | None = None,
    visible_only: bool = False,
) -> dict[str, Any] | None:
    """The ACTIVE version of a RULE/PAGE/NOTICE parameter for a dept (or a customer's dept): the
    dept's own, else its nearest ancestor's, else GLOBAL. `on` also requires effective_date <= on."""
    path = DEPT_PATH.format(tree_path="d.tree_path")
    return uow.one(
        "WITH me AS (SELECT COALESCE(CAST(:d AS bigint), (SELECT dept_id FROM biz_cust WHERE id = :cust)) AS id)"
        " SELECT p.* FROM me LEFT JOIN system_dept d ON d.id = me.id"
        " JOIN biz_parameter_settings p ON p.config_code = :c AND p.effect_status = 'ACTIVE'"
        f" AND (p.dept_id IS NULL OR p.dept_id = me.id OR p.dept_id = ANY({path}))"
        " AND (NOT CAST(:visible AS boolean) OR p.visible)"
        " AND (CAST(:on AS date) IS NULL OR p.effective_date IS NULL OR p.effective_date <= CAST(:on AS date))"
        " ORDER BY p.dept_id IS NULL, "
        + SCOPE_RANK.format(path=path, scope_dept="p.dept_id")
        + ", p.effective_date DESC NULLS LAST, p.config_version DESC LIMIT 1",
        {"c": code, "d": dept_id, "cust": cust_id, "visible": visible_only, "on": on},
    )
