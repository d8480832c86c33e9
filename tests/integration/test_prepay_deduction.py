"""Prepaid balance deduction (预存抵扣) when bills are generated (IF-REV-005, and every bill-run chunk):
an account with a balance pays its new bills - and its older arrears - oldest first, in the same
transaction, audited; the books end exactly as a PREPAY write-off through rev_write_off leaves them; a
switch per office (revenue.billing.prepay-deduct) and a low-balance notice (PREPAY_LOW_BALANCE SMS below
revenue.billing.prepay-low-balance).

RESIDENT prices 3.25 a m3 in tier 1 (2.15 + 1.00 + 0.10): 30 m3 = 97.50.
Periods 2028-01 .. 2028-06 belong to this module (tests share one database and never truncate).
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any

import pytest

from tests.support import (
    Household,
    audit_rows,
    charge_generate,
    household,
    new_dept,
    receiver_of,
    rule,
    set_param,
    sql_all,
    sql_exec,
    sql_scalar,
    unique,
)
from waterrev.context import SYSTEM, RequestContext
from waterrev.db import UnitOfWork
from waterrev.payments import collection

pytestmark = pytest.mark.integration

D = Decimal
SWITCH = "revenue.billing.prepay-deduct"
THRESHOLD = "revenue.billing.prepay-low-balance"


def fund(home: Household, balance: str) -> None:
    sql_exec("UPDATE biz_account SET balance = :b WHERE id = :a", {"b": balance, "a": home.account_id})


def account(home: Household) -> dict[str, Any]:
    return sql_all("SELECT * FROM biz_account WHERE id = :a", {"a": home.account_id})[0]


def collections(home: Household) -> list[dict[str, Any]]:
    return sql_all(
        "SELECT * FROM biz_collection WHERE cust_id = :c AND channel = 'PREPAY' ORDER BY id",
        {"c": home.cust_id},
    )


def items(collection_id: int) -> list[tuple[int, Decimal]]:
    return [
        (r["charge_id"], r["amount"])
        for r in sql_all(
            "SELECT charge_id, amount FROM biz_collection_item WHERE collection_id = :c ORDER BY id",
            {"c": collection_id},
        )
    ]


def flows(home: Household) -> list[tuple[Decimal, Decimal, str, str]]:
    return [
        (r["change_amount"], r["balance_after"], r["biz_type"], r["ref_no"])
        for r in sql_all(
            "SELECT * FROM biz_account_flow WHERE account_id = :a ORDER BY id", {"a": home.account_id}
        )
    ]


def notices(home: Household) -> list[dict[str, Any]]:
    return sql_all(
        "SELECT * FROM biz_message WHERE cust_id = :c AND template_code = 'PREPAY_LOW_BALANCE' ORDER BY id",
        {"c": home.cust_id},
    )


def test_a_prepaid_account_pays_its_new_bill_when_it_is_generated(admin: str) -> None:
    # Given a household with 200.00 prepaid and 30 m3 read in 2028-01
    home = household(admin)
    fund(home, "200.00")
    home.read(admin, "2028-01", [30])

    # When the period is billed (IF-REV-005)
    (bill,) = home.bill(admin, "2028-01")

    # Then the 97.50 bill is paid in full from the balance, in the same transaction ...
    assert (bill["total_amount"], bill["paid_amount"], bill["status"]) == (D("97.50"), D("97.50"), "PAID")
    assert bill["paid_time"] is not None
    acct = account(home)
    assert (acct["balance"], acct["arrears_amount"]) == (D("102.50"), D("0"))
    # ... by a PREPAY collection of its own code (source DEDUCT) with one item, and a PREPAY_USE flow
    (paid,) = collections(home)
    assert paid["code"].startswith("DK")
    assert (paid["amount"], paid["written_off"], paid["to_balance"], paid["status"], paid["source"]) == (
        D("97.50"),
        D("97.50"),
        D("0"),
        "SUCCESS",
        "DEDUCT",
    )
    assert items(paid["id"]) == [(bill["id"], D("97.50"))]
    assert flows(home) == [(D("-97.50"), D("102.50"), "PREPAY_USE", paid["code"])]
    # ... audited, and no low-balance notice (102.50 is not below 20.00)
    (audit,) = sql_all(
        "SELECT * FROM biz_operat_log WHERE operation = 'PREPAY_DEDUCT' AND after_data -> 'collectionIds' @> "
        "CAST(:d AS jsonb)",
        {"d": f"[{paid['id']}]"},
    )
    assert (audit["object_type"], audit["module"]) == ("biz_collection", "REV-003")
    assert bill["id"] in audit["after_data"]["chargeIds"]
    assert home.account_id in audit["after_data"]["accountIds"]
    assert notices(home) == []


def test_a_short_balance_pays_part_leaves_the_rest_owed_and_queues_one_notice(admin: str) -> None:
    # Given a household with 50.00 prepaid, a mobile, and 30 m3 read in 2028-01
    home = household(admin, mobile="13711112222")
    fund(home, "50.00")
    home.read(admin, "2028-01", [30])

    # When the period is billed
    (bill,) = home.bill(admin, "2028-01")

    # Then 50.00 is paid, the bill is PARTIAL and 47.50 is owed; the collection is PARTIAL
    assert (bill["paid_amount"], bill["status"], bill["paid_time"]) == (D("50.00"), "PARTIAL", None)
    acct = account(home)
    assert (acct["balance"], acct["arrears_amount"]) == (D("0"), D("47.50"))
    (paid,) = collections(home)
    assert (paid["amount"], paid["status"]) == (D("50.00"), "PARTIAL")
    # ... and one PREPAY_LOW_BALANCE SMS to the customer's mobile, with the seed's payload names
    (notice,) = notices(home)
    assert (notice["channel"], receiver_of(notice), notice["message_biz_no"], notice["status"]) == (
        "SMS",
        "13711112222",
        paid["code"],
        "PENDING",
    )
    assert notice["payload"] == {
        "custId": home.cust_id,
        "custCode": sql_scalar("SELECT code FROM biz_cust WHERE id = :c", {"c": home.cust_id}),
        "billPeriod": "2028-01",
        "deductAmount": "50.00",
        "balance": "0.00",
        "threshold": "20.00",
        "arrearsAmount": "47.50",
        "collectionCode": paid["code"],
    }

    # When the period is billed again, then nothing more is billed, paid or sent
    again = charge_generate(admin, "2028-01", customerIds=[home.cust_id])
    assert again.code == 0 and again.data["generateCount"] == 0
    assert len(collections(home)) == 1 and len(notices(home)) == 1


def test_older_arrears_are_paid_first_and_a_bill_held_by_a_live_order_is_left_alone(admin: str) -> None:
    # Given a household of two meters: 2028-02 billed with no balance (30 m3 and 10 m3: 97.50 and 32.50
    # owed), the 32.50 bill then held by a live online order, and 150.00 prepaid afterwards
    home = household(admin, meters=2)
    home.read(admin, "2028-02", [30, 10])
    older, held = home.bill(admin, "2028-02")
    order = unique("DD")
    sql_exec(
        "INSERT INTO bk_transaction (biz_order_no, cust_id, channel_code, scene, trade_amount, status, expire_time,"
        " request_key) VALUES (:o, :c, 'WECHAT', 'ONLINE', 32.50, 'PAYING', now() + interval '1 hour', :o)",
        {"o": order, "c": home.cust_id},
    )
    sql_exec(
        "INSERT INTO biz_order_charge (biz_order_no, charge_id, amount) VALUES (:o, :c, 32.50)",
        {"o": order, "c": held["id"]},
    )
    fund(home, "150.00")

    # When 2028-03 is billed (20 m3 and 0 m3: 65.00 and 0.00)
    home.read(admin, "2028-03", [50, 10])
    newer, empty = home.bill(admin, "2028-03")

    # Then the older 97.50 is paid first, the new 65.00 gets the remaining 52.50, the held bill is not touched
    assert (newer["total_amount"], empty["total_amount"]) == (D("65.00"), D("0.00"))
    (paid,) = collections(home)
    assert items(paid["id"]) == [(older["id"], D("97.50")), (newer["id"], D("52.50"))]
    assert sql_scalar("SELECT status FROM biz_charge WHERE id = :c", {"c": older["id"]}) == "PAID"
    assert sql_scalar("SELECT paid_amount FROM biz_charge WHERE id = :c", {"c": held["id"]}) == D("0")
    assert (newer["paid_amount"], newer["status"]) == (D("52.50"), "PARTIAL")
    acct = account(home)
    assert (acct["balance"], acct["arrears_amount"]) == (D("0"), D("32.50") + D("12.50"))
    sql_exec("UPDATE biz_order_charge SET live = false WHERE biz_order_no = :o", {"o": order})
    sql_exec("UPDATE bk_transaction SET status = 'CLOSED' WHERE biz_order_no = :o", {"o": order})


def penalised_household(admin: str, **params: str) -> Household:
    """A household in a dept of its own whose penalty rule is 0.1% a day after 5 grace days."""
    dept = new_dept()
    rule_json = json.dumps({"mode": "DAILY_RATE", "graceDays": 5, "dailyRate": "0.001"})
    set_param(admin, "revenue.penalty.rule", rule_json, dept_id=dept, effective="2020-01-01")
    for code, value in params.items():
        set_param(admin, code, value, dept_id=dept)
    return household(admin, dept_id=dept)


def penalty_items(collection_id: int) -> list[tuple[int, str, Decimal]]:
    return [
        (r["charge_id"], r["item_type"], r["amount"])
        for r in sql_all(
            "SELECT charge_id, item_type, amount FROM biz_collection_item WHERE collection_id = :c ORDER BY id",
            {"c": collection_id},
        )
    ]


def test_an_overdue_older_bill_is_deducted_with_its_penalty_as_its_own_line(admin: str, on: Any) -> None:
    # Given a household whose 2028-05 bill (97.50, due 2028-06-15) is overdue on 2028-06-30, with the
    # penalty its office's rule accrues by then, and 200.00 prepaid afterwards
    from waterrev.billing.dues import amount_due

    home = penalised_household(admin)
    home.read(admin, "2028-05", [30])
    (older,) = home.bill(admin, "2028-05")
    on(dt.date(2028, 6, 30))
    with UnitOfWork() as uow:
        penalty = amount_due(uow, home.cust_id).penalty
    assert penalty > 0
    fund(home, "200.00")

    # When 2028-06 is billed that day (20 m3 more: 65.00)
    home.read(admin, "2028-06", [50])
    (newer,) = home.bill(admin, "2028-06")

    # Then the balance pays the older bill's principal and its penalty, then the new bill, in one
    # collection whose penalty is a PENALTY line of its own, as of the day of the bill run
    (paid,) = collections(home)
    assert paid["amount"] == D("97.50") + penalty + D("65.00")
    assert paid["penalty_as_of"] == dt.date(2028, 6, 30)
    assert penalty_items(paid["id"]) == [
        (older["id"], "PRINCIPAL", D("97.50")),
        (newer["id"], "PRINCIPAL", D("65.00")),
        (older["id"], "PENALTY", penalty),
    ]
    # ... both bills are PAID, the arrears (water fee only) are nil, the balance fell by all it paid
    assert sql_scalar("SELECT status FROM biz_charge WHERE id = :c", {"c": older["id"]}) == "PAID"
    assert sql_scalar("SELECT paid_amount FROM biz_charge WHERE id = :c", {"c": older["id"]}) == D("97.50")
    assert newer["status"] == "PAID"
    acct = account(home)
    assert (acct["balance"], acct["arrears_amount"]) == (D("200.00") - paid["amount"], D("0"))
    assert flows(home)[-1] == (-paid["amount"], acct["balance"], "PREPAY_USE", paid["code"])
    # ... and the amount due every channel shows is nothing now, the penalty included
    with UnitOfWork() as uow:
        assert amount_due(uow, home.cust_id).total == D("0.00")


def test_a_short_balance_settles_the_penalty_first_and_leaves_the_principal_owed(admin: str, on: Any) -> None:
    # Given an overdue 97.50 bill with its penalty on 2028-06-30 (coverage PENALTY_FIRST, the default),
    # and 50.00 prepaid
    from waterrev.billing.dues import amount_due

    home = penalised_household(admin)
    home.read(admin, "2028-05", [30])
    (older,) = home.bill(admin, "2028-05")
    on(dt.date(2028, 6, 30))
    with UnitOfWork() as uow:
        penalty = amount_due(uow, home.cust_id).penalty
    fund(home, "50.00")

    # When 2028-06 is billed with no usage (a 0.00 bill: nothing new to pay)
    home.read(admin, "2028-06", [30])
    home.bill(admin, "2028-06")

    # Then the 50.00 pays the penalty first and the rest of it on the principal; the bill stays PARTIAL
    (paid,) = collections(home)
    assert paid["amount"] == D("50.00")
    assert penalty_items(paid["id"]) == [
        (older["id"], "PRINCIPAL", D("50.00") - penalty),
        (older["id"], "PENALTY", penalty),
    ]
    bill = sql_all("SELECT * FROM biz_charge WHERE id = :c", {"c": older["id"]})[0]
    assert (bill["status"], bill["paid_amount"]) == ("PARTIAL", D("50.00") - penalty)
    # ... the arrears fell by the principal only, and what is still due is the rest of the principal
    acct = account(home)
    assert (acct["balance"], acct["arrears_amount"]) == (D("0.00"), D("97.50") - (D("50.00") - penalty))
    with UnitOfWork() as uow:
        due = amount_due(uow, home.cust_id)
    assert (due.principal, due.penalty) == (D("97.50") - (D("50.00") - penalty), D("0.00"))


def test_an_office_can_switch_deduction_off_and_set_its_own_threshold(admin: str) -> None:
    # Given two new offices: one with deduction off, one with a low-balance threshold of 500.00, and a
    # funded household in each and in 鼓楼 (the GLOBAL default: on, 20.00)
    off, fussy = new_dept(), new_dept()
    rule(admin, SWITCH, "false", dept_id=off)
    rule(admin, THRESHOLD, "500.00", dept_id=fussy)
    homes = [household(admin, dept_id=d) for d in (off, fussy)] + [household(admin)]
    for home in homes:
        fund(home, "200.00")
        home.read(admin, "2028-04", [30])

    # When the three are billed in one call
    reply = charge_generate(admin, "2028-04", customerIds=[h.cust_id for h in homes])
    assert reply.code == 0 and reply.data["generateCount"] == 3, reply.body

    # Then the office with deduction off keeps its balance and owes its bill; the others paid theirs
    status = {
        h.cust_id: sql_scalar("SELECT status FROM biz_charge WHERE cust_id = :c", {"c": h.cust_id})
        for h in homes
    }
    assert [status[h.cust_id] for h in homes] == ["UNPAID", "PAID", "PAID"]
    assert [account(h)["balance"] for h in homes] == [D("200.00"), D("102.50"), D("102.50")]
    # ... and only the office whose threshold is 500.00 sends a notice for a balance of 102.50
    assert [len(notices(h)) for h in homes] == [0, 1, 0]
    assert notices(homes[1])[0]["payload"]["threshold"] == "500.00"


def test_a_frozen_balance_is_not_touched(admin: str) -> None:
    home = household(admin)
    fund(home, "200.00")
    sql_exec("UPDATE biz_account SET status = 'FROZEN' WHERE id = :a", {"a": home.account_id})
    home.read(admin, "2028-04", [30])

    (bill,) = home.bill(admin, "2028-04")

    assert (bill["status"], account(home)["balance"]) == ("UNPAID", D("200.00"))
    assert collections(home) == []


# ------------------------------------------------------------- the two paths, the same books ---
CASES = [  # (balance, older bills' m3 (billed before the balance), new bills' m3 per meter)
    ("500.00", [], [30, 10]),  # pays both new bills, the balance keeps the rest
    ("97.50", [], [30, 10]),  # exactly the first bill
    ("100.00", [], [30, 10]),  # the first, and 2.50 of the second
    ("40.00", [20, 0], [10, 30]),  # part of an older bill only
    ("200.00", [20, 4], [30, 10]),  # older bills first, then new ones
    ("0.01", [], [1, 1]),
]


def _scenario(
    admin: str, dept: int, balance: str, older: list[int], new: list[int], period: int
) -> Household:
    home = household(admin, meters=2, dept_id=dept)
    dial = [0, 0]
    if older:
        dial = list(older)
        home.read(admin, f"2028-0{period}", dial)
        home.bill(admin, f"2028-0{period}")
    fund(home, balance)
    home.read(admin, f"2028-0{period + 1}", [d + n for d, n in zip(dial, new, strict=True)])
    return home


def _reference_deduction(home: Household, period: str) -> None:
    """What the counter does for a PREPAY payment, per account: lock the account and the payable bills,
    take the amount from the balance, write it off through rev_write_off (partial allowed, as a
    deduction pays what the balance covers), record the PREPAY_USE flow."""
    ctx = RequestContext(unique("ref-"), SYSTEM)
    with UnitOfWork() as uow:
        acct = collection.lock_account(uow, home.cust_id)
        ids = [
            int(r["id"])
            for r in uow.all(
                "SELECT c.id FROM biz_charge c WHERE c.cust_id = :c AND c.status IN ('UNPAID', 'PARTIAL')"
                " AND NOT EXISTS (SELECT 1 FROM biz_order_charge o WHERE o.charge_id = c.id AND o.live)",
                {"c": home.cust_id},
            )
        ]
        charges = collection.lock_charges(uow, home.cust_id, ids)
        dues = collection.dues_of(uow, home.cust_id, charges)
        amount = min(Decimal(acct["balance"]), dues.total)
        if amount > 0:
            uow.execute(
                "UPDATE biz_account SET balance = balance - :a WHERE id = :id",
                {"a": amount, "id": acct["id"]},
            )
            acct["balance"] = Decimal(acct["balance"]) - amount
            result = collection.write_off(
                uow,
                ctx,
                cust_id=home.cust_id,
                account=acct,
                charges=charges,
                dues=dues,
                amount=amount,
                channel="PREPAY",
                source="DEDUCT",
                trade_no=None,
                idempotency_key=None,
                partial_ok=True,
                remark="预存抵扣",
            )
            uow.execute(
                "INSERT INTO biz_account_flow (account_id, change_amount, balance_after, biz_type, ref_no)"
                " VALUES (:a, :amt, :b, 'PREPAY_USE', :ref)",
                {
                    "a": acct["id"],
                    "amt": -amount,
                    "b": acct["balance"] - result.to_balance,
                    "ref": result.collection_code,
                },
            )
        uow.commit()


def _books(home: Household) -> dict[str, Any]:
    """Everything a deduction leaves in the books of one household, without ids, codes and times."""
    bills = sql_all(
        "SELECT id, bill_period, total_amount, paid_amount, status, paid_time IS NOT NULL AS paid_at"
        " FROM biz_charge WHERE cust_id = :c ORDER BY bill_period, id",
        {"c": home.cust_id},
    )
    place = {b["id"]: n for n, b in enumerate(bills)}
    acct = account(home)
    paid = collections(home)
    return {
        "account": (acct["balance"], acct["arrears_amount"]),
        "bills": [(b["total_amount"], b["paid_amount"], b["status"], b["paid_at"]) for b in bills],
        "collections": [
            (
                c["amount"],
                c["channel"],
                c["source"],
                c["status"],
                c["written_off"],
                c["to_balance"],
                c["change_amount"],
                c["actual_amount"],
                c["trade_no"],
                c["remark"],
                c["account_id"] == home.account_id,
                [(place[charge], amount) for charge, amount in items(c["id"])],
            )
            for c in paid
        ],
        "flows": [(f[0], f[1], f[2]) for f in flows(home)],
        "flow_refs": [f[3] for f in flows(home)] == [c["code"] for c in paid],
    }


@pytest.mark.parametrize(("balance", "older", "new"), CASES)
def test_the_set_based_deduction_leaves_the_books_as_rev_write_off_would(
    admin: str, balance: str, older: list[int], new: list[int]
) -> None:
    # Given the same household twice - a funded account, perhaps older arrears, two new readings - one
    # in an office with deduction on, one in an office with it off
    on, off = new_dept(), new_dept()
    rule(admin, SWITCH, "false", dept_id=off)
    deducted = _scenario(admin, on, balance, older, new, 5)
    reference = _scenario(admin, off, balance, older, new, 5)

    # When both are billed, and the second is then paid the counter's way: a PREPAY write-off through
    # rev_write_off of what its balance covers
    deducted.bill(admin, "2028-06")
    reference.bill(admin, "2028-06")
    _reference_deduction(reference, "2028-06")

    # Then the two households' books are the same
    assert _books(deducted) == _books(reference)
    assert _books(deducted)["flow_refs"] is True


def test_the_deduction_is_audited_with_the_bills(admin: str) -> None:
    home = household(admin)
    fund(home, "200.00")
    home.read(admin, "2028-02", [30])
    (bill,) = home.bill(admin, "2028-02")
    (generated,) = audit_rows("biz_charge", bill["id"], "CHARGE_GENERATE")
    assert generated["after_data"]["prepayDeducted"] == 1


def test_many_notices_in_one_statement_keep_the_one_key_rule() -> None:
    """Given a notice already queued for an event, when a batch holding it again (and a new one, twice)
    is queued, then only the new one is written, once: messageBizNo + templateCode + receiver is the key."""
    from waterrev import messages

    event, fresh = unique("DK-EV-"), unique("DK-EV-")

    def notice(biz_no: str) -> dict[str, Any]:
        return {
            "biz_no": biz_no,
            "template_code": "PREPAY_LOW_BALANCE",
            "receiver": "13700000000",
            "channel": "SMS",
            "source": "PREPAY_DEDUCT",
            "payload": {"billPeriod": "2028-01", "arrearsAmount": "1.00", "custName": "张三"},
        }

    with UnitOfWork() as uow:
        first = messages.enqueue_many(uow, [notice(event)])
        uow.commit()
    with UnitOfWork() as uow:
        again = messages.enqueue_many(uow, [notice(event), notice(fresh), notice(fresh)])
        uow.commit()

    assert len(first) == 1 and len(again) == 1 and again[0] != first[0]
    rows = sql_all(
        "SELECT message_biz_no, payload FROM biz_message WHERE message_biz_no = ANY(CAST(:b AS varchar[])) ORDER BY id",
        {"b": [event, fresh]},
    )
    assert [r["message_biz_no"] for r in rows] == [event, fresh]
    assert rows[0]["payload"]["custName"] == "张三"
    with pytest.raises(ValueError), UnitOfWork() as uow:
        messages.enqueue_many(uow, [notice(fresh) | {"channel": "PIGEON"}])
