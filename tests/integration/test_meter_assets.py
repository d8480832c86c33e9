"""IF-METER-001..003: meter stock (IN / OUT / RETURN / SCRAP, a line result each, a balance that never
goes negative, also under concurrency), work orders (their state machine; a meter change closes the old
meter and starts the new one so the next bill is right) and the archive."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any

from tests.support import (
    call,
    charge_generate,
    expect_error,
    generate,
    household,
    last_reading,
    read_time,
    sql_all,
    sql_scalar,
    task_of,
    unique,
)

STOCK = "/admin-api/meter/stock/in-out"
ORDER = "/admin-api/meter/work-order"
ARCHIVE = "/admin-api/meter/archive"


def stock(
    admin: str, action: str, meter_ids: list[int], *, warehouse: str | None = None, **extra: Any
) -> Any:
    body = {
        "action": action,
        "batchNo": unique(f"{action}-"),
        "meterIds": meter_ids,
        "operatorId": 1,
        **extra,
    }
    if warehouse:
        body["warehouseCode"] = warehouse
    return call("POST", STOCK, body, token=admin)


def new_stock(admin: str, warehouse: str, count: int, caliber: str = "DN20") -> list[int]:
    """`count` new meters taken into `warehouse`; their ids."""
    meters = [{"meterNo": unique("NS"), "caliber": caliber} for _ in range(count)]
    reply = stock(admin, "IN", [], warehouse=warehouse, newMeters=meters)
    assert reply.code == 0 and reply.data["actionStatus"] == "SUCCESS", reply.body
    return [line["meterId"] for line in reply.data["lines"]]


def balance(warehouse: str, caliber: str = "DN20") -> int:
    return int(
        sql_scalar(
            "SELECT COALESCE((SELECT quantity FROM biz_meter_stock WHERE warehouse_code = :w AND caliber = :c), 0)",
            {"w": warehouse, "c": caliber},
        )
    )


def test_stock_lines_succeed_or_fail_one_by_one(admin: str) -> None:
    """Given three meters in a warehouse, when a batch issues two of them and one unknown meter, then the
    batch is PARTIAL with a reason on the failed line and the balance drops by two; the same batch again
    answers the first result and moves nothing; a return and a scrap move the balance back and down."""
    wh = unique("WH")
    a, b, c = new_stock(admin, wh, 3)
    assert balance(wh) == 3
    batch = unique("OUT-")
    body = {"action": "OUT", "batchNo": batch, "meterIds": [a, b, 987654321000], "operatorId": 1}
    out = call("POST", STOCK, body, token=admin)
    assert out.code == 0 and out.data["actionStatus"] == "PARTIAL", out.body
    assert (out.data["successCount"], out.data["failCount"]) == (2, 1)
    assert [x["reason"] for x in out.data["lines"] if x["lineStatus"] == "FAIL"] == ["水表不存在"]
    assert balance(wh) == 1
    again = call("POST", STOCK, body, token=admin)
    assert again.data["inOutId"] == out.data["inOutId"] and "首次" in again.data["msg"] and balance(wh) == 1
    twice = stock(admin, "OUT", [a])
    assert twice.data["actionStatus"] == "FAIL" and "ISSUED" in twice.data["lines"][0]["reason"]
    assert stock(admin, "RETURN", [a], warehouse=wh).data["actionStatus"] == "SUCCESS"
    assert balance(wh) == 2
    assert stock(admin, "SCRAP", [c]).data["actionStatus"] == "SUCCESS"
    assert balance(wh) == 1
    assert stock(admin, "OUT", [c]).data["actionStatus"] == "FAIL"  # scrapped is final
    expect_error(stock(admin, "RETURN", [b]), 400, mentions="warehouseCode")
    shown = call("GET", "/admin-api/meter/stock/balance", query=f"warehouseCode={wh}", token=admin)
    assert shown.data == [{"warehouseCode": wh, "caliber": "DN20", "quantity": 1}]


def test_the_balance_never_goes_negative_under_concurrent_issues(admin: str) -> None:
    """Given five meters in stock, when twenty batches try to issue them at once from eight threads,
    then each meter is issued exactly once, the balance ends at zero (never below), and it equals the
    count of meters in stock."""
    wh = unique("WH")
    meters = new_stock(admin, wh, 5)

    def issue(i: int) -> Any:
        picked = [meters[(i + k) % 5] for k in range(3)]
        return stock(admin, "OUT", picked).data

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(issue, range(20)))
    issued = [x["meterId"] for r in results for x in r["lines"] if x["lineStatus"] == "SUCCESS"]
    assert sorted(issued) == sorted(meters)
    assert balance(wh) == 0
    in_stock = sql_scalar(
        "SELECT count(*) FROM biz_meter WHERE warehouse_code = :w AND stock_status = 'IN_STOCK'", {"w": wh}
    )
    assert in_stock == 0


def test_concurrent_returns_and_issues_keep_the_balance_equal_to_the_stock(admin: str) -> None:
    """Given meters going out and coming back at once, then the balance equals the meters in stock."""
    wh = unique("WH")
    meters = new_stock(admin, wh, 6)
    assert stock(admin, "OUT", meters[:3]).data["successCount"] == 3

    def move(i: int) -> Any:
        if i % 2:
            return stock(admin, "RETURN", [meters[i % 3]], warehouse=wh).data
        return stock(admin, "OUT", [meters[3 + i % 3]]).data

    with ThreadPoolExecutor(max_workers=6) as pool:
        list(pool.map(move, range(12)))
    counted = sql_scalar(
        "SELECT count(*) FROM biz_meter WHERE warehouse_code = :w AND stock_status = 'IN_STOCK'", {"w": wh}
    )
    assert balance(wh) == counted == 3


def handle(admin: str, order_no: str, action: str, **extra: Any) -> Any:
    return call("POST", f"{ORDER}/handle", {"workOrderNo": order_no, "action": action, **extra}, token=admin)


def open_order(admin: str, kind: str, meter_id: int, reason: str = "测试") -> Any:
    return call(
        "POST", f"{ORDER}/create", {"orderType": kind, "meterId": meter_id, "reason": reason}, token=admin
    )


def test_the_work_order_state_machine(admin: str) -> None:
    """Given a calibration order, then completing before dispatch is refused, dispatch -> complete is
    allowed and records the certificate; a second live order on the meter is refused; a done order cannot
    be cancelled, a retried completion answers without doing it twice; a cancelled order is final."""
    home = household(admin)
    meter = home.meter_ids[0]
    order = open_order(admin, "CALIBRATE", meter)
    assert order.code == 0 and order.data["orderStatus"] == "CREATED", order.body
    no = order.data["workOrderNo"]
    expect_error(open_order(admin, "REPAIR", meter), 409, mentions=no)
    expect_error(
        handle(admin, no, "COMPLETE", certificateNo="C1", verifyResult="PASS"), 409, mentions="CREATED"
    )
    assert handle(admin, no, "DISPATCH", handlerId=1).data["orderStatus"] == "DISPATCHED"
    expect_error(handle(admin, no, "COMPLETE"), 400, mentions="certificateNo")
    cert = unique("JD")
    done = handle(admin, no, "COMPLETE", certificateNo=cert, verifyResult="PASS", validUntil="2032-12-31")
    assert done.data["orderStatus"] == "DONE", done.body
    assert (
        handle(admin, no, "COMPLETE", certificateNo=cert, verifyResult="PASS").data["orderStatus"] == "DONE"
    )
    expect_error(handle(admin, no, "CANCEL"), 409, mentions="DONE")
    assert sql_scalar("SELECT count(*) FROM biz_meter_certificate WHERE meter_id = :m", {"m": meter}) == 1
    repair = open_order(admin, "REPAIR", meter).data["workOrderNo"]
    assert handle(admin, repair, "CANCEL").data["orderStatus"] == "CANCELLED"
    expect_error(handle(admin, repair, "DISPATCH"), 409, mentions="CANCELLED")
    listed = call("GET", f"{ORDER}/page", query=f"meterId={meter}&status=CANCELLED", token=admin)
    assert [o["workOrderNo"] for o in listed.data["list"]] == [repair], listed.body
    archive = call("GET", f"{ARCHIVE}/{meter}", token=admin)
    assert archive.code == 0, archive.body
    assert archive.data["certificates"][0]["certificateNo"] == cert
    assert {o["workOrderNo"] for o in archive.data["workOrders"]} == {no, repair}
    assert archive.data["customer"]["custId"] == home.cust_id
    assert (
        call("GET", f"{ARCHIVE}/get", query=f"code={archive.data['code']}&queryType=base", token=admin).data[
            "workOrders"
        ]
        is None
    )


def change_meter(admin: str, old: int, new: int, final: str, initial: str = "0") -> Any:
    order = open_order(admin, "CHANGE", old, "表停走").data["workOrderNo"]
    handle(admin, order, "DISPATCH", handlerId=1)
    return handle(admin, order, "COMPLETE", oldFinalReading=final, newMeterId=new, newInitialReading=initial)


def test_a_meter_change_bills_the_old_meters_last_usage_with_the_new_meters_first(admin: str) -> None:
    """Given a household read at 100 in January (billed), a task open for February, and a new meter issued
    from stock, when the meter is changed with the old meter at 130 and the new one starting at 5, then the
    old meter is removed, the new one serves the customer from 5 in the same book with the February task,
    and the February reading of 25 on the new meter is billed as 30 + 20 = 50 m³."""
    home = household(admin)
    old = home.meter_ids[0]
    home.read(admin, "2025-01", [100])
    assert charge_generate(admin, "2025-01", customerIds=[home.cust_id]).code == 0
    generate(admin, home.book_id, "2025-02")
    wh = unique("WH")
    (new,) = new_stock(admin, wh, 1)
    refused = change_meter(admin, old, new, "130", "5")
    expect_error(refused, 409, mentions="领用")  # not issued yet: still in stock
    cancel = sql_scalar(
        "SELECT order_no FROM biz_meter_work_order WHERE meter_id = :m AND status = 'DISPATCHED'", {"m": old}
    )
    handle(admin, cancel, "CANCEL")
    assert stock(admin, "OUT", [new]).data["actionStatus"] == "SUCCESS"
    expect_error(change_meter(admin, old, new, "90", "5"), 1_002_002_002, mentions="100")
    cancel = sql_scalar(
        "SELECT order_no FROM biz_meter_work_order WHERE meter_id = :m AND status = 'DISPATCHED'", {"m": old}
    )
    handle(admin, cancel, "CANCEL")
    done = change_meter(admin, old, new, "130", "5")
    assert done.code == 0 and done.data["newMeterId"] == new, done.body
    meters = {
        r["meter_id"]: r["status"]
        for r in sql_all(
            "SELECT meter_id, status FROM biz_cust_meter WHERE cust_id = :c", {"c": home.cust_id}
        )
    }
    assert meters == {old: "REMOVED", new: "ACTIVE"}
    assert (
        sql_scalar(
            "SELECT status FROM biz_meter_read WHERE meter_id = :m AND bill_period = '2025-02'", {"m": old}
        )
        == "CLOSED"
    )
    assert Decimal(last_reading(new)["reading_value"]) == Decimal("5")
    body = {
        "meterReadId": task_of(new, "2025-02"),
        "meterId": new,
        "readTime": read_time("2025-02"),
        "currentReading": "25",
        "readType": "MANUAL",
    }
    reading = call("POST", "/admin-api/revenue/reading-data/create", body, token=admin)
    assert reading.code == 0 and Decimal(reading.data["usageAmount"]) == Decimal("50"), reading.body
    billed = charge_generate(admin, "2025-02", customerIds=[home.cust_id])
    assert billed.code == 0, billed.body
    bill = sql_all(
        "SELECT usage_amount FROM biz_charge WHERE cust_id = :c AND bill_period = '2025-02'",
        {"c": home.cust_id},
    )
    assert [Decimal(b["usage_amount"]) for b in bill] == [Decimal("50")]
    archive = call("GET", f"{ARCHIVE}/{old}", token=admin).data
    assert archive["meterStatus"] == "REMOVED" and archive["stockStatus"] == "REMOVED"
    assert {e["event"] for e in archive["lifeCycle"]} >= {"REMOVED", "WORK_ORDER_DONE"}
    # the removed meter can come back to stock
    assert stock(admin, "RETURN", [old], warehouse=wh).data["actionStatus"] == "SUCCESS"


def test_a_meter_change_carries_the_mixed_use_split_to_the_new_meter(admin: str) -> None:
    """Given a meter split 30% commercial / 70% residential from 2024-01-01 (and an older version that
    ended), when it is changed, then the new meter carries the version in force, with its dates."""
    from tests.support import sql_exec

    home = household(admin)
    old = home.meter_ids[0]
    for part, code, ratio, start, end in (
        (1, "OLD", "1", "2023-01-01", "2023-12-31"),
        (1, "BIZ", "0.3", "2024-01-01", None),
        (2, "RES", "0.7", "2024-01-01", None),
    ):
        sql_exec(
            "INSERT INTO biz_meter_price_split (meter_id, part_no, price_code, split_mode, ratio, effective_date,"
            " expire_date) VALUES (:m, :p, :c, 'RATIO', :r, :s, :e)",
            {"m": old, "p": part, "c": code, "r": ratio, "s": start, "e": end},
        )
    (new,) = new_stock(admin, unique("WH"), 1)
    stock(admin, "OUT", [new])
    assert change_meter(admin, old, new, "0").data["orderStatus"] == "DONE"
    parts = sql_all(
        "SELECT part_no, price_code, ratio, effective_date::text AS starts FROM biz_meter_price_split"
        " WHERE meter_id = :m ORDER BY part_no",
        {"m": new},
    )
    assert [(p["part_no"], p["price_code"], str(p["ratio"]), p["starts"]) for p in parts] == [
        (1, "BIZ", "0.3000", "2024-01-01"),
        (2, "RES", "0.7000", "2024-01-01"),
    ]


def test_a_meter_serving_a_customer_out_of_scope_is_not_there(admin: str) -> None:
    """Given a clerk of one office, a meter of another office's customer answers as a missing meter."""
    from tests.support import TAIJIANG_DEPT, admin_login, new_admin_user

    home = household(admin, dept_id=TAIJIANG_DEPT)
    clerk = admin_login(
        new_admin_user(permissions=("meter:archive:query",), data_scope="DEPT_ONLY"), "Passw0rd!"
    )
    theirs = call("GET", f"{ARCHIVE}/{home.meter_ids[0]}", token=clerk)
    missing = call("GET", f"{ARCHIVE}/987654321000", token=clerk)
    assert (theirs.status, theirs.code) == (missing.status, missing.code) == (404, 404)


def test_a_move_changes_the_install_address_and_a_repair_is_logged(admin: str) -> None:
    """Given a household's meter, when a MOVE order completes with a new address and a REPAIR order with
    what was done, then the archive shows the new address and both in the meter's life cycle; a MOVE
    without an address is refused naming installAddress."""
    home = household(admin)
    meter = home.meter_ids[0]
    move = open_order(admin, "MOVE", meter, "改造移表").data["workOrderNo"]
    handle(admin, move, "DISPATCH")
    expect_error(handle(admin, move, "COMPLETE"), 400, mentions="installAddress")
    assert handle(admin, move, "COMPLETE", installAddress="鼓楼区新址路 9 号").data["orderStatus"] == "DONE"
    repair = open_order(admin, "REPAIR", meter, "表盘破损").data["workOrderNo"]
    handle(admin, repair, "DISPATCH")
    assert handle(admin, repair, "COMPLETE", remark="更换表盘玻璃").data["orderStatus"] == "DONE"
    archive = call("GET", f"{ARCHIVE}/{meter}", query="queryType=lifeCycle", token=admin).data
    assert archive["installAddress"] == "鼓楼区新址路 9 号"
    assert {"MOVED", "REPAIRED"} <= {e["event"] for e in archive["lifeCycle"]}
    expect_error(open_order(admin, "CHANGE", 987654321000), 404)
