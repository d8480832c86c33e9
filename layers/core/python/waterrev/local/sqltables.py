"""Which tables a SQL text reads and writes, by its words: INSERT INTO, UPDATE, DELETE FROM, COPY,
TRUNCATE and MERGE INTO name the tables written; FROM (with its comma list), JOIN and USING name the
tables read. Only names of real tables count (the caller passes them), so aliases, CTEs, columns
after `IS DISTINCT FROM` and set-returning functions fall away on their own. A call of one of our
database functions counts as everything its own text touches (`with_functions`).

Not a parser: it reads our own statements, which are written plainly. Used by the schema document
and by the tests' SQL tracer (tests/sqltrace.py), which checks the catalog's reads/writes.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field

_COMMENTS = re.compile(r"--[^\n]*|/\*.*?\*/", re.DOTALL)
_STRINGS = re.compile(r"'(?:[^']|'')*'")
_DOLLAR_QUOTES = re.compile(r"\$\w*\$")
_TOKENS = re.compile(r'"?[A-Za-z_][\w$]*"?(?:\."?[A-Za-z_][\w$]*"?)?|[(),;]|=>|\S')
_STOP = {  # words that end a FROM list (anything else after a table is its alias)
    "WHERE",
    "JOIN",
    "INNER",
    "LEFT",
    "RIGHT",
    "FULL",
    "CROSS",
    "NATURAL",
    "ON",
    "USING",
    "GROUP",
    "ORDER",
    "LIMIT",
    "OFFSET",
    "FOR",
    "HAVING",
    "WINDOW",
    "UNION",
    "EXCEPT",
    "INTERSECT",
    "RETURNING",
    "SET",
    "VALUES",
    "SELECT",
    "WITH",
    "TABLESAMPLE",
    "FETCH",
    "INTO",
    "LOOP",
    "THEN",
    "AND",
    "OR",
}


@dataclass(frozen=True)
class Access:
    reads: frozenset[str] = field(default_factory=frozenset)
    writes: frozenset[str] = field(default_factory=frozenset)

    def __or__(self, other: Access) -> Access:
        return Access(self.reads | other.reads, self.writes | other.writes)


def _words(sql: str) -> list[str]:
    sql = _COMMENTS.sub(" ", sql)
    sql = _STRINGS.sub("''", sql)
    sql = _DOLLAR_QUOTES.sub(" ", sql)  # a function's body is read as statements
    return [t.replace('"', "").split(".")[-1] for t in _TOKENS.findall(sql)]


def tables(sql: str, known: Collection[str]) -> Access:
    """The known tables `sql` reads and writes (a table both read and written is in both)."""
    words = _words(sql)
    upper = [w.upper() for w in words]
    reads: set[str] = set()
    writes: set[str] = set()

    def table_at(i: int) -> tuple[str | None, int]:
        """The table named at i (after ONLY / LATERAL), and the index after it."""
        while i < len(words) and upper[i] in ("ONLY", "LATERAL", "TABLE"):
            i += 1
        if i < len(words) and words[i] in known:
            return words[i], i + 1
        return None, i + 1

    def from_list(i: int) -> None:
        """A FROM list starting at i: table [AS] [alias] (, table [AS] [alias])*."""
        while i < len(words):
            name, i = table_at(i)
            if name is not None:
                reads.add(name)
            if i < len(words) and upper[i] == "AS":
                i += 1
            if i < len(words) and re.fullmatch(r"\w+", words[i]) and upper[i] not in _STOP:
                i += 1  # the alias
            if i < len(words) and words[i] == ",":
                i += 1
                continue
            return

    for i, word in enumerate(upper):
        before = upper[i - 1] if i else ""
        targets = (word == "INTO" and before in ("INSERT", "MERGE")) or (
            word == "FROM" and before == "DELETE"
        )
        if targets or word in ("UPDATE", "TRUNCATE"):
            name, _ = table_at(i + 1)
            if name:
                writes.add(name)
        elif word == "COPY":
            name, after = table_at(i + 1)
            direction = next((w for w in upper[after:] if w in ("FROM", "TO")), "FROM")
            if name:
                (writes if direction == "FROM" else reads).add(name)
        elif word == "FROM" and before != "DELETE":
            from_list(i + 1)
        elif word in ("JOIN", "USING"):
            name, _ = table_at(i + 1)
            if name:
                reads.add(name)
    return Access(frozenset(reads), frozenset(writes))


def calls(sql: str, functions: Collection[str]) -> set[str]:
    """Which of `functions` the text calls."""
    words = _words(sql)
    return {w for i, w in enumerate(words[:-1]) if w in functions and words[i + 1] == "("}


def function_access(texts: Mapping[str, str], known: Collection[str]) -> dict[str, Access]:
    """Each function's access: what its own text touches, and all the functions it calls touch."""
    own = {name: tables(text, known) for name, text in texts.items()}
    called = {name: calls(text, texts) - {name} for name, text in texts.items()}
    result = {}
    for name in texts:
        access, seen, todo = own[name], {name}, list(called[name])
        while todo:
            other = todo.pop()
            if other not in seen:
                seen.add(other)
                access |= own[other]
                todo += called[other]
        result[name] = access
    return result


def with_functions(sql: str, known: Collection[str], functions: Mapping[str, Access]) -> Access:
    """The statement's own access and that of every database function it calls."""
    access = tables(sql, known)
    for name in calls(sql, functions):
        access |= functions[name]
    return access
