"""What the customer use cases take (IF-REV-002, IF-CS-001): plain frozen values, built by a handler
from its validated request model (`models.py`), never the request model itself."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, NamedTuple

from pydantic.alias_generators import to_camel


class Contact(NamedTuple):
    name: str
    mobile: str | None = None
    relation: str = "SELF"
    is_primary: bool = False


class SplitPart(NamedTuple):
    """One part of a mixed-use meter (一表多价): a price code and its ratio or its first N m3."""

    price_code: str
    split_mode: str  # RATIO | QUANTITY
    ratio: Decimal | None = None
    quantity: Decimal | None = None


class PriceSplit(NamedTuple):
    """A meter's mixed-use split from `effective_date` (None: today); no parts ends the split."""

    parts: tuple[SplitPart, ...]
    effective_date: dt.date | None = None


class MeterSplitChange(NamedTuple):
    meter_id: int
    split: PriceSplit


class MeterLink(NamedTuple):
    meter_no: str
    caliber: str
    model: str | None = None
    meter_type: str = "MECHANICAL"
    max_reading: Decimal = Decimal("99999")
    initial_reading: Decimal = Decimal("0")
    install_address: str | None = None
    install_date: dt.date | None = None
    price_split: PriceSplit | None = None


class InvoiceInfo(NamedTuple):
    invoice_title: str
    invoice_type: str = "ELECTRONIC"
    title_type: str = "PERSONAL"
    tax_no: str | None = None
    email: str | None = None
    mobile: str | None = None
    bank_name: str | None = None
    bank_account: str | None = None
    address_phone: str | None = None


class BankRelation(NamedTuple):
    bank_code: str
    bank_account: str
    account_name: str
    agreement_no: str | None = None


class NewCustomer(NamedTuple):
    name: str
    cust_type: str
    address: str
    dept_id: int
    code: str | None = None
    id_type: str | None = None
    id_no: str | None = None
    mobile: str | None = None
    population: int = 1
    low_income: bool = False  # 低保
    account_no: str | None = None
    contact_list: tuple[Contact, ...] = ()
    meter_list: tuple[MeterLink, ...] = ()
    invoice_info: InvoiceInfo | None = None
    collection_rel: BankRelation | None = None
    withholding_rel: BankRelation | None = None


class CustomerChanges(NamedTuple):
    """A change of customer `id`: None leaves a value as it is; `contact_list` replaces all contacts."""

    id: int
    version: int | None = None
    name: str | None = None
    cust_type: str | None = None
    id_type: str | None = None
    id_no: str | None = None
    mobile: str | None = None
    address: str | None = None
    population: int | None = None
    low_income: bool | None = None
    contact_list: tuple[Contact, ...] | None = None
    add_meters: tuple[MeterLink, ...] = ()
    remove_meter_ids: tuple[int, ...] = ()
    invoice_info: InvoiceInfo | None = None
    collection_rel: BankRelation | None = None
    withholding_rel: BankRelation | None = None
    terminate_collection: bool = False
    terminate_withholding: bool = False
    price_splits: tuple[MeterSplitChange, ...] = ()


class StatusChange(NamedTuple):
    id: int
    reason: str
    status: str | None = None
    account_id: int | None = None
    account_status: str | None = None


class BindCommand(NamedTuple):
    """IF-CS-001 BIND / UNBIND / SET_DEFAULT as the channel user sent it (its channel identity must be
    the token's)."""

    action: str
    channel_type: str
    channel_user_id: str
    cust_id: int
    account_id: int | None = None
    verify_code: str | None = None
    default_flag: bool | None = None


def as_wire(command: Any, *, exclude_none: bool = False) -> dict[str, Any]:
    """A command as the caller sent it (camelCase keys): what the audit trail keeps."""

    def convert(value: Any) -> Any:
        if isinstance(value, tuple) and hasattr(value, "_fields"):  # a command (a NamedTuple)
            return {
                to_camel(name): convert(getattr(value, name))
                for name in value._fields
                if not (exclude_none and getattr(value, name) is None)
            }
        if isinstance(value, list | tuple):
            return [convert(v) for v in value]
        return value

    result = convert(command)
    assert isinstance(result, dict)
    return result
