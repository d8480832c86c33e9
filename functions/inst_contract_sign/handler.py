"""IF-INST-003 合同签署发起接口, and the signing callbacks that could not be written back."""

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Query

from waterrev.api import doc, lambda_handler, new_app, request_context
from waterrev.envelope import ok
from waterrev.errors import ErrorCode
from waterrev.installation import signing
from waterrev.installation.models.sign import SignExceptionPage, SignInitiateReply, SignInitiateRequest

app = new_app()


@app.post(
    "/admin-api/installation/contract/sign/initiate",
    **doc(
        SignInitiateReply,
        ErrorCode.PROCESS_NOT_FOUND,
        ErrorCode.PROCESS_NODE_NOT_ALLOWED,
        summary="合同签署发起",
        description="生成报装合同（存 S3 并记摘要），发往电子签章服务（docs/ESIGN.md），流程进入 SIGNING。"
        "签章服务未受理（超时、拒绝）时 sendStatus 为 PENDING，再次发起即以同一 requestNo 重发；已发送的重复发起返回原请求。",
    ),
)
def initiate(body: SignInitiateRequest) -> dict:
    return ok(signing.initiate(request_context(app), body.command()))


@app.get(
    "/admin-api/installation/contract/sign/exception/page",
    **doc(SignExceptionPage, summary="未能回写的签章回执（扩展，人工核查入口）"),
)
def exception_page(
    page_no: Annotated[int, Query(alias="pageNo", ge=1, le=10000)] = 1,
    page_size: Annotated[int, Query(alias="pageSize", ge=1, le=100)] = 10,
) -> dict:
    return ok(signing.exceptions(request_context(app), page_no, page_size))


handler = lambda_handler(app)
