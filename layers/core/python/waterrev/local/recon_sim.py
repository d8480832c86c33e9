"""The channels' daily statements and the bank's credit file, as the local stack's simulators deliver them
(docs/SYS009.md 每日对账文件; formats in banking.daily_rules) into the reconciliation store
(WATERREV_RECON_DIR).

What each channel saw is taken from the day's settled trades in our ledger (the simulators settle every
trade they are asked to, so locally the channels saw what we booked), then bent as `Misbehaviour` says:
a trade dropped from a statement, a trade only the channel has, an amount changed, a channel credited
more or less than it settled, a file not delivered or delivered unreadable. The bank credits each
channel what its statement settled (plus the configured delta), WeChat-style: one credit per channel a
day.

    python -m waterrev.local.recon_sim --day 2026-12-04 --root .run/recon
"""

from __future__ import annotations

import argparse
import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from waterrev.banking import daily_rules as rules


@dataclass
class Misbehaviour:
    drop: set[str] = field(default_factory=set)  # keys left out of their channel's statement
    extra: dict[str, dict[str, Decimal]] = field(default_factory=dict)  # channel -> {key: amount} only it has
    amount_delta: dict[str, Decimal] = field(default_factory=dict)  # key -> added to its statement amount
    credit_delta: dict[str, Decimal] = field(default_factory=dict)  # channel -> added to its bank credit
    missing: set[str] = field(default_factory=set)  # channels (or "BANK") whose file is not delivered
    malformed: set[str] = field(default_factory=set)  # channels (or "BANK") whose file is unreadable


def ledger_trades(day: dt.date) -> dict[str, dict[str, Decimal]]:
    """The day's settled trades per channel, as the channels saw them (from our ledger)."""
    from waterrev.banking.daily_recon import ours
    from waterrev.db import UnitOfWork

    with UnitOfWork() as uow:
        return ours(uow, day)


def _fmt(amount: Decimal) -> str:
    return f"{amount.quantize(Decimal('0.01'))}"


def write_day(
    root: Path,
    day: dt.date,
    trades: dict[str, dict[str, Decimal]] | None = None,
    misbehaviour: Misbehaviour | None = None,
) -> list[Path]:
    """Write the day's five statements and the credit file under `root`; the paths written."""
    m = misbehaviour or Misbehaviour()
    trades = ledger_trades(day) if trades is None else trades
    written: list[Path] = []
    credits: dict[str, Decimal] = {}
    paid_at = f"{day.isoformat()}T12:00:00+08:00"
    for channel in rules.CHANNELS:
        lines = {
            key: amount + m.amount_delta.get(key, Decimal("0"))
            for key, amount in trades.get(channel, {}).items()
            if key not in m.drop
        }
        lines.update(m.extra.get(channel, {}))
        total = sum(lines.values(), Decimal("0.00"))
        credits[channel] = total + m.credit_delta.get(channel, Decimal("0"))
        if channel in m.missing:
            continue
        body = [f"H,{channel},{rules.day_text(day)},{len(lines)},{_fmt(total)}"]
        body += [f"D,{key},{_fmt(amount)},{paid_at}" for key, amount in sorted(lines.items())]
        if channel in m.malformed:
            body = [body[0]] + [line.rsplit(",", 2)[0] for line in body[1:]] or ["garbage"]
            body.append("D,broken")
        written.append(_write(root / rules.statement_name(day, channel), body))
    if rules.BANK not in m.missing:
        named = {c: a for c, a in credits.items() if a != 0}
        body = [
            f"H,{rules.BANK},{rules.day_text(day)},{len(named)},{_fmt(sum(named.values(), Decimal('0.00')))}"
        ]
        body += [f"C,{c},{_fmt(a)},CR{rules.day_text(day)}{c}" for c, a in named.items()]
        if rules.BANK in m.malformed:
            body[0] = body[0].replace("H,", "X,", 1)
        written.append(_write(root / rules.credit_name(day), body))
    return written


def _write(path: Path, lines: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name("." + path.name)
    tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    tmp.replace(path)  # delivered whole: the reader never sees half a file
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--day", required=True, type=dt.date.fromisoformat)
    parser.add_argument("--root", required=True, type=Path)
    args = parser.parse_args()
    for path in write_day(args.root, args.day):
        print(path)


if __name__ == "__main__":
    main()
