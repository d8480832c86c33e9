"""IF-REV-003 抄表任务下发: meter books group meters by area and read cycle; generating tasks for a
book and period creates one biz_meter_read per active meter, once; books whose cycle does not include
the month are skipped; permission and dept data scope."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support import (
    BOOK_SAVE,
    GULOU_DEPT,
    TAIJIANG_DEPT,
    admin_login,
    audit_rows,
    call,
    expect_error,
    generate,
    new_admin_user,
    new_book,
    new_meter,
    sql_exec,
    sql_scalar,
    unique,
)

GENERATE = "/admin-api/revenue/meter-read/generate"
TASK_PERMISSION = "revenue:meter-read:task"


@pytest.fixture(scope="module")
def gulou_tasker() -> str:
    """A 鼓楼 (dept 2) user who may manage books and tasks, seeing only its own dept."""
    return admin_login(new_admin_user(permissions=(TASK_PERMISSION,), dept_id=GULOU_DEPT), "Passw0rd!")


def tasks(meter_ids: list[int], period: str) -> int:
    return int(
        sql_scalar(
            "SELECT count(*) FROM biz_meter_read WHERE meter_id = ANY(CAST(:m AS bigint[])) AND bill_period = :p",
            {"m": meter_ids, "p": period},
        )
    )


def book_body(meter_ids: list[int], **extra: Any) -> dict[str, Any]:
    return {
        "code": unique("BK-"),
        "name": "册本",
        "areaCode": unique("AR-"),
        "deptId": GULOU_DEPT,
        "readCycle": "MONTHLY",
        "meterIds": meter_ids,
        **extra,
    }


# ------------------------------------------------------------------------------ books ----------
def test_save_book_assigns_its_meters_and_is_audited(admin: str) -> None:
    """Given two new meters, when a book is saved with them, then the reply counts 2 meters, both meters
    point at the book, the book holds the area and cycle, and one BOOK_SAVE audit row is written."""
    meters = [new_meter(admin), new_meter(admin)]
    body = book_body(meters, readCycle="QUARTERLY")

    reply = call("POST", BOOK_SAVE, body, token=admin)

    assert reply.code == 0, reply.body
    book_id = reply.data["bookId"]
    assert reply.data == {"bookId": book_id, "code": body["code"], "meterCount": 2}
    assert {sql_scalar("SELECT book_id FROM biz_meter WHERE id = :m", {"m": m}) for m in meters} == {book_id}
    assert (
        sql_scalar(
            "SELECT area_code || '/' || read_cycle || '/' || dept_id FROM biz_meter_book WHERE id = :b",
            {"b": book_id},
        )
        == f"{body['areaCode']}/QUARTERLY/{GULOU_DEPT}"
    )
    assert [r["operation"] for r in audit_rows("biz_meter_book", book_id)] == ["BOOK_SAVE"]


def test_saving_a_book_code_again_updates_the_same_book(admin: str) -> None:
    """Given a saved MONTHLY book, when the same code is saved as ODD_MONTH with one more meter, then the
    same book id is answered, its cycle changes and it now counts both meters."""
    first, second = new_meter(admin), new_meter(admin)
    book = new_book(admin, [first])

    again = call(
        "POST", BOOK_SAVE, book_body([second], code=book["code"], readCycle="ODD_MONTH"), token=admin
    )

    assert again.code == 0, again.body
    assert again.data["bookId"] == book["bookId"] and again.data["meterCount"] == 2
    assert (
        sql_scalar("SELECT read_cycle FROM biz_meter_book WHERE id = :b", {"b": book["bookId"]})
        == "ODD_MONTH"
    )


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"readCycle": "WEEKLY"}, "readCycle"),
        ({"code": "has space"}, "code"),
        ({"deptId": 0}, "deptId"),
        ({"areaCode": ""}, "areaCode"),
    ],
    ids=["unknown cycle", "bad code", "bad dept", "empty area"],
)
def test_save_book_rejects_an_invalid_field(admin: str, change: dict[str, Any], field: str) -> None:
    """Given a book with one invalid field, when saved, then 400 naming the field and no book is written."""
    body = book_body([], **change)

    reply = call("POST", BOOK_SAVE, body, token=admin)

    expect_error(reply, 400, mentions=field)
    assert sql_scalar("SELECT count(*) FROM biz_meter_book WHERE code = :c", {"c": body["code"]}) == 0


def test_save_book_with_an_unknown_meter_is_400_and_writes_nothing(admin: str) -> None:
    """Given a real meter and a meter id that does not exist, when a book is saved with both, then 400
    naming meterIds, the book is not created and the real meter keeps no book."""
    meter = new_meter(admin)
    body = book_body([meter, 987654321])

    reply = call("POST", BOOK_SAVE, body, token=admin)

    expect_error(reply, 400, mentions="meterIds")
    assert sql_scalar("SELECT count(*) FROM biz_meter_book WHERE code = :c", {"c": body["code"]}) == 0
    assert sql_scalar("SELECT book_id FROM biz_meter WHERE id = :m", {"m": meter}) is None


# ------------------------------------------------------------------------------ tasks ----------
def test_generate_creates_one_task_per_active_meter_once(admin: str) -> None:
    """Given a book with three meters, one of them STOPPED, when tasks are generated for 2025-04, then
    two OPEN tasks are created (one per active meter, for its customer and book); a second call creates
    nothing new and still counts two tasks."""
    meters = [new_meter(admin) for _ in range(3)]
    book = new_book(admin, meters)
    sql_exec("UPDATE biz_meter SET status = 'STOPPED' WHERE id = :m", {"m": meters[2]})

    first = generate(admin, book["bookId"], "2025-04")
    second = generate(admin, book["bookId"], "2025-04")

    assert first["createdCount"] == 2 and first["taskCount"] == 2 and len(first["meterReadIds"]) == 2
    assert second["createdCount"] == 0 and second["taskCount"] == 2 and second["meterReadIds"] == []
    assert tasks(meters[:2], "2025-04") == 2 and tasks(meters[2:], "2025-04") == 0
    rows = sql_scalar(
        "SELECT count(*) FROM biz_meter_read r JOIN biz_cust_meter cm ON cm.meter_id = r.meter_id"
        " AND cm.cust_id = r.cust_id WHERE r.id = ANY(CAST(:ids AS bigint[])) AND r.status = 'OPEN'"
        " AND r.book_id = :b",
        {"ids": first["meterReadIds"], "b": book["bookId"]},
    )
    assert rows == 2


def test_generate_skips_meters_of_a_stopped_customer(admin: str) -> None:
    """Given a book whose only meter belongs to a customer that is no longer NORMAL, when tasks are
    generated, then none is created."""
    meter = new_meter(admin)
    book = new_book(admin, [meter])
    sql_exec(
        "UPDATE biz_cust SET status = 'STOPPED' WHERE id = (SELECT cust_id FROM biz_cust_meter WHERE meter_id = :m)",
        {"m": meter},
    )

    result = generate(admin, book["bookId"], "2025-04")

    assert result["createdCount"] == 0 and tasks([meter], "2025-04") == 0


CYCLES = {
    "MONTHLY": ("2025-02", None),
    "ODD_MONTH": ("2025-03", "2025-02"),
    "EVEN_MONTH": ("2025-02", "2025-03"),
    "QUARTERLY": ("2025-06", "2025-05"),
}


@pytest.mark.parametrize(("cycle", "due", "not_due"), [(c, *p) for c, p in CYCLES.items()], ids=list(CYCLES))
def test_books_are_read_only_in_the_months_of_their_cycle(
    admin: str, cycle: str, due: str, not_due: str | None
) -> None:
    """Given a book with a read cycle, when tasks are generated for a month outside the cycle, then the
    book is reported as skipped and no task is created; for a month inside the cycle the task is made."""
    meter = new_meter(admin)
    book = new_book(admin, [meter], read_cycle=cycle)

    if not_due is not None:
        skipped = generate(admin, book["bookId"], not_due)
        assert skipped["skippedBooks"] == [book["code"]] and skipped["createdCount"] == 0
        assert tasks([meter], not_due) == 0
    made = generate(admin, book["bookId"], due)

    assert made["skippedBooks"] == [] and made["createdCount"] == 1 and tasks([meter], due) == 1


def test_generate_by_area_covers_every_book_of_the_area(admin: str) -> None:
    """Given two books in one area and a third elsewhere, when tasks are generated by areaCode, then the
    meters of both books in the area get a task and the other book's meter does not."""
    area = unique("AR-")
    inside = [new_meter(admin), new_meter(admin)]
    outside = new_meter(admin)
    new_book(admin, inside[:1], area_code=area)
    new_book(admin, inside[1:], area_code=area)
    new_book(admin, [outside])

    reply = call("POST", GENERATE, {"billPeriod": "2025-05", "areaCode": area}, token=admin)

    assert reply.code == 0, reply.body
    assert reply.data["createdCount"] == 2
    assert tasks(inside, "2025-05") == 2 and tasks([outside], "2025-05") == 0


def test_generate_for_an_area_of_many_books_succeeds_and_audits_each_book(admin: str) -> None:
    """Given an area of 30 books (one meter each), when tasks are generated for the area, then all 30
    tasks are created and every book has one TASK_GENERATE audit row (the audit row id must not overflow
    with many books)."""
    area = unique("AR-")
    meters = [new_meter(admin) for _ in range(30)]
    books = [new_book(admin, [m], area_code=area)["bookId"] for m in meters]

    reply = call("POST", GENERATE, {"billPeriod": "2025-05", "areaCode": area}, token=admin)

    assert reply.code == 0, reply.body
    assert reply.data["createdCount"] == 30 and tasks(meters, "2025-05") == 30
    assert all(
        [r["operation"] for r in audit_rows("biz_meter_book", b, "TASK_GENERATE")] == ["TASK_GENERATE"]
        for b in books
    )


def test_generate_by_read_cycle_takes_every_book_of_that_cycle(admin: str) -> None:
    """Given a QUARTERLY book and a MONTHLY book, when tasks for 2031-06 are generated by readCycle
    QUARTERLY alone, then the quarterly book's meter gets a task and the monthly one's does not."""
    quarterly, monthly = new_meter(admin), new_meter(admin)
    new_book(admin, [quarterly], read_cycle="QUARTERLY")
    new_book(admin, [monthly])

    reply = call("POST", GENERATE, {"billPeriod": "2031-06", "readCycle": "QUARTERLY"}, token=admin)

    assert reply.code == 0, reply.body
    assert tasks([quarterly], "2031-06") == 1 and tasks([monthly], "2031-06") == 0


def test_a_read_cycle_narrows_the_books_named(admin: str) -> None:
    """Given a MONTHLY and an ODD_MONTH book in one area, when tasks for 2025-05 are generated for the area
    with readCycle ODD_MONTH, then only the odd-month book's meter gets a task and the monthly book is
    reported as skipped."""
    area = unique("AR-")
    odd, monthly = new_meter(admin), new_meter(admin)
    new_book(admin, [odd], area_code=area, read_cycle="ODD_MONTH")
    skipped = new_book(admin, [monthly], area_code=area)

    reply = call(
        "POST", GENERATE, {"billPeriod": "2025-05", "areaCode": area, "readCycle": "ODD_MONTH"}, token=admin
    )

    assert reply.code == 0, reply.body
    assert tasks([odd], "2025-05") == 1 and tasks([monthly], "2025-05") == 0
    assert reply.data["skippedBooks"] == [skipped["code"]]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"billPeriod": "2025-13", "bookIds": [1]}, "billPeriod"),
        ({"billPeriod": "202501", "bookIds": [1]}, "billPeriod"),
        ({"billPeriod": "2025-01"}, "bookIds"),
        ({"billPeriod": "2025-01", "bookIds": [1], "readingBatchNo": "批次 1"}, "readingBatchNo"),
        ({"billPeriod": "2025-01", "readCycle": "WEEKLY"}, "readCycle"),
    ],
    ids=["month 13", "no dash", "no books nor area", "bad batch no", "unknown cycle"],
)
def test_generate_rejects_an_invalid_request(admin: str, body: dict[str, Any], field: str) -> None:
    """Given an invalid generate request, when sent, then 400 naming the field."""
    expect_error(call("POST", GENERATE, body, token=admin), 400, mentions=field)


def test_generate_for_an_unknown_book_is_404_and_creates_nothing(admin: str) -> None:
    """Given one real book and an id that is no book, when tasks are generated for both, then 404 naming
    bookIds and the real book gets no task either."""
    meter = new_meter(admin)
    book = new_book(admin, [meter])

    reply = call(
        "POST", GENERATE, {"billPeriod": "2025-04", "bookIds": [book["bookId"], 987654321]}, token=admin
    )

    expect_error(reply, 404, mentions="bookIds")
    assert tasks([meter], "2025-04") == 0


def test_batch_number_is_kept_on_the_tasks(admin: str) -> None:
    """Given a generate request with a readingBatchNo, when tasks are created, then they carry it."""
    meter = new_meter(admin)
    book = new_book(admin, [meter])
    batch = unique("B-")

    reply = call(
        "POST",
        GENERATE,
        {"billPeriod": "2025-04", "bookIds": [book["bookId"]], "readingBatchNo": batch},
        token=admin,
    )

    assert reply.code == 0, reply.body
    assert (
        sql_scalar("SELECT reading_batch_no FROM biz_meter_read WHERE meter_id = :m", {"m": meter}) == batch
    )


# ------------------------------------------------------------------------ permissions ----------
@pytest.mark.parametrize(
    ("path", "body"),
    [(BOOK_SAVE, book_body([])), (GENERATE, {"billPeriod": "2025-01", "bookIds": [1]})],
    ids=["book save", "generate"],
)
def test_a_user_without_the_task_permission_gets_403(path: str, body: dict[str, Any]) -> None:
    """Given gulou (readings but not revenue:meter-read:task), when it saves a book or generates tasks,
    then 403 naming the permission, and no book is written."""
    token = admin_login("gulou", "gulou123")

    reply = call("POST", path, body, token=token)

    expect_error(reply, 403, mentions=TASK_PERMISSION)
    if path == BOOK_SAVE:
        assert sql_scalar("SELECT count(*) FROM biz_meter_book WHERE code = :c", {"c": body["code"]}) == 0


def test_a_dept_user_cannot_generate_tasks_for_another_dept_book(admin: str, gulou_tasker: str) -> None:
    """Given a 台江 (dept 3) book, when a 鼓楼 user with the task permission generates tasks for it, then
    404 naming bookIds (it is not visible), and no task is created; admin can."""
    meter = new_meter(admin, dept_id=TAIJIANG_DEPT)
    book = new_book(admin, [meter], dept_id=TAIJIANG_DEPT)

    reply = call("POST", GENERATE, {"billPeriod": "2025-04", "bookIds": [book["bookId"]]}, token=gulou_tasker)

    expect_error(reply, 404, mentions="bookIds")
    assert tasks([meter], "2025-04") == 0
    assert generate(admin, book["bookId"], "2025-04")["createdCount"] == 1


def test_a_dept_user_area_generation_leaves_out_other_dept_books(admin: str, gulou_tasker: str) -> None:
    """Given one area with a 鼓楼 book and a 台江 book, when a 鼓楼 user generates tasks by area, then only
    the 鼓楼 meter gets a task."""
    area = unique("AR-")
    mine, theirs = new_meter(admin), new_meter(admin, dept_id=TAIJIANG_DEPT)
    new_book(admin, [mine], area_code=area)
    new_book(admin, [theirs], area_code=area, dept_id=TAIJIANG_DEPT)

    reply = call("POST", GENERATE, {"billPeriod": "2025-04", "areaCode": area}, token=gulou_tasker)

    assert reply.code == 0, reply.body
    assert tasks([mine], "2025-04") == 1 and tasks([theirs], "2025-04") == 0


def test_a_dept_user_cannot_save_a_book_in_another_dept(gulou_tasker: str) -> None:
    """Given a 鼓楼 user with the task permission, when it saves a book in dept 3 (outside its data scope)
    and in a dept that does not exist, then both answer the same 404 naming only the deptId asked for, and
    no book is written (before, dept 3 was a 403: another answer than for an absent dept)."""
    theirs, absent = book_body([], deptId=TAIJIANG_DEPT), book_body([], deptId=987654)

    outside = call("POST", BOOK_SAVE, theirs, token=gulou_tasker)
    missing = call("POST", BOOK_SAVE, absent, token=gulou_tasker)

    expect_error(outside, 404, mentions=f"deptId: 单位 {TAIJIANG_DEPT} 不存在")
    expect_error(missing, 404, mentions="deptId: 单位 987654 不存在")
    assert outside.msg.replace(str(TAIJIANG_DEPT), "?") == missing.msg.replace("987654", "?")
    for body in (theirs, absent):
        assert sql_scalar("SELECT count(*) FROM biz_meter_book WHERE code = :c", {"c": body["code"]}) == 0


@pytest.mark.parametrize(("field", "value"), [("deptId", 987654), ("readerId", 987654)])
def test_a_book_naming_a_dept_or_reader_that_does_not_exist_is_404_not_a_500(
    admin: str, field: str, value: int
) -> None:
    """Given admin (every dept), when a book is saved in a dept, or for a reader, that does not exist, then
    404 naming the field and no book is written (before, the foreign key refused it: a 500)."""
    body = book_body([], **{field: value})

    reply = call("POST", BOOK_SAVE, body, token=admin)

    expect_error(reply, 404, mentions=field)
    assert sql_scalar("SELECT count(*) FROM biz_meter_book WHERE code = :c", {"c": body["code"]}) == 0


def test_a_book_keeps_its_reader(admin: str) -> None:
    """Given an existing back-office user, when a book is saved with it as reader, then the book holds it."""
    reader = int(sql_scalar("SELECT id FROM system_users WHERE username = 'gulou'"))

    reply = call("POST", BOOK_SAVE, book_body([], readerId=reader), token=admin)

    assert reply.code == 0, reply.body
    assert (
        sql_scalar("SELECT reader_id FROM biz_meter_book WHERE id = :b", {"b": reply.data["bookId"]})
        == reader
    )


def test_a_dept_user_cannot_take_over_another_dept_book_by_its_code(admin: str, gulou_tasker: str) -> None:
    """Given a 台江 book, when a 鼓楼 user saves a book with the same code in its own dept, then 403
    naming code, and the book stays in dept 3 with its name."""
    book = new_book(admin, [], dept_id=TAIJIANG_DEPT)

    reply = call("POST", BOOK_SAVE, book_body([], code=book["code"], name="抢来的册本"), token=gulou_tasker)

    expect_error(reply, 403, mentions="code")
    row = sql_scalar("SELECT dept_id || '/' || name FROM biz_meter_book WHERE id = :b", {"b": book["bookId"]})
    assert row == f"{TAIJIANG_DEPT}/测试册本"


def test_a_dept_user_cannot_put_another_dept_meter_in_its_book(admin: str, gulou_tasker: str) -> None:
    """Given a meter of a 台江 customer in a 台江 book, when a 鼓楼 user saves a 鼓楼 book listing that meter,
    then the same 400 as for a meter that does not exist, naming only the id asked for (before: a 403 that
    told the meter exists elsewhere); the meter stays in its book and the new book is not written."""
    meter = new_meter(admin, dept_id=TAIJIANG_DEPT)
    theirs = new_book(admin, [meter], dept_id=TAIJIANG_DEPT)
    body = book_body([meter])

    reply = call("POST", BOOK_SAVE, body, token=gulou_tasker)
    absent = call("POST", BOOK_SAVE, book_body([987654321]), token=gulou_tasker)

    expect_error(reply, 400, mentions=f"meterIds: 水表 [{meter}] 不存在")
    expect_error(absent, 400, mentions="meterIds: 水表 [987654321] 不存在")
    assert sql_scalar("SELECT book_id FROM biz_meter WHERE id = :m", {"m": meter}) == theirs["bookId"]
    assert sql_scalar("SELECT count(*) FROM biz_meter_book WHERE code = :c", {"c": body["code"]}) == 0
