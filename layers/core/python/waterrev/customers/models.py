"""IF-REV-001 / IF-REV-002 request models (field names as in the seed)."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Any, Literal, Self

from pydantic import Field, model_validator

from waterrev.customers import commands
from waterrev.fields import BankAccount, Mobile, Model, valid_id_card

CustType = Literal["RESIDENT", "NON_RESIDENT", "SPECIAL"]
IdType = Literal["ID_CARD", "PASSPORT", "USCC"]
AccountStatus = Literal["NORMAL", "FROZEN", "RESTRICTED", "CLOSED"]
CustStatus = Literal["NORMAL", "STOPPED"]
_USCC = re.compile(r"^[0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10}$")


class Contact(Model):
    name: str = Field(min_length=1, max_length=64)
    mobile: Mobile | None = None
    relation: Literal["SELF", "FAMILY", "TENANT", "AGENT", "OTHER"] = "SELF"
    is_primary: bool = False

    def to_command(self) -> commands.Contact:
        return commands.Contact(self.name, self.mobile, self.relation, self.is_primary)


class MeterLink(Model):
    meter_no: str = Field(pattern=r"^[A-Za-z0-9-]{4,32}$")
    caliber: Literal["DN15", "DN20", "DN25", "DN32", "DN40", "DN50", "DN80", "DN100", "DN150", "DN200"]
    model: str | None = Field(default=None, max_length=32)
    meter_type: Literal["MECHANICAL", "IOT"] = "MECHANICAL"
    max_reading: Decimal = Field(default=Decimal("99999"), gt=0, max_digits=12, decimal_places=2)
    initial_reading: Decimal = Field(default=Decimal("0"), ge=0, max_digits=12, decimal_places=2)
    install_address: str | None = Field(default=None, max_length=255)
    install_date: dt.date | None = None

    @model_validator(mode="after")
    def _reading_in_range(self) -> Self:
        if self.initial_reading >= self.max_reading:
            raise ValueError("initialReading 必须小于 maxReading")
        return self

    def to_command(self) -> commands.MeterLink:
        return commands.MeterLink(
            meter_no=self.meter_no,
            caliber=self.caliber,
            model=self.model,
            meter_type=self.meter_type,
            max_reading=self.max_reading,
            initial_reading=self.initial_reading,
            install_address=self.install_address,
            install_date=self.install_date,
        )


class InvoiceInfo(Model):
    invoice_type: Literal["ELECTRONIC", "PAPER"] = "ELECTRONIC"
    title_type: Literal["PERSONAL", "ENTERPRISE"] = "PERSONAL"
    invoice_title: str = Field(min_length=1, max_length=200)
    tax_no: str | None = Field(default=None, pattern=r"^[0-9A-Z]{15,20}$")
    email: str | None = Field(default=None, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", max_length=128)
    mobile: Mobile | None = None
    bank_name: str | None = Field(default=None, max_length=100)
    bank_account: BankAccount | None = None
    address_phone: str | None = Field(default=None, max_length=255)

    @model_validator(mode="after")
    def _complete(self) -> Self:
        if self.title_type == "ENTERPRISE" and not self.tax_no:
            raise ValueError("企业抬头须填写 taxNo")
        if self.invoice_type == "ELECTRONIC" and not (self.email or self.mobile):
            raise ValueError("电子发票须填写 email 或 mobile 至少一项")
        return self

    def to_command(self) -> commands.InvoiceInfo:
        return commands.InvoiceInfo(
            invoice_title=self.invoice_title,
            invoice_type=self.invoice_type,
            title_type=self.title_type,
            tax_no=self.tax_no,
            email=self.email,
            mobile=self.mobile,
            bank_name=self.bank_name,
            bank_account=self.bank_account,
            address_phone=self.address_phone,
        )


class BankRelation(Model):
    bank_code: str = Field(pattern=r"^[A-Z0-9]{2,16}$")
    bank_account: BankAccount
    account_name: str = Field(min_length=1, max_length=100)
    agreement_no: str | None = Field(default=None, max_length=64)

    def to_command(self) -> commands.BankRelation:
        return commands.BankRelation(self.bank_code, self.bank_account, self.account_name, self.agreement_no)


class _Identity(Model):
    id_type: IdType | None = None
    id_no: str | None = Field(default=None, max_length=32)

    @model_validator(mode="after")
    def _id_matches_type(self) -> Self:
        if self.id_no is None:
            return self
        if self.id_type is None:
            raise ValueError("填写 idNo 时须同时填写 idType")
        if self.id_type == "ID_CARD" and not valid_id_card(self.id_no):
            raise ValueError("idNo 不是有效的居民身份证号码")
        if self.id_type == "USCC" and not _USCC.match(self.id_no):
            raise ValueError("idNo 不是有效的统一社会信用代码")
        return self


class CustomerCreate(_Identity):
    code: str | None = Field(default=None, pattern=r"^[A-Za-z0-9-]{4,32}$")
    name: str = Field(min_length=1, max_length=100)
    cust_type: CustType
    mobile: Mobile | None = None
    address: str = Field(min_length=1, max_length=255)
    dept_id: int = Field(gt=0)
    population: int = Field(default=1, ge=1, le=50)
    account_no: str | None = Field(default=None, pattern=r"^[A-Za-z0-9-]{4,32}$")
    contact_list: list[Contact] = Field(default_factory=list, max_length=20)
    meter_list: list[MeterLink] = Field(default_factory=list, max_length=20)
    invoice_info: InvoiceInfo | None = None
    collection_rel: BankRelation | None = None
    withholding_rel: BankRelation | None = None

    @model_validator(mode="after")
    def _one_primary(self) -> Self:
        if sum(c.is_primary for c in self.contact_list) > 1:
            raise ValueError("contactList 至多一个主要联系人")
        if len({m.meter_no for m in self.meter_list}) != len(self.meter_list):
            raise ValueError("meterList 中表号重复")
        return self

    def to_command(self) -> commands.NewCustomer:
        return commands.NewCustomer(
            code=self.code,
            name=self.name,
            cust_type=self.cust_type,
            id_type=self.id_type,
            id_no=self.id_no,
            mobile=self.mobile,
            address=self.address,
            dept_id=self.dept_id,
            population=self.population,
            account_no=self.account_no,
            contact_list=tuple(c.to_command() for c in self.contact_list),
            meter_list=tuple(m.to_command() for m in self.meter_list),
            invoice_info=_opt(self.invoice_info),
            collection_rel=_opt(self.collection_rel),
            withholding_rel=_opt(self.withholding_rel),
        )


class CustomerUpdate(_Identity):
    id: int = Field(gt=0)
    version: int | None = Field(default=None, ge=0, description="乐观锁版本；传入时必须与当前一致")
    name: str | None = Field(default=None, min_length=1, max_length=100)
    cust_type: CustType | None = None
    mobile: Mobile | None = None
    address: str | None = Field(default=None, min_length=1, max_length=255)
    population: int | None = Field(default=None, ge=1, le=50)
    contact_list: list[Contact] | None = Field(default=None, max_length=20)
    add_meters: list[MeterLink] = Field(default_factory=list, max_length=20)
    remove_meter_ids: list[int] = Field(default_factory=list, max_length=20)
    invoice_info: InvoiceInfo | None = None
    collection_rel: BankRelation | None = None
    withholding_rel: BankRelation | None = None
    terminate_collection: bool = False
    terminate_withholding: bool = False

    def to_command(self) -> commands.CustomerChanges:
        return commands.CustomerChanges(
            id=self.id,
            version=self.version,
            name=self.name,
            cust_type=self.cust_type,
            id_type=self.id_type,
            id_no=self.id_no,
            mobile=self.mobile,
            address=self.address,
            population=self.population,
            contact_list=None
            if self.contact_list is None
            else tuple(c.to_command() for c in self.contact_list),
            add_meters=tuple(m.to_command() for m in self.add_meters),
            remove_meter_ids=tuple(self.remove_meter_ids),
            invoice_info=_opt(self.invoice_info),
            collection_rel=_opt(self.collection_rel),
            withholding_rel=_opt(self.withholding_rel),
            terminate_collection=self.terminate_collection,
            terminate_withholding=self.terminate_withholding,
        )


class StatusChange(Model):
    id: int = Field(gt=0, description="客户 ID")
    status: CustStatus | None = None
    account_id: int | None = Field(default=None, gt=0)
    account_status: AccountStatus | None = None
    reason: str = Field(min_length=1, max_length=255)

    @model_validator(mode="after")
    def _something(self) -> Self:
        if self.status is None and self.account_status is None:
            raise ValueError("status 与 accountStatus 至少填写一项")
        if (self.account_status is None) != (self.account_id is None):
            raise ValueError("accountId 与 accountStatus 须同时填写")
        return self

    def to_command(self) -> commands.StatusChange:
        return commands.StatusChange(
            id=self.id,
            reason=self.reason,
            status=self.status,
            account_id=self.account_id,
            account_status=self.account_status,
        )


def _opt(part: InvoiceInfo | BankRelation | None) -> Any:
    return None if part is None else part.to_command()
