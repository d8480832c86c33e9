"""The banking use cases' inputs."""

from __future__ import annotations

from decimal import Decimal
from typing import NamedTuple


class Sign(NamedTuple):
    kind: str  # WITHHOLDING (代扣) | COLLECTION (托收)
    cust_id: int
    bank_code: str
    bank_account: str
    account_name: str
    channel_code: str
    sign_no: str | None = None
    mobile: str | None = None
    request_no: str | None = None


class Terminate(NamedTuple):
    kind: str
    cust_id: int
    reason: str
    sign_no: str | None = None


class CustomerCheck(NamedTuple):
    kind: str
    cust_id: int | None = None
    bank_account: str | None = None


class TransferRow(NamedTuple):
    tenant_id: int | None
    channel_code: str | None
    protocol: str | None = None
    host: str | None = None
    port: int | None = None
    username: str | None = None
    credential_ref: str | None = None
    host_key: str | None = None
    send_dir: str | None = None
    back_dir: str | None = None
    reconcile_dir: str | None = None
    send_file_template: str | None = None
    back_file_template: str | None = None
    reconcile_file_template: str | None = None
    enabled: bool = True


class BatchItem(NamedTuple):
    cust_id: int
    charge_id: int
    amount: Decimal


class NewBatch(NamedTuple):
    batch_no: str | None
    channel_code: str
    bill_period: str
    kind: str = "WITHHOLDING"
    tenant_id: int | None = None
    items: tuple[BatchItem, ...] | None = None  # the seed's itemList: only these bills (checked)


class Resolve(NamedTuple):
    diff_id: int
    action: str  # WRITE_OFF | REVERSE | IGNORE
    reason: str | None = None
