"""IF-INST-001 报装申请提交接口: the application, its attachment upload links, and its detail."""

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Path

from waterrev.api import doc, lambda_handler, new_app, request_context
from waterrev.envelope import ok
from waterrev.errors import ErrorCode
from waterrev.installation import applications
from waterrev.installation.models.apply import (
    InstallApplyReply,
    InstallApplyRequest,
    InstallDetailReply,
    InstallUploadReply,
    InstallUploadRequest,
)

app = new_app()


@app.post(
    "/admin-api/installation/apply/create",
    **doc(
        InstallApplyReply,
        ErrorCode.CONFLICT,
        summary="报装申请提交",
        description="受理报装申请并创建流程实例（待踏勘 SURVEYING）；附件须先经上传链接存入，逐个核对大小、类型与"
        " SHA-256。幂等：同一报装类型、手机号与地址的在办申请只有一个，重复提交返回该申请。",
    ),
)
def create(body: InstallApplyRequest) -> dict:
    return ok(applications.apply(request_context(app), body.command()))


@app.post(
    "/admin-api/installation/attachment/upload-url",
    **doc(
        InstallUploadReply,
        summary="报装附件上传链接（扩展）",
        description="限时预签名 PUT；对象键由服务端签发。",
    ),
)
def upload_url(body: InstallUploadRequest) -> dict:
    return ok(applications.upload_link(request_context(app), body.command()))


@app.get(
    "/admin-api/installation/apply/<processId>",
    **doc(InstallDetailReply, ErrorCode.PROCESS_NOT_FOUND, summary="报装申请详情（扩展）"),
)
def detail(processId: Annotated[int, Path(gt=0, le=2**63 - 1, description="报装流程 ID")]) -> dict:
    return ok(applications.detail(request_context(app), processId))


handler = lambda_handler(app)
