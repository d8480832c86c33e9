"""Bank withholding rules (banking.rules): the transfer configuration matrix with every error, the GBK
fixed-width files counted in bytes, and the classing of reconciliation differences."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from waterrev.banking import rules

TENANT, CHANNEL = 1, "ICBC"
FULL = {
    "protocol": "SFTP",
    "host": "default.bank",
    "port": 22,
    "username": "u-default",
    "credential_ref": "ref/default",
    "host_key": "ssh-ed25519 AAAA",
    "send_dir": "/default/send",
    "back_dir": "/default/back",
    "reconcile_dir": "/default/reconcile",
}


def row(tenant: int | None, channel: str | None, **fields: Any) -> dict[str, Any]:
    return {"tenant_id": tenant, "channel_code": channel, "enabled": True, **fields}


# ---- resolution: which scope gives each field ----------------------------------------------------
MATRIX = [
    # (name, rows, expected values of some fields, expected source of those fields, expected source scope)
    ("default only", [row(None, None, **FULL)], {"host": "default.bank"}, {"host": "DEFAULT"}, "DEFAULT"),
    (
        "channel over default, field by field",
        [row(None, None, **FULL), row(None, CHANNEL, host="channel.bank", send_dir="/c/send")],
        {"host": "channel.bank", "send_dir": "/c/send", "port": 22, "back_dir": "/default/back"},
        {"host": "CHANNEL", "send_dir": "CHANNEL", "port": "DEFAULT", "back_dir": "DEFAULT"},
        "CHANNEL",
    ),
    (
        "tenant over channel",
        [
            row(None, None, **FULL),
            row(None, CHANNEL, host="channel.bank"),
            row(TENANT, None, host="tenant.bank"),
        ],
        {"host": "tenant.bank"},
        {"host": "TENANT"},
        "TENANT",
    ),
    (
        "tenant and channel over everything",
        [
            row(None, None, **FULL),
            row(None, CHANNEL, host="channel.bank", username="u-channel"),
            row(TENANT, None, host="tenant.bank"),
            row(TENANT, CHANNEL, host="tc.bank"),
        ],
        {"host": "tc.bank", "username": "u-channel", "credential_ref": "ref/default"},
        {"host": "TENANT_CHANNEL", "username": "CHANNEL", "credential_ref": "DEFAULT"},
        "TENANT_CHANNEL",
    ),
    (
        "a complete tenant-channel row needs nothing else",
        [row(TENANT, CHANNEL, **FULL)],
        {"host": "default.bank"},
        {"host": "TENANT_CHANNEL"},
        "TENANT_CHANNEL",
    ),
    (
        "another tenant's and another channel's rows never take part",
        [
            row(TENANT, CHANNEL, **FULL),
            row(2, CHANNEL, host="other-tenant.bank"),
            row(None, "ABC", host="other-channel.bank"),
            row(2, None, username="other"),
        ],
        {"host": "default.bank", "username": "u-default"},
        {"host": "TENANT_CHANNEL"},
        "TENANT_CHANNEL",
    ),
    (
        "a disabled row is skipped",
        [row(None, None, **FULL), {**row(None, CHANNEL, host="off.bank"), "enabled": False}],
        {"host": "default.bank"},
        {"host": "DEFAULT"},
        "DEFAULT",
    ),
    (
        "templates default when no row names them",
        [row(None, None, **FULL)],
        {"send_file_template": "WH_{channelCode}_{batchNo}.txt"},
        {"send_file_template": "DEFAULT"},
        "DEFAULT",
    ),
]


@pytest.mark.parametrize(("name", "rows", "values", "sources", "scope"), MATRIX, ids=[m[0] for m in MATRIX])
def test_resolution_matrix(
    name: str, rows: list[dict[str, Any]], values: dict[str, Any], sources: dict[str, str], scope: str
) -> None:
    """Given configuration rows of several scopes
    When the configuration of (tenant 1, ICBC) is resolved
    Then each field comes from the most specific scope that sets it, and the batch's sourceScope is the most
    specific scope that gave any field."""
    found = rules.resolve(rows, TENANT, CHANNEL)

    assert {k: found.values[k] for k in values} == values
    assert {k: found.sources[k] for k in sources} == sources
    assert found.source_scope == scope


# ---- errors: immediate, never a fallback to another tenant or channel ---------------------------------
def without(field: str) -> dict[str, Any]:
    return {k: v for k, v in FULL.items() if k != field}


ERRORS = [
    ("no row at all", [], "protocol"),
    ("only another tenant's row", [row(2, CHANNEL, **FULL)], "protocol"),
    ("only another channel's row", [row(None, "ABC", **FULL)], "protocol"),
    ("no protocol", [row(None, None, **without("protocol"))], "protocol"),
    ("an unknown protocol", [row(None, None, **{**FULL, "protocol": "HTTP"})], "protocol"),
    ("no host", [row(None, None, **without("host"))], "host"),
    ("no port", [row(None, None, **without("port"))], "port"),
    ("no username", [row(None, None, **without("username"))], "username"),
    ("no credentialRef", [row(None, None, **without("credential_ref"))], "credentialRef"),
    ("no send directory", [row(None, None, **without("send_dir"))], "sendDir"),
    ("no back directory", [row(None, None, **without("back_dir"))], "backDir"),
    ("no reconcile directory", [row(None, None, **without("reconcile_dir"))], "reconcileDir"),
    ("a blank send directory", [row(None, None, **{**FULL, "send_dir": "   "})], "sendDir"),
    (
        "an empty stage directory in a more specific row is an error, not a fallback",
        [row(None, None, **FULL), row(TENANT, CHANNEL, back_dir="")],
        "backDir",
    ),
    (
        "an illegal variable in a directory",
        [row(None, None, **{**FULL, "send_dir": "/x/{custName}"})],
        "sendDir",
    ),
    (
        "an illegal variable in a file name",
        [row(None, None, **FULL, send_file_template="WH_{bankAccount}.txt")],
        "sendFileTemplate",
    ),
    (
        "an unbalanced brace",
        [row(None, None, **FULL, back_file_template="R_{batchNo.txt")],
        "backFileTemplate",
    ),
    ("a parent directory", [row(None, None, **{**FULL, "reconcile_dir": "/a/../etc"})], "reconcileDir"),
    (
        "the tenant's row lacks credentials and nothing below gives them",
        [row(TENANT, CHANNEL, **without("credential_ref")), row(2, None, credential_ref="other-tenant")],
        "credentialRef",
    ),
]


@pytest.mark.parametrize(("name", "rows", "field"), ERRORS, ids=[e[0] for e in ERRORS])
def test_configuration_errors(name: str, rows: list[dict[str, Any]], field: str) -> None:
    """Given a configuration that cannot be used
    When it is resolved
    Then a ConfigError names the field at once (never another tenant's or channel's value instead)."""
    with pytest.raises(rules.ConfigError) as raised:
        rules.resolve(rows, TENANT, CHANNEL)

    assert raised.value.field == field


def test_render_refuses_values_that_would_leave_the_directory() -> None:
    """Given a checked template
    When a variable's value holds a slash or is '..'
    Then it is refused (a batch number cannot make a path)."""
    with pytest.raises(rules.ConfigError):
        rules.render("/send/{batchNo}.txt", {"batchNo": "../x"})
    assert (
        rules.render("/send/{channelCode}/{batchNo}.txt", {"channelCode": "ICBC", "batchNo": "WH1"})
        == "/send/ICBC/WH1.txt"
    )


# ---- files --------------------------------------------------------------------------------------------
def items(*names: str) -> list[rules.SendItem]:
    return [
        rules.SendItem(
            n, f"KH{n:04d}", 100 + n, "2026-03", f"S{n}", f"62220202{n:011d}", name, Decimal(f"{n}.25")
        )
        for n, name in enumerate(names, start=1)
    ]


def test_send_file_header_counts_and_totals_and_fields_are_counted_in_bytes() -> None:
    """Given items with Chinese names (two bytes each in GBK) and a name longer than its field
    When the send file is built
    Then every line has the layout's byte width, the header carries the count and the total in fen, a long
    name is cut on a character boundary, a character GBK lacks is written as '?', and it parses back."""
    data = rules.build_send_file(
        batch_no="WH1", channel_code="ICBC", bill_period="2026-03", biz_kind="WITHHOLDING",
        created=dt.date(2026, 3, 5), items=items("张三", "䶮名", "很长的名字" * 10),
    )  # fmt: skip
    lines = data.split(b"\r\n")[:-1]

    assert len(lines[0]) == rules.width(rules.SEND_HEADER)
    assert all(len(line) == rules.width(rules.SEND_DETAIL) for line in lines[1:])
    head, rows = rules.parse_send_file(data)
    assert (head["count"], head["totalFen"]) == ("3", str(125 + 225 + 325))
    assert rows[0]["accountName"] == "张三"
    assert rows[1]["accountName"] == "?名"
    assert rows[2]["accountName"] == ("很长的名字" * 10)[:20]  # 40 bytes = 20 characters, never half of one


def test_a_cut_never_splits_a_character() -> None:
    """Given a field of an odd width and a Chinese value
    When it is encoded
    Then it is padded with a space rather than ending in half a character."""
    encoded = rules.encode_field(rules.Field("name", 5, "A"), "张三李")
    assert encoded == "张三".encode("gbk") + b" "


@settings(max_examples=1000, deadline=None)
@given(st.text(alphabet=st.characters(codec="gbk", exclude_categories=("Cc", "Cs")), max_size=40))
def test_any_gbk_name_round_trips_within_its_width(name: str) -> None:
    """Given any GBK text as an account name
    When it is written into a detail line and read back
    Then the line has its width and the name read back is a prefix of the one written (trailing spaces aside)."""
    line = rules.encode_record(
        rules.SEND_DETAIL, {"recordType": "D", "seqNo": 1, "chargeId": 1, "amountFen": 1, "accountName": name}
    )
    assert len(line) == rules.width(rules.SEND_DETAIL)
    back = rules.decode_record(rules.SEND_DETAIL, line)["accountName"]
    assert name.startswith(back) or name.rstrip(" ").startswith(back)


def return_file(
    batch_no: str,
    lines: list[tuple[int, int, int, str, str]],
    *,
    success_count: int | None = None,
    serial: str = "00000001",
) -> bytes:
    successes = [line for line in lines if line[3] == "0000"]
    head = rules.encode_record(
        rules.RETURN_HEADER,
        {
            "recordType": "H",
            "batchNo": batch_no,
            "fileSerialNo": serial,
            "count": len(lines),
            "successCount": len(successes) if success_count is None else success_count,
            "successFen": sum(line[2] for line in successes),
            "returnDate": "20260305",
        },
    )
    body = [
        rules.encode_record(
            rules.RETURN_DETAIL,
            {
                "recordType": "D",
                "seqNo": seq,
                "custCode": "KH",
                "chargeId": charge,
                "amountFen": fen,
                "resultCode": code,
                "bankSerialNo": serial_no,
                "resultMsg": "成功",
            },
        )
        for seq, charge, fen, code, serial_no in lines
    ]
    return b"\r\n".join([head, *body]) + b"\r\n"


def test_a_return_file_is_parsed() -> None:
    data = return_file("WH1", [(1, 11, 1025, "0000", "BK1"), (2, 12, 500, "1001", "")])
    parsed = rules.parse_return_file(data, "WH1")
    assert [(line.seq_no, line.amount, line.success) for line in parsed.lines] == [
        (1, Decimal("10.25"), True),
        (2, Decimal("5.00"), False),
    ]


BAD_RETURNS = [
    ("another batch", return_file("WH2", [(1, 11, 1025, "0000", "BK1")]), "批次号不匹配"),
    ("a short line", return_file("WH1", [(1, 11, 1025, "0000", "BK1")])[:-5] + b"\r\n", "记录长度"),
    (
        "a count that lies",
        return_file("WH1", [(1, 11, 1025, "0000", "BK1")]).replace(b"0000000001", b"0000000002", 1),
        "笔数",
    ),
    (
        "successes that do not add up",
        return_file("WH1", [(1, 11, 1025, "0000", "BK1")], success_count=0),
        "成功笔数",
    ),
    ("an unknown result code", return_file("WH1", [(1, 11, 1025, "7777", "")]), "未知结果码"),
    ("a success without a serial", return_file("WH1", [(1, 11, 1025, "0000", "")]), "流水号"),
    (
        "a repeated sequence number",
        return_file("WH1", [(1, 11, 1025, "1001", ""), (1, 12, 5, "1001", "")]),
        "重复",
    ),
    (
        "not GBK",
        return_file("WH1", [(1, 11, 1025, "1001", "")]).replace("成功".encode("gbk"), b"\xff\xff\xff\xff"),
        "GBK",
    ),
    ("empty", b"", "为空"),
    ("no header", return_file("WH1", [(1, 11, 1025, "1001", "")]).split(b"\r\n", 1)[1], "记录长度"),
]


@pytest.mark.parametrize(("name", "data", "reason"), BAD_RETURNS, ids=[b[0] for b in BAD_RETURNS])
def test_a_bad_return_file_is_refused_with_its_reason(name: str, data: bytes, reason: str) -> None:
    with pytest.raises(rules.FileError) as raised:
        rules.parse_return_file(data, "WH1")
    assert reason in str(raised.value)


# ---- reconciliation -------------------------------------------------------------------------------------
def item(seq: int, status: str, amount: str = "10.00") -> rules.OurItem:
    return rules.OurItem(
        seq * 10,
        seq,
        100 + seq,
        1000 + seq,
        Decimal(amount),
        status,
        f"BK{seq}" if status == "SUCCESS" else None,
    )


def debit(seq: int, amount: str = "10.00") -> rules.StatementLine:
    return rules.StatementLine(f"BK{seq}", seq, "KH", Decimal(amount))


def test_every_class_of_difference() -> None:
    """Given our items after the return and the bank's statement
    When they are compared
    Then: written off and debited alike - nothing; written off, not debited - OURS_PAID_BANK_FAILED; debited,
    not written off (failed, or our write-off refused) - BANK_PAID_OURS_UNPAID; debited another amount -
    AMOUNT_MISMATCH; a debit of no item - BANK_ONLY; never answered and not debited - OURS_ONLY; failed and
    not debited - nothing."""
    ours = [
        item(1, "SUCCESS"),
        item(2, "SUCCESS"),
        item(3, "FAIL"),
        item(4, "WRITE_OFF_FAILED"),
        item(5, "SUCCESS"),
        item(6, "PENDING"),
        item(7, "FAIL"),
    ]
    statement = [debit(1), debit(3), debit(4), debit(5, "9.00"), debit(99, "1.00")]

    found = {(d.diff_type, d.item_id) for d in rules.classify(ours, statement)}

    assert found == {
        ("OURS_PAID_BANK_FAILED", 20),
        ("BANK_PAID_OURS_UNPAID", 30),
        ("BANK_PAID_OURS_UNPAID", 40),
        ("AMOUNT_MISMATCH", 50),
        ("OURS_ONLY", 60),
        ("BANK_ONLY", None),
    }


def test_a_balanced_batch_has_no_difference() -> None:
    assert rules.classify([item(1, "SUCCESS"), item(2, "FAIL")], [debit(1)]) == []
