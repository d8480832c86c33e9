"""Apply Alembic migrations programmatically (local runner, tests, a deploy-time task)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import text

from waterrev.db import get_engine

_HERE = Path(__file__).parent / "migrations"
_LOCK_KEY = 20_021_001  # advisory lock so concurrent starters never migrate twice


def upgrade(revision: str = "head") -> None:
    config = Config()
    config.set_main_option("script_location", str(_HERE))
    with get_engine().connect() as connection:
        connection.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _LOCK_KEY})
        try:
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
            connection.commit()
        finally:
            connection.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _LOCK_KEY})
            connection.commit()
