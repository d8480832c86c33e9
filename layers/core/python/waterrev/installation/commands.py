"""The connection-application use cases' inputs (plain values; never edge models)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import NamedTuple


class Attachment(NamedTuple):
    file_name: str
    file_key: str
    file_type: str
    file_size: int
    sha256: str


class UploadRequest(NamedTuple):
    file_name: str
    file_type: str
    file_size: int


class Apply(NamedTuple):
    apply_type: str
    applicant_name: str
    mobile: str
    address: str
    water_use_type: str
    source_channel: str
    attachments: tuple[Attachment, ...] = ()
    dept_id: int | None = None  # 扩展: the office that handles it (default: the operator's)


class Survey(NamedTuple):
    process_id: int
    scheme_version: str
    survey_result: str
    estimate_amount: Decimal | None = None
    attachments: tuple[Attachment, ...] = ()
    audit_result: str | None = None


class InitiateSign(NamedTuple):
    process_id: int
    signer_name: str | None = None
    signer_mobile: str | None = None


class MeterInfo(NamedTuple):
    meter_no: str
    caliber: str
    initial_reading: Decimal = Decimal("0")
    install_date: dt.date | None = None


class Archive(NamedTuple):
    process_id: int
    archive_type: str
    attachments: tuple[Attachment, ...]
    contract_id: int | None = None
    evidence_id: int | None = None
    operator_id: int | None = None
    meter: MeterInfo | None = None  # 扩展: the meter installed, with the CHECK (验收) archive
