"""IF-CS-005: outlets - searched by district, business type and "open now", with the distance from a
point, their services and appointment entry - and their maintenance by the back office."""

from __future__ import annotations

import datetime as dt

from tests.support import call, channel_login, expect_error, unique
from waterrev.context import Principal, RequestContext, UserType
from waterrev.service import outlets
from waterrev.service.commands import OutletSearch

SAVE = "/admin-api/customer/outlet/save"
PAGE = "/app-api/customer/outlet/page"


def outlet(
    admin: str, district: str, lon: float, lat: float, hours: list[dict], types: list[str], **extra: object
) -> str:
    code = unique("WD")
    body = {
        "code": code,
        "name": f"测试网点{code}",
        "district": district,
        "address": f"{district}测试路 1 号",
        "phone": "0591-87000000",
        "longitude": lon,
        "latitude": lat,
        "openingHours": hours,
        "businessTypeCodes": types,
        "appointmentUrl": f"https://example.com/a/{code}",
        **extra,
    }
    reply = call("POST", SAVE, body, token=admin)
    assert reply.code == 0, reply.body
    return code


WEEKDAYS = [{"weekdays": [1, 2, 3, 4, 5], "open": "08:30", "close": "17:30"}]


def test_search_by_district_type_and_distance(admin: str) -> None:
    """Given two outlets in a new district, when a customer searches the district from a point, then both
    come nearest first with their distance, hours, services (online or not) and appointment entry; a
    business-type filter keeps the one that handles it; a closed outlet is not shown to customers."""
    district = unique("区")
    near = outlet(admin, district, 119.3000, 26.0800, WEEKDAYS, ["RENAME", "METER_CHANGE"])
    far = outlet(admin, district, 119.4000, 26.0800, WEEKDAYS, ["RENAME"])
    shut = outlet(admin, district, 119.3001, 26.0800, WEEKDAYS, ["RENAME"], status="CLOSED")
    token = channel_login(unique("wd"))
    found = call("GET", PAGE, query=f"district={district}&longitude=119.3001&latitude=26.0801", token=token)
    assert found.code == 0, found.body
    items = found.data["list"]
    assert [i["outletCode"] for i in items] == [near, far] and shut not in {i["outletCode"] for i in items}
    assert items[0]["distanceMeters"] < 50 < 9000 < items[1]["distanceMeters"] < 11000
    assert items[0]["appointmentUrl"].endswith(near) and items[0]["openingHours"][0]["open"] == "08:30"
    assert {s["businessTypeCode"]: s["onlineAvailable"] for s in items[0]["services"]} == {
        "RENAME": True,
        "METER_CHANGE": True,
    }
    typed = call("GET", PAGE, query=f"district={district}&businessTypeCode=METER_CHANGE", token=token)
    assert [i["outletCode"] for i in typed.data["list"]] == [near]
    assert typed.data["list"][0]["distanceMeters"] is None
    detail = call("GET", f"/app-api/customer/outlet/{near}", token=token)
    assert detail.code == 0 and detail.data["outletCode"] == near
    expect_error(call("GET", f"/app-api/customer/outlet/{shut}", token=token), 404)
    listed = call("GET", "/admin-api/customer/outlet/page", query=f"district={district}", token=admin)
    assert listed.data["total"] == 3
    types = call("GET", "/app-api/customer/outlet/business-types", token=token)
    assert {t["businessTypeCode"] for t in types.data} >= {"RENAME", "TRANSFER", "LOW_INCOME", "SELF_READING"}


def test_open_now_follows_the_utilitys_clock(admin: str) -> None:
    """Given an outlet open 08:30-17:30 on weekdays and 09:00-12:00 on Saturdays (Beijing time), then it is
    open on a Monday at 09:00 and a Saturday at 11:59, closed on a Monday at 17:30 and on a Sunday."""
    district = unique("区")
    hours = [*WEEKDAYS, {"weekdays": [6], "open": "09:00", "close": "12:00"}]
    code = outlet(admin, district, 119.3, 26.08, hours, ["RENAME"])
    ctx = RequestContext("t", Principal(0, UserType.SYSTEM, "test", dept_ids=None))
    beijing = dt.timezone(dt.timedelta(hours=8))

    def open_at(*moment: int) -> bool:
        page = outlets.search(
            ctx, OutletSearch(district=district, open_now=True), now=dt.datetime(*moment, tzinfo=beijing)
        )
        return [i["outletCode"] for i in page["list"]] == [code]

    assert open_at(2026, 3, 2, 9, 0) and open_at(2026, 3, 7, 11, 59)
    assert (
        not open_at(2026, 3, 2, 17, 30) and not open_at(2026, 3, 8, 10, 0) and not open_at(2026, 3, 2, 8, 29)
    )


def test_maintenance_refuses_bad_hours_and_unknown_types(admin: str) -> None:
    """Given the maintenance route, hours closing before they open, or an unknown business type, are
    refused naming the field; saving again by code changes the outlet."""
    bad = [{"weekdays": [1], "open": "18:00", "close": "09:00"}]
    district = unique("区")
    code = unique("WD")
    base = {
        "code": code,
        "name": "网点",
        "district": district,
        "address": "地址",
        "phone": "0591-1",
        "longitude": 119.3,
        "latitude": 26.0,
        "businessTypeCodes": ["RENAME"],
    }
    expect_error(call("POST", SAVE, {**base, "openingHours": bad}, token=admin), 400, mentions="openingHours")
    expect_error(
        call("POST", SAVE, {**base, "openingHours": WEEKDAYS, "businessTypeCodes": ["NOPE"]}, token=admin),
        400,
        mentions="businessTypeCodes",
    )
    assert call("POST", SAVE, {**base, "openingHours": WEEKDAYS}, token=admin).code == 0
    changed = call("POST", SAVE, {**base, "openingHours": WEEKDAYS, "phone": "0591-2"}, token=admin)
    assert changed.data["phone"] == "0591-2"
