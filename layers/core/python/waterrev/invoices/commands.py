"""What the invoice use cases are asked to do: plain values built by the handlers from the request
models, so no use case depends on the edge."""

from __future__ import annotations

from typing import NamedTuple


class ApplyInvoice(NamedTuple):
    """IF-REV-008: invoice whole paid bills of one customer."""

    cust_id: int
    charge_ids: tuple[int, ...]
    invoice_type: str  # ELECTRONIC | PAPER
    invoice_title: str
    source_channel: str  # COUNTER | FINANCE_BACKOFFICE
    application_no: str | None = None
    tax_no: str | None = None
    email: str | None = None
    mobile: str | None = None
    remark: str | None = None


class ModifyInvoice(NamedTuple):
    """IF-REV-008 post-processing: void (INVALIDATE) or red-ink (RED_INK) one SUCCESS invoice."""

    invoice_id: int
    modify_type: str  # INVALIDATE | RED_INK
    reason: str
    remark: str | None = None
    original_invoice_code: str | None = None
    original_invoice_number: str | None = None


class QueryInvoice(NamedTuple):
    """IF-REV-009: one invoice by applicationNo or sysRequestNo, asked by a person or the system."""

    application_no: str | None
    sys_request_no: str | None
    query_source: str  # MANUAL | AUTO_COMPENSATE | CALLBACK_VERIFY
    compensate: bool = False  # /query/compensate: also repair (resend, fetch the file) and plan the next


class CustomerInvoices(NamedTuple):
    """IF-CS-004 query / download: a bound customer's issued invoices (one of them, when named)."""

    cust_id: int
    invoice_id: int | None = None
    application_no: str | None = None
    sys_request_no: str | None = None
    page_no: int = 1
    page_size: int = 10


class PushInvoice(NamedTuple):
    """IF-CS-004 push: send an issued e-invoice to an e-mail address or a mobile."""

    cust_id: int
    invoice_id: int
    push_channel: str  # EMAIL | SMS
    application_no: str | None = None
    push_email: str | None = None
    push_mobile: str | None = None


class ResolveInvoiceException(NamedTuple):
    """IF-REV-009 人工核查: a person's conclusion on a conflicting result."""

    id: int
    remark: str
