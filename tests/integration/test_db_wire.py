"""The database layer on a real PostgreSQL: one network round trip per statement (waterrev.pgwire),
the driver's error classes unchanged, call_atomic all-or-nothing, and the idle-connection ping that
replaces a connection the server dropped."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from pg8000 import core
from pg8000.exceptions import InterfaceError
from sqlalchemy import create_engine
from sqlalchemy.exc import IntegrityError, ProgrammingError
from sqlalchemy.pool import NullPool

from waterrev import db
from waterrev.db import UnitOfWork, call_atomic
from waterrev.settings import reset_settings


@pytest.fixture(autouse=True)
def _database(db: str) -> None:
    return None


@pytest.fixture
def round_trips(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts socket flushes: the driver flushes once per exchange it then waits for."""
    count = [0]
    flush = core._flush

    def counted(sock: Any) -> None:
        count[0] += 1
        flush(sock)

    monkeypatch.setattr(core, "_flush", counted)
    return count


@pytest.fixture
def fresh_engine(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """An engine of its own, built from the environment this test sets."""
    db.dispose_engine()
    yield
    monkeypatch.undo()
    reset_settings()
    db.dispose_engine()


def test_a_statement_with_parameters_is_one_round_trip(round_trips: list[int]) -> None:
    with UnitOfWork() as uow:
        uow.scalar("SELECT 1")  # the transaction is open
        before = round_trips[0]
        rows = uow.all(
            "SELECT x, y FROM (VALUES (1, 'a'), (2, NULL), (3, 'c')) v (x, y) WHERE x >= :n ORDER BY x",
            {"n": 2},
        )
        empty = uow.all("SELECT 1 AS one WHERE :flag", {"flag": False})
        money = uow.scalar("SELECT CAST(:a AS numeric(14,2)) + 0.01", {"a": Decimal("10.24")})
        assert round_trips[0] - before == 3
    assert rows == [{"x": 2, "y": None}, {"x": 3, "y": "c"}]
    assert empty == [] and money == Decimal("10.25")


def test_a_unit_of_work_is_its_begin_one_round_trip_per_statement_and_its_commit(
    round_trips: list[int],
) -> None:
    """pg8000's own BEGIN, a simple query of its own (sending it with the first statement saved
    ~0.4 ms of IF-CS-002's p99 and is gone, DECISIONS 22); every statement inside one transaction,
    and the commit made it durable."""
    with UnitOfWork() as uow:
        uow.execute("CREATE TABLE IF NOT EXISTS wire_begin (id int PRIMARY KEY, xid bigint)")
        uow.execute("DELETE FROM wire_begin")
        uow.commit()
    call_atomic("SELECT 1")  # the pooled connection exists, not pinged again

    before = round_trips[0]
    with UnitOfWork() as uow:
        first = uow.scalar("SELECT txid_current()")
        uow.execute("INSERT INTO wire_begin VALUES (:i, txid_current())", {"i": 1})
        assert uow.scalar("SELECT txid_current()") == first  # all three inside one transaction
        uow.commit()
    assert round_trips[0] - before == 5  # BEGIN, three statements, COMMIT
    assert call_atomic("SELECT xid FROM wire_begin WHERE id = 1") == first


def test_a_failed_first_statement_leaves_a_failed_transaction_that_rolls_back() -> None:
    with UnitOfWork() as uow:
        uow.execute("CREATE TABLE IF NOT EXISTS wire_begin_fail (id int PRIMARY KEY)")
        uow.commit()
    with UnitOfWork() as uow:
        with pytest.raises(ProgrammingError, match="division by zero"):
            uow.execute("INSERT INTO wire_begin_fail SELECT 1 / 0")
        with pytest.raises(Exception, match="current transaction is aborted"):
            uow.scalar("SELECT :x", {"x": 1})  # the transaction block is open, and failed
    # the failed block was rolled back on return to the pool: the same connection begins afresh
    with UnitOfWork() as uow:
        uow.execute("INSERT INTO wire_begin_fail VALUES (:i) ON CONFLICT DO NOTHING", {"i": 2})
        uow.commit()
    assert call_atomic("SELECT count(*) FROM wire_begin_fail WHERE id = 2") == 1


def test_a_parameter_that_cannot_be_sent_first_in_a_transaction_leaves_no_transaction_behind() -> None:
    """The failed statement's transaction is rolled back with its unit of work: a later autocommit
    statement on the same pooled connection is not pulled into it."""
    with UnitOfWork() as uow:
        uow.execute("CREATE TABLE IF NOT EXISTS wire_begin_held (id int PRIMARY KEY)")
        uow.execute("DELETE FROM wire_begin_held")
        uow.commit()
    with UnitOfWork() as uow, pytest.raises(UnicodeEncodeError):
        uow.scalar("SELECT :x", {"x": "\ud800"})
    assert call_atomic("INSERT INTO wire_begin_held VALUES ($1) RETURNING id", 3) == 3
    other = create_engine(db.database_url(), poolclass=NullPool)
    with UnitOfWork(other) as uow:  # committed on its own, not left in a transaction
        assert uow.scalar("SELECT count(*) FROM wire_begin_held") == 1


def test_statement_text_that_cannot_be_sent_first_in_a_transaction_leaves_nothing_behind() -> None:
    """A statement whose own text the client encoding cannot carry fails before anything of it is
    written: the transaction goes on with the next statement, and a later autocommit statement on
    the same pooled connection commits on its own."""
    with UnitOfWork() as uow:
        uow.execute("CREATE TABLE IF NOT EXISTS wire_text_held (id int PRIMARY KEY)")
        uow.execute("DELETE FROM wire_text_held")
        uow.commit()
    with UnitOfWork() as uow:
        with pytest.raises(UnicodeEncodeError):
            uow.scalar("SELECT '\ud800' || CAST(:x AS text)", {"x": 1})
        first = uow.scalar("SELECT txid_current()")
        assert uow.scalar("SELECT txid_current()") == first
    with UnitOfWork() as uow, pytest.raises(UnicodeEncodeError):
        uow.execute("SELECT '\ud800'")  # no parameters: the simple-query path
    assert call_atomic("INSERT INTO wire_text_held VALUES ($1) RETURNING id", 5) == 5
    other = create_engine(db.database_url(), poolclass=NullPool)
    with UnitOfWork(other) as uow:
        assert uow.scalar("SELECT count(*) FROM wire_text_held") == 1


def test_a_commit_is_one_round_trip(round_trips: list[int]) -> None:
    with UnitOfWork() as uow:
        uow.scalar("SELECT :x", {"x": 1})
        before = round_trips[0]
        uow.commit()
        assert round_trips[0] - before == 1


def test_server_errors_keep_their_classes_and_the_connection_recovers() -> None:
    """A unique violation is still an IntegrityError (create_order relies on it), a bad statement a
    ProgrammingError, and the same pooled connection serves the next unit of work."""
    with UnitOfWork() as uow:
        uow.execute("CREATE TEMP TABLE wire_probe (id int PRIMARY KEY) ON COMMIT DROP")
        uow.execute("INSERT INTO wire_probe VALUES (:i)", {"i": 1})
        with pytest.raises(IntegrityError):
            uow.execute("INSERT INTO wire_probe VALUES (:i)", {"i": 1})
    with UnitOfWork() as uow, pytest.raises(ProgrammingError):
        uow.scalar("SELEC :x", {"x": 1})
    with UnitOfWork() as uow:
        assert uow.scalar("SELECT :x + 1", {"x": 41}) == 42


def test_call_atomic_is_one_round_trip_and_all_or_nothing(round_trips: list[int]) -> None:
    with UnitOfWork() as uow:
        uow.execute("CREATE TABLE IF NOT EXISTS wire_atomic (id int PRIMARY KEY)")
        uow.execute("DELETE FROM wire_atomic")
        uow.commit()
    call_atomic("SELECT 1")  # the pooled connection exists

    before = round_trips[0]
    assert (
        call_atomic("WITH i AS (INSERT INTO wire_atomic VALUES ($1) RETURNING id) SELECT id FROM i", 1) == 1
    )
    assert round_trips[0] - before == 1  # no BEGIN, no COMMIT: committed with the statement

    with pytest.raises(Exception, match="division by zero"):  # the insert and the failure: one statement
        call_atomic("WITH i AS (INSERT INTO wire_atomic VALUES ($1) RETURNING id) SELECT 1 / 0 FROM i", 2)
    assert call_atomic("SELECT array_agg(id ORDER BY id) FROM wire_atomic") == [1]


def _terminate_pooled_backend() -> None:
    """Drop the server side of the pool's one connection, as a proxy or a failover would."""
    pid = call_atomic("SELECT pg_backend_pid()")
    other = create_engine(db.database_url(), poolclass=NullPool)
    with UnitOfWork(other) as uow:
        assert uow.scalar("SELECT pg_terminate_backend(:p)", {"p": pid}) is True


def test_an_idle_connection_the_server_dropped_is_replaced_before_use(
    monkeypatch: pytest.MonkeyPatch, fresh_engine: None
) -> None:
    monkeypatch.setenv("WATERREV_DB_POOL_SIZE", "1")
    monkeypatch.setenv("WATERREV_DB_PING_AFTER_IDLE_S", "0")  # every checkout counts as idle
    reset_settings()
    _terminate_pooled_backend()

    with UnitOfWork() as uow:  # the ping finds it dead: the pool connects anew, the caller sees nothing
        assert uow.scalar("SELECT CAST(:x AS int)", {"x": 7}) == 7
    assert call_atomic("SELECT 8") == 8


def test_a_busy_connection_is_not_pinged_and_a_dropped_one_fails_once(
    monkeypatch: pytest.MonkeyPatch, fresh_engine: None, round_trips: list[int]
) -> None:
    monkeypatch.setenv("WATERREV_DB_POOL_SIZE", "1")
    monkeypatch.setenv("WATERREV_DB_PING_AFTER_IDLE_S", "3600")
    reset_settings()
    call_atomic("SELECT 1")
    before = round_trips[0]
    assert call_atomic("SELECT 2") == 2
    assert round_trips[0] - before == 1  # no ping on a connection used a moment ago

    _terminate_pooled_backend()
    with pytest.raises((InterfaceError, OSError)):  # whichever the broken socket gives first
        call_atomic("SELECT 3")
    assert call_atomic("SELECT 4") == 4  # the broken connection was thrown away


def test_a_unit_of_work_on_a_dropped_busy_connection_fails_once_then_the_pool_recovers(
    monkeypatch: pytest.MonkeyPatch, fresh_engine: None
) -> None:
    from sqlalchemy.exc import DBAPIError

    monkeypatch.setenv("WATERREV_DB_POOL_SIZE", "1")
    monkeypatch.setenv("WATERREV_DB_PING_AFTER_IDLE_S", "3600")
    reset_settings()
    _terminate_pooled_backend()

    with pytest.raises(DBAPIError) as failed, UnitOfWork() as uow:
        uow.scalar("SELECT CAST(:x AS int)", {"x": 1})
    assert failed.value.connection_invalidated
    with UnitOfWork() as uow:
        assert uow.scalar("SELECT CAST(:x AS int)", {"x": 2}) == 2


def test_a_pg8000_without_the_internals_pgwire_needs_gets_its_own_path_and_a_warning(
    monkeypatch: pytest.MonkeyPatch,
    fresh_engine: None,
    round_trips: list[int],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """An upgraded pg8000 whose send_BIND took another parameter: pgwire notices at connect and
    leaves the connection to pg8000 (three round trips per statement, correct answers)."""
    from pg8000 import legacy

    from waterrev import pgwire

    monkeypatch.setattr(pgwire, "METHODS", {**pgwire.METHODS, "send_BIND": ("self", "portal", "params")})
    pgwire.missing_internals.cache_clear()
    pgwire._warn_fallback.cache_clear()
    try:
        with UnitOfWork() as uow:
            raw = uow.conn.connection.dbapi_connection
            uow.scalar("SELECT 1")
            before = round_trips[0]
            assert uow.scalar("SELECT CAST(:x AS int) + 1", {"x": 41}) == 42
            assert round_trips[0] - before == 3
        assert call_atomic("SELECT $1::int * 2", 21) == 42
    finally:
        monkeypatch.undo()
        pgwire.missing_internals.cache_clear()
        pgwire._warn_fallback.cache_clear()

    assert type(raw) is legacy.Connection
    (warning,) = [r for r in caplog.records if "pgwire was written for" in r.getMessage()]
    assert warning.levelname == "WARNING"
    assert warning.missing == ["pg8000.legacy.Connection.send_BIND('self', 'portal', 'params')"]  # type: ignore[attr-defined]


def test_a_parameter_that_cannot_be_sent_fails_alone_and_leaves_nothing_behind() -> None:
    """A string the client encoding cannot carry (a lone surrogate, as a JSON \\ud800 escape gives)
    fails before anything is written to the socket: the next statement runs clean, with its own result."""
    with UnitOfWork() as uow:
        with pytest.raises(UnicodeEncodeError):
            uow.scalar("SELEC broken :x", {"x": "\ud800"})
        assert uow.scalar("SELECT CAST(:x AS int) + 1", {"x": 1}) == 2


def test_a_second_unit_of_work_inside_an_open_one_is_refused_in_the_tests() -> None:
    """The suite runs with WATERREV_DB_FORBID_NESTED=1: code that opens a unit of work (or call_atomic)
    while one is open in the same thread fails at once, where Lambda's one-connection pool would wait
    for itself until its timeout. Units of work one after the other are fine, also after a refusal."""
    with UnitOfWork() as uow:
        assert uow.scalar("SELECT 1") == 1
        with pytest.raises(RuntimeError, match="wait for itself"), UnitOfWork():
            pass
        with pytest.raises(RuntimeError, match="wait for itself"):
            call_atomic("SELECT 1")
    with UnitOfWork() as uow:
        assert uow.scalar("SELECT 2") == 2
    assert call_atomic("SELECT 3") == 3
