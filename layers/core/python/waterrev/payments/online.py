"""IF-CS-003 在线支付下单: a customer-channel user's online order for the bills of a customer bound to it,
and the order's status. Only bound customers are visible (`waterrev.visibility`, as in IF-CS-002): ordering for
any other customer answers as for one that does not exist, and another customer's order reads exactly as
an order that does not exist - order numbers are sequential and must not be walkable."""

from __future__ import annotations

from typing import Any

from waterrev.context import RequestContext
from waterrev.db import UnitOfWork
from waterrev.payments import orders
from waterrev.payments.commands import CreateOnlineOrder
from waterrev.payments.writeback import PLATFORM_NOT_ANSWERED, platform_not_answered
from waterrev.visibility import customer_visible, require_customer_visible


def create(ctx: RequestContext, cmd: CreateOnlineOrder) -> dict[str, Any]:
    with UnitOfWork() as uow:  # closed before create_order opens its own: one connection per request
        require_customer_visible(uow, ctx, cmd.cust_id)
    order = orders.create_order(
        ctx,
        cust_id=cmd.cust_id,
        charge_ids=list(cmd.charge_ids),
        channel=cmd.payment_channel,
        amount=cmd.payment_amount,
        scene="ONLINE",
        open_id=cmd.open_id,
    )
    return {"reused": False, "msg": None} | order


def status(ctx: RequestContext, order_no: str) -> dict[str, Any]:
    with UnitOfWork() as uow:
        txn = uow.one("SELECT * FROM bk_transaction WHERE biz_order_no = :o", {"o": order_no})
        if txn is None or not customer_visible(uow, ctx, txn["cust_id"]):
            raise orders.order_absent(order_no)
    msg = PLATFORM_NOT_ANSWERED if platform_not_answered(txn["status"], txn["last_error"]) else None
    return orders.order_view(txn) | {"reused": False, "msg": msg}
