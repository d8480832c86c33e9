"""IF-UP-001 用户登录接口: login, refresh, logout."""

from waterrev.api import doc, lambda_handler, new_app, request_context
from waterrev.envelope import ok
from waterrev.errors import ErrorCode
from waterrev.platform import auth
from waterrev.platform.models.auth import LoginReply, LoginRequest, RefreshRequest
from waterrev.platform.models.tokens import TokenReply

app = new_app()


@app.post(
    "/admin-api/system/auth/login",
    **doc(
        LoginReply,
        ErrorCode.UNAUTHORIZED,
        ErrorCode.FORBIDDEN,
        ErrorCode.LOCKED,
        summary="后台用户登录，签发访问令牌并输出用户上下文",
        description="用户名或密码错误为 401；连续失败达到上限后账号锁定 (423)；停用账号为 403。",
    ),
)
def login(body: LoginRequest) -> dict:
    return ok(auth.login(request_context(app), body.username, body.password))


@app.post(
    "/admin-api/system/auth/refresh-token",
    **doc(TokenReply, ErrorCode.UNAUTHORIZED, summary="以刷新令牌换取新的令牌对（旧令牌作废）"),
)
def refresh(body: RefreshRequest) -> dict:
    return ok(auth.refresh(request_context(app), body.refresh_token))


@app.post(
    "/admin-api/system/auth/logout",
    **doc(
        bool,
        # no body is needed; one that is sent must still be readable JSON (api.check_json_body)
        ErrorCode.BAD_REQUEST,
        ErrorCode.UNSUPPORTED_MEDIA_TYPE,
        summary="退出登录，作废当前令牌",
    ),
)
def logout() -> dict:
    return ok(auth.logout(request_context(app)))


handler = lambda_handler(app)
