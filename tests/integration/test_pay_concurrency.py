"""IF-EXT-005 under load: ORDERS orders (default 200) each receive COPIES identical, properly signed SUCCESS
callbacks (default 50) at once from a pool of 16 threads calling `payment_notify.handle` directly, while
counter payments race the callbacks on the bills of a fifth of the orders. Exactly one write-off per bill,
every callback kept, and the books balance."""

from __future__ import annotations

import json
import os
import random
import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any

import pytest

from tests.support import (
    admin_login,
    new_customer,
    notify_payload,
    signed_notification,
    sql_all,
    sql_exec,
    unique,
)

ORDERS = int(os.environ.get("PAY_CONCURRENCY_ORDERS", "200"))
COPIES = int(os.environ.get("PAY_CONCURRENCY_COPIES", "50"))
CUSTOMERS = 20
THREADS = 16


@pytest.fixture
def platform_key(monkeypatch: pytest.MonkeyPatch) -> str:
    """A platform key pair of our own, its public half registered as WATERREV_SYS009_PLATFORM_KEYS."""
    from waterrev.adapters import paysign
    from waterrev.settings import reset_settings

    private, public = paysign.new_key_pair()
    monkeypatch.setenv("WATERREV_SYS009_PLATFORM_KEYS", json.dumps({paysign.key_serial(public): public}))
    reset_settings()
    yield private
    monkeypatch.undo()
    reset_settings()


def seed_orders(token: str) -> tuple[list[int], list[dict[str, Any]]]:
    """CUSTOMERS new customers; ORDERS bills spread over them, each in an online order at SYS-009 (rows as
    create_order leaves them once SYS-009 accepted: PAYING with a tradeNo, the bill held live). Every fifth
    order has FAILED already (its bill free again), so a counter payment can race its late SUCCESS."""
    custs = [int(new_customer(token)["id"]) for _ in range(CUSTOMERS)]
    orders = []
    for n in range(ORDERS):
        cust = custs[n % CUSTOMERS]
        amount = Decimal(f"{10 + n % 37}.{n % 100:02d}")
        racing = n % 5 == 0
        charge = sql_exec(
            "INSERT INTO biz_charge (code, cust_id, account_id, bill_period, usage_amount, total_amount, due_date)"
            " SELECT :code, :c, a.id, '2020-10', 10, :amt, DATE '2020-11-15' FROM biz_account a WHERE a.cust_id = :c"
            " ORDER BY a.id LIMIT 1 RETURNING id",
            {"code": unique("CC"), "c": cust, "amt": amount},
        )
        order_no, trade_no = f"DD{unique('')[-12:]}{n:04d}", unique("TC")
        sql_exec(
            "INSERT INTO bk_transaction (biz_order_no, trade_no, cust_id, channel_code, scene, trade_amount, status,"
            " expire_time, request_key, next_query_time) VALUES (:o, :t, :c, 'WECHAT', 'ONLINE', :amt, :st,"
            " now() + interval '2 hours', :k, now() + interval '1 day')",
            {
                "o": order_no,
                "t": trade_no,
                "c": cust,
                "amt": amount,
                "st": "FAIL" if racing else "PAYING",
                "k": f"{cust}|{charge}|WECHAT|ONLINE",
            },
        )
        sql_exec(
            "INSERT INTO biz_order_charge (biz_order_no, charge_id, amount, live) VALUES (:o, :c, :a, :l)",
            {"o": order_no, "c": charge, "a": amount, "l": not racing},
        )
        orders.append(
            {
                "order_no": order_no,
                "trade_no": trade_no,
                "cust": cust,
                "charge": charge,
                "amount": amount,
                "racing": racing,
            }
        )
    return custs, orders


def test_identical_callbacks_and_counter_payments_write_each_bill_off_once_and_the_books_balance(
    platform_key: str,
) -> None:
    """Given ORDERS orders and, for every fifth, a counter payment on its bill, when COPIES identical signed
    SUCCESS callbacks per order and the counter payments run concurrently on 16 threads, then every callback
    answers (one PROCESSED, the rest DUPLICATE), each bill has exactly one write-off, every callback is kept,
    and per customer: collected = written off + balance changes; each bill's paid amount = its write-off."""
    from waterrev.context import SYSTEM, RequestContext
    from waterrev.errors import AppError
    from waterrev.payments import collection
    from waterrev.payments import notify as payment_notify
    from waterrev.payments.models.collection import CollectionCreate

    custs, orders = seed_orders(admin_login())
    tasks: list[tuple[str, Any]] = []
    for order in orders:
        payload = notify_payload(order["trade_no"], order["order_no"], "SUCCESS", order["amount"])
        headers, raw = signed_notification(platform_key, payload)
        copies: list[tuple[str, Any]] = [("notify", (order, headers, raw))] * COPIES
        if order["racing"]:
            copies.insert(random.randrange(COPIES), ("counter", order))
        tasks.extend(copies)

    def run(task: tuple[str, Any]) -> tuple[str, str, str]:
        kind, arg = task
        ctx = RequestContext(request_id=unique("conc-"), principal=SYSTEM)
        if kind == "notify":
            order, headers, raw = arg
            return order["order_no"], kind, payment_notify.handle(ctx, headers, raw)["writeBackStatus"]
        cmd = CollectionCreate.model_validate(
            {
                "custId": arg["cust"],
                "chargeIds": [arg["charge"]],
                "paymentChannel": "CASH",
                "paymentAmount": str(arg["amount"]),
            }
        ).command()
        try:
            return arg["order_no"], kind, collection.collect(ctx, cmd)["writeOffStatus"]
        except AppError as exc:
            return arg["order_no"], kind, str(exc.error.code)

    started = time.monotonic()
    with ThreadPoolExecutor(THREADS) as pool:
        results = list(pool.map(run, tasks))
    elapsed = time.monotonic() - started
    print(
        f"\n{len(tasks)} tasks ({ORDERS} orders x {COPIES} callbacks) on {THREADS} threads: {elapsed:.1f} s"
    )

    # every callback answered: per order exactly one SUCCESS, the other copies DUPLICATE
    by_order: dict[str, list[str]] = {}
    for order_no, kind, outcome in results:
        if kind == "notify":
            by_order.setdefault(order_no, []).append(outcome)
    assert all(sorted(v) == ["DUPLICATE"] * (COPIES - 1) + ["SUCCESS"] for v in by_order.values())
    assert len(by_order) == ORDERS
    counter = {o: r for o, k, r in results if k == "counter"}
    assert set(counter.values()) <= {"SUCCESS", "1002003001"}, counter

    ids = {"c": custs}
    # exactly one write-off per bill, and each bill's paid amount is its write-off
    bills = sql_all(
        "SELECT c.id, c.status, c.total_amount, c.paid_amount, count(i.id) AS lines, COALESCE(sum(i.amount), 0) AS items"
        " FROM biz_charge c LEFT JOIN biz_collection_item i ON i.charge_id = c.id"
        " WHERE c.cust_id = ANY(CAST(:c AS bigint[])) GROUP BY c.id",
        ids,
    )
    assert len(bills) == ORDERS
    assert all(
        b["lines"] == 1 and b["status"] == "PAID" and b["paid_amount"] == b["items"] == b["total_amount"]
        for b in bills
    )
    # every callback kept: COPIES per trade, one primary
    kept = sql_all(
        "SELECT trade_no, count(*) AS n, count(*) FILTER (WHERE is_primary) AS primaries FROM bk_transaction_callback"
        " WHERE trade_no = ANY(CAST(:t AS varchar[])) GROUP BY trade_no",
        {"t": [o["trade_no"] for o in orders]},
    )
    assert len(kept) == ORDERS and all((k["n"], k["primaries"]) == (COPIES, 1) for k in kept)
    # the racing bills: either the counter or the callback wrote it off, the other's money (if taken) to the balance
    racing = [o for o in orders if o["racing"]]
    elsewhere = sql_all(
        "SELECT ref_no, change_amount FROM biz_account_flow WHERE biz_type = 'PAID_ELSEWHERE'"
        " AND ref_no = ANY(CAST(:o AS varchar[]))",
        {"o": [o["order_no"] for o in racing]},
    )
    counter_won = {o for o, r in counter.items() if r == "SUCCESS"}
    assert {e["ref_no"] for e in elsewhere} == counter_won
    print(
        f"racing bills: {len(racing)}, counter first on {len(counter_won)}, callback first on {len(racing) - len(counter_won)}"
    )
    # the books balance per customer: collected = written off + balance changes (PREPAY_USE excluded)
    books = sql_all(
        "SELECT a.cust_id,"
        " (SELECT COALESCE(sum(amount), 0) FROM biz_collection WHERE cust_id = a.cust_id) AS collected,"
        " (SELECT COALESCE(sum(i.amount), 0) FROM biz_collection_item i JOIN biz_collection k ON k.id = i.collection_id"
        "  WHERE k.cust_id = a.cust_id) AS written_off,"
        " (SELECT COALESCE(sum(change_amount), 0) FROM biz_account_flow f WHERE f.account_id = a.id"
        "  AND f.biz_type <> 'PREPAY_USE') AS to_balance,"
        " a.balance"
        " FROM biz_account a WHERE a.cust_id = ANY(CAST(:c AS bigint[]))",
        ids,
    )
    assert len(books) == CUSTOMERS
    for row in books:
        assert row["collected"] == row["written_off"] + row["to_balance"], row
        assert row["balance"] == row["to_balance"], row
    # in all: every bill once, plus the callbacks' money for bills the counter had taken
    assert sum(b["collected"] for b in books) == sum(o["amount"] for o in orders) + sum(
        e["change_amount"] for e in elsewhere
    )
