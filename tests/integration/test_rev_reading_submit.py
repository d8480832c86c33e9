"""IF-REV-004 抄表数据提交: validation PASS/WARN/REJECT, usage from the last valid reading (rollover,
meter change, estimate true-up), readings below the last one (1_002_002_002) and their review, closed
or missing tasks (1_002_002_001), the warn ratio against the 3-period average and its review."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from tests.support import (
    READING_CREATE,
    TAIJIANG_DEPT,
    admin_login,
    audit_rows,
    call,
    expect_error,
    generate,
    last_reading,
    metered,
    new_admin_user,
    new_meter,
    read_history,
    read_time,
    sql_all,
    sql_exec,
    sql_scalar,
    submit_reading,
    task_of,
)

ESTIMATE = "/admin-api/revenue/reading-data/estimate"
REVIEW = "/admin-api/revenue/reading-data/review"
CONFIG = "/admin-api/revenue/parameter/config"
HISTORY = {"2025-01": 10, "2025-02": 20, "2025-03": 30}  # three valid periods of 10 m3 each


def reading(reading_id: int) -> dict[str, Any]:
    return sql_all("SELECT * FROM biz_reading_data WHERE id = :id", {"id": reading_id})[0]


def task_status(meter_id: int, period: str) -> str:
    return str(
        sql_scalar("SELECT status FROM biz_meter_read WHERE id = :t", {"t": task_of(meter_id, period)})
    )


def readings_of(meter_id: int) -> int:
    return int(sql_scalar("SELECT count(*) FROM biz_reading_data WHERE meter_id = :m", {"m": meter_id}))


def with_history(admin: str, **meter: Any) -> tuple[int, int]:
    """A meter with three valid readings (2025-01..03, 10 m3 each, last reading 30) and a 2025-04 task."""
    meter_id, book_id = metered(admin, **meter)
    read_history(admin, meter_id, book_id, HISTORY)
    generate(admin, book_id, "2025-04")
    return meter_id, book_id


# ------------------------------------------------------------------------------ PASS -----------
def test_first_reading_passes_and_becomes_the_last_reading(admin: str) -> None:
    """Given a new meter installed at 100 with a task, when 112.5 is read, then PASS / BILLING with usage
    12.50 from the initial reading; the reading is VALID, the task READ, biz_last_reading holds it, and a
    reading log and an audit row are written."""
    meter, book = metered(admin, initialReading="100")
    generate(admin, book, "2025-01")

    reply = submit_reading(admin, meter, "2025-01", "112.5", photoList=["file-1"], gps="119.2965,26.0745")

    assert reply.code == 0, reply.body
    data = reply.data
    assert (data["validateStatus"], data["abnormalFlag"], data["nextAction"]) == ("PASS", False, "BILLING")
    assert Decimal(str(data["usageAmount"])) == Decimal("12.50")
    assert Decimal(str(data["previousReading"])) == Decimal("100")
    row = reading(data["readingId"])
    assert (row["status"], row["read_type"], row["usage_amount"]) == ("VALID", "MANUAL", Decimal("12.50"))
    assert row["photo_list"] == ["file-1"] and row["bill_period"] == "2025-01"
    assert task_status(meter, "2025-01") == "READ"
    last = last_reading(meter)
    assert last is not None and last["reading_id"] == data["readingId"]
    assert last["reading_value"] == Decimal("112.50")
    assert (
        sql_scalar(
            "SELECT result FROM biz_reading_logs WHERE reading_id = :r AND action = 'SUBMIT'",
            {"r": data["readingId"]},
        )
        == "PASS"
    )
    assert [r["operation"] for r in audit_rows("biz_reading_data", data["readingId"])] == ["READING_SUBMIT"]


def test_usage_is_measured_from_the_previous_valid_reading(admin: str) -> None:
    """Given readings 10, 20 and 30 over three periods, when 42 is read next, then usage is 12 and the
    previous reading is 30."""
    meter, _ = with_history(admin)

    reply = submit_reading(admin, meter, "2025-04", 42)

    assert reply.code == 0, reply.body
    assert Decimal(str(reply.data["usageAmount"])) == 12 and Decimal(str(reply.data["previousReading"])) == 30


def test_reported_usage_that_differs_is_overridden_and_noted(admin: str) -> None:
    """Given a reader who reports usageAmount 99 with a reading whose usage is 5, when submitted, then the
    system's 5 is kept and msg notes the difference."""
    meter, book = metered(admin)
    generate(admin, book, "2025-01")

    reply = submit_reading(admin, meter, "2025-01", 5, usageAmount="99")

    assert reply.code == 0, reply.body
    assert Decimal(str(reply.data["usageAmount"])) == 5 and "99" in reply.data["msg"]
    assert reading(reply.data["readingId"])["usage_amount"] == 5


# ------------------------------------------------------------------------ task state -----------
def test_a_task_already_read_refuses_a_second_reading(admin: str) -> None:
    """Given a task with a valid reading (READ), when another reading is submitted on it, then
    1_002_002_001 and no second reading is stored."""
    meter, book = metered(admin)
    generate(admin, book, "2025-01")
    assert submit_reading(admin, meter, "2025-01", 5).code == 0

    reply = submit_reading(admin, meter, "2025-01", 6)

    expect_error(reply, 1_002_002_001)
    assert readings_of(meter) == 1


def test_a_closed_task_refuses_readings(admin: str) -> None:
    """Given a CLOSED task, when a reading is submitted, then 1_002_002_001 and nothing is stored."""
    meter, book = metered(admin)
    generate(admin, book, "2025-01")
    sql_exec("UPDATE biz_meter_read SET status = 'CLOSED' WHERE id = :t", {"t": task_of(meter, "2025-01")})

    reply = submit_reading(admin, meter, "2025-01", 5)

    expect_error(reply, 1_002_002_001)
    assert reply.data == {"status": "CLOSED"} and readings_of(meter) == 0


def test_a_missing_task_is_1_002_002_001(admin: str) -> None:
    """Given a task id that does not exist, when a reading is submitted on it, then 1_002_002_001."""
    meter = new_meter(admin)
    body = {
        "meterReadId": 987654321,
        "meterId": meter,
        "readTime": read_time("2025-01"),
        "currentReading": "5",
        "readType": "MANUAL",
    }

    expect_error(call("POST", READING_CREATE, body, token=admin), 1_002_002_001)
    assert readings_of(meter) == 0


def test_a_reading_for_another_meter_than_the_task_is_400(admin: str) -> None:
    """Given a task of one meter, when a reading names another meter, then 400 naming meterId."""
    meter, book = metered(admin)
    other = new_meter(admin)
    generate(admin, book, "2025-01")
    body = {
        "meterReadId": task_of(meter, "2025-01"),
        "meterId": other,
        "readTime": read_time("2025-01"),
        "currentReading": "5",
        "readType": "MANUAL",
    }

    expect_error(call("POST", READING_CREATE, body, token=admin), 400, mentions="meterId")
    assert readings_of(meter) == 0 and readings_of(other) == 0


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"currentReading": "-1"}, "currentReading"),
        ({"currentReading": "1.234"}, "currentReading"),
        ({"readType": "GUESS"}, "readType"),
        ({"gps": "north"}, "gps"),
        ({"readTime": "yesterday"}, "readTime"),
    ],
    ids=["negative", "three decimals", "unknown readType", "bad gps", "bad readTime"],
)
def test_an_invalid_reading_is_400_naming_the_field(admin: str, change: dict[str, Any], field: str) -> None:
    """Given an open task, when a reading with one invalid field is submitted, then 400 naming the field,
    nothing is stored and the task stays OPEN."""
    meter, book = metered(admin)
    generate(admin, book, "2025-01")
    body = {
        "meterReadId": task_of(meter, "2025-01"),
        "meterId": meter,
        "readTime": read_time("2025-01"),
        "currentReading": "5",
        "readType": "MANUAL",
        **change,
    }

    expect_error(call("POST", READING_CREATE, body, token=admin), 400, mentions=field)
    assert readings_of(meter) == 0 and task_status(meter, "2025-01") == "OPEN"


# --------------------------------------------------------------- below the last reading -------
def test_a_reading_below_the_last_is_refused_with_a_pending_review(admin: str) -> None:
    """Given a last reading of 30, when 25 is read, then 1_002_002_002 (REJECT / RECHECK, naming the
    review), a PENDING review for 25 is opened, no reading is stored, the last reading stays 30 and the
    task stays OPEN."""
    meter, _ = with_history(admin)
    before = readings_of(meter)

    reply = submit_reading(admin, meter, "2025-04", 25)

    expect_error(reply, 1_002_002_002)
    assert reply.data["validateStatus"] == "REJECT" and reply.data["nextAction"] == "RECHECK"
    review = sql_all("SELECT * FROM biz_reading_review WHERE id = :id", {"id": reply.data["reviewId"]})[0]
    assert (review["status"], review["meter_id"], review["reading_value"]) == (
        "PENDING",
        meter,
        Decimal("25"),
    )
    assert review["meter_read_id"] == task_of(meter, "2025-04")
    assert readings_of(meter) == before
    assert last_reading(meter)["reading_value"] == 30  # type: ignore[index]
    assert task_status(meter, "2025-04") == "OPEN"


def test_an_approved_review_lets_the_reading_in_as_the_new_base(admin: str) -> None:
    """Given a refused reading of 25 below 30, when its review is approved and 25 is submitted again, then
    it is accepted with usage 0 as the new base (last reading 25), the review is USED; the next period
    measures from 25."""
    meter, book = with_history(admin)
    refused = submit_reading(admin, meter, "2025-04", 25)
    review_id = refused.data["reviewId"]

    approved = call("POST", REVIEW, {"reviewId": review_id, "approve": True, "remark": "换表芯"}, token=admin)
    again = submit_reading(admin, meter, "2025-04", 25)

    assert approved.code == 0 and approved.data == {
        "readingId": None,
        "reviewId": review_id,
        "status": "APPROVED",
        "nextAction": "RECHECK",
    }, approved.body
    assert again.code == 0, again.body
    assert again.data["validateStatus"] == "PASS" and Decimal(str(again.data["usageAmount"])) == 0
    assert last_reading(meter)["reading_value"] == 25  # type: ignore[index]
    assert sql_scalar("SELECT status FROM biz_reading_review WHERE id = :id", {"id": review_id}) == "USED"
    assert [r["operation"] for r in audit_rows("biz_reading_review", review_id)] == ["READING_REVIEW"]
    generate(admin, book, "2025-05")
    nxt = submit_reading(admin, meter, "2025-05", 33)
    assert Decimal(str(nxt.data["usageAmount"])) == 8


def test_a_rejected_review_does_not_let_the_reading_in(admin: str) -> None:
    """Given a refused reading whose review is rejected, when the same reading is submitted again, then it
    is refused again (1_002_002_002); a review cannot be decided twice (409)."""
    meter, _ = with_history(admin)
    review_id = submit_reading(admin, meter, "2025-04", 25).data["reviewId"]

    rejected = call("POST", REVIEW, {"reviewId": review_id, "approve": False, "remark": "读错"}, token=admin)
    again = submit_reading(admin, meter, "2025-04", 25)
    twice = call("POST", REVIEW, {"reviewId": review_id, "approve": True, "remark": "改主意"}, token=admin)

    assert rejected.code == 0 and rejected.data["status"] == "REJECTED"
    expect_error(again, 1_002_002_002)
    expect_error(twice, 409, mentions="reviewId")
    assert last_reading(meter)["reading_value"] == 30  # type: ignore[index]


def test_an_approved_review_is_for_its_value_only(admin: str) -> None:
    """Given an approved review for 25, when 24 is submitted instead, then it is still refused."""
    meter, _ = with_history(admin)
    review_id = submit_reading(admin, meter, "2025-04", 25).data["reviewId"]
    call("POST", REVIEW, {"reviewId": review_id, "approve": True, "remark": "ok"}, token=admin)

    expect_error(submit_reading(admin, meter, "2025-04", 24), 1_002_002_002)


def test_the_seed_example_request_is_accepted_as_beijing_time(admin: str) -> None:
    """Given an open task, when a reading is submitted in the seed's own form (readTime "2025-01-15
    09:30:00" without offset, photoList, gps, remark), then PASS with the seed's reply fields, and the time
    is stored as 01:30 UTC: the utility's local time (before, it was taken as UTC, 8 hours late)."""
    meter, book = metered(admin)
    generate(admin, book, "2025-01")

    reply = submit_reading(
        admin,
        meter,
        "2025-01",
        "156.32",
        readTime="2025-01-15 09:30:00",
        photoList=["file-001", "file-002"],
        gps="119.2965,26.0745",
        remark="现场抄表正常",
    )

    assert reply.code == 0, reply.body
    assert {"readingId", "meterReadId", "validateStatus", "abnormalFlag", "nextAction", "msg"} <= set(
        reply.data
    )
    stored = sql_scalar(
        "SELECT to_char(read_time AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI') FROM biz_reading_data WHERE id = :r",
        {"r": reply.data["readingId"]},
    )
    assert stored == "2025-01-15 01:30"


def test_a_gps_longer_than_its_column_is_400_not_a_500(admin: str) -> None:
    """Given coordinates of the right form but 70 characters (the column holds 64), when submitted, then
    400 naming gps and nothing stored (before, the database refused it: a 500)."""
    meter, book = metered(admin)
    generate(admin, book, "2025-01")

    reply = submit_reading(admin, meter, "2025-01", 5, gps="119." + "1" * 40 + ",26." + "2" * 22)

    expect_error(reply, 400, mentions="gps")
    assert readings_of(meter) == 0


def test_a_full_remark_with_a_system_note_is_stored_not_a_500(admin: str) -> None:
    """Given a meter that rolls over (the system notes 水表翻转), when a reading comes with a remark of the
    full 255 characters, then it is accepted and the stored remark keeps the reader's words within the
    column (before, remark plus note overflowed VARCHAR(255): a 500)."""
    meter, book = metered(admin, initialReading="9950", maxReading="9999")
    generate(admin, book, "2025-01")
    remark = "表" * 255

    reply = submit_reading(admin, meter, "2025-01", 30, remark=remark)

    assert reply.code == 0, reply.body
    assert reading(reply.data["readingId"])["remark"] == remark
    assert "水表翻转" in reply.data["msg"]


# ------------------------------------------------------------------------------ rollover -------
def test_a_meter_that_rolls_over_counts_through_its_maximum(admin: str) -> None:
    """Given a meter with maximum 9999 last read at 9950 (top 10% of the dial), when 30 is read, then usage
    is 9999 - 9950 + 30 = 79, the reading is marked rollover and becomes the last reading."""
    meter, book = metered(admin, initialReading="9950", maxReading="9999")
    generate(admin, book, "2025-01")

    reply = submit_reading(admin, meter, "2025-01", 30)

    assert reply.code == 0, reply.body
    assert reply.data["validateStatus"] == "PASS" and Decimal(str(reply.data["usageAmount"])) == 79
    assert reading(reply.data["readingId"])["rollover"] is True
    assert last_reading(meter)["reading_value"] == 30  # type: ignore[index]


@pytest.mark.parametrize(
    ("initial", "current"),
    [("5000", "30"), ("9950", "9900")],
    ids=["last reading far from the maximum", "current reading not small"],
)
def test_a_drop_that_is_no_rollover_is_refused(admin: str, initial: str, current: str) -> None:
    """Given a meter with maximum 9999, when the reading drops but either the last reading was not near
    the maximum or the new one is not near zero, then it is no rollover: 1_002_002_002."""
    meter, book = metered(admin, initialReading=initial, maxReading="9999")
    generate(admin, book, "2025-01")

    reply = submit_reading(admin, meter, "2025-01", current)

    expect_error(reply, 1_002_002_002)
    assert readings_of(meter) == 0 and last_reading(meter)["reading_value"] == Decimal(initial)  # type: ignore[index]


# -------------------------------------------------------------------------- meter change -------
def test_a_meter_change_carries_its_usage_into_the_first_reading_once(admin: str) -> None:
    """Given an unsettled meter change onto a new meter carrying 12.5 m3, when the new meter is first read
    at 8, then usage is 8 + 12.5 = 20.5 and the change is settled; the next reading (15) counts 7 only."""
    old = new_meter(admin)
    meter, book = metered(admin)
    change = sql_exec(
        "INSERT INTO biz_meter_change (old_meter_id, new_meter_id, old_final_reading, new_initial_reading,"
        " carried_usage) VALUES (:o, :n, 512.5, 0, 12.5) RETURNING id",
        {"o": old, "n": meter},
    )
    generate(admin, book, "2025-01")
    generate(admin, book, "2025-02")

    first = submit_reading(admin, meter, "2025-01", 8)
    second = submit_reading(admin, meter, "2025-02", 15)

    assert Decimal(str(first.data["usageAmount"])) == Decimal("20.5"), first.body
    assert Decimal(str(second.data["usageAmount"])) == 7, second.body
    assert sql_scalar("SELECT settled FROM biz_meter_change WHERE id = :id", {"id": change}) is True


def test_a_meter_change_is_not_settled_by_a_reading_held_for_review(admin: str) -> None:
    """Given a meter with history and an unsettled change carrying 5, when a reader-flagged abnormal
    reading is held for review, then the change stays unsettled; once approved, usage includes the 5 and
    the change is settled."""
    meter, _ = with_history(admin)
    change = sql_exec(
        "INSERT INTO biz_meter_change (old_meter_id, new_meter_id, old_final_reading, new_initial_reading,"
        " carried_usage) VALUES (:o, :n, 100, 0, 5) RETURNING id",
        {"o": new_meter(admin), "n": meter},
    )

    held = submit_reading(admin, meter, "2025-04", 40, abnormalFlag=True)
    assert held.data["validateStatus"] == "WARN", held.body
    assert sql_scalar("SELECT settled FROM biz_meter_change WHERE id = :id", {"id": change}) is False
    approved = call(
        "POST", REVIEW, {"readingId": held.data["readingId"], "approve": True, "remark": "ok"}, token=admin
    )

    assert approved.code == 0, approved.body
    assert reading(held.data["readingId"])["usage_amount"] == 15
    assert sql_scalar("SELECT settled FROM biz_meter_change WHERE id = :id", {"id": change}) is True


# ------------------------------------------------------------------------- warn ratio ----------
def test_usage_far_above_the_recent_average_is_held_for_review(admin: str) -> None:
    """Given three valid periods of 10 m3, when 31 m3 is used (above 3 x 10), then WARN / MANUAL_REVIEW with
    abnormalFlag; the reading is PENDING_REVIEW (not ready for billing), the task goes to REVIEW and the
    last reading stays 30."""
    meter, _ = with_history(admin)

    reply = submit_reading(admin, meter, "2025-04", 61)

    assert reply.code == 0, reply.body
    assert (reply.data["validateStatus"], reply.data["abnormalFlag"], reply.data["nextAction"]) == (
        "WARN",
        True,
        "MANUAL_REVIEW",
    )
    assert reading(reply.data["readingId"])["status"] == "PENDING_REVIEW"
    assert task_status(meter, "2025-04") == "REVIEW"
    assert last_reading(meter)["reading_value"] == 30  # type: ignore[index]


def test_usage_at_exactly_the_ratio_passes(admin: str) -> None:
    """Given three valid periods of 10 m3, when 30 m3 is used (exactly 3 x the average), then PASS."""
    meter, _ = with_history(admin)

    reply = submit_reading(admin, meter, "2025-04", 60)

    assert reply.data["validateStatus"] == "PASS", reply.body


def test_approving_a_held_reading_makes_it_valid_and_advances_the_last_reading(admin: str) -> None:
    """Given a reading held for review, when it is approved by readingId, then it is VALID (BILLING), the
    task is READ, the last reading advances to it, and the review is logged and audited."""
    meter, _ = with_history(admin)
    held = submit_reading(admin, meter, "2025-04", 61).data["readingId"]

    reply = call(
        "POST", REVIEW, {"readingId": held, "approve": True, "remark": "核实为用水增加"}, token=admin
    )

    assert reply.code == 0, reply.body
    assert reply.data == {"readingId": held, "reviewId": None, "status": "VALID", "nextAction": "BILLING"}
    assert reading(held)["status"] == "VALID" and task_status(meter, "2025-04") == "READ"
    last = last_reading(meter)
    assert last is not None and last["reading_id"] == held and last["reading_value"] == 61
    assert (
        sql_scalar(
            "SELECT result FROM biz_reading_logs WHERE reading_id = :r AND action = 'REVIEW'", {"r": held}
        )
        == "PASS"
    )
    assert [r["operation"] for r in audit_rows("biz_reading_data", held)] == [
        "READING_SUBMIT",
        "READING_REVIEW",
    ]


def test_rejecting_a_held_reading_reopens_the_task_for_a_re_read(admin: str) -> None:
    """Given a reading held for review, when it is rejected, then it is REJECTED, the task is OPEN again
    (RECHECK), the last reading is unchanged, and a re-read of 41 passes with usage 11 from 30; a decided
    reading cannot be reviewed again (409)."""
    meter, _ = with_history(admin)
    held = submit_reading(admin, meter, "2025-04", 61).data["readingId"]

    reply = call("POST", REVIEW, {"readingId": held, "approve": False, "remark": "读错"}, token=admin)
    reread = submit_reading(admin, meter, "2025-04", 41)

    assert reply.code == 0 and reply.data["status"] == "REJECTED" and reply.data["nextAction"] == "RECHECK"
    assert reading(held)["status"] == "REJECTED"
    assert reread.code == 0 and reread.data["validateStatus"] == "PASS", reread.body
    assert Decimal(str(reread.data["usageAmount"])) == 11
    expect_error(call("POST", REVIEW, {"readingId": held, "approve": True, "remark": "x"}, token=admin), 409)


def test_a_re_read_of_a_held_task_supersedes_the_held_reading(admin: str) -> None:
    """Given a reading held for review, when the reader submits a corrected reading on the same task, then
    the held one is SUPERSEDED and the new one (usage 11) is VALID."""
    meter, _ = with_history(admin)
    held = submit_reading(admin, meter, "2025-04", 61).data["readingId"]

    reread = submit_reading(admin, meter, "2025-04", 41)

    assert reread.data["validateStatus"] == "PASS", reread.body
    assert reading(held)["status"] == "SUPERSEDED" and reading(reread.data["readingId"])["status"] == "VALID"


def test_a_reading_the_reader_flags_abnormal_is_held_even_without_history(admin: str) -> None:
    """Given a new meter with no history, when the reader flags the reading abnormal, then WARN and held."""
    meter, book = metered(admin)
    generate(admin, book, "2025-01")

    reply = submit_reading(admin, meter, "2025-01", 5, abnormalFlag=True)

    assert reply.data["validateStatus"] == "WARN" and reply.data["nextAction"] == "MANUAL_REVIEW", reply.body
    assert last_reading(meter)["reading_value"] == 0  # type: ignore[index]


def test_the_warn_ratio_parameter_is_honoured(admin: str) -> None:
    """Given the warn ratio parameter set to 2, when 25 m3 is used after periods of 10, then WARN (it
    would pass at the default 3); the parameter is restored afterwards."""
    meter, _ = with_history(admin)
    code = "revenue.reading.warn-ratio"
    body = {"action": "UPDATE", "configType": "RULE", "configCode": code}
    assert call("POST", CONFIG, {**body, "configValue": "2"}, token=admin).code == 0
    try:
        reply = submit_reading(admin, meter, "2025-04", 55)
    finally:
        assert call("POST", CONFIG, {**body, "configValue": "3"}, token=admin).code == 0

    assert reply.data["validateStatus"] == "WARN", reply.body


# ------------------------------------------------------------------------------ estimate -------
def test_an_estimate_uses_the_three_period_average(admin: str) -> None:
    """Given three valid periods of 10 m3 (last 30), when the 2025-04 reading is estimated, then reading 40
    with usage 10, marked estimated (read type ESTIMATE), VALID for billing, and the last reading is 40
    marked estimated."""
    meter, _ = with_history(admin)

    reply = call(
        "POST", ESTIMATE, {"meterReadId": task_of(meter, "2025-04"), "reason": "表井被淹"}, token=admin
    )

    assert reply.code == 0, reply.body
    assert reply.data["estimated"] is True and Decimal(str(reply.data["usageAmount"])) == 10
    row = reading(reply.data["readingId"])
    assert (row["read_type"], row["estimated"], row["status"], row["current_reading"]) == (
        "ESTIMATE",
        True,
        "VALID",
        Decimal("40"),
    )
    last = last_reading(meter)
    assert last is not None and last["estimated"] is True and last["reading_value"] == 40
    assert task_status(meter, "2025-04") == "READ"


def test_a_real_reading_below_the_estimate_carries_the_shortfall(admin: str) -> None:
    """Given an estimate of 40 after a real 30, when the next real reading is 35, then usage is 0 (not
    refused) and -5 is carried; when the one after is 50, usage is 50 - 35 - 5 = 10 and the carry clears."""
    meter, book = with_history(admin)
    call("POST", ESTIMATE, {"meterReadId": task_of(meter, "2025-04"), "reason": "门闭"}, token=admin)
    generate(admin, book, "2025-05")
    generate(admin, book, "2025-06")

    trued = submit_reading(admin, meter, "2025-05", 35)
    carry = last_reading(meter)["carry_usage"]  # type: ignore[index]
    after = submit_reading(admin, meter, "2025-06", 50)

    assert trued.code == 0 and Decimal(str(trued.data["usageAmount"])) == 0, trued.body
    assert carry == Decimal("-5")
    assert Decimal(str(after.data["usageAmount"])) == 10, after.body
    assert last_reading(meter)["carry_usage"] == 0  # type: ignore[index]


def test_a_real_reading_above_the_estimate_counts_from_the_estimate(admin: str) -> None:
    """Given an estimate of 40, when the next real reading is 47, then usage is 7 and the estimate is no
    longer the base (last reading 47, not estimated)."""
    meter, book = with_history(admin)
    call("POST", ESTIMATE, {"meterReadId": task_of(meter, "2025-04"), "reason": "门闭"}, token=admin)
    generate(admin, book, "2025-05")

    reply = submit_reading(admin, meter, "2025-05", 47)

    assert Decimal(str(reply.data["usageAmount"])) == 7, reply.body
    last = last_reading(meter)
    assert last is not None and last["estimated"] is False and last["reading_value"] == 47


def test_an_estimate_on_a_read_task_is_refused(admin: str) -> None:
    """Given a task already read, when an estimate is asked for it, then 1_002_002_001."""
    meter, book = metered(admin)
    generate(admin, book, "2025-01")
    submit_reading(admin, meter, "2025-01", 5)

    reply = call("POST", ESTIMATE, {"meterReadId": task_of(meter, "2025-01"), "reason": "x"}, token=admin)

    expect_error(reply, 1_002_002_001)
    assert readings_of(meter) == 1


# --------------------------------------------------------------------------- permissions -------
def test_review_needs_the_review_permission(admin: str) -> None:
    """Given a user who may submit readings but not review them, when it approves a held reading, then 403
    and the reading stays held."""
    meter, _ = with_history(admin)
    held = submit_reading(admin, meter, "2025-04", 61).data["readingId"]
    token = admin_login(new_admin_user(permissions=("revenue:reading:create",)), "Passw0rd!")

    reply = call("POST", REVIEW, {"readingId": held, "approve": True, "remark": "ok"}, token=token)

    expect_error(reply, 403, mentions="revenue:reading:review")
    assert reading(held)["status"] == "PENDING_REVIEW"


def test_review_request_names_exactly_one_target(admin: str) -> None:
    """Given a review naming neither a reading nor a review, when sent, then 400."""
    expect_error(
        call("POST", REVIEW, {"approve": True, "remark": "x"}, token=admin), 400, mentions="readingId"
    )


def test_a_dept_user_cannot_read_another_dept_meter(admin: str) -> None:
    """Given a task of a 台江 (dept 3) customer's meter, when gulou (鼓楼, may submit readings) submits or
    estimates a reading on it, then it is refused as not found (1_002_002_001) and nothing is stored; gulou
    can read its own dept's meter."""
    meter, book = metered(admin, dept_id=TAIJIANG_DEPT)
    mine, my_book = metered(admin)
    generate(admin, book, "2025-01")
    generate(admin, my_book, "2025-01")
    gulou = admin_login("gulou", "gulou123")

    submitted = submit_reading(gulou, meter, "2025-01", 5)
    estimated = call("POST", ESTIMATE, {"meterReadId": task_of(meter, "2025-01"), "reason": "x"}, token=gulou)

    expect_error(submitted, 1_002_002_001)
    expect_error(estimated, 1_002_002_001)
    assert readings_of(meter) == 0 and task_status(meter, "2025-01") == "OPEN"
    assert submit_reading(gulou, mine, "2025-01", 5).code == 0


def test_a_dept_user_cannot_review_another_dept_reading(admin: str) -> None:
    """Given a held reading of a 台江 meter and a refused reading below the last, when a 鼓楼 user with the
    review permission approves either, then 409 as for an unknown one, and both stay undecided."""
    meter, _ = with_history(admin, dept_id=TAIJIANG_DEPT)
    held = submit_reading(admin, meter, "2025-04", 61).data["readingId"]
    other, _ = with_history(admin, dept_id=TAIJIANG_DEPT)
    review_id = submit_reading(admin, other, "2025-04", 25).data["reviewId"]
    token = admin_login(new_admin_user(permissions=("revenue:reading:review",)), "Passw0rd!")

    on_reading = call("POST", REVIEW, {"readingId": held, "approve": True, "remark": "ok"}, token=token)
    on_review = call("POST", REVIEW, {"reviewId": review_id, "approve": True, "remark": "ok"}, token=token)

    expect_error(on_reading, 409, mentions="readingId")
    expect_error(on_review, 409, mentions="reviewId")
    assert reading(held)["status"] == "PENDING_REVIEW"
    assert sql_scalar("SELECT status FROM biz_reading_review WHERE id = :id", {"id": review_id}) == "PENDING"
