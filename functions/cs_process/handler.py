"""IF-CS-006 业务办理进度接口: a bound customer's online applications (CREATE / QUERY / SUPPLEMENT,
attachments through S3 upload links), and the back office's steps on them."""

from typing import Annotated, Literal

from aws_lambda_powertools.event_handler.openapi.params import Path, Query

from waterrev.api import doc, lambda_handler, new_app, request_context
from waterrev.envelope import ok
from waterrev.errors import ErrorCode
from waterrev.fields import BIGINT_MAX
from waterrev.service import processes
from waterrev.service.commands import ProcessFilter
from waterrev.service.models.process import (
    AskSupplementRequest,
    AttachmentLinkReply,
    AttachmentLinkRequest,
    BusinessType,
    HandleRequest,
    ProcessPage,
    ProcessReply,
    ProcessRequest,
    RejectRequest,
    TransferRequest,
)

app = new_app()
_HIDDEN = "另一客户的办理单与不存在的办理单同样答 1_002_007_001（只回显请求的 processId）。"
_STEP_ERRORS = (ErrorCode.PROCESS_NOT_FOUND, ErrorCode.PROCESS_NODE_NOT_ALLOWED)


@app.post(
    "/app-api/customer/process",
    **doc(
        ProcessReply,
        ErrorCode.BINDING_NOT_FOUND,
        ErrorCode.PROCESS_NOT_FOUND,
        ErrorCode.PROCESS_NODE_NOT_ALLOWED,
        ErrorCode.CONFLICT,
        summary="提交业务办理申请（CREATE）、查询进度（QUERY）、补件（SUPPLEMENT）",
        description="同一客户同类业务同时只有一张在办单：内容相同的重复提交返回原单，不同内容答 1_002_007_002；"
        "补件按 processId + action + attachmentDigest 幂等，已办结或驳回的办理单拒绝补件。" + _HIDDEN,
    ),
)
def act(body: ProcessRequest) -> dict:
    return ok(processes.act(request_context(app), body.command()))


@app.get(
    "/app-api/customer/process",
    **doc(
        ProcessReply,
        ErrorCode.PROCESS_NOT_FOUND,
        summary="查询办理进度（节点、流转轨迹、附件）",
        description=_HIDDEN,
    ),
)
def query(
    process_id: Annotated[int, Query(alias="processId", gt=0, le=BIGINT_MAX, description="办理流程 ID")],
) -> dict:
    return ok(processes.query(request_context(app), process_id))


@app.get(
    "/app-api/customer/process/page",
    **doc(ProcessPage, ErrorCode.BINDING_NOT_FOUND, summary="本人绑定客户的办理单（扩展）"),
)
def customer_page(
    cust_id: Annotated[int, Query(alias="custId", gt=0, le=BIGINT_MAX, description="客户 ID")],
    page_no: Annotated[int, Query(alias="pageNo", ge=1, le=10000, description="页码")] = 1,
    page_size: Annotated[int, Query(alias="pageSize", ge=1, le=50, description="每页数量")] = 10,
) -> dict:
    return ok(processes.customer_page(request_context(app), cust_id, page_no, page_size))


@app.post(
    "/app-api/customer/process/attachment/upload-url",
    **doc(
        AttachmentLinkReply,
        ErrorCode.BINDING_NOT_FOUND,
        summary="申请附件上传链接（扩展：S3 预签名 POST，限时、限大小与类型，记录 SHA-256）",
    ),
)
def upload_url(body: AttachmentLinkRequest) -> dict:
    return ok(processes.upload_link(request_context(app), body.command()))


@app.get(
    "/admin-api/customer/process/page",
    **doc(ProcessPage, summary="业务办理单分页（扩展，后台）"),
)
def admin_page(
    cust_id: Annotated[int | None, Query(alias="custId", gt=0, le=BIGINT_MAX, description="客户 ID")] = None,
    status: Annotated[
        Literal["INIT", "ACCEPTED", "PROCESSING", "DONE", "REJECTED"] | None, Query(description="状态")
    ] = None,
    business_type_code: Annotated[
        BusinessType | None, Query(alias="businessTypeCode", description="业务类型")
    ] = None,
    page_no: Annotated[int, Query(alias="pageNo", ge=1, le=10000, description="页码")] = 1,
    page_size: Annotated[int, Query(alias="pageSize", ge=1, le=100, description="每页数量")] = 10,
) -> dict:
    return ok(
        processes.admin_page(
            request_context(app), ProcessFilter(cust_id, status, business_type_code, page_no, page_size)
        )
    )


@app.get(
    "/admin-api/customer/process/<processId>",
    **doc(ProcessReply, ErrorCode.PROCESS_NOT_FOUND, summary="业务办理单详情（扩展，后台）"),
)
def admin_get(
    process_id: Annotated[int, Path(alias="processId", gt=0, le=BIGINT_MAX, description="办理流程 ID")],
) -> dict:
    return ok(processes.query(request_context(app), process_id))


@app.post("/admin-api/customer/process/accept", **doc(ProcessReply, *_STEP_ERRORS, summary="受理（扩展）"))
def accept(body: HandleRequest) -> dict:
    return ok(processes.handle(request_context(app), body.command("ACCEPT")))


@app.post("/admin-api/customer/process/transfer", **doc(ProcessReply, *_STEP_ERRORS, summary="转办（扩展）"))
def transfer(body: TransferRequest) -> dict:
    return ok(processes.handle(request_context(app), body.command()))


@app.post(
    "/admin-api/customer/process/request-supplement",
    **doc(ProcessReply, *_STEP_ERRORS, summary="要求客户补件（扩展）"),
)
def request_supplement(body: AskSupplementRequest) -> dict:
    return ok(processes.handle(request_context(app), body.command()))


@app.post(
    "/admin-api/customer/process/approve",
    **doc(
        ProcessReply,
        *_STEP_ERRORS,
        ErrorCode.CONFLICT,
        ErrorCode.NOT_FOUND,
        ErrorCode.METER_READ_TASK_NOT_FOUND_OR_CLOSED,
        ErrorCode.READING_BELOW_LAST,
        ErrorCode.CUSTOMER_NOT_FOUND_OR_STOPPED,
        summary="审批通过并办结（扩展）：变更客户资料、开票资料、人口，自报读数入账，或生成换表工单",
    ),
)
def approve(body: HandleRequest) -> dict:
    return ok(processes.handle(request_context(app), body.command("APPROVE")))


@app.post("/admin-api/customer/process/reject", **doc(ProcessReply, *_STEP_ERRORS, summary="驳回（扩展）"))
def reject(body: RejectRequest) -> dict:
    return ok(processes.handle(request_context(app), body.command()))


handler = lambda_handler(app)
