"""IF-UP-001/002/003: back-office login, tokens, user context and permission checks."""

from __future__ import annotations

import datetime as dt
from typing import Any

from waterrev.context import Principal, RequestContext, UserType
from waterrev.db import UnitOfWork
from waterrev.errors import AppError, ErrorCode
from waterrev.security import (
    dummy_verify,
    load_admin,
    new_token,
    token_hash,
    verify_password,
)
from waterrev.settings import get_settings
from waterrev.visibility import dept_visible, require_customer_visible


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def login_log(
    uow: UnitOfWork,
    ctx: RequestContext,
    log_type: str,
    user_type: str,
    username: str,
    user_id: int | None,
    result: str,
) -> None:
    uow.execute(
        "INSERT INTO system_login_log (log_type, trace_id, user_id, user_type, username, result,"
        " user_ip, user_agent) VALUES (:t, :trace, :uid, :utype, :name, :result, :ip, :ua)",
        {
            "t": log_type,
            "trace": ctx.request_id,
            "uid": user_id,
            "utype": user_type,
            "name": username,
            "result": result,
            "ip": ctx.source_ip,
            "ua": (ctx.user_agent or "")[:512],
        },
    )


def issue_tokens(uow: UnitOfWork, user_id: int, user_type: UserType) -> dict[str, Any]:
    settings = get_settings()
    access, refresh = new_token(), new_token()
    now = _now()
    expires = now + dt.timedelta(seconds=settings.access_token_ttl_s)
    uow.execute(
        "INSERT INTO system_oauth2_refresh_token (refresh_token, user_id, user_type, expires_time)"
        " VALUES (:r, :u, :t, :e)",
        {
            "r": token_hash(refresh),
            "u": user_id,
            "t": user_type.value,
            "e": now + dt.timedelta(seconds=settings.refresh_token_ttl_s),
        },
    )
    uow.execute(
        "INSERT INTO system_oauth2_access_token (user_id, user_type, access_token, refresh_token,"
        " expires_time) VALUES (:u, :t, :a, :r, :e)",
        {"u": user_id, "t": user_type.value, "a": token_hash(access), "r": token_hash(refresh), "e": expires},
    )
    return {"userId": user_id, "accessToken": access, "refreshToken": refresh, "expiresTime": expires}


def login(ctx: RequestContext, username: str, password: str) -> dict[str, Any]:
    """Check the password; lock the account after repeated failures; log every attempt."""
    settings = get_settings()
    outcome: AppError | None = None
    with UnitOfWork() as uow:
        user = uow.one(
            "SELECT id, password, status, login_fail_count, lock_until FROM system_users"
            " WHERE username = :u FOR UPDATE",
            {"u": username},
        )
        if user is None:
            dummy_verify(password)
            login_log(uow, ctx, "LOGIN_USERNAME", "ADMIN", username, None, "BAD_CREDENTIALS")
            outcome = AppError(ErrorCode.UNAUTHORIZED, "用户名或密码不正确")
        elif user["lock_until"] is not None and user["lock_until"] > _now():
            login_log(uow, ctx, "LOGIN_USERNAME", "ADMIN", username, user["id"], "LOCKED")
            outcome = AppError(
                ErrorCode.LOCKED, f"锁定至 {user['lock_until'].astimezone():%Y-%m-%d %H:%M:%S}"
            )
        elif not verify_password(user["password"], password):
            failures = user["login_fail_count"] + 1
            locked = failures >= settings.login_max_failures
            uow.execute(
                "UPDATE system_users SET login_fail_count = :f, lock_until = :l WHERE id = :id",
                {
                    "f": 0 if locked else failures,
                    "id": user["id"],
                    "l": _now() + dt.timedelta(seconds=settings.login_lock_s) if locked else None,
                },
            )
            login_log(uow, ctx, "LOGIN_USERNAME", "ADMIN", username, user["id"], "BAD_CREDENTIALS")
            outcome = AppError(ErrorCode.UNAUTHORIZED, "用户名或密码不正确")
        elif user["status"] != 0:
            login_log(uow, ctx, "LOGIN_USERNAME", "ADMIN", username, user["id"], "DISABLED")
            outcome = AppError(ErrorCode.FORBIDDEN, "账号已停用")
        if outcome is not None:
            uow.commit()  # the failure count and the login log must persist
            raise outcome
        assert user is not None
        uow.execute(
            "UPDATE system_users SET login_fail_count = 0, lock_until = NULL, login_ip = :ip,"
            " login_date = now() WHERE id = :id",
            {"ip": ctx.source_ip, "id": user["id"]},
        )
        tokens = issue_tokens(uow, user["id"], UserType.ADMIN)
        login_log(uow, ctx, "LOGIN_USERNAME", "ADMIN", username, user["id"], "SUCCESS")
        principal = load_admin(uow, user["id"])
        assert principal is not None  # enabled: checked above, under the row lock
        context = _user_context(uow, principal)
        uow.commit()
        # Seed IF-UP-001: 签发访问令牌并输出用户上下文 — the context IF-UP-002 answers for this token.
        return tokens | {"userContext": context}


def refresh(ctx: RequestContext, refresh_token: str) -> dict[str, Any]:
    """Rotate: the old refresh token and its access tokens are revoked, a new pair is issued."""
    with UnitOfWork() as uow:
        row = uow.one(
            "UPDATE system_oauth2_refresh_token SET revoked = true WHERE refresh_token = :r"
            " AND NOT revoked AND expires_time > now() RETURNING user_id, user_type",
            {"r": token_hash(refresh_token)},
        )
        if row is None:
            raise AppError(ErrorCode.UNAUTHORIZED, "刷新令牌无效或已过期")
        uow.execute(
            "UPDATE system_oauth2_access_token SET revoked = true WHERE refresh_token = :r",
            {"r": token_hash(refresh_token)},
        )
        user_type = UserType(row["user_type"])
        if user_type is UserType.ADMIN and load_admin(uow, row["user_id"]) is None:
            raise AppError(ErrorCode.UNAUTHORIZED, "账号已停用")
        tokens = issue_tokens(uow, row["user_id"], user_type)
        uow.commit()
        return tokens


def logout(ctx: RequestContext) -> bool:
    p = ctx.principal
    with UnitOfWork() as uow:
        row = uow.one(
            "UPDATE system_oauth2_access_token SET revoked = true WHERE id = :id RETURNING refresh_token",
            {"id": p.token_id},
        )
        if row is not None:
            uow.execute(
                "UPDATE system_oauth2_refresh_token SET revoked = true WHERE refresh_token = :r",
                {"r": row["refresh_token"]},
            )
        login_log(uow, ctx, "LOGOUT_SELF", p.user_type.value, p.name, p.user_id, "SUCCESS")
        uow.commit()
    return True


def permission_info(ctx: RequestContext) -> dict[str, Any]:
    with UnitOfWork() as uow:
        return _user_context(uow, ctx.principal)


def _user_context(uow: UnitOfWork, p: Principal) -> dict[str, Any]:
    """The user, dept, roles, permissions, menus and data scope of a back-office principal."""
    user = uow.one(
        "SELECT u.id, u.username, u.nickname, u.dept_id, d.name AS dept_name"
        " FROM system_users u LEFT JOIN system_dept d ON d.id = u.dept_id WHERE u.id = :id",
        {"id": p.user_id},
    )
    roles = uow.all(
        "SELECT r.code, r.name, r.data_scope FROM system_role r JOIN system_user_role ur"
        " ON ur.role_id = r.id WHERE ur.user_id = :id AND r.status = 0 ORDER BY r.id",
        {"id": p.user_id},
    )
    menus = uow.all(
        "SELECT DISTINCT m.id, m.name, m.permission, m.type, m.parent_id, m.path FROM system_menu m"
        " JOIN system_role_menu rm ON rm.menu_id = m.id JOIN system_user_role ur"
        " ON ur.role_id = rm.role_id WHERE ur.user_id = :id AND m.status = 0 ORDER BY m.id",
        {"id": p.user_id},
    )
    assert user is not None
    return {
        "user": {
            "id": user["id"],
            "username": user["username"],
            "nickname": user["nickname"],
            "deptId": user["dept_id"],
        },
        "dept": {"id": user["dept_id"], "name": user["dept_name"]},
        "roles": [r["code"] for r in roles],
        "roleList": [{"code": r["code"], "name": r["name"], "dataScope": r["data_scope"]} for r in roles],
        "permissions": sorted(p.permissions),
        "dataScopeDeptIds": None if p.dept_ids is None else sorted(p.dept_ids),
        "menus": [
            {
                "id": m["id"],
                "name": m["name"],
                "permission": m["permission"],
                "type": m["type"],
                "parentId": m["parent_id"],
                "path": m["path"],
            }
            for m in menus
            if m["type"] != 3
        ],
    }


def check(
    ctx: RequestContext, permissions: list[str], dept_id: int | None, cust_id: int | None
) -> dict[str, Any]:
    """Menu/button permissions one by one, and data permission on a dept or a customer's dept."""
    p: Principal = ctx.principal
    result: dict[str, Any] = {"permissions": {perm: p.has(perm) for perm in permissions}}
    if cust_id is not None:
        # A customer outside the user's data scope answers as one that does not exist (its dept is
        # not told): permission to see it is checked where every capability checks it.
        with UnitOfWork() as uow:
            require_customer_visible(uow, ctx, cust_id)
            dept_id = uow.scalar("SELECT dept_id FROM biz_cust WHERE id = :id", {"id": cust_id})
    if dept_id is not None:
        result["deptId"] = dept_id
        result["dataPermitted"] = dept_visible(ctx, dept_id)
    result["allGranted"] = all(result["permissions"].values()) and result.get("dataPermitted", True)
    return result
