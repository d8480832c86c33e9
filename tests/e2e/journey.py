"""Steps several e2e journeys share, over HTTP only: the demo admin's token, and a new customer with one
meter, read once and billed (IF-REV-002, IF-REV-003, IF-REV-004, IF-REV-005)."""

from __future__ import annotations

import time
from typing import Any, NamedTuple

import httpx

from tests.e2e.test_payment_journey import ok


class Billed(NamedTuple):
    tag: str  # unique per run: meter number, book and area codes carry it
    cust_id: int
    meter_id: int
    bill: dict[str, Any]  # the generate reply's successList entry


def admin_headers(client: httpx.Client) -> dict[str, str]:
    reply = client.post("/admin-api/system/auth/login", json={"username": "admin", "password": "admin123"})
    return {"Authorization": "Bearer " + ok(reply)["accessToken"]}


def billed_customer(
    client: httpx.Client,
    admin: dict[str, str],
    *,
    name: str,
    mobile: str,
    address: str,
    code: str,
    period: str,
    reading: str,
    due_date: str,
) -> Billed:
    """A RESIDENT customer of 鼓楼 (dept 2) with one meter in a book of its own, `reading` m3 read on the
    15th of `period`, and that period billed."""
    tag = f"{time.time_ns() % 10**8:08d}"
    cust = ok(
        client.post(
            "/admin-api/revenue/customer/create",
            headers=admin,
            json={
                "name": name,
                "custType": "RESIDENT",
                "mobile": mobile,
                "address": address,
                "deptId": 2,
                "meterList": [{"meterNo": f"E2E{code}{tag}", "caliber": "DN20"}],
            },
        )
    )
    (meter,) = cust["meterIds"]
    book = ok(
        client.post(
            "/admin-api/revenue/meter-book/save",
            headers=admin,
            json={
                "code": f"BK-{code}-{tag}",
                "name": f"{name}旅程册",
                "areaCode": f"AR-{code}{tag}",
                "deptId": 2,
                "readCycle": "MONTHLY",
                "meterIds": [meter],
            },
        )
    )
    (task,) = ok(
        client.post(
            "/admin-api/revenue/meter-read/generate",
            headers=admin,
            json={"billPeriod": period, "bookIds": [book["bookId"]]},
        )
    )["meterReadIds"]
    ok(
        client.post(
            "/admin-api/revenue/reading-data/create",
            headers=admin,
            json={
                "meterReadId": task,
                "meterId": meter,
                "readTime": f"{period}-15T09:30:00+08:00",
                "currentReading": reading,
                "readType": "MANUAL",
            },
        )
    )
    (bill,) = ok(
        client.post(
            "/admin-api/revenue/charge/generate",
            headers=admin,
            json={"billPeriod": period, "dueDate": due_date, "meterReadIds": [task]},
        )
    )["successList"]
    return Billed(tag, int(cust["id"]), int(meter), bill)
