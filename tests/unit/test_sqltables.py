"""Reading a statement's tables from its words (waterrev.local.sqltables), as the SQL tracer and the
schema document do."""

from __future__ import annotations

import pytest

from waterrev import sql
from waterrev.local.sqltables import Access, function_access, tables, with_functions

KNOWN = {
    "biz_account",
    "biz_account_flow",
    "biz_charge",
    "biz_collection",
    "biz_collection_item",
    "biz_cust",
    "biz_operat_log",
    "biz_order_charge",
    "biz_penalty_waiver",
    "bk_transaction",
    "bk_transaction_callback",
    "bk_transaction_exception",
}


def access(reads: set[str] | None = None, writes: set[str] | None = None) -> Access:
    return Access(frozenset(reads or ()), frozenset(writes or ()))


@pytest.mark.parametrize(
    ("statement", "expected"),
    [
        ("SELECT * FROM biz_cust WHERE id = $1", access({"biz_cust"})),
        (
            "SELECT c.id FROM biz_order_charge o JOIN biz_charge c ON c.id = o.charge_id"
            " WHERE o.biz_order_no = $1 ORDER BY c.id FOR UPDATE OF c",
            access({"biz_order_charge", "biz_charge"}),
        ),
        (
            "SELECT 1 FROM biz_cust c, biz_account AS a WHERE a.cust_id = c.id",
            access({"biz_cust", "biz_account"}),
        ),
        (
            "INSERT INTO biz_collection (code, amount) VALUES ($1, $2) RETURNING id",
            access(writes={"biz_collection"}),
        ),
        (
            "INSERT INTO biz_operat_log (object_id) SELECT CAST(id AS text) FROM biz_cust",
            access({"biz_cust"}, {"biz_operat_log"}),
        ),
        (
            "UPDATE biz_account a SET balance = 0 FROM biz_charge c WHERE c.account_id = a.id",
            access({"biz_charge"}, {"biz_account"}),
        ),
        (
            "DELETE FROM biz_order_charge USING bk_transaction t WHERE t.id = 1",
            access({"bk_transaction"}, {"biz_order_charge"}),
        ),
        ("COPY biz_charge (code, cust_id) FROM STDIN", access(writes={"biz_charge"})),
        (
            "WITH released AS (UPDATE biz_order_charge SET live = false WHERE biz_order_no = $1)"
            " UPDATE bk_transaction SET status = 'SUCCESS' WHERE id = $2",
            access(writes={"biz_order_charge", "bk_transaction"}),
        ),
        (
            "INSERT INTO bk_transaction_callback (trade_no) VALUES ($1) ON CONFLICT (trade_no) DO UPDATE SET x = 1",
            access(writes={"bk_transaction_callback"}),
        ),
        (  # aliases, CTE names, set-returning functions, columns and strings are not tables
            "WITH biz AS (SELECT 1) SELECT * FROM biz, unnest($1) AS l (id) WHERE 'FROM biz_cust' IS DISTINCT FROM"
            " status -- FROM biz_account",
            access(),
        ),
        ('SELECT * FROM public."biz_cust"', access({"biz_cust"})),
        ("SELECT 1", access()),
    ],
)
def test_a_statement_reads_its_from_and_join_tables_and_writes_its_targets(
    statement: str, expected: Access
) -> None:
    assert tables(statement, KNOWN) == expected


def test_a_call_of_a_database_function_touches_what_its_text_and_the_functions_it_calls_touch() -> None:
    functions = function_access({f.name: f.text for f in sql.functions()}, KNOWN)

    notify = with_functions(
        "SELECT pay_notify_accept(p_actor => CAST($1 AS jsonb), p_raw => $2)", KNOWN, functions
    )

    assert functions["rev_audit"] == access(writes={"biz_operat_log"})
    assert notify.writes == {
        "bk_transaction_callback",  # its own
        "bk_transaction",  # pay_apply_status's
        "biz_order_charge",
        "bk_transaction_exception",
        "biz_account",
        "biz_collection",
        "biz_account_flow",
        "biz_charge",  # rev_write_off's
        "biz_collection_item",
        "biz_operat_log",  # rev_audit's
    }
    assert notify.reads == {
        "bk_transaction",
        "biz_account",
        "biz_order_charge",
        "biz_charge",
        "biz_collection",  # rev_held_penalty_due's: the penalty paid and waived since an order was made
        "biz_collection_item",
        "biz_penalty_waiver",
    }
