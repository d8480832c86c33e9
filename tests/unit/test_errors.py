"""The error-code catalogue: unique codes, the seed's business codes, generic codes as HTTP statuses."""

import pytest

from waterrev.errors import AppError, ErrorCode, bad_request

# The seed's 典型错误码建议 table (docs/seed/003_interface_design.txt): code and 说明.
SEED_BUSINESS_CODES = {
    1_002_001_001: "客户不存在或已停用",
    1_002_001_002: "账户绑定关系不存在",
    1_002_002_001: "抄表任务不存在或已关闭",
    1_002_002_002: "本次读数小于上次读数且未通过异常审批",
    1_002_002_003: "价格模板或费用组成缺失",
    1_002_003_001: "账单已核销或不允许重复支付",
    1_002_003_002: "支付金额与待核销金额不一致",
    1_002_003_003: "支付回调签名校验失败",
    1_002_004_001: "账务调整目标状态不允许变更",
    1_002_005_001: "发票申请单据不满足开票条件",
    1_002_005_002: "发票结果回写状态非法或重复",
    1_002_006_001: "代扣批次不存在或已发送",
    1_002_006_002: "银行回盘文件格式非法或批次号不匹配",
    1_002_006_003: "对账差异未处理，禁止结算确认",
    1_002_007_001: "业务办理单不存在",
    1_002_007_002: "当前节点不允许补件或重复提交",
    1_002_008_001: "消息模板不存在或目标联系方式缺失",
    1_002_008_002: "消息通道调用超时",
    1_002_008_003: "人工核查补记缺少核查说明或关联任务不存在",
}
GENERIC = [e for e in ErrorCode if not e.is_business]
BUSINESS = [e for e in ErrorCode if e.is_business]


def test_every_code_is_unique() -> None:
    """Given the whole catalogue
    When the codes are collected
    Then no two errors share a code (a client could not tell them apart)."""
    codes = [e.code for e in ErrorCode]

    assert len(codes) == len(set(codes))


def test_business_codes_are_exactly_the_seed_table() -> None:
    """Given the business errors (1_002_xxx_xxx)
    When compared with the seed's table
    Then the codes are the same set: none missing, none invented."""
    assert {e.code for e in BUSINESS} == set(SEED_BUSINESS_CODES)


@pytest.mark.parametrize("error", BUSINESS, ids=lambda e: e.name)
def test_business_messages_are_the_seed_wording(error: ErrorCode) -> None:
    """Given a business error
    When its message is read
    Then it is the seed's 说明 for that code, word for word."""
    assert error.message == SEED_BUSINESS_CODES[error.code]


@pytest.mark.parametrize("error", BUSINESS, ids=lambda e: e.name)
def test_business_codes_belong_to_sys_002_and_answer_an_error_status(error: ErrorCode) -> None:
    """Given a business error
    When its code and HTTP status are read
    Then the code is 1_002_MMM_NNN and the status is a 4xx or 5xx."""
    assert 1_002_000_000 < error.code < 1_003_000_000
    assert 400 <= error.http_status <= 599


@pytest.mark.parametrize("error", GENERIC, ids=lambda e: e.name)
def test_generic_codes_are_their_own_http_status(error: ErrorCode) -> None:
    """Given a generic error
    When its code is read
    Then it is 400-499, or 500 / 504 (ours failed / an outside platform did not answer in time), and the
    gateway answers with that same HTTP status."""
    assert 400 <= error.code <= 499 or error.code in (500, 504)
    assert error.http_status == error.code


def test_generic_errors_cover_the_usual_statuses() -> None:
    """Given the generic errors
    When their codes are collected
    Then parameters, authentication, permission, missing resource and server error are all there."""
    assert {400, 401, 403, 404, 500} <= {e.code for e in GENERIC}


def test_app_error_message_carries_the_detail() -> None:
    """Given an AppError with and without a detail
    When its msg is read
    Then the catalogue message comes first and the detail follows a full-width colon."""
    assert AppError(ErrorCode.NOT_FOUND).msg == "请求的资源不存在"
    assert AppError(ErrorCode.NOT_FOUND, "custId=9").msg == "请求的资源不存在：custId=9"
    assert str(AppError(ErrorCode.CONFLICT, "v1")) == "请求与当前状态冲突：v1"


def test_bad_request_is_a_400_with_the_detail() -> None:
    """Given a field problem
    When bad_request builds the error
    Then it is BAD_REQUEST carrying the detail."""
    error = bad_request("mobile: 格式不正确")

    assert error.error is ErrorCode.BAD_REQUEST
    assert error.error.http_status == 400
    assert error.msg.endswith("mobile: 格式不正确")
