"""The tables each interface touches while a test calls it through tests.support.call, checked
against what the catalog declares (`Interface.reads` / `writes`, waterrev/catalog.py).

Every statement the driver sends is seen, whichever way it went: SQLAlchemy statements, `call_atomic`
and COPY through pg8000's `run` (the bill writer's path, which SQLAlchemy's events never see). Its
tables come from its words (waterrev.local.sqltables: INSERT/UPDATE/DELETE/COPY targets are writes,
FROM/JOIN/USING reads) and a call of one of our database functions counts as everything that
function's text touches. A statement outside `interface()` (a test's own SQL, a workflow's thread)
belongs to no interface and is not checked.

`install` starts it (tests/integration/conftest.py, once per session); each test then fails when an
interface touched a table it does not declare (`take_violations`). `WATERREV_SQLTRACE_REPORT=<file>`
writes what each interface was seen touching, in catalog.TABLES' notation, at the end of the session.
"""

from __future__ import annotations

import functools
import threading
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from waterrev.local import sqltables

_current = threading.local()
_lock = threading.Lock()
_known: frozenset[str] = frozenset()
_functions: dict[str, sqltables.Access] = {}
_cache: dict[str, sqltables.Access] = {}
seen: dict[str, dict[str, set[str]]] = defaultdict(lambda: {"reads": set(), "writes": set()})
_violations: list[str] = []


@contextmanager
def interface(if_id: str) -> Iterator[None]:
    """Statements sent by this thread meanwhile are the interface's."""
    previous = getattr(_current, "if_id", None)
    _current.if_id = if_id
    try:
        yield
    finally:
        _current.if_id = previous


def install(known_tables: set[str], function_texts: dict[str, str]) -> Callable[[], None]:
    """Wrap the driver's statement methods; return the function that unwraps them."""
    from pg8000 import core

    from waterrev import pgwire

    global _known, _functions
    _known = frozenset(known_tables)
    _functions = sqltables.function_access(function_texts, _known)
    undo = []
    for cls in (core.CoreConnection, pgwire.OneTripConnection):
        for name in ("execute_unnamed", "execute_simple"):
            if name in vars(cls):
                original = vars(cls)[name]
                setattr(cls, name, _traced(original))
                undo.append((cls, name, original))

    def uninstall() -> None:
        for cls, name, original in undo:
            setattr(cls, name, original)

    return uninstall


def _traced(method: Any) -> Any:
    @functools.wraps(method)  # the same signature: pgwire checks the driver's methods by theirs
    def traced(self: Any, statement: str, *args: Any, **kwargs: Any) -> Any:
        if_id = getattr(_current, "if_id", None)
        if if_id is not None:
            _record(if_id, statement)
        return method(self, statement, *args, **kwargs)

    return traced


def _record(if_id: str, statement: str) -> None:
    from waterrev import catalog

    access = _cache.get(statement)
    if access is None:
        access = _cache[statement] = sqltables.with_functions(statement, _known, _functions)
    if not access.reads and not access.writes:
        return
    declared = catalog.by_id(if_id)
    undeclared_writes = access.writes - set(declared.writes)
    undeclared_reads = access.reads - set(declared.reads) - set(declared.writes)
    with _lock:
        seen[if_id]["reads"] |= access.reads - access.writes
        seen[if_id]["writes"] |= access.writes
        for kind, tables in (("writes", undeclared_writes), ("reads", undeclared_reads)):
            for table in sorted(tables):
                _violations.append(
                    f"{if_id} {kind} {table}, not declared in catalog.TABLES: {statement[:160]!r}"
                )


def take_violations() -> list[str]:
    with _lock:
        found = list(dict.fromkeys(_violations))
        _violations.clear()
    return found


def report() -> str:
    """What each interface was seen touching, in the catalog's notation."""
    lines = []
    for if_id in sorted(seen):
        writes = sorted(seen[if_id]["writes"])
        reads = sorted(seen[if_id]["reads"] - seen[if_id]["writes"])
        lines.append(
            f'    "{if_id}": Tables(\n        reads={tuple(reads)!r},\n        writes={tuple(writes)!r},\n    ),'
        )
    return "\n".join(lines)
