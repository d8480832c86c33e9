"""Money: Decimal built from strings, two places (fen), one rounding rule.

The rule: every amount is rounded to the fen with ROUND_HALF_UP (四舍五入) at the point where it
becomes a line amount; totals are sums of already-rounded lines and are never rounded again.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

FEN = Decimal("0.01")
ZERO = Decimal("0.00")


def money(value: str | int | Decimal) -> Decimal:
    if isinstance(value, float):
        raise TypeError("money is never built from a float")
    try:
        amount = value if isinstance(value, Decimal) else Decimal(str(value))
    except InvalidOperation as exc:
        raise ValueError(f"not an amount: {value!r}") from exc
    if not amount.is_finite() or amount.adjusted() > 11:  # NUMERIC(14,2) holds 12 integer digits
        raise ValueError(f"not an amount: {value!r}")
    return amount.quantize(FEN, rounding=ROUND_HALF_UP)


def fmt(amount: Decimal) -> str:
    return str(amount.quantize(FEN, rounding=ROUND_HALF_UP))
