"""Bank withholding rules, pure (no I/O): transfer configuration resolution, the fixed-width GBK files
(send, return, statement: docs/BANK.md) and the classing of reconciliation differences.

Files are counted in BYTES: every field is encoded to GBK first and then padded or cut as bytes, never
as characters (a Chinese character is two bytes); a cut never splits a character. A character GBK cannot
encode (䶮, 𠮷, €...) is written as "?" in the send file: the bank matches on the account number, and the
name is only shown to it (docs/DECISIONS.md).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, NamedTuple

ENCODING = "gbk"
EOL = b"\r\n"

# ---------------------------------------------------------------- transfer configuration ------
SCOPES = ("TENANT_CHANNEL", "TENANT", "CHANNEL", "DEFAULT")  # most specific first
FIELDS = (
    "protocol",
    "host",
    "port",
    "username",
    "credential_ref",
    "host_key",
    "send_dir",
    "back_dir",
    "reconcile_dir",
    "send_file_template",
    "back_file_template",
    "reconcile_file_template",
)
DEFAULT_TEMPLATES = {
    "send_file_template": "WH_{channelCode}_{batchNo}.txt",
    "back_file_template": "WH_{channelCode}_{batchNo}_RET_{fileSerialNo}.txt",
    "reconcile_file_template": "WH_{channelCode}_{batchNo}_STMT.txt",
}
# The variables a directory or file name template may use; anything else is a configuration error.
TEMPLATE_VARIABLES = frozenset({"batchNo", "channelCode", "billPeriod", "tenantId", "date", "fileSerialNo"})
_VARIABLE = re.compile(r"\{([^{}]*)\}")
_SAFE_PART = re.compile(r"^[A-Za-z0-9_.\-]+$")


class ConfigError(Exception):
    """A configuration that may not be used: the field, the scope it came from, why."""

    def __init__(self, field: str, scope: str | None, reason: str) -> None:
        super().__init__(f"{field}: {reason}" + (f"（来源 {scope}）" if scope else ""))
        self.field = field
        self.scope = scope
        self.reason = reason


def scope_of(row: Mapping[str, Any]) -> str:
    tenant, channel = row.get("tenant_id"), row.get("channel_code")
    if tenant is not None and channel is not None:
        return "TENANT_CHANNEL"
    if tenant is not None:
        return "TENANT"
    if channel is not None:
        return "CHANNEL"
    return "DEFAULT"


@dataclass(frozen=True)
class Transfer:
    """The resolved configuration of one batch: every field, and the scope each came from."""

    values: Mapping[str, Any]
    sources: Mapping[str, str]

    @property
    def source_scope(self) -> str:
        """The most specific scope that gave any field (what the batch records as sourceScope)."""
        return min(self.sources.values(), key=SCOPES.index)

    def __getattr__(self, name: str) -> Any:
        if name in FIELDS:
            return self.values.get(name)
        raise AttributeError(name)


def resolve(rows: Iterable[Mapping[str, Any]], tenant_id: int, channel_code: str) -> Transfer:
    """TENANT_CHANNEL > TENANT > CHANNEL > DEFAULT, field by field: a NULL field of a more specific row
    falls back to the next. Only rows of THIS tenant and THIS channel take part (another tenant's or
    channel's row never does). Then the result is checked: a protocol with no host, port, username or
    credentialRef, an empty stage directory, or an illegal template variable is a ConfigError, never a
    reason to look further."""
    applicable: dict[str, Mapping[str, Any]] = {}
    for row in rows:
        if not row.get("enabled", True):
            continue
        if row.get("tenant_id") not in (None, tenant_id) or row.get("channel_code") not in (
            None,
            channel_code,
        ):
            continue
        applicable[scope_of(row)] = row
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for field in FIELDS:
        for scope in SCOPES:
            found = applicable.get(scope)
            if found is None:
                continue
            value = found.get(field)
            if value is not None and value != "":
                values[field], sources[field] = value, scope
                break
            if value == "" and field.endswith("_dir"):  # an explicitly empty stage directory
                raise ConfigError(wire(field), scope, "阶段目录为空")
    if not applicable:
        raise ConfigError("protocol", None, f"租户 {tenant_id} 通道 {channel_code} 无任何文件传输配置")
    for field, template in DEFAULT_TEMPLATES.items():
        if field not in values:
            values[field], sources[field] = template, "DEFAULT"
    transfer = Transfer(values, sources)
    check(transfer)
    return transfer


def wire(field: str) -> str:
    """snake_case column -> the camelCase name on the wire."""
    head, *rest = field.split("_")
    return head + "".join(p.title() for p in rest)


def check(transfer: Transfer) -> None:
    protocol = transfer.values.get("protocol")
    if protocol is None:
        raise ConfigError("protocol", None, "未配置传输协议")
    if protocol not in ("SFTP", "FTP"):
        raise ConfigError("protocol", transfer.sources.get("protocol"), f"不支持的协议 {protocol}")
    scope = transfer.sources.get("protocol")
    for field in ("host", "port", "username", "credential_ref"):
        if transfer.values.get(field) in (None, ""):
            raise ConfigError(wire(field), scope, f"协议 {protocol} 缺少 {wire(field)}")
    for field in ("send_dir", "back_dir", "reconcile_dir"):
        if not str(transfer.values.get(field) or "").strip():
            raise ConfigError(wire(field), None, "阶段目录为空")
    for field in ("send_dir", "back_dir", "reconcile_dir", *DEFAULT_TEMPLATES):
        check_template(wire(field), str(transfer.values[field]), transfer.sources.get(field))


def check_template(field: str, template: str, scope: str | None = None) -> None:
    for name in _VARIABLE.findall(template):
        if name not in TEMPLATE_VARIABLES:
            raise ConfigError(field, scope, f"模板变量 {{{name}}} 非法（允许 {sorted(TEMPLATE_VARIABLES)}）")
    if template.count("{") != template.count("}"):
        raise ConfigError(field, scope, "模板括号不成对")
    if ".." in template.split("/"):
        raise ConfigError(field, scope, "路径不得含 ..")


def render(template: str, variables: Mapping[str, str]) -> str:
    """Fill a checked template; every value must be a plain name part (no slash, no ..)."""
    for name, value in variables.items():
        if not _SAFE_PART.match(value) or value in (".", ".."):
            raise ConfigError(name, None, f"模板变量值 {value!r} 非法")
    return _VARIABLE.sub(lambda m: variables[m.group(1)], template)


def join(directory: str, name: str) -> str:
    return directory.rstrip("/") + "/" + name


# --------------------------------------------------------------------------- fixed width -----
class Field(NamedTuple):
    name: str
    width: int  # bytes
    kind: str  # "A" text left-aligned, space-padded; "N" digits right-aligned, zero-padded


SEND_HEADER = (
    Field("recordType", 1, "A"),
    Field("batchNo", 24, "A"),
    Field("channelCode", 8, "A"),
    Field("billPeriod", 7, "A"),
    Field("bizKind", 12, "A"),
    Field("count", 10, "N"),
    Field("totalFen", 15, "N"),
    Field("createDate", 8, "N"),
)
SEND_DETAIL = (
    Field("recordType", 1, "A"),
    Field("seqNo", 8, "N"),
    Field("custCode", 20, "A"),
    Field("chargeId", 19, "N"),
    Field("billPeriod", 7, "A"),
    Field("signNo", 32, "A"),
    Field("bankAccount", 32, "A"),
    Field("accountName", 40, "A"),
    Field("amountFen", 15, "N"),
)
RETURN_HEADER = (
    Field("recordType", 1, "A"),
    Field("batchNo", 24, "A"),
    Field("fileSerialNo", 8, "A"),
    Field("count", 10, "N"),
    Field("successCount", 10, "N"),
    Field("successFen", 15, "N"),
    Field("returnDate", 8, "N"),
)
RETURN_DETAIL = (
    Field("recordType", 1, "A"),
    Field("seqNo", 8, "N"),
    Field("custCode", 20, "A"),
    Field("chargeId", 19, "N"),
    Field("amountFen", 15, "N"),
    Field("resultCode", 4, "A"),
    Field("bankSerialNo", 32, "A"),
    Field("resultMsg", 40, "A"),
)
STATEMENT_HEADER = (
    Field("recordType", 1, "A"),
    Field("batchNo", 24, "A"),
    Field("statementDate", 8, "N"),
    Field("count", 10, "N"),
    Field("totalFen", 15, "N"),
)
STATEMENT_DETAIL = (
    Field("recordType", 1, "A"),
    Field("bankSerialNo", 32, "A"),
    Field("seqNo", 8, "N"),
    Field("custCode", 20, "A"),
    Field("amountFen", 15, "N"),
    Field("creditDate", 8, "N"),
)

SUCCESS = "0000"
# The bank's result codes (docs/BANK.md): anything but 0000 leaves the bill owed.
RESULT_CODES = {
    "0000": "扣款成功",
    "1001": "余额不足",
    "1002": "账户已销户或冻结",
    "1003": "签约协议不存在或已解约",
    "1004": "户名与账号不符",
    "2001": "退票",
    "9999": "其他失败",
}


def width(layout: Sequence[Field]) -> int:
    return sum(f.width for f in layout)


def _cut(encoded: bytes, limit: int) -> bytes:
    """The longest prefix of GBK bytes within `limit` that does not split a character."""
    if len(encoded) <= limit:
        return encoded
    out = encoded[:limit]
    while out:
        try:
            out.decode(ENCODING)
            return out
        except UnicodeDecodeError:
            out = out[:-1]
    return out


def encode_field(field: Field, value: Any) -> bytes:
    if field.kind == "N":
        text = str(value)
        if not text.isdigit() or len(text) > field.width:
            raise ValueError(f"{field.name}: {value!r} 不是 {field.width} 位以内的数字")
        return text.rjust(field.width, "0").encode("ascii")
    encoded = _cut(str(value or "").encode(ENCODING, errors="replace"), field.width)
    return encoded + b" " * (field.width - len(encoded))


def encode_record(layout: Sequence[Field], values: Mapping[str, Any]) -> bytes:
    return b"".join(encode_field(f, values.get(f.name, "")) for f in layout)


def decode_record(layout: Sequence[Field], line: bytes) -> dict[str, str]:
    """Fields of a line by byte offsets; a wrong length or a field that is not GBK is a ValueError."""
    expected = width(layout)
    if len(line) != expected:
        raise ValueError(f"记录长度 {len(line)} 字节，应为 {expected} 字节")
    out: dict[str, str] = {}
    at = 0
    for field in layout:
        raw = line[at : at + field.width]
        at += field.width
        try:
            text = raw.decode(ENCODING)
        except UnicodeDecodeError:
            raise ValueError(f"{field.name}: 不是合法的 GBK 编码") from None
        if field.kind == "N":
            if not text.isdigit():
                raise ValueError(f"{field.name}: {text!r} 不是数字")
            out[field.name] = text.lstrip("0") or "0"
        else:
            out[field.name] = text.rstrip(" ")
    return out


def fen(amount: Decimal) -> int:
    return int((amount * 100).to_integral_exact())


def yuan(fen_text: str) -> Decimal:
    return (Decimal(int(fen_text)) / 100).quantize(Decimal("0.01"))


class SendItem(NamedTuple):
    seq_no: int
    cust_code: str
    charge_id: int
    bill_period: str
    sign_no: str
    bank_account: str
    account_name: str
    amount: Decimal


def build_send_file(
    *,
    batch_no: str,
    channel_code: str,
    bill_period: str,
    biz_kind: str,
    created: dt.date,
    items: Sequence[SendItem],
) -> bytes:
    """Header (count and total) then one detail line per item, GBK, CRLF, fixed width in bytes."""
    total = sum(fen(i.amount) for i in items)
    lines = [
        encode_record(
            SEND_HEADER,
            {
                "recordType": "H",
                "batchNo": batch_no,
                "channelCode": channel_code,
                "billPeriod": bill_period,
                "bizKind": biz_kind,
                "count": len(items),
                "totalFen": total,
                "createDate": created.strftime("%Y%m%d"),
            },
        )
    ]
    for item in items:
        lines.append(
            encode_record(
                SEND_DETAIL,
                {
                    "recordType": "D",
                    "seqNo": item.seq_no,
                    "custCode": item.cust_code,
                    "chargeId": item.charge_id,
                    "billPeriod": item.bill_period,
                    "signNo": item.sign_no,
                    "bankAccount": item.bank_account,
                    "accountName": item.account_name,
                    "amountFen": fen(item.amount),
                },
            )
        )
    return EOL.join(lines) + EOL


class FileError(ValueError):
    """A file that cannot be accepted as it is: 1_002_006_002 and a review record."""


def _lines(data: bytes) -> list[bytes]:
    lines = data.split(EOL)
    if lines and lines[-1] == b"":
        lines.pop()
    if not lines:
        raise FileError("文件为空")
    return lines


def _parse(
    data: bytes, header: Sequence[Field], detail: Sequence[Field]
) -> tuple[dict[str, str], list[dict[str, str]]]:
    lines = _lines(data)
    try:
        head = decode_record(header, lines[0])
    except ValueError as exc:
        raise FileError(f"第 1 行（头记录）：{exc}") from None
    if head["recordType"] != "H":
        raise FileError("第 1 行不是头记录（H）")
    rows = []
    for number, line in enumerate(lines[1:], start=2):
        try:
            row = decode_record(detail, line)
        except ValueError as exc:
            raise FileError(f"第 {number} 行：{exc}") from None
        if row["recordType"] != "D":
            raise FileError(f"第 {number} 行不是明细记录（D）")
        rows.append(row)
    if int(head["count"]) != len(rows):
        raise FileError(f"头记录笔数 {head['count']} 与明细 {len(rows)} 笔不符")
    return head, rows


def parse_send_file(data: bytes) -> tuple[dict[str, str], list[dict[str, str]]]:
    head, rows = _parse(data, SEND_HEADER, SEND_DETAIL)
    if sum(int(r["amountFen"]) for r in rows) != int(head["totalFen"]):
        raise FileError("头记录总金额与明细合计不符")
    return head, rows


class ReturnLine(NamedTuple):
    seq_no: int
    cust_code: str
    charge_id: int
    amount: Decimal
    result_code: str
    bank_serial_no: str
    result_msg: str

    @property
    def success(self) -> bool:
        return self.result_code == SUCCESS


class ReturnFile(NamedTuple):
    batch_no: str
    file_serial_no: str
    lines: list[ReturnLine]


def parse_return_file(data: bytes, expected_batch_no: str) -> ReturnFile:
    """The bank's return: header (batch, file serial, count, successes and their total) and one line per
    item. A bad format, a total that does not add up, a repeated sequence number or another batch's
    number is a FileError."""
    head, rows = _parse(data, RETURN_HEADER, RETURN_DETAIL)
    if head["batchNo"] != expected_batch_no:
        raise FileError(f"批次号不匹配：文件 {head['batchNo']}，应为 {expected_batch_no}")
    lines = [
        ReturnLine(
            int(r["seqNo"]),
            r["custCode"],
            int(r["chargeId"]),
            yuan(r["amountFen"]),
            r["resultCode"],
            r["bankSerialNo"],
            r["resultMsg"],
        )
        for r in rows
    ]
    successes = [line for line in lines if line.success]
    if len(successes) != int(head["successCount"]) or sum(fen(s.amount) for s in successes) != int(
        head["successFen"]
    ):
        raise FileError("头记录成功笔数或金额与明细不符")
    seen: set[int] = set()
    for line in lines:
        if line.seq_no in seen:
            raise FileError(f"序号 {line.seq_no} 重复")
        seen.add(line.seq_no)
        if line.result_code not in RESULT_CODES:
            raise FileError(f"序号 {line.seq_no}：未知结果码 {line.result_code}")
        if line.success and not line.bank_serial_no:
            raise FileError(f"序号 {line.seq_no}：成功记录缺少银行流水号")
    return ReturnFile(head["batchNo"], head["fileSerialNo"], lines)


class StatementLine(NamedTuple):
    bank_serial_no: str
    seq_no: int
    cust_code: str
    amount: Decimal


def parse_statement_file(data: bytes, expected_batch_no: str) -> list[StatementLine]:
    head, rows = _parse(data, STATEMENT_HEADER, STATEMENT_DETAIL)
    if head["batchNo"] != expected_batch_no:
        raise FileError(f"对账文件批次号不匹配：文件 {head['batchNo']}，应为 {expected_batch_no}")
    if sum(int(r["amountFen"]) for r in rows) != int(head["totalFen"]):
        raise FileError("对账文件头记录总金额与明细合计不符")
    return [
        StatementLine(r["bankSerialNo"], int(r["seqNo"]), r["custCode"], yuan(r["amountFen"])) for r in rows
    ]


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# ------------------------------------------------------------------------ reconciliation -----
class OurItem(NamedTuple):
    item_id: int
    seq_no: int
    cust_id: int
    charge_id: int
    amount: Decimal
    status: str  # bk_withholding_item.status
    bank_serial_no: str | None


class Difference(NamedTuple):
    diff_type: str
    item_id: int | None
    cust_id: int | None
    charge_id: int | None
    bank_serial_no: str | None
    our_amount: Decimal | None
    bank_amount: Decimal | None


def classify(items: Sequence[OurItem], statement: Sequence[StatementLine]) -> list[Difference]:
    """Our ledger (each item written off or not, after the return) against the bank's statement (the
    debits it actually made), matched by sequence number:
    - written off here, no debit in the statement: OURS_PAID_BANK_FAILED;
    - a debit in the statement, not written off here: BANK_PAID_OURS_UNPAID;
    - both, different amounts: AMOUNT_MISMATCH;
    - a statement line for no item of the batch: BANK_ONLY;
    - an item the return never answered (still PENDING) and no debit: OURS_ONLY."""
    by_seq = {line.seq_no: line for line in statement}
    known = {item.seq_no for item in items}
    out: list[Difference] = []
    for item in items:
        debit = by_seq.get(item.seq_no)
        paid = item.status == "SUCCESS"
        if paid and debit is None:
            out.append(
                Difference(
                    "OURS_PAID_BANK_FAILED",
                    item.item_id,
                    item.cust_id,
                    item.charge_id,
                    item.bank_serial_no,
                    item.amount,
                    None,
                )
            )
        elif not paid and debit is not None:
            out.append(
                Difference(
                    "BANK_PAID_OURS_UNPAID",
                    item.item_id,
                    item.cust_id,
                    item.charge_id,
                    debit.bank_serial_no,
                    item.amount,
                    debit.amount,
                )
            )
        elif paid and debit is not None and debit.amount != item.amount:
            out.append(
                Difference(
                    "AMOUNT_MISMATCH",
                    item.item_id,
                    item.cust_id,
                    item.charge_id,
                    debit.bank_serial_no,
                    item.amount,
                    debit.amount,
                )
            )
        elif item.status == "PENDING" and debit is None:
            out.append(
                Difference("OURS_ONLY", item.item_id, item.cust_id, item.charge_id, None, item.amount, None)
            )
    for line in statement:
        if line.seq_no not in known:
            out.append(Difference("BANK_ONLY", None, None, None, line.bank_serial_no, None, line.amount))
    return out


# What a person may do with each kind of difference.
RESOLUTIONS = {
    "BANK_PAID_OURS_UNPAID": ("WRITE_OFF", "IGNORE"),
    "OURS_PAID_BANK_FAILED": ("REVERSE", "IGNORE"),
    "AMOUNT_MISMATCH": ("REVERSE", "IGNORE"),
    "BANK_ONLY": ("IGNORE",),
    "OURS_ONLY": ("IGNORE",),
}
