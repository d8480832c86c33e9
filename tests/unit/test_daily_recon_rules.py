"""The daily reconciliation's pure rules (banking.daily_rules): the two file formats and the comparison."""

from __future__ import annotations

import contextlib
import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from waterrev.banking import daily_rules as rules

DAY = dt.date(2026, 12, 4)
D = Decimal


def statement(*lines: str, head: str = "H,ONLINE,20261204,2,30.00") -> bytes:
    return "\n".join([head, *lines]).encode()


def test_a_statement_reads_as_key_to_amount() -> None:
    data = statement("D,WX1,10.00,2026-12-04T10:00:00+08:00", "D,WX2,20.00,2026-12-04T11:00:00+08:00")
    assert rules.parse_statement(data, "ONLINE", DAY) == {"WX1": D("10.00"), "WX2": D("20.00")}


@pytest.mark.parametrize(
    ("data", "says"),
    [
        (b"", "空文件"),
        (b"\xff\xfe", "UTF-8"),
        (statement("D,WX1,10.00,t", "D,WX2,20.00,t", head="H,COUNTER,20261204,2,30.00"), "渠道"),
        (statement("D,WX1,10.00,t", "D,WX2,20.00,t", head="H,ONLINE,20261203,2,30.00"), "日期"),
        (statement("D,WX1,10.00,t", head="H,ONLINE,20261204,2,10.00"), "笔数"),
        (statement("D,WX1,10.00,t", "D,WX2,20.01,t"), "合计"),
        (statement("D,WX1,10.0,t", "D,WX2,20.00,t", head="H,ONLINE,20261204,2,30.00"), "金额"),
        (statement("D,WX1,10.00,t", "D,WX1,20.00,t"), "重复"),
        (statement("D,WX1,10.00", "D,WX2,20.00,t"), "4 个字段"),
        (statement("D,W X,10.00,t", "D,WX2,20.00,t"), "交易号"),
    ],
)
def test_a_statement_that_does_not_add_up_is_refused_whole(data: bytes, says: str) -> None:
    with pytest.raises(rules.FileError, match=says):
        rules.parse_statement(data, "ONLINE", DAY)


def test_the_credit_file_reads_per_channel_and_refuses_an_unknown_one() -> None:
    good = b"H,BANK,20261204,2,15.00\nC,ONLINE,10.00,CR1\nC,WITHHOLDING,5.00,CR2\n"
    assert rules.parse_credit(good, DAY) == {"ONLINE": D("10.00"), "WITHHOLDING": D("5.00")}
    with pytest.raises(rules.FileError, match="渠道"):
        rules.parse_credit(b"H,BANK,20261204,1,1.00\nC,CASHBOX,1.00,CR\n", DAY)


def test_every_class_of_difference() -> None:
    ours = {"A": D("1.00"), "B": D("2.00"), "C": D("3.00")}
    theirs = {"B": D("2.00"), "C": D("3.50"), "X": D("9.00")}
    found = rules.compare("ONLINE", ours, theirs, {"ONLINE": D("14.00")})
    assert [(d.diff_type, d.key) for d in found] == [
        ("OURS_ONLY", "A"),
        ("AMOUNT_DIFFERS", "C"),
        ("CHANNEL_ONLY", "X"),
        ("CREDIT_DIFFERS", "ONLINE"),
    ]
    assert found[-1].theirs == D("14.50") and found[-1].credited == D("14.00")


def test_without_a_readable_statement_nothing_is_compared_and_a_channel_not_credited_got_nothing() -> None:
    assert rules.compare("ONLINE", {"A": D("1.00")}, None, {"ONLINE": D("0.00")}) == []
    (credit,) = rules.compare("COUNTER_QR", {"A": D("1.00")}, {"A": D("1.00")}, {})
    assert (credit.diff_type, credit.credited) == ("CREDIT_DIFFERS", D("0.00"))
    assert rules.compare("COUNTER_QR", {"A": D("1.00")}, {"A": D("1.00")}, None) == []


def test_the_counter_is_ours_against_the_bank_credit_only() -> None:
    """No outside system keeps the counter's trades: its total against what the bank credited for it."""
    ours = {"A": D("1.00"), "B": D("2.00")}
    assert rules.compare("COUNTER", ours, None, {"COUNTER": D("3.00")}) == []
    (short,) = rules.compare("COUNTER", ours, None, {"COUNTER": D("2.50")})
    assert (short.diff_type, short.key, short.ours, short.theirs, short.credited) == (
        "CREDIT_DIFFERS",
        "COUNTER",
        D("3.00"),
        None,
        D("2.50"),
    )
    assert rules.compare("COUNTER", ours, None, None) == []


@pytest.mark.parametrize("count", ["²", "٣", "１", "2²", "³", "0" * 10])
def test_a_count_in_other_digits_than_ascii_is_an_invalid_file_not_a_crash(count: str) -> None:
    """'²'.isdigit() is True but int('²') raises ValueError: the header's count is ASCII digits or the file
    is INVALID (a FileError), never an exception that fails the day's run."""
    data = statement("D,WX1,10.00,t", head=f"H,ONLINE,20261204,{count},10.00")
    with pytest.raises(rules.FileError, match="笔数"):
        rules.parse_statement(data, "ONLINE", DAY)


@pytest.mark.parametrize("amount", ["１0.00", "10.٠٠", "٣.00", "1²", "10.00 "])
def test_an_amount_in_other_digits_than_ascii_is_an_invalid_file(amount: str) -> None:
    with pytest.raises(rules.FileError):
        rules.parse_statement(statement(f"D,WX1,{amount},t", head="H,ONLINE,20261204,1,10.00"), "ONLINE", DAY)
    with pytest.raises(rules.FileError):
        rules.parse_credit(f"H,BANK,20261204,1,{amount}\nC,ONLINE,10.00,CR\n".encode(), DAY)


_FIELD = st.text(max_size=14) | st.sampled_from(
    ["H", "D", "C", "ONLINE", "BANK", "20261204", "1", "10.00", "²"]
)


@settings(max_examples=300, deadline=None)
@given(
    head=st.lists(_FIELD, min_size=0, max_size=6).map(",".join),
    body=st.lists(st.lists(_FIELD, min_size=0, max_size=5).map(",".join), max_size=3),
)
def test_any_text_is_read_or_refused_as_an_invalid_file_and_nothing_else(head: str, body: list[str]) -> None:
    """Whatever text arrives as a statement or a credit file: it parses or it is a FileError (the file's
    INVALID path), never any other exception."""
    data = "\n".join([head, *body]).encode("utf-8", "surrogatepass")
    for parse in (lambda: rules.parse_statement(data, "ONLINE", DAY), lambda: rules.parse_credit(data, DAY)):
        with contextlib.suppress(rules.FileError):
            parse()


@settings(max_examples=200, deadline=None)
@given(count=st.text(min_size=1, max_size=4), total=st.text(min_size=1, max_size=8))
def test_any_header_count_and_total_is_read_or_a_file_error(count: str, total: str) -> None:
    data = statement("D,WX1,10.00,t", head=f"H,ONLINE,20261204,{count},{total}")
    with contextlib.suppress(rules.FileError):
        assert rules.parse_statement(data, "ONLINE", DAY) == {"WX1": D("10.00")}


def test_a_class_is_compared_only_when_the_file_it_is_compared_on_was_read() -> None:
    """A run closes (GONE) an open difference it no longer finds only if it compared that class: trade
    differences need the channel's statement read, credit differences the credit file (and, but for the
    two-way counter, the statement)."""
    for diff_type in ("OURS_ONLY", "CHANNEL_ONLY", "AMOUNT_DIFFERS", "CROSS_DAY"):
        assert rules.compared("ONLINE", diff_type, statement_read=True, credits_read=False)
        assert not rules.compared("ONLINE", diff_type, statement_read=False, credits_read=True)
    assert rules.compared("ONLINE", "CREDIT_DIFFERS", statement_read=True, credits_read=True)
    assert not rules.compared("ONLINE", "CREDIT_DIFFERS", statement_read=False, credits_read=True)
    assert not rules.compared("ONLINE", "CREDIT_DIFFERS", statement_read=True, credits_read=False)
    assert rules.compared("COUNTER", "CREDIT_DIFFERS", statement_read=False, credits_read=True)
    assert not rules.compared("COUNTER", "CREDIT_DIFFERS", statement_read=False, credits_read=False)


def test_a_one_sided_trade_found_on_the_other_side_the_day_before_or_after_is_cross_day() -> None:
    """A trade the channel settled at 23:59 that we processed at 00:05: CHANNEL_ONLY on its day, OURS_ONLY
    on ours - each CROSS_DAY when the other side has the same key and amount on the neighbouring day; not
    for another amount, nor an AMOUNT_DIFFERS or CREDIT_DIFFERS."""
    before, after = DAY - dt.timedelta(days=1), DAY + dt.timedelta(days=1)
    found = rules.compare(
        "ONLINE",
        {"LATE": D("5.00"), "EARLY": D("6.00"), "ODD": D("7.00"), "BOTH": D("1.00")},
        {"NEXT": D("8.00"), "BOTH": D("1.50")},
        None,
    )
    out = rules.cross_day(
        found,
        {before: {}, after: {"NEXT": D("8.00")}},
        {before: {"LATE": D("5.00"), "ODD": D("7.01"), "BOTH": D("1.00")}},
    )
    assert [(d.diff_type, d.key, d.ours, d.theirs, d.other_day) for d in out] == [
        ("AMOUNT_DIFFERS", "BOTH", D("1.00"), D("1.50"), None),
        ("OURS_ONLY", "EARLY", D("6.00"), None, None),
        ("CROSS_DAY", "LATE", D("5.00"), D("5.00"), before),
        ("CROSS_DAY", "NEXT", D("8.00"), D("8.00"), after),
        ("OURS_ONLY", "ODD", D("7.00"), None, None),
    ]
