"""The statistics catalogue's pure rules: ageing buckets at their edges, rates and shares, the measures each
theme needs, the wire form of values, and docs/STATISTICS.md naming every indicator."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from waterrev.statistics import rules

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("days", "bucket"),
    [
        (-5, "NOT_DUE"),
        (0, "NOT_DUE"),
        (1, "D1_30"),
        (30, "D1_30"),
        (31, "D31_90"),
        (90, "D31_90"),
        (91, "D91_180"),
        (180, "D91_180"),
        (181, "D181_365"),
        (365, "D181_365"),
        (366, "OVER_365"),
    ],
)
def test_ageing_buckets_at_their_edges(days: int, bucket: str) -> None:
    due = dt.date(2026, 1, 15)
    assert rules.ageing_bucket(due, due + dt.timedelta(days=days)) == bucket


@given(st.integers(min_value=-1000, max_value=5000))
def test_every_day_falls_in_exactly_one_documented_bucket(days: int) -> None:
    due = dt.date(2026, 1, 1)
    assert rules.ageing_bucket(due, due + dt.timedelta(days=days)) in rules.AGEING_BUCKETS


def test_a_rate_is_a_percentage_with_two_places_and_empty_without_a_denominator() -> None:
    assert rules.percent(Decimal("1"), Decimal("3")) == Decimal("33.33")
    assert rules.percent(Decimal("5"), Decimal("0")) is None


def test_indicators_of_a_theme_from_its_measures_and_a_share_of_the_whole() -> None:
    theme = rules.CATALOGUE["COLLECTION"]
    measures = {
        "tx_count": Decimal(2),
        "received": Decimal("30.00"),
        "prepay_deducted": Decimal("10.00"),
        "written_off": Decimal("35.00"),
        "to_balance": Decimal("5.00"),
        "reversed": Decimal("7.00"),
        "refunded": Decimal("4.50"),
    }
    whole = {**measures, "received": Decimal("120.00")}
    values = {i.code: rules.format_value(i, v) for i, v in rules.indicator_values(theme, measures, whole)}
    assert values == {
        "TRANSACTION_COUNT": "2",
        "RECEIVED_AMOUNT": "30.00",
        "REVERSED_AMOUNT": "7.00",
        "REFUNDED_AMOUNT": "4.50",
        "NET_RECEIVED_AMOUNT": "25.50",
        "PREPAY_DEDUCTED_AMOUNT": "10.00",
        "WRITTEN_OFF_AMOUNT": "35.00",
        "TO_BALANCE_AMOUNT": "5.00",
        "CHANNEL_SHARE": "25.00",
    }


def test_refunds_reversals_and_bad_debt_are_indicators_of_their_own() -> None:
    """A refund, a reversal and a bad debt each have their own code; net received is received less refunded
    (never the other measures); a bad-debt bill is counted in the receivables by default, not in arrears."""
    collection = rules.CATALOGUE["COLLECTION"]
    net = next(i for i in collection.indicators if i.code == "NET_RECEIVED_AMOUNT")
    assert net.difference == ("received", "refunded")
    assert {"reversed", "refunded", "received"} <= set(rules.measures_of(collection))
    receivable = rules.CATALOGUE["RECEIVABLE"]
    assert "BAD_DEBT_AMOUNT" in {i.code for i in receivable.indicators}
    assert receivable.defaults is not None and "BAD_DEBT" in receivable.defaults
    assert "BAD_DEBT" not in rules.CATALOGUE["ARREARS"].statuses


def test_every_theme_needs_its_measures_and_its_trend_is_one_of_its_indicators() -> None:
    for theme in rules.CATALOGUE.values():
        measures = rules.measures_of(theme)
        assert len(measures) == len(set(measures)) and measures
        assert theme.trend in {i.code for i in theme.indicators}
        assert set(theme.dimensions) <= set(rules.DIMENSIONS)


def test_receivable_received_and_arrears_are_different_indicators() -> None:
    """No indicator code means two things: receivable, received and arrears each have their own."""
    codes = {t.code: {i.code for i in t.indicators} for t in rules.CATALOGUE.values()}
    assert "RECEIVABLE_AMOUNT" in codes["RECEIVABLE"] and "RECEIVED_AMOUNT" in codes["COLLECTION"]
    assert "ARREARS_AMOUNT" in codes["ARREARS"]
    assert "RECEIVED_AMOUNT" not in codes["RECEIVABLE"] and "RECEIVABLE_AMOUNT" not in codes["COLLECTION"]


def test_the_statistics_document_names_every_theme_and_indicator() -> None:
    text = (ROOT / "docs" / "STATISTICS.md").read_text(encoding="utf-8")
    for theme in rules.CATALOGUE.values():
        assert theme.code in text
        for ind in theme.indicators:
            assert ind.code in text, ind.code
    for bucket in rules.AGEING_BUCKETS:
        assert bucket in text
