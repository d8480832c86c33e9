"""Deploy time (CDK trigger): apply the Alembic migrations before the new code serves.

The trigger invokes it with an empty event and fails the deployment when it raises, so every
error propagates. Safe to run twice or concurrently: `migrate.upgrade` holds an advisory lock and
a second run finds the schema at head and changes nothing.
"""

from __future__ import annotations

from typing import Any

from waterrev import migrate
from waterrev.logs import get_logger


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    logger = get_logger()
    # per thread, and cleared after: in the local stack every function runs in one process
    logger.thread_safe_append_keys(request_id=str(getattr(context, "aws_request_id", "-")), job="migrate")
    try:
        try:
            result = migrate.upgrade()
        except Exception:
            logger.exception("migration failed: the deployment stops here")
            raise
        summary = {
            "before": result.before,
            "after": result.after,
            "changed": result.changed,
            "ahead": result.ahead,
        }
        if result.ahead:  # a rollback re-running the previous code: the newer schema stays
            logger.warning("database ahead of this code: nothing to do", extra=summary)
        else:
            logger.info("migrations applied" if result.changed else "schema already at head", extra=summary)
        return summary
    finally:
        logger.thread_safe_clear_keys()
