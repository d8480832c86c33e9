"""The write-off rule in two places agrees: random bills (each owing principal and a late-payment penalty)
and payments, penalty first or principal first, go through the database function rev_write_off (on rows
made for the case, rolled back after it) and through the pure payments.rules.allocate, and both spread
the money alike - the same lines (principal and penalty) in the same order, the same bill states after,
the same amount to the balance, remaining and collection status, and one write-off line per part."""

from __future__ import annotations

import json
from decimal import Decimal
from random import Random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.exc import DBAPIError

from tests.support import sql_scratch, unique
from waterrev.domain.states import BillStatus
from waterrev.payments.rules import Bill, allocate

ZERO = Decimal("0.00")
PERIODS = ("2019-11", "2019-12", "2020-01", "2020-02")
ACTOR = json.dumps({"requestId": "allocation-test", "userType": "ADMIN", "userName": "test"})
WRITE_OFF = (
    "SELECT rev_write_off(p_actor => CAST(:actor AS jsonb), p_cust_id => :c, p_account_id => :a,"
    " p_charge_ids => CAST(:ids AS bigint[]), p_amount => :amt, p_channel => 'CASH', p_source => 'TEST',"
    " p_trade_no => NULL, p_idempotency_key => NULL, p_code => :code, p_actual_amount => NULL,"
    " p_outlet => NULL, p_remark => NULL, p_operator_id => NULL, p_penalties => CAST(:pens AS numeric[]),"
    " p_penalty_first => :first, p_as_of => DATE '2020-04-01')"
)
Spec = tuple[str, Decimal, Decimal, Decimal]  # period, total, paid, penalty owed


def fen(low: int, high: int) -> st.SearchStrategy[Decimal]:
    return st.integers(low, high).map(lambda n: Decimal(n).scaleb(-2))


@st.composite
def cases(draw: st.DrawFn) -> tuple[Decimal, list[Spec], bool, Random]:
    """(payment, bills as (period, total, paid, penalty), penalty first?, a random order to insert and
    name them in)."""
    bills = []
    for _ in range(draw(st.integers(0, 5))):
        total = draw(fen(1, 300_000))
        paid = draw(st.one_of(st.just(ZERO), st.just(total), fen(0, int(total * 100))))
        penalty = draw(st.one_of(st.just(ZERO), fen(1, 50_000)))
        bills.append((draw(st.sampled_from(PERIODS)), total, paid, penalty))
    owed = int(sum((total - paid + pen for _, total, paid, pen in bills), ZERO) * 100)
    amount = draw(st.one_of(st.just(Decimal(owed).scaleb(-2)), fen(0, max(1, owed * 2)), fen(0, 2_000)))
    return amount, bills, draw(st.booleans()), draw(st.randoms(use_true_random=False))


def status_of(total: Decimal, paid: Decimal, penalty: Decimal = ZERO) -> BillStatus:
    """A bill owing only its penalty is PARTIAL: its water fee is paid, the bill is not settled."""
    if paid == total and penalty == 0:
        return BillStatus.PAID
    return BillStatus.UNPAID if paid == 0 else BillStatus.PARTIAL


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cases())
def test_the_database_function_and_the_rule_allocate_alike(
    case: tuple[Decimal, list[Spec], bool, Random],
) -> None:
    amount, specs, penalty_first, random = case
    order = list(range(len(specs)))
    random.shuffle(order)  # ids follow insertion: a period's bills are ordered by an id we shuffled
    with sql_scratch() as uow:  # never committed
        account = uow.one("SELECT id, cust_id FROM biz_account ORDER BY id LIMIT 1")
        assert account is not None
        bills: list[Bill] = []
        for index in order:
            period, total, paid, penalty = specs[index]
            charge_id = uow.scalar(
                "INSERT INTO biz_charge (code, cust_id, account_id, bill_period, total_amount, paid_amount, status,"
                " due_date) VALUES (:code, :c, :a, :p, :t, :paid, :s, DATE '2020-03-15') RETURNING id",
                {
                    "code": unique("AL"),
                    "c": account["cust_id"],
                    "a": account["id"],
                    "p": period,
                    "t": total,
                    "paid": paid,
                    "s": status_of(total, paid, penalty).value,
                },
            )
            bills.append(Bill(int(charge_id), period, total, paid, status_of(total, paid, penalty), penalty))
        asked = [b.charge_id for b in bills]
        random.shuffle(asked)
        penalty_of = {b.charge_id: b.penalty for b in bills}
        got = uow.scalar(
            WRITE_OFF,
            {
                "actor": ACTOR,
                "c": account["cust_id"],
                "a": account["id"],
                "ids": asked,
                "amt": amount,
                "code": unique("AL"),
                "pens": [penalty_of[i] for i in asked],
                "first": penalty_first,
            },
        )
        items = uow.all(
            "SELECT charge_id, amount, item_type FROM biz_collection_item WHERE collection_id = :c ORDER BY id",
            {"c": got["collectionId"]},
        )
        after = {
            r["id"]: (Decimal(r["paid_amount"]), r["status"])
            for r in uow.all(
                "SELECT id, paid_amount, status FROM biz_charge WHERE id = ANY(CAST(:ids AS bigint[]))",
                {"ids": asked},
            )
        }

    expected = allocate(amount, bills, penalty_first=penalty_first)
    assert [
        (int(line["chargeId"]), Decimal(line["amount"]), Decimal(line["penalty"])) for line in got["lines"]
    ] == [(line.charge_id, line.amount, line.penalty) for line in expected.lines]
    assert sorted((i["charge_id"], i["item_type"], i["amount"]) for i in items) == sorted(
        [(line.charge_id, "PRINCIPAL", line.amount) for line in expected.lines if line.amount > 0]
        + [(line.charge_id, "PENALTY", line.penalty) for line in expected.lines if line.penalty > 0]
    )
    assert got["status"] == expected.status
    assert Decimal(got["writtenOff"]) == expected.written_off
    assert Decimal(got["toBalance"]) == expected.to_balance
    assert Decimal(got["remain"]) == expected.remain
    changed = {line.charge_id: (line.paid_after, line.status_after) for line in expected.lines}
    for bill in bills:
        assert after[bill.charge_id] == changed.get(bill.charge_id, (bill.paid, bill.status))


def test_both_refuse_an_amount_with_more_than_two_places() -> None:
    """Neither rounds money it is given: 10.001 is refused by the function and by the rule."""
    with pytest.raises(ValueError):
        allocate(Decimal("10.001"), [])
    with sql_scratch() as uow, pytest.raises(DBAPIError, match="more than two decimal places"):
        account = uow.one("SELECT id, cust_id FROM biz_account ORDER BY id LIMIT 1")
        assert account is not None
        uow.scalar(
            WRITE_OFF,
            {
                "actor": ACTOR,
                "c": account["cust_id"],
                "a": account["id"],
                "ids": [],
                "amt": Decimal("10.001"),
                "code": unique("AL"),
                "pens": None,
                "first": False,
            },
        )
