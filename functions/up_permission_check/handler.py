"""IF-UP-003 权限校验接口: menu/button permissions and dept data permission."""

from waterrev.api import doc, lambda_handler, new_app, request_context
from waterrev.envelope import ok
from waterrev.errors import ErrorCode
from waterrev.platform import auth
from waterrev.platform.models.permission import PermissionCheckReply, PermissionCheckRequest

app = new_app()


@app.post(
    "/admin-api/system/permission/check",
    **doc(
        PermissionCheckReply,
        ErrorCode.CUSTOMER_NOT_FOUND_OR_STOPPED,
        summary="校验菜单、按钮权限与数据权限",
        description="custId 指向不存在或不在本人数据范围内的客户时，同样答 1_002_001_001。",
    ),
)
def check(body: PermissionCheckRequest) -> dict:
    return ok(auth.check(request_context(app), body.permissions, body.dept_id, body.cust_id))


handler = lambda_handler(app)
