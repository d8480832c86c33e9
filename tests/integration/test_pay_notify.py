"""IF-EXT-005 聚合支付结果回调: SYS-009's notifications through the real handler, from the simulator (duplicate,
reorder, wrongAmount, badSignature) and crafted with waterrev.adapters.paysign (stale timestamp, unknown serial,
FAIL then SUCCESS, money for bills paid elsewhere). Idempotent by tradeNo + tradeStatus + notifyTime; every
callback kept; a failed check is 1_002_003_003 and never reaches the books."""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

import pytest

from tests.support import (
    Reply,
    audit_rows,
    bind,
    call,
    channel_login,
    charge_row,
    expect_error,
    new_bills,
    notify_payload,
    signed_notification,
    sql_all,
    sql_scalar,
    unique,
    wait_for,
)

NOTIFY = "/open-api/pay/notify"


def online_order(token: str, period: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(order, bill): a new customer's bill ordered online by its bound WeChat user."""
    cust, (bill,) = new_bills(token, [period])
    openid = unique("wx-notify-")
    member = channel_login(openid)
    assert bind(member, openid, cust).code == 0
    body = {
        "custId": cust,
        "chargeIds": [bill["id"]],
        "paymentChannel": "WECHAT",
        "paymentAmount": str(bill["total_amount"]),
    }
    reply = call("POST", "/app-api/customer/payment/order", body, token=member)
    assert reply.code == 0 and reply.data["orderStatus"] == "PAYING", reply.body
    return reply.data, bill


def private_key(sim: Any) -> str:
    return str(sim._keys[-1].private_pem)  # the simulator's current platform key (its public half is trusted)


def send(sim: Any, order: dict[str, Any], status: str, amount: Any, **kw: Any) -> Reply:
    payload = notify_payload(
        order["tradeNo"], order["bizOrderNo"], status, amount, notify_time=kw.pop("at", None)
    )
    headers, raw = signed_notification(kw.pop("key", None) or private_key(sim), payload, **kw)
    return call("POST", NOTIFY, raw_body=raw, headers=headers)


def callbacks(trade_no: str) -> list[dict[str, Any]]:
    return sql_all(
        "SELECT trade_status, verified, is_primary, outcome FROM bk_transaction_callback WHERE trade_no = :t ORDER BY id",
        {"t": trade_no},
    )


def exceptions(order_no: str) -> list[dict[str, Any]]:
    return sql_all(
        "SELECT exception_type, detail FROM bk_transaction_exception WHERE biz_order_no = :o ORDER BY id",
        {"o": order_no},
    )


def txn(order_no: str) -> dict[str, Any]:
    return sql_all("SELECT * FROM bk_transaction WHERE biz_order_no = :o", {"o": order_no})[0]


def collections(order_no: str) -> int:
    return int(sql_scalar("SELECT count(*) FROM biz_collection WHERE code = :o", {"o": order_no}))


def test_duplicate_notifications_write_off_once_and_are_all_kept(admin: str, sys009: Any) -> None:
    """Given SYS-009 sending every notification 4 times at once, when the order is paid, then all 4 are
    answered 2xx, all 4 kept (one PROCESSED primary, 3 DUPLICATE), and the bill written off once."""
    sys009.behaviour(duplicate=4)
    order, bill = online_order(admin, "2020-01")

    sys009.pay(order["tradeNo"])
    assert sys009.wait_idle(10)

    sent = [n for n in sys009.notifications() if n["tradeNo"] == order["tradeNo"]]
    assert len(sent) == 4 and {n["answerCode"] for n in sent} == {200}
    kept = callbacks(order["tradeNo"])
    assert sorted(c["outcome"] for c in kept) == ["DUPLICATE"] * 3 + ["PROCESSED"]
    assert [c["is_primary"] for c in kept].count(True) == 1 and all(c["verified"] for c in kept)
    assert txn(order["bizOrderNo"])["status"] == "SUCCESS" and charge_row(bill["id"])["status"] == "PAID"
    assert collections(order["bizOrderNo"]) == 1
    assert sql_scalar("SELECT count(*) FROM biz_collection_item WHERE charge_id = :c", {"c": bill["id"]}) == 1


def test_a_settled_notification_is_audited_with_its_write_off(admin: str, sys009: Any) -> None:
    """Given a live order, when its SUCCESS notification settles it, then the audit log holds the order's
    change (PAYING -> SUCCESS) and the write-off (bill, amount, trade), both by the webhook's request."""
    sys009.behaviour(dropNotifications=True)
    order, bill = online_order(admin, "2020-03")
    due = f"{Decimal(bill['total_amount']):.2f}"

    reply = send(sys009, order, "SUCCESS", bill["total_amount"])

    assert reply.code == 0 and reply.data["writeBackStatus"] == "SUCCESS", reply.body
    (changed,) = audit_rows("bk_transaction", txn(order["bizOrderNo"])["id"], "ORDER_SUCCESS")
    assert changed["before_data"] == {"status": "PAYING"}
    assert changed["after_data"] == {"status": "SUCCESS", "successAmount": due, "paidElsewhere": []}
    collection_id = sql_scalar("SELECT id FROM biz_collection WHERE code = :o", {"o": order["bizOrderNo"]})
    (written,) = audit_rows("biz_collection", collection_id, "WRITE_OFF")
    assert written["before_data"] == {
        "charges": [{"chargeId": bill["id"], "paidAmount": "0.00", "status": "UNPAID"}]
    }
    assert written["after_data"]["lines"] == [{"chargeId": bill["id"], "amount": due, "penalty": "0.00"}]
    assert (written["after_data"]["tradeNo"], written["after_data"]["writtenOff"]) == (order["tradeNo"], due)
    for row in (changed, written):
        assert (row["module"], row["user_type"], row["user_id"]) == ("REV-003", "SYSTEM", 0)
        assert row["request_id"] and row["request_id"] == changed["request_id"]


def test_a_repeated_notification_answers_success_and_changes_nothing(admin: str, sys009: Any) -> None:
    """Given a SUCCESS notification already processed, when the very same notification (same tradeNo,
    status and notifyTime, freshly signed) comes again, then code 0 DUPLICATE, kept, and nothing changes."""
    sys009.behaviour(dropNotifications=True)
    order, bill = online_order(admin, "2020-02")
    at = "2026-01-01T10:00:00+08:00"
    first = send(sys009, order, "SUCCESS", bill["total_amount"], at=at)
    paid_before = charge_row(bill["id"])["paid_amount"]

    again = send(sys009, order, "SUCCESS", bill["total_amount"], at=at)

    assert first.code == 0 and first.data["writeBackStatus"] == "SUCCESS", first.body
    assert (
        again.status == 200
        and again.code == 0
        and again.data == {"writeBackStatus": "DUPLICATE", "tradeNo": order["tradeNo"]}
    )
    assert [c["outcome"] for c in callbacks(order["tradeNo"])] == ["PROCESSED", "DUPLICATE"]
    assert charge_row(bill["id"])["paid_amount"] == paid_before and collections(order["bizOrderNo"]) == 1


def test_fail_then_success_ends_success(admin: str, sys009: Any) -> None:
    """Given SYS-009 delivering an earlier FAIL before the SUCCESS (reorder FAIL_FIRST), when the order is
    paid, then it ends SUCCESS with the bill written off, both callbacks kept."""
    sys009.behaviour(reorder="FAIL_FIRST")
    order, bill = online_order(admin, "2020-03")

    sys009.pay(order["tradeNo"])
    assert sys009.wait_idle(10)

    statuses = [n["tradeStatus"] for n in sys009.notifications() if n["tradeNo"] == order["tradeNo"]]
    assert statuses == ["FAIL", "SUCCESS"]
    assert [c["trade_status"] for c in callbacks(order["tradeNo"])] == ["FAIL", "SUCCESS"]
    assert txn(order["bizOrderNo"])["status"] == "SUCCESS" and charge_row(bill["id"])["status"] == "PAID"


def test_success_is_never_undone_by_a_late_fail(admin: str, sys009: Any) -> None:
    """Given SYS-009 delivering a stale FAIL after the SUCCESS (reorder SUCCESS_FIRST), when the order is
    paid, then it stays SUCCESS, the FAIL is kept as IGNORED and the bill stays PAID."""
    sys009.behaviour(reorder=True)
    order, bill = online_order(admin, "2020-04")

    sys009.pay(order["tradeNo"])
    assert sys009.wait_idle(10)

    kept = callbacks(order["tradeNo"])
    assert [(c["trade_status"], c["outcome"]) for c in kept] == [
        ("SUCCESS", "PROCESSED"),
        ("FAIL", "IGNORED"),
    ]
    assert txn(order["bizOrderNo"])["status"] == "SUCCESS" and charge_row(bill["id"])["status"] == "PAID"


def test_a_paid_amount_other_than_the_order_is_an_exception_not_a_write_off(admin: str, sys009: Any) -> None:
    """Given SYS-009 reporting 1.00 less than the order (wrongAmount), when the order is paid, then the
    notification is acknowledged (2xx, not retried), an AMOUNT_MISMATCH exception is raised, and nothing is
    written off."""
    sys009.behaviour(wrongAmount="-1.00")
    order, bill = online_order(admin, "2020-05")

    sys009.pay(order["tradeNo"])
    assert sys009.wait_idle(10)

    sent = [n for n in sys009.notifications() if n["tradeNo"] == order["tradeNo"]]
    assert [n["answerCode"] for n in sent] == [200]
    (exc,) = exceptions(order["bizOrderNo"])
    assert exc["exception_type"] == "AMOUNT_MISMATCH"
    assert Decimal(exc["detail"]["successAmount"]) == Decimal(bill["total_amount"]) - 1
    assert txn(order["bizOrderNo"])["status"] != "SUCCESS" and charge_row(bill["id"])["status"] == "UNPAID"
    assert collections(order["bizOrderNo"]) == 0
    assert [c["outcome"] for c in callbacks(order["tradeNo"])] == ["EXCEPTION"]


@pytest.mark.parametrize(
    ("reported", "kept_as"),
    [("+0.0049", None), ("1e20", "100000000000000000000")],
    ids=["a-fraction-of-a-cent-more", "out-of-range"],
)
def test_a_paid_amount_is_compared_exactly_never_rounded_first(
    admin: str, sys009: Any, reported: str, kept_as: str | None
) -> None:
    """Given an order, when SYS-009 reports a paid amount a fraction of a cent off, or absurdly large,
    then it is an AMOUNT_MISMATCH exception with the amount as reported (answered 2xx), never a write-off
    and never a failure that loses the callback."""
    sys009.behaviour(dropNotifications=True)
    order, bill = online_order(admin, "2020-06")
    amount = Decimal(bill["total_amount"]) + Decimal(reported) if reported.startswith("+") else reported

    reply = send(sys009, order, "SUCCESS", amount)

    assert reply.status == 200 and reply.code == 0 and reply.data["writeBackStatus"] == "EXCEPTION", (
        reply.body
    )
    (exc,) = exceptions(order["bizOrderNo"])
    assert exc["exception_type"] == "AMOUNT_MISMATCH"
    assert exc["detail"]["successAmount"] == (kept_as or str(amount))
    assert charge_row(bill["id"])["status"] == "UNPAID" and collections(order["bizOrderNo"]) == 0
    assert [c["outcome"] for c in callbacks(order["tradeNo"])] == ["EXCEPTION"]


def test_an_empty_trade_number_is_never_written_onto_an_order(admin: str, sys009: Any) -> None:
    """Given a notification naming the order only by businessOrderNo (tradeNo empty), then the order is
    found by its business number and keeps its own trade number."""
    sys009.behaviour(dropNotifications=True)
    order, bill = online_order(admin, "2020-07")
    payload = notify_payload("", order["bizOrderNo"], "SUCCESS", bill["total_amount"])
    headers, raw = signed_notification(private_key(sys009), payload)

    reply = call("POST", NOTIFY, raw_body=raw, headers=headers)

    assert reply.code == 0 and reply.data["writeBackStatus"] == "SUCCESS", reply.body
    assert txn(order["bizOrderNo"])["trade_no"] == order["tradeNo"]
    assert charge_row(bill["id"])["status"] == "PAID"


def rejected_since(first_id: int) -> list[dict[str, Any]]:
    return sql_all(
        "SELECT verified, outcome, raw_body FROM bk_transaction_callback WHERE id > :i AND NOT verified ORDER BY id",
        {"i": first_id},
    )


def last_callback_id() -> int:
    return int(sql_scalar("SELECT COALESCE(max(id), 0) FROM bk_transaction_callback"))


def test_a_bad_signature_is_rejected_kept_and_never_booked(admin: str, sys009: Any) -> None:
    """Given SYS-009 signing other bytes than it sends (badSignature), when the order is paid, then every
    delivery is answered 401 1_002_003_003, kept unverified (REJECTED) with a SIGNATURE_INVALID exception,
    and the order and bill are untouched."""
    sys009.behaviour(badSignature=True)
    order, bill = online_order(admin, "2020-06")
    mark = last_callback_id()
    exc_mark = int(sql_scalar("SELECT COALESCE(max(id), 0) FROM bk_transaction_exception"))

    sys009.pay(order["tradeNo"])
    wait_for(lambda: len([n for n in sys009.notifications() if n["tradeNo"] == order["tradeNo"]]) >= 2)

    sent = [n for n in sys009.notifications() if n["tradeNo"] == order["tradeNo"]]
    assert {n["answerCode"] for n in sent} == {401}
    rejected = [r for r in rejected_since(mark) if order["tradeNo"] in r["raw_body"]]
    assert len(rejected) >= len(sent) and {r["outcome"] for r in rejected} == {"REJECTED"}
    kinds = sql_all(
        "SELECT DISTINCT exception_type FROM bk_transaction_exception WHERE id > :i AND exception_type = 'SIGNATURE_INVALID'",
        {"i": exc_mark},
    )
    assert kinds == [{"exception_type": "SIGNATURE_INVALID"}]
    assert callbacks(order["tradeNo"]) == []  # nothing verified under this trade
    assert txn(order["bizOrderNo"])["status"] == "PAYING" and charge_row(bill["id"])["status"] == "UNPAID"


@pytest.mark.parametrize(
    "flaw", ["stale timestamp", "future timestamp", "unknown serial", "unknown key", "no headers"]
)
def test_crafted_notifications_that_fail_the_check_are_refused(admin: str, sys009: Any, flaw: str) -> None:
    """Given a live order, when a SUCCESS notification comes with `flaw`, then 401 1_002_003_003, the raw
    notification kept unverified, a SIGNATURE_INVALID exception, and the order and bill untouched."""
    from waterrev.adapters import paysign

    sys009.behaviour(dropNotifications=True)
    order, bill = online_order(admin, "2020-07")
    mark = last_callback_id()
    kw: dict[str, Any] = {
        "stale timestamp": {"timestamp": int(time.time()) - 330},
        "future timestamp": {"timestamp": int(time.time()) + 330},
        "unknown serial": {"serial": "F" * 40},
        "unknown key": {"key": paysign.new_key_pair()[0], "serial": sys009.current_serial},
        "no headers": {},
    }[flaw]

    if flaw == "no headers":
        payload = notify_payload(order["tradeNo"], order["bizOrderNo"], "SUCCESS", bill["total_amount"])
        _, raw = signed_notification(private_key(sys009), payload)
        reply = call("POST", NOTIFY, raw_body=raw)
    else:
        reply = send(sys009, order, "SUCCESS", bill["total_amount"], **kw)

    expect_error(reply, 1_002_003_003)
    rejected = rejected_since(mark)
    assert (
        len(rejected) == 1
        and rejected[0]["outcome"] == "REJECTED"
        and order["tradeNo"] in rejected[0]["raw_body"]
    )
    newest = sql_all("SELECT exception_type FROM bk_transaction_exception ORDER BY id DESC LIMIT 1")
    assert newest == [{"exception_type": "SIGNATURE_INVALID"}]
    assert txn(order["bizOrderNo"])["status"] == "PAYING" and charge_row(bill["id"])["status"] == "UNPAID"
    # the control: the same notification correctly signed is accepted
    assert send(sys009, order, "SUCCESS", bill["total_amount"]).code == 0
    assert charge_row(bill["id"])["status"] == "PAID"


def test_money_for_bills_paid_elsewhere_goes_to_the_balance_never_a_second_write_off(
    admin: str, sys009: Any
) -> None:
    """Given an order that failed (its bill freed) and the bill then paid at the counter, when a SUCCESS for
    the order arrives after all, then the order is SUCCESS, its money goes to the balance as PAID_ELSEWHERE
    with an exception to review, and the bill keeps its one write-off."""
    sys009.behaviour(dropNotifications=True)
    order, bill = online_order(admin, "2020-08")
    due = Decimal(bill["total_amount"])
    assert send(sys009, order, "FAIL", due, at="2026-01-01T10:00:00+08:00").data["writeBackStatus"] == "FAIL"
    counter = call(
        "POST",
        "/admin-api/revenue/collection/create",
        {
            "custId": bill["cust_id"],
            "chargeIds": [bill["id"]],
            "paymentChannel": "CASH",
            "paymentAmount": str(due),
        },
        token=admin,
    )
    assert counter.code == 0, counter.body

    reply = send(sys009, order, "SUCCESS", due, at="2026-01-01T10:01:00+08:00")

    assert reply.code == 0 and reply.data["writeBackStatus"] == "SUCCESS", reply.body
    assert txn(order["bizOrderNo"])["status"] == "SUCCESS"
    flows = sql_all(
        "SELECT f.biz_type, f.change_amount, f.ref_no FROM biz_account_flow f JOIN biz_account a ON a.id = f.account_id"
        " WHERE a.cust_id = :c",
        {"c": bill["cust_id"]},
    )
    assert flows == [{"biz_type": "PAID_ELSEWHERE", "change_amount": due, "ref_no": order["bizOrderNo"]}]
    assert [e["exception_type"] for e in exceptions(order["bizOrderNo"])] == ["PAID_ELSEWHERE"]
    assert sql_scalar("SELECT count(*) FROM biz_collection_item WHERE charge_id = :c", {"c": bill["id"]}) == 1
    assert charge_row(bill["id"])["paid_amount"] == due
    (money,) = sql_all("SELECT * FROM biz_collection WHERE code = :o", {"o": order["bizOrderNo"]})
    assert (money["amount"], money["written_off"], money["to_balance"]) == (due, 0, due)
    assert (
        sql_scalar(
            "SELECT balance FROM biz_account WHERE cust_id = :c ORDER BY id LIMIT 1", {"c": bill["cust_id"]}
        )
        == due
    )


def test_money_for_a_bill_part_paid_elsewhere_pays_what_is_owed_and_raises_only_the_surplus(
    admin: str, sys009: Any
) -> None:
    """Given an order that failed (its bill freed) and the bill then part-paid at the counter (partial
    payment allowed), when a SUCCESS for the whole order arrives after all, then the bill is paid up, the
    surplus - exactly what the counter took - goes to the balance, and the PAID_ELSEWHERE exception names
    that surplus, not the whole trade amount."""
    from tests.support import set_allow_partial

    sys009.behaviour(dropNotifications=True)
    order, bill = online_order(admin, "2020-09")
    due = Decimal(bill["total_amount"])
    part = Decimal("1.00")
    assert send(sys009, order, "FAIL", due, at="2026-01-02T10:00:00+08:00").data["writeBackStatus"] == "FAIL"
    set_allow_partial(admin, True)
    try:
        counter = call(
            "POST",
            "/admin-api/revenue/collection/create",
            {
                "custId": bill["cust_id"],
                "chargeIds": [bill["id"]],
                "paymentChannel": "CASH",
                "paymentAmount": "1.00",
            },
            token=admin,
        )
    finally:
        set_allow_partial(admin, False)
    assert counter.code == 0 and charge_row(bill["id"])["status"] == "PARTIAL", counter.body

    reply = send(sys009, order, "SUCCESS", due, at="2026-01-02T10:01:00+08:00")

    assert reply.code == 0 and reply.data["writeBackStatus"] == "SUCCESS", reply.body
    assert charge_row(bill["id"])["status"] == "PAID" and charge_row(bill["id"])["paid_amount"] == due
    (exc,) = exceptions(order["bizOrderNo"])
    assert exc["exception_type"] == "PAID_ELSEWHERE"
    assert (Decimal(exc["detail"]["toBalance"]), Decimal(exc["detail"]["tradeAmount"])) == (part, due)
    assert exc["detail"]["chargeIds"] == [bill["id"]]
    balance = sql_scalar(
        "SELECT balance FROM biz_account WHERE cust_id = :c ORDER BY id LIMIT 1", {"c": bill["cust_id"]}
    )
    assert balance == part


def test_a_second_mismatch_for_a_held_order_adds_no_exception(admin: str, sys009: Any) -> None:
    """Given an order held for an amount mismatch, when the platform sends another notification (a new
    notifyTime) for it, then it is kept and acknowledged but changes nothing: one open exception."""
    sys009.behaviour(dropNotifications=True)
    order, bill = online_order(admin, "2020-10")
    wrong = Decimal(bill["total_amount"]) - 1
    first = send(sys009, order, "SUCCESS", wrong, at="2026-01-03T10:00:00+08:00")
    second = send(sys009, order, "SUCCESS", Decimal(bill["total_amount"]), at="2026-01-03T10:05:00+08:00")

    assert first.data["writeBackStatus"] == second.data["writeBackStatus"] == "EXCEPTION"
    assert [e["exception_type"] for e in exceptions(order["bizOrderNo"])] == ["AMOUNT_MISMATCH"]
    assert [c["outcome"] for c in callbacks(order["tradeNo"])] == ["EXCEPTION", "IGNORED"]
    assert txn(order["bizOrderNo"])["hold_reason"] == "AMOUNT_MISMATCH"
    assert charge_row(bill["id"])["status"] == "UNPAID" and collections(order["bizOrderNo"]) == 0


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b'{"tradeNo": "T1"}',
        b'["a list"]',
        '{"tradeNo":"\u00e9"}'.encode("utf-16"),
        b'{"tradeNo":"T\\u0000","tradeStatus":"SUCCESS","notifyTime":"2026-01-01T10:00:00+08:00"}',
        b'{"tradeNo":"T\x00"}',
        # found by the API fuzz: values wider than the columns they are kept in
        b'{"tradeNo":"T1","tradeStatus":"SUCCESS-BUT-LONGER","notifyTime":"2026-01-01T10:00:00+08:00"}',
        b'{"tradeNo":"' + b"T" * 65 + b'","tradeStatus":"SUCCESS","notifyTime":"2026-01-01T10:00:00+08:00"}',
        b'{"tradeNo":"T1","tradeStatus":"SUCCESS","notifyTime":"2026-01-01T10:00:00+08:00","businessOrderNo":"'
        + b"B" * 41
        + b'"}',
    ],
    ids=[
        "not-json",
        "fields-missing",
        "a-list",
        "utf-16",
        "nul-escape",
        "nul-byte",
        "status-too-long",
        "trade-no-too-long",
        "order-no-too-long",
    ],
)
def test_a_signed_notification_that_cannot_be_read_is_kept_for_review(sys009: Any, body: bytes) -> None:
    """Given a correctly signed notification whose body is not a readable notification, sent twice, then
    each is answered with an error (so the platform sends it again) and kept as a verified UNPARSABLE
    callback, one UNPARSABLE exception is raised for the body, and nothing reaches the books."""
    from waterrev.adapters import paysign
    from waterrev.payments import notify as payment_notify

    key = private_key(sys009)
    ts, nonce = str(int(time.time())), unique("n-")
    headers = {
        "content-type": "application/json",
        "x-sys009-timestamp": ts,
        "x-sys009-nonce": nonce,
        "x-sys009-serial": paysign.key_serial(paysign.public_pem_of(key)),
        "x-sys009-signature": paysign.sign_notification(key, ts, nonce, body),
    }
    mark = last_callback_id()
    exc_mark = int(sql_scalar("SELECT COALESCE(max(id), 0) FROM bk_transaction_exception"))

    reply = call("POST", NOTIFY, raw_body=body, headers=headers)
    retried = call("POST", NOTIFY, raw_body=body, headers=headers)  # the platform sends it again

    assert reply.status == 400 and reply.code != 0 and "无法解析" in reply.msg, reply.body
    assert retried.status == 400
    kept = sql_all(
        "SELECT verified, outcome, raw_body FROM bk_transaction_callback WHERE id > :i ORDER BY id",
        {"i": mark},
    )
    assert [(k["verified"], k["outcome"]) for k in kept] == [(True, "UNPARSABLE")] * 2  # every delivery
    assert kept[0]["raw_body"] == payment_notify.keepable(body)
    raised = sql_all(
        "SELECT exception_type, detail FROM bk_transaction_exception WHERE id > :i ORDER BY id",
        {"i": exc_mark},
    )
    assert [r["exception_type"] for r in raised] == ["UNPARSABLE"]  # one to review, not one per retry
    assert "无法解析" in raised[0]["detail"]["reason"]
