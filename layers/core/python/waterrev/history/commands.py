"""The history use cases' inputs."""

from __future__ import annotations

from typing import NamedTuple


class HistImport(NamedTuple):
    object_type: str
    source_system: str
    csv_text: str
    file_name: str | None = None


class HistSearch(NamedTuple):
    object_type: str | None = None
    cust_code: str | None = None
    id_no: str | None = None
    mobile: str | None = None
    meter_no: str | None = None
    bill_period: str | None = None
    period_from: str | None = None
    period_to: str | None = None
    dept_id: int | None = None
    channel: str | None = None
    legacy_no: str | None = None
    new_no: str | None = None
    import_no: str | None = None
    page_no: int = 1
    page_size: int = 20


class MigrationVerify(NamedTuple):
    object_type: str
    period_from: str
    period_to: str
    dept_id: int | None = None
    import_no: str | None = None
    max_diff_rows: int = 200
