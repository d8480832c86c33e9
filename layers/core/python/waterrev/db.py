"""SQLAlchemy 2 on pg8000: a lazily built engine and the unit of work.

One engine per execution environment, built on first use (never at import). In Lambda the pool
holds one connection and keeps no session state, so RDS Proxy can multiplex without pinning.

A connection is checked with a ping only when it has sat idle for `db_ping_after_idle_s` (a Lambda
environment thawed after a pause, a proxy that may have dropped it); one used a moment ago is not
pinged again, which would cost a round trip on every request. A connection that breaks while busy
fails its request, is thrown away, and the next request gets a new one.
"""

from __future__ import annotations

import json
import threading
import time
import weakref
from collections.abc import Callable, Mapping
from typing import Any, Self

from sqlalchemy import Connection, CursorResult, Engine, create_engine, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DisconnectionError

from waterrev.settings import get_settings

_engine: Engine | None = None
_lock = threading.Lock()
_open = threading.local()  # units of work open on the shared engine, per thread


def _checking_out() -> None:
    """Count a checkout from the shared engine; with `db_forbid_nested`, refuse a second one in the
    same thread: a Lambda's pool has one connection, and the second would wait for the first."""
    depth = getattr(_open, "depth", 0)
    if depth and get_settings().db_forbid_nested:
        raise RuntimeError(
            "a unit of work was opened while another is open in this thread; with one pooled connection"
            " (Lambda) it would wait for itself: finish the first before opening the next"
        )
    _open.depth = depth + 1


def _checked_in() -> None:
    _open.depth = max(0, getattr(_open, "depth", 0) - 1)


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
                    pool_pre_ping=False,  # see _ping_if_idle
                    pool_recycle=300,
                    connect_args=connect_args,
                )
                if get_settings().db_one_trip:
                    event.listen(_engine, "do_connect", _one_trip_connect)
                event.listen(_engine, "checkin", _note_idle)
                event.listen(_engine, "checkout", _ping_if_idle)
    return _engine


def _one_trip_connect(_dialect: Any, _record: Any, cargs: Any, cparams: Any) -> Any:
    from waterrev.pgwire import connect

    return connect(*cargs, **cparams)


def _note_idle(_dbapi_conn: Any, record: Any) -> None:
    record.info["idle_since"] = time.time()  # wall clock: it moves on while a Lambda is frozen


def _ping_if_idle(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
    since = record.info.get("idle_since")
    if since is None or time.time() - since < get_settings().db_ping_after_idle_s:
        return
    try:
        dbapi_conn.execute_simple(";")  # one round trip, outside any transaction
    except Exception as exc:  # any failure means: not this connection
        raise DisconnectionError(f"idle connection failed its ping: {exc}") from exc


def call_atomic(statement: str, *values: Any) -> Any:
    """Run one statement with positional parameters ($1, $2 ...) as its own transaction and return
    the first column of its first row: one round trip in all, no BEGIN and no COMMIT, and none of the
    statement compilation the SQL layer does per call. Only for a statement that does all its work
    itself - a database function such as pay_notify_accept - which PostgreSQL runs all or nothing.

    A failed statement raises the driver's error; a connection that broke is thrown away."""
    from pg8000.exceptions import InterfaceError

    _checking_out()
    try:
        with get_engine().connect() as conn:
            raw = conn.connection.dbapi_connection
            assert raw is not None
            raw.rollback()  # sends nothing unless a transaction is open, never after a checkout
            try:
                rows = raw.execute_unnamed(statement, values).rows
            except (InterfaceError, OSError):  # pg8000 lets a reset socket's first read fail raw
                conn.invalidate()
                raise
            return rows[0][0] if rows else None
    finally:
        _checked_in()


def dispose_engine() -> None:
    global _engine
    if _engine is not None:
        _engine.dispose()
        _engine = None


# Each open unit of work by its connection: the savepoint events below find the one whose savepoint it is.
_owners: weakref.WeakKeyDictionary[Connection, UnitOfWork] = weakref.WeakKeyDictionary()


def _savepoint_begun(conn: Connection, name: str | None) -> None:
    if (uow := _owners.get(conn)) is not None:
        uow._scopes.append([])


def _savepoint_released(conn: Connection, name: str, context: object) -> None:
    if (uow := _owners.get(conn)) is not None and len(uow._scopes) > 1:
        done = uow._scopes.pop()
        uow._scopes[-1].extend(done)  # kept: they happen if the enclosing transaction commits


def _savepoint_rolled_back(conn: Connection, name: str, context: object) -> None:
    if (uow := _owners.get(conn)) is not None and len(uow._scopes) > 1:
        uow._scopes.pop()  # what the savepoint undid is not reported


# Every engine's connections (class-level listeners): cheap when no unit of work owns the connection.
event.listen(Engine, "savepoint", _savepoint_begun)
event.listen(Engine, "release_savepoint", _savepoint_released)
event.listen(Engine, "rollback_savepoint", _savepoint_rolled_back)


class UnitOfWork:
    """One transaction per use case: commit explicitly, everything else rolls back."""

    def __init__(self, engine: Engine | None = None) -> None:
        self._engine = engine
        self._committed = False
        # after_commit's actions, one list per open savepoint (the first: the transaction's own)
        self._scopes: list[list[Callable[[], None]]] = [[]]
        self.conn: Connection

    def __enter__(self) -> Self:
        if self._engine is None:
            _checking_out()
        try:
            self.conn = (self._engine or get_engine()).connect()
        except BaseException:
            if self._engine is None:
                _checked_in()
            raise
        self._tx = self.conn.begin()
        self._committed = False
        self._scopes = [[]]
        _owners[self.conn] = self
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            if not self._committed and self._tx.is_active:
                self._tx.rollback()
        finally:
            _owners.pop(self.conn, None)
            self._scopes = [[]]
            self.conn.close()
            if self._engine is None:
                _checked_in()

    def commit(self) -> None:
        self._tx.commit()
        self._committed = True
        done, self._scopes = [a for scope in self._scopes for a in scope], [[]]
        for action in done:
            action()

    def after_commit(self, action: Callable[[], None]) -> None:
        """Run `action` once this transaction has committed (never if it rolls back): what reports a
        change - a business metric - must not report one that did not happen. Inside a savepoint
        (conn.begin_nested()) the action belongs to it: rolled back to, the action is dropped with what the
        savepoint undid; released, it waits for the transaction's commit."""
        self._scopes[-1].append(action)

    def execute(self, sql: str, params: Mapping[str, Any] | None = None) -> CursorResult[Any]:
        return self.conn.execute(text(sql), dict(params or {}))

    def one(self, sql: str, params: Mapping[str, Any] | None = None) -> dict[str, Any] | None:
        row = self.execute(sql, params).mappings().first()
        return dict(row) if row is not None else None

    def all(self, sql: str, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        return [dict(r) for r in self.execute(sql, params).mappings().all()]

    def scalar(self, sql: str, params: Mapping[str, Any] | None = None) -> Any:
        return self.execute(sql, params).scalar()
