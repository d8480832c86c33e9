"""Masking of mobiles, ID numbers and bank accounts, in fields and in free log text."""

import logging
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from waterrev.masking import MaskingFilter, mask_bank_account, mask_id_no, mask_mobile, mask_text

MOBILE = "13800138000"
ID_NO = "350102199001011234"
CARD = "6222021234567890123"


@pytest.mark.parametrize(
    ("raw", "masked"),
    [
        (None, None),
        ("", ""),
        (MOBILE, "138****8000"),
        (f"  {MOBILE} ", "138****8000"),
        ("12345", "*****"),
        ("123456", "******"),
    ],
)
def test_mask_mobile(raw: str | None, masked: str | None) -> None:
    """Given a mobile (or nothing, or something too short to show any of)
    When masked
    Then the middle four digits are hidden, and a short value is hidden entirely."""
    assert mask_mobile(raw) == masked


@pytest.mark.parametrize("raw", ["1380013", "13800138", "1380013800"])
def test_mask_mobile_never_shows_a_short_value_whole(raw: str) -> None:
    """Given a value of 7 to 10 digits in the mobile field
    When masked
    Then at least one of its digits is hidden."""
    masked = mask_mobile(raw)

    assert masked is not None and "*" in masked and len(masked) == len(raw)
    assert re.sub(r"\*+", "", masked) != raw


@pytest.mark.parametrize(
    ("raw", "masked"),
    [
        (None, None),
        ("", ""),
        (ID_NO, "350102********1234"),
        ("35010219850505432X", "350102********432X"),
        (f" {ID_NO} ", "350102********1234"),
        ("91350100MA2XXXXX1X", "913501********XX1X"),
        ("12345678", "1*******"),
        ("A", "A"),
    ],
)
def test_mask_id_no(raw: str | None, masked: str | None) -> None:
    """Given an ID number, a USCC, a short document number or nothing
    When masked
    Then the first six and last four stay and the middle is hidden; a short one keeps its first character."""
    assert mask_id_no(raw) == masked


@pytest.mark.parametrize("raw", ["E12345678", "EA1234567", "1234567890"])
def test_mask_id_no_hides_part_of_a_passport_number(raw: str) -> None:
    """Given a 9- or 10-character document number (a passport)
    When masked
    Then the result has the same length and hides some of it."""
    masked = mask_id_no(raw)

    assert masked is not None and len(masked) == len(raw) and "*" in masked


@pytest.mark.parametrize(
    ("raw", "masked"),
    [
        (None, None),
        ("", ""),
        (CARD, "6222***********0123"),
        ("6222 0212 3456 7890 123", "6222***********0123"),
        ("123456789", "1234*6789"),
        ("12345678", "****5678"),
        ("12345", "*2345"),
        ("1234", "****"),
        ("12", "**"),
    ],
)
def test_mask_bank_account(raw: str | None, masked: str | None) -> None:
    """Given a bank account with or without spaces, short ones, or nothing
    When masked
    Then spaces go, the first and last four stay and the rest is hidden; four digits or fewer are all hidden."""
    assert mask_bank_account(raw) == masked


def test_mask_text_hides_every_sensitive_number_in_a_sentence() -> None:
    """Given free text with a mobile, two ID numbers, a card number, an order number, a verify code
    and a 12-digit landline
    When masked
    Then the mobile, the IDs and the card are masked and the rest is untouched."""
    text = (
        f"客户张三 手机{MOBILE}，身份证{ID_NO}/35010219850505432x 卡号{CARD} "
        "订单号20261122 验证码123456 座机059187654321"
    )

    assert mask_text(text) == (
        "客户张三 手机138****8000，身份证350102********1234/350102********432x 卡号6222***********0123 "
        "订单号20261122 验证码123456 座机059187654321"
    )


@pytest.mark.parametrize("text", ["order 20261122 paid", "code 123456 sent", "订单20261122验证码654321"])
def test_mask_text_leaves_order_numbers_and_verify_codes(text: str) -> None:
    """Given an 8-digit order number or a 6-digit verify code
    When masked
    Then nothing changes (they are not personal data and support needs them)."""
    assert mask_text(text) == text


def test_mask_text_masks_numbers_between_letters() -> None:
    """Given a mobile glued to letters on both sides
    When masked
    Then it is still found (only digits bound a number)."""
    assert mask_text(f"tel{MOBILE}end") == "tel138****8000end"


def test_masking_filter_masks_message_args_and_extra_fields() -> None:
    """Given a log record with a %-message, sensitive arguments and extra fields (nested too)
    When the MaskingFilter runs
    Then the formatted message, the args and the extras are masked, and standard attributes are kept."""
    logger = logging.getLogger("waterrev.unit")
    extra = {"mobile": MOBILE, "payload": {"idNo": ID_NO, "cards": [CARD], "amount": 12}}
    record = logger.makeRecord(
        "waterrev", logging.INFO, "/app/x.py", 7, "bind %s for id %s", (MOBILE, ID_NO), None, extra=extra
    )

    kept = MaskingFilter().filter(record)

    assert kept is True
    assert record.getMessage() == "bind 138****8000 for id 350102********1234"
    assert vars(record)["mobile"] == "138****8000"
    assert vars(record)["payload"] == {
        "idNo": "350102********1234",
        "cards": ["6222***********0123"],
        "amount": 12,
    }
    assert (record.name, record.pathname, record.lineno, record.levelno) == ("waterrev", "/app/x.py", 7, 20)


def test_masking_filter_masks_a_message_that_is_a_dict() -> None:
    """Given a structured message (a dict, as Powertools logs it)
    When the MaskingFilter runs
    Then the values inside are masked and the keys kept."""
    record = logging.makeLogRecord({"msg": {"event": "sms", "to": MOBILE}, "args": None})

    MaskingFilter().filter(record)

    assert record.msg == {"event": "sms", "to": "138****8000"}


def test_masking_filter_masks_mapping_args() -> None:
    """Given a %(name)s message with one mapping argument
    When the MaskingFilter runs
    Then the formatted message is masked."""
    record = logging.LogRecord("waterrev", logging.INFO, "x.py", 1, "sms to %(to)s", ({"to": MOBILE},), None)

    MaskingFilter().filter(record)

    assert record.getMessage() == "sms to 138****8000"


# ------------------------------------------------------------------------------- property --

ALPHABET = "0123456789abcXYZ "
MOBILE_RUN = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")
DIGIT_RUN = re.compile(r"\d+")

chunks = st.one_of(
    st.text(ALPHABET, max_size=8),
    st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True),
    st.text("0123456789", min_size=5, max_size=20),
)
texts = st.lists(chunks, max_size=8).map("".join)


@settings(database=None, deadline=None)  # pure: no example database on disk
@given(texts)
def test_mask_text_keeps_length_and_leaves_no_mobile(text: str) -> None:
    """Given any string of digits, letters and spaces (rich in mobile-like and long digit runs)
    When masked
    Then it keeps its length, every 11-digit mobile run of the input is masked in place,
    and no mobile-shaped 11-digit run is left in the output."""
    masked = mask_text(text)

    assert len(masked) == len(text)
    for found in MOBILE_RUN.finditer(text):
        assert masked[found.start() : found.end()] != found.group()
        assert "****" in masked[found.start() : found.end()]
    assert not [run for run in DIGIT_RUN.findall(masked) if MOBILE_RUN.fullmatch(run)]


def test_our_document_numbers_stay_readable_in_logs_while_card_numbers_are_masked() -> None:
    """Given a log line with a bill code, an order number and a bank card number
    When masked
    Then the codes (two letters then digits) stay searchable and the card number is masked."""
    from waterrev.masking import mask_text

    masked = mask_text("账单 ZD2020030000000025 订单 DD2026112200000001 卡号6222021234567890123")

    assert "ZD2020030000000025" in masked and "DD2026112200000001" in masked
    assert "6222021234567890123" not in masked and "6222***********0123" in masked


def test_fields_named_as_personal_numbers_are_masked_whatever_their_form() -> None:
    """Given an audit payload with a passport number and a foreign mobile (no pattern knows them), nested
    When masked by name
    Then each named field is masked, other fields are untouched, and masking again changes nothing."""
    from waterrev.masking import mask_named

    raw = {
        "idNo": "E12345678",
        "name": "E12345678",
        "contactList": [{"mobile": "85291234567", "relation": "SELF"}],
        "invoiceInfo": {"bankAccount": "6222021234567890123", "pushMobile": None},
    }

    masked = mask_named(raw)

    assert masked == {
        "idNo": "E1*****78",
        "name": "E12345678",
        "contactList": [{"mobile": "852****4567", "relation": "SELF"}],
        "invoiceInfo": {"bankAccount": "6222" + "*" * 11 + "0123", "pushMobile": None},
    }
    assert mask_named(masked) == masked


def test_columns_named_like_personal_numbers_are_masked_by_their_name() -> None:
    """Given a legacy record's extra columns: a passport number, a foreign and a mainland mobile, a bank
    card number, each under a name that says so, and others that do not (an account name, a hotel, a meter's
    certificate, a note
    with a mobile in it)
    When masked as columns
    Then each named one is masked whatever its form, the note by pattern, the rest untouched."""
    from waterrev.masking import mask_columns

    masked = mask_columns(
        {
            "passportNo": "E12345678",
            "guarantor_phone": "+4479111234",
            "contactMobile": "13812345678",
            "payer-id-no": "X9876543",
            "bankCardNo": "6222021234567890123",
            "accountName": "张三",
            "hotel": "E12345678",
            "certificateNo": "JD-2024-001",
            "note": "请联系 13912345678",
        }
    )

    assert masked == {
        "passportNo": "E1*****78",
        "guarantor_phone": "+44****1234",
        "contactMobile": "138****5678",
        "payer-id-no": "X*******",  # short: only its first sign
        "bankCardNo": "6222" + "*" * 11 + "0123",
        "accountName": "张三",
        "hotel": "E12345678",
        "certificateNo": "JD-2024-001",  # a meter's verification certificate
        "note": "请联系 139****5678",
    }
    assert mask_columns(masked) == masked
