"""One Powertools logger per execution environment, masking sensitive numbers in every record."""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

from waterrev.masking import MaskingFilter

if TYPE_CHECKING:
    from aws_lambda_powertools import Logger


@lru_cache(maxsize=1)
def get_logger() -> Logger:
    from aws_lambda_powertools import Logger

    logger = Logger(service="waterrev")
    masking = MaskingFilter()
    logger.addFilter(masking)
    # A logger's filter sees only the records logged on it; `logging.getLogger(__name__)` records of the
    # modules below it reach its handler unfiltered. The handler masks them too, before any handler
    # further up (the Lambda runtime's on the root logger) sees the record.
    logger.registered_handler.addFilter(masking)
    return logger
