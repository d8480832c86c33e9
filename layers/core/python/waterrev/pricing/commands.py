"""What the IF-REV-012 use cases take (the handler builds it from the request model)."""

from __future__ import annotations

import datetime as dt
from typing import NamedTuple


class ConfigCommand(NamedTuple):
    """QUERY of configurations, or CREATE / UPDATE of a PRICE template version or a RULE / PAGE / NOTICE
    parameter in the scope of `dept_id` (None: GLOBAL). CREATE and UPDATE always name the code."""

    action: str  # QUERY | CREATE | UPDATE
    config_type: str  # PRICE | RULE | PAGE | NOTICE
    config_code: str | None = None
    config_value: str | None = None
    config_version: int | None = None  # UPDATE of a PRICE: the version to change (default: the draft)
    effect_status: str | None = None  # DRAFT | ACTIVE (ACTIVE publishes)
    dept_id: int | None = None
    effective_date: dt.date | None = None
    operator_id: int | None = None
