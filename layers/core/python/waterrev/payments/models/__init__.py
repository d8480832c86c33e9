"""The payments capability's edge models, one module per interface (a handler imports only its own);
the value types they share. Requests build the use cases' commands (`command()`); no use case imports them."""

from __future__ import annotations

from typing import Literal

Channel = Literal["CASH", "WECHAT", "ALIPAY", "BANK", "PREPAY"]
OnlineChannel = Literal["WECHAT", "ALIPAY"]
OrderStatus = Literal["INIT", "PAYING", "SUCCESS", "FAIL"]
WriteOffStatus = Literal["SUCCESS", "PARTIAL", "PENDING"]
PayStatus = Literal["UNPAID", "PARTIAL", "PAID", "CANCELLED", "BAD_DEBT"]  # BAD_DEBT: 扩展 (IF-REV-007)
ORDER_NO = r"^[A-Z]{2}\d{16}$"


def _distinct(charge_ids: list[int]) -> None:
    if len(set(charge_ids)) != len(charge_ids):
        raise ValueError("chargeIds 中有重复账单")
