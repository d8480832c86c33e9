"""IF-CS-001 账户绑定接口: channel login, verification code, BIND / UNBIND / SET_DEFAULT, list."""

from waterrev.api import doc, lambda_handler, new_app, request_context
from waterrev.customers import channel
from waterrev.customers.models.channel import (
    BindReply,
    BindRequest,
    BoundAccount,
    ChannelLoginRequest,
    VerifyCodeRequest,
    VerifyCodeSent,
)
from waterrev.envelope import ok
from waterrev.errors import ErrorCode
from waterrev.platform.models.tokens import TokenReply

app = new_app()


@app.post(
    "/app-api/customer/auth/channel-login",
    **doc(
        TokenReply,
        ErrorCode.UNAUTHORIZED,
        summary="扩展：渠道登录，签发客户渠道访问令牌",
        description="签名不符、超出 5 分钟时间窗或 nonce 重复均为 401。",
    ),
)
def channel_login(body: ChannelLoginRequest) -> dict:
    return ok(
        channel.channel_login(
            request_context(app),
            body.channel_type,
            body.channel_user_id,
            body.timestamp,
            body.nonce,
            body.signature,
        )
    )


@app.post(
    "/app-api/customer/auth/send-verify-code",
    **doc(
        VerifyCodeSent,
        ErrorCode.CUSTOMER_NOT_FOUND_OR_STOPPED,
        ErrorCode.TOO_MANY_REQUESTS,
        ErrorCode.MESSAGE_TEMPLATE_OR_CONTACT_MISSING,
        summary="扩展：按客户 ID 与客户名称发送绑定验证码到预留手机号",
        description=(
            "名称不符、客户不存在或已停用同样答 1_002_001_001（只回显 custId）；24 小时内核验失败 5 次、"
            "同一客户 60 秒内重复或每日超过 10 条为 429；客户未预留手机号为 1_002_008_001。"
        ),
    ),
)
def send_verify_code(body: VerifyCodeRequest) -> dict:
    return ok(channel.send_verify_code(request_context(app), body.cust_id, body.cust_name))


@app.post(
    "/app-api/customer/account/bind",
    **doc(
        BindReply,
        ErrorCode.BINDING_NOT_FOUND,
        ErrorCode.CUSTOMER_NOT_FOUND_OR_STOPPED,
        ErrorCode.NOT_FOUND,
        ErrorCode.CONFLICT,
        ErrorCode.TOO_MANY_REQUESTS,
        summary="绑定、解绑、切换默认客户账户",
        description=(
            "BIND 先校验验证码（无有效验证码为 400），再校验客户与账户；UNBIND、SET_DEFAULT 只作用于本人的绑定，"
            "未绑定为 1_002_001_002。accountId 属于其他客户或不存在同样答 404；账户冻结、限制或销户为 409。"
            "channelType/channelUserId 与登录令牌不一致为 403。"
        ),
    ),
)
def bind(body: BindRequest) -> dict:
    return ok(channel.bind(request_context(app), body.to_command()))


@app.get(
    "/app-api/customer/account/list",
    **doc(list[BoundAccount], summary="扩展：本人已绑定的客户账户（默认在前）"),
)
def bound_accounts() -> dict:
    return ok(channel.list_bindings(request_context(app)))


handler = lambda_handler(app)
