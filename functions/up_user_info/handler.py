"""IF-UP-002 用户信息接口: the current user's context (user, dept, roles, permissions, menus)."""

from waterrev.api import lambda_handler, new_app, request_context
from waterrev.envelope import ok
from waterrev.platform import auth

app = new_app()


@app.get("/admin-api/system/auth/get-permission-info")
def permission_info() -> dict:
    return ok(auth.permission_info(request_context(app)))


handler = lambda_handler(app)
