"""One network round trip per SQL statement on pg8000.

pg8000 (1.31) runs a statement with parameters in three round trips: Parse + Sync, then Describe
statement + Sync, then Bind + Execute + Sync, waiting for the server after each. Nothing it sends
in the later steps depends on what the server answered in the earlier ones (parameters go as text
with the types the server infers; results come back as text, typed by the row description), so
here the whole exchange - Parse, Bind, Describe portal, Execute, Sync - goes out at once and the
answers are read in one pass, as libpq's PQexecParams does. On a local socket that is a third of
the latency of every statement and of every commit (pg8000 commits through the same path).

The statement stays unnamed: no server-side state outlives it, so RDS Proxy keeps multiplexing.
COPY (a `stream`) keeps pg8000's own path. A socket error is always reported as pg8000's
InterfaceError ("network error"), which SQLAlchemy recognises as a lost connection and replaces;
pg8000 itself lets the first read of a reset socket fail with a bare OSError. `WATERREV_DB_ONE_TRIP=0` turns this off.
"""

from __future__ import annotations

from typing import Any

from pg8000 import core, legacy

_DESCRIBE_UNNAMED_PORTAL = core.PORTAL + core.NULL_BYTE


class OneTripConnection(legacy.Connection):
    """The connection `pg8000.connect` makes (the one SQLAlchemy's pg8000 dialect uses, which maps
    server errors to IntegrityError and ProgrammingError), with statements sent in one round trip."""

    def execute_simple(self, statement: str) -> Any:
        try:
            return super().execute_simple(statement)
        except OSError as exc:  # pg8000 lets the first read of a reset socket fail raw
            raise core.InterfaceError("network error") from exc

    def execute_unnamed(self, statement: str, vals: Any = (), oids: Any = (), stream: Any = None) -> Any:
        try:
            return self._execute_unnamed(statement, vals, oids, stream)
        except OSError as exc:  # as above: a DB-API error, so the pool sees a lost connection
            raise core.InterfaceError("network error") from exc

    def _execute_unnamed(self, statement: str, vals: Any, oids: Any, stream: Any) -> Any:
        if stream is not None:
            return super().execute_unnamed(statement, vals=vals, oids=oids, stream=stream)
        if self._sock is None:
            raise core.InterfaceError("connection is closed")
        # Parameters are converted and encoded before anything is buffered: a value that cannot be
        # sent must fail here, not leave a half-written exchange for the next statement to carry.
        params = core.make_params(self.py_types, vals)
        for value in params:
            if value is not None:
                value.encode(self._client_encoding)
        context = core.Context(statement)
        self.send_PARSE(core.NULL_BYTE, statement, oids)
        self.send_BIND(core.NULL_BYTE, params)
        self._send_message(core.DESCRIBE, _DESCRIBE_UNNAMED_PORTAL)
        self.send_EXECUTE()
        core._write(self._sock, core.SYNC_MSG)
        core._flush(self._sock)
        # ParseComplete, BindComplete, RowDescription | NoData, DataRow..., CommandComplete,
        # ReadyForQuery; on an error the server skips to the Sync and handle_messages raises it.
        self.handle_messages(context)
        return context


def connect(*args: Any, **kwargs: Any) -> OneTripConnection:
    return OneTripConnection(*args, **kwargs)
