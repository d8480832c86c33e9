"""Values configured per scope (decision 28): GLOBAL (dept_id NULL) or one dept. A dept's value is
its own, else its nearest ancestor dept's, else the GLOBAL one."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any, NamedTuple

from waterrev import clock
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
    dept's own, else its nearest ancestor's, else GLOBAL, in force on `on` (default: today): a version
    dated later is planned, not yet in force."""
    on = on or clock.today()
    path = DEPT_PATH.format(tree_path="d.tree_path")
    return uow.one(
        "WITH me AS (SELECT COALESCE(CAST(:d AS bigint), (SELECT dept_id FROM biz_cust WHERE id = :cust)) AS id)"
        " SELECT p.* FROM me LEFT JOIN system_dept d ON d.id = me.id"
        " JOIN biz_parameter_settings p ON p.config_code = :c AND p.effect_status = 'ACTIVE'"
        f" AND (p.dept_id IS NULL OR p.dept_id = me.id OR p.dept_id = ANY({path}))"
        " AND (NOT CAST(:visible AS boolean) OR p.visible)"
        " AND (p.effective_date IS NULL OR p.effective_date <= CAST(:on AS date))"
        " ORDER BY p.dept_id IS NULL, "
        + SCOPE_RANK.format(path=path, scope_dept="p.dept_id")
        + ", p.effective_date DESC NULLS LAST, p.config_version DESC LIMIT 1",
        {"c": code, "d": dept_id, "cust": cust_id, "visible": visible_only, "on": on},
    )


def param_values(uow: UnitOfWork, code: str, dept_ids: set[int]) -> dict[int, str | None]:
    """`param_row`'s rule for many depts in one statement: each dept's ACTIVE value of `code` (its own,
    else its nearest ancestor's, else GLOBAL) in force today, None where none is configured."""
    if not dept_ids:
        return {}
    ordered = sorted(dept_ids)
    path = DEPT_PATH.format(tree_path="d.tree_path")
    rows = uow.all(
        "SELECT DISTINCT ON (k.dept_id) k.dept_id, p.config_value FROM unnest(CAST(:depts AS bigint[])) AS k(dept_id)"
        " LEFT JOIN system_dept d ON d.id = k.dept_id"
        " JOIN biz_parameter_settings p ON p.config_code = :c AND p.effect_status = 'ACTIVE'"
        f" AND (p.dept_id IS NULL OR p.dept_id = k.dept_id OR p.dept_id = ANY({path}))"
        " AND (p.effective_date IS NULL OR p.effective_date <= CAST(:on AS date))"
        " ORDER BY k.dept_id, p.dept_id IS NULL, "
        + SCOPE_RANK.format(path=path, scope_dept="p.dept_id")
        + ", p.effective_date DESC NULLS LAST, p.config_version DESC",
        {"c": code, "depts": ordered, "on": clock.today()},
    )
    found = {int(r["dept_id"]): str(r["config_value"]) for r in rows}
    return {d: found.get(d) for d in ordered}


# ---- rule parameters the code reads: parsed one way, checked when saved, safe when read -----------


class Rule(NamedTuple):
    code: str
    parse: Callable[[str], Any]  # the stored text -> the value; ValueError when it is not one
    default: Any
    meaning: str  # what the value is, as an operator reads it (IF-REV-012 refuses what it cannot parse)


RULES: dict[str, Rule] = {}


def rule(code: str, parse: Callable[[str], Any], default: Any, meaning: str) -> Rule:
    """Register a RULE parameter the code reads (each capability registers its own)."""
    RULES[code] = found = Rule(code, parse, default, meaning)
    return found


def positive_decimal(text: str) -> Decimal:
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        raise ValueError("须为数字") from None
    if not value.is_finite() or value <= 0:
        raise ValueError("须为大于 0 的数")
    return value


def boolean(text: str) -> bool:
    value = text.strip().lower()
    if value in ("true", "1", "yes"):
        return True
    if value in ("false", "0", "no"):
        return False
    raise ValueError("须为 true 或 false")


def rule_problem(code: str, text: str) -> str | None:
    """Why `text` cannot be the value of a registered rule (None: it can, or the code is not one)."""
    known = RULES.get(code)
    if known is None:
        return None
    try:
        known.parse(text)
    except ValueError as exc:
        return f"{known.meaning}：{exc}"
    return None


def rule_value(
    uow: UnitOfWork,
    code: str,
    *,
    dept_id: int | None = None,
    cust_id: int | None = None,
    on: dt.date | None = None,
) -> Any:
    """A registered rule's value for a dept (or a customer's dept), else its default. A stored value
    that cannot be read (saved before validation existed) falls back to the default with a warning,
    so one bad row never stops the business that reads it."""
    known = RULES[code]
    row = param_row(uow, code, dept_id=dept_id, cust_id=cust_id, on=on)
    if row is None or row["config_value"] in (None, ""):
        return known.default
    try:
        return known.parse(str(row["config_value"]))
    except ValueError as exc:
        from waterrev.logs import get_logger

        get_logger().warning(
            "unreadable rule value: the default applies",
            extra={"configCode": code, "configId": row["id"], "problem": str(exc)},
        )
        return known.default


WARN_RATIO = rule(
    "revenue.reading.warn-ratio",
    positive_decimal,
    Decimal("3"),
    "抄表用量预警倍数（本次用量超过近三期平均用量的倍数时转人工复核）",
)
ALLOW_PARTIAL = rule(
    "revenue.collection.allow-partial",
    boolean,
    False,
    "柜台收费是否允许部分缴费（true/false）",
)


ADJUST_TYPES = ("USAGE", "AMOUNT", "REFUND", "REVERSE", "BAD_DEBT")


def adjust_types(text: str) -> frozenset[str]:
    """A comma-separated list of IF-REV-007 adjustTypes; NONE: no type needs approval by itself."""
    chosen = frozenset(t.strip().upper() for t in text.split(",") if t.strip()) - {"NONE"}
    unknown = sorted(chosen - set(ADJUST_TYPES))
    if unknown:
        raise ValueError(f"未知的 adjustType {', '.join(unknown)}（可用：{', '.join(ADJUST_TYPES)}）")
    return chosen


ADJUST_APPROVAL_THRESHOLD = rule(
    "revenue.adjust.approval-threshold",
    positive_decimal,
    Decimal("1000"),
    "账务调整审批金额阈值（调整涉及金额超过该值须由申请人以外的人审批）",
)
ADJUST_APPROVAL_TYPES = rule(
    "revenue.adjust.approval-types",
    adjust_types,
    frozenset({"REVERSE", "BAD_DEBT"}),
    "一律须审批的调整类型（逗号分隔：USAGE、AMOUNT、REFUND、REVERSE、BAD_DEBT；NONE 为无）",
)
