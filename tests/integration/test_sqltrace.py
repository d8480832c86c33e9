"""The SQL tracer (tests/sqltrace.py) catches an interface touching a table the catalog does not
declare, whichever way the statement went: through SQLAlchemy, through `call_atomic` (and the
database function it calls), or as COPY through pg8000's `run`."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import pytest

from tests import sqltrace
from tests.support import admin_login, call, new_bills, notify_payload, signed_notification
from waterrev import catalog


@pytest.fixture
def undeclare(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., None]]:
    """Drop tables from an interface's declaration for one test; the violations are the test's to read."""

    def drop(if_id: str, *tables: str) -> None:
        declared = catalog.TABLES[if_id]
        monkeypatch.setitem(
            catalog.TABLES,
            if_id,
            catalog.Tables(
                tuple(t for t in declared.reads if t not in tables),
                tuple(t for t in declared.writes if t not in tables),
            ),
        )

    yield drop
    sqltrace.take_violations()  # seen by the test; not the autouse check's to report


def test_a_statement_through_sqlalchemy_on_an_undeclared_table_is_reported(
    undeclare: Callable[..., None],
) -> None:
    token = admin_login()
    undeclare("IF-UP-002", "system_menu")

    reply = call("GET", "/admin-api/system/auth/get-permission-info", token=token)

    assert reply.code == 0
    violations = sqltrace.take_violations()
    assert violations and all(v.startswith("IF-UP-002 reads system_menu,") for v in violations), violations


def test_copy_through_the_driver_is_seen_as_a_write(undeclare: Callable[..., None]) -> None:
    token = admin_login()
    undeclare("IF-REV-005", "biz_charge_detail")

    new_bills(token, ["2031-01"])  # IF-REV-005 writes the bill's lines with COPY

    violations = sqltrace.take_violations()
    assert [v.split(":")[0] for v in violations] == [
        "IF-REV-005 writes biz_charge_detail, not declared in catalog.TABLES"
    ], violations
    assert "COPY biz_charge_detail" in violations[0]


def test_a_database_function_called_through_call_atomic_counts_what_it_touches(
    undeclare: Callable[..., None], monkeypatch: pytest.MonkeyPatch
) -> None:
    from waterrev.adapters import paysign
    from waterrev.settings import reset_settings

    private, public = paysign.new_key_pair()
    monkeypatch.setenv("WATERREV_SYS009_PLATFORM_KEYS", json.dumps({paysign.key_serial(public): public}))
    reset_settings()
    undeclare("IF-EXT-005", "bk_transaction_exception")
    headers, raw = signed_notification(private, notify_payload("T-TRACE-1", "DD-TRACE-1", "SUCCESS", "1.00"))

    try:
        call("POST", "/open-api/pay/notify", raw_body=raw, headers=headers)
    finally:
        monkeypatch.undo()
        reset_settings()

    (violation,) = sqltrace.take_violations()
    assert violation.startswith("IF-EXT-005 writes bk_transaction_exception,"), violation
    assert "pay_notify_accept(p_actor =>" in violation
