"""IF-UP-002 用户信息, IF-UP-003 权限校验, IF-UP-004 参数字典."""

from __future__ import annotations

from tests.support import (
    GULOU_DEPT,
    TAIJIANG_DEPT,
    admin_login,
    call,
    customer_id,
    expect_error,
    new_admin_user,
    sql_exec,
    unique,
)

ME = "/admin-api/system/auth/get-permission-info"
CHECK = "/admin-api/system/permission/check"
DICT = "/admin-api/system/dict-data/simple-list"
PARAM = "/admin-api/system/param/get"
CUSTOMER_PERMS = {"revenue:customer:query", "revenue:customer:create", "revenue:customer:update"}


def test_permission_info_returns_user_dept_roles_and_permissions() -> None:
    """Given the clerk gulou, when it asks for its context, then it gets itself, 鼓楼营业所, its role,
    its permissions and a data scope that holds its dept but not 台江."""
    token = admin_login("gulou", "gulou123")

    reply = call("GET", ME, token=token)

    assert reply.code == 0, reply.body
    data = reply.data
    assert data["user"]["username"] == "gulou" and data["user"]["deptId"] == GULOU_DEPT
    assert data["dept"] == {"id": GULOU_DEPT, "name": "鼓楼营业所"}
    assert data["roles"] == ["counter_clerk"]
    assert data["roleList"][0]["dataScope"] == "DEPT_AND_CHILD"
    assert set(data["permissions"]) >= CUSTOMER_PERMS
    assert GULOU_DEPT in data["dataScopeDeptIds"] and TAIJIANG_DEPT not in data["dataScopeDeptIds"]
    assert any(m["path"] == "/revenue" for m in data["menus"])


def test_permission_info_of_admin_has_all_depts() -> None:
    """Given admin (data scope ALL), when it asks for its context, then its dept scope is unlimited (null)."""
    reply = call("GET", ME, token=admin_login())

    assert reply.code == 0
    assert reply.data["roles"] == ["super_admin"] and reply.data["dataScopeDeptIds"] is None


def test_permission_check_maps_each_permission_to_true_or_false() -> None:
    """Given gulou, when it checks a permission it has and one it lacks, then the map says true/false
    and allGranted is false."""
    token = admin_login("gulou", "gulou123")

    reply = call(
        "POST", CHECK, {"permissions": ["revenue:customer:query", "system:user:delete"]}, token=token
    )

    assert reply.code == 0, reply.body
    assert reply.data["permissions"] == {"revenue:customer:query": True, "system:user:delete": False}
    assert reply.data["allGranted"] is False
    granted = call("POST", CHECK, {"permissions": ["revenue:customer:query"]}, token=token)
    assert granted.data["allGranted"] is True


def test_data_permission_for_depts_inside_and_outside_the_callers_subtree() -> None:
    """Given gulou (DEPT_AND_CHILD on 鼓楼) and a new sub-dept under 鼓楼, when it checks 鼓楼, the
    sub-dept, 台江 and the group root, then only 鼓楼 and its sub-dept are permitted."""
    child = sql_exec(
        "INSERT INTO system_dept (name, parent_id, tree_path) SELECT :n, id, tree_path FROM system_dept"
        " WHERE id = :p RETURNING id",
        {"n": unique("鼓楼分所"), "p": GULOU_DEPT},
    )
    sql_exec("UPDATE system_dept SET tree_path = tree_path || id || '/' WHERE id = :id", {"id": child})
    token = admin_login("gulou", "gulou123")

    answers = {
        dept: call("POST", CHECK, {"deptId": dept}, token=token).data
        for dept in (GULOU_DEPT, child, TAIJIANG_DEPT, 1)
    }

    assert {d: a["dataPermitted"] for d, a in answers.items()} == {
        GULOU_DEPT: True,
        child: True,
        TAIJIANG_DEPT: False,
        1: False,
    }
    assert answers[TAIJIANG_DEPT]["allGranted"] is False


def test_data_permission_for_a_customer_follows_its_dept() -> None:
    """Given the demo customers of 鼓楼 and 台江, when gulou checks them by custId, then the 鼓楼 one is
    permitted and the 台江 one answers exactly as a customer that does not exist (1_002_001_001, the
    same message but for the id asked for, no dept); admin is permitted both."""
    gulou = admin_login("gulou", "gulou123")
    admin = admin_login()
    own, other, missing = customer_id("KH0000000001"), customer_id("KH0000000002"), 987_654_321

    mine = call("POST", CHECK, {"custId": own}, token=gulou)
    theirs = call("POST", CHECK, {"custId": other}, token=gulou)
    unknown = call("POST", CHECK, {"custId": missing}, token=gulou)
    as_admin = call("POST", CHECK, {"custId": other}, token=admin)

    assert mine.data["dataPermitted"] is True and mine.data["deptId"] == GULOU_DEPT
    expect_error(theirs, 1_002_001_001)
    expect_error(unknown, 1_002_001_001)
    assert (theirs.status, theirs.data) == (unknown.status, unknown.data)
    assert theirs.msg.replace(str(other), "#") == unknown.msg.replace(str(missing), "#")
    assert as_admin.data["dataPermitted"] is True and as_admin.data["deptId"] == TAIJIANG_DEPT


def test_data_permission_for_an_unknown_customer_is_customer_not_found() -> None:
    """Given no such customer, when its data permission is checked, then 1_002_001_001."""
    reply = call("POST", CHECK, {"custId": 987_654_321}, token=admin_login())

    expect_error(reply, 1_002_001_001)


def test_dict_list_by_type_in_sort_order() -> None:
    """Given the demo dictionaries, when biz_cust_type is asked for, then its three values in order."""
    reply = call("GET", DICT, token=admin_login(), query="dictType=biz_cust_type")

    assert reply.code == 0, reply.body
    assert [d["value"] for d in reply.data] == ["RESIDENT", "NON_RESIDENT", "SPECIAL"]
    assert {d["dictType"] for d in reply.data} == {"biz_cust_type"}
    assert reply.data[0]["label"] == "居民"


def test_dict_list_of_an_unknown_type_is_empty() -> None:
    """Given no such dict type, when asked for, then an empty list (not everything)."""
    reply = call("GET", DICT, token=admin_login(), query="dictType=no_such_type")

    assert reply.code == 0 and reply.data == []


def test_parameter_by_key() -> None:
    """Given the demo parameter cs.verify-code.ttl-minutes, when asked for by key, then its value."""
    reply = call("GET", PARAM, token=admin_login(), query="key=cs.verify-code.ttl-minutes")

    assert reply.code == 0, reply.body
    assert reply.data["configCode"] == "cs.verify-code.ttl-minutes"
    assert reply.data["configValue"] == "5" and reply.data["effectScope"] == "GLOBAL"


def test_unknown_and_invisible_parameters_are_404() -> None:
    """Given an unknown key and the invisible marker demo.dataset.version, when asked for, then both
    answer 404 and the invisible value is not served."""
    token = admin_login()

    unknown = call("GET", PARAM, token=token, query="key=no.such.key")
    hidden = call("GET", PARAM, token=token, query="key=demo.dataset.version")

    expect_error(unknown, 404)
    expect_error(hidden, 404)
    assert hidden.data is None


def test_a_dept_parameter_names_its_dept_as_if_rev_012_does() -> None:
    """Given a RULE parameter with a GLOBAL value and a value of 鼓楼, when a 鼓楼 user and a 台江 user read
    it, then each gets its value, with effectScope DEPT:<id> for 鼓楼 and GLOBAL for 台江, as IF-REV-012
    names the scope of the same version."""
    admin, code = admin_login(), unique("rule.up4.")
    config = "/admin-api/revenue/parameter/config"
    body = {"action": "CREATE", "configType": "RULE", "configCode": code}
    assert call("POST", config, body | {"configValue": "1"}, token=admin).code == 0
    own = call("POST", config, body | {"configValue": "2", "deptId": GULOU_DEPT}, token=admin)
    assert own.code == 0, own.body
    gulou = admin_login(new_admin_user(dept_id=GULOU_DEPT), "Passw0rd!")
    taijiang = admin_login(new_admin_user(dept_id=TAIJIANG_DEPT), "Passw0rd!")

    mine = call("GET", PARAM, token=gulou, query=f"key={code}")
    theirs = call("GET", PARAM, token=taijiang, query=f"key={code}")

    assert (mine.data["configValue"], mine.data["effectScope"]) == ("2", f"DEPT:{GULOU_DEPT}")
    assert mine.data["effectScope"] == own.data["effectScope"]
    assert (theirs.data["configValue"], theirs.data["effectScope"]) == ("1", "GLOBAL")
