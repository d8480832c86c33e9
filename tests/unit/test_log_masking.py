"""Log output masks personal numbers whichever module logs them, and the suite's end-of-run scan finds
one that slipped through."""

from __future__ import annotations

import io
import logging

from tests import piilog


def _written(log: logging.Logger, message: str) -> str:
    """What the waterrev logger's own handler writes for `message` logged on `log`."""
    from waterrev.logs import get_logger

    handler = get_logger().registered_handler
    stream, handler.stream = handler.stream, io.StringIO()
    try:
        log.error(message)
        return handler.stream.getvalue()
    finally:
        handler.stream = stream


def test_a_module_logger_below_waterrev_is_masked_as_the_logger_itself() -> None:
    """Given a module's `logging.getLogger(__name__)` below waterrev, when it logs a mobile, an ID number and
    a bank account, then the line written shows none of them whole (before, only records logged on the
    waterrev logger itself were masked)."""
    line = _written(
        logging.getLogger("waterrev.billing.somewhere"),
        "mobile 13812345678 id 350102199001011234 card 6222021234567890123",
    )

    assert "13812345678" not in line and "350102199001011234" not in line
    assert "6222021234567890123" not in line
    assert "138****5678" in line and piilog.leaks([line]) == []


def test_the_scan_flags_an_unmasked_number_and_passes_masked_ones() -> None:
    """Given log lines, when scanned, then only those showing a whole mobile, ID number or bank account are
    flagged; masked values, codes with a letter prefix and timestamps are not."""
    raw = [
        '{"message": "bind code sent to 13912345678"}',
        '{"idNo": "11010519491231002X"}',
        "card 6217001234567890",
    ]
    clean = [
        '{"message": "bind code sent to 139****5678"}',
        '{"idNo": "110105********002X"}',
        "order DD202612050000000123 at 2026-12-05 09:12:18,212 ts 1733389938123",
        '{"request_id": "a993b996-2b97-41fa-b671-19973920934e"}',
    ]

    assert piilog.leaks(raw + clean) == raw
