"""The bill-run workflow end to end: the ASL that CDK deploys, executed by moto's interpreter
through the local runtime, with every Task state running functions/wf_bill_run on PostgreSQL.

Periods 2024-07 .. 2024-11 belong to this module (tests share one database and never truncate).
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from tests.support import (
    audit_rows,
    call,
    expect_error,
    generate,
    new_admin_user,
    new_book,
    new_customer,
    sql_all,
    sql_exec,
    sql_scalar,
    submit_reading,
    unique,
)
from waterrev.billing import bill_run
from waterrev.context import SYSTEM, RequestContext
from waterrev.errors import AppError, ErrorCode
from waterrev.local.stepfunctions import LocalStepFunctions, get_runtime
from waterrev.workflows import starter

pytestmark = pytest.mark.integration

START = "/admin-api/revenue/charge/bill-run"
PRICE_MISSING = ErrorCode.PRICE_OR_COMPONENT_MISSING.code


@pytest.fixture(scope="module")
def runtime() -> LocalStepFunctions:
    return get_runtime()


def customers_with_readings(token: str, period: str, count: int) -> list[dict[str, int]]:
    """`count` new customers with one meter each, in one new book, each with a VALID reading."""
    customers = [new_customer(token) for _ in range(count)]
    meters = [int(c["meterIds"][0]) for c in customers]
    generate(token, int(new_book(token, meters)["bookId"]), period)
    readers = []
    for i, (customer, meter) in enumerate(zip(customers, meters, strict=True)):
        reply = submit_reading(token, meter, period, 10 + i)
        assert reply.code == 0 and reply.data["validateStatus"] == "PASS", reply.body
        readers.append({"custId": int(customer["id"]), "readingId": int(reply.data["readingId"])})
    return readers


def execute(runtime: LocalStepFunctions, run_input: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """Run one execution to its end; (execution arn, output: the run summary)."""
    arn = runtime.start(run_input, name=unique("it-billrun-"))
    status, output = runtime.wait(arn)
    assert status == "SUCCEEDED", output
    return arn, output


def chunk_invocations(runtime: LocalStepFunctions, execution_arn: str) -> int:
    return sum(
        1
        for e in runtime.history(execution_arn)
        if e["type"] == "TaskScheduled" and '"bill_chunk"' in e["taskScheduledEventDetails"]["parameters"]
    )


def charges_by_reading(reading_ids: list[int]) -> dict[int, int]:
    rows = sql_all(
        "SELECT reading_id, count(*) AS n FROM biz_charge WHERE reading_id = ANY(CAST(:ids AS bigint[]))"
        " GROUP BY reading_id",
        {"ids": reading_ids},
    )
    return {int(r["reading_id"]): int(r["n"]) for r in rows}


def reading_status(reading_ids: list[int]) -> set[str]:
    rows = sql_all(
        "SELECT DISTINCT status FROM biz_reading_data WHERE id = ANY(CAST(:ids AS bigint[]))",
        {"ids": reading_ids},
    )
    return {str(r["status"]) for r in rows}


def the_run(run_no: str) -> dict[str, Any]:
    (run,) = sql_all("SELECT * FROM biz_bill_run WHERE run_no = :n", {"n": run_no})
    return run


def amount_billed_by(run_id: int) -> Decimal:
    return Decimal(
        sql_scalar(
            "SELECT coalesce(sum(total_amount), 0) FROM biz_charge WHERE bill_run_id = :r", {"r": run_id}
        )
    )


def test_given_valid_readings_when_the_period_is_run_three_times_then_each_reading_is_billed_once(
    admin: str, runtime: LocalStepFunctions
) -> None:
    # Given 30 customers with VALID readings for 2024-07, one of them priced by a template code that
    # has a DRAFT version only
    period = "2024-07"
    readers = customers_with_readings(admin, period, 30)
    unpriced = readers[17]
    others = [r["readingId"] for r in readers if r is not unpriced]
    draft_code = unique("DRAFT-")
    sql_exec(
        "INSERT INTO biz_price_template (code, name, version, tier_mode, status, effective_date)"
        " VALUES (:c, '草稿价格', 1, 'MONTHLY', 'DRAFT', '2020-01-01')",
        {"c": draft_code},
    )
    sql_exec(
        "UPDATE biz_cust SET price_code = :c WHERE id = :id", {"c": draft_code, "id": unpriced["custId"]}
    )

    # When the bill run executes in chunks of 8 readings, with no due date nor run number given
    arn, first = execute(runtime, {"billPeriod": period, "chunkSize": 8})

    # Then the Map billed 4 chunks, every other reading once, and the unpriced one is the failure
    assert chunk_invocations(runtime, arn) == 4
    assert charges_by_reading(others) == dict.fromkeys(others, 1)
    assert reading_status(others) == {"BILLED"}
    assert reading_status([unpriced["readingId"]]) == {"VALID"}
    assert (first["status"], first["readingCount"], first["successCount"], first["failureCount"]) == (
        "PARTIAL",
        30,
        29,
        1,
    )
    assert first["failedChunks"] == []
    (failure,) = first["failures"]
    assert (failure["readingId"], failure["custId"], failure["errorCode"]) == (
        unpriced["readingId"],
        unpriced["custId"],
        PRICE_MISSING,
    )
    # ... and biz_bill_run keeps the summary, its amount being the sum of the run's bills
    run = the_run(first["runNo"])
    assert (run["status"], run["reading_count"], run["success_count"], run["failure_count"]) == (
        "PARTIAL",
        30,
        29,
        1,
    )
    assert run["execution_arn"] == arn
    assert run["total_amount"] == amount_billed_by(run["id"]) > 0
    assert Decimal(run["summary"]["totalAmount"]) == run["total_amount"]
    assert [f["readingId"] for f in run["summary"]["failures"]] == [unpriced["readingId"]]
    assert run["due_date"] == bill_run.default_due_date(period)

    # When the period is run again
    _, second = execute(runtime, {"billPeriod": period, "chunkSize": 8})

    # Then nothing new is billed and the unpriced reading fails again
    assert (second["status"], second["readingCount"], second["successCount"], second["failureCount"]) == (
        "FAILED",
        1,
        0,
        1,
    )
    assert second["failures"][0]["errorCode"] == PRICE_MISSING
    assert amount_billed_by(the_run(second["runNo"])["id"]) == 0
    assert charges_by_reading(others) == dict.fromkeys(others, 1)

    # When the customer gets a price code with an ACTIVE version and the period is run a third time
    sql_exec("UPDATE biz_cust SET price_code = 'RESIDENT' WHERE id = :id", {"id": unpriced["custId"]})
    _, third = execute(runtime, {"billPeriod": period, "chunkSize": 8})

    # Then only that reading is billed, and nothing of the period is left
    assert (third["status"], third["readingCount"], third["successCount"], third["unbilledLeft"]) == (
        "SUCCEEDED",
        1,
        1,
        0,
    )
    everyone = [r["readingId"] for r in readers]
    assert charges_by_reading(everyone) == dict.fromkeys(everyone, 1)
    billed_third = sql_all(
        "SELECT reading_id FROM biz_charge WHERE bill_run_id = :r", {"r": the_run(third["runNo"])["id"]}
    )
    assert [int(c["reading_id"]) for c in billed_third] == [unpriced["readingId"]]
    assert len({first["runNo"], second["runNo"], third["runNo"]}) == 3


@pytest.fixture
def failing_chunks(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[int, tuple[Exception, list[int]]]]:
    """bill_chunk raises the given exception for the chunks whose afterId is a key; counts calls."""
    failing: dict[int, tuple[Exception, list[int]]] = {}
    real = bill_run.bill_chunk

    def bill_chunk(ctx: RequestContext, chunk: dict[str, Any]) -> dict[str, Any]:
        found = failing.get(int(chunk["afterId"]))
        if found is None:
            return real(ctx, chunk)
        found[1].append(1)
        raise found[0]

    monkeypatch.setattr(bill_run, "bill_chunk", bill_chunk)
    yield failing


def test_given_chunks_that_keep_failing_when_the_run_executes_then_they_are_retried_and_reported(
    admin: str, runtime: LocalStepFunctions, failing_chunks: dict[int, tuple[Exception, list[int]]]
) -> None:
    # Given 10 readings cut into chunks of 4: the second chunk's database call keeps failing, the
    # third fails with a business error
    period = "2024-08"
    readers = customers_with_readings(admin, period, 10)
    ids = [r["readingId"] for r in readers]
    custs = [r["custId"] for r in readers]  # chunks are customer ranges; one reading each here
    outage, business = RuntimeError("simulated outage"), AppError(ErrorCode.BAD_REQUEST, "simulated")
    failing_chunks[custs[3]] = (outage, [])
    failing_chunks[custs[7]] = (business, [])

    # When the bill run executes
    arn, summary = execute(runtime, {"billPeriod": period, "chunkSize": 4})

    # Then the outage was tried three times (two retries), the business error once (never retried)
    assert len(failing_chunks[custs[3]][1]) == 3
    assert len(failing_chunks[custs[7]][1]) == 1
    assert chunk_invocations(runtime, arn) == 1 + 3 + 1
    # ... both chunks are in the summary, and their readings stay VALID for the next run
    failed = sorted(summary["failedChunks"], key=lambda c: c["afterId"])
    assert [(c["afterId"], c["uptoId"]) for c in failed] == [(custs[3], custs[7]), (custs[7], custs[9])]
    assert "simulated outage" in failed[0]["error"] and "RuntimeError" in failed[0]["error"]
    assert "AppError" in failed[1]["error"]
    assert (summary["status"], summary["successCount"], summary["unbilledLeft"]) == ("PARTIAL", 4, 6)
    assert reading_status(ids[:4]) == {"BILLED"}
    assert reading_status(ids[4:]) == {"VALID"}
    assert the_run(summary["runNo"])["summary"]["failedChunks"] == summary["failedChunks"]


def test_given_an_admin_when_starting_a_run_over_http_then_the_run_can_be_read_by_its_number(
    admin: str, runtime: LocalStepFunctions
) -> None:
    # Given three readings for 2024-09
    period = "2024-09"
    ids = [r["readingId"] for r in customers_with_readings(admin, period, 3)]

    # When an admin starts the period's run with a due date
    reply = call("POST", START, {"billPeriod": period, "dueDate": "2024-10-20"}, token=admin)

    # Then the answer names the run and its execution, which the workflow completes
    assert reply.code == 0, reply.body
    run_no, arn = reply.data["runNo"], reply.data["executionArn"]
    assert (reply.data["status"], reply.data["billPeriod"]) == ("RUNNING", period)
    assert run_no.startswith("BR202409-")
    status, _ = runtime.wait(arn)
    assert status == "SUCCEEDED"
    # ... and GET by run number reads its result
    got = call("GET", f"{START}/{run_no}", token=admin)
    assert got.code == 0, got.body
    assert (got.data["status"], got.data["successCount"], got.data["dueDate"]) == (
        "SUCCEEDED",
        3,
        "2024-10-20",
    )
    assert charges_by_reading(ids) == dict.fromkeys(ids, 1)
    assert {
        str(d["due_date"])
        for d in sql_all(
            "SELECT due_date FROM biz_charge WHERE reading_id = ANY(CAST(:i AS bigint[]))", {"i": ids}
        )
    } == {"2024-10-20"}
    (request,) = audit_rows("biz_bill_run", run_no, "BILL_RUN_REQUEST")
    assert (request["user_type"], request["after_data"]["executionArn"]) == ("ADMIN", arn)


def test_given_a_due_date_before_the_period_when_starting_then_it_is_refused_before_any_execution(
    admin: str,
) -> None:
    reply = call("POST", START, {"billPeriod": "2024-10", "dueDate": "2024-09-30"}, token=admin)

    expect_error(reply, ErrorCode.BAD_REQUEST.code, mentions="dueDate")
    assert sql_scalar("SELECT count(*) FROM biz_bill_run WHERE bill_period = '2024-10'") == 0


def test_a_dept_clerk_can_neither_start_a_run_over_every_dept_nor_read_one() -> None:
    """Given a 鼓楼 clerk (data scope DEPT_AND_CHILD) allowed to generate bills, when it starts a bill run
    for a period or reads a run, then 403 for both and no run is recorded (before, the run started: the
    workflow runs as SYSTEM and bills every dept's readings, whatever the clerk's scope)."""
    period = "2024-05"
    clerk = call(
        "POST",
        "/admin-api/system/auth/login",
        {"username": new_admin_user(permissions=("revenue:charge:generate",)), "password": "Passw0rd!"},
    ).data["accessToken"]

    started = call("POST", START, {"billPeriod": period}, token=clerk)
    read = call("GET", f"{START}/BR202405-01", token=clerk)

    expect_error(started, ErrorCode.FORBIDDEN.code, mentions="全部单位")
    expect_error(read, ErrorCode.FORBIDDEN.code, mentions="全部单位")
    assert sql_scalar("SELECT count(*) FROM biz_bill_run WHERE bill_period = :p", {"p": period}) == 0


def test_given_a_double_click_when_starting_twice_in_one_minute_then_one_run_starts(
    runtime: LocalStepFunctions, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given Prepare held until both clicks are in, so the first execution is surely still running
    release = threading.Event()
    real_prepare = bill_run.prepare

    def held_prepare(*args: Any, **kwargs: Any) -> dict[str, Any]:
        assert release.wait(60)
        return real_prepare(*args, **kwargs)

    monkeypatch.setattr(bill_run, "prepare", held_prepare)
    ctx = RequestContext(request_id="it-double-click", principal=SYSTEM)
    moment = dt.datetime(2024, 12, 1, 10, 30, 5, tzinfo=starter.BEIJING)

    # When the same request is started twice within the minute
    try:
        first = starter.start_bill_run(ctx, "2024-11", None, now=moment)
        second = starter.start_bill_run(ctx, "2024-11", None, now=moment + dt.timedelta(seconds=40))
    finally:
        release.set()

    # Then both answers name the one execution and run number
    assert second["executionArn"] == first["executionArn"]
    assert second["runNo"] == first["runNo"] == "BR202411-202412011030"
    status, output = runtime.wait(first["executionArn"])
    assert (status, output["runNo"]) == ("SUCCEEDED", first["runNo"])

    # When it is clicked again in that minute after the run ended
    with pytest.raises(AppError) as refused:
        starter.start_bill_run(ctx, "2024-11", None, now=moment)

    # Then the start is refused with the run's number, and there is still one run
    assert refused.value.error is ErrorCode.CONFLICT and refused.value.data == {"runNo": first["runNo"]}
    assert sql_scalar("SELECT count(*) FROM biz_bill_run WHERE bill_period = '2024-11'") == 1
