"""Edge models of the banking routes (IF-REV-011 and its 扩展 routes, IF-EXT-002): handlers only."""

from __future__ import annotations

import builtins
from typing import Literal

from pydantic import ConfigDict, Field

from waterrev.banking import commands
from waterrev.fields import Amount, BankAccount, BillPeriod, DateTime, Id, Mobile, Model, Money, Reply

Kind = Literal["WITHHOLDING", "COLLECTION"]
_BATCH_NO = r"^[A-Za-z0-9_\-]{1,24}$"
_CHANNEL = r"^[A-Z0-9]{2,8}$"


# ---- agreements ----------------------------------------------------------------------------------
class SignRequest(Model):
    """代扣 / 托收签约（扩展接口表：代扣签约、托收签约）."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "custId": 1,
                    "bankCode": "ICBC",
                    "bankAccount": "6222020200001234567",
                    "accountName": "张三",
                    "channelCode": "ICBC",
                    "mobile": "13800138000",
                    "requestNo": "SIGN-20260301-0001",
                    "agreementType": "WITHHOLDING",
                }
            ]
        }
    )

    cust_id: Id = Field(description="客户 ID")
    bank_code: str = Field(pattern=r"^[A-Z0-9]{2,16}$", description="银行编码")
    bank_account: BankAccount = Field(description="银行账号（加密存储，应答与日志只出现脱敏形式）")
    account_name: str = Field(min_length=1, max_length=100, description="账户名")
    channel_code: str = Field(pattern=_CHANNEL, description="代扣渠道编码 (bk_payment_channel.channel_code)")
    sign_no: str | None = Field(
        default=None, pattern=r"^[A-Za-z0-9_\-]{1,32}$", description="银行签约号；不传则由本系统生成"
    )
    mobile: Mobile | None = Field(default=None, description="预留手机号")
    request_no: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9_\-]{1,64}$",
        description="扩展：签约请求号，幂等键（重复提交返回首次结果）",
    )

    agreement_type: Kind = Field(
        default="WITHHOLDING", description="扩展：协议类型 WITHHOLDING 代扣、COLLECTION 托收"
    )

    def command(self) -> commands.Sign:
        return commands.Sign(
            self.agreement_type, self.cust_id, self.bank_code, self.bank_account, self.account_name, self.channel_code,
            self.sign_no, self.mobile, self.request_no,
        )  # fmt: skip


class TerminateRequest(Model):
    """代扣 / 托收解约."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"custId": 1, "reason": "客户申请解约"}]})

    cust_id: Id = Field(description="客户 ID")
    sign_no: str | None = Field(
        default=None, pattern=r"^[A-Za-z0-9_\-]{1,32}$", description="签约号；不传则解除生效中的协议"
    )
    reason: str = Field(min_length=1, max_length=200, description="解约原因")
    agreement_type: Kind = Field(
        default="WITHHOLDING", description="扩展：协议类型 WITHHOLDING 代扣、COLLECTION 托收"
    )

    def command(self) -> commands.Terminate:
        return commands.Terminate(self.agreement_type, self.cust_id, self.reason, self.sign_no)


class AgreementReply(Reply):
    cust_id: int = Field(description="客户 ID")
    cust_code: str = Field(description="客户编号")
    agreement_type: Kind = Field(description="协议类型：WITHHOLDING 代扣、COLLECTION 托收")
    sign_status: Literal["UNSIGNED", "SIGNED", "TERMINATED"] = Field(description="签约状态")
    sign_no: str | None = Field(description="签约号")
    bank_code: str | None = Field(description="银行编码")
    bank_account: str | None = Field(description="银行账号（脱敏）")
    account_name: str | None = Field(description="账户名")
    channel_code: str | None = Field(description="渠道编码")
    mobile: str | None = Field(description="预留手机号（脱敏）")
    sign_time: DateTime | None = Field(description="签约时间")
    terminate_time: DateTime | None = Field(description="解约时间")
    terminate_reason: str | None = Field(description="解约原因")
    cust_status: str = Field(description="客户状态")


class SignReply(AgreementReply):
    duplicate: bool = Field(description="扩展：重复请求（返回既有协议，未新写）")


class CheckReply(Reply):
    list: builtins.list[AgreementReply] = Field(
        description="客户协议状态（按账号查询时为持有该账号协议的客户）"
    )


# ---- IF-REV-011 batch ------------------------------------------------------------------------------
class BatchItemRequest(Model):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"custId": 1, "chargeId": 101, "amount": "58.65"}]}
    )

    cust_id: Id = Field(description="客户 ID")
    charge_id: Id = Field(description="账单 ID")
    amount: Amount = Field(description="扣款金额：须等于账单应缴（本金 + 违约金）")


class BatchRequest(Model):
    """IF-REV-011 银行代收协同：WITHHOLDING 创建并送出批次（工作流），RECONCILE 对账，SETTLEMENT 结算."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "batchNo": "WH202603000001",
                    "businessType": "WITHHOLDING",
                    "channelCode": "ICBC",
                    "billPeriod": "2026-03",
                }
            ]
        }
    )

    batch_no: str = Field(pattern=_BATCH_NO, description="代扣批次号（幂等键：同一批次禁止重复发送）")
    business_type: Literal["WITHHOLDING", "RECONCILE", "SETTLEMENT"] = Field(description="业务类型")
    channel_code: str = Field(pattern=_CHANNEL, description="渠道编码")
    bill_period: BillPeriod | None = Field(default=None, description="账期（WITHHOLDING 必填）")
    item_list: list[BatchItemRequest] | None = Field(
        default=None,
        max_length=10000,
        description="批次明细列表；不传则选取账期内全部有生效协议客户的未缴账单",
    )
    tenant_id: Id | None = Field(default=None, description="扩展：租户（顶级机构 ID）；不传为本公司")
    biz_kind: Kind = Field(
        default="WITHHOLDING", description="扩展：WITHHOLDING 代扣批次、COLLECTION 托收批次"
    )

    def command(self) -> commands.NewBatch:
        kind = self.biz_kind
        items = None
        if self.item_list:
            items = tuple(commands.BatchItem(i.cust_id, i.charge_id, i.amount) for i in self.item_list)
        return commands.NewBatch(
            self.batch_no, self.channel_code, self.bill_period or "", kind, self.tenant_id, items
        )


class DiffReply(Reply):
    diff_id: int = Field(description="差异 ID")
    diff_type: Literal[
        "BANK_PAID_OURS_UNPAID", "OURS_PAID_BANK_FAILED", "AMOUNT_MISMATCH", "BANK_ONLY", "OURS_ONLY"
    ] = Field(description="差异类型：银行已扣我方未销、我方已销银行未扣、金额不符、仅银行有、仅我方有")
    cust_id: int | None = Field(description="客户 ID")
    charge_id: int | None = Field(description="账单 ID")
    bank_serial_no: str | None = Field(description="银行流水号")
    our_amount: Money | None = Field(description="我方金额")
    bank_amount: Money | None = Field(description="银行金额")
    status: Literal["OPEN", "RESOLVED"] = Field(description="处置状态")
    resolution: Literal["WRITE_OFF", "REVERSE", "IGNORE"] | None = Field(description="处置方式")
    reason: str | None = Field(description="处置说明")
    resolved_time: DateTime | None = Field(description="处置时间")


class ReturnRecord(Reply):
    file_serial_no: str = Field(description="回盘文件流水号")
    back_file_path: str = Field(description="回盘文件路径")
    status: Literal["APPLIED", "INVALID"] = Field(
        description="APPLIED 已处理；INVALID 格式非法或批次不符（待人工核查）"
    )
    item_count: int = Field(description="明细笔数")
    success_count: int = Field(description="成功笔数")
    fail_count: int = Field(description="失败笔数")
    error: str | None = Field(description="不予处理的原因")
    receipt_count: int = Field(description="送达次数（重复送达只计数）")
    receive_time: DateTime = Field(description="首次处理时间")


class BatchReply(Reply):
    batch_no: str = Field(description="批次号")
    batch_status: Literal["CREATED", "SENDING", "SENT", "RETURNED", "RECONCILED", "SETTLED", "CANCELLED"] = (
        Field(
            description="批次状态：CREATED、SENT、RETURNED、RECONCILED、SETTLED；扩展 SENDING（上传中）、CANCELLED（已取消）"
        )
    )
    success_count: int = Field(description="成功处理条数")
    fail_count: int = Field(description="失败条数")
    reconcile_status: Literal["NONE", "BALANCED", "DIFF", "RESOLVED"] = Field(
        description="对账状态：NONE 未对账、BALANCED 无差异、DIFF 有未处置差异、RESOLVED 差异均已处置"
    )
    settlement_status: Literal["NONE", "SETTLED"] = Field(description="结算状态")
    diff_list: list[DiffReply] = Field(description="差异清单摘要")
    business_type: Kind = Field(description="扩展：代扣或托收")
    channel_code: str = Field(description="扩展：渠道编码")
    bill_period: str = Field(description="扩展：账期")
    item_count: int = Field(description="扩展：明细笔数")
    total_amount: Money = Field(description="扩展：扣款总额")
    success_amount: Money = Field(description="扩展：成功扣款总额")
    protocol: str | None = Field(description="扩展：传输协议（解析结果，固化在批次上）")
    source_scope: str | None = Field(
        description="扩展：配置来源范围 TENANT_CHANNEL / TENANT / CHANNEL / DEFAULT"
    )
    send_dir: str | None = Field(description="扩展：送盘目录")
    send_file_path: str | None = Field(description="扩展：送盘文件路径")
    file_name: str | None = Field(description="扩展：送盘文件名")
    back_protocol: str | None = Field(description="扩展：回盘协议")
    back_dir: str | None = Field(description="扩展：回盘目录")
    back_file_path: str | None = Field(description="扩展：回盘文件路径")
    reconcile_file_path: str | None = Field(description="扩展：对账文件路径")
    send_time: DateTime | None = Field(description="扩展：送盘时间")
    return_time: DateTime | None = Field(description="扩展：回盘时间")
    cancel_time: DateTime | None = Field(description="扩展：取消时间")
    cancel_reason: str | None = Field(description="扩展：取消原因")
    last_error: str | None = Field(description="扩展：最近一次传输错误")


class BatchStatusReply(BatchReply):
    return_list: list[ReturnRecord] = Field(description="扩展：回盘文件处理记录")


class BatchStartReply(BatchStatusReply):
    execution_arn: str | None = Field(description="扩展：批次工作流执行 ARN")


class CancelRequest(Model):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"batchNo": "WH202603000001", "reason": "账期有误"}]}
    )

    batch_no: str = Field(pattern=_BATCH_NO, description="批次号")
    reason: str = Field(min_length=1, max_length=200, description="取消原因")


class BackDiscRequest(Model):
    """回盘：按文件流水号处理一份回盘文件（同一 batchNo + fileSerialNo 只处理一次）."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "batchNo": "WH202603000001",
                    "fileSerialNo": "00000001",
                    "backFilePath": "/ICBC/back/WH_ICBC_WH202603000001_RET_00000001.txt",
                }
            ]
        }
    )

    batch_no: str = Field(pattern=_BATCH_NO, description="批次号")
    file_serial_no: str = Field(pattern=r"^[A-Za-z0-9]{1,32}$", description="回盘文件流水号")
    back_file_path: str | None = Field(
        default=None, max_length=512, description="回盘文件路径（须在批次回盘目录下）"
    )
    channel_code: str | None = Field(default=None, pattern=_CHANNEL, description="渠道编码")


class ReturnReply(Reply):
    batch_no: str = Field(description="批次号")
    file_serial_no: str = Field(description="回盘文件流水号")
    return_status: Literal["APPLIED", "INVALID"] = Field(description="回盘处理状态")
    item_count: int = Field(description="明细笔数")
    success_count: int = Field(description="成功笔数（已核销）")
    fail_count: int = Field(description="失败笔数（欠费保留）")
    duplicate: bool = Field(description="重复回盘：已处理过，仅计数")
    msg: str = Field(description="处理说明")


class ResolveRequest(Model):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"diffId": 1, "action": "IGNORE", "reason": "银行次日补记，已电话确认"}]
        }
    )

    diff_id: Id = Field(description="差异 ID")
    action: Literal["WRITE_OFF", "REVERSE", "IGNORE"] = Field(
        description="处置：补核销、冲正、忽略（须说明原因）"
    )
    reason: str | None = Field(default=None, max_length=200, description="处置说明（IGNORE 必填）")

    def command(self) -> commands.Resolve:
        return commands.Resolve(self.diff_id, self.action, self.reason)


# ---- transfer configuration -------------------------------------------------------------------------
class TransferConfigRequest(Model):
    """扩展：文件传输配置行（按租户、渠道；空字段按字段回退）。凭据只存引用（credentialRef）."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "tenantId": None,
                    "channelCode": "ICBC",
                    "protocol": "SFTP",
                    "host": "sftp.bank.example",
                    "port": 22,
                    "username": "waterrev",
                    "credentialRef": "bank/icbc",
                    "hostKey": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIK77E3Lzg8WXQCwVuALaojZS0xjpIHi5kc9WRahYdkou",
                    "sendDir": "/ICBC/send",
                    "backDir": "/ICBC/back",
                    "reconcileDir": "/ICBC/reconcile",
                }
            ]
        }
    )

    tenant_id: Id | None = Field(default=None, description="租户（顶级机构 ID）；空为全部租户")
    channel_code: str | None = Field(default=None, pattern=_CHANNEL, description="渠道编码；空为全部渠道")
    protocol: Literal["SFTP", "FTP"] | None = Field(default=None, description="协议")
    host: str | None = Field(default=None, max_length=255, pattern=r"^[A-Za-z0-9.\-]+$", description="主机")
    port: int | None = Field(default=None, ge=1, le=65535, description="端口")
    username: str | None = Field(default=None, max_length=64, description="用户名")
    credential_ref: str | None = Field(
        default=None,
        max_length=128,
        pattern=r"^[A-Za-z0-9_./\-]+$",
        description="凭据引用（Secrets Manager / 本地密钥文件中的名称）",
    )
    host_key: str | None = Field(
        default=None,
        max_length=1024,
        pattern=r"^[a-z0-9\-]+ [A-Za-z0-9+/=]+$",
        description="固定的服务器主机公钥",
    )
    send_dir: str | None = Field(
        default=None, max_length=255, description="送盘目录（可含模板变量）；空字符串为非法配置"
    )
    back_dir: str | None = Field(default=None, max_length=255, description="回盘目录")
    reconcile_dir: str | None = Field(default=None, max_length=255, description="对账目录")
    send_file_template: str | None = Field(default=None, max_length=128, description="送盘文件名模板")
    back_file_template: str | None = Field(
        default=None, max_length=128, description="回盘文件名模板（须含 {fileSerialNo}）"
    )
    reconcile_file_template: str | None = Field(default=None, max_length=128, description="对账文件名模板")
    enabled: bool = Field(default=True, description="是否启用")

    def command(self) -> commands.TransferRow:
        return commands.TransferRow(**self.model_dump(by_alias=False))


class TransferConfigReply(Reply):
    id: int = Field(description="配置行 ID")
    scope: Literal["TENANT_CHANNEL", "TENANT", "CHANNEL", "DEFAULT"] = Field(description="范围")
    tenant_id: int | None = Field(description="租户")
    channel_code: str | None = Field(description="渠道")
    protocol: str | None = Field(description="协议")
    host: str | None = Field(description="主机")
    port: int | None = Field(description="端口")
    username: str | None = Field(description="用户名")
    credential_ref: str | None = Field(description="凭据引用")
    host_key: str | None = Field(description="主机公钥")
    send_dir: str | None = Field(description="送盘目录")
    back_dir: str | None = Field(description="回盘目录")
    reconcile_dir: str | None = Field(description="对账目录")
    send_file_template: str | None = Field(description="送盘文件名模板")
    back_file_template: str | None = Field(description="回盘文件名模板")
    reconcile_file_template: str | None = Field(description="对账文件名模板")
    enabled: bool = Field(description="是否启用")


class ResolvedTransferReply(Reply):
    protocol: str = Field(description="协议")
    host: str = Field(description="主机")
    port: int = Field(description="端口")
    username: str = Field(description="用户名")
    credential_ref: str = Field(description="凭据引用")
    resolved_dir: str = Field(description="送盘阶段目录（已代入模板变量）")
    resolved_path: str = Field(description="送盘文件路径")
    file_name: str = Field(description="送盘文件名")
    back_dir: str = Field(description="回盘目录")
    reconcile_dir: str = Field(description="对账目录")
    source_scope: str = Field(description="来源范围（提供字段的最具体范围）")
    field_sources: dict[str, str] = Field(description="每个字段的来源范围")


class TransferConfigList(Reply):
    list: builtins.list[TransferConfigReply] = Field(description="配置行")
    resolved: ResolvedTransferReply | None = Field(description="给出 channelCode 时：该租户与通道的解析结果")
