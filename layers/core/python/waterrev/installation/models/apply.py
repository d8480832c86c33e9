"""IF-INST-001 edge models: the application, the attachment upload link, the application's detail."""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field

from waterrev.fields import DateTime, Id, Mobile, Model, Money, Reply
from waterrev.installation import commands
from waterrev.installation.models import (
    ApplyType,
    FileType,
    InstallAttachment,
    InstallStatus,
    SourceChannel,
    WaterUseType,
)

_EXAMPLE_ATTACHMENT = {
    "fileName": "身份证.jpg",
    "fileKey": "installation/uploads/0f1e2d3c4b5a69788796a5b4c3d2e1f0/id.jpg",
    "fileType": "image/jpeg",
    "fileSize": 20480,
    "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
}


def attachments(items: list[InstallAttachment] | None) -> tuple[commands.Attachment, ...]:
    return tuple(
        commands.Attachment(a.file_name, a.file_key, a.file_type, a.file_size, a.sha256.lower())
        for a in items or ()
    )


class InstallApplyRequest(Model):
    """IF-INST-001 请求参数."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "applyType": "NEW",
                    "applicantName": "张三",
                    "mobile": "13800138000",
                    "address": "鼓楼区报装路 1 号",
                    "waterUseType": "RESIDENT",
                    "sourceChannel": "COUNTER",
                    "attachmentList": [],
                }
            ]
        }
    )

    apply_type: ApplyType = Field(description="报装类型：NEW、REBUILD、ONE_METER_ONE_HOME")
    applicant_name: str = Field(min_length=1, max_length=100, description="申请人姓名")
    mobile: Mobile = Field(description="联系手机号")
    address: str = Field(min_length=1, max_length=255, description="申请地址")
    water_use_type: WaterUseType = Field(
        description="用水性质（业务字典 biz_cust_type）：RESIDENT、NON_RESIDENT、SPECIAL；立户后为客户类型"
    )
    source_channel: SourceChannel = Field(description="来源渠道：COUNTER、MINIAPP、GOV")
    attachment_list: list[InstallAttachment] | None = Field(
        default=None,
        max_length=50,
        description="申请附件列表：经上传链接存入的文件，逐个核对大小、类型与摘要",
    )
    dept_id: Id | None = Field(default=None, description="扩展：受理营业所；不传时为操作员所属营业所")

    def command(self) -> commands.Apply:
        return commands.Apply(
            self.apply_type,
            self.applicant_name,
            self.mobile,
            self.address,
            self.water_use_type,
            self.source_channel,
            attachments(self.attachment_list),
            self.dept_id,
        )


class InstallApplyReply(Reply):
    """IF-INST-001 响应参数."""

    process_id: int = Field(description="流程实例 ID (installation_process.id)")
    process_code: str = Field(description="报装流程编号 (installation_process.code)")
    process_status: Literal["INIT", "ACCEPTED", "SURVEYING"] = Field(
        description="当前状态：受理即待踏勘（SURVEYING）；重复提交且已越过踏勘时为 ACCEPTED，实际状态见 msg 与详情接口"
    )
    accept_status: Literal["ACCEPTED"] = Field(description="受理结果：ACCEPTED")
    msg: str = Field(description="处理说明")


class InstallUploadRequest(Model):
    """扩展：申请一个附件上传链接（预签名 PUT，限时）。"""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"fileName": "身份证.jpg", "fileType": "image/jpeg", "fileSize": 20480}]
        }
    )

    file_name: str = Field(min_length=1, max_length=200, description="文件名")
    file_type: FileType = Field(description="文件类型：application/pdf、image/jpeg、image/png、text/plain")
    file_size: int = Field(gt=0, le=1 << 40, description="文件字节数（不超过上限）")

    def command(self) -> commands.UploadRequest:
        return commands.UploadRequest(self.file_name, self.file_type, self.file_size)


class InstallUploadReply(Reply):
    file_key: str = Field(description="扩展：对象键，提交附件时原样带回 (fileKey)")
    upload_url: str = Field(description="扩展：预签名 PUT 地址，须以 Content-Type = fileType 上传")
    file_type: str = Field(description="扩展：上传时须用的 Content-Type")
    expire_time: DateTime = Field(description="扩展：链接失效时间")


class InstallTransferItem(Reply):
    transfer_id: int = Field(description="流转记录 ID (installation_transfer.id)")
    action: str = Field(description="动作：APPLY、SURVEY_*、CONTRACT_INITIATE、SIGN_*、ARCHIVE_*")
    from_status: str | None = Field(description="原状态")
    to_status: str = Field(description="新状态")
    next_node: str = Field(description="下一节点")
    operator_id: int | None = Field(description="操作人（0 为系统/外部回执）")
    remark: str | None = Field(description="说明")
    create_time: DateTime = Field(description="时间")


class InstallDocumentItem(Reply):
    document_id: int = Field(description="附件 ID (installation_document.id)")
    category: str = Field(description="分类：APPLY、SURVEY、CONTRACT、SIGNED、ACCEPT、CHECK、FINISH")
    file_name: str = Field(description="文件名")
    file_type: str = Field(description="文件类型")
    file_size: int = Field(description="字节数")
    sha256: str = Field(description="SHA-256 摘要")
    archive_batch_no: str | None = Field(description="归档批次号")


class InstallContractItem(Reply):
    contract_id: int = Field(description="合同 ID (installation_contract.id)")
    contract_no: str = Field(description="合同编号")
    request_no: str = Field(description="签章请求号")
    contract_amount: Money = Field(description="合同金额（预估费用）")
    contract_status: str = Field(description="SIGNING、SIGNED、FAILED、CANCELLED")
    send_status: str = Field(description="PENDING（待发送）、SENT（签章服务已受理）")
    sign_url: str | None = Field(description="签署页地址")
    file_sha256: str = Field(description="合同文件 SHA-256")
    signature_id: int | None = Field(description="签章记录 ID")
    sign_status: str | None = Field(description="签章状态：SUCCESS、FAIL、CANCEL")
    signature_time: DateTime | None = Field(description="签章时间")
    evidence_id: int | None = Field(description="存证记录 ID")
    evidence_no: str | None = Field(description="存证编号")
    hash_value: str | None = Field(description="存证哈希")


class InstallArchiveItem(Reply):
    archive_batch_no: str = Field(description="归档批次号")
    archive_type: str = Field(description="归档类型")
    archive_status: str = Field(description="SUCCESS、PARTIAL、FAIL")
    archive_count: int = Field(description="已归档文件数量")
    evidence_hash: str | None = Field(description="归档时全部文件的存证哈希")
    create_time: DateTime = Field(description="时间")


class InstallDetailReply(Reply):
    """扩展：报装申请详情（进度、轨迹、文件、合同、签章、归档、立户结果）。"""

    process_id: int = Field(description="流程实例 ID")
    process_code: str = Field(description="报装流程编号")
    process_status: InstallStatus = Field(description="当前状态")
    current_node: str = Field(description="当前节点")
    apply_type: str = Field(description="报装类型")
    applicant_name: str = Field(description="申请人")
    mobile: str = Field(description="联系手机号（脱敏）")
    address: str = Field(description="申请地址")
    water_use_type: str = Field(description="用水性质")
    source_channel: str = Field(description="来源渠道")
    dept_id: int = Field(description="受理营业所")
    scheme_version: str | None = Field(description="审核通过的方案版本")
    estimate_amount: Money | None = Field(description="预估费用")
    meter_no: str | None = Field(description="验收登记的水表编号")
    cust_id: int | None = Field(description="立户后的客户 ID")
    account_id: int | None = Field(description="立户后的账户 ID")
    meter_id: int | None = Field(description="立户后的水表 ID")
    create_time: DateTime = Field(description="申请时间")
    completed_time: DateTime | None = Field(description="办结时间")
    transfer_list: list[InstallTransferItem] = Field(description="流转轨迹")
    document_list: list[InstallDocumentItem] = Field(description="文件（含摘要）")
    contract_list: list[InstallContractItem] = Field(description="合同与签章")
    archive_list: list[InstallArchiveItem] = Field(description="归档批次")
