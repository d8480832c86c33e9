"""Folding the statistics summaries (job_stat_fold, every 10 minutes): every group's delta rows become one
row (`stat_fold()`, sql/functions/stat_fold.sql). A query sums a group's rows whether folded or not, so
folding changes no answer, only how many rows the next query reads."""

from __future__ import annotations

from typing import Any

from waterrev.context import RequestContext
from waterrev.db import UnitOfWork


def fold(ctx: RequestContext) -> dict[str, Any]:
    with UnitOfWork() as uow:
        groups = int(uow.scalar("SELECT stat_fold()"))
        uow.commit()
    return {"groups": groups, "requestId": ctx.request_id}
