"""IoT readings: the back-office receiver (IF-METER-004: one reading in the seed's shape, and the batch
extension), and the platform's signed push (IF-EXT-009, a batch of seed-shaped readings). Same validation
as manual readings; idempotent by fileSerialNo or meter + readTime; device status and alarms recorded;
one seed-shaped result per reading; a meter outside the caller's data scope reads as absent; the push is
refused (401) unless signed with a known key, fresh and not replayed, and a malformed body is 400."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any

import pytest

from tests.support import (
    TAIJIANG_DEPT,
    admin_login,
    call,
    expect_error,
    generate,
    metered,
    new_admin_user,
    read_history,
    read_time,
    signed_headers,
    sql_all,
    sql_scalar,
    task_of,
    unique,
)

RECEIVE = "/admin-api/meter/iot/reading/receive"
BATCH = "/admin-api/meter/iot/reading/receive-batch"
PUSH = "/open-api/iot/reading/push"
SECRET = "iot-test-secret"


@pytest.fixture
def iot_keys(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    from waterrev.settings import reset_settings

    monkeypatch.setenv("WATERREV_WEBHOOK_KEYS", json.dumps({"IOT": {"key-1": SECRET}}))
    reset_settings()
    yield
    monkeypatch.delenv("WATERREV_WEBHOOK_KEYS")
    reset_settings()


SEED_REPLY = {"readingId", "meterReadId", "acceptStatus", "abnormalFlag", "nextAction", "msg"}


def code_of(meter_id: int) -> str:
    return str(sql_scalar("SELECT meter_no FROM biz_meter WHERE id = :m", {"m": meter_id}))


def item(meter_id: int, value: str | int, period: str = "2025-01", **extra: Any) -> dict[str, Any]:
    """One reading in the seed's shape (IF-METER-004 请求参数)."""
    return {
        "meterCode": code_of(meter_id),
        "readTime": read_time(period),
        "currentReading": str(value),
        "sourceSystem": "IOT",
        **extra,
    }


def receive(admin: str, body: dict[str, Any]) -> dict[str, Any]:
    """Send one reading to the seed route and return its result."""
    reply = call("POST", RECEIVE, body, token=admin)
    assert reply.code == 0, reply.body
    return dict(reply.data)


def readings_of(meter_id: int) -> list[dict[str, Any]]:
    return sql_all("SELECT * FROM biz_reading_data WHERE meter_id = :m ORDER BY id", {"m": meter_id})


def device_rows(meter_id: int) -> list[dict[str, Any]]:
    return sql_all("SELECT * FROM biz_meter_device_status WHERE meter_id = :m ORDER BY id", {"m": meter_id})


def waiting_on_locks() -> int:
    return int(
        sql_scalar(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()"
        )
    )


def open_meter(admin: str, period: str = "2025-01", **meter: Any) -> int:
    meter_id, book = metered(admin, **meter)
    generate(admin, book, period)
    return meter_id


def push(body: dict[str, Any] | str, **sign: Any) -> Any:
    raw = body if isinstance(body, str) else json.dumps(body)
    return call("POST", PUSH, raw_body=raw.encode(), headers=signed_headers(raw, secret=SECRET, **sign))


# ------------------------------------------------------------------ IF-METER-004 receiver -------
def test_an_iot_reading_is_validated_stored_and_its_device_status_recorded(admin: str) -> None:
    """Given a meter with an open 2025-01 task, when the seed route receives reading 12 (meterCode,
    sourceSystem, a serial number, battery and signal), then it answers the seed's fields: SUCCESS, not
    abnormal, BILLING, the task and the new reading; the reading is an IOT reading on that task, VALID,
    the task READ, and one device status row holds the status, battery and signal."""
    meter = open_meter(admin)
    serial = unique("FSN")
    body = item(meter, 12, fileSerialNo=serial, deviceStatus="ONLINE", batteryLevel="87.5", signal=-70)

    result = receive(admin, body)

    assert set(result) >= SEED_REPLY, result
    assert (result["acceptStatus"], result["abnormalFlag"], result["nextAction"]) == (
        "SUCCESS",
        False,
        "BILLING",
    )
    assert result["validateStatus"] == "PASS" and result["meterCode"] == body["meterCode"]
    assert result["meterReadId"] == task_of(meter, "2025-01") and Decimal(result["usageAmount"]) == 12
    [row] = readings_of(meter)
    assert (row["id"], row["read_type"], row["status"], row["file_serial_no"]) == (
        result["readingId"],
        "IOT",
        "VALID",
        serial,
    )
    assert (
        sql_scalar("SELECT status FROM biz_meter_read WHERE id = :t", {"t": result["meterReadId"]}) == "READ"
    )
    [status] = device_rows(meter)
    assert (status["device_status"], status["battery_level"], status["signal"], status["alarm_codes"]) == (
        "ONLINE",
        Decimal("87.5"),
        -70,
        [],
    )


def test_the_seed_route_takes_the_seed_s_request_and_nothing_of_the_old_shape(admin: str) -> None:
    """Given the old request shape (meterNo / meterId, alarmCodes, platformCode, a readings batch, FAULT),
    when sent to the seed route, then 400 naming the field: the route takes the seed's fields only."""
    meter = open_meter(admin)
    seed = item(meter, 1)
    old_shapes = {
        "meterNo": {**{k: v for k, v in seed.items() if k != "meterCode"}, "meterNo": seed["meterCode"]},
        "alarmCodes": {**seed, "alarmCodes": ["LOW_BATTERY"]},
        "platformCode": {**seed, "platformCode": "IOT"},
        "readings": {"readings": [seed]},
        "deviceStatus": {**seed, "deviceStatus": "FAULT"},
    }

    for field, body in old_shapes.items():
        expect_error(call("POST", RECEIVE, body, token=admin), 400, mentions=field)
    assert readings_of(meter) == []


def test_a_reading_time_without_offset_is_the_utility_s_local_time(admin: str) -> None:
    """Given the seed's time format (no offset, Asia/Shanghai), when a reading taken at 2025-01-31 23:30
    local time is received, then it is stored as 15:30 UTC and counted in 2025-01 (before, it was read as
    UTC: 07:30 on 1 February Beijing time, a period without a task, so it was refused)."""
    meter = open_meter(admin)

    result = receive(admin, item(meter, 4, readTime="2025-01-31 23:30:00"))

    assert result["acceptStatus"] == "SUCCESS", result
    assert result["meterReadId"] == task_of(meter, "2025-01")
    stored = sql_scalar(
        "SELECT to_char(read_time AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI') FROM biz_reading_data"
        " WHERE id = :r",
        {"r": result["readingId"]},
    )
    assert stored == "2025-01-31 15:30"


def test_a_repeated_serial_number_is_a_duplicate_with_the_original_reading(admin: str) -> None:
    """Given a received reading with a serial number, when the same serial arrives again (even with another
    value), then it answers duplicate with the original reading's result (readingId, task, SUCCESS,
    BILLING) and no second reading is written; the device status is still recorded."""
    meter = open_meter(admin)
    serial = unique("FSN")
    first = receive(admin, item(meter, 12, fileSerialNo=serial))

    again = receive(admin, item(meter, 15, "2025-02", fileSerialNo=serial))

    assert again["duplicate"] is True and again["readingId"] == first["readingId"], again
    assert (again["meterReadId"], again["acceptStatus"], again["nextAction"]) == (
        first["meterReadId"],
        "SUCCESS",
        "BILLING",
    )
    assert [r["id"] for r in readings_of(meter)] == [first["readingId"]]
    assert len(device_rows(meter)) == 2


def test_a_repeat_without_serial_is_recognised_by_meter_and_read_time(admin: str) -> None:
    """Given a received reading without serial number, when the same meter and readTime arrive again, then
    duplicate with the original readingId and still one reading."""
    meter = open_meter(admin)
    first = receive(admin, item(meter, 12))

    again = receive(admin, item(meter, 12))

    assert again["duplicate"] is True and again["readingId"] == first["readingId"], again
    assert len(readings_of(meter)) == 1


def test_alarms_are_recorded_and_make_the_reading_warn(admin: str) -> None:
    """Given a reading that comes with an alarm list and ALARM status, when received, then acceptStatus
    WARN, abnormal, MANUAL_REVIEW; the reading is held for review (PENDING_REVIEW, task REVIEW) and the
    status and alarms are in the device status."""
    meter = open_meter(admin)
    body = item(meter, 12, deviceStatus="ALARM", alarmList=["LOW_BATTERY", "REVERSE_FLOW"])

    result = receive(admin, body)

    assert (result["acceptStatus"], result["abnormalFlag"], result["nextAction"]) == (
        "WARN",
        True,
        "MANUAL_REVIEW",
    ), result
    [row] = readings_of(meter)
    assert row["status"] == "PENDING_REVIEW" and row["validate_status"] == "WARN"
    assert (
        sql_scalar("SELECT status FROM biz_meter_read WHERE id = :t", {"t": task_of(meter, "2025-01")})
        == "REVIEW"
    )
    [status] = device_rows(meter)
    assert status["device_status"] == "ALARM" and status["alarm_codes"] == ["LOW_BATTERY", "REVERSE_FLOW"]


def test_an_alarm_status_alone_holds_the_reading_for_review(admin: str) -> None:
    """Given a reading whose device reports ALARM without alarm codes, when received, then WARN and held
    for review, like a reading with alarms."""
    meter = open_meter(admin)

    result = receive(admin, item(meter, 12, deviceStatus="ALARM"))

    assert (result["acceptStatus"], result["nextAction"]) == ("WARN", "MANUAL_REVIEW"), result
    assert readings_of(meter)[0]["status"] == "PENDING_REVIEW"


def test_iot_usage_far_above_the_average_warns(admin: str) -> None:
    """Given three valid periods of 10 m3 (last 30), when an IoT reading of 70 (usage 40) arrives for
    2025-04, then WARN, like a manual reading."""
    meter, book = metered(admin)
    read_history(admin, meter, book, {"2025-01": 10, "2025-02": 20, "2025-03": 30})
    generate(admin, book, "2025-04")

    assert receive(admin, item(meter, 70, "2025-04"))["acceptStatus"] == "WARN"


@pytest.mark.parametrize(
    ("kind", "error_code", "next_action"),
    [
        ("unknown meter", 404, "MANUAL_REVIEW"),
        ("below last", 1_002_002_002, "RECHECK"),
        ("no task", 1_002_002_001, "MANUAL_REVIEW"),
    ],
)
def test_a_refused_reading_answers_reject_in_the_seed_s_fields(
    admin: str, kind: str, error_code: int, next_action: str
) -> None:
    """Given a reading for an unknown meter, below the meter's last reading, or for a month without a task,
    when received on the seed route, then code 0 with acceptStatus REJECT, abnormal, the next action and
    the reason's code, and no reading is stored."""
    meter = open_meter(admin, initialReading="50")
    body = {
        "unknown meter": {**item(meter, 60), "meterCode": unique("NOPE")},
        "below last": item(meter, 40),
        "no task": item(meter, 60, "2025-02"),
    }[kind]

    result = receive(admin, body)

    assert (result["acceptStatus"], result["abnormalFlag"], result["nextAction"]) == (
        "REJECT",
        True,
        next_action,
    )
    assert result["errorCode"] == error_code and result["readingId"] is None, result
    assert readings_of(meter) == []


def test_a_batch_reports_each_reading_and_one_bad_reading_blocks_no_other(admin: str) -> None:
    """Given a batch (extension route) of a good reading, an unknown meter, a reading below the last one, a
    meter without a task for the month, and another good reading, when received, then each gets a
    seed-shaped result in order: the good ones succeed and are stored, each bad one is REJECT with its
    error code, and the counts add up."""
    good, below, untasked, good2 = (open_meter(admin, initialReading=i) for i in ("0", "50", "0", "0"))
    body = {
        "readings": [
            item(good, 5),
            {**item(good, 1), "meterCode": unique("NOPE")},
            item(below, 40),
            item(untasked, 5, "2025-02"),
            item(good2, 6, sourceSystem="MDC"),
        ]
    }

    reply = call("POST", BATCH, body, token=admin)

    assert reply.code == 0, reply.body
    results = reply.data["resultList"]
    assert all(set(r) >= SEED_REPLY for r in results), results
    assert [r["acceptStatus"] for r in results] == ["SUCCESS", "REJECT", "REJECT", "REJECT", "SUCCESS"]
    assert [r["errorCode"] for r in results] == [None, 404, 1_002_002_002, 1_002_002_001, None]
    assert [r["index"] for r in results] == [0, 1, 2, 3, 4]
    assert (
        reply.data["total"],
        reply.data["successCount"],
        reply.data["warnCount"],
        reply.data["rejectCount"],
    ) == (5, 2, 0, 3)
    assert len(readings_of(good)) == 1 and len(readings_of(good2)) == 1
    assert readings_of(below) == [] and readings_of(untasked) == []
    assert sql_scalar("SELECT status FROM biz_reading_review WHERE meter_id = :m", {"m": below}) == "PENDING"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"meterCode": None}, "meterCode"),
        ({"sourceSystem": None}, "sourceSystem"),
        ({"sourceSystem": "SCADA"}, "sourceSystem"),
        ({"currentReading": "-1"}, "currentReading"),
        ({"readTime": "x"}, "readTime"),
        ({"deviceStatus": "ASLEEP"}, "deviceStatus"),
        ({"alarmList": ["x" * 33]}, "alarmList"),
    ],
    ids=[
        "no meter",
        "no source",
        "unknown source",
        "negative",
        "bad time",
        "bad device status",
        "long alarm",
    ],
)
def test_an_invalid_reading_is_400(admin: str, change: dict[str, Any], field: str) -> None:
    """Given a reading with one invalid or missing field, when received alone or in a batch, then 400
    naming the field."""
    body = {k: v for k, v in {**item(open_meter(admin), 1), **change}.items() if v is not None}

    expect_error(call("POST", RECEIVE, body, token=admin), 400, mentions=field)
    expect_error(call("POST", BATCH, {"readings": [body]}, token=admin), 400, mentions=field)


def test_an_empty_batch_is_400(admin: str) -> None:
    """Given a batch without readings, when received, then 400 naming readings."""
    expect_error(call("POST", BATCH, {"readings": []}, token=admin), 400, mentions="readings")


def test_the_receiver_needs_its_permission(admin: str) -> None:
    """Given gulou (no meter:iot:receive), when it sends a reading alone or in a batch, then 403 and nothing
    is stored."""
    meter = open_meter(admin)
    gulou = admin_login("gulou", "gulou123")

    expect_error(call("POST", RECEIVE, item(meter, 5), token=gulou), 403, mentions="meter:iot:receive")
    expect_error(call("POST", BATCH, {"readings": [item(meter, 5)]}, token=gulou), 403)
    assert readings_of(meter) == [] and device_rows(meter) == []


def test_a_meter_outside_the_data_scope_reads_as_absent(admin: str) -> None:
    """Given a 鼓楼 user allowed to receive IoT readings and a 台江 meter with an open task, when it sends a
    reading for that meter, then the answer is exactly the one for a meter that does not exist (REJECT,
    404, the msg naming only the meterCode asked for), and neither a reading nor a device status is
    written (before, the device status was written and the refusal named the task)."""
    meter = open_meter(admin, dept_id=TAIJIANG_DEPT)
    token = admin_login(new_admin_user(permissions=("meter:iot:receive",)), "Passw0rd!")
    theirs, nobody = item(meter, 5), {**item(meter, 5), "meterCode": unique("NOPE")}

    got, absent = receive(token, theirs), receive(token, nobody)

    def as_asked(result: dict[str, Any], code: str) -> dict[str, Any]:
        return {**result, "meterCode": "?", "msg": result["msg"].replace(code, "?")}

    assert as_asked(got, theirs["meterCode"]) == as_asked(absent, nobody["meterCode"]), (got, absent)
    assert got["errorCode"] == 404 and theirs["meterCode"] in got["msg"]
    assert readings_of(meter) == [] and device_rows(meter) == []
    assert receive(admin, theirs)["acceptStatus"] == "SUCCESS"


# --------------------------------------------------------------------- IF-EXT-009 push ---------
@pytest.mark.usefixtures("iot_keys")
def test_a_signed_push_is_accepted_and_stored(admin: str) -> None:
    """Given the platform's key, when it pushes a signed reading, then SUCCESS and the reading is stored as
    an IOT reading, audited as the platform."""
    meter = open_meter(admin)
    serial = unique("FSN")

    reply = push({"readings": [item(meter, 9, fileSerialNo=serial)]})

    assert reply.status == 200 and reply.code == 0, reply.body
    result = reply.data["resultList"][0]
    assert set(result) >= SEED_REPLY and (result["acceptStatus"], result["nextAction"]) == (
        "SUCCESS",
        "BILLING",
    )
    [row] = readings_of(meter)
    assert row["file_serial_no"] == serial and row["read_type"] == "IOT"
    assert (
        sql_scalar(
            "SELECT user_name FROM biz_operat_log WHERE object_type = 'biz_reading_data' AND object_id = :o",
            {"o": str(row["id"])},
        )
        == "platform:IOT"
    )


@pytest.mark.usefixtures("iot_keys")
def test_a_pushed_duplicate_answers_the_original_reading(admin: str) -> None:
    """Given a pushed reading, when the platform pushes the same serial again (new nonce), then duplicate
    with the original readingId and one reading."""
    meter = open_meter(admin)
    body = {"readings": [item(meter, 9, fileSerialNo=unique("FSN"))]}
    first = push(body)

    again = push(body)

    assert again.data["resultList"][0]["duplicate"] is True, again.body
    assert again.data["resultList"][0]["readingId"] == first.data["resultList"][0]["readingId"]
    assert len(readings_of(meter)) == 1


BAD_SIGNING = {
    "bad signature": {"secret": "not-the-secret"},
    "unknown key id": {"key_id": "key-9"},
    "stale timestamp": {"timestamp": int(time.time()) - 3600},
    "future timestamp": {"timestamp": int(time.time()) + 3600},
}


@pytest.mark.usefixtures("iot_keys")
@pytest.mark.parametrize("signing", list(BAD_SIGNING.values()), ids=list(BAD_SIGNING))
def test_a_push_not_signed_right_is_401_and_writes_nothing(admin: str, signing: dict[str, Any]) -> None:
    """Given a push signed wrongly, with an unknown key, or outside the time window, when sent, then 401,
    and neither a reading nor a device status is written."""
    meter = open_meter(admin)
    raw = json.dumps({"readings": [item(meter, 9, fileSerialNo=unique("FSN"))]})
    headers = signed_headers(raw, **{"secret": SECRET, **signing})

    reply = call("POST", PUSH, raw_body=raw.encode(), headers=headers)

    expect_error(reply, 401)
    assert readings_of(meter) == [] and device_rows(meter) == []


@pytest.mark.usefixtures("iot_keys")
def test_a_push_without_signature_headers_is_401(admin: str) -> None:
    """Given a push with no signature headers at all, when sent, then 401 and nothing is written."""
    meter = open_meter(admin)

    reply = call("POST", PUSH, {"readings": [item(meter, 9)]})

    expect_error(reply, 401)
    assert readings_of(meter) == []


@pytest.mark.usefixtures("iot_keys")
def test_a_replayed_nonce_is_401_and_writes_nothing(admin: str) -> None:
    """Given an accepted push with a nonce, when another push (different reading, properly signed) reuses
    that nonce, then 401 and its reading is not written."""
    first_meter, second_meter = open_meter(admin), open_meter(admin)
    nonce = unique("nonce")
    assert push({"readings": [item(first_meter, 9)]}, nonce=nonce).code == 0

    reply = push({"readings": [item(second_meter, 9)]}, nonce=nonce)

    expect_error(reply, 401)
    assert readings_of(second_meter) == [] and device_rows(second_meter) == []


@pytest.fixture
def no_keys(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    from waterrev.settings import reset_settings

    monkeypatch.delenv("WATERREV_WEBHOOK_KEYS", raising=False)
    reset_settings()
    yield
    monkeypatch.undo()
    reset_settings()


@pytest.mark.usefixtures("no_keys")
def test_a_push_is_401_when_no_platform_key_is_configured(admin: str) -> None:
    """Given no webhook keys configured, when a push arrives signed with some secret, then 401."""
    meter = open_meter(admin)

    expect_error(push({"readings": [item(meter, 9)]}), 401)
    assert readings_of(meter) == []


@pytest.mark.usefixtures("iot_keys")
@pytest.mark.parametrize(
    "raw",
    [
        '{"readings": [',
        '{"readings": []}',
        '{"readings": [{"meterCode": "WM-1"}]}',
        '{"readings": [{"meterCode": "WM-1", "readTime": "2025-01-15 09:30:00", "currentReading": "1",'
        ' "sourceSystem": "SCADA"}]}',
        '{"platformCode": "IOT", "readings": [{"meterNo": "WM-1", "readTime": "2025-01-15 09:30:00",'
        ' "currentReading": "1"}]}',
    ],
    ids=["not json", "empty batch", "missing fields", "unknown source system", "old shape"],
)
def test_a_signed_but_malformed_push_is_400(raw: str) -> None:
    """Given a properly signed push whose body is malformed, when sent, then 400 (not a 500)."""
    expect_error(push(raw), 400)


@pytest.mark.usefixtures("iot_keys")
def test_a_push_whose_body_is_not_utf8_is_400_not_a_crash() -> None:
    """Given a push whose bytes are not UTF-8 text, when sent, then 400 naming the body, not a 500."""
    raw = b'{"readings": [\xff]}'
    reply = call("POST", PUSH, raw_body=raw, headers=signed_headers("x", secret=SECRET))
    expect_error(reply, 400)
    assert "UTF-8" in reply.msg


def test_a_repeat_arriving_at_the_same_time_is_still_a_duplicate(admin: str) -> None:
    """Given the same reading (same serial) received twice at the same moment (both past the duplicate check
    while the task is busy), when both are processed, then one is stored and the other answers duplicate
    with its readingId, not a rejection."""
    from waterrev.db import UnitOfWork

    meter = open_meter(admin)
    body = item(meter, 12, fileSerialNo=unique("FSN"))
    task = task_of(meter, "2025-01")
    with ThreadPoolExecutor(2) as pool:
        with UnitOfWork() as holder:  # the task is busy: both requests get past the duplicate check
            holder.execute("SELECT 1 FROM biz_meter_read WHERE id = :t FOR UPDATE", {"t": task})
            futures = [pool.submit(call, "POST", RECEIVE, body, token=admin) for _ in range(2)]
            deadline = time.monotonic() + 10
            while waiting_on_locks() < 2 and time.monotonic() < deadline:
                time.sleep(0.02)
            holder.commit()
        replies = [f.result(timeout=30) for f in futures]

    results = sorted((r.data for r in replies), key=lambda r: bool(r["duplicate"]))
    assert [r["acceptStatus"] for r in results] == ["SUCCESS", "SUCCESS"], results
    assert results[1]["duplicate"] is True and results[0]["readingId"] == results[1]["readingId"]
    assert len(readings_of(meter)) == 1
