"""One network round trip per SQL statement on pg8000.

pg8000 (1.31) runs a statement with parameters in three round trips: Parse + Sync, then Describe
statement + Sync, then Bind + Execute + Sync, waiting for the server after each. Nothing it sends
in the later steps depends on what the server answered in the earlier ones (parameters go as text
with the types the server infers; results come back as text, typed by the row description), so
here the whole exchange - Parse, Bind, Describe portal, Execute, Sync - goes out at once and the
answers are read in one pass, as libpq's PQexecParams does. On a local socket that is a third of
the latency of every statement and of every commit (pg8000 commits through the same path).

Everything else is pg8000's own: BEGIN (a simple query before a transaction's first statement, one
round trip per unit of work), COPY (a `stream`), prepared statements. The statement stays unnamed:
no server-side state outlives it, so RDS Proxy keeps multiplexing. A socket error is always
reported as pg8000's InterfaceError ("network error"), which SQLAlchemy recognises as a lost
connection and replaces; pg8000 itself lets the first read of a reset socket fail with a bare
OSError. `WATERREV_DB_ONE_TRIP=0` turns this off.

This leans on private parts of pg8000, all listed below (FUNCTIONS, METHODS, ATTRIBUTES) and checked
by `missing_internals` at the first connect: a pg8000 that lacks one of them, or has it in another
shape, gets pg8000's own path (three round trips, correct) and a warning, not a broken connection;
tests/unit/test_pg8000_contract.py fails by name first.
"""

from __future__ import annotations

import functools
import inspect
from typing import Any

from pg8000 import core, legacy
from pg8000.exceptions import InterfaceError

PG8000_VERIFIED = "1.31.6"  # the pg8000 these internals were read from (pyproject.toml pins it)

# Frontend messages of the PostgreSQL protocol (3.0), not pg8000's: the unnamed statement and portal,
# Describe's portal variant, Sync.
_UNNAMED = b"\x00"
_DESCRIBE = b"D"
_PORTAL = b"P"
_SYNC = b"S"

# What this module (and db.py) use of pg8000 beyond its DB-API, with the shape relied on.
FUNCTIONS: dict[str, tuple[str, ...]] = {  # pg8000.core callables -> their parameters
    "_flush": ("sock",),
    "make_params": ("py_types", "values"),
    "Context": ("statement", "stream", "columns", "input_funcs"),
}
METHODS: dict[str, tuple[str, ...]] = {  # legacy.Connection methods -> their parameters
    "send_PARSE": ("self", "statement_name_bin", "statement", "oids"),
    "send_BIND": ("self", "statement_name_bin", "params"),
    "_send_message": ("self", "code", "data"),
    "send_EXECUTE": ("self",),
    "handle_messages": ("self", "context"),
    "execute_unnamed": ("self", "statement", "vals", "oids", "stream"),  # overridden; db.call_atomic
    "execute_simple": ("self", "statement"),  # overridden; db's idle ping
}
ATTRIBUTES = ("_sock", "_client_encoding", "py_types")  # set on the connection by CoreConnection.__init__
CONTEXT_ATTRIBUTES = ("rows", "columns", "error")  # what a Context carries back (call_atomic reads rows)


@functools.cache
def missing_internals() -> tuple[str, ...]:
    """What of the above the installed pg8000 lacks or has in another shape (empty: all present)."""
    missing: list[str] = []
    for name, params in FUNCTIONS.items():
        if _parameters(getattr(core, name, None)) != params:
            missing.append(f"pg8000.core.{name}{params}")
    for name, params in METHODS.items():
        if _parameters(getattr(legacy.Connection, name, None)) != params:
            missing.append(f"pg8000.legacy.Connection.{name}{params}")
    init = getattr(getattr(core, "CoreConnection", None), "__init__", None)
    assigned = set(getattr(getattr(init, "__code__", None), "co_names", ()))
    missing += [f"pg8000.core.CoreConnection.__init__ sets self.{a}" for a in ATTRIBUTES if a not in assigned]
    try:
        context = core.Context("")
    except Exception:  # any failure means: not the Context we know (its shape is reported above)
        context = None
    missing += [f"pg8000.core.Context().{a}" for a in CONTEXT_ATTRIBUTES if not hasattr(context, a)]
    return tuple(missing)


def _parameters(target: Any) -> tuple[str, ...] | None:
    if not callable(target):
        return None
    try:
        return tuple(inspect.signature(target).parameters)
    except (TypeError, ValueError):
        return None


class OneTripConnection(legacy.Connection):
    """The connection `pg8000.connect` makes (the one SQLAlchemy's pg8000 dialect uses, which maps
    server errors to IntegrityError and ProgrammingError), with statements sent in one round trip."""

    def execute_simple(self, statement: str) -> Any:
        try:
            return super().execute_simple(statement)
        except OSError as exc:  # pg8000 lets the first read of a reset socket fail raw
            raise InterfaceError("network error") from exc

    def execute_unnamed(self, statement: str, vals: Any = (), oids: Any = (), stream: Any = None) -> Any:
        try:
            if stream is not None:
                return super().execute_unnamed(statement, vals=vals, oids=oids, stream=stream)
            return self._one_trip(statement, vals, oids)
        except OSError as exc:  # as above: a DB-API error, so the pool sees a lost connection
            raise InterfaceError("network error") from exc

    def _one_trip(self, statement: str, vals: Any, oids: Any) -> Any:
        if self._sock is None:
            raise InterfaceError("connection is closed")
        # Parameters are converted and encoded before anything is buffered: a value that cannot be
        # sent must fail here, not leave a half-written exchange for the next statement to carry.
        # (send_PARSE encodes the statement itself before it writes anything.)
        params = core.make_params(self.py_types, vals)
        for value in params:
            if value is not None:
                value.encode(self._client_encoding)
        context = core.Context(statement)
        self.send_PARSE(_UNNAMED, statement, oids)
        self.send_BIND(_UNNAMED, params)
        self._send_message(_DESCRIBE, _PORTAL + _UNNAMED)
        self.send_EXECUTE()
        self._send_message(_SYNC, b"")
        core._flush(self._sock)
        # ParseComplete, BindComplete, RowDescription | NoData, DataRow..., CommandComplete,
        # ReadyForQuery; on an error the server skips to the Sync and handle_messages raises it.
        self.handle_messages(context)
        return context


def connect(*args: Any, **kwargs: Any) -> legacy.Connection:
    """A OneTripConnection; pg8000's own connection when its internals are not what we rely on."""
    missing = missing_internals()
    if missing:
        _warn_fallback(missing)
        return legacy.Connection(*args, **kwargs)
    return OneTripConnection(*args, **kwargs)


@functools.cache
def _warn_fallback(missing: tuple[str, ...]) -> None:
    from importlib.metadata import version

    from waterrev.logs import get_logger

    get_logger().warning(
        "pg8000's internals are not those waterrev.pgwire was written for: using pg8000's own path"
        " (three round trips per statement)",
        extra={"pg8000": version("pg8000"), "verified": PG8000_VERIFIED, "missing": list(missing)},
    )
