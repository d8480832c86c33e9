"""One network round trip per SQL statement on pg8000.

pg8000 (1.31) runs a statement with parameters in three round trips: Parse + Sync, then Describe
statement + Sync, then Bind + Execute + Sync, waiting for the server after each. Nothing it sends
in the later steps depends on what the server answered in the earlier ones (parameters go as text
with the types the server infers; results come back as text, typed by the row description), so
here the whole exchange - Parse, Bind, Describe portal, Execute, Sync - goes out at once and the
answers are read in one pass, as libpq's PQexecParams does. On a local socket that is a third of
the latency of every statement and of every commit (pg8000 commits through the same path).

The BEGIN pg8000 sends before a transaction's first statement is not sent on its own either: it is
held back and goes out in front of that statement (Parse, Bind, Execute of BEGIN, then the
statement, one Sync), so a unit of work costs one round trip per statement plus its COMMIT. The
server runs the two as it would run them one after the other: BEGIN opens the transaction block,
the statement runs inside it, and an error in the statement leaves the block failed, as before.
A BEGIN followed by nothing costs nothing: a commit or rollback of it sends no message.

The statement stays unnamed: no server-side state outlives it, so RDS Proxy keeps multiplexing.
COPY (a `stream`) keeps pg8000's own path. A socket error is always reported as pg8000's
InterfaceError ("network error"), which SQLAlchemy recognises as a lost connection and replaces;
pg8000 itself lets the first read of a reset socket fail with a bare OSError. `WATERREV_DB_ONE_TRIP=0` turns this off.
"""

from __future__ import annotations

from typing import Any

from pg8000 import core, legacy

_DESCRIBE_UNNAMED_PORTAL = core.PORTAL + core.NULL_BYTE
_BEGIN = "begin transaction"  # what pg8000's cursor sends before a transaction's first statement


class OneTripConnection(legacy.Connection):
    """The connection `pg8000.connect` makes (the one SQLAlchemy's pg8000 dialect uses, which maps
    server errors to IntegrityError and ProgrammingError), with statements sent in one round trip."""

    _begin_held = False  # a BEGIN asked for and not yet sent

    @property
    def _in_transaction(self) -> bool:
        return self._begin_held or self._server_in_transaction()

    def _server_in_transaction(self) -> bool:
        return self._transaction_status in (core.IN_TRANSACTION, core.IN_FAILED_TRANSACTION)

    def commit(self) -> None:
        if not self._server_in_transaction():
            self._begin_held = False  # nothing ran in a transaction: there is nothing to commit
            return
        super().commit()

    def rollback(self) -> None:
        if self._begin_held and not self._server_in_transaction():
            self._begin_held = False
            return
        super().rollback()

    def close(self) -> None:
        self._begin_held = False
        super().close()

    def execute_simple(self, statement: str) -> Any:
        if statement == _BEGIN and not self.autocommit and not self._server_in_transaction():
            self._begin_held = True  # sent with the next statement
            return core.Context(statement)
        try:
            if self._begin_held:
                statement.encode(self._client_encoding)  # unsendable text fails before BEGIN is spent
                self._begin_held = False
                if not self.autocommit:
                    return self._simple_after_begin(statement)
            return super().execute_simple(statement)
        except OSError as exc:  # pg8000 lets the first read of a reset socket fail raw
            raise core.InterfaceError("network error") from exc

    def _simple_after_begin(self, statement: str) -> Any:
        """A statement without parameters (pg8000 sends it as a simple query): the held BEGIN goes
        as a query of its own in the same flush, and the two answers are read in order."""
        if self._sock is None:
            raise core.InterfaceError("connection is closed")
        begin, context = core.Context(_BEGIN), core.Context(statement)
        self.send_QUERY(_BEGIN)
        self.send_QUERY(statement)
        core._flush(self._sock)
        begin_failed: Exception | None = None
        try:
            self.handle_messages(begin)
        except core.DatabaseError as exc:  # read the statement's answer too before raising
            begin_failed = exc
        self.handle_messages(context)
        if begin_failed is not None:
            raise begin_failed
        return context

    def execute_named(self, *args: Any, **kwargs: Any) -> Any:
        """A prepared statement (`Connection.prepare`): the held BEGIN first, on its own."""
        self._send_held_begin()
        return super().execute_named(*args, **kwargs)

    def _send_held_begin(self) -> None:
        """For COPY and prepared statements, which do not carry it: BEGIN on its own, as pg8000 sends it."""
        if self._begin_held:
            self._begin_held = False
            if not self.autocommit:
                super().execute_simple(_BEGIN)

    def execute_unnamed(self, statement: str, vals: Any = (), oids: Any = (), stream: Any = None) -> Any:
        try:
            return self._execute_unnamed(statement, vals, oids, stream)
        except OSError as exc:  # as above: a DB-API error, so the pool sees a lost connection
            raise core.InterfaceError("network error") from exc

    def _execute_unnamed(self, statement: str, vals: Any, oids: Any, stream: Any) -> Any:
        if stream is not None:
            self._send_held_begin()
            return super().execute_unnamed(statement, vals=vals, oids=oids, stream=stream)
        if self._sock is None:
            raise core.InterfaceError("connection is closed")
        # Parameters are converted and encoded before anything is buffered: a value that cannot be
        # sent must fail here, not leave a half-written exchange for the next statement to carry.
        params = core.make_params(self.py_types, vals)
        for value in params:
            if value is not None:
                value.encode(self._client_encoding)
        statement.encode(self._client_encoding)  # the statement too, before a held BEGIN is buffered
        context = core.Context(statement)
        if self._begin_held:
            self._begin_held = False
            if not self.autocommit:  # BEGIN first, in the same exchange; it answers no rows
                self.send_PARSE(core.NULL_BYTE, _BEGIN, ())
                self.send_BIND(core.NULL_BYTE, ())
                self.send_EXECUTE()
        self.send_PARSE(core.NULL_BYTE, statement, oids)
        self.send_BIND(core.NULL_BYTE, params)
        self._send_message(core.DESCRIBE, _DESCRIBE_UNNAMED_PORTAL)
        self.send_EXECUTE()
        core._write(self._sock, core.SYNC_MSG)
        core._flush(self._sock)
        # [ParseComplete, BindComplete, CommandComplete BEGIN,] ParseComplete, BindComplete,
        # RowDescription | NoData, DataRow..., CommandComplete, ReadyForQuery; on an error the server
        # skips to the Sync and handle_messages raises it. BEGIN's "BEGIN" tag adds no row count.
        self.handle_messages(context)
        return context


def connect(*args: Any, **kwargs: Any) -> OneTripConnection:
    return OneTripConnection(*args, **kwargs)
