"""Per-caller limits where a user is the unit (payment orders, counter QR orders, exports): a fixed window
per route and signed-in user, counted in PostgreSQL so that every Lambda environment sees the same count.

API Gateway throttles the stage and the public routes (infra/constructs/api.py); that protects the
service, not against one customer's script making an order a second. The count is its own short
transaction before the use case, committed whatever the request then does: a refused or failed call
still counts. One statement: the caller's older windows are dropped as the current one is counted, so
the table holds one row per active caller and route.
"""

from __future__ import annotations

import time

from waterrev.catalog import Rate
from waterrev.db import UnitOfWork
from waterrev.errors import AppError, ErrorCode

_COUNT = (
    "WITH gone AS (DELETE FROM sys_rate_limit WHERE bucket = :b AND window_start < :w)"
    " INSERT INTO sys_rate_limit (bucket, window_start, hits) VALUES (:b, :w, 1)"
    " ON CONFLICT (bucket, window_start) DO UPDATE SET hits = sys_rate_limit.hits + 1 RETURNING hits"
)


def now() -> float:
    """Seconds since the epoch; tests fix it to stay inside one window."""
    return time.time()


def check(route_key: str, rate: Rate, caller: str) -> None:
    """Count this call of `route_key` by `caller`; beyond `rate` in the current window: 429 with when to
    try again."""
    moment = now()
    window = int(moment) // rate.window_s * rate.window_s
    with UnitOfWork() as uow:
        hits = int(uow.scalar(_COUNT, {"b": f"{route_key}|{caller}", "w": window}))
        uow.commit()
    if hits > rate.calls:
        retry = max(1, window + rate.window_s - int(moment))
        raise AppError(
            ErrorCode.TOO_MANY_REQUESTS,
            f"{route_key}: 每 {rate.window_s} 秒最多 {rate.calls} 次，请 {retry} 秒后再试",
            data={"limit": rate.calls, "windowSeconds": rate.window_s, "retryAfter": retry},
        )
