"""Masking of ID numbers, mobiles and bank accounts, for responses and for log output."""

from __future__ import annotations

import itertools
import logging
import re
from typing import Any


def mask_mobile(mobile: str | None) -> str | None:
    if not mobile:
        return mobile
    digits = mobile.strip()
    if len(digits) == 11:
        return f"{digits[:3]}****{digits[-4:]}"
    # Not a mainland mobile: show at most the last four, never the whole value.
    return "*" * len(digits) if len(digits) <= 6 else "*" * (len(digits) - 4) + digits[-4:]


def mask_id_no(id_no: str | None) -> str | None:
    if not id_no:
        return id_no
    value = id_no.strip()
    if len(value) <= 8:
        return value[:1] + "*" * (len(value) - 1)
    if len(value) <= 14:  # passports and other short documents: first two and last two
        return f"{value[:2]}{'*' * (len(value) - 4)}{value[-2:]}"
    return f"{value[:6]}{'*' * (len(value) - 10)}{value[-4:]}"


def mask_bank_account(account: str | None) -> str | None:
    if not account:
        return account
    value = re.sub(r"\s", "", account)
    if len(value) <= 8:
        return "*" * (len(value) - 4) + value[-4:] if len(value) > 4 else "*" * len(value)
    return f"{value[:4]}{'*' * (len(value) - 8)}{value[-4:]}"


# Patterns for free text (log messages): mainland ID numbers (18: a region, a birth date 19xx/20xx, the
# last may be X), mobiles (11 digits starting with 1), bank card numbers (16-19 digits). Longest first,
# digit-bounded; an 18-digit number right after a letter is one of our codes (DD2026120500000001: an
# order), not an ID number. A mobile is masked even between letters (tel13800138000end).
_ID_RE = re.compile(r"(?<![\dA-Za-z])([1-9]\d{5})(?:19|20)\d{6}(\d{3}[\dXx])(?![\dA-Za-z])")
_BANK_RE = re.compile(r"(?<![\dA-Za-z])(\d{4})\d{8,11}(\d{4})(?!\d)")  # our codes: 2 letters + digits
_MOBILE_RE = re.compile(r"(?<!\d)(1[3-9]\d)\d{4}(\d{4})(?!\d)")


def mask_text(text: str) -> str:
    text = _ID_RE.sub(lambda m: f"{m.group(1)}********{m.group(2)}", text)
    text = _BANK_RE.sub(lambda m: f"{m.group(1)}{'*' * (len(m.group(0)) - 8)}{m.group(2)}", text)
    return _MOBILE_RE.sub(lambda m: f"{m.group(1)}****{m.group(2)}", text)


def mask_any(value: Any) -> Any:
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, dict):
        return {k: mask_any(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(mask_any(v) for v in value)
    return value


# Fields that hold one of them by name, whatever its form (a passport number or a foreign mobile escapes the
# patterns above): the audit trail masks them by name first.
_BY_NAME = {
    "mobile": mask_mobile,
    "signerMobile": mask_mobile,
    "signer_mobile": mask_mobile,
    "pushMobile": mask_mobile,
    "push_mobile": mask_mobile,
    "idNo": mask_id_no,
    "id_no": mask_id_no,
    "bankAccount": mask_bank_account,
    "bank_account": mask_bank_account,
}


def mask_named(value: Any) -> Any:
    """`value` with every field named as a mobile, an ID number or a bank account masked (nested too)."""
    if isinstance(value, dict):
        return {
            k: _BY_NAME[k](v) if k in _BY_NAME and isinstance(v, str) else mask_named(v)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return type(value)(mask_named(v) for v in value)
    return value


# Column names of free-form records (a legacy CSV's extra columns): the words a name is made of (camelCase,
# snake_case, kebab-case) tell what it holds - contactMobile, guarantor_phone, passportNo, payer-id-no,
# bankAcct - whatever the value looks like.
_WORDS = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")
_MOBILE_WORDS = {"mobile", "phone", "tel", "telephone", "cellphone", "sjh"}
_ID_WORDS = {"passport", "idcard", "idno", "identity", "sfz", "sfzh", "zjhm"}  # not "certificate": a meter's
_ACCOUNT_WORDS = {"account", "acct", "iban", "bankcard", "cardno", "yhzh"}


def masker_of(name: str) -> Any:
    """The masking function a column named `name` calls for (None: the name says nothing)."""
    if name in _BY_NAME:
        return _BY_NAME[name]
    words = [w.lower() for w in _WORDS.findall(name)]
    joined = {a + b for a, b in itertools.pairwise(words)}
    found = set(words) | joined
    if found & _ID_WORDS or ("id" in words and ({"no", "num", "number", "card"} & set(words))):
        return mask_id_no
    if found & _MOBILE_WORDS:
        return mask_mobile
    if "name" not in words and (found & _ACCOUNT_WORDS or {"bank", "card"} <= set(words)):
        return mask_bank_account
    return None


def mask_columns(row: dict[str, Any]) -> dict[str, Any]:
    """A record of named text columns masked: by its name where the name says it is a mobile, an ID number
    or an account (a passport or a foreign number too), by pattern everywhere else (mask_text)."""
    out: dict[str, Any] = {}
    for name, value in row.items():
        how = masker_of(name)
        out[name] = how(value) if how is not None and isinstance(value, str) else mask_any(value)
    return out


_STD_ATTRS = set(vars(logging.makeLogRecord({})).keys()) | {"message", "asctime"}


class MaskingFilter(logging.Filter):
    """Masks sensitive numbers in a record's message, arguments and extra fields."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = mask_any(record.msg)
        if record.args:
            record.args = mask_any(record.args)
        for key, value in list(vars(record).items()):
            if key not in _STD_ATTRS:
                setattr(record, key, mask_any(value))
        return True


# The kinds of personal value (waterrev.crypto seals each under its own purpose and indexes it bound to it).
MOBILE = "mobile"
ID_NO = "id-no"


_MAINLAND_MOBILE = re.compile(r"1[3-9]\d{9}")
_MOBILE_PREFIX = re.compile(r"(?:\+|00)?86")


def normalize_pii(value: str, kind: str = ID_NO) -> str:
    """What is sealed and indexed for an ID number or a mobile (`kind`), so that every way of writing one
    value indexes alike: no spaces, letters upper case (an ID number's final x). A mobile also loses its
    '-' separators, and a mainland mobile its country prefix (+86, 0086, 86): '+86 138-1234-5678' is
    '13812345678'. A prefix before anything but a mainland mobile stays (a foreign number is kept whole)."""
    plain = re.sub(r"\s", "", value).upper()
    if kind != MOBILE:
        return plain
    plain = plain.replace("-", "")
    prefix = _MOBILE_PREFIX.match(plain)
    if prefix and _MAINLAND_MOBILE.fullmatch(plain[prefix.end() :]):
        return plain[prefix.end() :]
    return plain
