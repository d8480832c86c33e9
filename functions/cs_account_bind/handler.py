"""IF-CS-001 账户绑定接口: channel login, verification code, BIND / UNBIND / SET_DEFAULT, list."""

from waterrev.api import lambda_handler, new_app, request_context
from waterrev.customers import channel
from waterrev.customers.channel_models import BindRequest, ChannelLoginRequest, VerifyCodeRequest
from waterrev.envelope import ok

app = new_app()


@app.post("/app-api/customer/auth/channel-login")
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


@app.post("/app-api/customer/auth/send-verify-code")
def send_verify_code(body: VerifyCodeRequest) -> dict:
    return ok(channel.send_verify_code(request_context(app), body.cust_id, body.cust_name))


@app.post("/app-api/customer/account/bind")
def bind(body: BindRequest) -> dict:
    return ok(channel.bind(request_context(app), body.to_command()))


@app.get("/app-api/customer/account/list")
def bound_accounts() -> dict:
    return ok(channel.list_bindings(request_context(app)))


handler = lambda_handler(app)
