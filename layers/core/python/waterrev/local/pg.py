"""Embedded PostgreSQL (pgserver) for the local stack and the tests.

The data folder lives inside the checkout (git-ignored). pgserver listens on a unix socket in
that folder; pg8000 reaches it through `unix_sock`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any


def start(pgdata: Path, cleanup: bool = False) -> tuple[Any, str]:
    """Start (or reuse) a PostgreSQL in `pgdata`; return the server handle and a pg8000 URL."""
    pgdata = pgdata.resolve()
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    runtime = pgdata.parent / "runtime"
    runtime.mkdir(mode=0o700, exist_ok=True)
    runtime.chmod(0o700)
    os.environ.setdefault("XDG_RUNTIME_DIR", str(runtime))
    import pgserver

    server = pgserver.get_server(pgdata, cleanup_mode="stop" if cleanup else None)
    socket = pgdata / ".s.PGSQL.5432"
    return server, f"postgresql+pg8000://postgres@/postgres?unix_sock={socket}"


def create_database(url: str, name: str) -> str:
    """Create database `name` next to the one `url` points at (if missing); return its URL."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        exists = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).first()
        if not exists:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return make_url(url).set(database=name).render_as_string(hide_password=False)
