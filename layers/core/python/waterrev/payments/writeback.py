"""Pure rules of payment orders (no I/O): how a stored order reads in the seed's terms.

The seed's orderStatus is INIT | PAYING | SUCCESS | FAIL (交易状态映射：INIT/PAYING/SUCCESS/FAIL); we also
keep CLOSED (expired, or replaced by a new QR code), which reads FAIL. A counter QR order also tells the
counter what became of the money on the books (IF-CS-007 writeBackStatus: PENDING | SUCCESS | FAIL |
EXCEPTION) and why, in words for the clerk (msg).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

from waterrev.domain.states import OrderHold, OrderStatus, PaymentExceptionType

PLATFORM_NOT_ANSWERED = "支付平台暂未受理，稍后将自动查询补偿"
REUSED_PREFIX = "相同账单已有进行中的订单，沿用原二维码；"


def seed_order_status(stored: str) -> str:
    """The seed's orderStatus of a stored order status."""
    return OrderStatus.FAIL if stored == OrderStatus.CLOSED else stored


def platform_not_answered(stored: str, last_error: str | None) -> bool:
    """An order SYS-009 has not taken yet because our create call failed or timed out."""
    return stored == OrderStatus.INIT and (last_error or "").startswith("create:")


class WriteBack(NamedTuple):
    order_status: str  # the seed's orderStatus
    write_back_status: str  # PENDING | SUCCESS | FAIL | EXCEPTION
    msg: str


def write_back(
    stored: str,
    *,
    hold_reason: str | None,
    last_error: str | None,
    open_exceptions: Iterable[str] = (),
    reused: bool = False,
) -> WriteBack:
    """(orderStatus, writeBackStatus, msg) of an order from its stored status, its hold and the payment
    exceptions still open for it. A held refund and open exceptions come first: whatever the order's
    status, the books wait for a person."""
    order_status = seed_order_status(stored)
    exceptions = set(open_exceptions)
    if hold_reason == OrderHold.REFUND:
        result = ("FAIL", "实付金额与订单金额不一致，订单已关闭，款项待原路退回，账单未核销")
    elif PaymentExceptionType.AMOUNT_MISMATCH in exceptions:
        result = ("EXCEPTION", "实付金额与订单金额不一致，账单未核销，已转人工核查")
    elif PaymentExceptionType.PAID_ELSEWHERE in exceptions:
        result = ("EXCEPTION", "已收款，但有账单已在别处缴清，款项转入预存余额，待人工核查")
    elif exceptions:
        result = ("EXCEPTION", "支付结果异常，已转人工核查")
    elif stored == OrderStatus.SUCCESS:
        result = ("SUCCESS", "支付成功，账单已核销")
    elif stored == OrderStatus.FAIL:
        result = ("FAIL", "支付失败，账单未核销，可重新下单")
    elif stored == OrderStatus.CLOSED:
        result = ("FAIL", "订单已关闭（超时或已重新生成二维码），账单未核销")
    elif platform_not_answered(stored, last_error):
        result = ("PENDING", PLATFORM_NOT_ANSWERED)
    elif stored == OrderStatus.INIT:
        result = ("PENDING", "订单已创建，等待支付平台受理")
    else:
        result = ("PENDING", "请顾客扫码支付，支付成功后自动回写核销")
    status, msg = result
    return WriteBack(order_status, status, REUSED_PREFIX + msg if reused else msg)
