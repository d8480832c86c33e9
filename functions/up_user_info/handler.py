"""IF-UP-002 用户信息接口: the current user's context (user, dept, roles, permissions, menus)."""

from waterrev.api import doc, lambda_handler, new_app, request_context
from waterrev.envelope import ok
from waterrev.platform import auth
from waterrev.platform.models.auth import PermissionInfoReply

app = new_app()


@app.get(
    "/admin-api/system/auth/get-permission-info",
    **doc(PermissionInfoReply, summary="当前登录用户的上下文：用户、营业所、角色、权限、菜单、数据范围"),
)
def permission_info() -> dict:
    return ok(auth.permission_info(request_context(app)))


handler = lambda_handler(app)
