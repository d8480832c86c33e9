"""The business day: what "today" is for amounts that depend on the date (the late-payment penalty).

A bill's penalty is "as of" a day of the utility's calendar (WATERREV_DISPLAY_TIME_ZONE, Beijing time),
not of the server's: a payment at 00:30 Beijing time is the next day's even though it is still the
previous day in UTC. Everything that asks for today's amount due asks here, so a test can move the
day (monkeypatch `today`) and the whole system moves with it.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from zoneinfo import ZoneInfo


@lru_cache(maxsize=4)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def local_date(moment: dt.datetime) -> dt.date:
    """The utility's calendar day of a moment."""
    from waterrev.settings import get_settings

    return moment.astimezone(_zone(get_settings().display_time_zone)).date()


def today() -> dt.date:
    """Today in the utility's calendar."""
    return local_date(dt.datetime.now(dt.UTC))
