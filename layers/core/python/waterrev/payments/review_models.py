"""IF-REV-006 payment exception review (人工复核入口): the resolve request."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from waterrev.fields import Model

Action = Literal["WRITE_OFF_PAID", "REFUND", "KEEP_BALANCE", "DISMISS"]
ExceptionStatus = Literal["OPEN", "RESOLVED"]


class ExceptionResolve(Model):
    id: int = Field(gt=0)
    action: Action
    remark: str = Field(min_length=1, max_length=200)
