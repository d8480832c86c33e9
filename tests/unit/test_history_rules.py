"""The legacy CSV layouts: rows parsed and checked by column, and docs/MIGRATION.md documenting every
common column and each object type's required ones (the document and the code cannot drift apart)."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from waterrev.history import rules

ROOT = Path(__file__).resolve().parents[2]


def test_a_collection_row_is_parsed_with_its_month_from_the_event_time_and_extra_columns_as_detail() -> None:
    row = rules.parse_row(
        "COLLECTION",
        2,
        {
            "legacyNo": " P-1 ",
            "custCode": "KH1",
            "channel": "CASH",
            "amount": "1,234.50",
            "eventTime": "2025-03-31 23:30:00",
            "status": "SUCCESS",
            "operator": "柜员甲",
            "empty": "",
        },
    )
    assert row.legacy_no == "P-1" and row.amount == Decimal("1234.50")
    assert row.bill_period == "2025-03"  # Beijing time, not UTC
    assert row.event_time == dt.datetime(2025, 3, 31, 15, 30, tzinfo=dt.UTC)
    assert row.detail == {"operator": "柜员甲"}


@pytest.mark.parametrize(
    ("column", "value", "problem"),
    [
        ("amount", "1.234", "两位小数"),
        ("amount", "abc", "不是金额"),
        ("amount", "NaN", "两位小数"),
        ("billPeriod", "2025-3", "YYYY-MM"),
        ("deptId", "-1", "正整数"),
        ("mobile", "138/0000", "数字"),  # "-" and spaces are separators (crypto.normalize_pii)
        ("mobile", "tel 138-0000", "数字"),
        ("legacyNo", "x" * 65, "长度"),
        ("eventTime", "31/03/2025", "时间格式"),
        ("legacyNo", "a\x01b", "控制字符"),
    ],
)
def test_a_wrong_value_is_refused_naming_its_line_and_column(column: str, value: str, problem: str) -> None:
    base = {"legacyNo": "B-1", "custCode": "KH1", "billPeriod": "2025-01", "amount": "1.00", "status": "PAID"}
    with pytest.raises(rules.RowError) as raised:
        rules.parse_row("BILL", 7, {**base, column: value})
    assert f"第 7 行 {column}" in str(raised.value) and problem in str(raised.value)


@given(st.sampled_from(rules.OBJECT_TYPES))
def test_a_header_without_a_required_column_is_refused(object_type: str) -> None:
    required = rules.REQUIRED[object_type]
    with pytest.raises(rules.RowError):
        rules.check_header(object_type, list(required[1:]))
    rules.check_header(object_type, list(required))


def test_every_object_type_has_a_family_and_a_layout() -> None:
    assert set(rules.FAMILIES) == set(rules.REQUIRED) == set(rules.OBJECT_TYPES)
    assert set(rules.VERIFIABLE) <= set(rules.OBJECT_TYPES)


def test_the_migration_document_holds_the_layout_the_code_checks() -> None:
    text = (ROOT / "docs" / "MIGRATION.md").read_text(encoding="utf-8")
    for column in rules.COMMON:
        assert f"| `{column}` |" in text, column
    for object_type, required in rules.REQUIRED.items():
        line = re.search(rf"^\| {object_type} \| (.+) \|$", text, re.MULTILINE)
        assert line is not None, object_type
        assert [c.strip() for c in line.group(1).split(",")] == list(required), object_type


def test_a_mobile_is_kept_as_its_index_spells_it_and_named_extra_columns_masked() -> None:
    """Given a legacy row with a mobile written '+86 139-0000-1111' and extra columns holding a passport
    number and a guarantor's phone
    When parsed
    Then the mobile is the 11 digits (as the search normalises what it is asked), and the named extra
    columns are kept masked, the others as given."""
    from waterrev.history.rules import parse_row

    row = parse_row(
        "CONFIG",
        2,
        {"legacyNo": "L1", "status": "A", "mobile": "+86 139-0000-1111", "passportNo": "E12345678",
         "guarantorPhone": "+85291234567", "operator": "柜员甲"},
    )  # fmt: skip

    assert row.mobile == "13900001111"
    assert row.detail == {"passportNo": "E1*****78", "guarantorPhone": "********4567", "operator": "柜员甲"}
