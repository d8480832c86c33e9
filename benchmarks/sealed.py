"""Mobiles for the benchmarks' seeded customers, stored as the customers' use case stores them (DECISIONS 115:
the masked value, its seal and its blind index): a customer seeded with a plain mobile would get no SMS, so a
benchmark of a path that queues one would measure less than production does.

    slots = sealed.mobiles(uow, 1000)   # the temporary table bench_mobile(slot, mobile, mobile_cipher, mobile_index)
    "... JOIN bench_mobile m ON m.slot = mod(g, 1000) ..."
"""

from __future__ import annotations

from typing import Any


def mobiles(uow: Any, count: int = 1000, prefix: str = "139") -> int:
    """Create (or refill) the temporary table bench_mobile with `count` distinct sealed mobiles, slots 0..count-1."""
    from waterrev import crypto

    keys = crypto.keys(uow.conn)
    uow.execute(
        "CREATE TEMPORARY TABLE IF NOT EXISTS bench_mobile (slot int PRIMARY KEY, mobile varchar(32),"
        " mobile_cipher bytea, mobile_index varchar(64))"
    )
    uow.execute("TRUNCATE bench_mobile")
    rows = []
    for slot in range(count):
        sealed = keys.pii(crypto.MOBILE, f"{prefix}{slot:08d}")
        rows.append({"s": slot, "m": sealed.masked, "c": sealed.cipher, "i": sealed.index})
    from sqlalchemy import text

    uow.conn.execute(
        text("INSERT INTO bench_mobile (slot, mobile, mobile_cipher, mobile_index) VALUES (:s, :m, :c, :i)"),
        rows,
    )
    return count
