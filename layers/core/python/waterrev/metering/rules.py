"""Usage from readings and the warn-ratio check (docs/DECISIONS.md 12). Pure: no I/O.

Usage = current - last valid reading + what a meter change carried over + the carry the last reading
left. A reading below the last one is explained, in this order, by an approved review (the reading is
the meter's new start: usage 0 from the dial), by an estimate before it (the estimate was too high:
the difference is taken off this and the following usage), or by a rollover (the last reading in the
top 10% of the dial and this one in the bottom 10%); otherwise it is refused. Usage is never
negative: what an estimate over-counted and this reading cannot absorb is carried, negative, to the
next reading.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from waterrev.domain.states import ValidateStatus

ZERO = Decimal("0.00")
ROLLOVER_SHARE = Decimal("0.9")  # a rollover goes from the top 10% of the dial to the bottom 10%


class BelowLastReading(Exception):
    """A reading below the last one that nothing explains: refused, and a supervisor asked."""

    def __init__(self, last: Decimal, current: Decimal) -> None:
        super().__init__(f"reading {current} below the last reading {last}")
        self.last, self.current = last, current


@dataclass(frozen=True)
class Usage:
    usage: Decimal  # what this reading bills: never negative
    carry: Decimal  # left for the next reading: zero, or negative after an estimate was too high
    rollover: bool = False
    new_base: bool = False  # an approved review made this reading the meter's new start
    true_up: bool = False  # below the estimate before it


def is_rollover(last: Decimal, current: Decimal, maximum: Decimal) -> bool:
    return last >= maximum * ROLLOVER_SHARE and current <= maximum * (1 - ROLLOVER_SHARE)


def usage_from_readings(
    *,
    last: Decimal,
    current: Decimal,
    maximum: Decimal,
    carry_in: Decimal = ZERO,
    carried: Decimal = ZERO,
    last_estimated: bool = False,
    approved_new_base: bool = False,
) -> Usage:
    """The usage of `current` after `last` on a dial that turns over after `maximum`. `carry_in` is
    the carry the last reading left, `carried` what meter changes carried over; `approved_new_base`
    says a supervisor approved exactly this reading as the new start. Raises BelowLastReading."""
    delta = current - last
    rollover = new_base = true_up = False
    if delta < 0:
        if approved_new_base:
            delta, new_base = ZERO, True
        elif last_estimated:
            true_up = True
        elif is_rollover(last, current, maximum):
            delta, rollover = maximum - last + current, True
        else:
            raise BelowLastReading(last, current)
    usage = delta + carry_in + carried
    if usage < 0:
        return Usage(ZERO, usage, rollover, new_base, true_up)
    return Usage(usage, ZERO, rollover, new_base, true_up)


def exceeds_warn_ratio(usage: Decimal, average: Decimal | None, ratio: Decimal) -> bool:
    """Usage above `ratio` x the recent average; a meter without a positive average never exceeds."""
    return average is not None and average > 0 and usage > average * ratio


def validate(
    usage: Decimal, average: Decimal | None, ratio: Decimal, *, abnormal: bool, estimated: bool
) -> ValidateStatus:
    """WARN (held for review, not billed) when the reader or the device flagged it or it exceeds the
    warn ratio; an estimate is never held: it is the average itself."""
    if not estimated and (abnormal or exceeds_warn_ratio(usage, average, ratio)):
        return ValidateStatus.WARN
    return ValidateStatus.PASS
