"""IF-UP-001 用户登录接口: login, refresh, logout."""

from waterrev.api import lambda_handler, new_app, request_context
from waterrev.envelope import ok
from waterrev.platform import auth
from waterrev.platform.models import LoginRequest, RefreshRequest

app = new_app()


@app.post("/admin-api/system/auth/login")
def login(body: LoginRequest) -> dict:
    return ok(auth.login(request_context(app), body.username, body.password))


@app.post("/admin-api/system/auth/refresh-token")
def refresh(body: RefreshRequest) -> dict:
    return ok(auth.refresh(request_context(app), body.refresh_token))


@app.post("/admin-api/system/auth/logout")
def logout() -> dict:
    return ok(auth.logout(request_context(app)))


handler = lambda_handler(app)
