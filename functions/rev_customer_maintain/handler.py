"""IF-REV-002 客户主数据维护接口: create and change customers, accounts, contacts, meters, relations."""

from waterrev.api import doc, lambda_handler, new_app, request_context
from waterrev.customers import master as customers
from waterrev.customers.models.master import (
    CustomerCreate,
    CustomerCreated,
    CustomerDetail,
    CustomerUpdate,
    StatusChange,
    StatusChanged,
)
from waterrev.envelope import ok
from waterrev.errors import ErrorCode

app = new_app()


@app.post(
    "/admin-api/revenue/customer/create",
    **doc(
        CustomerCreated,
        ErrorCode.CONFLICT,
        summary="新增客户档案、账户、联系人、水表及开票/托收/代扣关系",
        description="deptId 不存在或已停用为 400，不在本人数据范围内为 403；客户编号、账户编号重复或水表已绑定他人为 409。",
    ),
)
def create(body: CustomerCreate) -> dict:
    return ok(customers.create_customer(request_context(app), body.to_command()))


@app.put(
    "/admin-api/revenue/customer/update",
    **doc(
        CustomerDetail,
        ErrorCode.CUSTOMER_NOT_FOUND_OR_STOPPED,
        ErrorCode.CONFLICT,
        summary="变更客户档案、联系人、水表绑定及开票/托收/代扣关系，返回变更后的完整档案",
        description="不存在、不在本人数据范围内（同样答 1_002_001_001）或已停用的客户不可变更；version 不一致为 409。",
    ),
)
def update(body: CustomerUpdate) -> dict:
    return ok(customers.update_customer(request_context(app), body.to_command()))


@app.put(
    "/admin-api/revenue/customer/update-status",
    **doc(
        StatusChanged,
        ErrorCode.CUSTOMER_NOT_FOUND_OR_STOPPED,
        ErrorCode.NOT_FOUND,
        summary="变更客户状态（停用/启用）或账户状态（冻结、限制、销户）",
        description="已停用的客户只能启用；accountId 不是该客户的账户为 404。",
    ),
)
def update_status(body: StatusChange) -> dict:
    return ok(customers.change_status(request_context(app), body.to_command()))


handler = lambda_handler(app)
