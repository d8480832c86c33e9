"""The service desk's and the meter stock's pure rules: applyData per business type, the digests that
make submissions idempotent, opening hours and distance, stock moves and a batch's status."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from waterrev.domain.states import PROCESS, STOCK, WORK_ORDER, ProcessStatus, StockStatus, WorkOrderStatus
from waterrev.meters.rules import MOVES, action_status, scrap_delta
from waterrev.service import rules

SHA = st.text(alphabet="0123456789abcdef", min_size=64, max_size=64)


@pytest.mark.parametrize(
    ("kind", "data", "field"),
    [
        ("RENAME", {}, "applyData.newName"),
        ("RENAME", {"newName": "x", "extra": 1}, "applyData.extra"),
        (
            "TRANSFER",
            {"newName": "李四", "idType": "ID_CARD", "idNo": "110105194912310021", "mobile": "13800000000"},
            "applyData.idNo",
        ),
        ("CONTACT_CHANGE", {"mobile": "1380000"}, "applyData.mobile"),
        ("INVOICE_CHANGE", {}, "applyData"),
        ("INVOICE_CHANGE", {"titleType": "ENTERPRISE"}, "applyData.taxNo"),
        ("POPULATION", {"population": 51}, "applyData.population"),
        ("POPULATION", {"population": True}, "applyData.population"),
        ("SELF_READING", {"meterId": 1, "currentReading": "1.234"}, "applyData.currentReading"),
        (
            "SELF_READING",
            {"meterId": 1, "currentReading": "12", "readTime": "2026-03-01T09:00:00"},
            "applyData.readTime",
        ),
        ("METER_CHANGE", {"meterId": 1}, "applyData.reason"),
        ("LOW_INCOME", {"certificateNo": "D1", "validUntil": "2026-13-01"}, "applyData.validUntil"),
        ("NOPE", {}, "businessTypeCode"),
    ],
)
def test_apply_data_that_does_not_fit_its_type_is_refused_naming_the_field(
    kind: str, data: dict[str, object], field: str
) -> None:
    """Given applyData that does not fit its business type, then the refusal names the field."""
    with pytest.raises(rules.ApplyDataError, match=field.replace(".", r"\.")):
        rules.normalize_apply_data(kind, data)


def test_apply_data_is_normalized() -> None:
    """Given fitting applyData, then it is trimmed, upper-cased where it is a code and read as numbers."""
    assert rules.normalize_apply_data("SELF_READING", {"meterId": 3, "currentReading": 12.5}) == {
        "meterId": 3,
        "currentReading": "12.50",
    }
    owner = rules.normalize_apply_data(
        "TRANSFER",
        {"newName": " 李四 ", "idType": "ID_CARD", "idNo": "11010519491231002x", "mobile": "13800000000"},
    )
    assert owner["newName"] == "李四" and owner["idNo"] == "11010519491231002X"


@given(st.lists(SHA, max_size=6))
def test_the_attachment_digest_ignores_order(digests: list[str]) -> None:
    """Given a set of attachments, its attachmentDigest is the same in any order."""
    assert rules.attachment_digest(digests) == rules.attachment_digest(list(reversed(digests)))


@given(
    st.dictionaries(st.sampled_from(["newName", "reason"]), st.text(max_size=10)), st.lists(SHA, max_size=3)
)
def test_the_submit_digest_ignores_key_order_and_tells_types_apart(
    data: dict[str, str], digests: list[str]
) -> None:
    """Given the same applyData in another key order, the submit digest is the same; another type differs."""
    again = dict(reversed(list(data.items())))
    assert rules.submit_digest("RENAME", data, digests) == rules.submit_digest("RENAME", again, digests)
    assert rules.submit_digest("RENAME", data, digests) != rules.submit_digest("TRANSFER", data, digests)


HOURS = [{"weekdays": [1, 2, 3, 4, 5], "open": "08:30", "close": "17:30"}]


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (dt.datetime(2026, 3, 2, 8, 29), False),
        (dt.datetime(2026, 3, 2, 8, 30), True),
        (dt.datetime(2026, 3, 6, 17, 29), True),
        (dt.datetime(2026, 3, 6, 17, 30), False),
        (dt.datetime(2026, 3, 7, 10, 0), False),
    ],
)
def test_open_now_is_half_open_on_the_wall_clock(moment: dt.datetime, expected: bool) -> None:
    assert rules.is_open(HOURS, moment) is expected


def test_hours_closing_before_they_open_are_refused() -> None:
    with pytest.raises(ValueError, match="openingHours"):
        rules.valid_hours([{"weekdays": [1], "open": "18:00", "close": "09:00"}])


@given(st.floats(-179, 179), st.floats(-80, 80), st.floats(-179, 179), st.floats(-80, 80))
def test_distance_is_symmetric_and_zero_to_itself(lon1: float, lat1: float, lon2: float, lat2: float) -> None:
    assert rules.distance_m(lon1, lat1, lon1, lat1) == 0
    assert rules.distance_m(lon1, lat1, lon2, lat2) == rules.distance_m(lon2, lat2, lon1, lat1)


def test_a_degree_of_latitude_is_about_111_km() -> None:
    assert 111_000 < rules.distance_m(119.3, 26.0, 119.3, 27.0) < 111_400


@given(st.lists(st.booleans(), max_size=8))
def test_a_batch_status_follows_its_lines(lines: list[bool]) -> None:
    status = action_status(lines)
    assert status == ("SUCCESS" if lines and all(lines) else "PARTIAL" if any(lines) else "FAIL")


def test_stock_moves_follow_the_stock_lifecycle() -> None:
    """Given each stock action, it starts only from statuses the STOCK lifecycle lets reach its target;
    the balance counts what comes in and goes out of the warehouse."""
    for action, move in MOVES.items():
        for source in move.sources:
            if source is not None:
                assert STOCK.allows(source, move.target), (action, source)
    assert MOVES["OUT"].sources == {StockStatus.IN_STOCK}
    assert MOVES["RETURN"].sources == {StockStatus.ISSUED, StockStatus.REMOVED}
    assert (scrap_delta(StockStatus.IN_STOCK), scrap_delta(StockStatus.REMOVED)) == (-1, 0)
    assert STOCK.terminal == {StockStatus.SCRAPPED}


@pytest.mark.parametrize(
    ("lifecycle", "allowed", "refused"),
    [
        (
            PROCESS,
            [("INIT", "ACCEPTED"), ("ACCEPTED", "PROCESSING"), ("PROCESSING", "DONE"), ("INIT", "REJECTED")],
            [
                ("INIT", "PROCESSING"),
                ("INIT", "DONE"),
                ("DONE", "REJECTED"),
                ("REJECTED", "INIT"),
                ("ACCEPTED", "ACCEPTED"),
            ],
        ),
        (
            WORK_ORDER,
            [
                ("CREATED", "DISPATCHED"),
                ("DISPATCHED", "DONE"),
                ("CREATED", "CANCELLED"),
                ("DISPATCHED", "CANCELLED"),
            ],
            [
                ("CREATED", "DONE"),
                ("DONE", "CANCELLED"),
                ("CANCELLED", "DISPATCHED"),
                ("DISPATCHED", "DISPATCHED"),
            ],
        ),
        (
            STOCK,
            [
                ("IN_STOCK", "ISSUED"),
                ("ISSUED", "INSTALLED"),
                ("INSTALLED", "REMOVED"),
                ("REMOVED", "IN_STOCK"),
            ],
            [
                ("IN_STOCK", "INSTALLED"),
                ("SCRAPPED", "IN_STOCK"),
                ("INSTALLED", "IN_STOCK"),
                ("ISSUED", "SCRAPPED"),
            ],
        ),
    ],
    ids=["process", "work-order", "stock"],
)
def test_each_state_machine_allows_and_refuses(lifecycle, allowed, refused) -> None:  # type: ignore[no-untyped-def]
    """Given each lifecycle of the service desk and meter assets, the listed moves are allowed and the
    refused ones raise naming the current status."""
    for current, target in allowed:
        assert lifecycle.require(current, target) == target
    for current, target in refused:
        with pytest.raises(Exception, match=current):
            lifecycle.require(current, target)
    assert ProcessStatus.DONE in PROCESS.terminal and WorkOrderStatus.CANCELLED in WORK_ORDER.terminal
