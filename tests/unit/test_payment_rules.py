"""Write-off allocation, property-based: for any payment and any bills, no bill gets more than it owes,
what is written off plus what goes to the balance is the payment, the oldest bills are paid first and
only the last one reached may be paid in part, the balance gets money only when nothing is left owed,
and every amount is whole fen. The database function is held to the same rule in
tests/integration/test_write_off_allocation.py."""

from __future__ import annotations

from decimal import Decimal
from random import Random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from waterrev.domain.lifecycle import IllegalTransition
from waterrev.domain.states import BillStatus, CollectionStatus
from waterrev.money import FEN
from waterrev.payments.rules import Bill, allocate

ZERO = Decimal("0.00")
PERIODS = ("2025-11", "2025-12", "2026-01", "2026-02")


def fen(low: int, high: int) -> st.SearchStrategy[Decimal]:
    return st.integers(low, high).map(lambda n: Decimal(n).scaleb(-2))


@st.composite
def bill_sets(draw: st.DrawFn) -> list[Bill]:
    """Up to six bills of a customer; a few share a period (then the lower id is older)."""
    ids = draw(st.lists(st.integers(1, 10_000), unique=True, max_size=6))
    bills = []
    for charge_id in ids:
        total = draw(fen(1, 500_000))
        paid = draw(st.one_of(st.just(ZERO), st.just(total), fen(0, int(total * 100))))
        status = BillStatus.UNPAID if paid == 0 else BillStatus.PAID if paid == total else BillStatus.PARTIAL
        bills.append(Bill(charge_id, draw(st.sampled_from(PERIODS)), total, paid, status))
    return bills


@st.composite
def payments(draw: st.DrawFn) -> tuple[Decimal, list[Bill]]:
    bills = draw(bill_sets())
    owed = int(sum((b.owed for b in bills), ZERO) * 100)
    amount = draw(st.one_of(st.just(Decimal(owed).scaleb(-2)), fen(0, max(1, owed * 2)), fen(0, 100)))
    return amount, bills


def oldest_first(bills: list[Bill]) -> list[Bill]:
    return sorted(bills, key=lambda b: (b.bill_period, b.charge_id))


@settings(max_examples=1000, deadline=None)
@given(payments())
def test_nothing_more_than_owed_and_nothing_lost(case: tuple[Decimal, list[Bill]]) -> None:
    amount, bills = case
    result = allocate(amount, bills)
    owed = {b.charge_id: b.owed for b in bills}
    assert result.written_off + result.to_balance == amount
    assert sum((line.amount for line in result.lines), ZERO) == result.written_off
    assert result.written_off == min(amount, result.owed)
    assert len({line.charge_id for line in result.lines}) == len(result.lines)
    for line in result.lines:
        assert ZERO < line.amount <= owed[line.charge_id]
    assert result.to_balance >= 0 and result.remain >= 0


@settings(max_examples=1000, deadline=None)
@given(payments())
def test_oldest_first_and_only_the_last_bill_reached_in_part(case: tuple[Decimal, list[Bill]]) -> None:
    amount, bills = case
    result = allocate(amount, bills)
    reached = [b for b in oldest_first(bills) if b.owed > 0][: len(result.lines)]
    assert [line.charge_id for line in result.lines] == [b.charge_id for b in reached]
    for bill, line in zip(reached[:-1], result.lines[:-1], strict=True):
        assert line.amount == bill.owed and line.status_after is BillStatus.PAID
    for bill, line in zip(reached, result.lines, strict=True):
        assert line.paid_after == bill.paid + line.amount <= bill.total
        assert (line.status_after is BillStatus.PAID) == (line.paid_after == bill.total)


@settings(max_examples=1000, deadline=None)
@given(payments())
def test_the_balance_gets_only_what_no_bill_owes(case: tuple[Decimal, list[Bill]]) -> None:
    amount, bills = case
    result = allocate(amount, bills)
    if result.to_balance > 0:
        assert result.remain == 0
    assert (result.status is CollectionStatus.SUCCESS) == (result.remain == 0)
    assert (result.status is CollectionStatus.PARTIAL) == (amount < result.owed)


@settings(max_examples=1000, deadline=None)
@given(payments(), st.randoms(use_true_random=False))
def test_whole_fen_and_the_order_given_does_not_matter(
    case: tuple[Decimal, list[Bill]], random: Random
) -> None:
    amount, bills = case
    shuffled = list(bills)
    random.shuffle(shuffled)
    result = allocate(amount, bills)
    assert allocate(amount, shuffled) == result
    amounts = [result.written_off, result.to_balance, result.remain, *(line.amount for line in result.lines)]
    assert all(a == a.quantize(FEN) for a in amounts)


def test_a_short_payment_of_three_bills() -> None:
    """Given bills of 30.00 (2026-01), 20.00 (2025-12, 5.00 paid) and 10.00 (2025-12, a higher id), when
    40.00 is paid, then 15.00 goes to the older 2025-12 bill, 10.00 to the other, 15.00 to 2026-01,
    which stays PARTIAL with 15.00 remaining."""
    bills = [
        Bill(3, "2026-01", Decimal("30.00"), ZERO),
        Bill(9, "2025-12", Decimal("10.00"), ZERO),
        Bill(7, "2025-12", Decimal("20.00"), Decimal("5.00"), BillStatus.PARTIAL),
    ]
    result = allocate(Decimal("40.00"), bills)
    assert [(line.charge_id, line.amount, line.status_after) for line in result.lines] == [
        (7, Decimal("15.00"), BillStatus.PAID),
        (9, Decimal("10.00"), BillStatus.PAID),
        (3, Decimal("15.00"), BillStatus.PARTIAL),
    ]
    assert (result.status, result.remain, result.to_balance) == (
        CollectionStatus.PARTIAL,
        Decimal("15.00"),
        0,
    )


def test_no_bills_all_to_the_balance() -> None:
    result = allocate(Decimal("12.34"), [])
    assert (result.lines, result.to_balance, result.status) == (
        (),
        Decimal("12.34"),
        CollectionStatus.SUCCESS,
    )


@pytest.mark.parametrize("amount", ["10.001", "-0.01", "NaN"])
def test_an_amount_the_books_cannot_hold_is_refused_not_rounded(amount: str) -> None:
    with pytest.raises(ValueError):
        allocate(Decimal(amount), [Bill(1, "2026-01", Decimal("10.00"), ZERO)])


def test_a_cancelled_bill_is_never_paid() -> None:
    with pytest.raises(IllegalTransition, match="CANCELLED"):
        allocate(Decimal("10.00"), [Bill(1, "2026-01", Decimal("10.00"), ZERO, BillStatus.CANCELLED)])
