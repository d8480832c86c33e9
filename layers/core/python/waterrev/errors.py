"""The error-code catalogue of the seed (错误码分层建议 / 典型错误码建议) as one typed table.

Envelope codes: 0 success; 400-499 generic errors (parameters, authentication, permission,
missing resources); 1_002_xxx_xxx business errors of SYS-002. Each code carries the HTTP status
the gateway answers with (docs/ERRORS.md lists the mapping).
"""

from __future__ import annotations

from enum import Enum
from typing import Any


class ErrorCode(Enum):
    # (code, http status, message)
    BAD_REQUEST = (400, 400, "请求参数不正确")
    UNAUTHORIZED = (401, 401, "账号未登录或令牌已失效")
    FORBIDDEN = (403, 403, "没有该操作权限")
    NOT_FOUND = (404, 404, "请求的资源不存在")
    METHOD_NOT_ALLOWED = (405, 405, "请求方法不正确")
    CONFLICT = (409, 409, "请求与当前状态冲突")
    PAYLOAD_TOO_LARGE = (413, 413, "请求体过大")
    UNSUPPORTED_MEDIA_TYPE = (415, 415, "请求体须为 JSON（Content-Type: application/json）")
    LOCKED = (423, 423, "账号已锁定，请稍后再试")
    TOO_MANY_REQUESTS = (429, 429, "请求过于频繁，请稍后再试")
    INTERNAL_ERROR = (500, 500, "系统异常")
    UPSTREAM_TIMEOUT = (504, 504, "外部平台调用超时，请稍后重试")

    CUSTOMER_NOT_FOUND_OR_STOPPED = (1_002_001_001, 404, "客户不存在或已停用")
    BINDING_NOT_FOUND = (1_002_001_002, 404, "账户绑定关系不存在")
    METER_READ_TASK_NOT_FOUND_OR_CLOSED = (1_002_002_001, 409, "抄表任务不存在或已关闭")
    READING_BELOW_LAST = (1_002_002_002, 409, "本次读数小于上次读数且未通过异常审批")
    PRICE_OR_COMPONENT_MISSING = (1_002_002_003, 409, "价格模板或费用组成缺失")
    CHARGE_ALREADY_WRITTEN_OFF = (1_002_003_001, 409, "账单已核销或不允许重复支付")
    PAYMENT_AMOUNT_MISMATCH = (1_002_003_002, 409, "支付金额与待核销金额不一致")
    CALLBACK_SIGNATURE_INVALID = (1_002_003_003, 401, "支付回调签名校验失败")
    ADJUST_STATE_NOT_ALLOWED = (1_002_004_001, 409, "账务调整目标状态不允许变更")
    INVOICE_NOT_ELIGIBLE = (1_002_005_001, 409, "发票申请单据不满足开票条件")
    INVOICE_WRITEBACK_INVALID = (1_002_005_002, 409, "发票结果回写状态非法或重复")
    WITHHOLDING_BATCH_MISSING_OR_SENT = (1_002_006_001, 409, "代扣批次不存在或已发送")
    BANK_RETURN_FILE_INVALID = (1_002_006_002, 422, "银行回盘文件格式非法或批次号不匹配")
    RECONCILE_DIFF_UNRESOLVED = (1_002_006_003, 409, "对账差异未处理，禁止结算确认")
    PROCESS_NOT_FOUND = (1_002_007_001, 404, "业务办理单不存在")
    PROCESS_NODE_NOT_ALLOWED = (1_002_007_002, 409, "当前节点不允许补件或重复提交")
    MESSAGE_TEMPLATE_OR_CONTACT_MISSING = (1_002_008_001, 422, "消息模板不存在或目标联系方式缺失")
    MESSAGE_CHANNEL_TIMEOUT = (1_002_008_002, 504, "消息通道调用超时")
    MANUAL_VERIFY_CONTEXT_MISSING = (1_002_008_003, 422, "人工核查补记缺少核查说明或关联任务不存在")

    def __init__(self, code: int, http_status: int, message: str) -> None:
        self.code = code
        self.http_status = http_status
        self.message = message

    @property
    def is_business(self) -> bool:
        return self.code >= 1_000_000_000


class AppError(Exception):
    """An error the caller can act on: answered as the envelope {code, data, msg}."""

    def __init__(self, error: ErrorCode, detail: str | None = None, data: Any = None) -> None:
        self.error = error
        self.detail = detail
        self.data = data
        super().__init__(self.msg)

    @property
    def msg(self) -> str:
        return f"{self.error.message}：{self.detail}" if self.detail else self.error.message


def bad_request(detail: str) -> AppError:
    return AppError(ErrorCode.BAD_REQUEST, detail)
