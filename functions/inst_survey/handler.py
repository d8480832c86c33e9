"""IF-INST-002 踏勘结果回填接口."""

from waterrev.api import doc, lambda_handler, new_app, request_context
from waterrev.envelope import ok
from waterrev.errors import ErrorCode
from waterrev.installation import applications
from waterrev.installation.models.survey import InstallSurveyReply, InstallSurveyRequest

app = new_app()


@app.post(
    "/admin-api/installation/survey/result",
    **doc(
        InstallSurveyReply,
        ErrorCode.PROCESS_NOT_FOUND,
        ErrorCode.PROCESS_NODE_NOT_ALLOWED,
        summary="踏勘结果回填",
        description="回填踏勘结论、方案版本与审核结果：PASS 待签合同（须有预估费用），REJECT 不予报装，不传仅记录。"
        "仅待踏勘或已审核待签的申请可回填；幂等：processId + schemeVersion + auditResult。",
    ),
)
def survey(body: InstallSurveyRequest) -> dict:
    return ok(applications.survey(request_context(app), body.command()))


handler = lambda_handler(app)
