"""IF-INST-002 edge models."""

from __future__ import annotations

from pydantic import ConfigDict, Field

from waterrev.fields import Amount, Id, Model, Reply
from waterrev.installation import commands
from waterrev.installation.models import AuditResult, InstallAttachment, InstallStatus
from waterrev.installation.models.apply import attachments


class InstallSurveyRequest(Model):
    """IF-INST-002 请求参数."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "processId": 1,
                    "schemeVersion": "V1",
                    "surveyResult": "具备接水条件，DN20 入户",
                    "estimateAmount": "1200.00",
                    "attachmentList": [],
                    "auditResult": "PASS",
                }
            ]
        }
    )

    process_id: Id = Field(description="报装流程 ID (installation_process.id)")
    scheme_version: str = Field(min_length=1, max_length=32, description="方案版本号")
    survey_result: str = Field(min_length=1, max_length=1000, description="踏勘结论")
    estimate_amount: Amount | None = Field(default=None, description="预估费用（元）：审核通过（PASS）时必填")
    attachment_list: list[InstallAttachment] | None = Field(
        default=None, max_length=50, description="现场照片与方案附件"
    )
    audit_result: AuditResult | None = Field(
        default=None, description="审核结果：PASS（待签合同）、REJECT（不予报装）；不传时仅记录踏勘，待审核"
    )

    def command(self) -> commands.Survey:
        return commands.Survey(
            self.process_id,
            self.scheme_version,
            self.survey_result,
            self.estimate_amount,
            attachments(self.attachment_list),
            self.audit_result,
        )


class InstallSurveyReply(Reply):
    """IF-INST-002 响应参数."""

    transfer_id: int = Field(description="流转记录 ID (installation_transfer.id)")
    process_status: InstallStatus = Field(description="当前流程状态")
    next_node: str = Field(description="下一节点：SURVEY、CONTRACT_SIGN、END ...")
    msg: str = Field(description="处理说明")
