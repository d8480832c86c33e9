"""The legacy CSV layouts and their row checks, pure (docs/MIGRATION.md is the layout's documentation;
tests/unit/test_history_rules.py holds the two together).

One CSV per object type, UTF-8 (a BOM is allowed), a header row of column names, then one row per legacy
object. The common columns below mean the same for every type; a type requires some of them; any other
column is kept in the record's `detail` (e.g. 柜员 operator, 关联原单号 relatedNo, 附件 attachments) - masked
where its name says it is a mobile, an ID number or an account (masking.mask_columns), by pattern elsewhere.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal, InvalidOperation
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from waterrev.masking import MOBILE, mask_columns, normalize_pii

OBJECT_TYPES = ("BILL", "COLLECTION", "ADJUSTMENT", "INVOICE", "REMINDER", "PROCESS", "METER", "CONFIG")
# the seed's 最小历史查询保留集: which interface family each object type is attached to (挂靠接口族)
FAMILIES = {
    "BILL": ("IF-CS-002", "IF-REV-005"),
    "COLLECTION": ("IF-CS-002", "IF-REV-006", "IF-REV-011"),
    "ADJUSTMENT": ("IF-REV-007",),
    "INVOICE": ("IF-REV-008", "IF-CS-004"),
    "REMINDER": ("IF-REV-013", "IF-METER-002"),
    "PROCESS": ("IF-CS-006",),
    "METER": ("IF-METER-001", "IF-METER-003"),
    "CONFIG": ("IF-REV-012", "IF-CS-006"),
}
# what migration verification compares with the new system (迁移验收对账)
VERIFIABLE = ("BILL", "COLLECTION", "INVOICE")

# column: (max length, meaning)
COMMON: dict[str, tuple[int, str]] = {
    "legacyNo": (64, "原系统标识（原单号、原流水号、发票号、原业务单号、单据号、参数编码）"),
    "legacyBatchNo": (64, "原批次号"),
    "newNo": (64, "新系统业务单号（账单编号、收费流水号、发票申请单号、催缴任务号、表号、参数编码）"),
    "custCode": (32, "客户号"),
    "idNo": (32, "证件号（回复中脱敏；按完整值检索）"),
    "mobile": (20, "手机号（回复中脱敏；按完整值检索）"),
    "meterNo": (32, "表号"),
    "billPeriod": (7, "账期 YYYY-MM（收费、发票缺省为 eventTime 所在月份）"),
    "deptId": (19, "新系统营业所 system_dept.id（缺省为客户所属营业所）"),
    "channel": (16, "渠道（收费渠道、催缴方式的渠道、配置适用渠道）"),
    "amount": (20, "金额（元，最多两位小数）"),
    "status": (24, "新系统状态编码（迁移核对按此比较）"),
    "legacyStatus": (32, "原系统状态（原文）"),
    "bizType": (32, "类型（来源类型、调整类型、票据类型、催缴方式、业务类型、单据类型）"),
    "eventTime": (19, "时间 YYYY-MM-DD HH:MM:SS，北京时间（收费时间、开票时间、执行时间、生效时间）"),
}
REQUIRED: dict[str, tuple[str, ...]] = {
    "BILL": ("legacyNo", "custCode", "billPeriod", "amount", "status"),
    "COLLECTION": ("legacyNo", "custCode", "channel", "amount", "eventTime", "status"),
    "ADJUSTMENT": ("legacyNo", "bizType", "amount", "status"),
    "INVOICE": ("legacyNo", "bizType", "amount", "status"),
    "REMINDER": ("legacyNo", "custCode", "billPeriod", "bizType", "status"),
    "PROCESS": ("legacyNo", "bizType", "status"),
    "METER": ("legacyNo", "meterNo", "bizType", "status"),
    "CONFIG": ("legacyNo", "status"),
}
MAX_DETAIL_TEXT = 1000
MAX_DETAIL_COLUMNS = 40
_PERIOD = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_LOCAL = ZoneInfo("Asia/Shanghai")


class HistRow(NamedTuple):
    line_no: int
    legacy_no: str
    legacy_batch_no: str | None
    new_no: str | None
    cust_code: str | None
    id_no: str | None
    mobile: str | None
    meter_no: str | None
    bill_period: str | None
    dept_id: int | None
    channel: str | None
    amount: Decimal | None
    status: str | None
    legacy_status: str | None
    biz_type: str | None
    event_time: dt.datetime | None
    detail: dict[str, str]


class RowError(ValueError):
    """A row that cannot be loaded: its line and the column at fault."""

    def __init__(self, line_no: int, column: str, problem: str) -> None:
        super().__init__(f"第 {line_no} 行 {column}: {problem}")


def check_header(object_type: str, header: list[str]) -> None:
    """Refuse a header without the type's required columns, with a repeated or unusable name."""
    names = [h.strip() for h in header]
    if len(set(names)) != len(names):
        raise RowError(1, "header", "列名重复")
    for name in names:
        if not _NAME.match(name):
            raise RowError(1, "header", f"列名 {name[:40]!r} 须为字母开头的字母数字")
    missing = [c for c in REQUIRED[object_type] if c not in names]
    if missing:
        raise RowError(1, "header", f"{object_type} 缺少必填列 {'、'.join(missing)}")
    extra = [n for n in names if n not in COMMON]
    if len(extra) > MAX_DETAIL_COLUMNS:
        raise RowError(1, "header", f"附加列不得超过 {MAX_DETAIL_COLUMNS} 个")


def parse_row(object_type: str, line_no: int, row: dict[str, str]) -> HistRow:
    """One CSV row (column -> text) as a HistRow, or a RowError naming the column."""
    values: dict[str, Any] = {}
    for column, text in row.items():
        value = (text or "").strip()
        if _CONTROL.search(value):
            raise RowError(line_no, column, "含有控制字符")
        if column in COMMON:
            limit = COMMON[column][0]
            if len(value) > limit:
                raise RowError(line_no, column, f"长度超过 {limit}")
            values[column] = value or None
        elif len(value) > MAX_DETAIL_TEXT:
            raise RowError(line_no, column, f"长度超过 {MAX_DETAIL_TEXT}")
    for column in REQUIRED[object_type]:
        if not values.get(column):
            raise RowError(line_no, column, "必填")
    # an extra column named like a mobile, an ID or passport number or an account is kept masked only
    # (DECISIONS 133): the record is for looking up, and its detail is not sealed
    detail = mask_columns(
        {k: (v or "").strip() for k, v in row.items() if k not in COMMON and (v or "").strip()}
    )
    period = values.get("billPeriod")
    if period is not None and not _PERIOD.match(period):
        raise RowError(line_no, "billPeriod", "账期格式须为 YYYY-MM")
    event_time = _time(line_no, values.get("eventTime"))
    if period is None and event_time is not None and object_type in ("COLLECTION", "INVOICE"):
        period = f"{event_time.astimezone(_LOCAL):%Y-%m}"
    return HistRow(
        line_no=line_no,
        legacy_no=values["legacyNo"],
        legacy_batch_no=values.get("legacyBatchNo"),
        new_no=values.get("newNo"),
        cust_code=values.get("custCode"),
        id_no=values.get("idNo"),
        mobile=_mobile(line_no, values.get("mobile")),
        meter_no=values.get("meterNo"),
        bill_period=period,
        dept_id=_int(line_no, "deptId", values.get("deptId")),
        channel=values.get("channel"),
        amount=_amount(line_no, values.get("amount")),
        status=values.get("status"),
        legacy_status=values.get("legacyStatus"),
        biz_type=values.get("bizType"),
        event_time=event_time,
        detail=detail,
    )


def _amount(line_no: int, text: str | None) -> Decimal | None:
    if text is None:
        return None
    try:
        value = Decimal(text.replace(",", ""))
    except InvalidOperation:
        raise RowError(line_no, "amount", "不是金额") from None
    if not value.is_finite() or value != value.quantize(Decimal("0.01")) or abs(value) >= Decimal("1e12"):
        raise RowError(line_no, "amount", "金额最多两位小数，且小于一万亿")
    return value.quantize(Decimal("0.01"))


def _int(line_no: int, column: str, text: str | None) -> int | None:
    if text is None:
        return None
    if not text.isdigit() or not 0 < int(text) < 2**63:
        raise RowError(line_no, column, "须为正整数")
    return int(text)


def _mobile(line_no: int, text: str | None) -> str | None:
    """The mobile as the index keeps it (masking.normalize_pii): '+86 138-1234-5678' is '13812345678', so
    the search by any spelling of it finds it."""
    if text is None:
        return None
    plain = normalize_pii(text, MOBILE)
    if not re.fullmatch(r"\+?\d{5,19}", plain):
        raise RowError(line_no, "mobile", "须为数字")
    return plain


def _time(line_no: int, text: str | None) -> dt.datetime | None:
    if text is None:
        return None
    for fmt in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d"):
        try:
            return dt.datetime.strptime(text, fmt).replace(tzinfo=_LOCAL)
        except ValueError:
            continue
    raise RowError(line_no, "eventTime", "时间格式须为 YYYY-MM-DD HH:MM:SS（北京时间）")
