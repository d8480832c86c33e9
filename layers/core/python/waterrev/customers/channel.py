"""Customer channel sessions and IF-CS-001 account binding.

Channel login: the channel's own back end (the WeChat/Alipay mini-program server, which has
exchanged the user's login code for an openid) signs `channelType\nchannelUserId\ntimestamp\nnonce`
with HMAC-SHA256 and the shared channel secret. We accept each signed login once, inside a
replay window, and issue a MEMBER token bound to that channel identity.
"""

from __future__ import annotations

import hmac
import secrets
import time
from typing import Any

from waterrev import audit, crypto
from waterrev.context import RequestContext, UserType
from waterrev.customers.commands import BindCommand
from waterrev.db import UnitOfWork
from waterrev.errors import AppError, ErrorCode
from waterrev.logs import get_logger
from waterrev.masking import mask_mobile
from waterrev.messages import enqueue
from waterrev.platform.auth import issue_tokens, login_log
from waterrev.security import hmac_sha256, token_hash
from waterrev.settings import get_settings

MODULE = "CS-001"
VERIFY_CODE_TEMPLATE = "BIND_VERIFY_CODE"  # SYS-010 templateCode of the bind code SMS
BLOCKED_ACCOUNT_STATES = ("CLOSED", "FROZEN", "RESTRICTED")
# custId + custName guesses a channel user may get wrong before it is refused codes (DECISIONS 27)
NAME_MATCH_MAX_FAILURES = 5
NAME_MATCH_WINDOW_S = 24 * 3600
_secret_cache: list[str] = []


def channel_secret() -> str:
    settings = get_settings()
    if settings.channel_login_secret:
        return settings.channel_login_secret
    if settings.channel_login_secret_arn:
        if not _secret_cache:
            import boto3

            value = boto3.client("secretsmanager").get_secret_value(
                SecretId=settings.channel_login_secret_arn
            )
            _secret_cache.append(value["SecretString"])
        return _secret_cache[0]
    raise AppError(ErrorCode.INTERNAL_ERROR, "渠道登录密钥未配置")


def sign_channel_login(
    secret: str, channel_type: str, channel_user_id: str, timestamp: int, nonce: str
) -> str:
    return hmac_sha256(secret, f"{channel_type}\n{channel_user_id}\n{timestamp}\n{nonce}")


def channel_login(
    ctx: RequestContext, channel_type: str, channel_user_id: str, timestamp: int, nonce: str, signature: str
) -> dict[str, Any]:
    window = get_settings().channel_login_window_s
    expected = sign_channel_login(channel_secret(), channel_type, channel_user_id, timestamp, nonce)
    if not hmac.compare_digest(expected, signature.lower()):
        raise AppError(ErrorCode.UNAUTHORIZED, "signature: 渠道签名校验失败")
    if abs(time.time() - timestamp) > window:
        raise AppError(ErrorCode.UNAUTHORIZED, f"timestamp: 超出 {window} 秒有效期")
    with UnitOfWork() as uow:
        uow.execute(
            "DELETE FROM biz_channel_nonce WHERE create_time < now() - make_interval(secs => :w)",
            {"w": window * 2},
        )
        fresh = uow.scalar(
            "INSERT INTO biz_channel_nonce (nonce) VALUES (:n) ON CONFLICT DO NOTHING RETURNING 1",
            {"n": f"{channel_type}:{nonce}"},
        )
        if fresh is None:
            raise AppError(ErrorCode.UNAUTHORIZED, "nonce: 重复的登录请求")
        member_id = uow.scalar(
            "INSERT INTO biz_channel_user (channel_type, channel_user_id, last_login_time)"
            " VALUES (:t, :u, now()) ON CONFLICT (channel_type, channel_user_id)"
            " DO UPDATE SET last_login_time = now() RETURNING id",
            {"t": channel_type, "u": channel_user_id},
        )
        tokens = issue_tokens(uow, member_id, UserType.MEMBER)
        login_log(
            uow, ctx, "LOGIN_CHANNEL", "MEMBER", f"{channel_type}:{channel_user_id}", member_id, "SUCCESS"
        )
        uow.commit()
    return tokens


def _lock_member(uow: UnitOfWork, ctx: RequestContext) -> int:
    """Serialize binding changes of one channel user (one default, no lost updates)."""
    member = uow.scalar(
        "SELECT id FROM biz_channel_user WHERE id = :id FOR UPDATE", {"id": ctx.principal.user_id}
    )
    if member is None:
        raise AppError(ErrorCode.UNAUTHORIZED)
    return int(member)


def _bindable_customer(uow: UnitOfWork, cust_id: int, cust_name: str | None = None) -> dict[str, Any]:
    """The customer a channel user may bind; with `cust_name`, only if the name matches too, and a
    wrong name is refused exactly as an unknown or stopped customer (nothing to tell them apart)."""
    cust = uow.one(
        "SELECT id, code, name, address, mobile, mobile_cipher, mobile_index, status FROM biz_cust WHERE id = :id",
        {"id": cust_id},
    )
    if (
        cust is None
        or cust["status"] != "NORMAL"
        or (cust_name is not None and (cust["name"] or "").strip() != cust_name.strip())
    ):
        raise AppError(ErrorCode.CUSTOMER_NOT_FOUND_OR_STOPPED, f"custId={cust_id}")
    return cust


def _failed_matches(uow: UnitOfWork, member: int) -> int:
    return int(
        uow.scalar(
            "SELECT count(*) FROM biz_verify_code_failure WHERE channel_user = :m"
            " AND create_time > now() - make_interval(secs => :w)",
            {"m": member, "w": NAME_MATCH_WINDOW_S},
        )
    )


def _record_failed_match(uow: UnitOfWork, ctx: RequestContext, member: int, cust_id: int) -> None:
    """Kept and committed in the request's own unit of work, while the member row is still locked:
    the next request of this channel user counts it (no race, no second unit of work). Rows older
    than two windows are pruned here, so the table stays small."""
    uow.execute(
        "DELETE FROM biz_verify_code_failure WHERE channel_user = :m AND create_time < now() - make_interval(secs => :w)",
        {"m": member, "w": 2 * NAME_MATCH_WINDOW_S},
    )
    uow.execute(
        "INSERT INTO biz_verify_code_failure (channel_user, cust_id) VALUES (:m, :c)",
        {"m": member, "c": cust_id},
    )
    uow.commit()
    get_logger().warning(
        f"verify code refused: no bindable customer matched, channel user {ctx.principal.user_id}"
    )


def send_verify_code(ctx: RequestContext, cust_id: int, cust_name: str) -> dict[str, Any]:
    """Send a 6-digit code to the customer's reserved mobile, through SYS-010 (the message pipeline), when
    `cust_id` and `cust_name` name a bindable customer. Failed matches count against the channel
    user: NAME_MATCH_MAX_FAILURES of them inside NAME_MATCH_WINDOW_S and it gets nothing more."""
    settings = get_settings()
    with UnitOfWork() as uow:
        member = _lock_member(uow, ctx)
        if _failed_matches(uow, member) >= NAME_MATCH_MAX_FAILURES:
            raise AppError(ErrorCode.TOO_MANY_REQUESTS, "客户信息核验失败次数过多，请 24 小时后再试")
        try:
            cust = _bindable_customer(uow, cust_id, cust_name)
        except AppError:
            _record_failed_match(uow, ctx, member, cust_id)
            raise
        if not cust["mobile"] or cust["mobile_cipher"] is None:
            raise AppError(
                ErrorCode.MESSAGE_TEMPLATE_OR_CONTACT_MISSING, "客户未预留手机号，请到营业厅办理绑定"
            )
        recent = uow.scalar(
            "SELECT count(*) FROM biz_verify_code WHERE channel_user = :m AND cust_id = :c"
            " AND create_time > now() - interval '60 seconds'",
            {"m": member, "c": cust_id},
        )
        daily = uow.scalar(
            "SELECT count(*) FROM biz_verify_code WHERE channel_user = :m AND create_time > now() - interval '1 day'",
            {"m": member},
        )
        if recent or daily >= 10:
            raise AppError(ErrorCode.TOO_MANY_REQUESTS, "验证码发送过于频繁")
        code = f"{secrets.randbelow(1_000_000):06d}"
        row_id = uow.scalar(
            "INSERT INTO biz_verify_code (channel_user, cust_id, purpose, code_hash, expires_time)"
            " VALUES (:m, :c, 'BIND', '', now() + make_interval(secs => :ttl)) RETURNING id",
            {"m": member, "c": cust_id, "ttl": settings.verify_code_ttl_s},
        )
        uow.execute(
            "UPDATE biz_verify_code SET code_hash = :h WHERE id = :id",
            {"h": token_hash(f"{row_id}:{code}"), "id": row_id},
        )
        # The code leaves through the message pipeline (the outbox, biz_message -> SQS -> SYS-010), queued
        # with the code itself: none without the other. SYS-010 has it once accepted; the payload's code is
        # then dropped (notifications.delivery). Locally the SYS-010 simulator shows it (its page, the console).
        enqueue(
            uow,
            biz_no=f"VC:{row_id}",
            template_code=VERIFY_CODE_TEMPLATE,
            receiver=cust["mobile"],
            sealed=crypto.stored(cust, "mobile"),  # copied sealed: only the delivery opens it
            channel="SMS",
            source="VERIFY_CODE",
            payload={"custId": cust_id, "code": code, "ttlMinutes": settings.verify_code_ttl_s // 60},
            cust_id=cust_id,
        )
        uow.commit()
    return {"mobile": mask_mobile(cust["mobile"]), "expireSeconds": settings.verify_code_ttl_s}


def _check_code(uow: UnitOfWork, member: int, cust_id: int, verify_code: str | None) -> None:
    if not verify_code:
        raise AppError(ErrorCode.BAD_REQUEST, "verifyCode: 绑定须提供验证码")
    row = uow.one(
        "SELECT id, code_hash, attempts FROM biz_verify_code WHERE channel_user = :m AND cust_id = :c"
        " AND purpose = 'BIND' AND NOT used AND expires_time > now() ORDER BY id DESC LIMIT 1 FOR UPDATE",
        {"m": member, "c": cust_id},
    )
    if row is None:
        raise AppError(ErrorCode.BAD_REQUEST, "verifyCode: 验证码不存在或已过期，请重新获取")
    if row["attempts"] >= get_settings().verify_code_max_attempts:
        raise AppError(ErrorCode.TOO_MANY_REQUESTS, "verifyCode: 验证码错误次数过多，请重新获取")
    if not hmac.compare_digest(row["code_hash"], token_hash(f"{row['id']}:{verify_code}")):
        uow.execute("UPDATE biz_verify_code SET attempts = attempts + 1 WHERE id = :id", {"id": row["id"]})
        uow.commit()
        raise AppError(ErrorCode.BAD_REQUEST, "verifyCode: 验证码不正确")
    uow.execute("UPDATE biz_verify_code SET used = true WHERE id = :id", {"id": row["id"]})


def _binding(uow: UnitOfWork, ctx: RequestContext, cust_id: int) -> dict[str, Any] | None:
    return uow.one(
        "SELECT * FROM biz_cust_app_binds WHERE channel_type = :t AND channel_user_id = :u AND cust_id = :c",
        {"t": ctx.principal.channel_type, "u": ctx.principal.channel_user_id, "c": cust_id},
    )


def _set_default(uow: UnitOfWork, ctx: RequestContext, bind_id: int) -> None:
    who = {"t": ctx.principal.channel_type, "u": ctx.principal.channel_user_id}
    uow.execute(
        "UPDATE biz_cust_app_binds SET is_default = false WHERE channel_type = :t"
        " AND channel_user_id = :u AND is_default",
        who,
    )
    uow.execute("UPDATE biz_cust_app_binds SET is_default = true WHERE id = :id", {"id": bind_id})


def _reply(uow: UnitOfWork, bind_id: int, msg: str) -> dict[str, Any]:
    row = uow.one(
        "SELECT b.id, b.status, b.is_default, b.account_id, c.id AS cust_id, c.code, c.name, c.address,"
        " a.account_no, a.status AS account_status FROM biz_cust_app_binds b JOIN biz_cust c ON c.id = b.cust_id"
        " JOIN biz_account a ON a.id = b.account_id WHERE b.id = :id",
        {"id": bind_id},
    )
    assert row is not None
    return {
        "bindId": row["id"],
        "bindStatus": row["status"],
        "defaultFlag": row["is_default"],
        "custSummary": {
            "custId": row["cust_id"],
            "custCode": row["code"],
            "custName": row["name"],
            "address": row["address"],
            "accountId": row["account_id"],
            "accountNo": row["account_no"],
            "accountStatus": row["account_status"],
        },
        "msg": msg,
    }


def _no_such_account(account_id: int) -> AppError:
    """One answer for an account of another customer and an account that does not exist."""
    return AppError(ErrorCode.NOT_FOUND, f"accountId: 账户 {account_id} 不属于该客户")


def _customer_account(uow: UnitOfWork, cust_id: int, account_id: int | None) -> dict[str, Any]:
    """The customer's account named by `account_id` (its first account when None)."""
    account = uow.one(
        "SELECT id, status FROM biz_account WHERE cust_id = :c AND (CAST(:a AS bigint) IS NULL OR id = :a)"
        " ORDER BY id LIMIT 1",
        {"c": cust_id, "a": account_id},
    )
    if account is None:
        if account_id is None:
            raise AppError(ErrorCode.NOT_FOUND, "accountId: 该客户没有账户")
        raise _no_such_account(account_id)
    return account


def _require_bound_account(
    uow: UnitOfWork, action: str, existing: dict[str, Any], account_id: int | None
) -> None:
    """An `accountId` sent with an existing binding must be the bound account: another customer's or an
    unknown one is refused alike (404); another account of the same customer has no binding. A binding
    no longer BOUND tells nothing about the customer's accounts: any other accountId has no binding."""
    if account_id is None or account_id == existing["account_id"]:
        return
    if existing["status"] == "BOUND":
        _customer_account(uow, existing["cust_id"], account_id)
    if action == "BIND":
        raise AppError(
            ErrorCode.CONFLICT,
            f"accountId: 该客户已绑定账户 {existing['account_id']}，请先解绑",
            data={"accountId": existing["account_id"]},
        )
    raise AppError(ErrorCode.BINDING_NOT_FOUND, f"custId={existing['cust_id']}, accountId={account_id}")


def bind(ctx: RequestContext, cmd: BindCommand) -> dict[str, Any]:
    """BIND / UNBIND / SET_DEFAULT of one of the caller's customers (docs/DECISIONS.md 4, 27)."""
    p = ctx.principal
    if (cmd.channel_type, cmd.channel_user_id) != (p.channel_type, p.channel_user_id):
        raise AppError(ErrorCode.FORBIDDEN, "channelUserId: 与登录的渠道身份不一致")
    action, cust_id, account_id = cmd.action, cmd.cust_id, cmd.account_id
    verify_code, default_flag = cmd.verify_code, cmd.default_flag
    with UnitOfWork() as uow:
        member = _lock_member(uow, ctx)
        existing = _binding(uow, ctx, cust_id)
        if existing is not None and (action != "BIND" or existing["status"] == "BOUND"):
            _require_bound_account(uow, action, existing, account_id)
        if action == "BIND":
            reply = _bind(uow, ctx, member, existing, cust_id, account_id, verify_code, default_flag)
        elif existing is None:
            raise AppError(ErrorCode.BINDING_NOT_FOUND, f"custId={cust_id}")
        elif action == "UNBIND":
            reply = _unbind(uow, ctx, existing)
        else:
            if existing["status"] != "BOUND":
                raise AppError(ErrorCode.BINDING_NOT_FOUND, f"custId={cust_id}")
            if not existing["is_default"]:
                _set_default(uow, ctx, existing["id"])
                audit.record(
                    uow,
                    ctx,
                    module=MODULE,
                    operation="SET_DEFAULT",
                    object_type="biz_cust_app_binds",
                    object_id=existing["id"],
                    before={"isDefault": False},
                    after={"isDefault": True},
                )
            reply = _reply(uow, existing["id"], "已设为默认账户")
        uow.commit()
    return reply


def _bind(
    uow: UnitOfWork,
    ctx: RequestContext,
    member: int,
    existing: dict[str, Any] | None,
    cust_id: int,
    account_id: int | None,
    verify_code: str | None,
    default_flag: bool | None,
) -> dict[str, Any]:
    if existing is not None and existing["status"] == "BOUND":
        if default_flag and not existing["is_default"]:
            _set_default(uow, ctx, existing["id"])
            audit.record(
                uow,
                ctx,
                module=MODULE,
                operation="SET_DEFAULT",
                object_type="biz_cust_app_binds",
                object_id=existing["id"],
                before={"isDefault": False},
                after={"isDefault": True},
            )
        return _reply(uow, existing["id"], "已绑定")
    # The code first: only a channel user that named this customer by id and name holds one, so the
    # answers below (customer stopped, account missing or blocked) tell nothing to anyone else; an
    # unknown id and a known one without a code get the same "no code" answer.
    _check_code(uow, member, cust_id, verify_code)
    _bindable_customer(uow, cust_id)
    account = _customer_account(uow, cust_id, account_id)
    if account["status"] in BLOCKED_ACCOUNT_STATES:
        raise AppError(
            ErrorCode.CONFLICT,
            f"账户状态为 {account['status']}，不允许绑定",
            data={"accountStatus": account["status"]},
        )
    p = ctx.principal
    bind_id = uow.scalar(
        "INSERT INTO biz_cust_app_binds (channel_type, channel_user_id, cust_id, account_id)"
        " VALUES (:t, :u, :c, :a) ON CONFLICT (channel_type, channel_user_id, cust_id) DO UPDATE"
        " SET status = 'BOUND', account_id = :a, bind_time = now(), unbind_time = NULL, is_default = false"
        " RETURNING id",
        {"t": p.channel_type, "u": p.channel_user_id, "c": cust_id, "a": account["id"]},
    )
    has_default = uow.scalar(
        "SELECT 1 FROM biz_cust_app_binds WHERE channel_type = :t AND channel_user_id = :u AND is_default"
        " AND status = 'BOUND'",
        {"t": p.channel_type, "u": p.channel_user_id},
    )
    if default_flag or not has_default:
        _set_default(uow, ctx, bind_id)
    audit.record(
        uow,
        ctx,
        module=MODULE,
        operation="BIND",
        object_type="biz_cust_app_binds",
        object_id=bind_id,
        before=None if existing is None else {"status": existing["status"]},
        after={"status": "BOUND", "custId": cust_id, "accountId": account["id"]},
    )
    return _reply(uow, bind_id, "绑定成功")


def _unbind(uow: UnitOfWork, ctx: RequestContext, existing: dict[str, Any]) -> dict[str, Any]:
    if existing["status"] == "UNBOUND":
        return _reply(uow, existing["id"], "已解绑")
    uow.execute(
        "UPDATE biz_cust_app_binds SET status = 'UNBOUND', is_default = false, unbind_time = now()"
        " WHERE id = :id",
        {"id": existing["id"]},
    )
    if existing["is_default"]:
        successor = uow.scalar(
            "SELECT id FROM biz_cust_app_binds WHERE channel_type = :t AND channel_user_id = :u"
            " AND status = 'BOUND' ORDER BY bind_time DESC, id DESC LIMIT 1",
            {"t": ctx.principal.channel_type, "u": ctx.principal.channel_user_id},
        )
        if successor is not None:
            _set_default(uow, ctx, successor)
            audit.record(
                uow,
                ctx,
                module=MODULE,
                operation="SET_DEFAULT",
                object_type="biz_cust_app_binds",
                object_id=successor,
                before={"isDefault": False},
                after={"isDefault": True},
                remark=f"默认绑定 {existing['id']} 解绑后顺延",
            )
    audit.record(
        uow,
        ctx,
        module=MODULE,
        operation="UNBIND",
        object_type="biz_cust_app_binds",
        object_id=existing["id"],
        before={"status": "BOUND", "isDefault": existing["is_default"]},
        after={"status": "UNBOUND"},
    )
    return _reply(uow, existing["id"], "解绑成功")


def list_bindings(ctx: RequestContext) -> list[dict[str, Any]]:
    with UnitOfWork() as uow:
        ids = uow.all(
            "SELECT id FROM biz_cust_app_binds WHERE channel_type = :t AND channel_user_id = :u"
            " AND status = 'BOUND' ORDER BY is_default DESC, bind_time",
            {"t": ctx.principal.channel_type, "u": ctx.principal.channel_user_id},
        )
        return [_reply(uow, r["id"], "")["custSummary"] | {"bindId": r["id"]} for r in ids]
