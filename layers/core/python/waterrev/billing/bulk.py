"""COPY for the bill writers: rows as tab-separated text through the unit of work's own connection (in
its transaction). About 130,000 rows/s where executemany manages 4,000 (docs/GUIDE facts, DECISIONS 15).
The writers format every value themselves - numbers, dates, times, periods, codes - so nothing needs
COPY escaping; `copy_value` writes None as NULL."""

from __future__ import annotations

import datetime as dt
import io

from waterrev.db import UnitOfWork


def copy_rows(uow: UnitOfWork, table: str, columns: tuple[str, ...], text: str) -> None:
    raw = uow.conn.connection.dbapi_connection
    raw.run(f"COPY {table} ({', '.join(columns)}) FROM STDIN", stream=io.StringIO(text))  # type: ignore[union-attr]


def copy_value(value: object) -> str:
    return "\\N" if value is None else str(value)


def draw(uow: UnitOfWork, sequences: tuple[str, ...], n: int) -> tuple[list[list[int]], dt.datetime]:
    """`n` values of each sequence (row by row, so the k-th values belong together) and the transaction's
    now(). The values come back as one text each: pg8000 parses an array of 5,000 numbers element by
    element, several times slower than splitting a string."""
    columns = ", ".join(f"string_agg(nextval('{s}')::text, ',') AS s{i}" for i, s in enumerate(sequences))
    row = uow.one(f"SELECT {columns}, now() AS at FROM generate_series(1, :n)", {"n": n})
    assert row is not None
    return [[int(v) for v in row[f"s{i}"].split(",")] for i in range(len(sequences))], row["at"]
