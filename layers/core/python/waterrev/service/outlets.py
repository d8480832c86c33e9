"""IF-CS-005 网点与业务办理: the outlets a customer can visit - searched by district, business type and
"open now", each with its hours, phone, address, coordinates, the distance from a given point, the
business types it handles (which of them can also be applied for online, IF-CS-006) and its
appointment entry - and the back office's maintenance of them. Outlets are not any customer's: every
channel user sees the open ones."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any
from zoneinfo import ZoneInfo

from waterrev import audit
from waterrev.context import RequestContext
from waterrev.db import UnitOfWork
from waterrev.envelope import page
from waterrev.errors import AppError, ErrorCode
from waterrev.service import rules
from waterrev.service.commands import OutletSearch, SaveOutlet
from waterrev.visibility import dept_visible

ZONE = ZoneInfo("Asia/Shanghai")  # the utility's wall clock: opening hours are kept in it

_SELECT = """
SELECT o.*, COALESCE((SELECT json_agg(json_build_object('code', t.code, 'name', t.name, 'online', t.online)
                      ORDER BY t.sort) FROM biz_outlet_business ob JOIN biz_business_types t
                      ON t.code = ob.business_type_code AND t.status = 'ENABLED' WHERE ob.outlet_id = o.id), '[]')
       AS services
  FROM biz_outlets o
"""


def _item(row: dict[str, Any], now_local: dt.datetime, origin: tuple[float, float] | None) -> dict[str, Any]:
    hours = row["opening_hours"] or []
    lon, lat = float(row["longitude"]), float(row["latitude"])
    return {
        "outletId": row["id"],
        "outletCode": row["code"],
        "outletName": row["name"],
        "district": row["district"],
        "address": row["address"],
        "phone": row["phone"],
        "longitude": f"{lon:.6f}",
        "latitude": f"{lat:.6f}",
        "openingHours": [
            {"weekdays": list(h["weekdays"]), "open": h["open"], "close": h["close"]} for h in hours
        ],
        "openNow": row["status"] == "OPEN" and rules.is_open(hours, now_local),
        "distanceMeters": None if origin is None else rules.distance_m(origin[0], origin[1], lon, lat),
        "services": [
            {"businessTypeCode": s["code"], "businessTypeName": s["name"], "onlineAvailable": s["online"]}
            for s in row["services"]
        ],
        "appointmentUrl": row["appointment_url"],
        "outletStatus": row["status"],
    }


def search(
    ctx: RequestContext, q: OutletSearch, *, now: dt.datetime | None = None, all_status: bool = False
) -> dict[str, Any]:
    """Outlets matching the filters; nearest first when a point is given, else by code. "open now" is
    decided on the utility's wall clock."""
    if (q.longitude is None) != (q.latitude is None):
        raise AppError(ErrorCode.BAD_REQUEST, "longitude、latitude: 须同时提供")
    now_local = (now or dt.datetime.now(dt.UTC)).astimezone(ZONE)
    origin = None if q.longitude is None or q.latitude is None else (q.longitude, q.latitude)
    with UnitOfWork() as uow:
        rows = uow.all(
            _SELECT + " WHERE (CAST(:all AS boolean) OR o.status = 'OPEN')"
            " AND (CAST(:d AS varchar) IS NULL OR o.district = :d)"
            " AND (CAST(:k AS varchar) IS NULL OR o.name LIKE '%' || :k || '%' OR o.address LIKE '%' || :k || '%')"
            " AND (CAST(:t AS varchar) IS NULL OR EXISTS (SELECT 1 FROM biz_outlet_business ob"
            "      WHERE ob.outlet_id = o.id AND ob.business_type_code = :t))"
            " ORDER BY o.code",
            {"all": all_status, "d": q.district, "k": q.keyword, "t": q.business_type_code},
        )
    items = [_item(r, now_local, origin) for r in rows]
    if q.open_now:
        items = [i for i in items if i["openNow"]]
    if origin is not None:
        items.sort(key=lambda i: (i["distanceMeters"], i["outletCode"]))
    start = (q.page_no - 1) * q.page_size
    return page(items[start : start + q.page_size], len(items), q.page_no, q.page_size)


def get(ctx: RequestContext, code: str, longitude: float | None, latitude: float | None) -> dict[str, Any]:
    origin = None if longitude is None or latitude is None else (longitude, latitude)
    with UnitOfWork() as uow:
        row = uow.one(_SELECT + " WHERE o.code = :c AND o.status = 'OPEN'", {"c": code})
    if row is None:
        raise AppError(ErrorCode.NOT_FOUND, f"outletCode: 网点 {code} 不存在")
    return _item(row, dt.datetime.now(dt.UTC).astimezone(ZONE), origin)


def business_types(ctx: RequestContext) -> list[dict[str, Any]]:
    """可办事项: every enabled business type, whether it can be applied for online, what it needs."""
    with UnitOfWork() as uow:
        rows = uow.all("SELECT * FROM biz_business_types WHERE status = 'ENABLED' ORDER BY sort, code")
    return [
        {
            "businessTypeCode": r["code"],
            "businessTypeName": r["name"],
            "onlineAvailable": r["online"],
            "minAttachments": r["min_attachments"],
            "description": r["description"],
        }
        for r in rows
    ]


def save(ctx: RequestContext, cmd: SaveOutlet) -> dict[str, Any]:
    """Create or change an outlet (by its code), with the business types it handles."""
    try:
        rules.valid_hours(cmd.opening_hours)
    except ValueError as exc:
        raise AppError(ErrorCode.BAD_REQUEST, str(exc)) from None
    if cmd.dept_id is not None and not dept_visible(ctx, cmd.dept_id):
        raise AppError(ErrorCode.NOT_FOUND, f"deptId: 部门 {cmd.dept_id} 不存在")
    with UnitOfWork() as uow:
        known = {
            r["code"]
            for r in uow.all(
                "SELECT code FROM biz_business_types WHERE code = ANY(CAST(:c AS varchar[]))",
                {"c": list(cmd.business_type_codes)},
            )
        }
        unknown = sorted(set(cmd.business_type_codes) - known)
        if unknown:
            raise AppError(ErrorCode.BAD_REQUEST, f"businessTypeCodes: 未知业务类型 {unknown[0]}")
        before = uow.one("SELECT * FROM biz_outlets WHERE code = :c FOR UPDATE", {"c": cmd.code})
        if before is not None and before["dept_id"] is not None and not dept_visible(ctx, before["dept_id"]):
            raise AppError(ErrorCode.NOT_FOUND, f"code: 网点 {cmd.code} 不存在")
        params = {
            "code": cmd.code,
            "name": cmd.name,
            "dept": cmd.dept_id,
            "district": cmd.district,
            "address": cmd.address,
            "phone": cmd.phone,
            "lon": cmd.longitude,
            "lat": cmd.latitude,
            "hours": json.dumps(list(cmd.opening_hours)),
            "url": cmd.appointment_url,
            "status": cmd.status,
            "remark": cmd.remark,
        }
        outlet_id = uow.scalar(
            "INSERT INTO biz_outlets (code, name, dept_id, district, address, phone, longitude, latitude,"
            " opening_hours, appointment_url, status, remark) VALUES (:code, :name, :dept, :district, :address,"
            " :phone, :lon, :lat, CAST(:hours AS jsonb), :url, :status, :remark) ON CONFLICT (code) DO UPDATE SET"
            " name = :name, dept_id = :dept, district = :district, address = :address, phone = :phone,"
            " longitude = :lon, latitude = :lat, opening_hours = CAST(:hours AS jsonb), appointment_url = :url,"
            " status = :status, remark = :remark, update_time = now() RETURNING id",
            params,
        )
        uow.execute("DELETE FROM biz_outlet_business WHERE outlet_id = :o", {"o": outlet_id})
        uow.execute(
            "INSERT INTO biz_outlet_business (outlet_id, business_type_code)"
            " SELECT :o, unnest(CAST(:c AS varchar[]))",
            {"o": outlet_id, "c": sorted(set(cmd.business_type_codes))},
        )
        audit.record(
            uow,
            ctx,
            module="CS-005",
            operation="OUTLET_SAVE",
            object_type="biz_outlets",
            object_id=outlet_id,
            before=None if before is None else {k: before[k] for k in ("name", "address", "phone", "status")},
            after={**params, "businessTypeCodes": sorted(set(cmd.business_type_codes))},
        )
        row = uow.one(_SELECT + " WHERE o.id = :i", {"i": outlet_id})
        assert row is not None
        uow.commit()
    return _item(row, dt.datetime.now(dt.UTC).astimezone(ZONE), None)
