"""The response envelope {code, data, msg} and the page shape {list, total, pageNo, pageSize}."""

from __future__ import annotations

import datetime as dt
import functools
import json
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from waterrev.money import fmt

SUCCESS_MSG = "success"


@functools.lru_cache(maxsize=1)
def _display_zone() -> ZoneInfo:
    from waterrev.settings import get_settings

    return ZoneInfo(get_settings().display_time_zone)


def jsonable(value: Any) -> Any:
    """Decimals as strings (at least two places, never floats); times in the seed's form."""
    if isinstance(value, Decimal):
        # Money has two places; unit prices and tax rates keep their four. Never round here.
        exponent = value.as_tuple().exponent
        return fmt(value) if isinstance(exponent, int) and exponent > -2 else format(value, "f")
    if isinstance(value, dt.datetime):
        # Stored as timestamptz (UTC on the wire from PostgreSQL); shown in the utility's local time.
        local = value.astimezone(_display_zone()) if value.tzinfo is not None else value
        return local.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


def ok(data: Any = None) -> dict[str, Any]:
    return {"code": 0, "data": jsonable(data), "msg": SUCCESS_MSG}


def page(items: list[Any], total: int, page_no: int, page_size: int) -> dict[str, Any]:
    return {"list": items, "total": total, "pageNo": page_no, "pageSize": page_size}


def fail(code: int, msg: str, data: Any = None) -> dict[str, Any]:
    return {"code": code, "data": jsonable(data), "msg": msg}


def dumps(body: dict[str, Any]) -> str:
    text = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        # A lone surrogate a message quotes from a request (JSON \ud800) cannot be sent as UTF-8: escaped,
        # the reply is still the same JSON, where unescaped it was no reply at all (the connection dropped).
        return json.dumps(body, ensure_ascii=True, separators=(",", ":"))
    return text
