"""What the service desk's use cases take (the handlers build them from the models package)."""

from __future__ import annotations

from typing import Any, NamedTuple


class AttachmentLink(NamedTuple):
    """An upload link for one attachment: what the customer declares of the file."""

    cust_id: int
    file_name: str
    content_type: str
    file_size: int
    sha256: str


class ProcessAction(NamedTuple):
    """IF-CS-006: CREATE, QUERY or SUPPLEMENT (the seed's one request)."""

    action: str
    cust_id: int | None = None
    process_id: int | None = None
    business_type_code: str | None = None
    apply_data: dict[str, Any] | None = None
    attachment_list: tuple[str, ...] = ()
    remark: str | None = None


class HandleProcess(NamedTuple):
    """The back office's step on an application: ACCEPT, TRANSFER, ASK_SUPPLEMENT, APPROVE or REJECT."""

    action: str
    process_id: int
    remark: str | None = None
    to_handler_id: int | None = None


class ProcessFilter(NamedTuple):
    cust_id: int | None = None
    status: str | None = None
    business_type_code: str | None = None
    page_no: int = 1
    page_size: int = 10


class OutletSearch(NamedTuple):
    district: str | None = None
    business_type_code: str | None = None
    open_now: bool = False
    longitude: float | None = None
    latitude: float | None = None
    keyword: str | None = None
    page_no: int = 1
    page_size: int = 10


class SaveOutlet(NamedTuple):
    code: str
    name: str
    district: str
    address: str
    phone: str
    longitude: float
    latitude: float
    opening_hours: tuple[dict[str, Any], ...]
    business_type_codes: tuple[str, ...]
    dept_id: int | None = None
    appointment_url: str | None = None
    status: str = "OPEN"
    remark: str | None = None
