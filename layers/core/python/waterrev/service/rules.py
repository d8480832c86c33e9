"""The service desk's rules, pure: what each business type's applyData must hold, the digests that make
a submission idempotent, the nodes of an application, and when an outlet is open and how far it is."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

RENAME = "RENAME"
TRANSFER = "TRANSFER"
CONTACT_CHANGE = "CONTACT_CHANGE"
INVOICE_CHANGE = "INVOICE_CHANGE"
POPULATION = "POPULATION"
SELF_READING = "SELF_READING"
METER_CHANGE = "METER_CHANGE"
LOW_INCOME = "LOW_INCOME"
BUSINESS_TYPES = (
    RENAME,
    TRANSFER,
    CONTACT_CHANGE,
    INVOICE_CHANGE,
    POPULATION,
    SELF_READING,
    METER_CHANGE,
    LOW_INCOME,
)

# The nodes an application passes (currentNode); the trail names each step's node.
NODE_SUBMITTED = "SUBMITTED"  # 待受理
NODE_HANDLING = "HANDLING"  # 受理办理中 (the accepting clerk, or whoever it was transferred to)
NODE_SUPPLEMENT = "SUPPLEMENT"  # 待客户补件
NODE_WORK_ORDER = "WORK_ORDER"  # 表务工单处理中 (a meter change)
NODE_DONE = "DONE"  # 办结
NODE_REJECTED = "REJECTED"  # 驳回
NODE_NAMES = {
    NODE_SUBMITTED: "待受理",
    NODE_HANDLING: "办理中",
    NODE_SUPPLEMENT: "待补件",
    NODE_WORK_ORDER: "表务工单处理中",
    NODE_DONE: "已办结",
    NODE_REJECTED: "已驳回",
}

_MOBILE = re.compile(r"^1[3-9]\d{9}$")
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,120}\.[A-Za-z]{2,}$")
_TAX_NO = re.compile(r"^[0-9A-Z]{15,20}$")
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class ApplyDataError(ValueError):
    """applyData does not fit its business type; the message names the field (applyData.xxx)."""


def _text(data: Mapping[str, Any], name: str, limit: int, *, required: bool = True) -> str | None:
    value = data.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise ApplyDataError(f"applyData.{name}: 必填")
        return None
    if not isinstance(value, str):
        raise ApplyDataError(f"applyData.{name}: 须为字符串")
    value = value.strip()
    if len(value) > limit:
        raise ApplyDataError(f"applyData.{name}: 长度不能超过 {limit}")
    return value


def _mobile(data: Mapping[str, Any], name: str = "mobile") -> str:
    value = _text(data, name, 11)
    assert value is not None
    if not _MOBILE.match(value):
        raise ApplyDataError(f"applyData.{name}: 手机号格式不正确")
    return value


def _id_card(value: str) -> bool:
    if not re.fullmatch(r"\d{17}[\dX]", value):
        return False
    total = sum(int(c) * w for c, w in zip(value[:17], _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11] == value[17]


def _positive_int(data: Mapping[str, Any], name: str, high: int) -> int:
    value = data.get(name)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ApplyDataError(f"applyData.{name}: 须为整数")
    if not 1 <= value <= high:
        raise ApplyDataError(f"applyData.{name}: 须在 1 到 {high} 之间")
    return value


def _reading(data: Mapping[str, Any], name: str) -> str:
    value = data.get(name)
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise ApplyDataError(f"applyData.{name}: 须为数字") from None
    if value is None or isinstance(value, bool) or not number.is_finite() or number < 0:
        raise ApplyDataError(f"applyData.{name}: 须为非负数字")
    if number >= Decimal("10000000000") or number != number.quantize(Decimal("0.01")):
        raise ApplyDataError(f"applyData.{name}: 最多两位小数、十位整数")
    return str(number.quantize(Decimal("0.01")))


def normalize_apply_data(business_type: str, data: Mapping[str, Any]) -> dict[str, Any]:
    """The applyData a type needs, checked and normalized (unknown keys are refused: nothing stored that
    nothing reads)."""
    allowed: dict[str, tuple[str, ...]] = {
        RENAME: ("newName", "reason"),
        TRANSFER: ("newName", "idType", "idNo", "mobile", "reason"),
        CONTACT_CHANGE: ("mobile", "contactName"),
        INVOICE_CHANGE: ("invoiceType", "titleType", "invoiceTitle", "taxNo", "email"),
        POPULATION: ("population", "reason"),
        SELF_READING: ("meterId", "currentReading", "readTime"),
        METER_CHANGE: ("meterId", "reason"),
        LOW_INCOME: ("certificateNo", "validUntil"),
    }
    if business_type not in allowed:
        raise ApplyDataError(f"businessTypeCode: 不支持的业务类型 {business_type}")
    extra = sorted(set(data) - set(allowed[business_type]))
    if extra:
        raise ApplyDataError(f"applyData.{extra[0]}: {business_type} 不需要该字段")
    out: dict[str, Any] = {}
    if business_type == RENAME:
        out["newName"] = _text(data, "newName", 100)
        out["reason"] = _text(data, "reason", 200, required=False)
    elif business_type == TRANSFER:
        out["newName"] = _text(data, "newName", 100)
        id_type = _text(data, "idType", 16)
        if id_type not in ("ID_CARD", "PASSPORT", "USCC"):
            raise ApplyDataError("applyData.idType: 须为 ID_CARD、PASSPORT、USCC")
        id_no = _text(data, "idNo", 32)
        assert id_no is not None
        if id_type == "ID_CARD" and not _id_card(id_no.upper()):
            raise ApplyDataError("applyData.idNo: 身份证号校验不通过")
        out.update(idType=id_type, idNo=id_no.upper(), mobile=_mobile(data))
        out["reason"] = _text(data, "reason", 200, required=False)
    elif business_type == CONTACT_CHANGE:
        out["mobile"] = _mobile(data)
        out["contactName"] = _text(data, "contactName", 64, required=False)
    elif business_type == INVOICE_CHANGE:
        invoice_type = _text(data, "invoiceType", 12, required=False)
        if invoice_type not in (None, "ELECTRONIC", "PAPER"):
            raise ApplyDataError("applyData.invoiceType: 须为 ELECTRONIC、PAPER")
        title_type = _text(data, "titleType", 12, required=False)
        if title_type not in (None, "PERSONAL", "ENTERPRISE"):
            raise ApplyDataError("applyData.titleType: 须为 PERSONAL、ENTERPRISE")
        tax_no = _text(data, "taxNo", 20, required=False)
        if tax_no is not None and not _TAX_NO.match(tax_no):
            raise ApplyDataError("applyData.taxNo: 纳税人识别号格式不正确")
        if title_type == "ENTERPRISE" and tax_no is None:
            raise ApplyDataError("applyData.taxNo: 企业抬头须提供纳税人识别号")
        email = _text(data, "email", 128, required=False)
        if email is not None and not _EMAIL.match(email):
            raise ApplyDataError("applyData.email: 邮箱格式不正确")
        out = {
            "invoiceType": invoice_type,
            "titleType": title_type,
            "invoiceTitle": _text(data, "invoiceTitle", 200, required=False),
            "taxNo": tax_no,
            "email": email,
        }
        if all(v is None for v in out.values()):
            raise ApplyDataError("applyData: 至少变更一项开票信息")
    elif business_type == POPULATION:
        out["population"] = _positive_int(data, "population", 50)
        out["reason"] = _text(data, "reason", 200, required=False)
    elif business_type == SELF_READING:
        out["meterId"] = _positive_int(data, "meterId", 2**63 - 1)
        out["currentReading"] = _reading(data, "currentReading")
        read_time = _text(data, "readTime", 32, required=False)
        if read_time is not None:
            try:
                moment = dt.datetime.fromisoformat(read_time)
            except ValueError:
                raise ApplyDataError("applyData.readTime: 须为 ISO 8601 时间") from None
            if moment.tzinfo is None:
                raise ApplyDataError("applyData.readTime: 须带时区")
        out["readTime"] = read_time
    elif business_type == METER_CHANGE:
        out["meterId"] = _positive_int(data, "meterId", 2**63 - 1)
        out["reason"] = _text(data, "reason", 200)
    elif business_type == LOW_INCOME:
        out["certificateNo"] = _text(data, "certificateNo", 64)
        valid_until = _text(data, "validUntil", 10, required=False)
        if valid_until is not None:
            try:
                dt.date.fromisoformat(valid_until)
            except ValueError:
                raise ApplyDataError("applyData.validUntil: 须为 YYYY-MM-DD") from None
        out["validUntil"] = valid_until
    return {k: v for k, v in out.items() if v is not None}


def is_sha256(value: str) -> bool:
    return bool(_SHA256.match(value))


def attachment_digest(digests: Iterable[str]) -> str:
    """The seed's attachmentDigest of a set of attachments: SHA-256 over their sorted SHA-256s (the
    empty set has one too: a supplement of words only)."""
    return hashlib.sha256("\n".join(sorted(digests)).encode()).hexdigest()


def submit_digest(business_type: str, apply_data: Mapping[str, Any], digests: Iterable[str]) -> str:
    """What makes two CREATEs the same application: type, applyData (canonical JSON) and attachments."""
    canonical = json.dumps(apply_data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(f"{business_type}\n{canonical}\n{attachment_digest(digests)}".encode()).hexdigest()


# ----------------------------------------------------------------------------- outlets -----
_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


def valid_hours(hours: Sequence[Mapping[str, Any]]) -> None:
    """Opening hours: [{weekdays: [1..7], open: "HH:MM", close: "HH:MM"}], open before close."""
    for index, span in enumerate(hours):
        days = span.get("weekdays")
        if not days or not all(isinstance(d, int) and 1 <= d <= 7 for d in days):
            raise ValueError(f"openingHours[{index}].weekdays: 须为 1（周一）到 7（周日）")
        opens, closes = span.get("open"), span.get("close")
        if not (
            isinstance(opens, str) and _HHMM.match(opens) and isinstance(closes, str) and _HHMM.match(closes)
        ):
            raise ValueError(f"openingHours[{index}]: open、close 须为 HH:MM")
        if opens >= closes:
            raise ValueError(f"openingHours[{index}]: open 须早于 close")


def is_open(hours: Sequence[Mapping[str, Any]], local: dt.datetime) -> bool:
    """Whether the outlet is open at `local` (its own wall-clock time): [open, close)."""
    clock = f"{local.hour:02d}:{local.minute:02d}"
    return any(
        local.isoweekday() in span["weekdays"] and span["open"] <= clock < span["close"] for span in hours
    )


def distance_m(lon1: float, lat1: float, lon2: float, lat2: float) -> int:
    """Great-circle distance in metres (haversine, mean Earth radius)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return round(2 * 6_371_008.8 * math.asin(min(1.0, math.sqrt(a))))
