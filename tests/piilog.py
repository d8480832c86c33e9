"""Every log line the suite produces - our logger's output in this process, and the output of every local
stack the e2e tests start - kept so that the session can end by looking for an unmasked mobile, ID
number or bank account in them (`tests/conftest.py`, pytest_sessionfinish)."""

from __future__ import annotations

import logging
import re

LINES: list[str] = []  # what the waterrev logger wrote in this process, formatted as it writes it
STREAMS: list[list[str]] = []  # each local stack's output lines (tests/e2e/test_local_stack.Stack)


class _Capture(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        try:
            LINES.append(self.format(record))
        except Exception:  # a record that cannot be formatted is the logger's problem, not the scan's
            LINES.append(str(record.msg))


def install() -> None:
    """Capture behind the waterrev logger's own handler: what it wrote, after its masking filter ran."""
    from waterrev.logs import get_logger

    logger = get_logger()
    capture = _Capture()
    capture.setFormatter(logger.registered_handler.formatter)
    logging.getLogger("waterrev").addHandler(capture)


_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def leaks(lines: list[str]) -> list[str]:
    """The lines that show a mobile, an ID number or a bank account unmasked (the masking rule's patterns),
    request ids aside: a uuid's last group may hold eleven digits in a row after a letter."""
    from waterrev.masking import mask_text

    return [line for line in lines if mask_text(stripped := _UUID.sub("<uuid>", line)) != stripped]


def all_lines() -> list[str]:
    return LINES + [line for stream in STREAMS for line in stream]
