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
    logger.addFilter(MaskingFilter())
    return logger
