"""The ledger's rules, pure (accounting.rules): approval, reversal, usage re-rating, and the money invariant
under random sequences of operations - 1,000 of them - in the model the use cases follow (the same write-off
rule, payments.rules.allocate, and the same reversal rule). The database-backed property test
(tests/integration/test_ledger_property.py) drives the real use cases with fewer sequences."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from waterrev.accounting import rules
from waterrev.domain.states import BillStatus
from waterrev.pricing.tariff import Component, Tariff, TierMode, price

D = Decimal
ZERO = D("0.00")
amounts = st.integers(min_value=1, max_value=50_000).map(lambda fen: D(fen) / 100)


def test_approval_is_needed_for_a_chosen_type_or_above_the_threshold() -> None:
    """Given threshold 100.00 and BAD_DEBT chosen, then 100.00 needs none, 100.01 (or -100.01) does, and a
    bad debt of 0.01 does."""
    assert not rules.needs_approval("AMOUNT", D("100.00"), D("100"), {"BAD_DEBT"})
    assert rules.needs_approval("AMOUNT", D("100.01"), D("100"), {"BAD_DEBT"})
    assert rules.needs_approval("AMOUNT", D("-100.01"), D("100"), set())
    assert rules.needs_approval("BAD_DEBT", D("0.01"), D("100"), {"BAD_DEBT"})


def test_a_reversal_takes_each_line_back_and_sends_the_money_where_it_came_from() -> None:
    """Given a cash collection of 100.00 that wrote off 60.00 + 1.00 penalty on one bill (fully paid) and
    30.00 on another (partly) with 9.00 to the balance, then the bills are UNPAID and PARTIAL, 9.00 comes off
    the balance and 100.00 is refunded; the same from the balance (PREPAY, nothing to the balance) puts the
    91.00 back on it and refunds nothing."""
    lines = [
        rules.WrittenOff(1, D("60.00"), D("1.00"), D("60.00"), D("60.00")),
        rules.WrittenOff(2, D("30.00"), ZERO, D("50.00"), D("40.00")),
    ]
    cash = rules.reverse("CASH", D("100.00"), D("9.00"), lines)
    assert [(b.status_after, b.paid_after) for b in cash.bills] == [
        (BillStatus.UNPAID, ZERO),
        (BillStatus.PARTIAL, D("10.00")),
    ]
    assert (cash.balance_change, cash.refund, cash.principal) == (D("-9.00"), D("100.00"), D("90.00"))
    prepay = rules.reverse("PREPAY", D("91.00"), ZERO, lines)
    assert (prepay.balance_change, prepay.refund) == (D("91.00"), ZERO)


def test_a_usage_difference_is_the_tariffs_lines_for_the_corrected_usage_less_the_billed_ones() -> None:
    """Given two tiers (10 m3 at 2.00, then 3.00) and two components, when 12 m3 becomes 8 m3, then the
    difference removes 2 m3 of tier 2 and 2 m3 of tier 1 per component, amounts that sum to the change."""
    tariff = Tariff(
        1,
        TierMode.MONTHLY,
        (D("10"),),
        (
            Component("WATER_FEE", "水费", D("0.09"), (D("2.00"), D("3.00"))),
            Component("SEWAGE_FEE", "污水", ZERO, (D("1.00"), D("1.00"))),
        ),
    )
    diff = rules.usage_difference(price(tariff, D("12")), price(tariff, D("8")))
    assert [(d.component, d.tier_no, d.quantity, d.amount) for d in diff] == [
        ("SEWAGE_FEE", 1, D("-2"), D("-2.00")),
        ("SEWAGE_FEE", 2, D("-2"), D("-2.00")),
        ("WATER_FEE", 1, D("-2"), D("-4.00")),
        ("WATER_FEE", 2, D("-2"), D("-6.00")),
    ]


# ---- the invariant under random operations ------------------------------------------------------------
operation = st.one_of(
    st.tuples(st.just("bill"), st.integers(-3_000, 20_000).filter(bool).map(lambda f: D(f) / 100)),
    st.tuples(
        st.just("pay"),
        st.lists(st.integers(0, 7), min_size=1, max_size=3),
        amounts,
        st.sampled_from(["CASH", "WECHAT", "PREPAY"]),
        st.sampled_from([ZERO, D("0.50"), D("3.00")]),
    ),
    st.tuples(st.just("reverse"), st.integers(0, 7)),
    st.tuples(st.just("refund"), amounts),
    st.tuples(st.just("refund_result"), st.integers(0, 7), st.booleans()),
    st.tuples(st.just("bad_debt"), st.integers(0, 7)),
)


def apply(ledger: rules.Ledger, op: tuple) -> None:  # type: ignore[type-arg]
    kind = op[0]
    if kind == "bill":
        ledger.bill(op[1])
    elif kind == "pay" and ledger.bills:
        ledger.pay(op[2], [i % len(ledger.bills) for i in op[1]], op[3], penalty=op[4])
    elif kind == "reverse" and ledger.collections:
        ledger.reverse(op[1] % len(ledger.collections))
    elif kind == "refund":
        ledger.refund(op[1])
    elif kind == "refund_result" and ledger.refunds:
        ledger.refund_result(op[1] % len(ledger.refunds), op[2])
    elif kind == "bad_debt" and ledger.bills:
        ledger.bad_debt(op[1] % len(ledger.bills))


@settings(max_examples=1000, deadline=None)
@given(st.lists(operation, min_size=1, max_size=30))
def test_money_is_neither_created_nor_destroyed_by_any_sequence_of_operations(ops: list) -> None:  # type: ignore[type-arg]
    """Given any sequence of bills (credits too), payments (cash, online, from the balance; with penalties),
    reversals, refunds and their results, and bad-debt write-offs, then after every step the money
    collected equals what was written off plus the balance plus what was refunded, every bill stays within
    its amount and the balance never goes negative."""
    ledger = rules.Ledger()
    for op in ops:
        apply(ledger, op)
        assert ledger.imbalance() == 0, (op, ledger)
        assert ledger.receivable_ok(), (op, ledger)
