"""IF-REV-001 / IF-REV-002 edge models: requests and the replies inside the envelope (the seed's field
names: IF-REV-001 请求参数 / 响应参数; our additions are marked 扩展 in their descriptions)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, Literal, Self

from pydantic import ConfigDict, Field, model_validator

from waterrev.customers import commands
from waterrev.customers.models import (
    _BANK,
    _CONTACT,
    _INVOICE,
    _METER,
    _USCC,
    AccountStatus,
    Caliber,
    CustStatus,
    CustType,
    IdType,
    Relation,
)
from waterrev.fields import BankAccount, DateStr, Decimal4, Id, Mobile, Model, Money, Reply, valid_id_card


class Contact(Model):
    model_config = ConfigDict(json_schema_extra={"examples": [_CONTACT]})

    name: str = Field(min_length=1, max_length=64, description="联系人姓名")
    mobile: Mobile | None = Field(default=None, description="联系人手机号")
    relation: Relation = Field(default="SELF", description="与客户关系")
    is_primary: bool = Field(default=False, description="是否主要联系人（至多一个）")

    def to_command(self) -> commands.Contact:
        return commands.Contact(self.name, self.mobile, self.relation, self.is_primary)


class SplitPartIn(Model):
    """一表多价的一个分项：价格编码，及其比例（RATIO）或固定水量（QUANTITY，先取前 N m³）。"""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"priceCode": "RESIDENT", "splitMode": "RATIO", "ratio": "0.7"},
                {"priceCode": "NON_RESIDENT", "splitMode": "QUANTITY", "quantity": "10"},
            ]
        }
    )

    price_code: str = Field(
        pattern=r"^[A-Za-z][A-Za-z0-9_.\-]{1,31}$", description="价格编码（IF-REV-012 PRICE configCode）"
    )
    split_mode: Literal["RATIO", "QUANTITY"] = Field(
        description="RATIO：按比例分摊固定水量以外的用量；QUANTITY：按分项顺序先取前 quantity m³"
    )
    ratio: Decimal | None = Field(
        default=None,
        gt=0,
        le=1,
        max_digits=5,
        decimal_places=4,
        description="比例（RATIO 必填；各 RATIO 分项之和为 1）",
    )
    quantity: Decimal | None = Field(
        default=None, gt=0, max_digits=12, decimal_places=2, description="固定水量 m³（QUANTITY 必填）"
    )

    @model_validator(mode="after")
    def _value(self) -> Self:
        if (self.split_mode == "RATIO") != (self.ratio is not None) or (self.split_mode == "QUANTITY") != (
            self.quantity is not None
        ):
            raise ValueError("splitMode RATIO 须且只须填写 ratio，QUANTITY 须且只须填写 quantity")
        return self

    def to_command(self) -> commands.SplitPart:
        return commands.SplitPart(self.price_code, self.split_mode, self.ratio, self.quantity)


def _check_parts(parts: list[SplitPartIn]) -> None:
    from waterrev.billing.rules import SplitMode, SplitPart, check_split

    if parts:
        check_split(
            [
                SplitPart(
                    p.price_code,
                    SplitMode(p.split_mode),
                    p.ratio if p.ratio is not None else p.quantity or Decimal(0),
                )
                for p in parts
            ]
        )


class PriceSplitIn(Model):
    """扩展：一表多价。水表用量按分项拆分到各价格编码，各自按其价格模板与阶梯计价，同一张账单分项出明细。"""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "effectiveDate": "2026-04-01",
                    "parts": [
                        {"priceCode": "RESIDENT", "splitMode": "RATIO", "ratio": "0.7"},
                        {"priceCode": "NON_RESIDENT", "splitMode": "RATIO", "ratio": "0.3"},
                    ],
                }
            ]
        }
    )

    effective_date: dt.date | None = Field(
        default=None, description="生效日期（缺省为当天）；按抄表日所在的分项计价"
    )
    parts: list[SplitPartIn] = Field(
        min_length=1,
        max_length=10,
        description="分项（比例之和为 1；最大比例的分项承接尾差与最低水量、固定费用）",
    )

    @model_validator(mode="after")
    def _adds_up(self) -> Self:
        _check_parts(self.parts)
        return self

    def to_command(self) -> commands.PriceSplit:
        return commands.PriceSplit(tuple(p.to_command() for p in self.parts), self.effective_date)


class MeterPriceSplit(Model):
    """扩展：已绑定水表的一表多价变更。parts 为空表示自 effectiveDate 起不再分项（按客户的价格编码计价）。"""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "meterId": 1,
                    "effectiveDate": "2026-04-01",
                    "parts": [
                        {"priceCode": "NON_RESIDENT", "splitMode": "QUANTITY", "quantity": "10"},
                        {"priceCode": "RESIDENT", "splitMode": "RATIO", "ratio": "1"},
                    ],
                }
            ]
        }
    )

    meter_id: Id = Field(description="水表 ID（须绑定该客户）")
    effective_date: dt.date = Field(description="生效日期（须晚于该表当前分项的生效日期）")
    parts: list[SplitPartIn] = Field(max_length=10, description="分项；为空则结束分项")

    @model_validator(mode="after")
    def _adds_up(self) -> Self:
        _check_parts(self.parts)
        return self

    def to_command(self) -> commands.MeterSplitChange:
        return commands.MeterSplitChange(
            self.meter_id, commands.PriceSplit(tuple(p.to_command() for p in self.parts), self.effective_date)
        )


class MeterLink(Model):
    model_config = ConfigDict(json_schema_extra={"examples": [_METER]})

    meter_no: str = Field(pattern=r"^[A-Za-z0-9-]{4,32}$", description="表号（已存在且未绑定的表直接绑定）")
    caliber: Caliber = Field(description="口径")
    model: str | None = Field(default=None, max_length=32, description="型号")
    meter_type: Literal["MECHANICAL", "IOT"] = Field(default="MECHANICAL", description="水表类型")
    max_reading: Decimal = Field(
        default=Decimal("99999"), gt=0, max_digits=12, decimal_places=2, description="表盘最大读数"
    )
    initial_reading: Decimal = Field(
        default=Decimal("0"), ge=0, max_digits=12, decimal_places=2, description="装表读数"
    )
    install_address: str | None = Field(default=None, max_length=255, description="安装地址")
    install_date: dt.date | None = Field(default=None, description="安装日期")
    price_split: PriceSplitIn | None = Field(
        default=None, description="扩展：一表多价分项（不填则按客户的价格编码计价）"
    )

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
            price_split=None if self.price_split is None else self.price_split.to_command(),
        )


class InvoiceInfo(Model):
    model_config = ConfigDict(json_schema_extra={"examples": [_INVOICE]})

    invoice_type: Literal["ELECTRONIC", "PAPER"] = Field(default="ELECTRONIC", description="发票类型")
    title_type: Literal["PERSONAL", "ENTERPRISE"] = Field(default="PERSONAL", description="抬头类型")
    invoice_title: str = Field(min_length=1, max_length=200, description="发票抬头")
    tax_no: str | None = Field(
        default=None, pattern=r"^[0-9A-Z]{15,20}$", description="纳税人识别号（企业必填）"
    )
    email: str | None = Field(
        default=None, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", max_length=128, description="收票邮箱"
    )
    mobile: Mobile | None = Field(default=None, description="收票手机号")
    bank_name: str | None = Field(default=None, max_length=100, description="开户行")
    bank_account: BankAccount | None = Field(default=None, description="银行账号")
    address_phone: str | None = Field(default=None, max_length=255, description="地址电话")

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
    model_config = ConfigDict(json_schema_extra={"examples": [_BANK]})

    bank_code: str = Field(pattern=r"^[A-Z0-9]{2,16}$", description="银行编码")
    bank_account: BankAccount = Field(description="银行账号")
    account_name: str = Field(min_length=1, max_length=100, description="户名")
    agreement_no: str | None = Field(default=None, max_length=64, description="托收协议号 / 代扣签约号")

    def to_command(self) -> commands.BankRelation:
        return commands.BankRelation(self.bank_code, self.bank_account, self.account_name, self.agreement_no)


class _Identity(Model):
    id_type: IdType | None = Field(default=None, description="证件类型")
    id_no: str | None = Field(default=None, max_length=32, description="证件号码")

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
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "张三",
                    "custType": "RESIDENT",
                    "mobile": "13800138000",
                    "address": "鼓楼区五四路 1 号",
                    "deptId": 2,
                    "idType": "ID_CARD",
                    "idNo": "11010519491231002X",
                    "population": 3,
                    "contactList": [_CONTACT],
                    "meterList": [_METER],
                    "invoiceInfo": _INVOICE,
                    "withholdingRel": _BANK,
                }
            ]
        }
    )

    code: str | None = Field(
        default=None, pattern=r"^[A-Za-z0-9-]{4,32}$", description="客户编号；不填则自动生成"
    )
    name: str = Field(min_length=1, max_length=100, description="客户名称")
    cust_type: CustType = Field(description="客户类型")
    mobile: Mobile | None = Field(default=None, description="主要联系电话（绑定验证码发往此号）")
    address: str = Field(min_length=1, max_length=255, description="客户地址")
    dept_id: Id = Field(description="所属营业所（须在本人数据范围内）")
    population: int = Field(default=1, ge=1, le=50, description="用水人口（阶梯水量按人口调整）")
    low_income: bool = Field(
        default=False,
        description="扩展：低保户（revenue.penalty.exempt-low-income 开启时免收违约金）",
    )
    account_no: str | None = Field(
        default=None, pattern=r"^[A-Za-z0-9-]{4,32}$", description="账户编号；不填则为 ZH+客户编号"
    )
    contact_list: list[Contact] = Field(default_factory=list, max_length=20, description="联系人列表")
    meter_list: list[MeterLink] = Field(default_factory=list, max_length=20, description="绑定水表列表")
    invoice_info: InvoiceInfo | None = Field(default=None, description="开票信息")
    collection_rel: BankRelation | None = Field(default=None, description="托收关系")
    withholding_rel: BankRelation | None = Field(default=None, description="代扣关系")

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
            low_income=self.low_income,
            account_no=self.account_no,
            contact_list=tuple(c.to_command() for c in self.contact_list),
            meter_list=tuple(m.to_command() for m in self.meter_list),
            invoice_info=_opt(self.invoice_info),
            collection_rel=_opt(self.collection_rel),
            withholding_rel=_opt(self.withholding_rel),
        )


class CustomerUpdate(_Identity):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": 1,
                    "version": 0,
                    "address": "鼓楼区五四路 2 号",
                    "contactList": [_CONTACT],
                    "addMeters": [_METER],
                    "terminateCollection": True,
                }
            ]
        }
    )

    id: Id = Field(description="客户 ID")
    version: int | None = Field(
        default=None, ge=0, le=2**31 - 1, description="乐观锁版本；传入时必须与当前一致"
    )
    name: str | None = Field(default=None, min_length=1, max_length=100, description="客户名称")
    cust_type: CustType | None = Field(default=None, description="客户类型")
    mobile: Mobile | None = Field(default=None, description="主要联系电话")
    address: str | None = Field(default=None, min_length=1, max_length=255, description="客户地址")
    population: int | None = Field(default=None, ge=1, le=50, description="用水人口")
    low_income: bool | None = Field(
        default=None,
        description="扩展：低保户标记（不传则不变；revenue.penalty.exempt-low-income 开启时免收违约金）",
    )
    contact_list: list[Contact] | None = Field(
        default=None, max_length=20, description="联系人列表（整体替换；不传则不变）"
    )
    add_meters: list[MeterLink] = Field(default_factory=list, max_length=20, description="扩展：新绑定的水表")
    remove_meter_ids: list[Id] = Field(
        default_factory=list, max_length=20, description="扩展：解除绑定的水表 ID"
    )
    invoice_info: InvoiceInfo | None = Field(default=None, description="开票信息（整体替换）")
    collection_rel: BankRelation | None = Field(default=None, description="新的托收关系（原关系终止）")
    withholding_rel: BankRelation | None = Field(default=None, description="新的代扣关系（原关系终止）")
    terminate_collection: bool = Field(default=False, description="扩展：终止托收关系")
    terminate_withholding: bool = Field(default=False, description="扩展：终止代扣关系")
    price_splits: list[MeterPriceSplit] = Field(
        default_factory=list,
        max_length=20,
        description="扩展：已绑定水表的一表多价分项变更（按生效日期接替）",
    )

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
            low_income=self.low_income,
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
            price_splits=tuple(m.to_command() for m in self.price_splits),
        )


class StatusChange(Model):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"id": 1, "status": "STOPPED", "reason": "用户销户"},
                {"id": 1, "accountId": 1, "accountStatus": "FROZEN", "reason": "司法冻结"},
            ]
        }
    )

    id: Id = Field(description="客户 ID")
    status: CustStatus | None = Field(default=None, description="客户状态")
    account_id: Id | None = Field(default=None, description="账户 ID（与 accountStatus 同时填写）")
    account_status: AccountStatus | None = Field(default=None, description="账户状态")
    reason: str = Field(min_length=1, max_length=255, description="变更原因（记入操作日志）")

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


# ---- replies -------------------------------------------------------------------------------------


class AccountInfo(Reply):
    """IF-REV-001 accountInfo (biz_account)."""

    account_id: int = Field(description="扩展：账户 ID (biz_account.id)")
    account_no: str = Field(description="扩展：账户编号")
    balance: Money = Field(description="账户余额")
    arrears_amount: Money = Field(description="欠费金额")
    status: AccountStatus = Field(description="账户状态")


class ContactReply(Reply):
    id: int = Field(description="联系人 ID")
    name: str = Field(description="联系人姓名")
    mobile: str | None = Field(description="联系人手机号（脱敏）")
    relation: Relation = Field(description="与客户关系")
    is_primary: bool = Field(description="是否主要联系人")


class SplitPartReply(Reply):
    part_no: int = Field(description="分项序号（账单明细 partNo）")
    price_code: str = Field(description="价格编码")
    split_mode: Literal["RATIO", "QUANTITY"] = Field(description="RATIO 或 QUANTITY")
    ratio: Decimal4 | None = Field(description="比例（RATIO）")
    quantity: Decimal4 | None = Field(description="固定水量 m³（QUANTITY）")


class PriceSplitReply(Reply):
    effective_date: DateStr = Field(description="生效日期")
    expire_date: DateStr | None = Field(description="失效日期（被接替或结束的前一天；null 为仍有效）")
    parts: list[SplitPartReply] = Field(description="分项")


class MeterReply(Reply):
    meter_id: int = Field(description="水表 ID (biz_meter.id)")
    meter_no: str = Field(description="表号")
    caliber: str = Field(description="口径")
    model: str | None = Field(description="型号")
    meter_type: Literal["MECHANICAL", "IOT"] = Field(description="水表类型")
    max_reading: Decimal4 = Field(description="表盘最大读数")
    initial_reading: Decimal4 = Field(description="装表读数")
    install_address: str | None = Field(description="安装地址")
    install_date: DateStr | None = Field(description="安装日期")
    meter_status: Literal["ACTIVE", "STOPPED", "REMOVED"] = Field(description="水表状态")
    bind_date: DateStr = Field(description="绑定日期")
    price_split_list: list[PriceSplitReply] = Field(
        description="扩展：一表多价分项的各版本（新的在前；空为不分项，按客户的价格编码计价）"
    )


class InvoiceInfoReply(Reply):
    invoice_type: Literal["ELECTRONIC", "PAPER"] = Field(description="发票类型")
    title_type: Literal["PERSONAL", "ENTERPRISE"] = Field(description="抬头类型")
    invoice_title: str = Field(description="发票抬头")
    tax_no: str | None = Field(description="纳税人识别号")
    email: str | None = Field(description="收票邮箱")
    mobile: str | None = Field(description="收票手机号（脱敏）")
    bank_name: str | None = Field(description="开户行")
    bank_account: str | None = Field(description="银行账号（脱敏）")
    address_phone: str | None = Field(description="地址电话")


class BankRelationReply(Reply):
    bank_code: str = Field(description="银行编码")
    bank_account: str = Field(description="银行账号（脱敏）")
    account_name: str = Field(description="户名")
    agreement_no: str | None = Field(description="托收协议号 / 代扣签约号")
    status: Literal["SIGNED"] = Field(description="关系状态（只返回生效中的关系）")


class CustomerDetail(Reply):
    """IF-REV-001 响应参数. The sections follow queryType: base (contactList), account (accountInfo,
    contactList and the extensions accountList, collectionRel, withholdingRel), meter (meterList),
    invoice (invoiceInfo), all (everything); a section not asked for is left out."""

    id: int = Field(description="客户主键 ID")
    code: str = Field(description="客户编号")
    name: str = Field(description="客户名称")
    cust_type: CustType = Field(description="客户类型")
    mobile: str | None = Field(description="主要联系电话（脱敏）")
    address: str = Field(description="客户地址")
    status: CustStatus = Field(description="扩展：客户状态")
    id_type: IdType | None = Field(description="扩展：证件类型")
    id_no: str | None = Field(description="扩展：证件号码（脱敏）")
    dept_id: int = Field(description="扩展：所属营业所 ID")
    dept_name: str = Field(description="扩展：所属营业所名称")
    population: int = Field(description="扩展：用水人口")
    low_income: bool = Field(description="扩展：低保户（可按参数免收违约金）")
    version: int = Field(description="扩展：乐观锁版本（IF-REV-002 update 时回传）")
    account_info: AccountInfo | None = Field(
        default=None, description="账户信息对象（首个账户；queryType 为 account、all 时返回）"
    )
    account_list: list[AccountInfo] | None = Field(
        default=None, description="扩展：全部账户（queryType 为 account、all 时返回）"
    )
    contact_list: list[ContactReply] | None = Field(
        default=None, description="联系人列表（queryType 为 base、account、all 时返回）"
    )
    meter_list: list[MeterReply] | None = Field(
        default=None, description="绑定水表列表（queryType 为 meter、all 时返回）"
    )
    invoice_info: InvoiceInfoReply | None = Field(
        default=None, description="开票信息摘要（queryType 为 invoice、all 时返回；未登记为 null）"
    )
    collection_rel: BankRelationReply | None = Field(
        default=None, description="扩展：托收关系（queryType 为 account、all 时返回；无则 null）"
    )
    withholding_rel: BankRelationReply | None = Field(
        default=None, description="扩展：代扣关系（queryType 为 account、all 时返回；无则 null）"
    )


class CustomerPageItem(Reply):
    """IF-REV-001 search by mobile, code or name: one customer of the page."""

    id: int = Field(description="客户主键 ID")
    code: str = Field(description="客户编号")
    name: str = Field(description="客户名称")
    cust_type: CustType = Field(description="客户类型")
    mobile: str | None = Field(description="主要联系电话（脱敏）")
    address: str = Field(description="客户地址")
    status: CustStatus = Field(description="扩展：客户状态")
    dept_id: int = Field(description="扩展：所属营业所 ID")
    account_info: AccountInfo | None = Field(description="账户信息对象（首个账户）")


class CustomerCreated(Reply):
    """IF-REV-002 create."""

    id: int = Field(description="客户主键 ID")
    code: str = Field(description="客户编号")
    account_id: int = Field(description="账户 ID")
    account_no: str = Field(description="账户编号")
    meter_ids: list[int] = Field(description="绑定水表 ID（与 meterList 顺序一致）")


class StatusChanged(Reply):
    """IF-REV-002 update-status."""

    id: int = Field(description="客户主键 ID")
    status: CustStatus = Field(description="客户状态（变更后）")
    account_id: int | None = Field(default=None, description="账户 ID（变更账户状态时返回）")
    account_status: AccountStatus | None = Field(default=None, description="账户状态（变更后）")
