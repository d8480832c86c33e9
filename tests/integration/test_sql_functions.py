"""The settlement functions (waterrev/sql/functions/*.sql) called directly in SQL, on prepared rows:
what each writes, what it answers, and what it refuses. Every test runs in one transaction of its
own that is rolled back at the end, so nothing it prepares outlives it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Connection, create_engine, text
from sqlalchemy.exc import DBAPIError

from tests.support import unique

pytestmark = pytest.mark.integration

ACTOR = {"requestId": "req-fn-1", "userId": 1, "userType": "ADMIN", "userName": "admin"}


@pytest.fixture
def conn(db: str) -> Iterator[Connection]:
    engine = create_engine(db, pool_size=1)
    with engine.connect() as connection:
        transaction = connection.begin()
        yield connection
        transaction.rollback()
    engine.dispose()


def one(conn: Connection, sql: str, **params: Any) -> Any:
    return conn.execute(text(sql), params).scalar()


def rows(conn: Connection, sql: str, **params: Any) -> list[dict[str, Any]]:
    return [dict(r) for r in conn.execute(text(sql), params).mappings().all()]


def customer(conn: Connection, bills: dict[str, str], *, with_account: bool = True) -> dict[str, Any]:
    """A customer of 鼓楼营业所 with an account (arrears = the bills) and UNPAID bills {period: amount}."""
    cust = one(
        conn,
        "INSERT INTO biz_cust (code, name, cust_type, address, dept_id) VALUES (:c, '函数测试', 'RESIDENT',"
        " '测试路 1 号', 2) RETURNING id",
        c=unique("FN"),
    )
    if not with_account:
        return {"cust_id": cust, "account_id": None, "charges": []}
    account = one(
        conn,
        "INSERT INTO biz_account (cust_id, account_no, arrears_amount) VALUES (:c, :n, :a) RETURNING id",
        c=cust,
        n=unique("ZH"),
        a=sum((Decimal(v) for v in bills.values()), Decimal(0)),
    )
    charges = [
        one(
            conn,
            "INSERT INTO biz_charge (code, cust_id, account_id, bill_period, total_amount, due_date)"
            " VALUES (:code, :c, :a, :p, :t, DATE '2030-01-15') RETURNING id",
            code=unique("ZD"),
            c=cust,
            a=account,
            p=period,
            t=Decimal(amount),
        )
        for period, amount in bills.items()
    ]
    return {"cust_id": cust, "account_id": account, "charges": charges}


def write_off(conn: Connection, who: dict[str, Any], charge_ids: list[int], amount: str, **extra: Any) -> Any:
    params = {
        "actor": json.dumps(ACTOR),
        "c": who["cust_id"],
        "a": who["account_id"],
        "ids": charge_ids,
        "amt": Decimal(amount),
        "code": extra.get("code") or unique("SK"),
        "trade": extra.get("trade"),
        "key": extra.get("key"),
    }
    return one(
        conn,
        "SELECT rev_write_off(p_actor => CAST(:actor AS jsonb), p_cust_id => :c, p_account_id => :a,"
        " p_charge_ids => CAST(:ids AS bigint[]), p_amount => :amt, p_channel => 'CASH', p_source => 'COUNTER',"
        " p_trade_no => :trade, p_idempotency_key => :key, p_code => :code, p_actual_amount => NULL,"
        " p_outlet => 'GL-01', p_remark => NULL, p_operator_id => 1)",
        **params,
    )


def order(conn: Connection, who: dict[str, Any], amount: str, *, trade_no: str | None = "") -> dict[str, Any]:
    """A live online order (PAYING) holding all of the customer's bills."""
    order_no = unique("DD")
    trade = unique("T") if trade_no == "" else trade_no
    one(
        conn,
        "INSERT INTO bk_transaction (biz_order_no, trade_no, cust_id, channel_code, scene, trade_amount, status,"
        " expire_time, request_key) VALUES (:o, :t, :c, 'WECHAT', 'ONLINE', :a, 'PAYING',"
        " now() + interval '2 hours', :o) RETURNING id",
        o=order_no,
        t=trade,
        c=who["cust_id"],
        a=Decimal(amount),
    )
    for charge in who["charges"]:
        conn.execute(
            text(
                "INSERT INTO biz_order_charge (biz_order_no, charge_id, amount)"
                " SELECT :o, id, total_amount - paid_amount FROM biz_charge WHERE id = :c"
            ),
            {"o": order_no, "c": charge},
        )
    return {"order_no": order_no, "trade_no": trade}


def apply_status(
    conn: Connection, trade_no: str | None, order_no: str | None, status: str, paid: str | None
) -> Any:
    return one(
        conn,
        "SELECT pay_apply_status(p_actor => CAST(:actor AS jsonb), p_trade_no => :t, p_biz_order_no => :o,"
        " p_status => :s, p_success_amount => CAST(:amt AS numeric), p_notify_time => '2030-01-20T10:00:00+08:00',"
        " p_operator_id => NULL)",
        actor=json.dumps(ACTOR),
        t=trade_no,
        o=order_no,
        s=status,
        amt=paid,
    )


def notify(conn: Connection, trade_no: str, order_no: str, status: str, paid: str, when: str) -> Any:
    return one(
        conn,
        "SELECT pay_notify_accept(p_actor => CAST(:actor AS jsonb), p_trade_no => :t, p_status => :s,"
        " p_notify_time => :n, p_notify_id => 'n-1', p_headers => CAST('{}' AS jsonb), p_raw => '{}',"
        " p_success_amount => CAST(:amt AS numeric), p_biz_order_no => :o)",
        actor=json.dumps({**ACTOR, "userType": "SYSTEM", "userId": None}),
        t=trade_no,
        s=status,
        n=when,
        amt=paid,
        o=order_no,
    )


def charges_of(conn: Connection, who: dict[str, Any]) -> list[dict[str, Any]]:
    return rows(
        conn,
        "SELECT bill_period, paid_amount, status FROM biz_charge WHERE cust_id = :c ORDER BY bill_period",
        c=who["cust_id"],
    )


def account_of(conn: Connection, who: dict[str, Any]) -> dict[str, Any]:
    return rows(conn, "SELECT balance, arrears_amount FROM biz_account WHERE id = :a", a=who["account_id"])[0]


def audits(conn: Connection, object_type: str, object_id: Any) -> list[dict[str, Any]]:
    return rows(
        conn,
        "SELECT request_id, user_id, user_type, user_name, module, operation, before_data, after_data"
        " FROM biz_operat_log WHERE object_type = :t AND object_id = :o ORDER BY id",
        t=object_type,
        o=str(object_id),
    )


# ---- rev_audit ----------------------------------------------------------------------------------
def test_rev_audit_writes_one_audit_row_for_the_actor(conn: Connection) -> None:
    one(
        conn,
        "SELECT rev_audit(p_actor => CAST(:actor AS jsonb), p_operation => 'PROBE', p_object_type => 'fn_probe',"
        " p_object_id => '42', p_before => CAST('{\"a\": 1}' AS jsonb), p_after => NULL)",
        actor=json.dumps(ACTOR),
    )

    assert audits(conn, "fn_probe", 42) == [
        {
            "request_id": "req-fn-1",
            "user_id": 1,
            "user_type": "ADMIN",
            "user_name": "admin",
            "module": "REV-003",
            "operation": "PROBE",
            "before_data": {"a": 1},
            "after_data": None,
        }
    ]


# ---- rev_write_off ------------------------------------------------------------------------------
def test_rev_write_off_pays_the_oldest_bill_first_and_sends_the_surplus_to_the_balance(
    conn: Connection,
) -> None:
    who = customer(conn, {"2030-01": "30.00", "2030-02": "20.00"})
    newer, older = who["charges"][1], who["charges"][0]

    result = write_off(conn, who, [newer, older], "60.00", code="SK-FN-1", trade="TR-FN-1")

    assert {k: result[k] for k in ("code", "status", "writtenOff", "toBalance", "remain")} == {
        "code": "SK-FN-1",
        "status": "SUCCESS",
        "writtenOff": "50.00",
        "toBalance": "10.00",
        "remain": "0.00",
    }
    assert result["lines"] == [
        {"chargeId": older, "amount": "30.00", "penalty": "0.00"},
        {"chargeId": newer, "amount": "20.00", "penalty": "0.00"},
    ]
    assert [(c["paid_amount"], c["status"]) for c in charges_of(conn, who)] == [
        (Decimal("30.00"), "PAID"),
        (Decimal("20.00"), "PAID"),
    ]
    assert account_of(conn, who) == {"balance": Decimal("10.00"), "arrears_amount": Decimal("0.00")}
    collection = rows(
        conn,
        "SELECT amount, written_off, to_balance, status, channel, trade_no, outlet_code FROM biz_collection"
        " WHERE id = :i",
        i=result["collectionId"],
    )
    assert collection == [
        {
            "amount": Decimal("60.00"),
            "written_off": Decimal("50.00"),
            "to_balance": Decimal("10.00"),
            "status": "SUCCESS",
            "channel": "CASH",
            "trade_no": "TR-FN-1",
            "outlet_code": "GL-01",
        }
    ]
    items = rows(
        conn,
        "SELECT charge_id, amount FROM biz_collection_item WHERE collection_id = :i ORDER BY id",
        i=result["collectionId"],
    )
    assert items == [
        {"charge_id": older, "amount": Decimal("30.00")},
        {"charge_id": newer, "amount": Decimal("20.00")},
    ]
    flows = rows(
        conn,
        "SELECT change_amount, biz_type, ref_no FROM biz_account_flow WHERE account_id = :a",
        a=who["account_id"],
    )
    assert flows == [{"change_amount": Decimal("10.00"), "biz_type": "OVERPAY", "ref_no": "SK-FN-1"}]
    (audit,) = audits(conn, "biz_collection", result["collectionId"])
    assert audit["operation"] == "WRITE_OFF" and audit["after_data"]["toBalance"] == "10.00"


def test_rev_write_off_of_a_short_amount_leaves_the_newer_bill_partial(conn: Connection) -> None:
    who = customer(conn, {"2030-01": "30.00", "2030-02": "20.00"})

    result = write_off(conn, who, who["charges"], "40.00")

    assert (result["status"], result["writtenOff"], result["toBalance"], result["remain"]) == (
        "PARTIAL",
        "40.00",
        "0.00",
        "10.00",
    )
    assert [(c["paid_amount"], c["status"]) for c in charges_of(conn, who)] == [
        (Decimal("30.00"), "PAID"),
        (Decimal("10.00"), "PARTIAL"),
    ]
    assert account_of(conn, who) == {"balance": Decimal("0.00"), "arrears_amount": Decimal("10.00")}
    assert one(conn, "SELECT count(*) FROM biz_account_flow WHERE account_id = :a", a=who["account_id"]) == 0


def test_rev_write_off_refuses_an_amount_with_more_than_two_places_and_writes_nothing(
    conn: Connection,
) -> None:
    who = customer(conn, {"2030-01": "30.00"})

    with pytest.raises(DBAPIError, match="has more than two decimal places"), conn.begin_nested():
        write_off(conn, who, who["charges"], "30.001")

    assert one(conn, "SELECT count(*) FROM biz_collection WHERE cust_id = :c", c=who["cust_id"]) == 0
    assert charges_of(conn, who)[0]["status"] == "UNPAID"


# ---- pay_apply_status ---------------------------------------------------------------------------
def test_pay_apply_status_success_writes_the_order_off_and_releases_its_bills(conn: Connection) -> None:
    who = customer(conn, {"2030-01": "30.00", "2030-02": "20.00"})
    live = order(conn, who, "50.00")

    result = apply_status(conn, live["trade_no"], live["order_no"], "SUCCESS", "50.00")

    assert result == {"writeBackStatus": "SUCCESS", "callbackOutcome": "PROCESSED"}
    txn = rows(
        conn,
        "SELECT id, status, success_amount FROM bk_transaction WHERE biz_order_no = :o",
        o=live["order_no"],
    )[0]
    assert (txn["status"], txn["success_amount"]) == ("SUCCESS", Decimal("50.00"))
    assert [c["status"] for c in charges_of(conn, who)] == ["PAID", "PAID"]
    assert (
        one(conn, "SELECT bool_or(live) FROM biz_order_charge WHERE biz_order_no = :o", o=live["order_no"])
        is False
    )
    (collection,) = rows(
        conn, "SELECT code, idempotency_key, source FROM biz_collection WHERE cust_id = :c", c=who["cust_id"]
    )
    assert collection == {
        "code": live["order_no"],
        "idempotency_key": f"ORDER:{live['order_no']}",
        "source": "ONLINE",
    }
    assert [a["operation"] for a in audits(conn, "bk_transaction", txn["id"])] == ["ORDER_SUCCESS"]
    # SUCCESS is final: the same result again, or a late FAIL, changes nothing
    assert apply_status(conn, live["trade_no"], None, "FAIL", None) == {
        "writeBackStatus": "SUCCESS",
        "callbackOutcome": "IGNORED",
    }


def test_pay_apply_status_fail_closes_the_order_and_frees_its_bills(conn: Connection) -> None:
    who = customer(conn, {"2030-01": "30.00"})
    live = order(conn, who, "30.00")

    result = apply_status(conn, live["trade_no"], live["order_no"], "FAIL", None)

    assert result == {"writeBackStatus": "FAIL", "callbackOutcome": "PROCESSED"}
    assert (
        one(conn, "SELECT status FROM bk_transaction WHERE biz_order_no = :o", o=live["order_no"]) == "FAIL"
    )
    assert charges_of(conn, who)[0]["status"] == "UNPAID"
    assert (
        one(conn, "SELECT bool_or(live) FROM biz_order_charge WHERE biz_order_no = :o", o=live["order_no"])
        is False
    )


def test_pay_apply_status_holds_an_order_paid_a_different_amount_and_ignores_it_afterwards(
    conn: Connection,
) -> None:
    who = customer(conn, {"2030-01": "30.00"})
    live = order(conn, who, "30.00")

    assert apply_status(conn, live["trade_no"], live["order_no"], "SUCCESS", "30.001") == {
        "writeBackStatus": "EXCEPTION",
        "callbackOutcome": "EXCEPTION",
    }
    assert apply_status(conn, live["trade_no"], live["order_no"], "SUCCESS", "30.00") == {
        "writeBackStatus": "EXCEPTION",
        "callbackOutcome": "IGNORED",
    }
    txn = rows(
        conn, "SELECT status, hold_reason FROM bk_transaction WHERE biz_order_no = :o", o=live["order_no"]
    )[0]
    assert txn == {"status": "PAYING", "hold_reason": "AMOUNT_MISMATCH"}
    (exception,) = rows(
        conn,
        "SELECT exception_type, detail FROM bk_transaction_exception WHERE biz_order_no = :o",
        o=live["order_no"],
    )
    assert exception["exception_type"] == "AMOUNT_MISMATCH"
    assert exception["detail"]["successAmount"] == "30.001"  # as reported, never rounded
    assert charges_of(conn, who)[0]["status"] == "UNPAID"


def test_pay_apply_status_sends_money_for_a_bill_paid_elsewhere_to_the_balance(conn: Connection) -> None:
    who = customer(conn, {"2030-01": "30.00"})
    live = order(conn, who, "30.00")
    write_off(conn, who, who["charges"], "30.00")  # paid at the counter meanwhile

    result = apply_status(conn, live["trade_no"], live["order_no"], "SUCCESS", "30.00")

    assert result == {"writeBackStatus": "SUCCESS", "callbackOutcome": "PROCESSED"}
    assert account_of(conn, who)["balance"] == Decimal("30.00")
    (exception,) = rows(
        conn,
        "SELECT exception_type, detail FROM bk_transaction_exception WHERE biz_order_no = :o",
        o=live["order_no"],
    )
    assert exception["exception_type"] == "PAID_ELSEWHERE"
    assert exception["detail"]["toBalance"] == "30.00"
    flows = rows(
        conn,
        "SELECT biz_type, change_amount FROM biz_account_flow WHERE account_id = :a",
        a=who["account_id"],
    )
    assert flows == [{"biz_type": "PAID_ELSEWHERE", "change_amount": Decimal("30.00")}]


def test_pay_apply_status_learns_the_trade_number_of_an_order_found_by_its_order_number(
    conn: Connection,
) -> None:
    who = customer(conn, {"2030-01": "30.00"})
    live = order(conn, who, "30.00", trade_no=None)

    apply_status(conn, "T-LEARNT-" + live["order_no"], live["order_no"], "CLOSED", None)

    txn = rows(
        conn, "SELECT trade_no, status FROM bk_transaction WHERE biz_order_no = :o", o=live["order_no"]
    )[0]
    assert txn == {"trade_no": "T-LEARNT-" + live["order_no"], "status": "CLOSED"}


def test_pay_apply_status_records_an_unknown_trade_as_an_exception(conn: Connection) -> None:
    trade = unique("T-NONE-")

    assert apply_status(conn, trade, None, "SUCCESS", "1.00") == {
        "writeBackStatus": "EXCEPTION",
        "callbackOutcome": "EXCEPTION",
    }
    assert rows(
        conn, "SELECT exception_type, detail FROM bk_transaction_exception WHERE trade_no = :t", t=trade
    ) == [{"exception_type": "UNKNOWN_TRADE", "detail": {"status": "SUCCESS"}}]


def test_pay_apply_status_refuses_an_order_whose_customer_has_no_account(conn: Connection) -> None:
    who = customer(conn, {}, with_account=False)
    live = order(conn, who, "30.00")

    with pytest.raises(DBAPIError, match=f"custId={who['cust_id']} has no account"), conn.begin_nested():
        apply_status(conn, live["trade_no"], live["order_no"], "SUCCESS", "30.00")

    assert (
        one(conn, "SELECT status FROM bk_transaction WHERE biz_order_no = :o", o=live["order_no"]) == "PAYING"
    )


# ---- pay_notify_accept --------------------------------------------------------------------------
def test_pay_notify_accept_keeps_every_copy_and_settles_the_first_only(conn: Connection) -> None:
    who = customer(conn, {"2030-01": "30.00"})
    live = order(conn, who, "30.00")
    when = "2030-01-20T10:00:00+08:00"

    first = notify(conn, live["trade_no"], live["order_no"], "SUCCESS", "30.00", when)
    again = notify(conn, live["trade_no"], live["order_no"], "SUCCESS", "30.00", when)

    assert first == {"writeBackStatus": "SUCCESS", "callbackOutcome": "PROCESSED"}
    assert again == {"writeBackStatus": "DUPLICATE", "callbackOutcome": "DUPLICATE"}
    kept = rows(
        conn,
        "SELECT is_primary, outcome, verified FROM bk_transaction_callback WHERE trade_no = :t ORDER BY id",
        t=live["trade_no"],
    )
    assert kept == [
        {"is_primary": True, "outcome": "PROCESSED", "verified": True},
        {"is_primary": False, "outcome": "DUPLICATE", "verified": True},
    ]
    assert one(conn, "SELECT count(*) FROM biz_collection WHERE cust_id = :c", c=who["cust_id"]) == 1


def test_pay_notify_accept_keeps_the_outcome_of_a_notification_it_could_not_settle(conn: Connection) -> None:
    trade = unique("T-NONE-")

    result = notify(conn, trade, "DD-NONE", "SUCCESS", "1.00", "2030-01-20T10:00:00+08:00")

    assert result == {"writeBackStatus": "EXCEPTION", "callbackOutcome": "EXCEPTION"}
    assert (
        one(conn, "SELECT outcome FROM bk_transaction_callback WHERE trade_no = :t", t=trade) == "EXCEPTION"
    )


def test_pay_notify_accept_is_all_or_nothing_when_settling_fails(conn: Connection) -> None:
    who = customer(conn, {}, with_account=False)
    live = order(conn, who, "30.00")

    with pytest.raises(DBAPIError, match="has no account"), conn.begin_nested():
        notify(conn, live["trade_no"], live["order_no"], "SUCCESS", "30.00", "2030-01-20T10:00:00+08:00")

    assert (
        one(conn, "SELECT count(*) FROM bk_transaction_callback WHERE trade_no = :t", t=live["trade_no"]) == 0
    )


# ---- the late-payment penalty -----------------------------------------------------------------------
def test_rev_write_off_books_the_penalty_as_its_own_line_and_arrears_by_the_principal(
    conn: Connection,
) -> None:
    """Given a bill of 100.00 owing a penalty of 3.00, when 103.00 is written off with that penalty, then
    the bill is PAID with paid_amount 100.00 (the water fee), its lines are PRINCIPAL 100.00 and PENALTY
    3.00, arrears drop by 100.00 and the collection keeps the day the penalty was settled as of; given only
    the principal when penalty first, the penalty is settled and the bill stays PARTIAL."""
    who = customer(conn, {"2030-01": "100.00"})
    other = customer(conn, {"2030-01": "100.00"})
    sql = (
        "SELECT rev_write_off(p_actor => CAST(:actor AS jsonb), p_cust_id => :c, p_account_id => :a,"
        " p_charge_ids => CAST(:ids AS bigint[]), p_amount => :amt, p_channel => 'CASH', p_source => 'COUNTER',"
        " p_trade_no => NULL, p_idempotency_key => NULL, p_code => :code, p_actual_amount => NULL,"
        " p_outlet => NULL, p_remark => NULL, p_operator_id => NULL, p_penalties => CAST(:pens AS numeric[]),"
        " p_penalty_first => true, p_as_of => DATE '2030-03-01')"
    )
    done = [
        one(
            conn,
            sql,
            actor=json.dumps(ACTOR),
            c=w["cust_id"],
            a=w["account_id"],
            ids=w["charges"],
            amt=Decimal(amt),
            code=unique("SK"),
            pens=[Decimal("3.00")],
        )
        for w, amt in ((who, "103.00"), (other, "100.00"))
    ]

    assert done[0]["status"] == "SUCCESS" and done[0]["lines"] == [
        {"chargeId": who["charges"][0], "amount": "100.00", "penalty": "3.00"}
    ]
    assert rows(
        conn,
        "SELECT item_type, amount FROM biz_collection_item WHERE collection_id = :i ORDER BY id",
        i=done[0]["collectionId"],
    ) == [
        {"item_type": "PRINCIPAL", "amount": Decimal("100.00")},
        {"item_type": "PENALTY", "amount": Decimal("3.00")},
    ]
    bill = rows(conn, "SELECT status, paid_amount FROM biz_charge WHERE id = :i", i=who["charges"][0])[0]
    assert bill == {"status": "PAID", "paid_amount": Decimal("100.00")}
    assert one(conn, "SELECT arrears_amount FROM biz_account WHERE id = :a", a=who["account_id"]) == 0
    assert one(
        conn, "SELECT penalty_as_of::text FROM biz_collection WHERE id = :i", i=done[0]["collectionId"]
    ) == ("2030-03-01")
    assert done[1]["status"] == "PARTIAL" and done[1]["remain"] == "3.00"
    assert rows(conn, "SELECT status, paid_amount FROM biz_charge WHERE id = :i", i=other["charges"][0])[
        0
    ] == {
        "status": "PARTIAL",
        "paid_amount": Decimal("97.00"),
    }


def test_pay_apply_status_books_the_penalty_the_order_held_not_todays(conn: Connection) -> None:
    """Given an order made on 1 Mar for a bill's 100.00 and its penalty of 3.00 (held on the order), when
    SUCCESS arrives later, then it books exactly 100.00 + 3.00 as of 1 Mar, whatever has accrued since."""
    who = customer(conn, {"2030-01": "100.00"})
    placed = order(conn, who, "103.00")
    for statement in (
        "UPDATE biz_order_charge SET penalty = 3.00 WHERE biz_order_no = :o",
        "UPDATE bk_transaction SET penalty_as_of = DATE '2030-03-01' WHERE biz_order_no = :o",
    ):
        conn.execute(text(statement), {"o": placed["order_no"]})

    result = apply_status(conn, placed["trade_no"], None, "SUCCESS", "103.00")

    assert result == {"writeBackStatus": "SUCCESS", "callbackOutcome": "PROCESSED"}
    (collection,) = rows(
        conn,
        "SELECT id, penalty_as_of::text AS d, to_balance FROM biz_collection WHERE code = :o",
        o=placed["order_no"],
    )
    assert collection["d"] == "2030-03-01" and collection["to_balance"] == 0
    assert rows(
        conn,
        "SELECT item_type, amount FROM biz_collection_item WHERE collection_id = :i ORDER BY id",
        i=collection["id"],
    ) == [
        {"item_type": "PRINCIPAL", "amount": Decimal("100.00")},
        {"item_type": "PENALTY", "amount": Decimal("3.00")},
    ]
    assert one(conn, "SELECT status FROM biz_charge WHERE id = :i", i=who["charges"][0]) == "PAID"


def test_rev_held_penalty_due_is_what_the_hold_still_settles(conn: Connection) -> None:
    """Given a hold of 3.00 for a bill's penalty, it is 3.00 while nothing was paid or waived since; less
    the penalty paid by a later collection and a waiver approved since; never below zero; 0 for no hold."""
    who = customer(conn, {"2030-01": "100.00"})
    bill = who["charges"][0]
    since = one(conn, "SELECT now() - interval '1 hour'")
    due = "SELECT rev_held_penalty_due(p_charge_id => :b, p_held => :h, p_since => :s)"

    assert one(conn, due, b=bill, h=Decimal("3.00"), s=since) == Decimal("3.00")
    paid = one(
        conn,
        "INSERT INTO biz_collection (code, cust_id, amount, channel, status) VALUES (:c, :k, 1.20, 'CASH',"
        " 'PARTIAL') RETURNING id",
        c=unique("SK"),
        k=who["cust_id"],
    )
    conn.execute(
        text(
            "INSERT INTO biz_collection_item (collection_id, charge_id, amount, item_type) VALUES (:p, :b, 1.20, 'PENALTY')"
        ),
        {"p": paid, "b": bill},
    )
    conn.execute(
        text(
            "INSERT INTO biz_penalty_waiver (waiver_no, charge_id, cust_id, penalty_owed, waived_amount, reason_code,"
            " status, requested_by, decided_by, decided_time) VALUES (:n, :b, :k, 3, 0.80, 'X', 'APPROVED', 1, 2, now())"
        ),
        {"n": unique("JM"), "b": bill, "k": who["cust_id"]},
    )
    assert one(conn, due, b=bill, h=Decimal("3.00"), s=since) == Decimal("1.00")
    assert one(conn, due, b=bill, h=Decimal("1.50"), s=since) == 0
    assert one(conn, due, b=bill, h=Decimal("0"), s=since) == 0


def test_rev_amount_due_rows_reads_the_customer_its_parameters_and_its_bills(conn: Connection) -> None:
    """Given a customer with two unpaid bills, one part-paid (principal and penalty lines) with an approved
    waiver, it answers the customer's path and flags, the penalty parameters of its scope, and each bill
    with what was paid as of when and what was waived; with chargeIds only those; NULL for no customer."""
    who = customer(conn, {"2030-01": "100.00", "2030-02": "50.00"})
    first, second = who["charges"]
    one(
        conn, "UPDATE biz_charge SET paid_amount = 40, status = 'PARTIAL' WHERE id = :b RETURNING id", b=first
    )
    paid = one(
        conn,
        "INSERT INTO biz_collection (code, cust_id, amount, channel, status, penalty_as_of) VALUES"
        " (:c, :k, 41, 'CASH', 'PARTIAL', DATE '2030-02-20') RETURNING id",
        c=unique("SK"),
        k=who["cust_id"],
    )
    conn.execute(
        text(
            "INSERT INTO biz_collection_item (collection_id, charge_id, amount, item_type) VALUES"
            " (:p, :b, 40, 'PRINCIPAL'), (:p, :b, 1, 'PENALTY')"
        ),
        {"p": paid, "b": first},
    )
    conn.execute(
        text(
            "INSERT INTO biz_penalty_waiver (waiver_no, charge_id, cust_id, penalty_owed, waived_amount, reason_code,"
            " status, requested_by, decided_by, decided_time) VALUES (:n, :b, :k, 3, 0.50, 'X', 'APPROVED', 1, 2, now())"
        ),
        {"n": unique("JM"), "b": first, "k": who["cust_id"]},
    )
    read = "SELECT rev_amount_due_rows(p_cust_id => :c, p_charge_ids => CAST(:ids AS bigint[]))"

    everything = one(conn, read, c=who["cust_id"], ids=None)
    only = one(conn, read, c=who["cust_id"], ids=[second])

    assert everything["customer"]["treePath"].endswith("/2/") and everything["customer"]["lowIncome"] is False
    assert everything["customer"]["withholding"] is False
    assert all(p["code"].startswith("revenue.penalty.") for p in everything["params"])
    listed = {b["id"]: b for b in everything["bills"]}
    assert [b["id"] for b in everything["bills"]] == [first, second]
    assert listed[first]["total"] == "100.00" and listed[first]["paid"] == "40.00"
    assert listed[first]["asOfs"] == ["2030-02-20"] and listed[first]["amounts"] == ["40.00"]
    assert listed[first]["penaltyPaid"] == "1.00" and listed[first]["waived"] == "0.50"
    assert (
        "asOfs" not in listed[second] and "waived" not in listed[second] and listed[second]["order"] is None
    )
    assert [b["id"] for b in only["bills"]] == [second]
    assert one(conn, read, c=-1, ids=None) is None
