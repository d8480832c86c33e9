"""Stock rules, pure: what each action moves a meter from and to, what it does to the balance, and a
batch's status from its lines."""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

from waterrev.domain.states import STOCK, StockStatus


class Move(NamedTuple):
    sources: frozenset[str | None]  # the stock statuses a meter may be in (None: never stocked)
    target: StockStatus
    delta: int  # what the move does to the balance of the meter's warehouse


MOVES: dict[str, Move] = {
    # IN: a meter never stocked (registered by the same batch, or installed before stock was kept and
    # serving no one)
    "IN": Move(frozenset({None}), StockStatus.IN_STOCK, +1),
    "OUT": Move(frozenset(STOCK.sources(StockStatus.ISSUED)), StockStatus.ISSUED, -1),
    "RETURN": Move(frozenset(STOCK.sources(StockStatus.IN_STOCK)), StockStatus.IN_STOCK, +1),
    "SCRAP": Move(frozenset(STOCK.sources(StockStatus.SCRAPPED)), StockStatus.SCRAPPED, 0),
}


ACTION_NAMES = {"IN": "入库", "OUT": "领用出库", "RETURN": "退库", "SCRAP": "报废"}


def scrap_delta(current: str | None) -> int:
    """Scrapping a meter in stock takes it off the balance; a removed one was never on it."""
    return -1 if current == StockStatus.IN_STOCK else 0


def action_status(lines: Iterable[bool]) -> str:
    """SUCCESS when every line succeeded, FAIL when none did (or there were none), else PARTIAL."""
    outcomes = list(lines)
    if outcomes and all(outcomes):
        return "SUCCESS"
    if any(outcomes):
        return "PARTIAL"
    return "FAIL"


def refusal(action: str, current: str | None) -> str:
    """Why a meter in `current` cannot take `action` (the line's reason)."""
    return f"水表库存状态为 {current or '未入库'}，不能{ACTION_NAMES[action]}"
