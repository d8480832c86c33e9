"""The file side of the daily reconciliation's outside systems (docs/SYS009.md 每日对账文件): how a
simulator that keeps its own records writes them as a channel statement or the bank's credit file into
the reconciliation store (WATERREV_RECON_DIR), and how it is told to misbehave.

Nothing here reads our books. Each simulator passes what IT settled: the SYS-009 simulator its paid
trades (`Sim.write_statements`: ONLINE, COUNTER_QR), the bank simulator its real-time debits and the
withholding debits of its own statement files, and credits per channel what the channels settled plus
the cash the cashiers deposited (`BankSimulator.write_statements`). `Misbehaviour` bends a simulator's
own records on the way out: a trade dropped from a statement, a trade only the channel has, an amount
changed, a channel credited more or less than it settled, a file not delivered or delivered unreadable.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from waterrev.banking import daily_rules as rules

ZERO = Decimal("0.00")


@dataclass
class Misbehaviour:
    drop: set[str] = field(default_factory=set)  # keys left out of their channel's statement
    extra: dict[str, dict[str, Decimal]] = field(default_factory=dict)  # channel -> {key: amount} only it has
    amount_delta: dict[str, Decimal] = field(default_factory=dict)  # key -> added to its statement amount
    credit_delta: dict[str, Decimal] = field(default_factory=dict)  # channel -> added to its bank credit
    missing: set[str] = field(default_factory=set)  # channels (or "BANK") whose file is not delivered
    malformed: set[str] = field(default_factory=set)  # channels (or "BANK") whose file is unreadable


@dataclass(frozen=True)
class Trade:
    """One trade a simulator settled, as its own records hold it."""

    key: str
    amount: Decimal
    paid_at: dt.datetime


def _fmt(amount: Decimal) -> str:
    return f"{amount.quantize(Decimal('0.01'))}"


def write_statement(
    root: Path, day: dt.date, channel: str, trades: list[Trade], m: Misbehaviour | None = None
) -> tuple[Path | None, Decimal]:
    """Write `channel`'s statement of `day` from the simulator's own trades, bent as `m` says; the path
    written (None when told not to deliver it) and what the statement says was settled (what the
    channel pays over to the bank)."""
    m = m or Misbehaviour()
    lines = {
        t.key: (t.amount + m.amount_delta.get(t.key, ZERO), t.paid_at.isoformat())
        for t in trades
        if t.key not in m.drop
    }
    at = dt.datetime.combine(day, dt.time(12), dt.timezone(dt.timedelta(hours=8))).isoformat()
    lines.update({key: (amount, at) for key, amount in m.extra.get(channel, {}).items()})
    total = sum((a for a, _ in lines.values()), ZERO)
    if channel in m.missing:
        return None, total
    body = [f"H,{channel},{rules.day_text(day)},{len(lines)},{_fmt(total)}"]
    body += [f"D,{key},{_fmt(amount)},{when}" for key, (amount, when) in sorted(lines.items())]
    if channel in m.malformed:
        body = [body[0]] + [line.rsplit(",", 2)[0] for line in body[1:]] + ["D,broken"]
    return _write(root / rules.statement_name(day, channel), body), total


def write_credits(
    root: Path, day: dt.date, credits: dict[str, Decimal], m: Misbehaviour | None = None
) -> Path | None:
    """Write the bank's credit file of `day`: one credit per channel (what it received), plus the
    configured delta; channels credited nothing are not named."""
    m = m or Misbehaviour()
    if rules.BANK in m.missing:
        return None
    named = {
        c: a + m.credit_delta.get(c, ZERO)
        for c, a in ((c, credits.get(c, ZERO)) for c in rules.CHANNELS)
        if a + m.credit_delta.get(c, ZERO) != 0
    }
    body = [f"H,{rules.BANK},{rules.day_text(day)},{len(named)},{_fmt(sum(named.values(), ZERO))}"]
    body += [f"C,{c},{_fmt(a)},CR{rules.day_text(day)}{c}" for c, a in named.items()]
    if rules.BANK in m.malformed:
        body[0] = body[0].replace("H,", "X,", 1)
    return _write(root / rules.credit_name(day), body)


def _write(path: Path, lines: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name("." + path.name)
    tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    tmp.replace(path)  # delivered whole: the reader never sees half a file
    return path
