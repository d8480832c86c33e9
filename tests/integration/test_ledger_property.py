"""The ledger's invariant on the real database, under random sequences of operations through the real use
cases: counter payments (cash with a surplus, from the balance), amount adjustments (rises and credits),
reversals, refunds against a trade, bad-debt write-offs, and approvals or rejections by a second person.

Each example is a fresh customer of its own (its bills written directly, as migrated history would be),
so examples never see each other's books; after every operation the money invariant and the bill
invariant (accounting.ledger, docs/LEDGER.md) hold for that customer.

DB_EXAMPLES (1,000) sequences on real PostgreSQL: each example runs on one connection inside a
transaction that is rolled back at its end, and every unit of work the use cases open is a savepoint in
it (`one_transaction`: what a commit does is RELEASE SAVEPOINT). The use cases, their SQL, their row locks,
triggers and constraints run unchanged; what is not exercised here is only concurrency between
connections (tests/integration/test_pay_concurrency.py and test_adjustments.py hold that). Rolling back
keeps the tables the size they were, so the thousandth example costs what the first did.
"""

from __future__ import annotations

import datetime as dt
import os
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support import GULOU_DEPT, new_admin_user, new_dept, set_param, sql_scalar, unique

DB_EXAMPLES = int(os.environ.get("WATERREV_LEDGER_EXAMPLES", "1000"))
D = Decimal
DONE: Counter[str] = Counter()  # what the sequences carried out (not refused), by operation


@pytest.fixture(scope="module")
def world(admin: str) -> dict[str, Any]:
    """A dept where more than 60.00 and every BAD_DEBT need approval; the admin and a second person."""
    from waterrev.context import Principal, RequestContext, UserType

    dept = new_dept()
    set_param(admin, "revenue.adjust.approval-threshold", "60", dept_id=dept)
    set_param(admin, "revenue.adjust.approval-types", "BAD_DEBT", dept_id=dept)
    set_param(admin, "revenue.collection.allow-partial", "true", dept_id=dept)
    admin_id = int(sql_scalar("SELECT id FROM system_users WHERE username = 'admin'"))
    second = int(sql_scalar("SELECT id FROM system_users WHERE username = :u", {"u": new_admin_user()}))

    def ctx(user: int) -> RequestContext:
        principal = Principal(user, UserType.ADMIN, f"u{user}", GULOU_DEPT, frozenset({"*:*:*"}), None)
        return RequestContext(request_id=unique("prop-"), principal=principal)

    return {"dept": dept, "requester": ctx(admin_id), "approver": ctx(second), "admin_id": admin_id}


def fresh_customer(dept: int, totals: list[Decimal]) -> tuple[int, list[int]]:
    """A customer with an account and unpaid bills of `totals`, due far ahead (no penalty)."""
    from waterrev.db import UnitOfWork

    with UnitOfWork() as uow:
        code = unique("KH")[:32]
        made = uow.one(
            "WITH c AS (INSERT INTO biz_cust (code, name, cust_type, address, dept_id, status) VALUES (:c, '性质测试',"
            " 'RESIDENT', '测试路', :d, 'NORMAL') RETURNING id)"
            " INSERT INTO biz_account (cust_id, account_no, arrears_amount) SELECT id, :c, :s FROM c"
            " RETURNING cust_id, id",
            {"c": code, "d": dept, "s": sum(totals)},
        )
        assert made is not None
        cust, account = made["cust_id"], made["id"]
        ids = sorted(
            r["id"]
            for r in uow.all(
                "INSERT INTO biz_charge (code, cust_id, account_id, bill_period, total_amount, due_date)"
                " SELECT :code || lpad(CAST(x.n - 1 AS text), 2, '0'), :c, :a, '2023-' || lpad(CAST(x.n AS text), 2, '0'),"
                " x.t, :due FROM unnest(CAST(:totals AS numeric[])) WITH ORDINALITY AS x (t, n) RETURNING id",
                {
                    "code": code[:20],
                    "c": cust,
                    "a": account,
                    "totals": [str(t) for t in totals],
                    "due": dt.date(2099, 1, 1),
                },
            )
        )
        uow.commit()
    return int(cust), [int(i) for i in ids]


class _Savepoint:
    """A unit of work's connection while one example runs: the example's one connection, whose `begin()`
    is a savepoint (commit releases it, rollback rolls back to it) and whose `close()` keeps it open."""

    def __init__(self, conn: Any) -> None:
        self._conn = conn

    def begin(self) -> Any:
        return self._conn.begin_nested()

    def execute(self, *args: Any, **kwargs: Any) -> Any:
        return self._conn.execute(*args, **kwargs)

    def close(self) -> None:
        pass


class _OneConnection:
    """Stands in for the engine (waterrev.db.get_engine) while one example runs."""

    def __init__(self, conn: Any) -> None:
        self._conn = conn

    def connect(self) -> _Savepoint:
        return _Savepoint(self._conn)


@contextmanager
def one_transaction() -> Iterator[None]:
    """Everything the use cases do meanwhile, in one transaction rolled back at the end."""
    from unittest import mock

    from waterrev import db

    conn = db.get_engine().connect()
    outer = conn.begin()
    try:
        with mock.patch.object(db, "get_engine", lambda: _OneConnection(conn)):
            yield
    finally:
        outer.rollback()
        conn.close()


money = st.integers(min_value=1, max_value=15_000).map(lambda fen: D(fen) / 100)
operation = st.one_of(
    st.tuples(
        st.just("pay"),
        st.lists(st.integers(0, 3), min_size=1, max_size=3),
        money,
        st.sampled_from(["CASH", "PREPAY"]),
    ),
    st.tuples(
        st.just("amount"),
        st.integers(0, 3),
        st.integers(-8_000, 8_000).filter(bool).map(lambda f: D(f) / 100),
    ),
    st.tuples(st.just("reverse"), st.integers(0, 5)),
    st.tuples(st.just("refund"), st.integers(0, 5), money),
    st.tuples(st.just("bad_debt"), st.integers(0, 3)),
    st.tuples(st.just("decide"), st.integers(0, 3), st.booleans()),
)


def run(world: dict[str, Any], cust: int, bills: list[int], op: tuple) -> None:  # type: ignore[type-arg]
    from waterrev.accounting import adjust
    from waterrev.accounting.commands import DecideAdjustment, RequestAdjustment
    from waterrev.billing.dues import amount_due
    from waterrev.db import UnitOfWork
    from waterrev.errors import AppError
    from waterrev.payments import collection
    from waterrev.payments.commands import Collect

    requester, approver = world["requester"], world["approver"]

    def request(kind: str, charge: int, **values: Any) -> None:
        adjust.request(
            requester,
            RequestAdjustment(
                charge_id=charge,
                adjust_type=kind,
                adjust_amount=values.get("amount"),
                adjust_usage=None,
                source_trade_no=values.get("trade"),
                reason_code="PROP",
                remark=None,
                attachments=(),
                operator_id=requester.principal.user_id,
                request_no=unique("p"),
            ),
        )

    with UnitOfWork() as uow:  # what the operation may name: one round trip
        state = uow.one(
            "SELECT ARRAY(SELECT code FROM biz_collection WHERE cust_id = :c ORDER BY id) AS codes,"
            " ARRAY(SELECT adjustment_no FROM biz_adjustment WHERE cust_id = :c AND status = 'PENDING_APPROVAL'"
            " ORDER BY id) AS pending,"
            " ARRAY(SELECT id FROM biz_charge WHERE cust_id = :c AND status IN ('UNPAID', 'PARTIAL') ORDER BY id)"
            " AS payable",
            {"c": cust},
        )
    assert state is not None
    codes = [str(c) for c in state["codes"]]
    pending = [str(n) for n in state["pending"]]
    payable = [int(i) for i in state["payable"]]
    kind = op[0]
    try:
        if kind == "pay":
            chosen = sorted({payable[i % len(payable)] for i in op[1]}) if payable else []
            if not chosen:
                return
            with UnitOfWork() as uow:
                due = amount_due(uow, cust, charge_ids=chosen).total
            amount = op[2] + due if op[3] == "CASH" else op[2]
            collection.collect(requester, Collect(cust, tuple(chosen), op[3], amount))
        elif kind == "amount":
            request("AMOUNT", bills[op[1] % len(bills)], amount=op[2])
        elif kind == "reverse" and codes:
            code = codes[op[1] % len(codes)]
            with UnitOfWork() as uow:
                charge = uow.scalar(
                    "SELECT i.charge_id FROM biz_collection_item i JOIN biz_collection k ON k.id = i.collection_id"
                    " WHERE k.code = :c ORDER BY i.id LIMIT 1",
                    {"c": code},
                )
            if charge is not None:
                request("REVERSE", int(charge), trade=code)
        elif kind == "refund" and codes:
            request("REFUND", bills[0], amount=op[2], trade=codes[op[1] % len(codes)])
        elif kind == "bad_debt":
            request("BAD_DEBT", bills[op[1] % len(bills)])
        elif kind == "decide" and pending:
            number = pending[op[1] % len(pending)]
            decide = adjust.approve if op[2] else adjust.reject
            decide(approver, DecideAdjustment(number, "性质测试"))
    except AppError:
        DONE["refused"] += (
            1  # a refusal (state, balance, amount) writes nothing: the invariant must still hold
        )
        return
    DONE[kind] += 1


@settings(
    max_examples=DB_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    totals=st.lists(st.integers(100, 20_000).map(lambda f: D(f) / 100), min_size=1, max_size=4),
    ops=st.lists(operation, min_size=1, max_size=8),
)
def test_the_invariant_holds_on_the_database_after_every_operation(
    world: dict[str, Any],
    totals: list[Decimal],
    ops: list,  # type: ignore[type-arg]
) -> None:
    """Given a fresh customer with unpaid bills, when any sequence of payments, adjustments, reversals,
    refunds, bad debts and decisions runs through the use cases (refusals included), then after every
    operation collected = written off + balance + refunded, every bill's paid amount is its lines, and the
    balance is never negative."""
    from waterrev.accounting import ledger
    from waterrev.db import UnitOfWork

    DONE["examples"] += 1
    with one_transaction():
        cust, bills = fresh_customer(world["dept"], totals)
        for op in ops:
            run(world, cust, bills, op)
            with UnitOfWork() as uow:
                found = ledger.measure(uow, [cust])
            assert found["customersBroken"] == [] and found["billsBroken"] == [], (op, found)
            assert found["totals"]["difference"] == 0, (op, found)
            assert found["totals"]["balance"] >= 0, (op, found)  # the customer's one account
            DONE["checks"] += 1


def test_the_sequences_carried_out_every_kind_of_operation() -> None:
    """Given the sequences above (this runs after them), then each kind of operation was carried out - not
    only refused - at least once: the invariant was checked against real movements; and all DB_EXAMPLES
    sequences ran."""
    assert {"pay", "amount", "reverse", "refund", "bad_debt", "decide"} <= {
        k for k, n in DONE.items() if n
    }, DONE
    assert DONE["examples"] >= DB_EXAMPLES, DONE
