"""IF-CS-001 账户绑定: channel login, verification codes, BIND / UNBIND / SET_DEFAULT, idempotency,
the one-default rule, and concurrency."""

from __future__ import annotations

import json
import secrets
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.support import (
    Reply,
    bind,
    call,
    channel_login,
    cust_name,
    expect_error,
    latest_verify_code,
    member_id,
    new_customer,
    sql_all,
    sql_exec,
    sql_scalar,
    unique,
)
from waterrev.context import RequestContext
from waterrev.customers.channel import sign_channel_login
from waterrev.customers.commands import BindCommand
from waterrev.settings import get_settings

LOGIN = "/app-api/customer/auth/channel-login"
SEND = "/app-api/customer/auth/send-verify-code"
BIND = "/app-api/customer/account/bind"
LIST = "/app-api/customer/account/list"


class Member:
    """A fresh channel user with its token."""

    def __init__(self) -> None:
        self.id = unique("wx")
        self.token = channel_login(self.id)

    def send(self, cust_id: int, name: str | None = None) -> Reply:
        body = {"custId": cust_id, "custName": cust_name(cust_id) if name is None else name}
        return call("POST", SEND, body, token=self.token)

    def act(self, action: str, cust_id: int, **extra: Any) -> Reply:
        body = {
            "action": action,
            "channelType": "WECHAT",
            "channelUserId": self.id,
            "custId": cust_id,
            **extra,
        }
        return call("POST", BIND, body, token=self.token)

    def bind(self, cust_id: int, **extra: Any) -> Reply:
        return bind(self.token, self.id, cust_id, **extra)

    def bindings(self) -> list[dict[str, Any]]:
        return sql_all(
            "SELECT id, cust_id, status, is_default FROM biz_cust_app_binds"
            " WHERE channel_type = 'WECHAT' AND channel_user_id = :u ORDER BY id",
            {"u": self.id},
        )

    def defaults(self) -> list[int]:
        return [b["cust_id"] for b in self.bindings() if b["is_default"] and b["status"] == "BOUND"]


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


def attempts(member: Member, cust_id: int) -> int:
    return int(
        sql_scalar(
            "SELECT attempts FROM biz_verify_code WHERE channel_user = :m AND cust_id = :c"
            " ORDER BY id DESC LIMIT 1",
            {"m": member_id(member.id), "c": cust_id},
        )
    )


def bind_audits(member: Member) -> list[str]:
    return [
        r["operation"]
        for r in sql_all(
            "SELECT l.operation FROM biz_operat_log l JOIN biz_cust_app_binds b ON l.object_type = 'biz_cust_app_binds'"
            " AND l.object_id = CAST(b.id AS varchar) WHERE b.channel_user_id = :u ORDER BY l.id",
            {"u": member.id},
        )
    ]


# ---------------------------------------------------------------------- verification -----------
def test_bind_with_the_right_code_binds_as_default_and_uses_the_code(admin: str) -> None:
    """Given a customer and a channel user with a sent code, when it binds with that code, then BOUND,
    default, a summary of the customer, one BIND audit row, and the code cannot be used again."""
    cust = new_customer(admin)
    member = Member()

    reply = member.bind(cust["id"])

    assert reply.code == 0, reply.body
    assert reply.data["bindStatus"] == "BOUND" and reply.data["defaultFlag"] is True
    assert reply.data["custSummary"]["custId"] == cust["id"]
    assert reply.data["custSummary"]["accountId"] == cust["accountId"]
    assert bind_audits(member) == ["BIND"]
    assert (
        sql_scalar("SELECT used FROM biz_verify_code WHERE channel_user = :m", {"m": member_id(member.id)})
        is True
    )


def test_verify_code_is_sent_masked_and_stored_hashed(admin: str) -> None:
    """Given a customer, when a code is requested, then the answer shows the masked mobile and the
    stored row holds a hash, not the code."""
    cust = new_customer(admin, mobile="13655554444")
    member = Member()

    sent = member.send(cust["id"])

    assert sent.code == 0 and sent.data == {"mobile": "136****4444", "expireSeconds": 300}
    code = latest_verify_code(cust["id"])
    stored = sql_scalar("SELECT code_hash FROM biz_verify_code WHERE cust_id = :c", {"c": cust["id"]})
    assert code not in stored and len(stored) == 64


def test_wrong_code_is_400_naming_verify_code_and_counts_attempts(admin: str) -> None:
    """Given a sent code, when BIND uses a wrong code twice, then 400 naming verifyCode each time, the
    attempts are counted, and nothing is bound."""
    cust = new_customer(admin)
    member = Member()
    assert member.send(cust["id"]).code == 0
    bad = wrong(latest_verify_code(cust["id"]))

    first = member.act("BIND", cust["id"], verifyCode=bad)
    second = member.act("BIND", cust["id"], verifyCode=bad)

    expect_error(first, 400, mentions="verifyCode")
    expect_error(second, 400, mentions="verifyCode")
    assert attempts(member, cust["id"]) == 2
    assert member.bindings() == [] and bind_audits(member) == []


def test_after_five_wrong_codes_even_the_right_code_is_429(admin: str) -> None:
    """Given a sent code, when five wrong codes are tried, then the right code is refused with 429 and
    nothing is bound."""
    cust = new_customer(admin)
    member = Member()
    assert member.send(cust["id"]).code == 0
    code = latest_verify_code(cust["id"])

    for _ in range(5):
        expect_error(member.act("BIND", cust["id"], verifyCode=wrong(code)), 400, mentions="verifyCode")
    right = member.act("BIND", cust["id"], verifyCode=code)

    expect_error(right, 429, mentions="verifyCode")
    assert member.bindings() == []


def test_expired_code_is_400(admin: str) -> None:
    """Given a code whose time has run out, when BIND uses it, then 400 naming verifyCode."""
    cust = new_customer(admin)
    member = Member()
    assert member.send(cust["id"]).code == 0
    code = latest_verify_code(cust["id"])
    sql_exec(
        "UPDATE biz_verify_code SET expires_time = now() - interval '1 second' WHERE cust_id = :c"
        " AND channel_user = :m",
        {"c": cust["id"], "m": member_id(member.id)},
    )

    reply = member.act("BIND", cust["id"], verifyCode=code)

    expect_error(reply, 400, mentions="verifyCode")
    assert member.bindings() == []


def test_code_sent_to_another_channel_user_does_not_bind(admin: str) -> None:
    """Given a code sent for channel user A, when channel user B binds with it, then 400 (B has no code)."""
    cust = new_customer(admin)
    a, b = Member(), Member()
    assert a.send(cust["id"]).code == 0

    reply = b.act("BIND", cust["id"], verifyCode=latest_verify_code(cust["id"]))

    expect_error(reply, 400, mentions="verifyCode")
    assert b.bindings() == []


def test_bind_without_a_code_is_400_naming_verify_code(admin: str) -> None:
    """Given a customer, when BIND comes without verifyCode, then 400 naming verifyCode."""
    cust = new_customer(admin)

    expect_error(Member().act("BIND", cust["id"]), 400, mentions="verifyCode")


def test_second_code_within_60_seconds_is_429_and_allowed_afterwards(admin: str) -> None:
    """Given a code just sent, when another is requested for the same customer, then 429; once the first
    is older than 60 s, a new one is sent."""
    cust = new_customer(admin)
    member = Member()
    assert member.send(cust["id"]).code == 0

    again = member.send(cust["id"])

    expect_error(again, 429)
    sql_exec(
        "UPDATE biz_verify_code SET create_time = now() - interval '61 seconds' WHERE cust_id = :c",
        {"c": cust["id"]},
    )
    assert member.send(cust["id"]).code == 0


# ------------------------------------------------------------- custId + custName ------------------
def sent_for(cust_id: int) -> tuple[int, int]:
    """(verification codes, bind-code SMS messages in the outbox) written for the customer."""
    codes = sql_scalar("SELECT count(*) FROM biz_verify_code WHERE cust_id = :c", {"c": cust_id})
    sms = sql_scalar(
        "SELECT count(*) FROM biz_message WHERE channel = 'SMS' AND template_code = 'BIND_VERIFY_CODE'"
        " AND cust_id = :c",
        {"c": cust_id},
    )
    return int(codes), int(sms)


def failures(member: Member) -> int:
    return int(
        sql_scalar(
            "SELECT count(*) FROM biz_verify_code_failure WHERE channel_user = :m",
            {"m": member_id(member.id)},
        )
    )


def unknown_cust_id() -> int:
    return int(sql_scalar("SELECT max(id) FROM biz_cust")) + 1_000_000


def test_code_is_sent_when_id_and_name_match(admin: str) -> None:
    """Given a customer, when a code is requested with its id and its name, then it is sent to the
    masked reserved mobile and nothing counts as a failure."""
    name = unique("客户")
    cust = new_customer(admin, name=name, mobile="13611112222")
    member = Member()

    sent = member.send(cust["id"], name)

    assert sent.code == 0, sent.body
    assert sent.data == {"mobile": "136****2222", "expireSeconds": 300}
    assert sent_for(cust["id"]) == (1, 1) and failures(member) == 0


def test_name_is_compared_without_surrounding_spaces(admin: str) -> None:
    """Given a customer, when its name comes with spaces around it, then the code is sent."""
    name = unique("客户")
    cust = new_customer(admin, name=name)

    sent = Member().send(cust["id"], f"  {name}\t ")

    assert sent.code == 0, sent.body
    assert sent_for(cust["id"]) == (1, 1)


@pytest.mark.parametrize("name", [None, "", "   ", "名" * 51])
def test_missing_blank_or_too_long_name_is_400_naming_cust_name(admin: str, name: str | None) -> None:
    """Given a customer, when custName is missing, blank or longer than 50, then 400 naming custName."""
    cust = new_customer(admin)
    body: dict[str, Any] = {"custId": cust["id"]} | ({} if name is None else {"custName": name})

    reply = call("POST", SEND, body, token=Member().token)

    expect_error(reply, 400, mentions="custName")
    assert sent_for(cust["id"]) == (0, 0)


def test_wrong_name_answers_exactly_as_an_unknown_or_stopped_customer(admin: str) -> None:
    """Given a customer, when a code is asked for with its id and a wrong name, then the answer is the
    very answer for a stopped customer of that id (same status, code, msg, data: no masked mobile), and
    the answer for an id that does not exist differs only in the id it echoes; no code, no SMS."""
    name = unique("客户")
    cust = new_customer(admin, name=name, mobile="13622223333")
    unknown = unknown_cust_id()

    wrong_name = Member().send(cust["id"], name + "甲")
    unknown_id = Member().send(unknown, name)
    stop = call(
        "PUT",
        "/admin-api/revenue/customer/update-status",
        {"id": cust["id"], "status": "STOPPED", "reason": "停用"},
        token=admin,
    )
    assert stop.code == 0, stop.body
    stopped = Member().send(cust["id"], name)

    expect_error(wrong_name, 1_002_001_001)
    assert wrong_name.body == {
        "code": 1_002_001_001,
        "data": None,
        "msg": f"客户不存在或已停用：custId={cust['id']}",
    }
    assert (stopped.status, stopped.body) == (wrong_name.status, wrong_name.body)
    echoed = {**wrong_name.body, "msg": wrong_name.msg.replace(str(cust["id"]), str(unknown))}
    assert (unknown_id.status, unknown_id.body) == (wrong_name.status, echoed)
    assert "****" not in json.dumps(wrong_name.body, ensure_ascii=False)
    assert sent_for(cust["id"]) == (0, 0) and sent_for(unknown) == (0, 0)


def test_five_failed_matches_in_a_day_refuse_codes_to_that_channel_user_only(admin: str) -> None:
    """Given a channel user whose five requests in a day matched no customer (wrong names, unknown ids),
    when it asks a sixth time, even with the right name, then 429 and nothing is sent; another channel
    user is not affected; once the failures are a day old, the first is sent codes again."""
    name = unique("客户")
    cust = new_customer(admin, name=name)
    member, other = Member(), Member()

    for guess in ("张三", "李四", name[:-1]):
        expect_error(member.send(cust["id"], guess), 1_002_001_001)
    for _ in range(2):
        expect_error(member.send(unknown_cust_id(), name), 1_002_001_001)
    sixth = member.send(cust["id"], name)

    expect_error(sixth, 429)
    assert failures(member) == 5 and sent_for(cust["id"]) == (0, 0)
    assert other.send(cust["id"], name).code == 0 and failures(other) == 0

    sql_exec(
        "UPDATE biz_verify_code_failure SET create_time = now() - interval '25 hours' WHERE channel_user = :m",
        {"m": member_id(member.id)},
    )
    assert member.send(cust["id"], name).code == 0


def test_a_failed_match_is_kept_although_the_request_rolls_back(admin: str) -> None:
    """Given a channel user, when one request names a customer wrongly, then exactly one failure row is
    kept for it (written after the request's unit of work has ended) and a right name still sends."""
    name = unique("客户")
    cust = new_customer(admin, name=name)
    member = Member()

    expect_error(member.send(cust["id"], "王五"), 1_002_001_001)

    assert failures(member) == 1
    assert (
        sql_scalar(
            "SELECT cust_id FROM biz_verify_code_failure WHERE channel_user = :m", {"m": member_id(member.id)}
        )
        == cust["id"]
    )
    assert member.send(cust["id"], name).code == 0 and failures(member) == 1


# ----------------------------------------------------------------------- refusals ---------------
def test_bind_of_a_stopped_customer_is_customer_not_found(admin: str) -> None:
    """Given a code sent, when the customer is stopped before BIND, then 1_002_001_001; a code for a
    stopped customer is not even sent."""
    cust = new_customer(admin)
    member = Member()
    assert member.send(cust["id"]).code == 0
    code = latest_verify_code(cust["id"])
    stop = call(
        "PUT",
        "/admin-api/revenue/customer/update-status",
        {"id": cust["id"], "status": "STOPPED", "reason": "停用"},
        token=admin,
    )
    assert stop.code == 0, stop.body

    reply = member.act("BIND", cust["id"], verifyCode=code)

    expect_error(reply, 1_002_001_001)
    expect_error(Member().send(cust["id"]), 1_002_001_001)
    assert member.bindings() == []


def test_bind_without_a_sent_code_tells_nothing_about_the_customer(admin: str) -> None:
    """Given no code sent, when BIND names an existing customer, one with a frozen account, a stopped
    one, and an id that does not exist, then every answer is the same 400 "no code" envelope: BIND is
    no way round send-verify-code's id + name check."""
    cust, frozen, stopped = new_customer(admin), new_customer(admin), new_customer(admin)
    assert (
        call(
            "PUT",
            "/admin-api/revenue/customer/update-status",
            {
                "id": frozen["id"],
                "accountId": frozen["accountId"],
                "accountStatus": "FROZEN",
                "reason": "测试",
            },
            token=admin,
        ).code
        == 0
    )
    assert (
        call(
            "PUT",
            "/admin-api/revenue/customer/update-status",
            {"id": stopped["id"], "status": "STOPPED", "reason": "停用"},
            token=admin,
        ).code
        == 0
    )
    absent = int(sql_scalar("SELECT max(id) + 1000 FROM biz_cust"))
    member = Member()

    replies = [
        member.act("BIND", c, verifyCode="000000") for c in (cust["id"], frozen["id"], stopped["id"], absent)
    ]

    for reply in replies:
        expect_error(reply, 400, mentions="verifyCode")
    assert len({(r.status, r.code, r.msg, str(r.data)) for r in replies}) == 1
    assert member.bindings() == []


@pytest.mark.parametrize("status", ["FROZEN", "RESTRICTED", "CLOSED"])
def test_bind_to_a_blocked_account_is_409_with_the_account_status(admin: str, status: str) -> None:
    """Given a customer whose account is FROZEN / RESTRICTED / CLOSED, when BIND is tried with a valid
    code, then 409 carrying accountStatus, and nothing is bound."""
    cust = new_customer(admin)
    member = Member()
    assert member.send(cust["id"]).code == 0
    changed = call(
        "PUT",
        "/admin-api/revenue/customer/update-status",
        {"id": cust["id"], "accountId": cust["accountId"], "accountStatus": status, "reason": "测试"},
        token=admin,
    )
    assert changed.code == 0, changed.body

    reply = member.act("BIND", cust["id"], verifyCode=latest_verify_code(cust["id"]))

    expect_error(reply, 409)
    assert reply.data == {"accountStatus": status}
    assert member.bindings() == []


def test_bind_of_an_account_of_another_customer_is_refused(admin: str) -> None:
    """Given two customers, when BIND names the first with the second's accountId, then it is refused
    (404 naming accountId) and nothing is bound."""
    cust, other = new_customer(admin), new_customer(admin)
    member = Member()

    reply = member.bind(cust["id"], accountId=other["accountId"])

    expect_error(reply, 404, mentions="accountId")
    assert member.bindings() == []


def unknown_account_id() -> int:
    return int(sql_scalar("SELECT max(id) FROM biz_account")) + 1_000_000


def binding_state(member: Member) -> tuple[list[dict[str, Any]], list[str]]:
    """What a refused request must leave as it was: the member's binding rows and its audit trail."""
    rows = sql_all(
        "SELECT id, cust_id, account_id, status, is_default FROM biz_cust_app_binds"
        " WHERE channel_type = 'WECHAT' AND channel_user_id = :u ORDER BY id",
        {"u": member.id},
    )
    return rows, bind_audits(member)


@pytest.mark.parametrize("action", ["BIND", "UNBIND", "SET_DEFAULT"])
def test_a_bound_customer_named_with_a_foreign_or_unknown_account_is_refused_alike(
    admin: str, action: str
) -> None:
    """Given a channel user that bound two customers (the second not default), when BIND (again), UNBIND
    or SET_DEFAULT names the second with another customer's accountId, or with an accountId that does not
    exist, then both are refused with the same 404 naming accountId (the messages differ only in the id
    asked for), and no binding changes and nothing is audited."""
    first, cust, stranger = new_customer(admin), new_customer(admin), new_customer(admin)
    member = Member()
    assert member.bind(first["id"]).code == 0
    assert member.bind(cust["id"]).data["defaultFlag"] is False
    before = binding_state(member)
    unknown = unknown_account_id()
    code = {"verifyCode": "000000"} if action == "BIND" else {}

    foreign = member.act(action, cust["id"], accountId=stranger["accountId"], defaultFlag=True, **code)
    missing = member.act(action, cust["id"], accountId=unknown, defaultFlag=True, **code)

    expect_error(foreign, 404, mentions="accountId")
    expect_error(missing, 404, mentions="accountId")
    assert (foreign.status, foreign.code, foreign.data) == (missing.status, missing.code, missing.data)
    assert foreign.msg.replace(str(stranger["accountId"]), "#") == missing.msg.replace(str(unknown), "#")
    assert binding_state(member) == before


def test_a_fresh_bind_with_a_foreign_or_unknown_account_is_refused_alike(admin: str) -> None:
    """Given a customer and a valid code, when BIND names another customer's accountId, and then an
    accountId that does not exist, then both answers are the same 404 naming accountId but for the id
    asked for, and nothing is bound."""
    cust, stranger = new_customer(admin), new_customer(admin)
    member = Member()
    assert member.send(cust["id"]).code == 0
    code = latest_verify_code(cust["id"])
    unknown = unknown_account_id()

    foreign = member.act("BIND", cust["id"], verifyCode=code, accountId=stranger["accountId"])
    missing = member.act("BIND", cust["id"], verifyCode=code, accountId=unknown)

    expect_error(foreign, 404, mentions="accountId")
    expect_error(missing, 404, mentions="accountId")
    assert foreign.msg.replace(str(stranger["accountId"]), "#") == missing.msg.replace(str(unknown), "#")
    assert member.bindings() == []


def test_the_bound_account_named_explicitly_is_accepted(admin: str) -> None:
    """Given a bound customer, when BIND, SET_DEFAULT and UNBIND name its own bound accountId, then each
    succeeds as without accountId."""
    cust = new_customer(admin)
    member = Member()
    assert member.bind(cust["id"], accountId=cust["accountId"]).code == 0

    again = member.act("BIND", cust["id"], verifyCode="000000", accountId=cust["accountId"])
    default = member.act("SET_DEFAULT", cust["id"], accountId=cust["accountId"])
    unbound = member.act("UNBIND", cust["id"], accountId=cust["accountId"])

    assert again.code == 0 and again.data["custSummary"]["accountId"] == cust["accountId"], again.body
    assert default.code == 0 and default.data["defaultFlag"] is True, default.body
    assert unbound.code == 0 and unbound.data["bindStatus"] == "UNBOUND", unbound.body


@pytest.mark.parametrize("action", ["UNBIND", "SET_DEFAULT"])
def test_an_unbound_customer_tells_nothing_about_accounts(admin: str, action: str) -> None:
    """Given a customer with a second account, bound and then unbound by a channel user, when UNBIND or
    SET_DEFAULT names it with its second account, another customer's account or an unknown one, then all
    three answers are the same 1_002_001_002 but for the id asked for, and nothing changes."""
    cust, stranger = new_customer(admin), new_customer(admin)
    second = int(
        sql_exec(
            "INSERT INTO biz_account (cust_id, account_no) VALUES (:c, :no) RETURNING id",
            {"c": cust["id"], "no": unique("ZH")},
        )
    )
    member = Member()
    assert member.bind(cust["id"]).code == 0
    assert member.act("UNBIND", cust["id"]).code == 0
    before = binding_state(member)
    asked = [second, stranger["accountId"], unknown_account_id()]

    replies = [member.act(action, cust["id"], accountId=a) for a in asked]

    for reply in replies:
        expect_error(reply, 1_002_001_002, mentions="accountId")
    assert (
        len(
            {
                (r.status, r.code, r.msg.replace(f"accountId={a}", "accountId=#"), str(r.data))
                for r, a in zip(replies, asked, strict=True)
            }
        )
        == 1
    )
    assert binding_state(member) == before


def test_another_account_of_the_same_customer_is_not_its_binding(admin: str) -> None:
    """Given a customer with a second account and a channel user bound to its first, when UNBIND or
    SET_DEFAULT names the second account, then 1_002_001_002 (there is no binding of that account) and
    nothing changes; when BIND names it, then 409 with the bound accountId."""
    cust = new_customer(admin)
    second = int(
        sql_exec(
            "INSERT INTO biz_account (cust_id, account_no) VALUES (:c, :no) RETURNING id",
            {"c": cust["id"], "no": unique("ZH")},
        )
    )
    member = Member()
    assert member.bind(cust["id"]).code == 0
    before = binding_state(member)

    unbind = member.act("UNBIND", cust["id"], accountId=second)
    default = member.act("SET_DEFAULT", cust["id"], accountId=second)
    rebind = member.act("BIND", cust["id"], verifyCode="000000", accountId=second)

    expect_error(unbind, 1_002_001_002, mentions="accountId")
    expect_error(default, 1_002_001_002, mentions="accountId")
    expect_error(rebind, 409, mentions="accountId")
    assert rebind.data == {"accountId": cust["accountId"]}
    assert binding_state(member) == before


@pytest.mark.parametrize("action", ["UNBIND", "SET_DEFAULT"])
def test_unbind_or_set_default_of_a_never_bound_customer_is_binding_not_found(
    admin: str, action: str
) -> None:
    """Given a customer this channel user never bound, when it UNBINDs or SET_DEFAULTs it, then
    1_002_001_002 and no row is created."""
    cust = new_customer(admin)
    member = Member()

    reply = member.act(action, cust["id"])

    expect_error(reply, 1_002_001_002)
    assert member.bindings() == []


def test_channel_user_id_differing_from_the_token_is_403(admin: str) -> None:
    """Given channel user A's token, when the body names channel user B, then 403 naming channelUserId
    and nothing is bound for either."""
    cust = new_customer(admin)
    a, b = Member(), Member()
    assert a.send(cust["id"]).code == 0

    reply = call(
        "POST",
        BIND,
        {
            "action": "BIND",
            "channelType": "WECHAT",
            "channelUserId": b.id,
            "custId": cust["id"],
            "verifyCode": latest_verify_code(cust["id"]),
        },
        token=a.token,
    )
    other_channel = call(
        "POST",
        BIND,
        {"action": "UNBIND", "channelType": "ALIPAY", "channelUserId": a.id, "custId": cust["id"]},
        token=a.token,
    )

    expect_error(reply, 403, mentions="channelUserId")
    expect_error(other_channel, 403)
    assert a.bindings() == [] and b.bindings() == []


# -------------------------------------------------------------------- idempotency ---------------
def test_repeating_bind_unbind_and_set_default_is_harmless(admin: str) -> None:
    """Given a bound customer, when BIND, SET_DEFAULT and UNBIND are each repeated, then the same bindId
    and state come back, there is one row, and only the real changes are audited."""
    cust = new_customer(admin)
    member = Member()
    first = member.bind(cust["id"])
    bind_id = first.data["bindId"]

    again = member.act("BIND", cust["id"], verifyCode="123456")
    default_again = member.act("SET_DEFAULT", cust["id"])
    unbound = member.act("UNBIND", cust["id"])
    unbound_again = member.act("UNBIND", cust["id"])

    assert again.code == 0 and again.data["bindId"] == bind_id and again.data["bindStatus"] == "BOUND"
    assert again.data["defaultFlag"] is True
    assert default_again.code == 0 and default_again.data["bindId"] == bind_id
    assert (
        unbound.code == 0 and unbound.data["bindStatus"] == "UNBOUND" and unbound.data["defaultFlag"] is False
    )
    assert unbound_again.code == 0 and unbound_again.data["bindId"] == bind_id
    assert unbound_again.data["bindStatus"] == "UNBOUND"
    assert len(member.bindings()) == 1
    assert bind_audits(member) == ["BIND", "UNBIND"]
    expect_error(member.act("SET_DEFAULT", cust["id"]), 1_002_001_002)


def test_unbound_customer_can_be_bound_again_with_a_new_code(admin: str) -> None:
    """Given a customer bound then unbound, when it is bound again with a fresh code, then the same row
    is BOUND again (no duplicate) and default."""
    cust = new_customer(admin)
    member = Member()
    bind_id = member.bind(cust["id"]).data["bindId"]
    assert member.act("UNBIND", cust["id"]).code == 0
    sql_exec(
        "UPDATE biz_verify_code SET create_time = now() - interval '61 seconds' WHERE cust_id = :c",
        {"c": cust["id"]},
    )

    rebound = member.bind(cust["id"])

    assert rebound.code == 0 and rebound.data["bindId"] == bind_id and rebound.data["defaultFlag"] is True
    assert [b["status"] for b in member.bindings()] == ["BOUND"]
    assert bind_audits(member) == ["BIND", "UNBIND", "BIND"]


# ------------------------------------------------------------------------ defaults --------------
def test_one_default_set_default_moves_it_and_unbind_of_the_default_promotes_the_other(admin: str) -> None:
    """Given one channel user binding two customers, then exactly the first is default; when SET_DEFAULT
    names the second, then only it is default; when the default is unbound, the other becomes default."""
    first_cust, second_cust = new_customer(admin), new_customer(admin)
    member = Member()

    first = member.bind(first_cust["id"])
    second = member.bind(second_cust["id"])

    assert first.data["defaultFlag"] is True and second.data["defaultFlag"] is False
    assert member.defaults() == [first_cust["id"]]
    listed = call("GET", LIST, token=member.token)
    assert [c["custId"] for c in listed.data] == [first_cust["id"], second_cust["id"]]

    moved = member.act("SET_DEFAULT", second_cust["id"])

    assert moved.code == 0 and moved.data["defaultFlag"] is True
    assert member.defaults() == [second_cust["id"]]

    unbound = member.act("UNBIND", second_cust["id"])

    assert unbound.code == 0
    assert member.defaults() == [first_cust["id"]]
    operations = bind_audits(member)
    assert operations.count("SET_DEFAULT") == 2 and operations.count("UNBIND") == 1


def test_bind_with_default_flag_takes_the_default(admin: str) -> None:
    """Given a channel user with a default binding, when it binds another customer with defaultFlag=true,
    then the new one is the only default; repeating BIND with defaultFlag on the old one moves it back
    and is audited as SET_DEFAULT."""
    first_cust, second_cust = new_customer(admin), new_customer(admin)
    member = Member()
    member.bind(first_cust["id"])

    second = member.bind(second_cust["id"], defaultFlag=True)
    back = member.act("BIND", first_cust["id"], verifyCode="000000", defaultFlag=True)

    assert second.data["defaultFlag"] is True
    assert back.code == 0 and back.data["defaultFlag"] is True
    assert member.defaults() == [first_cust["id"]]
    assert bind_audits(member).count("SET_DEFAULT") == 1


def test_channel_users_are_isolated(admin: str) -> None:
    """Given two channel users binding the same customer, then each has its own default binding, and
    one unbinding does not touch the other."""
    cust = new_customer(admin)
    a, b = Member(), Member()

    assert a.bind(cust["id"]).code == 0
    assert b.bind(cust["id"]).code == 0
    assert a.act("UNBIND", cust["id"]).code == 0

    assert a.defaults() == [] and b.defaults() == [cust["id"]]
    assert [c["custId"] for c in call("GET", LIST, token=b.token).data] == [cust["id"]]
    assert call("GET", LIST, token=a.token).data == []


# --------------------------------------------------------------------- concurrency --------------
def _context(token: str) -> RequestContext:
    from waterrev.db import UnitOfWork
    from waterrev.security import load_principal

    with UnitOfWork() as uow:
        principal = load_principal(uow, token)
    assert principal is not None
    return RequestContext(request_id=str(uuid.uuid4()), principal=principal)


def act(member: Member, action: str, cust_id: int, code: str | None = None) -> BindCommand:
    return BindCommand(action, "WECHAT", member.id, cust_id, verify_code=code)


def _concurrently(calls: list[Any]) -> list[Any]:
    """Run the service calls at once, each on its own connection, as separate Lambda environments would."""
    from waterrev.errors import AppError

    def run(fn: Any) -> Any:
        try:
            return fn()
        except AppError as exc:
            return exc

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(run, calls))


def test_concurrent_set_default_leaves_exactly_one_default(admin: str) -> None:
    """Given a channel user with two bindings, when 10 SET_DEFAULTs alternating between them run at once,
    then all succeed and exactly one binding is default."""
    from waterrev.customers import channel

    a, b = new_customer(admin), new_customer(admin)
    member = Member()
    member.bind(a["id"])
    member.bind(b["id"])

    results = _concurrently(
        [
            (lambda c=c: channel.bind(_context(member.token), act(member, "SET_DEFAULT", c)))
            for c in [a["id"], b["id"]] * 5
        ]
    )

    assert all(isinstance(r, dict) and r["defaultFlag"] is True for r in results), results
    assert len(member.defaults()) == 1
    assert (
        int(
            sql_scalar(
                "SELECT count(*) FROM biz_cust_app_binds WHERE channel_user_id = :u AND is_default",
                {"u": member.id},
            )
        )
        == 1
    )


def test_concurrent_bind_of_the_same_customer_binds_once(admin: str) -> None:
    """Given one valid code, when 10 BINDs of the same customer by the same channel user run at once, then
    all answer the same bindId, there is one row, one default and one BIND audit row."""
    from waterrev.customers import channel

    cust = new_customer(admin)
    member = Member()
    assert member.send(cust["id"]).code == 0
    code = latest_verify_code(cust["id"])

    results = _concurrently(
        [
            (lambda: channel.bind(_context(member.token), act(member, "BIND", cust["id"], code)))
            for _ in range(10)
        ]
    )

    assert all(isinstance(r, dict) for r in results), results
    assert len({r["bindId"] for r in results}) == 1
    assert len(member.bindings()) == 1 and member.defaults() == [cust["id"]]
    assert bind_audits(member) == ["BIND"]


def test_concurrent_binds_of_different_customers_leave_one_default(admin: str) -> None:
    """Given six customers each with a valid code, when one channel user binds all six at once, then six
    BOUND rows and exactly one default."""
    from waterrev.customers import channel

    custs = [new_customer(admin) for _ in range(6)]
    member = Member()
    codes = {}
    for cust in custs:
        assert member.send(cust["id"]).code == 0
        codes[cust["id"]] = latest_verify_code(cust["id"])

    results = _concurrently(
        [(lambda c=c: channel.bind(_context(member.token), act(member, "BIND", c, codes[c]))) for c in codes]
    )

    assert all(isinstance(r, dict) for r in results), results
    assert sorted(b["cust_id"] for b in member.bindings()) == sorted(codes)
    assert len(member.defaults()) == 1


# --------------------------------------------------------------------- channel login ------------
def _signed(
    channel_user_id: str, *, timestamp: int | None = None, nonce: str | None = None
) -> dict[str, Any]:
    ts = int(time.time()) if timestamp is None else timestamp
    nonce = nonce or secrets.token_hex(8)
    secret = get_settings().channel_login_secret or ""
    return {
        "channelType": "WECHAT",
        "channelUserId": channel_user_id,
        "timestamp": ts,
        "nonce": nonce,
        "signature": sign_channel_login(secret, "WECHAT", channel_user_id, ts, nonce),
    }


def test_channel_login_with_a_good_signature_issues_a_member_token() -> None:
    """Given a correctly signed channel login, when sent, then a MEMBER token is issued and logged."""
    who = unique("ok")

    reply = call("POST", LOGIN, _signed(who))

    assert reply.code == 0, reply.body
    assert call("GET", LIST, token=reply.data["accessToken"]).code == 0
    assert (
        sql_scalar(
            "SELECT result FROM system_login_log WHERE username = :u AND log_type = 'LOGIN_CHANNEL'",
            {"u": f"WECHAT:{who}"},
        )
        == "SUCCESS"
    )


def test_channel_login_with_a_bad_signature_is_401() -> None:
    """Given a login signed for another user id, when sent, then 401 naming signature and no member row."""
    who = unique("bad")
    body = _signed(unique("other")) | {"channelUserId": who}

    reply = call("POST", LOGIN, body)

    expect_error(reply, 401, mentions="signature")
    assert sql_scalar("SELECT count(*) FROM biz_channel_user WHERE channel_user_id = :u", {"u": who}) == 0


@pytest.mark.parametrize("skew", [-301, 301])
def test_channel_login_outside_the_time_window_is_401(skew: int) -> None:
    """Given a correctly signed login whose timestamp is more than 300 s away, when sent, then 401 naming
    timestamp."""
    who = unique("old")

    reply = call("POST", LOGIN, _signed(who, timestamp=int(time.time()) + skew))

    expect_error(reply, 401, mentions="timestamp")
    assert sql_scalar("SELECT count(*) FROM biz_channel_user WHERE channel_user_id = :u", {"u": who}) == 0


def test_channel_login_replayed_nonce_is_401() -> None:
    """Given a signed login already accepted, when the same request is replayed, then 401 naming nonce."""
    body = _signed(unique("rp"))
    assert call("POST", LOGIN, body).code == 0

    replay = call("POST", LOGIN, body)

    expect_error(replay, 401, mentions="nonce")
