"""IF-INST-003 / IF-INST-004 edge models."""

from __future__ import annotations

from pydantic import ConfigDict, Field

from waterrev.fields import DateTime, Id, Mobile, Model, Money, Page, Reply
from waterrev.installation import commands
from waterrev.installation.models import InstallStatus, SignStatus, WriteBackStatus


class SignInitiateRequest(Model):
    """IF-INST-003 请求参数（种子未给字段表：按合同签署的最小输入定义）。"""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"processId": 1, "signerName": "张三", "signerMobile": "13800138000"}]
        }
    )

    process_id: Id = Field(description="报装流程 ID：须为踏勘审核通过（SURVEYED）")
    signer_name: str | None = Field(default=None, max_length=100, description="签署人；不传时为申请人")
    signer_mobile: Mobile | None = Field(default=None, description="签署人手机号；不传时为申请手机号")

    def command(self) -> commands.InitiateSign:
        return commands.InitiateSign(self.process_id, self.signer_name, self.signer_mobile)


class SignInitiateReply(Reply):
    """IF-INST-003 响应参数."""

    contract_id: int = Field(description="合同 ID (installation_contract.id)")
    contract_no: str = Field(description="合同编号")
    request_no: str = Field(description="签章请求号（发往电子签章服务，IF-INST-004 回传）")
    contract_amount: Money = Field(description="合同金额（预估费用）")
    file_sha256: str = Field(description="合同文件 SHA-256")
    send_status: str = Field(description="PENDING（待发送，可再次发起重发）、SENT（签章服务已受理）")
    sign_url: str | None = Field(description="签署页地址（签章服务提供）")
    process_status: InstallStatus = Field(description="当前流程状态")
    msg: str = Field(description="处理说明")


class SignCallback(Model):
    """IF-INST-004 请求参数（电子签章服务回执；原始报文验签，不经模型校验）。"""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "contractId": 1,
                    "requestNo": "QS2026120500000001",
                    "signStatus": "SUCCESS",
                    "signerId": "SIGNER-1",
                    "signatureTime": "2026-12-05T10:00:00+08:00",
                    "evidenceNo": "CZ000001",
                    "fileUrl": "http://127.0.0.1:3011/v1/files/QS2026120500000001",
                    "hashValue": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
                    "resultMsg": "签署完成",
                }
            ]
        }
    )

    contract_id: Id = Field(description="合同 ID (installation_contract.id)")
    request_no: str = Field(max_length=40, description="签章请求号")
    sign_status: SignStatus = Field(description="签章状态：SUCCESS、FAIL、CANCEL")
    signer_id: str | None = Field(default=None, max_length=64, description="签署人标识")
    signature_time: str | None = Field(
        default=None, max_length=40, description="签章时间（ISO 8601，带时区）"
    )
    evidence_no: str | None = Field(default=None, max_length=64, description="存证编号")
    file_url: str | None = Field(default=None, max_length=512, description="已签文件地址（签章服务上）")
    hash_value: str | None = Field(default=None, max_length=128, description="存证哈希：已签文件 SHA-256")
    result_msg: str | None = Field(default=None, max_length=500, description="结果说明")


class SignCallbackReply(Reply):
    """IF-INST-004 响应参数."""

    signature_id: int | None = Field(description="签章记录 ID (installation_signature.id)；回写失败时为 null")
    evidence_id: int | None = Field(description="存证记录 ID (installation_evidence.id)；无存证时为 null")
    write_back_status: WriteBackStatus = Field(description="回写状态：SUCCESS、IGNORE_REPEAT、FAIL")
    msg: str = Field(description="处理说明")


class SignExceptionItem(Reply):
    callback_id: int = Field(description="扩展：回执记录 ID")
    request_no: str | None = Field(description="签章请求号")
    sign_status: str | None = Field(description="回执中的签章状态")
    reason: str | None = Field(description="未能回写的原因")
    receive_time: DateTime = Field(description="收到时间")


class SignExceptionPage(Page[SignExceptionItem]):
    """扩展：未能回写的签章回执（writeBackStatus FAIL），人工核查入口。"""
