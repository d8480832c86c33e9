"""Payment results on every settled payment, from the one place every channel writes its collection
(biz_collection, by rev_write_off or pay_apply_status; the AFTER INSERT trigger msg_payment_result): the
counter (test_message_pipeline), an online order settled by SYS-009's callback however many copies arrive
(a counter QR order settles through the same pay_apply_status), the bank's real-time payment. One message per payment, in the payment's transaction, to the bound WeChat
user or else by SMS; none for a customer with no usable contact."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.integration.test_ext_bank_realtime import SECRET, a_customer_owing, bank
from tests.integration.test_pay_notify import online_order
from tests.support import (
    call,
    customer_id,
    new_bills,
    receiver_of,
    set_cust_mobile,
    sql_all,
    sql_scalar,
    unique,
)
from waterrev.settings import reset_settings


def results_of(cust_id: int) -> list[dict[str, Any]]:
    return sql_all(
        "SELECT * FROM biz_message WHERE cust_id = :c AND source = 'PAYMENT_RESULT' ORDER BY id",
        {"c": cust_id},
    )


@pytest.fixture
def bank_key(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("WATERREV_WEBHOOK_KEYS", json.dumps({"BANK": {"bank-key-1": SECRET}}))
    reset_settings()
    yield
    monkeypatch.undo()
    reset_settings()


def test_an_online_payment_settled_by_four_callbacks_queues_one_result_to_the_wechat_user(
    admin: str, sys009: Any
) -> None:
    sys009.behaviour(duplicate=4)
    order, bill = online_order(admin, "2020-02")

    sys009.pay(order["tradeNo"])
    assert sys009.wait_idle(10)

    cust = int(bill["cust_id"])
    (message,) = results_of(cust)
    openid = sql_scalar("SELECT channel_user_id FROM biz_cust_app_binds WHERE cust_id = :c", {"c": cust})
    assert (message["channel"], message["receiver"], message["template_code"]) == (
        "WECHAT",
        openid,
        "PAY_RESULT",
    )
    assert message["message_biz_no"] == f"PAY:{order['bizOrderNo']}"
    assert (
        message["payload"]["paymentChannel"] == "WECHAT" and message["payload"]["writeOffStatus"] == "SUCCESS"
    )


def test_a_bank_payment_queues_its_result_by_sms(bank_key: None) -> None:
    cust_code, charge = a_customer_owing("2027-05", 20)
    set_cust_mobile(customer_id(cust_code), "13933330001")

    paid = bank(
        "/open-api/bank/charge/pay",
        {
            "bankCode": "ICBC",
            "bankSerialNo": unique("ICBC"),
            "custCode": cust_code,
            "amount": f"{charge['total_amount']:.2f}",
        },
    )

    assert paid.code == 0, paid.body
    (message,) = results_of(int(charge["cust_id"]))
    assert (message["channel"], receiver_of(message)) == ("SMS", "13933330001")
    assert message["message_biz_no"] == f"PAY:{paid.data['collectionCode']}"
    assert message["payload"]["paymentChannel"] == "BANK"


def test_a_customer_with_no_usable_contact_gets_no_result_message_and_the_payment_still_settles(
    admin: str,
) -> None:
    cust, bills = new_bills(admin, ["2020-04"])
    set_cust_mobile(cust, None)

    paid = call(
        "POST",
        "/admin-api/revenue/collection/create",
        {
            "custId": cust,
            "chargeIds": [bills[0]["id"]],
            "paymentChannel": "CASH",
            "paymentAmount": str(bills[0]["total_amount"]),
        },
        token=admin,
    )

    assert paid.code == 0 and paid.data["writeOffStatus"] == "SUCCESS", paid.body
    assert results_of(cust) == []


def test_a_payment_rolled_back_queues_nothing(admin: str) -> None:
    """The message is part of the payment's transaction: a write-off that fails takes it with it."""
    from waterrev.audit import actor
    from waterrev.context import SYSTEM, RequestContext
    from waterrev.db import UnitOfWork

    cust, bills = new_bills(admin, ["2020-05"])
    account = sql_scalar("SELECT id FROM biz_account WHERE cust_id = :c", {"c": cust})
    with UnitOfWork() as uow:
        uow.scalar(
            "SELECT rev_write_off(p_actor => CAST(:actor AS jsonb), p_cust_id => :c, p_account_id => :a,"
            " p_charge_ids => CAST(:ids AS bigint[]), p_amount => :amt, p_channel => 'CASH', p_source => 'COUNTER',"
            " p_trade_no => NULL, p_idempotency_key => NULL, p_code => :code, p_actual_amount => NULL,"
            " p_outlet => NULL, p_remark => NULL, p_operator_id => NULL)",
            {
                "actor": actor(RequestContext("t", SYSTEM)),
                "c": cust,
                "a": account,
                "ids": [bills[0]["id"]],
                "amt": bills[0]["total_amount"],
                "code": unique("SK"),
            },
        )
        assert (
            len(
                uow.all(
                    "SELECT 1 FROM biz_message WHERE cust_id = :c AND source = 'PAYMENT_RESULT'", {"c": cust}
                )
            )
            == 1
        )
        # no commit: the unit of work rolls back
    assert results_of(cust) == []
