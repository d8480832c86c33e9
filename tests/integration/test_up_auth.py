"""IF-UP-001 用户登录接口: login, lockout, disabled accounts, hashed tokens, refresh rotation,
logout, expiry, and the split between back-office and customer-channel tokens."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from tests.support import (
    Reply,
    admin_login,
    call,
    channel_login,
    expect_error,
    new_admin_user,
    sql_all,
    sql_exec,
    sql_scalar,
    unique,
)
from waterrev.security import token_hash

LOGIN = "/admin-api/system/auth/login"
REFRESH = "/admin-api/system/auth/refresh-token"
LOGOUT = "/admin-api/system/auth/logout"
ME = "/admin-api/system/auth/get-permission-info"
PASSWORD = "Passw0rd!"


def login(username: str, password: str = PASSWORD) -> Reply:
    return call("POST", LOGIN, {"username": username, "password": password})


def login_results(username: str) -> list[str]:
    return [
        r["result"]
        for r in sql_all(
            "SELECT result FROM system_login_log WHERE username = :u AND log_type = 'LOGIN_USERNAME' ORDER BY id",
            {"u": username},
        )
    ]


def test_login_success_issues_tokens_and_logs_success() -> None:
    """Given an enabled user, when it logs in with the right password, then it gets an access token,
    a refresh token and an expiry time, the token works, and a SUCCESS login log row is written."""
    username = new_admin_user()

    reply = login(username)

    assert reply.status == 200 and reply.code == 0, reply.body
    assert {"accessToken", "refreshToken", "expiresTime"} <= set(reply.data)
    expires = dt.datetime.strptime(reply.data["expiresTime"], "%Y-%m-%d %H:%M:%S").replace(
        tzinfo=ZoneInfo("Asia/Shanghai")  # replies show times in the utility's zone
    )
    assert dt.datetime.now(dt.UTC) < expires <= dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1800 + 5)
    assert call("GET", ME, token=reply.data["accessToken"]).data["user"]["username"] == username
    assert login_results(username) == ["SUCCESS"]
    row = sql_all(
        "SELECT user_id, user_type, trace_id FROM system_login_log WHERE username = :u", {"u": username}
    )[0]
    assert row["user_type"] == "ADMIN" and row["user_id"] == reply.data["userId"] and row["trace_id"]


def test_login_outputs_the_user_context() -> None:
    """Given an enabled user, when it logs in, then the reply carries its user context (seed IF-UP-001:
    签发访问令牌并输出用户上下文), the very context IF-UP-002 answers for the new token."""
    username = new_admin_user(permissions=("revenue:customer:query",))

    reply = login(username)

    assert reply.code == 0, reply.body
    context = call("GET", ME, token=reply.data["accessToken"]).data
    assert reply.data["userContext"] == context
    assert context["user"]["username"] == username and context["permissions"] == ["revenue:customer:query"]


def test_wrong_password_is_401_and_logged_as_bad_credentials() -> None:
    """Given a user, when it logs in with a wrong password, then 401 and a BAD_CREDENTIALS row."""
    username = new_admin_user()

    reply = login(username, "wrong-password")

    expect_error(reply, 401)
    assert reply.data is None and "accessToken" not in reply.body
    assert login_results(username) == ["BAD_CREDENTIALS"]
    assert sql_scalar("SELECT login_fail_count FROM system_users WHERE username = :u", {"u": username}) == 1


def test_unknown_user_answers_like_a_wrong_password() -> None:
    """Given no such user, when someone logs in, then the answer is the same 401 as a wrong password."""
    username = new_admin_user()

    unknown = login(unique("nobody"), "wrong-password")
    wrong = login(username, "wrong-password")

    expect_error(unknown, 401)
    assert unknown.body == wrong.body


def test_account_locks_after_max_failures_even_with_the_right_password_then_unlocks() -> None:
    """Given a user, when it fails login_max_failures (5) times, then even the right password gets 423
    with a LOCKED log row; when the lock time has passed, the right password works again."""
    username = new_admin_user()

    fails = [login(username, f"wrong-{i}") for i in range(5)]
    locked = login(username)

    for reply in fails:
        expect_error(reply, 401)
    expect_error(locked, 423)
    assert login_results(username) == ["BAD_CREDENTIALS"] * 5 + ["LOCKED"]
    assert sql_scalar("SELECT lock_until > now() FROM system_users WHERE username = :u", {"u": username})

    sql_exec(
        "UPDATE system_users SET lock_until = now() - interval '1 second' WHERE username = :u",
        {"u": username},
    )
    unlocked = login(username)

    assert unlocked.code == 0, unlocked.body
    assert login_results(username)[-1] == "SUCCESS"
    assert sql_scalar(
        "SELECT lock_until IS NULL AND login_fail_count = 0 FROM system_users WHERE username = :u",
        {"u": username},
    )


def test_four_failures_do_not_lock_and_a_success_resets_the_count() -> None:
    """Given four wrong passwords, when the right one follows, then login succeeds and the count resets."""
    username = new_admin_user()

    for i in range(4):
        expect_error(login(username, f"wrong-{i}"), 401)
    reply = login(username)

    assert reply.code == 0, reply.body
    assert sql_scalar("SELECT login_fail_count FROM system_users WHERE username = :u", {"u": username}) == 0


def test_disabled_user_is_refused_with_403() -> None:
    """Given a disabled user (status=1), when it logs in with the right password, then 403, no token,
    and a DISABLED login log row."""
    username = new_admin_user(status=1)

    reply = login(username)

    expect_error(reply, 403)
    assert reply.data is None
    assert login_results(username) == ["DISABLED"]


def test_tokens_are_stored_only_as_hashes() -> None:
    """Given a login, when the token tables are read, then neither plaintext token is stored, only
    their SHA-256."""
    username = new_admin_user()
    tokens = login(username).data
    access, refresh = tokens["accessToken"], tokens["refreshToken"]

    plain = sql_scalar(
        "SELECT (SELECT count(*) FROM system_oauth2_access_token WHERE access_token = :a OR refresh_token = :r"
        "  OR access_token = :r OR refresh_token = :a)"
        " + (SELECT count(*) FROM system_oauth2_refresh_token WHERE refresh_token IN (:a, :r))",
        {"a": access, "r": refresh},
    )
    hashed = sql_scalar(
        "SELECT count(*) FROM system_oauth2_access_token a JOIN system_oauth2_refresh_token r"
        " ON r.refresh_token = a.refresh_token WHERE a.access_token = :a AND r.refresh_token = :r",
        {"a": token_hash(access), "r": token_hash(refresh)},
    )

    assert plain == 0
    assert hashed == 1


def test_refresh_rotates_and_revokes_the_old_pair() -> None:
    """Given a session, when its refresh token is used, then a new working pair is issued, the old
    access token is revoked, and the old refresh token fails the second time."""
    username = new_admin_user()
    old = login(username).data

    first = call("POST", REFRESH, {"refreshToken": old["refreshToken"]})
    second = call("POST", REFRESH, {"refreshToken": old["refreshToken"]})

    assert first.code == 0, first.body
    new = first.data
    assert new["accessToken"] != old["accessToken"] and new["refreshToken"] != old["refreshToken"]
    expect_error(second, 401)
    expect_error(call("GET", ME, token=old["accessToken"]), 401)
    assert call("GET", ME, token=new["accessToken"]).code == 0
    assert call("POST", REFRESH, {"refreshToken": new["refreshToken"]}).code == 0


def test_refresh_of_a_disabled_user_is_refused() -> None:
    """Given a session whose user is then disabled, when it refreshes, then 401 and no new token."""
    username = new_admin_user()
    tokens = login(username).data
    sql_exec("UPDATE system_users SET status = 1 WHERE username = :u", {"u": username})

    reply = call("POST", REFRESH, {"refreshToken": tokens["refreshToken"]})

    expect_error(reply, 401)
    expect_error(call("GET", ME, token=tokens["accessToken"]), 401)


def test_logout_revokes_the_access_and_refresh_tokens() -> None:
    """Given a session, when it logs out, then the access token answers 401 and the refresh token fails."""
    username = new_admin_user()
    tokens = login(username).data

    out = call("POST", LOGOUT, token=tokens["accessToken"])

    assert out.code == 0, out.body
    expect_error(call("GET", ME, token=tokens["accessToken"]), 401)
    expect_error(call("POST", REFRESH, {"refreshToken": tokens["refreshToken"]}), 401)
    assert (
        sql_scalar(
            "SELECT revoked FROM system_oauth2_access_token WHERE access_token = :h",
            {"h": token_hash(tokens["accessToken"])},
        )
        is True
    )
    assert login_results(username) == ["SUCCESS"]
    assert (
        sql_scalar(
            "SELECT count(*) FROM system_login_log WHERE username = :u AND log_type = 'LOGOUT_SELF'",
            {"u": username},
        )
        == 1
    )


def test_expired_access_token_is_401() -> None:
    """Given a token whose expiry has passed, when it is used, then 401."""
    token = admin_login()
    assert call("GET", ME, token=token).code == 0
    sql_exec(
        "UPDATE system_oauth2_access_token SET expires_time = now() - interval '1 second'"
        " WHERE access_token = :h",
        {"h": token_hash(token)},
    )

    expect_error(call("GET", ME, token=token), 401)


def test_missing_or_garbage_bearer_is_401() -> None:
    """Given no token, a garbage token or a non-bearer scheme, when an admin route is called, then 401."""
    token = admin_login()

    missing = call("GET", ME)
    garbage = call("GET", ME, token="not-a-real-token")
    basic = call("GET", ME, headers={"authorization": f"Basic {token}"})
    empty = call("GET", ME, headers={"authorization": "Bearer "})

    for reply in (missing, garbage, basic, empty):
        expect_error(reply, 401)


def test_member_token_on_admin_route_and_admin_token_on_app_route_are_403() -> None:
    """Given a channel (MEMBER) token and an admin token, when each calls the other side's route,
    then 403 both ways."""
    member = channel_login(unique("m"))
    admin = admin_login()

    on_admin = call("GET", "/admin-api/revenue/customer/page", token=member)
    on_app = call("GET", "/app-api/customer/account/list", token=admin)

    expect_error(on_admin, 403)
    expect_error(on_app, 403)
    assert call("GET", "/app-api/customer/account/list", token=member).code == 0
