"""Money: built from strings, ints or Decimals only, rounded half-up to the fen (0.01)."""

from decimal import Decimal

import pytest

from waterrev.money import FEN, fmt, money


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2.345", "2.35"),
        ("2.344", "2.34"),
        ("-2.345", "-2.35"),
        ("-2.344", "-2.34"),
        ("0.005", "0.01"),
        ("2.5", "2.50"),
        ("1e2", "100.00"),
        (7, "7.00"),
        (Decimal("10.125"), "10.13"),
    ],
)
def test_money_rounds_half_up_to_the_fen(raw: str | int | Decimal, expected: str) -> None:
    """Given an amount with any number of places
    When it becomes money
    Then it is rounded half-up (away from zero on a tie) to exactly two places."""
    amount = money(raw)

    assert amount == Decimal(expected)
    assert str(amount) == expected
    assert amount.as_tuple().exponent == FEN.as_tuple().exponent


def test_money_refuses_a_float() -> None:
    """Given a float (2.345 is really 2.34499999...)
    When it is turned into money
    Then a TypeError says money is never built from a float."""
    with pytest.raises(TypeError, match="float"):
        money(2.345)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "raw", ["", "abc", "1,000.00", "12.3.4", "¥12", "NaN", "Infinity", "-inf", "sNaN", True]
)
def test_money_refuses_garbage(raw: object) -> None:
    """Given something that is not a finite amount
    When it is turned into money
    Then a ValueError names it."""
    with pytest.raises(ValueError, match="not an amount"):
        money(raw)  # type: ignore[arg-type]


def test_money_refuses_an_amount_beyond_decimal_precision() -> None:
    """Given an absurdly large amount (1e30 yuan)
    When it is turned into money
    Then it is refused with a ValueError like any other bad amount."""
    with pytest.raises(ValueError, match="not an amount"):
        money("1e30")


@pytest.mark.parametrize(
    ("amount", "expected"),
    [
        (Decimal("12.3"), "12.30"),
        (Decimal("0"), "0.00"),
        (Decimal("2.345"), "2.35"),
        (Decimal("-1.005"), "-1.01"),
    ],
)
def test_fmt_writes_two_places(amount: Decimal, expected: str) -> None:
    """Given a Decimal
    When it is formatted for the wire
    Then it has exactly two places, rounded half-up."""
    assert fmt(amount) == expected


def test_fmt_of_money_round_trips() -> None:
    """Given money built from its own formatted text
    When formatted again
    Then nothing changes."""
    amount = money("1234567.89")

    assert money(fmt(amount)) == amount
    assert fmt(amount) == "1234567.89"
