"""Placeholder until the bill-run starter lands (helper-5 replaces this file)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from waterrev.context import RequestContext
from waterrev.errors import AppError, ErrorCode


def start_bill_run(ctx: RequestContext, bill_period: str | None, due_date: dt.date | None) -> dict[str, Any]:
    raise AppError(ErrorCode.INTERNAL_ERROR, "开账工作流尚未配置")
