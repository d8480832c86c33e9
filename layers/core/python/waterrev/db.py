"""SQLAlchemy 2 on pg8000: a lazily built engine and the unit of work.

One engine per execution environment, built on first use (never at import). In Lambda the pool
holds one connection and keeps no session state, so RDS Proxy can multiplex without pinning.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from typing import Any, Self

from sqlalchemy import Connection, CursorResult, Engine, create_engine, text
from sqlalchemy.engine import URL, make_url

from waterrev.settings import get_settings

_engine: Engine | None = None
_lock = threading.Lock()


def database_url() -> URL:
    settings = get_settings()
    if settings.database_url:
        return make_url(settings.database_url)
    if settings.db_secret_arn and settings.db_host:
        import boto3  # cold path only in the cloud

        secret = json.loads(
            boto3.client("secretsmanager").get_secret_value(SecretId=settings.db_secret_arn)["SecretString"]
        )
        return URL.create(
            "postgresql+pg8000",
            username=secret["username"],
            password=secret["password"],
            host=settings.db_host,
            port=int(secret.get("port", 5432)),
            database=settings.db_name,
            query={"ssl_context": "true"} if settings.env != "local" else {},
        )
    raise RuntimeError("no database configured: set WATERREV_DATABASE_URL or WATERREV_DB_SECRET_ARN")


def get_engine() -> Engine:
    global _engine
    if _engine is None:
        with _lock:
            if _engine is None:
                url = database_url()
                connect_args: dict[str, Any] = {}
                if url.query.get("ssl_context") == "true":
                    import ssl

                    url = url.difference_update_query(["ssl_context"])
                    connect_args["ssl_context"] = ssl.create_default_context()
                pool_size = get_settings().db_pool_size
                _engine = create_engine(
                    url,
                    pool_size=pool_size,
                    max_overflow=0 if pool_size == 1 else pool_size,
                    pool_pre_ping=True,
                    pool_recycle=300,
                    connect_args=connect_args,
                )
    return _engine


def dispose_engine() -> None:
    global _engine
    if _engine is not None:
        _engine.dispose()
        _engine = None


class UnitOfWork:
    """One transaction per use case: commit explicitly, everything else rolls back."""

    def __init__(self, engine: Engine | None = None) -> None:
        self._engine = engine
        self._committed = False
        self.conn: Connection

    def __enter__(self) -> Self:
        self.conn = (self._engine or get_engine()).connect()
        self._tx = self.conn.begin()
        self._committed = False
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            if not self._committed and self._tx.is_active:
                self._tx.rollback()
        finally:
            self.conn.close()

    def commit(self) -> None:
        self._tx.commit()
        self._committed = True

    def execute(self, sql: str, params: Mapping[str, Any] | None = None) -> CursorResult[Any]:
        return self.conn.execute(text(sql), dict(params or {}))

    def one(self, sql: str, params: Mapping[str, Any] | None = None) -> dict[str, Any] | None:
        row = self.execute(sql, params).mappings().first()
        return dict(row) if row is not None else None

    def all(self, sql: str, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        return [dict(r) for r in self.execute(sql, params).mappings().all()]

    def scalar(self, sql: str, params: Mapping[str, Any] | None = None) -> Any:
        return self.execute(sql, params).scalar()
