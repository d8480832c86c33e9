"""IF-CS-006 edge models: an online application - CREATE / QUERY / SUPPLEMENT, attachments, the back
office's steps."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field

from waterrev.fields import DateTime, Id, Model, Page, Reply
from waterrev.service import commands

BusinessType = Literal[
    "RENAME",
    "TRANSFER",
    "CONTACT_CHANGE",
    "INVOICE_CHANGE",
    "POPULATION",
    "SELF_READING",
    "METER_CHANGE",
    "LOW_INCOME",
]
ProcessStatus = Literal["INIT", "ACCEPTED", "PROCESSING", "DONE", "REJECTED"]
_KEY = r"^attachments/\d{1,19}/[0-9a-f]{32}$"


class ProcessRequest(Model):
    """IF-CS-006 请求参数 (POST: action CREATE, QUERY or SUPPLEMENT)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "action": "CREATE",
                    "custId": 1,
                    "businessTypeCode": "CONTACT_CHANGE",
                    "applyData": {"mobile": "13800138000"},
                    "attachmentList": [],
                }
            ]
        }
    )

    process_id: Id | None = Field(default=None, description="办理流程 ID，查询、补件场景使用")
    business_type_code: BusinessType | None = Field(
        default=None,
        description="业务类型编码：RENAME 更名、TRANSFER 过户、CONTACT_CHANGE 联系方式变更、INVOICE_CHANGE 开票方式变更、"
        "POPULATION 一户多人口、SELF_READING 自主抄表、METER_CHANGE 换表申请、LOW_INCOME 低保",
    )
    cust_id: Id | None = Field(default=None, description="客户 ID：须为当前渠道用户已绑定的客户")
    apply_data: dict[str, Any] | None = Field(
        default=None,
        description="业务申请主体数据（按业务类型：newName；newName/idType/idNo/mobile；mobile/contactName；"
        "invoiceType/titleType/invoiceTitle/taxNo/email；population；meterId/currentReading/readTime；meterId/reason；"
        "certificateNo/validUntil）",
    )
    attachment_list: list[Annotated[str, Field(max_length=80, pattern=_KEY)]] = Field(
        default_factory=list, max_length=20, description="附件文件标识列表（上传链接接口返回的 attachmentId）"
    )
    action: Literal["CREATE", "QUERY", "SUPPLEMENT"] = Field(
        default="CREATE", description="动作：CREATE、QUERY、SUPPLEMENT"
    )
    remark: str | None = Field(default=None, max_length=200, description="扩展：说明")

    def command(self) -> commands.ProcessAction:
        return commands.ProcessAction(
            self.action,
            self.cust_id,
            self.process_id,
            self.business_type_code,
            self.apply_data,
            tuple(self.attachment_list),
            self.remark,
        )


class TransferItem(Reply):
    step_no: int = Field(description="扩展：步骤序号")
    action: str = Field(
        description="扩展：动作 CREATE、SUPPLEMENT、ACCEPT、TRANSFER、ASK_SUPPLEMENT、APPROVE、WORK_ORDER、DONE、REJECT"
    )
    action_name: str = Field(description="扩展：动作名称")
    from_status: str | None = Field(description="扩展：原状态")
    to_status: str = Field(description="扩展：新状态")
    from_node: str | None = Field(description="扩展：原节点")
    to_node: str = Field(description="扩展：新节点")
    operator_type: str = Field(description="扩展：操作方 ADMIN、MEMBER、SYSTEM")
    remark: str | None = Field(description="扩展：说明")
    create_time: DateTime = Field(description="扩展：时间")


class AttachmentItem(Reply):
    attachment_id: str = Field(description="扩展：附件文件标识")
    file_name: str = Field(description="扩展：文件名")
    content_type: str = Field(description="扩展：类型")
    file_size: int = Field(description="扩展：字节数")
    sha256: str = Field(description="扩展：SHA-256 摘要")
    uploaded_time: DateTime | None = Field(description="扩展：校验通过时间")


class ProcessReply(Reply):
    """IF-CS-006 响应参数."""

    process_id: int = Field(description="办理流程 ID")
    process_code: str = Field(description="流程编号")
    process_status: ProcessStatus = Field(description="当前状态：INIT、ACCEPTED、PROCESSING、DONE、REJECTED")
    current_node: str = Field(
        description="当前办理节点：SUBMITTED、HANDLING、SUPPLEMENT、WORK_ORDER、DONE、REJECTED"
    )
    transfer_list: list[TransferItem] = Field(description="流转轨迹")
    attachment_required: bool = Field(description="是否需要补件")
    msg: str = Field(description="办理说明")
    current_node_name: str = Field(description="扩展：当前节点名称")
    business_type_code: str = Field(description="扩展：业务类型编码")
    business_type_name: str | None = Field(description="扩展：业务类型名称")
    cust_id: int = Field(description="扩展：客户 ID")
    apply_data: dict[str, Any] = Field(description="扩展：申请数据（证件号、手机号脱敏）")
    attachments: list[AttachmentItem] = Field(description="扩展：附件")
    work_order_no: str | None = Field(description="扩展：换表工单号")
    result_msg: str | None = Field(description="扩展：办理结果")
    create_time: DateTime = Field(description="扩展：提交时间")
    finish_time: DateTime | None = Field(description="扩展：办结时间")


class ProcessPage(Page[ProcessReply]):
    pass


class AttachmentLinkRequest(Model):
    """扩展：申请附件上传链接（S3 预签名 POST，限时、限大小与类型）."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "custId": 1,
                    "fileName": "idcard.jpg",
                    "contentType": "image/jpeg",
                    "fileSize": 204800,
                    "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
                }
            ]
        }
    )

    cust_id: Id = Field(description="客户 ID")
    file_name: str = Field(min_length=1, max_length=128, description="文件名")
    content_type: Literal["image/jpeg", "image/png", "application/pdf"] = Field(description="文件类型")
    file_size: int = Field(gt=0, le=100 * 1024 * 1024, description="文件字节数（上限见配置，默认 10 MiB）")
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$", description="文件内容的 SHA-256（小写十六进制）")

    def command(self) -> commands.AttachmentLink:
        return commands.AttachmentLink(
            self.cust_id, self.file_name, self.content_type, self.file_size, self.sha256
        )


class AttachmentLinkReply(Reply):
    attachment_id: str = Field(description="附件文件标识：提交申请或补件时放入 attachmentList")
    upload_url: str = Field(description="上传地址（multipart/form-data POST）")
    form_fields: dict[str, str] = Field(description="须原样附带的表单字段（file 字段放在最后）")
    expire_time: DateTime = Field(description="链接失效时间")
    max_bytes: int = Field(description="允许的最大字节数")
    msg: str = Field(description="说明")


class HandleRequest(Model):
    """扩展：后台办理一步（受理、转办、要求补件、审批通过、驳回）."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"processId": 1, "remark": "资料齐全"}]})

    process_id: Id = Field(description="办理流程 ID")
    remark: str | None = Field(default=None, max_length=200, description="办理意见")

    def command(self, action: str) -> commands.HandleProcess:
        return commands.HandleProcess(action, self.process_id, self.remark)


class TransferRequest(Model):
    """扩展：转办给另一位经办人."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"processId": 1, "toHandlerId": 2, "remark": "转营业所现场核实"}]}
    )

    process_id: Id = Field(description="办理流程 ID")
    to_handler_id: Id = Field(description="接收经办人用户 ID")
    remark: str | None = Field(default=None, max_length=200, description="转办说明")

    def command(self) -> commands.HandleProcess:
        return commands.HandleProcess("TRANSFER", self.process_id, self.remark, self.to_handler_id)


class RejectRequest(Model):
    """扩展：驳回（须说明原因）."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"processId": 1, "remark": "证件照片不清晰"}]})

    process_id: Id = Field(description="办理流程 ID")
    remark: str = Field(min_length=1, max_length=200, description="驳回原因")

    def command(self) -> commands.HandleProcess:
        return commands.HandleProcess("REJECT", self.process_id, self.remark)


class AskSupplementRequest(RejectRequest):
    """扩展：要求客户补件（须说明补什么）."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"processId": 1, "remark": "请补充户口簿照片"}]}
    )

    def command(self) -> commands.HandleProcess:
        return commands.HandleProcess("ASK_SUPPLEMENT", self.process_id, self.remark)
