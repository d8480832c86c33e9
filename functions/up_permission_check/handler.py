"""IF-UP-003 权限校验接口: menu/button permissions and dept data permission."""

from waterrev.api import lambda_handler, new_app, request_context
from waterrev.envelope import ok
from waterrev.platform import auth
from waterrev.platform.models import PermissionCheckRequest

app = new_app()


@app.post("/admin-api/system/permission/check")
def check(body: PermissionCheckRequest) -> dict:
    return ok(auth.check(request_context(app), body.permissions, body.dept_id, body.cust_id))


handler = lambda_handler(app)
