"""IF-INST-005 报装归档接口."""

from waterrev.api import doc, lambda_handler, new_app, request_context
from waterrev.envelope import ok
from waterrev.errors import ErrorCode
from waterrev.installation import archive
from waterrev.installation.models.archive import InstallArchiveReply, InstallArchiveRequest

app = new_app()


@app.post(
    "/admin-api/installation/archive/submit",
    **doc(
        InstallArchiveReply,
        ErrorCode.PROCESS_NOT_FOUND,
        ErrorCode.PROCESS_NODE_NOT_ALLOWED,
        ErrorCode.CONFLICT,
        summary="报装归档",
        description="逐个核对附件（大小、类型、SHA-256）后归档，记录全部文件的存证哈希。CHECK（验收，须已签合同，"
        "登记所装水表）进入 CONSTRUCTED；FINISH（须已验收）办结并立户：客户、账户、水表建立并关联，可抄表计费。"
        "部分文件不合格为 PARTIAL、全部不合格为 FAIL，流程不前进。幂等：processId + archiveType + 附件摘要集合。",
    ),
)
def submit(body: InstallArchiveRequest) -> dict:
    return ok(archive.submit(request_context(app), body.command()))


handler = lambda_handler(app)
