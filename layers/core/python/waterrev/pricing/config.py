"""Price templates (IF-REV-012, configType PRICE) and business parameters; the tariff loader.

Templates are versioned: CREATE adds a DRAFT version, UPDATE edits a DRAFT or publishes it
(effectStatus ACTIVE with an effectiveDate). A version's scope is GLOBAL (no deptId) or one dept;
publishing ends the previous ACTIVE version of the same scope the day before. A customer is priced
by its dept's version, else its nearest ancestor dept's, else the GLOBAL one (decision 28). A bill keeps its template id and the unit prices on its lines, so no price change can
alter an issued bill. A version in use by a bill is never edited.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any

from pydantic import ValidationError

from waterrev import audit, clock
from waterrev.billing import penalty
from waterrev.context import RequestContext
from waterrev.db import UnitOfWork
from waterrev.errors import AppError, ErrorCode
from waterrev.pricing.commands import ConfigCommand
from waterrev.pricing.spec import PriceTemplateSpec
from waterrev.pricing.tariff import Component, FixedCharge, Tariff, TierMode
from waterrev.scoped import DEPT_PATH, SCOPE_RANK, rule_problem
from waterrev.visibility import dept_visible, sees_every_dept

MODULE = "REV-009"


def _where(error: Any) -> str:
    """One validation error of the document, named configValue.<field>."""
    loc = ".".join(str(p) for p in error["loc"])
    msg = str(error["msg"]).removeprefix("Value error, ")
    if loc:
        return f"configValue.{loc}: {msg}"
    if error["type"] == "value_error":  # the document's own checks start with the field ("tiers: ...")
        return f"configValue.{msg}"
    return f"configValue: {msg}"


def _parse_price(value: str | None) -> PriceTemplateSpec:
    try:
        return PriceTemplateSpec.model_validate_json(value or "")
    except ValidationError as exc:
        raise AppError(ErrorCode.BAD_REQUEST, "; ".join(_where(e) for e in exc.errors())) from exc


def _effect_status(row: dict[str, Any], today: dt.date) -> str:
    if row["status"] == "ACTIVE" and row["expire_date"] is not None and row["expire_date"] < today:
        return "EXPIRED"
    return str(row["status"])


def _template_out(uow: UnitOfWork, row: dict[str, Any]) -> dict[str, Any]:
    tiers = uow.all(
        "SELECT tier_no, upper_bound, population_step FROM biz_price_tier_adjustment WHERE template_id = :t"
        " ORDER BY tier_no",
        {"t": row["id"]},
    )
    components = uow.all(
        "SELECT c.id, c.code, c.name, c.tax_rate, array_agg(p.unit_price ORDER BY p.tier_no) AS prices"
        " FROM biz_cost_component c JOIN biz_cost_component_price p ON p.component_id = c.id"
        " WHERE c.template_id = :t AND c.fixed_amount IS NULL GROUP BY c.id ORDER BY c.sort, c.id",
        {"t": row["id"]},
    )
    fixed = uow.all(
        "SELECT code, name, tax_rate, fixed_amount FROM biz_cost_component WHERE template_id = :t"
        " AND fixed_amount IS NOT NULL ORDER BY sort, id",
        {"t": row["id"]},
    )
    value = {
        "name": row["name"],
        "tierMode": row["tier_mode"],
        "basePopulation": row["base_population"],
        "tiers": [
            {"tierNo": t["tier_no"], "upperBound": t["upper_bound"], "populationStep": t["population_step"]}
            for t in tiers
        ],
        "components": [
            {"code": c["code"], "name": c["name"], "taxRate": c["tax_rate"], "prices": list(c["prices"])}
            for c in components
        ],
        "minimumUsage": row["minimum_usage"],
        "fixedCharges": [
            {"code": f["code"], "name": f["name"], "taxRate": f["tax_rate"], "amount": f["fixed_amount"]}
            for f in fixed
        ],
    }
    return {
        "configId": row["id"],
        "configType": "PRICE",
        "configCode": row["code"],
        "configVersion": str(row["version"]),
        "effectScope": f"DEPT:{row['dept_id']}" if row["dept_id"] else "GLOBAL",
        "effectStatus": _effect_status(row, dt.date.today()),
        "effectiveDate": row["effective_date"],
        "expireDate": row["expire_date"],
        "configValue": value,
    }


def _param_out(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "configId": row["id"],
        "configType": row["config_type"],
        "configCode": row["config_code"],
        "configVersion": str(row["config_version"]),
        "configValue": row["config_value"],
        "effectScope": f"DEPT:{row['dept_id']}" if row["dept_id"] else "GLOBAL",
        "effectStatus": row["effect_status"],
        "effectiveDate": row["effective_date"],
        "expireDate": None,
    }


def query(ctx: RequestContext, config_type: str, config_code: str | None) -> list[dict[str, Any]]:
    with UnitOfWork() as uow:
        if config_type == "PRICE":
            rows = uow.all(
                "SELECT * FROM biz_price_template WHERE (CAST(:c AS varchar) IS NULL OR code = :c)"
                " ORDER BY code, version DESC",
                {"c": config_code},
            )
            return [_template_out(uow, r) for r in rows]
        rows = uow.all(
            "SELECT * FROM biz_parameter_settings WHERE config_type = :t AND visible"
            " AND (CAST(:c AS varchar) IS NULL OR config_code = :c) ORDER BY config_code, config_version DESC",
            {"t": config_type, "c": config_code},
        )
        return [_param_out(r) for r in rows]


def write_template_body(uow: UnitOfWork, template_id: int, spec: PriceTemplateSpec) -> None:
    uow.execute(
        "DELETE FROM biz_cost_component_price WHERE component_id IN"
        " (SELECT id FROM biz_cost_component WHERE template_id = :t)",
        {"t": template_id},
    )
    uow.execute("DELETE FROM biz_cost_component WHERE template_id = :t", {"t": template_id})
    uow.execute("DELETE FROM biz_price_tier_adjustment WHERE template_id = :t", {"t": template_id})
    for tier in spec.tiers:
        uow.execute(
            "INSERT INTO biz_price_tier_adjustment (template_id, tier_no, upper_bound, population_step)"
            " VALUES (:t, :n, :u, :s)",
            {"t": template_id, "n": tier.tier_no, "u": tier.upper_bound, "s": tier.population_step},
        )
    for sort, comp in enumerate(spec.components):
        comp_id = uow.scalar(
            "INSERT INTO biz_cost_component (template_id, code, name, tax_rate, sort) VALUES (:t, :c, :n, :r, :s)"
            " RETURNING id",
            {"t": template_id, "c": comp.code, "n": comp.name, "r": comp.tax_rate, "s": sort},
        )
        for tier_no, unit_price in enumerate(comp.prices, start=1):
            uow.execute(
                "INSERT INTO biz_cost_component_price VALUES (:c, :n, :p)",
                {"c": comp_id, "n": tier_no, "p": unit_price},
            )
    for sort, fixed in enumerate(spec.fixed_charges, start=len(spec.components)):
        uow.execute(  # a fixed charge is a component of the version with its amount and no tier prices
            "INSERT INTO biz_cost_component (template_id, code, name, tax_rate, sort, fixed_amount)"
            " VALUES (:t, :c, :n, :r, :s, :a)",
            {
                "t": template_id,
                "c": fixed.code,
                "n": fixed.name,
                "r": fixed.tax_rate,
                "s": sort,
                "a": fixed.amount,
            },
        )
    uow.execute(
        "UPDATE biz_price_template SET name = :n, tier_mode = :m, base_population = :b, minimum_usage = :min"
        " WHERE id = :t",
        {
            "n": spec.name,
            "m": spec.tier_mode,
            "b": spec.base_population,
            "min": spec.minimum_usage,
            "t": template_id,
        },
    )


def _publish(uow: UnitOfWork, ctx: RequestContext, row: dict[str, Any], effective: dt.date) -> None:
    """Ends the earlier ACTIVE versions of the same code in the same scope (GLOBAL or the dept)."""
    previous = uow.all(
        "SELECT id, effective_date FROM biz_price_template WHERE code = :c AND status = 'ACTIVE' AND id <> :id"
        " AND dept_id IS NOT DISTINCT FROM CAST(:d AS bigint)"
        " AND (expire_date IS NULL OR expire_date >= :e) FOR UPDATE",
        {"c": row["code"], "id": row["id"], "d": row["dept_id"], "e": effective},
    )
    for prev in previous:
        if prev["effective_date"] is not None and prev["effective_date"] >= effective:
            raise AppError(
                ErrorCode.CONFLICT, f"effectiveDate: 须晚于当前生效版本的生效日期 {prev['effective_date']}"
            )
        uow.execute(
            "UPDATE biz_price_template SET expire_date = :x WHERE id = :id",
            {"x": effective - dt.timedelta(days=1), "id": prev["id"]},
        )
    uow.execute(
        "UPDATE biz_price_template SET status = 'ACTIVE', effective_date = :e WHERE id = :id",
        {"e": effective, "id": row["id"]},
    )
    audit.record(
        uow,
        ctx,
        module=MODULE,
        operation="PRICE_PUBLISH",
        object_type="biz_price_template",
        object_id=row["id"],
        before={"status": row["status"]},
        after={"status": "ACTIVE", "effectiveDate": effective, "expired": [p["id"] for p in previous]},
    )


def save_price(ctx: RequestContext, cmd: ConfigCommand) -> dict[str, Any]:
    assert cmd.config_code is not None
    with UnitOfWork() as uow:
        uow.execute("SELECT pg_advisory_xact_lock(hashtext(:c))", {"c": "price:" + cmd.config_code})
        if cmd.action == "CREATE":
            spec = _parse_price(cmd.config_value)
            version = (
                uow.scalar(
                    "SELECT max(version) FROM biz_price_template WHERE code = :c", {"c": cmd.config_code}
                )
                or 0
            ) + 1
            template_id = uow.scalar(
                "INSERT INTO biz_price_template (code, name, version, tier_mode, base_population, dept_id)"
                " VALUES (:c, :n, :v, :m, :b, :d) RETURNING id",
                {
                    "c": cmd.config_code,
                    "n": spec.name,
                    "v": version,
                    "m": spec.tier_mode,
                    "b": spec.base_population,
                    "d": cmd.dept_id,
                },
            )
            write_template_body(uow, template_id, spec)
            audit.record(
                uow,
                ctx,
                module=MODULE,
                operation="PRICE_CREATE",
                object_type="biz_price_template",
                object_id=template_id,
                after=json.loads(cmd.config_value or "{}"),
            )
            if cmd.effect_status == "ACTIVE":
                row = uow.one("SELECT * FROM biz_price_template WHERE id = :id", {"id": template_id})
                assert row is not None
                _publish(uow, ctx, row, cmd.effective_date or dt.date.today())
        else:
            row = uow.one(
                # only a version of the request's own scope (deptId, checked against the caller's
                # data scope): another scope's draft reads as absent
                "SELECT * FROM biz_price_template WHERE code = :c AND dept_id IS NOT DISTINCT FROM CAST(:d AS bigint)"
                " AND (CAST(:v AS int) IS NULL AND status = 'DRAFT' OR version = :v)"
                " ORDER BY version DESC LIMIT 1 FOR UPDATE",
                {"c": cmd.config_code, "v": cmd.config_version, "d": cmd.dept_id},
            )
            if row is None:
                raise AppError(
                    ErrorCode.NOT_FOUND, f"configCode: 价格模板 {cmd.config_code} 无可修改的草稿版本"
                )
            if row["status"] != "DRAFT":
                raise AppError(
                    ErrorCode.CONFLICT,
                    f"configVersion: 版本 {row['version']} 已发布，不可修改；请新建版本",
                    data={"effectStatus": row["status"]},
                )
            template_id = row["id"]
            if cmd.config_value:
                write_template_body(uow, template_id, _parse_price(cmd.config_value))
                audit.record(
                    uow,
                    ctx,
                    module=MODULE,
                    operation="PRICE_UPDATE",
                    object_type="biz_price_template",
                    object_id=template_id,
                    after=json.loads(cmd.config_value),
                )
            if cmd.effect_status == "ACTIVE":
                _publish(uow, ctx, row, cmd.effective_date or dt.date.today())
        out = uow.one("SELECT * FROM biz_price_template WHERE id = :id", {"id": template_id})
        assert out is not None
        reply = _template_out(uow, out)
        uow.commit()
    return reply | {"msg": "价格模板已保存"}


def save_param(ctx: RequestContext, cmd: ConfigCommand) -> dict[str, Any]:
    """RULE/PAGE/NOTICE: CREATE and UPDATE act within the request's scope (deptId or GLOBAL); a
    new ACTIVE version expires only the ACTIVE one of the same scope (decision 28)."""
    with UnitOfWork() as uow:
        uow.execute("SELECT pg_advisory_xact_lock(hashtext(:c))", {"c": "param:" + (cmd.config_code or "")})
        latest = uow.one(
            "SELECT * FROM biz_parameter_settings WHERE config_code = :c ORDER BY config_version DESC LIMIT 1",
            {"c": cmd.config_code},
        )
        current = uow.one(  # versions are numbered per code; CREATE/UPDATE and expiry are per scope
            "SELECT * FROM biz_parameter_settings WHERE config_code = :c"
            " AND dept_id IS NOT DISTINCT FROM CAST(:d AS bigint) ORDER BY config_version DESC LIMIT 1",
            {"c": cmd.config_code, "d": cmd.dept_id},
        )
        existing = current or (latest if latest is not None and not latest["visible"] else None)
        if cmd.action == "CREATE" and existing is not None:
            raise AppError(
                ErrorCode.CONFLICT,
                f"configCode: 参数 {cmd.config_code} 已存在",
                data={"configId": existing["id"]},
            )
        hidden = latest is not None and not latest["visible"]  # internal codes are never configured
        if cmd.action == "UPDATE" and (current is None or hidden or not current["visible"]):
            raise AppError(ErrorCode.NOT_FOUND, f"configCode: 参数 {cmd.config_code} 不存在")
        if cmd.config_value is None:
            raise AppError(ErrorCode.BAD_REQUEST, "configValue: 须填写")
        problem = rule_problem(cmd.config_code or "", cmd.config_value) if cmd.config_type == "RULE" else None
        if problem:
            raise AppError(ErrorCode.BAD_REQUEST, f"configValue: {problem}")
        penalty.check_parameter(cmd.config_code, cmd.config_value)  # 违约金 rules the penalty could not use
        if latest is not None and latest["config_type"] != cmd.config_type:
            raise AppError(
                ErrorCode.CONFLICT, f"configType: 参数 {cmd.config_code} 的类型为 {latest['config_type']}"
            )
        status = cmd.effect_status or "ACTIVE"
        today = clock.today()
        if status == "ACTIVE" and current is not None and (cmd.effective_date or today) <= today:
            # a version in force now retires the scope's versions it supersedes (effective on or before
            # it); one dated in the future retires nothing yet: the one in force stays so until that day,
            # as readers pick the newest version effective on the day, and a later-dated one stays planned
            uow.execute(
                "UPDATE biz_parameter_settings SET effect_status = 'EXPIRED' WHERE config_code = :c"
                " AND effect_status = 'ACTIVE' AND dept_id IS NOT DISTINCT FROM CAST(:d AS bigint)"
                " AND (effective_date IS NULL OR effective_date <= :e)",
                {"c": cmd.config_code, "d": cmd.dept_id, "e": cmd.effective_date or today},
            )
        row = uow.one(
            "INSERT INTO biz_parameter_settings (config_type, config_code, config_value, config_version, dept_id,"
            " effect_status, effective_date) VALUES (:t, :c, :v, :ver, :d, :s, :e) RETURNING *",
            {
                "t": cmd.config_type,
                "c": cmd.config_code,
                "v": cmd.config_value,
                "ver": (latest["config_version"] + 1) if latest else 1,
                "d": cmd.dept_id,
                "s": status,
                "e": cmd.effective_date,
            },
        )
        assert row is not None
        audit.record(
            uow,
            ctx,
            module=MODULE,
            operation=f"PARAM_{cmd.action}",
            object_type="biz_parameter_settings",
            object_id=row["id"],
            before=None if current is None else {"configValue": current["config_value"]},
            after={"configValue": cmd.config_value, "effectStatus": status},
        )
        uow.commit()
    return _param_out(row) | {"msg": "参数已保存"}


def config(ctx: RequestContext, cmd: ConfigCommand) -> dict[str, Any]:
    """POST: QUERY answers the seed's fields for the first match (codes ascending, newest version
    first) and every match in configList; CREATE / UPDATE the saved version."""
    if cmd.action == "QUERY":
        found = query(ctx, cmd.config_type, cmd.config_code)
        first = found[0] if found else {key: None for key in _EMPTY}
        return {**first, "configType": cmd.config_type, "configList": found, "msg": f"共 {len(found)} 条"}
    _require_scope(ctx, cmd)
    saved = save_price(ctx, cmd) if cmd.config_type == "PRICE" else save_param(ctx, cmd)
    return {**saved, "configList": None}


_EMPTY = (
    "configId",
    "configCode",
    "configVersion",
    "effectScope",
    "effectStatus",
    "configValue",
    "effectiveDate",
    "expireDate",
)


def _require_scope(ctx: RequestContext, cmd: ConfigCommand) -> None:
    """Who may change a scoped value: a dept's version only a user whose data scope holds the dept (a
    dept outside it reads as absent), a GLOBAL one only a user whose scope is every dept; operatorId,
    when sent, must be the caller (the change is audited under the caller)."""
    if cmd.operator_id is not None and cmd.operator_id != ctx.principal.user_id:
        raise AppError(ErrorCode.FORBIDDEN, f"operatorId: {cmd.operator_id} 不是当前登录用户")
    if cmd.dept_id is None:
        if not sees_every_dept(ctx):
            raise AppError(
                ErrorCode.FORBIDDEN, "deptId: 全局配置（不带 deptId）须由数据范围为全部单位的用户维护"
            )
        return
    with UnitOfWork() as uow:
        exists = uow.scalar("SELECT 1 FROM system_dept WHERE id = :d AND status = 0", {"d": cmd.dept_id})
    if exists is None or not dept_visible(ctx, cmd.dept_id):
        raise AppError(ErrorCode.NOT_FOUND, f"deptId: 单位 {cmd.dept_id} 不存在")


# ------------------------------------------------------------------------------ tariffs -------
def load_tariff(uow: UnitOfWork, template_id: int) -> Tariff:
    row = uow.one("SELECT * FROM biz_price_template WHERE id = :id", {"id": template_id})
    if row is None:
        raise AppError(ErrorCode.PRICE_OR_COMPONENT_MISSING, f"价格模板 {template_id} 不存在")
    tiers = uow.all(
        "SELECT tier_no, upper_bound, population_step FROM biz_price_tier_adjustment"
        " WHERE template_id = :t ORDER BY tier_no",
        {"t": template_id},
    )
    every = uow.all(
        "SELECT c.code, c.name, c.tax_rate, c.fixed_amount, array_agg(p.unit_price ORDER BY p.tier_no) AS prices,"
        " array_agg(p.tier_no ORDER BY p.tier_no) AS tier_nos FROM biz_cost_component c"
        " LEFT JOIN biz_cost_component_price p ON p.component_id = c.id WHERE c.template_id = :t"
        " GROUP BY c.id ORDER BY c.sort, c.id",
        {"t": template_id},
    )
    components = [c for c in every if c["fixed_amount"] is None]
    fixed = [c for c in every if c["fixed_amount"] is not None]
    if not tiers:
        raise AppError(
            ErrorCode.PRICE_OR_COMPONENT_MISSING, f"价格模板 {row['code']} v{row['version']} 缺少阶梯规则"
        )
    if not components:
        raise AppError(
            ErrorCode.PRICE_OR_COMPONENT_MISSING, f"价格模板 {row['code']} v{row['version']} 缺少费用组成"
        )
    expected = list(range(1, len(tiers) + 1))
    for c in components:
        if list(c["tier_nos"]) != expected:
            raise AppError(
                ErrorCode.PRICE_OR_COMPONENT_MISSING,
                f"价格模板 {row['code']} v{row['version']} 费用组成 {c['code']} 缺少阶梯单价",
            )
    try:
        return Tariff(
            template_id=template_id,
            tier_mode=TierMode(row["tier_mode"]),
            bounds=tuple(Decimal(t["upper_bound"]) for t in tiers[:-1]),
            components=tuple(
                Component(
                    c["code"], c["name"], Decimal(c["tax_rate"]), tuple(Decimal(p) for p in c["prices"])
                )
                for c in components
            ),
            base_population=row["base_population"],
            population_step=tuple(Decimal(t["population_step"]) for t in tiers[:-1]),
            minimum_usage=None if row["minimum_usage"] is None else Decimal(row["minimum_usage"]),
            fixed_charges=tuple(
                FixedCharge(f["code"], f["name"], Decimal(f["tax_rate"]), Decimal(f["fixed_amount"]))
                for f in fixed
            ),
            code=str(row["code"]),
            version=int(row["version"]),
        )
    except ValueError as exc:
        raise AppError(
            ErrorCode.PRICE_OR_COMPONENT_MISSING, f"价格模板 {row['code']} 阶梯规则无效：{exc}"
        ) from exc


def active_template_id(uow: UnitOfWork, code: str, on: dt.date, dept_id: int | None = None) -> int | None:
    """The version of `code` that prices a customer of `dept_id` on `on` (GLOBAL only for None)."""
    found = active_templates(uow, {(code, dept_id)}, on)
    return found.get((code, dept_id))


def active_templates(
    uow: UnitOfWork, keys: set[tuple[str, int | None]], on: dt.date
) -> dict[tuple[str, int | None], int]:
    """For each (code, customer dept), in one statement: the newest ACTIVE version effective on `on`
    of the dept's own scope, else of its nearest ancestor dept with one, else GLOBAL."""
    if not keys:
        return {}
    ordered = sorted(keys, key=lambda k: (k[0], -1 if k[1] is None else k[1]))
    path = DEPT_PATH.format(tree_path="d.tree_path")
    rows = uow.all(
        "SELECT DISTINCT ON (k.n) k.n, t.id FROM unnest(CAST(:codes AS varchar[]), CAST(:depts AS bigint[]))"
        " WITH ORDINALITY AS k(code, dept_id, n) LEFT JOIN system_dept d ON d.id = k.dept_id"
        " JOIN biz_price_template t ON t.code = k.code AND t.status = 'ACTIVE' AND t.effective_date <= :d"
        " AND (t.expire_date IS NULL OR t.expire_date >= :d)"
        f" AND (t.dept_id IS NULL OR t.dept_id = k.dept_id OR t.dept_id = ANY({path}))"
        " ORDER BY k.n, t.dept_id IS NULL, "
        + SCOPE_RANK.format(path=path, scope_dept="t.dept_id")
        + ", t.effective_date DESC, t.version DESC",
        {"codes": [k[0] for k in ordered], "depts": [k[1] for k in ordered], "d": on},
    )
    return {ordered[int(r["n"]) - 1]: int(r["id"]) for r in rows}


def price_versions(
    uow: UnitOfWork, keys: set[tuple[str, int | None]], upto: dt.date
) -> dict[tuple[str, int | None], list[dict[str, Any]]]:
    """For each (code, customer dept), in one statement: every ACTIVE version effective by `upto` that
    could price a customer of that dept (its own scope, an ancestor dept's, or GLOBAL), with the depth of
    its scope in the dept's path (`rank`: deeper wins) - what `active_templates` chooses from, so a
    reading's interval can be cut where the choice changes (billing.rules.Timeline)."""
    if not keys:
        return {}
    ordered = sorted(keys, key=lambda k: (k[0], -1 if k[1] is None else k[1]))
    path = DEPT_PATH.format(tree_path="d.tree_path")
    rows = uow.all(
        "SELECT k.n, t.id, t.dept_id, t.effective_date, t.expire_date, t.version, t.tier_mode,"
        f" COALESCE(array_position({path}, t.dept_id), 0) AS rank"
        " FROM unnest(CAST(:codes AS varchar[]), CAST(:depts AS bigint[])) WITH ORDINALITY AS k(code, dept_id, n)"
        " LEFT JOIN system_dept d ON d.id = k.dept_id"
        " JOIN biz_price_template t ON t.code = k.code AND t.status = 'ACTIVE' AND t.effective_date <= :d"
        f" AND (t.dept_id IS NULL OR t.dept_id = k.dept_id OR t.dept_id = ANY({path}))",
        {"codes": [k[0] for k in ordered], "depts": [k[1] for k in ordered], "d": upto},
    )
    found: dict[tuple[str, int | None], list[dict[str, Any]]] = {k: [] for k in ordered}
    for r in rows:
        found[ordered[int(r["n"]) - 1]].append(r)
    return found
