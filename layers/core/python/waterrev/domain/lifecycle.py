"""A status field's lifecycle as data: which status may follow which, and the one check a state
change goes through. Pure: no I/O.

Why data and not ifs: one table answers "may this order still be closed?" in a use case, spells the
set of statuses a conditional UPDATE may start from, and is what the tests hold the database
functions to. A terminal status (one with nothing after it) never changes again. A refused change
is an `IllegalTransition`, an AppError that names the current status, so a caller that lets it
escape still answers 409 with it (the seed: 返回当前状态与冲突原因) instead of a 500.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Generic, TypeVar

from waterrev.errors import AppError, ErrorCode

S = TypeVar("S", bound=StrEnum)

_WORD = re.compile(r"[A-Z][A-Z0-9_]*")


class IllegalTransition(AppError):
    """A status change its lifecycle does not allow."""

    def __init__(self, subject: str, current: str, target: str, error: ErrorCode) -> None:
        self.current, self.target = current, target
        super().__init__(
            error,
            f"{subject} 当前状态为 {current}，不能变为 {target}",
            data={"currentStatus": current, "targetStatus": target},
        )


@dataclass(frozen=True, eq=False)
class Lifecycle(Generic[S]):
    """The statuses of one field, what may follow each (`moves`; a status left out has nothing
    after it), and the statuses a row is created with. A status never follows itself unless the
    table says so: where it does, something is written again on purpose (an order's pay URL)."""

    name: str  # whose status it is, as an error message says it: 订单, 账单, ...
    states: type[S]
    moves: Mapping[S, Iterable[S]]
    initial: frozenset[S]
    error: ErrorCode = ErrorCode.CONFLICT  # the seed's code for a refused change, if it has one
    _next: dict[S, frozenset[S]] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        following = {state: frozenset(self.moves.get(state, ())) for state in self.states}
        strays = {s for s in self.moves if s not in following} | {
            t for targets in following.values() for t in targets if t not in following
        }
        if strays or not self.initial <= following.keys():
            raise ValueError(f"{self.name}: statuses outside {self.states.__name__}: {strays}")
        if not all(_WORD.fullmatch(s) for s in following):
            raise ValueError(f"{self.name}: a status must be an upper-case word")
        object.__setattr__(self, "_next", following)

    def status(self, value: str) -> S | None:
        """The member a stored value names, or None for a value this lifecycle does not know."""
        try:
            return self.states(value)
        except ValueError:
            return None

    def targets(self, current: str) -> frozenset[S]:
        state = self.status(current)
        return frozenset() if state is None else self._next[state]

    def sources(self, target: str) -> frozenset[S]:
        """The statuses `target` may follow: what a conditional UPDATE to `target` may start from."""
        return frozenset(s for s, after in self._next.items() if target in after)

    def allows(self, current: str, target: str) -> bool:
        return target in self.targets(current)

    def require(self, current: str, target: str, subject: str | None = None) -> S:
        """`target` as a member, or IllegalTransition naming `current` (and `subject`, e.g. 订单 DD...)."""
        if not self.allows(current, target):
            raise IllegalTransition(subject or self.name, current, target, self.error)
        return self.states(target)

    @property
    def terminal(self) -> frozenset[S]:
        return frozenset(s for s, after in self._next.items() if not after)

    def is_terminal(self, current: str) -> bool:
        state = self.status(current)
        return state is not None and state in self.terminal


def sql_in(states: Iterable[StrEnum]) -> str:
    """A set of statuses as SQL text, in declaration order: `'INIT', 'PAYING'`. Statements keep a
    literal list rather than a bound array so their text, and their plans, stay as they were
    (partial indexes are written with the same lists). Only upper-case words can get here."""
    members = sorted(states, key=lambda s: type(s)._member_names_.index(s.name))
    if not members or not all(_WORD.fullmatch(s) for s in members):
        raise ValueError(f"not a set of statuses: {members}")
    return ", ".join(f"'{s}'" for s in members)
