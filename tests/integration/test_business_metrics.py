"""Business metrics (waterrev.metrics): each handler prints, once per invocation, an embedded-metric-format
line carrying what its use cases committed - bills generated, payments settled, exceptions opened,
messages dead-lettered - and each compensation job the backlogs it left; nothing for a rolled-back change."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.support import (
    admin_login,
    bind,
    call,
    channel_login,
    generate,
    metered,
    new_admin_user,
    new_bills,
    new_customer,
    new_office,
    overdue_bills,
    reminder_body,
    sql_exec,
    sql_scalar,
    submit_reading,
    unique,
)
from waterrev import metrics
from waterrev.local.gateway import FakeLambdaContext

Emitted = Callable[[], list[dict[str, Any]]]


@pytest.fixture
def emitted(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Iterator[Emitted]:
    """Metrics on (as in Lambda), the set empty; returns a reader of the EMF lines printed since."""
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    metrics.flush()
    capsys.readouterr()

    def read() -> list[dict[str, Any]]:
        out = capsys.readouterr().out
        return [json.loads(line) for line in out.splitlines() if line.startswith("{") and '"_aws"' in line]

    yield read
    metrics.flush()


def total(lines: list[dict[str, Any]], name: str) -> float:
    """The sum of `name` over the lines, after checking each line's namespace and dimension."""
    found = 0.0
    for line in lines:
        (directive,) = line["_aws"]["CloudWatchMetrics"]
        if name not in {m["Name"] for m in directive["Metrics"]}:
            continue
        assert directive["Namespace"] == "waterrev" and directive["Dimensions"] == [["service"]]
        assert line["service"] == metrics.SERVICE
        value = line[name]
        found += sum(value) if isinstance(value, list) else value
    return found


def gauge(lines: list[dict[str, Any]], name: str) -> list[float]:
    values: list[float] = []
    for line in lines:
        if name in line:
            values += line[name] if isinstance(line[name], list) else [line[name]]
    return values


def test_a_cash_payment_at_the_counter_counts_one_payment_settled(admin: str, emitted: Emitted) -> None:
    """Given a bill, when the counter collects it in cash (IF-REV-006), then the handler's one EMF line
    counts PaymentsSettled 1 in the waterrev namespace, dimension service=waterrev."""
    cust, (bill,) = new_bills(admin, ["2022-03"])
    emitted()

    paid = call(
        "POST",
        "/admin-api/revenue/collection/create",
        {
            "custId": cust,
            "chargeIds": [bill["id"]],
            "paymentChannel": "CASH",
            "paymentAmount": str(bill["total_amount"]),
        },
        token=admin,
    )

    assert paid.code == 0, paid.body
    lines = emitted()
    assert len(lines) == 1 and total(lines, metrics.PAYMENTS_SETTLED) == 1


def test_a_refused_payment_counts_nothing(admin: str, emitted: Emitted) -> None:
    """Given a bill, when the counter is given less than it owes (refused), then no payment is counted."""
    cust, (bill,) = new_bills(admin, ["2022-04"])
    emitted()

    short = call(
        "POST",
        "/admin-api/revenue/collection/create",
        {"custId": cust, "chargeIds": [bill["id"]], "paymentChannel": "CASH", "paymentAmount": "0.01"},
        token=admin,
    )

    assert short.code != 0, short.body
    assert total(emitted(), metrics.PAYMENTS_SETTLED) == 0


def test_a_count_is_published_only_when_its_transaction_commits(emitted: Emitted) -> None:
    """on_commit: a unit of work that rolls back counts nothing; one that commits counts once."""
    from waterrev.db import UnitOfWork

    with UnitOfWork() as uow:
        metrics.on_commit(uow, metrics.PAYMENTS_SETTLED)
        uow.execute("SELECT 1")
    metrics.flush()
    assert emitted() == []

    with UnitOfWork() as uow:
        metrics.on_commit(uow, metrics.PAYMENTS_SETTLED, 2)
        uow.commit()
    metrics.flush()
    assert total(emitted(), metrics.PAYMENTS_SETTLED) == 2


def test_a_count_made_inside_a_savepoint_goes_with_it(emitted: Emitted) -> None:
    """A use case counted inside a savepoint (banking.batch._write_off_item writes each withholding line
    under one): rolled back to, the count is dropped with what it undid, even when the transaction then
    commits; released, it is published when the transaction commits; an inner one released inside an
    outer one rolled back is dropped too."""
    from waterrev.db import UnitOfWork

    with UnitOfWork() as uow:
        metrics.on_commit(uow, metrics.PAYMENTS_SETTLED, 1)
        undone = uow.conn.begin_nested()
        metrics.on_commit(uow, metrics.PAYMENTS_SETTLED, 10)
        undone.rollback()
        kept = uow.conn.begin_nested()
        metrics.on_commit(uow, metrics.PAYMENTS_SETTLED, 100)
        kept.commit()
        outer = uow.conn.begin_nested()
        inner = uow.conn.begin_nested()
        metrics.on_commit(uow, metrics.PAYMENTS_SETTLED, 1000)
        inner.commit()
        metrics.on_commit(uow, metrics.PAYMENTS_SETTLED, 10000)
        outer.rollback()
        uow.commit()
    metrics.flush()
    assert total(emitted(), metrics.PAYMENTS_SETTLED) == 101

    with UnitOfWork() as uow:  # released, then the whole transaction rolled back: nothing
        kept = uow.conn.begin_nested()
        metrics.on_commit(uow, metrics.PAYMENTS_SETTLED, 5)
        kept.commit()
    metrics.flush()
    assert emitted() == []


def test_an_amount_mismatch_counts_an_exception_and_its_booking_a_payment(
    admin: str, sys009: Any, emitted: Emitted
) -> None:
    """Given SYS-009 reporting less than a counter order, when its notification lands (IF-EXT-005), then
    PaymentExceptionsOpened is 1 and no payment is counted; when a reviewer books the amount received,
    PaymentsSettled is 1."""
    admin_id = int(sql_scalar("SELECT id FROM system_users WHERE username = 'admin'"))
    _, (bill,) = new_bills(admin, ["2022-05"])
    order = call(
        "POST",
        "/admin-api/counter/scan-pay/create",
        {
            "counterCode": "GL-01",
            "chargeIds": [bill["id"]],
            "paymentChannel": "WECHAT",
            "orderAmount": str(bill["total_amount"]),
            "operatorId": admin_id,
        },
        token=admin,
    )
    assert order.code == 0, order.body
    sys009.behaviour(wrongAmount="-1.00")
    emitted()

    sys009.pay(order.data["tradeNo"])
    assert sys009.wait_idle(10)

    lines = emitted()
    assert total(lines, metrics.PAYMENT_EXCEPTIONS_OPENED) == 1
    assert total(lines, metrics.PAYMENTS_SETTLED) == 0

    exception_id = sql_scalar(
        "SELECT id FROM bk_transaction_exception WHERE biz_order_no = :o", {"o": order.data["bizOrderNo"]}
    )
    decided = call(
        "POST",
        "/admin-api/revenue/collection/exception/resolve",
        {"id": exception_id, "action": "WRITE_OFF_PAID", "remark": "按实收入账"},
        token=admin_login(new_admin_user(), "Passw0rd!"),
    )
    assert decided.code == 0, decided.body
    assert total(emitted(), metrics.PAYMENTS_SETTLED) == 1


def test_the_payment_compensation_publishes_its_backlogs(admin: str, sys009: Any, emitted: Emitted) -> None:
    """Given an online order two hours past its expiry that compensation backs off from, when the
    scheduled job runs, then it publishes PaymentCompensationBacklog (at least that order), and the refund
    and withholding backlogs, each equal to what the database holds."""
    from functions.job_pay_compensate.handler import handler

    cust, (bill,) = new_bills(admin, ["2022-06"])
    openid = unique("wx-metrics-")
    member = channel_login(openid)
    assert bind(member, openid, cust).code == 0
    order = call(
        "POST",
        "/app-api/customer/payment/order",
        {
            "custId": cust,
            "chargeIds": [bill["id"]],
            "paymentChannel": "WECHAT",
            "paymentAmount": str(bill["total_amount"]),
        },
        token=member,
    )
    assert order.code == 0, order.body
    sql_exec(
        "UPDATE bk_transaction SET expire_time = now() - interval '2 hours',"
        " next_query_time = now() + interval '1 hour' WHERE biz_order_no = :o",
        {"o": order.data["bizOrderNo"]},
    )
    emitted()

    counts = handler({"limit": 200}, FakeLambdaContext("job_pay_compensate"))

    lines = emitted()
    assert len(lines) == 1
    assert gauge(lines, metrics.PAYMENT_BACKLOG) == [counts["backlog"]["orders"]]
    assert counts["backlog"]["orders"] >= 1
    assert gauge(lines, metrics.REFUND_BACKLOG) == [counts["backlog"]["refunds"]]
    assert gauge(lines, metrics.WITHHOLDING_BACKLOG) == [counts["backlog"]["withholding"]]
    assert counts["backlog"]["refunds"] == sql_scalar(
        "SELECT count(*) FROM biz_refund WHERE status IN ('PENDING', 'PROCESSING') AND method = 'SYS009'"
        " AND create_time < now() - interval '1 hour'"
    )


def test_the_invoice_compensation_publishes_invoices_pending(sys008: Any, emitted: Emitted) -> None:
    """When the invoice compensation runs, it publishes InvoicesPending (every invoice waiting for SYS-008)
    and InvoiceCompensationBacklog (those waiting over an hour), as the database holds them."""
    from functions.job_invoice_compensate.handler import handler

    counts = handler({"limit": 50}, FakeLambdaContext("job_invoice_compensate"))

    lines = emitted()
    pending = sql_scalar("SELECT count(*) FROM biz_invoice WHERE invoice_status IN ('SUBMITTED', 'PENDING')")
    assert gauge(lines, metrics.INVOICES_PENDING) == [counts["backlog"]["pending"]] == [pending]
    assert gauge(lines, metrics.INVOICE_BACKLOG) == [counts["backlog"]["stuck"]]


def test_the_message_relay_publishes_its_backlog(admin: str, message_service: Any, emitted: Emitted) -> None:
    """Given a reminder whose message was due 20 minutes ago and is still in the outbox, when the relay runs
    (given no time to relay), then its MessageRelayBacklog counts it."""
    from functions.job_message_relay.handler import handler

    cust = int(new_customer(admin, dept_id=new_office(admin), mobile="13912470001")["id"])
    created = call(
        "POST",
        "/admin-api/revenue/reminder/task",
        reminder_body(cust, overdue_bills(cust, ["12.00"])),
        token=admin,
    )
    assert created.code == 0, created.body
    sql_exec(
        "UPDATE biz_message SET not_before = now() - interval '20 minutes' WHERE message_biz_no = :e",
        {"e": created.data["eventNo"]},
    )
    emitted()

    counts = handler({"seconds": 0}, FakeLambdaContext("job_message_relay"))

    assert counts["relayed"] == 0 and counts["backlog"] >= 1
    assert gauge(emitted(), metrics.MESSAGE_BACKLOG) == [counts["backlog"]]


def test_a_message_whose_deliveries_give_up_counts_one_dead_letter(
    admin: str, message_service: Any, emitted: Emitted
) -> None:
    """Given SYS-010 refusing one receiver with a 500, when the consumer (msg_consumer) has taken its message
    five times (the queue's maxReceiveCount), then MessagesDeadLettered is 1: counted by the last attempt
    only, once."""
    mobile = "13912470002"
    message_service.sim.behaviour(errorReceivers=[mobile])
    cust = int(new_customer(admin, dept_id=new_office(admin), mobile=mobile)["id"])
    created = call(
        "POST",
        "/admin-api/revenue/reminder/task",
        reminder_body(cust, overdue_bills(cust, ["12.00"])),
        token=admin,
    )
    assert created.code == 0, created.body
    queue = message_service.queue
    assert queue.relay() == 1
    emitted()

    for _ in range(8):
        queue.consume_once()

    assert (
        sql_scalar(
            "SELECT dispatch_state FROM biz_message WHERE message_biz_no = :e", {"e": created.data["eventNo"]}
        )
        == "DEAD"
    )
    assert total(emitted(), metrics.MESSAGES_DEAD_LETTERED) == 1


def test_a_bill_run_counts_the_bills_it_generated_once(admin: str, emitted: Emitted) -> None:
    """Given two readings of a fresh period, when the bill-run task runs prepare, its chunks and finish,
    then finish counts BillsGenerated 2; a retried finish counts nothing more."""
    from functions.wf_bill_run.handler import handler

    period = "2024-04"
    for _ in range(2):
        meter, book = metered(admin)
        generate(admin, book, period)
        assert submit_reading(admin, meter, period, 12).code == 0
    context = FakeLambdaContext("wf_bill_run")
    run = handler({"step": "prepare", "billPeriod": period, "chunkSize": 5000}, context)
    results = [handler({"step": "bill_chunk", "chunk": c}, context) for c in run["chunks"]]
    emitted()

    done = handler({"step": "finish", "runId": run["runId"], "results": results}, context)
    again = handler({"step": "finish", "runId": run["runId"], "results": results}, context)

    assert done["successCount"] == again["successCount"] == 2
    assert total(emitted(), metrics.BILLS_GENERATED) == 2
