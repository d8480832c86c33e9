"""IF-REV-002 客户主数据维护: field validation, conflicts with rollback, optimistic locking, stopped
customers, status changes, and one audit row per change in the same transaction."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.support import (
    GULOU_DEPT,
    admin_login,
    audit_rows,
    call,
    expect_error,
    new_customer,
    sql_scalar,
    unique,
)

CREATE = "/admin-api/revenue/customer/create"
UPDATE = "/admin-api/revenue/customer/update"
STATUS = "/admin-api/revenue/customer/update-status"


def valid_body(**extra: Any) -> dict[str, Any]:
    return {
        "code": unique("KT"),
        "name": unique("校验客户"),
        "custType": "RESIDENT",
        "mobile": "13712345678",
        "address": "鼓楼区校验路 1 号",
        "deptId": GULOU_DEPT,
        "idType": "ID_CARD",
        "idNo": "11010519491231002X",
        "meterList": [{"meterNo": unique("MV"), "caliber": "DN20"}],
        **extra,
    }


def rows_named(body: dict[str, Any]) -> int:
    return int(
        sql_scalar(
            "SELECT count(*) FROM biz_cust WHERE name = :n OR code = :c",
            {"n": body["name"], "c": body["code"]},
        )
    )


def meters_numbered(meter_no: str) -> int:
    return int(sql_scalar("SELECT count(*) FROM biz_meter WHERE meter_no = :m", {"m": meter_no}))


# ------------------------------------------------------------------------- validation ---------
INVALID = {
    "bad mobile": ({"mobile": "1381234"}, "mobile"),
    "ID number with a wrong checksum": ({"idNo": "110105194912310021"}, "idNo"),
    "ID number without idType": ({"idType": None}, "idType"),
    "enterprise invoice without taxNo": (
        {"invoiceInfo": {"invoiceTitle": "某公司", "titleType": "ENTERPRISE", "email": "a@b.cn"}},
        "taxNo",
    ),
    "electronic invoice without email or mobile": ({"invoiceInfo": {"invoiceTitle": "张三"}}, "email"),
    "bad invoice email": ({"invoiceInfo": {"invoiceTitle": "张三", "email": "not-an-email"}}, "email"),
    "unknown custType": ({"custType": "ALIEN"}, "custType"),
    "extra unknown field": ({"nickName": "小张"}, "nickName"),
    "missing name": ({"name": ""}, "name"),
    "population out of range": ({"population": 0}, "population"),
    "duplicate meterNo in meterList": (
        {
            "meterList": [
                {"meterNo": "DUP-0001", "caliber": "DN20"},
                {"meterNo": "DUP-0001", "caliber": "DN25"},
            ]
        },
        "meterList",
    ),
    "initialReading not below maxReading": (
        {"meterList": [{"meterNo": "RD-0001", "caliber": "DN20", "initialReading": 100, "maxReading": 100}]},
        "initialReading",
    ),
    "unknown caliber": ({"meterList": [{"meterNo": "CB-0001", "caliber": "DN999"}]}, "caliber"),
    "bad collection bank account": (
        {"collectionRel": {"bankCode": "ICBC", "bankAccount": "6222-12AB", "accountName": "张三"}},
        "bankAccount",
    ),
    "bad invoice bank account": (
        {"invoiceInfo": {"invoiceTitle": "张三", "email": "a@b.cn", "bankAccount": "123"}},
        "bankAccount",
    ),
    "two primary contacts": (
        {"contactList": [{"name": "甲", "isPrimary": True}, {"name": "乙", "isPrimary": True}]},
        "contactList",
    ),
}


@pytest.mark.parametrize(("change", "field"), list(INVALID.values()), ids=list(INVALID))
def test_create_rejects_an_invalid_field_naming_it_and_writes_nothing(
    admin: str, change: dict[str, Any], field: str
) -> None:
    """Given a create request with one invalid field, when it is sent, then 400 with the field named in
    msg, and no customer row (by name or code) is written."""
    body = valid_body(**change)
    before = rows_named(body)

    reply = call("POST", CREATE, body, token=admin)

    expect_error(reply, 400, mentions=field)
    assert before == 0 and rows_named(body) == 0


def test_valid_body_of_the_validation_cases_is_accepted(admin: str) -> None:
    """Given the base body the validation cases start from, when sent as is, then it is created (so each
    rejection above is due to its one change)."""
    body = valid_body()

    reply = call("POST", CREATE, body, token=admin)

    assert reply.code == 0, reply.body
    assert reply.data["code"] == body["code"] and rows_named(body) == 1


def test_duplicate_customer_code_is_409_with_the_existing_id(admin: str) -> None:
    """Given a customer with a code, when another is created with the same code, then 409 carrying the
    existing id, and the second one is not written."""
    first = valid_body()
    created = call("POST", CREATE, first, token=admin)
    second = valid_body(code=first["code"])

    reply = call("POST", CREATE, second, token=admin)

    expect_error(reply, 409, mentions="code")
    assert reply.data == {"id": created.data["id"]}
    assert int(sql_scalar("SELECT count(*) FROM biz_cust WHERE name = :n", {"n": second["name"]})) == 0


def test_meter_bound_to_another_customer_is_409_and_the_whole_create_rolls_back(admin: str) -> None:
    """Given a meter bound to an active customer, when a new customer lists a fresh meter and that meter,
    then 409 naming meterList, and neither the customer, its account nor the fresh meter is written."""
    taken = new_customer(admin)
    taken_no = sql_scalar(
        "SELECT m.meter_no FROM biz_meter m JOIN biz_cust_meter cm ON cm.meter_id = m.id"
        " WHERE cm.cust_id = :c",
        {"c": taken["id"]},
    )
    fresh_no = unique("MF")
    body = valid_body(
        meterList=[{"meterNo": fresh_no, "caliber": "DN20"}, {"meterNo": taken_no, "caliber": "DN20"}]
    )

    reply = call("POST", CREATE, body, token=admin)

    expect_error(reply, 409, mentions="meterList")
    assert reply.data == {"meterNo": taken_no}
    assert rows_named(body) == 0
    assert meters_numbered(fresh_no) == 0
    assert (
        sql_scalar(
            "SELECT count(*) FROM biz_operat_log WHERE operation = 'CUSTOMER_CREATE' AND after_data ->> 'code' = :c",
            {"c": body["code"]},
        )
        == 0
    )
    assert (
        int(sql_scalar("SELECT count(*) FROM biz_account WHERE account_no = :a", {"a": "ZH" + body["code"]}))
        == 0
    )
    assert (
        sql_scalar(
            "SELECT cust_id FROM biz_cust_meter m JOIN biz_meter bm ON bm.id = m.meter_id"
            " WHERE bm.meter_no = :n AND m.status = 'ACTIVE'",
            {"n": taken_no},
        )
        == taken["id"]
    )


def test_create_writes_one_audit_row(admin: str) -> None:
    """Given a create, when it succeeds, then exactly one CUSTOMER_CREATE audit row by admin."""
    cust = new_customer(admin)

    rows = audit_rows("biz_cust", cust["id"])

    assert [r["operation"] for r in rows] == ["CUSTOMER_CREATE"]
    assert rows[0]["user_name"] == "admin" and rows[0]["user_type"] == "ADMIN" and rows[0]["request_id"]


# ---------------------------------------------------------------------------- update -----------
def test_update_changes_fields_bumps_version_and_audits_before_and_after(
    admin: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Given a customer at version 0, when its name, address and mobile are updated with version 0, then
    the answer shows the change at version 1 and one CUSTOMER_UPDATE audit row holds before/after and
    the request id of the call."""
    from waterrev.local import gateway

    cust = new_customer(admin)
    request_id = uuid.uuid4()
    monkeypatch.setattr(gateway.uuid, "uuid4", lambda: request_id)

    reply = call(
        "PUT",
        UPDATE,
        {
            "id": cust["id"],
            "version": 0,
            "name": "改名客户",
            "address": "鼓楼区新址 9 号",
            "mobile": "13598761234",
        },
        token=admin,
    )
    monkeypatch.undo()

    assert reply.code == 0, reply.body
    assert reply.data["name"] == "改名客户" and reply.data["address"] == "鼓楼区新址 9 号"
    assert reply.data["mobile"] == "135****1234" and reply.data["version"] == 1
    rows = audit_rows("biz_cust", cust["id"], "CUSTOMER_UPDATE")
    assert len(rows) == 1
    row = rows[0]
    assert row["request_id"] == str(request_id)
    assert row["before_data"]["name"] == "测试客户" and row["before_data"]["mobile"] == "137****5678"
    assert row["after_data"]["name"] == "改名客户" and row["after_data"]["address"] == "鼓楼区新址 9 号"
    assert row["after_data"]["mobile"] == "135****1234"
    assert sql_scalar("SELECT version FROM biz_cust WHERE id = :id", {"id": cust["id"]}) == 1


def test_update_with_a_stale_version_is_409_and_changes_nothing(admin: str) -> None:
    """Given a customer already updated to version 1, when an update still carries version 0, then 409
    with the current version, the name stays, and no audit row is added."""
    cust = new_customer(admin)
    assert (
        call("PUT", UPDATE, {"id": cust["id"], "version": 0, "address": "第一次修改"}, token=admin).code == 0
    )

    stale = call("PUT", UPDATE, {"id": cust["id"], "version": 0, "name": "过期修改"}, token=admin)

    expect_error(stale, 409, mentions="version")
    assert stale.data == {"version": 1}
    assert sql_scalar("SELECT name FROM biz_cust WHERE id = :id", {"id": cust["id"]}) == "测试客户"
    assert len(audit_rows("biz_cust", cust["id"], "CUSTOMER_UPDATE")) == 1


def test_failing_update_rolls_back_the_change_and_its_audit_row(admin: str) -> None:
    """Given a customer, when an update renames it but also removes a meter it does not have, then 400
    naming removeMeterIds, the name and version are unchanged and no audit row is written."""
    cust = new_customer(admin)

    reply = call(
        "PUT", UPDATE, {"id": cust["id"], "name": "不该生效", "removeMeterIds": [987654321]}, token=admin
    )

    expect_error(reply, 400, mentions="removeMeterIds")
    row = sql_scalar("SELECT name || ':' || version FROM biz_cust WHERE id = :id", {"id": cust["id"]})
    assert row == "测试客户:0"
    assert audit_rows("biz_cust", cust["id"], "CUSTOMER_UPDATE") == []


def test_update_adding_a_taken_meter_is_409_and_rolls_back(admin: str) -> None:
    """Given two customers, when one is renamed and given the other's meter in one update, then 409 and
    neither the rename nor an audit row is kept."""
    owner, other = new_customer(admin), new_customer(admin)
    taken_no = sql_scalar(
        "SELECT m.meter_no FROM biz_meter m JOIN biz_cust_meter cm ON cm.meter_id = m.id"
        " WHERE cm.cust_id = :c",
        {"c": owner["id"]},
    )

    reply = call(
        "PUT",
        UPDATE,
        {"id": other["id"], "name": "抢表客户", "addMeters": [{"meterNo": taken_no, "caliber": "DN20"}]},
        token=admin,
    )

    expect_error(reply, 409, mentions="meterList")
    assert sql_scalar("SELECT name FROM biz_cust WHERE id = :id", {"id": other["id"]}) == "测试客户"
    assert audit_rows("biz_cust", other["id"], "CUSTOMER_UPDATE") == []


def test_update_of_an_unknown_customer_is_customer_not_found(admin: str) -> None:
    """Given no such customer, when it is updated, then 1_002_001_001."""
    expect_error(call("PUT", UPDATE, {"id": 987_654_321, "name": "无此人"}, token=admin), 1_002_001_001)


def test_clerk_cannot_update_another_depts_customer(admin: str) -> None:
    """Given a 台江 customer, when gulou updates it, then 1_002_001_001 (as if missing) and nothing changes."""
    cust = new_customer(admin, dept_id=3)
    gulou = admin_login("gulou", "gulou123")

    reply = call("PUT", UPDATE, {"id": cust["id"], "name": "越权修改"}, token=gulou)

    expect_error(reply, 1_002_001_001)
    assert sql_scalar("SELECT name FROM biz_cust WHERE id = :id", {"id": cust["id"]}) == "测试客户"


# --------------------------------------------------------------------- stopped customers -------
def test_stopped_customer_blocks_update_and_status_changes_until_reactivated(admin: str) -> None:
    """Given a customer stopped via update-status, when it is updated or its account status changed, then
    1_002_001_001 with its status; when it is set back to NORMAL, then that works and updates work again."""
    cust = new_customer(admin)
    stopped = call("PUT", STATUS, {"id": cust["id"], "status": "STOPPED", "reason": "销户停用"}, token=admin)
    assert stopped.code == 0 and stopped.data["status"] == "STOPPED", stopped.body

    update = call("PUT", UPDATE, {"id": cust["id"], "name": "停用后修改"}, token=admin)
    account = call(
        "PUT",
        STATUS,
        {"id": cust["id"], "accountId": cust["accountId"], "accountStatus": "FROZEN", "reason": "停用后冻结"},
        token=admin,
    )
    again = call("PUT", STATUS, {"id": cust["id"], "status": "STOPPED", "reason": "重复停用"}, token=admin)

    for reply in (update, account, again):
        expect_error(reply, 1_002_001_001)
        assert reply.data == {"custId": cust["id"], "status": "STOPPED"}
    assert sql_scalar("SELECT status FROM biz_account WHERE id = :a", {"a": cust["accountId"]}) == "NORMAL"
    assert [r["operation"] for r in audit_rows("biz_cust", cust["id"])] == [
        "CUSTOMER_CREATE",
        "CUSTOMER_STATUS",
    ]

    restored = call("PUT", STATUS, {"id": cust["id"], "status": "NORMAL", "reason": "恢复"}, token=admin)
    updated = call("PUT", UPDATE, {"id": cust["id"], "name": "恢复后修改"}, token=admin)

    assert restored.code == 0 and restored.data["status"] == "NORMAL", restored.body
    assert updated.code == 0 and updated.data["name"] == "恢复后修改", updated.body
    statuses = [
        (r["before_data"]["status"], r["after_data"]["status"])
        for r in audit_rows("biz_cust", cust["id"], "CUSTOMER_STATUS")
    ]
    assert statuses == [("NORMAL", "STOPPED"), ("STOPPED", "NORMAL")]


# ----------------------------------------------------------------------- status changes --------
def test_freezing_the_account_is_audited_once(admin: str) -> None:
    """Given a customer, when its account is frozen, then the answer and the row say FROZEN and one
    ACCOUNT_STATUS audit row holds NORMAL -> FROZEN with the reason."""
    cust = new_customer(admin)

    reply = call(
        "PUT",
        STATUS,
        {"id": cust["id"], "accountId": cust["accountId"], "accountStatus": "FROZEN", "reason": "司法冻结"},
        token=admin,
    )

    assert reply.code == 0, reply.body
    assert reply.data["accountStatus"] == "FROZEN"
    assert sql_scalar("SELECT status FROM biz_account WHERE id = :a", {"a": cust["accountId"]}) == "FROZEN"
    rows = audit_rows("biz_account", cust["accountId"], "ACCOUNT_STATUS")
    assert len(rows) == 1
    assert rows[0]["before_data"] == {"status": "NORMAL"} and rows[0]["after_data"] == {"status": "FROZEN"}
    assert rows[0]["remark"] == "司法冻结"


def test_one_audit_row_per_change_and_none_for_a_no_op(admin: str) -> None:
    """Given a customer, when one call stops it and freezes its account, then two audit rows with one
    request id; when a later call repeats the same account status, then no row is added."""
    cust = new_customer(admin)

    both = call(
        "PUT",
        STATUS,
        {
            "id": cust["id"],
            "status": "STOPPED",
            "accountId": cust["accountId"],
            "accountStatus": "FROZEN",
            "reason": "停用并冻结",
        },
        token=admin,
    )
    # reactivating is allowed on a stopped customer; the account is already FROZEN: a no-op for it
    repeat = call(
        "PUT",
        STATUS,
        {
            "id": cust["id"],
            "status": "NORMAL",
            "accountId": cust["accountId"],
            "accountStatus": "FROZEN",
            "reason": "恢复",
        },
        token=admin,
    )
    noop = call("PUT", STATUS, {"id": cust["id"], "status": "NORMAL", "reason": "已是正常"}, token=admin)

    assert both.code == 0 and repeat.code == 0 and noop.code == 0, (both.body, repeat.body, noop.body)
    cust_rows = audit_rows("biz_cust", cust["id"], "CUSTOMER_STATUS")
    account_rows = audit_rows("biz_account", cust["accountId"], "ACCOUNT_STATUS")
    assert len(cust_rows) == 2 and len(account_rows) == 1
    assert cust_rows[0]["request_id"] == account_rows[0]["request_id"]
    assert cust_rows[1]["request_id"] != cust_rows[0]["request_id"]


def test_status_change_of_an_account_of_another_customer_is_404_and_rolls_back(admin: str) -> None:
    """Given two customers, when one is stopped and, in the same call, the other's account is named,
    then 404 naming accountId, and the stop is rolled back with its audit row."""
    cust, other = new_customer(admin), new_customer(admin)

    reply = call(
        "PUT",
        STATUS,
        {
            "id": cust["id"],
            "status": "STOPPED",
            "accountId": other["accountId"],
            "accountStatus": "FROZEN",
            "reason": "错配",
        },
        token=admin,
    )

    expect_error(reply, 404, mentions="accountId")
    assert sql_scalar("SELECT status FROM biz_cust WHERE id = :id", {"id": cust["id"]}) == "NORMAL"
    assert audit_rows("biz_cust", cust["id"], "CUSTOMER_STATUS") == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"reason": "缺状态"}, "status"),
        ({"accountStatus": "FROZEN", "reason": "缺账户"}, "accountId"),
        ({"status": "DELETED", "reason": "非法状态"}, "status"),
        ({"status": "STOPPED"}, "reason"),
    ],
)
def test_update_status_validates_its_fields(admin: str, body: dict[str, Any], field: str) -> None:
    """Given an incomplete or invalid status change, when sent, then 400 naming the field."""
    cust = new_customer(admin)

    reply = call("PUT", STATUS, {"id": cust["id"], **body}, token=admin)

    expect_error(reply, 400, mentions=field)
    assert sql_scalar("SELECT status FROM biz_cust WHERE id = :id", {"id": cust["id"]}) == "NORMAL"
