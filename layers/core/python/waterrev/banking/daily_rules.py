"""Pure rules of the daily three-way reconciliation (no I/O): the file names, the two file formats
(docs/SYS009.md) and how ours, a channel's statement and the bank's credits are compared.

A channel's statement (UTF-8 text, comma-separated, one record a line):
    H,<channel>,<YYYYMMDD>,<count>,<total>
    D,<key>,<amount>,<paidTime>
The bank's credit file: what it credited to our account for the day, per channel:
    H,BANK,<YYYYMMDD>,<count>,<total>
    C,<channel>,<amount>,<creditRef>
Amounts are yuan with two decimals. A header that does not match the day or channel, a count or total
that does not add up, a bad amount or a key twice makes the file INVALID (nothing of it is used).
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal, InvalidOperation
from typing import NamedTuple

CHANNELS = ("COUNTER", "ONLINE", "COUNTER_QR", "BANK_REALTIME", "WITHHOLDING")
# bk_transaction.scene of each channel's settled trades
SCENES = {
    "COUNTER": "COUNTER",
    "ONLINE": "ONLINE",
    "COUNTER_QR": "COUNTER_QR",
    "BANK_REALTIME": "BANK",
    "WITHHOLDING": "WITHHOLD",
}
KEYED_BY_TRADE = frozenset({"BANK_REALTIME", "WITHHOLDING"})  # the bank knows its serial, not our order
# No outside system keeps the counter's trades (cash and card taken by our own cashiers): the counter is
# reconciled two-way, our collections of the day against what the bank credited for it (the deposited
# takings); it has no statement file (decision 130).
TWO_WAY = frozenset({"COUNTER"})
CREDIT = "CREDIT"
STATEMENT = "STATEMENT"
BANK = "BANK"
ZERO = Decimal("0.00")
MAX_KEY = 96
_AMOUNT = re.compile(r"[0-9]{1,13}\.[0-9]{2}")  # ASCII digits only: \d and isdigit() admit '²', '٣'
_COUNT = re.compile(r"[0-9]{1,9}")
_KEY = re.compile(r"[A-Za-z0-9:_\-|]{1,96}")


class FileError(ValueError):
    pass


TRADE_DIFFS = frozenset({"OURS_ONLY", "CHANNEL_ONLY", "AMOUNT_DIFFERS", "CROSS_DAY"})
CROSS_DAY = "CROSS_DAY"  # 扩展: a trade on one side on the day, on the other side the day before or after


class Diff(NamedTuple):
    channel: str
    diff_type: str  # OURS_ONLY | CHANNEL_ONLY | AMOUNT_DIFFERS | CREDIT_DIFFERS | CROSS_DAY
    key: str
    ours: Decimal | None
    theirs: Decimal | None
    credited: Decimal | None
    other_day: dt.date | None = None  # CROSS_DAY: the neighbouring day the other side has the trade on


def day_text(day: dt.date) -> str:
    return day.strftime("%Y%m%d")


def statement_name(day: dt.date, channel: str) -> str:
    return f"{day_text(day)}/STMT_{channel}_{day_text(day)}.csv"


def credit_name(day: dt.date) -> str:
    return f"{day_text(day)}/CREDIT_{day_text(day)}.csv"


def _amount(text: str, where: str) -> Decimal:
    if not _AMOUNT.fullmatch(text):
        raise FileError(f"{where}: 金额 {text!r} 须为两位小数的元")
    try:
        return Decimal(text)
    except (InvalidOperation, ValueError):  # pragma: no cover - the pattern admits only numbers
        raise FileError(f"{where}: 金额 {text!r} 不合法") from None


def _records(data: bytes, day: dt.date, who: str, detail: str) -> list[list[str]]:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise FileError("文件不是 UTF-8 文本") from None
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        raise FileError("空文件")
    head = lines[0].split(",")
    if len(head) != 5 or head[0] != "H":
        raise FileError("第 1 行：须为文件头 H,<渠道>,<日期>,<笔数>,<合计>")
    if head[1] != who:
        raise FileError(f"第 1 行：渠道 {head[1]!r}，应为 {who}")
    if head[2] != day_text(day):
        raise FileError(f"第 1 行：日期 {head[2]!r}，应为 {day_text(day)}")
    if not _COUNT.fullmatch(head[3]):
        raise FileError("第 1 行：笔数须为整数")
    total = _amount(head[4], "第 1 行")
    rows = []
    for n, line in enumerate(lines[1:], start=2):
        fields = line.split(",")
        if len(fields) != 4 or fields[0] != detail:
            raise FileError(f"第 {n} 行：须为 {detail} 记录的 4 个字段")
        rows.append([*fields, str(n)])
    if int(head[3]) != len(rows):
        raise FileError(f"文件头笔数 {head[3]}，明细 {len(rows)} 行")
    if sum((_amount(r[2], f"第 {r[4]} 行") for r in rows), ZERO) != total:
        raise FileError(f"文件头合计 {total} 与明细合计不符")
    return rows


def parse_statement(data: bytes, channel: str, day: dt.date) -> dict[str, Decimal]:
    """A channel's statement: its settled trades of the day, key -> amount."""
    out: dict[str, Decimal] = {}
    for _, key, amount, _time, n in _records(data, day, channel, "D"):
        if not _KEY.fullmatch(key):
            raise FileError(f"第 {n} 行：交易号 {key!r} 不合法")
        if key in out:
            raise FileError(f"第 {n} 行：交易号 {key} 重复")
        out[key] = _amount(amount, f"第 {n} 行")
    return out


def parse_credit(data: bytes, day: dt.date) -> dict[str, Decimal]:
    """The bank's credit file: what it credited for the day, channel -> amount."""
    out: dict[str, Decimal] = {}
    for _, channel, amount, _ref, n in _records(data, day, BANK, "C"):
        if channel not in CHANNELS:
            raise FileError(f"第 {n} 行：渠道 {channel!r} 不是 {'/'.join(CHANNELS)} 之一")
        if channel in out:
            raise FileError(f"第 {n} 行：渠道 {channel} 重复")
        out[channel] = _amount(amount, f"第 {n} 行")
    return out


def compare(
    channel: str,
    ours: dict[str, Decimal],
    theirs: dict[str, Decimal] | None,
    credits: dict[str, Decimal] | None,
) -> list[Diff]:
    """The differences of one channel: per trade ours against the statement (none when the statement is
    missing or invalid: that is a file exception), and the statement's total against what the bank
    credited for the channel (none without a readable credit file; a channel the credit file does not
    name was credited 0.00). A two-way channel (COUNTER): only our total against its credit."""
    out: list[Diff] = []
    if channel in TWO_WAY:
        mine_total, credited = sum(ours.values(), ZERO), (credits or {}).get(channel, ZERO)
        if credits is not None and credited != mine_total:
            out.append(Diff(channel, "CREDIT_DIFFERS", channel, mine_total, None, credited))
        return out
    if theirs is not None:
        for key in sorted(set(ours) | set(theirs)):
            mine, other = ours.get(key), theirs.get(key)
            if other is None:
                out.append(Diff(channel, "OURS_ONLY", key, mine, None, None))
            elif mine is None:
                out.append(Diff(channel, "CHANNEL_ONLY", key, None, other, None))
            elif mine != other:
                out.append(Diff(channel, "AMOUNT_DIFFERS", key, mine, other, None))
        if credits is not None:
            settled = sum(theirs.values(), ZERO)
            credited = credits.get(channel, ZERO)
            if credited != settled:
                out.append(
                    Diff(channel, "CREDIT_DIFFERS", channel, sum(ours.values(), ZERO), settled, credited)
                )
    return out


def compared(channel: str, diff_type: str, statement_read: bool, credits_read: bool) -> bool:
    """Whether a run that read (or not) the channel's statement and the bank's credit file compared the
    class `diff_type` of the channel: only then may it close (GONE) an open difference of that class that
    it no longer finds. A file missing or unreadable this run says nothing about what was found before."""
    if diff_type in TRADE_DIFFS:
        return statement_read and channel not in TWO_WAY
    return credits_read and (statement_read or channel in TWO_WAY)


def cross_day(
    diffs: list[Diff],
    ours_nearby: dict[dt.date, dict[str, Decimal]],
    theirs_nearby: dict[dt.date, dict[str, Decimal]],
) -> list[Diff]:
    """The one-sided differences of a channel whose other side has the same key and amount on the day
    before or after: a timing difference (CROSS_DAY), not a missing trade. Ours are grouped by when we
    processed a trade, a channel's statement by its own time, so a payment made at 23:59 and settled by
    our compensation at 00:05, or a withholding return the bank credited on one day and we applied on the
    next, falls on two days. `ours_nearby`: our trades of the channel on the neighbouring days, key ->
    amount; `theirs_nearby`: the channel's statements of the neighbouring days that could be read."""
    out: list[Diff] = []
    for d in diffs:
        nearby = ours_nearby if d.diff_type == "CHANNEL_ONLY" else theirs_nearby
        amount = d.theirs if d.diff_type == "CHANNEL_ONLY" else d.ours
        day = (
            next((day for day in sorted(nearby) if nearby[day].get(d.key) == amount), None)
            if d.diff_type in ("OURS_ONLY", "CHANNEL_ONLY")
            else None
        )
        if day is None:
            out.append(d)
        elif d.diff_type == "CHANNEL_ONLY":
            out.append(Diff(d.channel, CROSS_DAY, d.key, nearby[day][d.key], d.theirs, None, day))
        else:
            out.append(Diff(d.channel, CROSS_DAY, d.key, d.ours, nearby[day][d.key], None, day))
    return out
