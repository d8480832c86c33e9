"""历史查询与迁移校验 edge models (扩展 routes of IF-REV-010, attached to the seed's interface families by
`familyIds`; docs/MIGRATION.md)."""

from __future__ import annotations

import builtins
from typing import Annotated, Literal

from pydantic import ConfigDict, Field

from waterrev.fields import BillPeriod, DateTime, Id, Model, Money, Reply
from waterrev.history.commands import HistImport, HistSearch, MigrationVerify

ObjectType = Literal["BILL", "COLLECTION", "ADJUSTMENT", "INVOICE", "REMINDER", "PROCESS", "METER", "CONFIG"]
VerifiableType = Literal["BILL", "COLLECTION", "INVOICE"]
Text32 = Annotated[str, Field(min_length=1, max_length=32)]
Text64 = Annotated[str, Field(min_length=1, max_length=64)]


class HistImportRequest(Model):
    """扩展：导入一份原系统数据文件（每个对象类型一种 CSV 版式，docs/MIGRATION.md）."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "objectType": "BILL",
                    "sourceSystem": "LEGACY-CIS",
                    "fileName": "bills-2025.csv",
                    "csvContent": "legacyNo,newNo,custCode,billPeriod,amount,status,legacyStatus\n"
                    "OLD-B-0001,ZD202501000001,KH0000000001,2025-01,58.65,PAID,已缴\n",
                }
            ]
        }
    )

    object_type: ObjectType = Field(description="对象类型（最小历史查询保留集）")
    source_system: Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_\-]+$")] = Field(
        description="来源系统"
    )
    file_name: Annotated[str, Field(max_length=255)] | None = Field(default=None, description="文件名")
    csv_content: Annotated[str, Field(min_length=1, max_length=5_000_000)] = Field(
        description="CSV 文件内容（UTF-8，表头为列名，docs/MIGRATION.md）；更大的文件分多个文件导入"
    )

    def command(self) -> HistImport:
        return HistImport(self.object_type, self.source_system, self.csv_content, self.file_name)


class HistImportReply(Reply):
    import_no: str = Field(description="导入批次号")
    object_type: str = Field(description="对象类型")
    source_system: str = Field(description="来源系统")
    file_name: str | None = Field(default=None, description="文件名")
    row_count: int = Field(description="导入行数")
    mapped_count: int = Field(description="找到新系统对象的行数（newNo 映射成功）")
    unmapped_count: int = Field(description="未找到新系统对象的行数")
    create_time: DateTime = Field(description="导入时间")
    duplicate: bool | None = Field(default=None, description="同一文件再次提交：返回首次导入")


class HistImportPage(Reply):
    list: builtins.list[HistImportReply]
    total: int
    page_no: int
    page_size: int


class HistSearchRequest(Model):
    """扩展：历史查询：按客户号、证件号、手机号（完整值）、表号、账期、营业所、渠道、原/新单号组合检索."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"custCode": "KH0000000001", "objectType": "BILL"},
                {"mobile": "13800138000"},
                {"billPeriod": "2025-01", "deptId": 100, "channel": "CASH", "objectType": "COLLECTION"},
            ]
        }
    )

    object_type: ObjectType | None = Field(default=None, description="对象类型")
    cust_code: Text32 | None = Field(default=None, description="客户号")
    id_no: Text32 | None = Field(default=None, description="证件号（完整值）")
    mobile: Annotated[str, Field(min_length=5, max_length=20, pattern=r"^\+?\d[\d -]*$")] | None = Field(
        default=None, description="手机号（完整值；+86、空格、- 皆可）"
    )
    meter_no: Text32 | None = Field(default=None, description="表号")
    bill_period: BillPeriod | None = Field(default=None, description="账期")
    period_from: BillPeriod | None = Field(default=None, description="账期起")
    period_to: BillPeriod | None = Field(default=None, description="账期止")
    dept_id: Id | None = Field(default=None, description="营业所（含下级）")
    channel: Annotated[str, Field(min_length=1, max_length=16)] | None = Field(
        default=None, description="渠道"
    )
    legacy_no: Text64 | None = Field(default=None, description="原系统标识（原单号等）")
    new_no: Text64 | None = Field(default=None, description="新系统业务单号")
    import_no: Annotated[str, Field(min_length=1, max_length=40)] | None = Field(
        default=None, description="导入批次号"
    )
    page_no: int = Field(default=1, ge=1, le=10000, description="页码")
    page_size: int = Field(default=20, ge=1, le=200, description="每页条数")

    def command(self) -> HistSearch:
        return HistSearch(
            object_type=self.object_type,
            cust_code=self.cust_code,
            id_no=self.id_no,
            mobile=self.mobile,
            meter_no=self.meter_no,
            bill_period=self.bill_period,
            period_from=self.period_from,
            period_to=self.period_to,
            dept_id=self.dept_id,
            channel=self.channel,
            legacy_no=self.legacy_no,
            new_no=self.new_no,
            import_no=self.import_no,
            page_no=self.page_no,
            page_size=self.page_size,
        )


class ObjectTypeSummary(Reply):
    object_type: str = Field(description="对象类型")
    family_ids: list[str] = Field(description="挂靠接口族")
    record_count: int = Field(description="记录数")
    amount: Money = Field(description="金额合计")
    mapped_count: int = Field(description="已映射到新系统对象的记录数")


class HistSummary(Reply):
    record_count: int = Field(description="记录数")
    mapped_count: int = Field(description="已映射记录数")
    unmapped_count: int = Field(description="未映射记录数")
    by_object_type: list[ObjectTypeSummary] = Field(description="按对象类型汇总")


class HistItem(Reply):
    object_type: str = Field(description="对象类型")
    family_ids: list[str] = Field(description="挂靠接口族")
    legacy_no: str = Field(description="原系统标识")
    legacy_batch_no: str | None = Field(default=None, description="原批次号")
    new_no: str | None = Field(default=None, description="新系统业务单号")
    new_id: int | None = Field(default=None, description="新系统对象标识（未找到为空）")
    mapped: bool = Field(description="是否映射到新系统对象")
    current_status: str | None = Field(default=None, description="新系统对象的当前状态（状态映射）")
    cust_code: str | None = Field(default=None, description="客户号")
    cust_id: int | None = Field(default=None, description="客户标识")
    id_no: str | None = Field(default=None, description="证件号（脱敏）")
    mobile: str | None = Field(default=None, description="手机号（脱敏）")
    meter_no: str | None = Field(default=None, description="表号")
    bill_period: str | None = Field(default=None, description="账期")
    dept_id: int | None = Field(default=None, description="营业所")
    dept_name: str | None = Field(default=None, description="营业所名称")
    channel: str | None = Field(default=None, description="渠道")
    amount: Money | None = Field(default=None, description="金额")
    status: str | None = Field(default=None, description="状态（新系统编码）")
    legacy_status: str | None = Field(default=None, description="原系统状态")
    biz_type: str | None = Field(default=None, description="类型")
    event_time: DateTime | None = Field(default=None, description="时间")
    source_system: str = Field(description="来源系统")
    import_no: str = Field(description="导入批次号")
    line_no: int = Field(description="文件行号")
    detail: dict[str, str] = Field(description="其余列（原样，敏感号码脱敏）")


class HistSearchReply(Reply):
    summary: HistSummary = Field(description="历史摘要")
    list: builtins.list[HistItem] = Field(description="明细")
    total: int = Field(description="明细总数")
    page_no: int
    page_size: int


class MigrationVerifyRequest(Model):
    """扩展：迁移验收对账：汇总对账 + 明细追溯."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"objectType": "BILL", "periodFrom": "2025-01", "periodTo": "2025-12"},
                {"objectType": "COLLECTION", "periodFrom": "2025-01", "periodTo": "2025-03", "deptId": 100},
            ]
        }
    )

    object_type: VerifiableType = Field(description="对象类型：BILL 开账、COLLECTION 收费、INVOICE 发票")
    period_from: BillPeriod = Field(description="账期起（收费、发票按交易/申请日所在月份）")
    period_to: BillPeriod = Field(description="账期止")
    dept_id: Id | None = Field(default=None, description="营业所（含下级）")
    import_no: Annotated[str, Field(min_length=1, max_length=40)] | None = Field(
        default=None, description="只核对该导入批次的原系统记录"
    )
    max_diff_rows: int = Field(default=200, ge=1, le=5000, description="差异明细最多返回行数")

    def command(self) -> MigrationVerify:
        return MigrationVerify(
            self.object_type,
            self.period_from,
            self.period_to,
            self.dept_id,
            self.import_no,
            self.max_diff_rows,
        )


class VerifyTotal(Reply):
    legacy_count: int = Field(description="原系统笔数")
    legacy_amount: Money = Field(description="原系统金额")
    new_count: int = Field(description="新系统笔数")
    new_amount: Money = Field(description="新系统金额")
    count_diff: int = Field(description="笔数差（新 - 原）")
    amount_diff: Money = Field(description="金额差（新 - 原）")
    matched: bool = Field(description="是否一致（笔数、金额相同且无差异明细）")


class VerifyGroup(Reply):
    period: str = Field(description="账期")
    dept_id: int | None = Field(default=None, description="营业所")
    channel: str | None = Field(default=None, description="渠道（收费核对）")
    legacy_count: int
    legacy_amount: Money
    new_count: int
    new_amount: Money
    count_diff: int
    amount_diff: Money
    matched: bool


class VerifyDiff(Reply):
    diff_types: list[
        Literal[
            "MISSING_IN_NEW",
            "MISSING_IN_LEGACY",
            "AMOUNT_MISMATCH",
            "STATUS_MISMATCH",
            "CUSTOMER_MISMATCH",
            "PERIOD_MISMATCH",
        ]
    ] = Field(description="差异类型")
    legacy_no: str | None = Field(default=None, description="原系统标识")
    legacy_batch_no: str | None = Field(default=None, description="原批次号")
    line_no: int | None = Field(default=None, description="导入文件行号")
    new_no: str | None = Field(default=None, description="新系统业务单号")
    new_id: int | None = Field(default=None, description="新系统对象标识")
    legacy_cust_code: str | None = None
    new_cust_code: str | None = None
    legacy_period: str | None = None
    new_period: str | None = None
    legacy_dept_id: int | None = None
    new_dept_id: int | None = None
    legacy_amount: Money | None = None
    new_amount: Money | None = None
    legacy_status: str | None = None
    legacy_status_text: str | None = None
    new_status: str | None = None


class MigrationVerifyReply(Reply):
    object_type: str = Field(description="对象类型")
    family_ids: list[str] = Field(description="挂靠接口族")
    period_from: str
    period_to: str
    dept_id: int | None = None
    import_no: str | None = None
    total: VerifyTotal = Field(description="汇总对账")
    summary_rows: list[VerifyGroup] = Field(description="按账期、营业所（收费另按渠道）的笔数与金额")
    diff_rows: list[VerifyDiff] = Field(description="差异明细（可追溯原/新标识）")
    diff_truncated: bool = Field(description="差异明细是否超过 maxDiffRows 被截断")
