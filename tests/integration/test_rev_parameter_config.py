"""IF-REV-012 业务参数配置: versioned price templates (DRAFT -> ACTIVE, the previous version ends the day
before, published versions are read-only), validated tiers and components, versioned RULE parameters,
audit of every change, the tariff loader's 1_002_002_003 for incomplete templates, permissions."""

from __future__ import annotations

import copy
import datetime as dt
import json
from decimal import Decimal
from typing import Any

import pytest

from tests.support import (
    admin_login,
    audit_rows,
    call,
    expect_error,
    new_dept,
    sql_all,
    sql_exec,
    sql_scalar,
    unique,
)

CONFIG = "/admin-api/revenue/parameter/config"
PRICE = {
    "name": "测试阶梯水价",
    "tierMode": "MONTHLY",
    "basePopulation": 4,
    "tiers": [
        {"tierNo": 1, "upperBound": "20", "populationStep": "5"},
        {"tierNo": 2, "upperBound": "30", "populationStep": "5"},
        {"tierNo": 3},
    ],
    "components": [
        {"code": "WATER_FEE", "name": "水费", "taxRate": "0.09", "prices": ["2.15", "3.23", "6.45"]},
        {"code": "SEWAGE_FEE", "name": "污水处理费", "taxRate": "0", "prices": ["1.00", "1.00", "1.00"]},
    ],
}


def price_doc(**change: Any) -> dict[str, Any]:
    return {**copy.deepcopy(PRICE), **change}


def save(
    token: str, action: str, code: str, value: Any = None, config_type: str = "PRICE", **extra: Any
) -> Any:
    body: dict[str, Any] = {"action": action, "configType": config_type, "configCode": code, **extra}
    if value is not None:
        body["configValue"] = value if isinstance(value, str) else json.dumps(value)
    return call("POST", CONFIG, body, token=token)


def versions(token: str, code: str, config_type: str = "PRICE") -> list[dict[str, Any]]:
    reply = call("GET", CONFIG, token=token, query=f"configType={config_type}&configCode={code}")
    assert reply.code == 0, reply.body
    return list(reply.data)


def templates(code: str) -> int:
    return int(sql_scalar("SELECT count(*) FROM biz_price_template WHERE code = :c", {"c": code}))


def template_id(code: str, version: int) -> int:
    return int(
        sql_scalar(
            "SELECT id FROM biz_price_template WHERE code = :c AND version = :v", {"c": code, "v": version}
        )
    )


def published(admin: str, code: str, effective: str) -> dict[str, Any]:
    reply = save(admin, "CREATE", code, price_doc(), effectStatus="ACTIVE", effectiveDate=effective)
    assert reply.code == 0, reply.body
    return dict(reply.data)


# ----------------------------------------------------------------------------- PRICE ----------
def test_create_price_makes_a_draft_version_with_tiers_and_components(admin: str) -> None:
    """Given a complete price document, when CREATE PRICE is sent, then version 1 is a DRAFT holding the
    three tiers and both components with their tier prices, QUERY lists it, and PRICE_CREATE is audited."""
    code = unique("P")

    reply = save(admin, "CREATE", code, price_doc())

    assert reply.code == 0, reply.body
    data = reply.data
    assert (data["configCode"], data["configVersion"], data["effectStatus"]) == (code, "1", "DRAFT")
    value = data["configValue"]
    assert [(t["tierNo"], t["upperBound"]) for t in value["tiers"]] == [(1, "20.00"), (2, "30.00"), (3, None)]
    assert [(c["code"], [Decimal(p) for p in c["prices"]]) for c in value["components"]] == [
        ("WATER_FEE", [Decimal("2.15"), Decimal("3.23"), Decimal("6.45")]),
        ("SEWAGE_FEE", [Decimal(1)] * 3),
    ]
    [listed] = versions(admin, code)
    assert listed["configId"] == data["configId"] and listed["effectStatus"] == "DRAFT"
    assert [r["operation"] for r in audit_rows("biz_price_template", data["configId"])] == ["PRICE_CREATE"]


def _tiers(*tiers: dict[str, Any]) -> dict[str, Any]:
    return {"tiers": list(tiers)}


INVALID_PRICES: dict[str, tuple[dict[str, Any], str]] = {
    "tiers not numbered from 1": (
        _tiers({"tierNo": 2, "upperBound": "20"}, {"tierNo": 3, "upperBound": "30"}, {"tierNo": 4}),
        "configValue.tiers",
    ),
    "tier numbers with a gap": (
        _tiers({"tierNo": 1, "upperBound": "20"}, {"tierNo": 3, "upperBound": "30"}, {"tierNo": 4}),
        "configValue.tiers",
    ),
    "a middle tier left open": (
        _tiers({"tierNo": 1, "upperBound": "20"}, {"tierNo": 2}, {"tierNo": 3}),
        "configValue.tiers",
    ),
    "the last tier bounded": (
        _tiers(
            {"tierNo": 1, "upperBound": "20"},
            {"tierNo": 2, "upperBound": "30"},
            {"tierNo": 3, "upperBound": "40"},
        ),
        "configValue.tiers",
    ),
    "bounds not increasing": (
        _tiers({"tierNo": 1, "upperBound": "30"}, {"tierNo": 2, "upperBound": "20"}, {"tierNo": 3}),
        "configValue.tiers",
    ),
    "a negative population step": (
        _tiers(
            {"tierNo": 1, "upperBound": "20", "populationStep": "-1"},
            {"tierNo": 2, "upperBound": "30"},
            {"tierNo": 3},
        ),
        "configValue.tiers.0.populationStep",
    ),
    "a component missing a tier price": (
        {"components": [{"code": "WATER_FEE", "name": "水费", "taxRate": "0", "prices": ["1", "2"]}]},
        "configValue.components",
    ),
    "a negative price": (
        {"components": [{"code": "WATER_FEE", "name": "水费", "taxRate": "0", "prices": ["1", "-2", "3"]}]},
        "configValue.components",
    ),
    "duplicate component codes": (
        {
            "components": [
                {"code": "WATER_FEE", "name": "水费", "taxRate": "0", "prices": ["1", "2", "3"]},
                {"code": "WATER_FEE", "name": "水费二", "taxRate": "0", "prices": ["1", "2", "3"]},
            ]
        },
        "configValue.components",
    ),
    "a tax rate of 100%": (
        {"components": [{"code": "WATER_FEE", "name": "水费", "taxRate": "1", "prices": ["1", "2", "3"]}]},
        "configValue.components.0.taxRate",
    ),
    "no components": ({"components": []}, "configValue.components"),
    "unknown tier mode": ({"tierMode": "DAILY"}, "configValue.tierMode"),
    "an unknown field": ({"discount": "0.5"}, "configValue.discount"),
}


@pytest.mark.parametrize(("change", "field"), list(INVALID_PRICES.values()), ids=list(INVALID_PRICES))
def test_create_price_rejects_an_invalid_document_naming_the_field(
    admin: str, change: dict[str, Any], field: str
) -> None:
    """Given a price document with one defect, when CREATE PRICE is sent, then 400 naming configValue.<field>
    and no template version is written."""
    code = unique("P")

    reply = save(admin, "CREATE", code, price_doc(**change))

    expect_error(reply, 400, mentions=field)
    assert templates(code) == 0


def test_create_price_with_a_value_that_is_not_json_is_400(admin: str) -> None:
    """Given a configValue that is not JSON, when CREATE PRICE is sent, then 400 naming configValue."""
    code = unique("P")

    expect_error(save(admin, "CREATE", code, "{tiers:"), 400, mentions="configValue")
    assert templates(code) == 0


def test_a_price_code_longer_than_the_template_code_is_400(admin: str) -> None:
    """Given a configCode of 40 characters (templates keep 32), when CREATE PRICE is sent, then 400 naming
    configCode, not a server error."""
    code = "P" + unique("X") * 3

    expect_error(save(admin, "CREATE", code[:40], price_doc()), 400, mentions="configCode")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"action": "CREATE", "configType": "PRICE"}, "configCode"),
        ({"action": "CREATE", "configType": "PRICE", "configCode": "PX"}, "configValue"),
        ({"action": "DELETE", "configType": "PRICE", "configCode": "PX"}, "action"),
        ({"action": "QUERY", "configType": "SECRET"}, "configType"),
        (
            {"action": "UPDATE", "configType": "PRICE", "configCode": "PX", "effectStatus": "EXPIRED"},
            "effectStatus",
        ),
    ],
    ids=["no code", "no value", "unknown action", "unknown type", "cannot set EXPIRED"],
)
def test_an_invalid_config_request_is_400(admin: str, body: dict[str, Any], field: str) -> None:
    """Given a config request missing or misusing a field, when sent, then 400 naming it."""
    expect_error(call("POST", CONFIG, body, token=admin), 400, mentions=field)


def test_update_edits_a_draft(admin: str) -> None:
    """Given a DRAFT price version, when UPDATE sends a new document, then the same version holds the new
    prices, is still DRAFT, and PRICE_UPDATE is audited."""
    code = unique("P")
    created = save(admin, "CREATE", code, price_doc()).data
    changed = price_doc()
    changed["components"][0]["prices"] = ["2.50", "3.50", "7.00"]

    reply = save(admin, "UPDATE", code, changed)

    assert reply.code == 0, reply.body
    assert reply.data["configId"] == created["configId"] and reply.data["effectStatus"] == "DRAFT"
    assert [Decimal(p) for p in reply.data["configValue"]["components"][0]["prices"]] == [
        Decimal("2.50"),
        Decimal("3.50"),
        Decimal("7.00"),
    ]
    assert templates(code) == 1
    assert [r["operation"] for r in audit_rows("biz_price_template", created["configId"])] == [
        "PRICE_CREATE",
        "PRICE_UPDATE",
    ]


def test_an_invalid_update_keeps_the_draft_as_it_was(admin: str) -> None:
    """Given a DRAFT, when UPDATE sends a document with a bad tier, then 400 and the draft keeps its three
    tiers."""
    code = unique("P")
    save(admin, "CREATE", code, price_doc())

    reply = save(admin, "UPDATE", code, price_doc(**_tiers({"tierNo": 1}, {"tierNo": 2})))

    expect_error(reply, 400, mentions="configValue.tiers")
    assert len(versions(admin, code)[0]["configValue"]["tiers"]) == 3


def test_publishing_ends_the_previous_version_the_day_before(admin: str) -> None:
    """Given version 1 ACTIVE since 2024-01-01 and a DRAFT version 2, when version 2 is published effective
    2024-07-01, then version 1 expires 2024-06-30 (EXPIRED in QUERY), version 2 is ACTIVE, PRICE_PUBLISH is
    audited, and the active template is v1 on 2024-06-30 and v2 from 2024-07-01."""
    from waterrev.db import UnitOfWork
    from waterrev.pricing.config import active_template_id

    code = unique("P")
    v1 = published(admin, code, "2024-01-01")
    save(admin, "CREATE", code, price_doc())

    reply = save(admin, "UPDATE", code, effectStatus="ACTIVE", effectiveDate="2024-07-01")

    assert reply.code == 0, reply.body
    assert (reply.data["configVersion"], reply.data["effectStatus"], reply.data["effectiveDate"]) == (
        "2",
        "ACTIVE",
        "2024-07-01",
    )
    listed = {v["configVersion"]: v for v in versions(admin, code)}
    assert listed["1"]["effectStatus"] == "EXPIRED" and listed["1"]["expireDate"] == "2024-06-30"
    assert listed["2"]["effectStatus"] == "ACTIVE" and listed["2"]["expireDate"] is None
    assert "PRICE_PUBLISH" in [
        r["operation"] for r in audit_rows("biz_price_template", reply.data["configId"])
    ]
    with UnitOfWork() as uow:
        assert active_template_id(uow, code, dt.date(2024, 6, 30)) == v1["configId"]
        assert active_template_id(uow, code, dt.date(2024, 7, 1)) == reply.data["configId"]
        assert active_template_id(uow, code, dt.date(2023, 12, 31)) is None


def test_create_with_active_publishes_at_once(admin: str) -> None:
    """Given an ACTIVE version 1, when version 2 is created with effectStatus ACTIVE and an effectiveDate,
    then it is published at once and version 1 ends the day before."""
    code = unique("P")
    published(admin, code, "2023-01-01")

    reply = save(admin, "CREATE", code, price_doc(), effectStatus="ACTIVE", effectiveDate="2023-03-01")

    assert reply.code == 0 and reply.data["effectStatus"] == "ACTIVE", reply.body
    assert str(
        sql_scalar("SELECT expire_date FROM biz_price_template WHERE id = :id", {"id": template_id(code, 1)})
    ) == ("2023-02-28")


def test_a_future_version_leaves_the_current_one_active_until_then(admin: str) -> None:
    """Given an ACTIVE version, when a new one is published effective in the future, then the current one
    is still ACTIVE in QUERY (its expire date is ahead)."""
    code = unique("P")
    published(admin, code, "2020-01-01")
    future = dt.date.today() + dt.timedelta(days=30)

    save(admin, "CREATE", code, price_doc(), effectStatus="ACTIVE", effectiveDate=future.isoformat())

    listed = {v["configVersion"]: v for v in versions(admin, code)}
    assert listed["1"]["effectStatus"] == "ACTIVE"
    assert listed["1"]["expireDate"] == (future - dt.timedelta(days=1)).isoformat()


def test_a_published_version_cannot_be_edited(admin: str) -> None:
    """Given a published version 1 and no draft, when UPDATE names version 1, then 409 and the version keeps
    its prices; UPDATE without a version finds no draft (404)."""
    code = unique("P")
    published(admin, code, "2024-01-01")
    changed = price_doc()
    changed["components"][0]["prices"] = ["9", "9", "9"]

    named = save(admin, "UPDATE", code, changed, configVersion=1)
    unnamed = save(admin, "UPDATE", code, changed)

    expect_error(named, 409, mentions="configVersion")
    assert named.data == {"effectStatus": "ACTIVE"}
    expect_error(unnamed, 404, mentions="configCode")
    assert versions(admin, code)[0]["configValue"]["components"][0]["prices"][0] == "2.1500"


def test_publishing_before_the_current_version_is_refused(admin: str) -> None:
    """Given version 1 ACTIVE since 2024-01-01 and a DRAFT version 2, when version 2 is published effective
    2023-12-01, then 409 naming effectiveDate; version 2 stays DRAFT and version 1 keeps no expire date."""
    code = unique("P")
    published(admin, code, "2024-01-01")
    save(admin, "CREATE", code, price_doc())

    reply = save(admin, "UPDATE", code, effectStatus="ACTIVE", effectiveDate="2023-12-01")

    expect_error(reply, 409, mentions="effectiveDate")
    listed = {v["configVersion"]: v for v in versions(admin, code)}
    assert listed["2"]["effectStatus"] == "DRAFT" and listed["1"]["expireDate"] is None


def test_query_lists_versions_newest_first(admin: str) -> None:
    """Given three versions of a template, when QUERY is asked by GET and by POST, then both list versions
    3, 2, 1 (POST in configList, with the seed's fields of version 3 at the top)."""
    code = unique("P")
    for _ in range(3):
        save(admin, "CREATE", code, price_doc())

    by_get = [v["configVersion"] for v in versions(admin, code)]
    by_post = call(
        "POST", CONFIG, {"action": "QUERY", "configType": "PRICE", "configCode": code}, token=admin
    )

    assert by_get == ["3", "2", "1"]
    assert [v["configVersion"] for v in by_post.data["configList"]] == ["3", "2", "1"], by_post.body
    top = by_post.data
    assert (top["configCode"], top["configVersion"], top["effectScope"], top["effectStatus"]) == (
        code,
        "3",
        "GLOBAL",
        "DRAFT",
    )
    assert top["configId"] == template_id(code, 3) and top["msg"] == "共 3 条"


def test_a_post_query_without_match_answers_the_seed_fields_empty(admin: str) -> None:
    """Given a code with no configuration, when QUERY is posted, then code 0 with the seed's fields null,
    an empty configList and msg 共 0 条."""
    reply = call(
        "POST", CONFIG, {"action": "QUERY", "configType": "RULE", "configCode": unique("none.")}, token=admin
    )

    assert reply.code == 0, reply.body
    assert (
        reply.data["configId"] is None and reply.data["configList"] == [] and reply.data["msg"] == "共 0 条"
    )


def test_a_unit_price_beyond_its_column_is_400_not_a_500(admin: str) -> None:
    """Given a price document whose unit price is 1000000 (the column holds 999999.9999), when CREATE is
    sent, then 400 naming the prices and no template is written (before, the database refused it: a 500)."""
    code = unique("P")
    document = price_doc()
    document["components"][0]["prices"] = ["2.15", "3.23", "1000000"]

    reply = save(admin, "CREATE", code, document)

    expect_error(reply, 400, mentions="prices")
    assert templates(code) == 0


# ------------------------------------------------------------------------------ RULE -----------
def test_rule_parameters_are_versioned(admin: str) -> None:
    """Given a new RULE parameter, when it is created, created again, and updated, then v1 is ACTIVE, the
    second CREATE is 409 with the existing id, the UPDATE makes v2 ACTIVE and v1 EXPIRED, and each change is
    audited (PARAM_CREATE, PARAM_UPDATE)."""
    code = unique("rule.test.")

    created = save(admin, "CREATE", code, "7", config_type="RULE")
    twice = save(admin, "CREATE", code, "8", config_type="RULE")
    updated = save(admin, "UPDATE", code, "9", config_type="RULE")

    assert created.code == 0 and (created.data["configVersion"], created.data["effectStatus"]) == (
        "1",
        "ACTIVE",
    )
    expect_error(twice, 409, mentions="configCode")
    assert twice.data == {"configId": created.data["configId"]}
    assert updated.code == 0 and (updated.data["configVersion"], updated.data["configValue"]) == ("2", "9")
    listed = [
        (v["configVersion"], v["configValue"], v["effectStatus"]) for v in versions(admin, code, "RULE")
    ]
    assert listed == [("2", "9", "ACTIVE"), ("1", "7", "EXPIRED")]
    assert [r["operation"] for r in audit_rows("biz_parameter_settings", created.data["configId"])] == [
        "PARAM_CREATE"
    ]
    assert [r["operation"] for r in audit_rows("biz_parameter_settings", updated.data["configId"])] == [
        "PARAM_UPDATE"
    ]


def test_updating_an_unknown_or_hidden_parameter_is_404(admin: str) -> None:
    """Given a code that is no parameter and the hidden demo marker, when UPDATE is sent for either, then
    404, and the hidden marker is not listed by QUERY."""
    marker_before = sql_scalar(
        "SELECT count(*) FROM biz_parameter_settings WHERE config_code = 'demo.dataset.version'"
    )

    expect_error(
        save(admin, "UPDATE", unique("rule.none."), "1", config_type="RULE"), 404, mentions="configCode"
    )
    expect_error(save(admin, "UPDATE", "demo.dataset.version", "1", config_type="RULE"), 404)

    assert versions(admin, "demo.dataset.version", "RULE") == []
    assert sql_scalar(
        "SELECT count(*) FROM biz_parameter_settings WHERE config_code = 'demo.dataset.version'"
    ) == (marker_before)


def test_a_parameter_keeps_its_type(admin: str) -> None:
    """Given a RULE parameter, when it is updated as a PAGE parameter, then 409 naming configType."""
    code = unique("rule.typed.")
    save(admin, "CREATE", code, "1", config_type="RULE")

    expect_error(save(admin, "UPDATE", code, "2", config_type="PAGE"), 409, mentions="configType")


# ----------------------------------------------------------------------------- tariffs ---------
def test_the_demo_resident_tariff_loads(admin: str) -> None:
    """Given the demo RESIDENT template, when its tariff is loaded, then it has the annual tiers 216/300
    widened by 54/75 per person above 4, and the three components."""
    from waterrev.db import UnitOfWork
    from waterrev.pricing.config import active_template_id, load_tariff

    with UnitOfWork() as uow:
        template = active_template_id(uow, "RESIDENT", dt.date(2024, 1, 1))
        assert template is not None
        tariff = load_tariff(uow, template)

    assert tariff.tier_mode == "ANNUAL" and tariff.base_population == 4
    assert tariff.bounds == (Decimal(216), Decimal(300)) and tariff.population_step == (
        Decimal(54),
        Decimal(75),
    )
    assert [c.code for c in tariff.components] == ["WATER_FEE", "SEWAGE_FEE", "RESOURCE_FEE"]


def _broken_template(defect: str) -> int:
    code = unique("BRK")
    tid = int(
        sql_exec(
            "INSERT INTO biz_price_template (code, name, version, tier_mode, status, effective_date)"
            " VALUES (:c, 'broken', 1, 'MONTHLY', 'ACTIVE', '2020-01-01') RETURNING id",
            {"c": code},
        )
    )
    if defect != "no tiers":
        sql_exec(
            "INSERT INTO biz_price_tier_adjustment (template_id, tier_no, upper_bound) VALUES (:t, 1, 20), (:t, 2, NULL)",
            {"t": tid},
        )
    if defect != "no components":
        comp = sql_exec(
            "INSERT INTO biz_cost_component (template_id, code, name, tax_rate) VALUES (:t, 'WATER_FEE', '水费', 0)"
            " RETURNING id",
            {"t": tid},
        )
        prices = (
            "(:c, 1, 2.15)" if defect == "a component missing a tier price" else "(:c, 1, 2.15), (:c, 2, 3.2)"
        )
        sql_exec(f"INSERT INTO biz_cost_component_price VALUES {prices}", {"c": comp})
    return tid


@pytest.mark.parametrize("defect", ["no tiers", "no components", "a component missing a tier price", "none"])
def test_load_tariff_refuses_an_incomplete_template_with_1_002_002_003(defect: str) -> None:
    """Given a template (written behind the API) with no tiers, no components, or a component lacking a
    tier's price, when its tariff is loaded, then AppError 1_002_002_003; the same template complete loads."""
    from waterrev.db import UnitOfWork
    from waterrev.errors import AppError
    from waterrev.pricing.config import load_tariff

    tid = _broken_template(defect)

    with UnitOfWork() as uow:
        if defect == "none":
            assert load_tariff(uow, tid).tier_count == 2
            return
        with pytest.raises(AppError) as raised:
            load_tariff(uow, tid)

    assert raised.value.error.code == 1_002_002_003


def test_load_tariff_of_a_missing_template_is_1_002_002_003() -> None:
    """Given a template id that does not exist, when its tariff is loaded, then 1_002_002_003."""
    from waterrev.db import UnitOfWork
    from waterrev.errors import AppError
    from waterrev.pricing.config import load_tariff

    with UnitOfWork() as uow, pytest.raises(AppError) as raised:
        load_tariff(uow, 987654321)

    assert raised.value.error.code == 1_002_002_003


# ------------------------------------------------------------------------- permissions ---------
@pytest.mark.parametrize(
    ("method", "permission"),
    [("GET", "revenue:parameter:query"), ("POST", "revenue:parameter:update")],
)
def test_a_user_without_the_parameter_permission_gets_403(method: str, permission: str) -> None:
    """Given gulou (no revenue:parameter:*), when it queries or creates a parameter, then 403 naming the
    permission and nothing is written."""
    token = admin_login("gulou", "gulou123")
    code = unique("rule.denied.")
    body = (
        None
        if method == "GET"
        else {"action": "CREATE", "configType": "RULE", "configCode": code, "configValue": "1"}
    )

    reply = call(method, CONFIG, body, token=token, query="configType=RULE" if method == "GET" else "")

    expect_error(reply, 403, mentions=permission)
    assert sql_scalar("SELECT count(*) FROM biz_parameter_settings WHERE config_code = :c", {"c": code}) == 0


# ------------------------------------------------------------------------- scoped versions -----
def _dept_under(parent: int) -> int:
    dept = int(
        sql_exec(
            "INSERT INTO system_dept (name, parent_id, tree_path) VALUES (:n, :p, '') RETURNING id",
            {"n": unique("测试所"), "p": parent},
        )
    )
    sql_exec(
        "UPDATE system_dept SET tree_path = (SELECT tree_path FROM system_dept WHERE id = :p) || id || '/'"
        " WHERE id = :d",
        {"p": parent, "d": dept},
    )
    return dept


def _state(code: str, version: int) -> tuple[str, Any]:
    row = sql_all(
        "SELECT status, expire_date FROM biz_price_template WHERE code = :c AND version = :v",
        {"c": code, "v": version},
    )[0]
    return str(row["status"]), row["expire_date"]


def test_publishing_a_dept_version_leaves_the_global_one_active(admin: str) -> None:
    """Given a GLOBAL version ACTIVE since 2024-01-01, when a version for one dept is published from
    2024-07-01, then the GLOBAL version stays ACTIVE with no expire date and QUERY lists both with their
    scopes."""
    code = unique("P")
    published(admin, code, "2024-01-01")
    dept = _dept_under(2)

    reply = save(
        admin, "CREATE", code, price_doc(), effectStatus="ACTIVE", effectiveDate="2024-07-01", deptId=dept
    )

    assert reply.code == 0 and reply.data["effectScope"] == f"DEPT:{dept}", reply.body
    assert _state(code, 1) == ("ACTIVE", None)
    listed = {
        v["configVersion"]: (v["effectScope"], v["effectStatus"], v["expireDate"])
        for v in versions(admin, code)
    }
    assert listed == {"1": ("GLOBAL", "ACTIVE", None), "2": (f"DEPT:{dept}", "ACTIVE", None)}


def test_a_second_dept_version_ends_only_the_first_of_that_dept(admin: str) -> None:
    """Given a GLOBAL version and versions of two depts, when the first dept publishes a second version
    from 2025-03-01, then only that dept's first version expires (2025-02-28); the GLOBAL one and the other
    dept's stay ACTIVE and unexpired."""
    code = unique("P")
    published(admin, code, "2024-01-01")
    dept, neighbour = _dept_under(2), _dept_under(2)
    for d in (dept, neighbour):
        save(admin, "CREATE", code, price_doc(), effectStatus="ACTIVE", effectiveDate="2024-06-01", deptId=d)

    reply = save(
        admin, "CREATE", code, price_doc(), effectStatus="ACTIVE", effectiveDate="2025-03-01", deptId=dept
    )

    assert reply.code == 0, reply.body
    assert _state(code, 2) == ("ACTIVE", dt.date(2025, 2, 28))
    assert _state(code, 1) == ("ACTIVE", None)
    assert _state(code, 3) == ("ACTIVE", None)


def test_the_effective_date_conflict_is_checked_within_the_scope(admin: str) -> None:
    """Given a GLOBAL version from 2024-06-01, when a dept publishes a version from 2024-01-01, then it is
    accepted (the GLOBAL version is another scope); a second version of that dept from 2023-12-01 is 409
    naming effectiveDate and stays DRAFT."""
    code = unique("P")
    published(admin, code, "2024-06-01")
    dept = _dept_under(2)

    earlier = save(
        admin, "CREATE", code, price_doc(), effectStatus="ACTIVE", effectiveDate="2024-01-01", deptId=dept
    )
    save(admin, "CREATE", code, price_doc(), deptId=dept)
    before = save(
        admin, "UPDATE", code, effectStatus="ACTIVE", effectiveDate="2023-12-01", configVersion=3, deptId=dept
    )

    assert earlier.code == 0, earlier.body
    expect_error(before, 409, mentions="effectiveDate")
    assert _state(code, 3) == ("DRAFT", None)
    assert _state(code, 1) == ("ACTIVE", None)


def test_the_active_version_is_the_dept_s_then_its_parent_s_then_global(admin: str) -> None:
    """Given a GLOBAL version and one of a dept with a child dept, when the active version is asked for
    each dept on a date, then the dept and its child get the dept's version, another dept and no dept the
    GLOBAL one, and before the dept's version starts the dept gets the GLOBAL one."""
    from waterrev.db import UnitOfWork
    from waterrev.pricing.config import active_template_id

    code = unique("P")
    global_id = published(admin, code, "2024-01-01")["configId"]
    dept = _dept_under(2)
    child, other = _dept_under(dept), _dept_under(3)
    reply = save(
        admin, "CREATE", code, price_doc(), effectStatus="ACTIVE", effectiveDate="2024-07-01", deptId=dept
    )
    dept_id = reply.data["configId"]

    on = dt.date(2024, 8, 1)
    with UnitOfWork() as uow:
        found = {d: active_template_id(uow, code, on, d) for d in (dept, child, other, None)} | {
            "before": active_template_id(uow, code, dt.date(2024, 6, 30), dept)
        }

    assert found == {dept: dept_id, child: dept_id, other: global_id, None: global_id, "before": global_id}


def test_a_rule_parameter_has_a_version_per_scope(admin: str) -> None:
    """Given a GLOBAL RULE parameter, when a dept creates its own value and updates it, then the GLOBAL
    version stays ACTIVE, the dept's first version expires, and the dept, its child and another dept each
    read the right value (allow-partial read for a customer of the dept is the dept's)."""
    from waterrev.db import UnitOfWork

    code = unique("rule.scoped.")
    dept = _dept_under(2)
    child, other = _dept_under(dept), _dept_under(3)
    created = save(admin, "CREATE", code, "1", config_type="RULE")

    own = save(admin, "CREATE", code, "2", config_type="RULE", deptId=dept)
    updated = save(admin, "UPDATE", code, "3", config_type="RULE", deptId=dept)

    assert own.code == 0 and own.data["effectScope"] == f"DEPT:{dept}", own.body
    assert updated.code == 0, updated.body
    listed = [
        (v["configVersion"], v["configValue"], v["effectStatus"]) for v in versions(admin, code, "RULE")
    ]
    assert listed == [("3", "3", "ACTIVE"), ("2", "2", "EXPIRED"), ("1", "1", "ACTIVE")]
    assert created.data["configVersion"] == "1"
    from waterrev.scoped import param_row

    with UnitOfWork() as uow:
        values = {
            d: (param_row(uow, code, dept_id=d) or {}).get("config_value") for d in (dept, child, other, None)
        }
    assert values == {dept: "3", child: "3", other: "1", None: "1"}


def test_allow_partial_follows_the_customer_s_dept(admin: str) -> None:
    """Given allow-partial off company-wide, when one dept turns it on, then the counter reads it on for a
    customer of that dept (and of its child dept) and off for a customer of another dept."""
    from tests.support import new_customer
    from waterrev.db import UnitOfWork
    from waterrev.payments.collection import allow_partial

    dept = _dept_under(2)
    child = _dept_under(dept)
    reply = save(admin, "CREATE", "revenue.collection.allow-partial", "true", config_type="RULE", deptId=dept)
    assert reply.code == 0, reply.body
    ours, inherits, theirs = (int(new_customer(admin, dept_id=d)["id"]) for d in (dept, child, 3))

    with UnitOfWork() as uow:
        seen = [allow_partial(uow, c) for c in (ours, inherits, theirs)]

    assert seen == [True, True, False]


def test_a_scoped_value_is_changed_only_within_the_callers_data_scope(admin: str) -> None:
    """Given a 鼓楼 user whose data scope is its own dept, when it creates a RULE for 鼓楼, then it is
    saved; for 台江 (outside its scope) the answer is a 404 naming deptId, as for a dept that does not
    exist; a GLOBAL value (no deptId) is a 403 naming deptId, kept for users of every dept; an operatorId
    other than the caller is a 403 naming operatorId. Nothing is written by a refused request."""
    from tests.support import GULOU_DEPT, TAIJIANG_DEPT, new_admin_user

    gulou = admin_login(new_admin_user(dept_id=GULOU_DEPT, data_scope="DEPT_ONLY"), "Passw0rd!")
    code = unique("rule.scope.")
    me = int(sql_scalar("SELECT id FROM system_users WHERE username = 'admin'"))

    own = save(gulou, "CREATE", code, "3", config_type="RULE", deptId=GULOU_DEPT)
    other = save(gulou, "CREATE", code, "4", config_type="RULE", deptId=TAIJIANG_DEPT)
    absent = save(admin, "CREATE", code, "5", config_type="RULE", deptId=999_999)
    global_ = save(gulou, "CREATE", code, "6", config_type="RULE")
    impostor = save(admin, "CREATE", code, "7", config_type="RULE", deptId=GULOU_DEPT, operatorId=me + 1000)

    assert own.code == 0 and own.data["effectScope"] == f"DEPT:{GULOU_DEPT}", own.body
    expect_error(other, 404, mentions="deptId")
    assert other.body == {**absent.body, "msg": absent.msg.replace("999999", str(TAIJIANG_DEPT))}
    expect_error(global_, 403, mentions="deptId")
    expect_error(impostor, 403, mentions="operatorId")
    values = sql_all(
        "SELECT config_value, dept_id FROM biz_parameter_settings WHERE config_code = :c ORDER BY id",
        {"c": code},
    )
    assert values == [{"config_value": "3", "dept_id": GULOU_DEPT}]


def test_a_dept_user_cannot_edit_or_publish_another_scopes_price(admin: str) -> None:
    """Given a GLOBAL price draft v2 over a published GLOBAL v1, and a 台江 draft, when a 鼓楼 user (its
    own dept only) sends UPDATE + ACTIVE for them naming its own dept, then each is a 404 (no such draft in
    its scope): the GLOBAL v1 stays in force unexpired and the drafts stay DRAFT; with its own dept's draft
    the same request publishes it, and the GLOBAL version is untouched."""
    from tests.support import GULOU_DEPT, TAIJIANG_DEPT, new_admin_user

    gulou = admin_login(new_admin_user(dept_id=GULOU_DEPT, data_scope="DEPT_ONLY"), "Passw0rd!")
    code = unique("P")
    published(admin, code, "2024-01-01")
    assert save(admin, "CREATE", code, price_doc()).code == 0  # GLOBAL draft v2
    assert save(admin, "CREATE", code, price_doc(), deptId=TAIJIANG_DEPT).code == 0  # 台江 draft v3

    on_global = save(
        gulou, "UPDATE", code, price_doc(name="改"), effectStatus="ACTIVE", configVersion=2, deptId=GULOU_DEPT
    )
    on_taijiang = save(gulou, "UPDATE", code, effectStatus="ACTIVE", configVersion=3, deptId=GULOU_DEPT)
    newest_draft = save(gulou, "UPDATE", code, effectStatus="ACTIVE", deptId=GULOU_DEPT)

    for refused in (on_global, on_taijiang, newest_draft):
        expect_error(refused, 404, mentions="configCode")
    assert [_state(code, v) for v in (1, 2, 3)] == [("ACTIVE", None), ("DRAFT", None), ("DRAFT", None)]
    assert save(gulou, "CREATE", code, price_doc(), deptId=GULOU_DEPT).code == 0  # its own draft v4
    own = save(gulou, "UPDATE", code, effectStatus="ACTIVE", effectiveDate="2024-02-01", deptId=GULOU_DEPT)
    assert own.code == 0 and own.data["effectScope"] == f"DEPT:{GULOU_DEPT}", own.body
    assert _state(code, 1) == ("ACTIVE", None) and _state(code, 4)[0] == "ACTIVE"


def test_a_rule_value_the_code_cannot_read_is_refused_when_saved(admin: str) -> None:
    """Given the reading warn ratio, a RULE the readings read as a positive number, when a dept saves
    "abc", then 400 naming configValue and nothing is stored (before: it was stored, and every later
    reading in that dept answered 500)."""
    body = {
        "action": "CREATE",
        "configType": "RULE",
        "configCode": "revenue.reading.warn-ratio",
        "configValue": "abc",
        "deptId": 3,
    }

    reply = call("POST", "/admin-api/revenue/parameter/config", body, token=admin)

    expect_error(reply, 400, mentions="configValue")
    assert (
        sql_scalar(
            "SELECT count(*) FROM biz_parameter_settings WHERE config_code = 'revenue.reading.warn-ratio'"
            " AND config_value = 'abc'"
        )
        == 0
    )


def test_a_stored_value_that_cannot_be_read_falls_back_to_the_default() -> None:
    """Given an unreadable warn ratio stored before saving checked it, when a reading of that dept is
    validated, then the default ratio applies instead of a 500."""
    from waterrev.db import UnitOfWork
    from waterrev.metering.readings import warn_ratio

    sql_exec(
        "INSERT INTO biz_parameter_settings (config_type, config_code, config_value, config_version, dept_id,"
        " effect_status) VALUES ('RULE', 'revenue.reading.warn-ratio', 'not-a-number', 999, 3, 'ACTIVE')"
    )
    try:
        cust = sql_scalar("SELECT id FROM biz_cust WHERE dept_id = 3 ORDER BY id LIMIT 1")
        with UnitOfWork() as uow:
            assert warn_ratio(uow, cust) == Decimal("3")
    finally:
        sql_exec(
            "DELETE FROM biz_parameter_settings WHERE config_version = 999 AND config_value = 'not-a-number'"
        )


def test_a_version_dated_in_the_future_leaves_the_one_in_force_until_its_day(admin: str, on: Any) -> None:
    """Given an office's RULE parameter in force since 2020, when an UPDATE dated 2031-01-01 is saved on
    2030-12-01, then until 2030-12-31 the office still reads the old value and both versions are ACTIVE;
    from 2031-01-01 it reads the new one; and an UPDATE in force at once then retires both."""
    from waterrev.db import UnitOfWork
    from waterrev.scoped import param_row, param_values

    code = unique("rule.future.")
    dept = new_dept()
    on(dt.date(2030, 12, 1))
    assert (
        save(admin, "CREATE", code, "old", config_type="RULE", deptId=dept, effectiveDate="2020-01-01").code
        == 0
    )

    planned = save(admin, "UPDATE", code, "new", config_type="RULE", deptId=dept, effectiveDate="2031-01-01")

    assert planned.code == 0, planned.body
    statuses = [(v["configValue"], v["effectStatus"]) for v in versions(admin, code, "RULE")]
    assert statuses == [("new", "ACTIVE"), ("old", "ACTIVE")]

    def read() -> tuple[str | None, str | None]:
        with UnitOfWork() as uow:
            row = param_row(uow, code, dept_id=dept)
            return (None if row is None else row["config_value"]), param_values(uow, code, {dept})[dept]

    assert read() == ("old", "old")
    on(dt.date(2030, 12, 31))
    assert read() == ("old", "old")
    on(dt.date(2031, 1, 1))
    assert read() == ("new", "new")

    now = save(admin, "UPDATE", code, "newer", config_type="RULE", deptId=dept)
    assert now.code == 0, now.body
    statuses = [(v["configValue"], v["effectStatus"]) for v in versions(admin, code, "RULE")]
    assert statuses == [("newer", "ACTIVE"), ("new", "EXPIRED"), ("old", "EXPIRED")]
    assert read() == ("newer", "newer")
