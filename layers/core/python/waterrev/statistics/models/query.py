"""IF-REV-010 统计查询接口 edge models: the seed's request and response fields (请求参数 / 响应参数), ours
marked 扩展."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import ConfigDict, Field

from waterrev.fields import BillPeriod, DateStr, DateTime, Id, Model, Reply
from waterrev.statistics.commands import StatQuery

ThemeCode = Literal["RECEIVABLE", "COLLECTION", "ARREARS", "CUSTOMER", "READING", "INVOICE"]
Dimension = Literal[
    "period",
    "deptId",
    "customerCategory",
    "priceCode",
    "channelCode",
    "status",
    "ageing",
    "invoiceType",
    "custId",
]
Code = Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_\-]+$")]
StatusCode = Annotated[str, Field(min_length=1, max_length=16, pattern=r"^[A-Z_]+$")]


class StatQueryRequest(Model):
    """IF-REV-010 请求参数."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "themeCode": "RECEIVABLE",
                    "dateFrom": "2026-01-01",
                    "dateTo": "2026-12-31",
                    "groupBy": ["period", "deptId"],
                },
                {
                    "themeCode": "COLLECTION",
                    "dateFrom": "2026-10-01",
                    "dateTo": "2026-10-31",
                    "deptId": 100,
                    "channelCode": "WECHAT",
                    "statusSet": ["SUCCESS", "PARTIAL"],
                    "groupBy": ["channelCode"],
                },
                {
                    "themeCode": "ARREARS",
                    "dateFrom": "2025-01-01",
                    "dateTo": "2026-12-31",
                    "groupBy": ["ageing"],
                    "custId": 1,
                },
            ]
        }
    )

    theme_code: ThemeCode = Field(
        description="统计主题编码：RECEIVABLE 应收汇总、COLLECTION 收费与实收（渠道交易）、ARREARS 欠费规模与账龄、"
        "CUSTOMER 客户结构、READING 抄表完成率与异常率、INVOICE 发票状态"
    )
    date_from: dt.date = Field(description="开始日期（按账期的主题取其所在月份起的账期；按日的主题取当日起）")
    date_to: dt.date = Field(description="结束日期（含）")
    bill_period: BillPeriod | None = Field(default=None, description="账期 YYYY-MM")
    dept_id: Id | None = Field(default=None, description="营业所/部门（含下级），须在数据权限内")
    region_code: Annotated[str, Field(max_length=32)] | None = Field(
        default=None, description="片区/区域编码（客户档案尚无片区：传入即提示不支持）"
    )
    customer_category: Code | None = Field(default=None, description="客户类别 (biz_cust.cust_type)")
    price_code: Code | None = Field(default=None, description="扩展：价格类别 (biz_cust.price_code)")
    channel_code: Code | None = Field(default=None, description="收费/交易渠道（仅 COLLECTION）")
    account_id: Id | None = Field(default=None, description="账户标识：只统计该账户的客户")
    cust_id: Id | None = Field(default=None, description="客户标识：只统计该客户")
    status_set: list[StatusCode] = Field(
        default_factory=list, max_length=10, description="状态集合（账单、收费、发票、客户状态，按主题）"
    )
    group_by: list[Dimension] = Field(
        default_factory=list,
        max_length=6,
        description="分组维度集合：period、deptId、customerCategory、priceCode、channelCode、status、ageing、"
        "invoiceType；custId（按客户，读在线业务表，仅 RECEIVABLE / ARREARS / COLLECTION）",
    )
    export_flag: bool = Field(default=False, description="是否导出（需要导出权限；回复带 exportFile）")

    def command(self) -> StatQuery:
        return StatQuery(
            theme_code=self.theme_code,
            date_from=self.date_from,
            date_to=self.date_to,
            bill_period=self.bill_period,
            dept_id=self.dept_id,
            region_code=self.region_code,
            customer_category=self.customer_category,
            price_code=self.price_code,
            channel_code=self.channel_code,
            account_id=self.account_id,
            cust_id=self.cust_id,
            status_set=tuple(self.status_set),
            group_by=tuple(self.group_by),
            export_flag=self.export_flag,
        )


class DimensionSummary(Reply):
    """查询维度摘要: the conditions the result holds for, as applied."""

    date_from: DateStr = Field(description="开始日期")
    date_to: DateStr = Field(description="结束日期")
    bill_period: str | None = Field(default=None, description="账期")
    dept_id: int | None = Field(default=None, description="营业所（含下级）")
    dept_name: str | None = Field(default=None, description="扩展：营业所名称")
    customer_category: str | None = Field(default=None, description="客户类别")
    price_code: str | None = Field(default=None, description="扩展：价格类别")
    channel_code: str | None = Field(default=None, description="渠道")
    cust_id: int | None = Field(default=None, description="客户标识")
    account_id: int | None = Field(default=None, description="账户标识")
    status_set: list[str] | None = Field(default=None, description="状态集合（未传时为主题的默认口径）")
    group_by: list[str] = Field(description="分组维度")
    as_of: DateStr = Field(description="扩展：统计基准日（账龄按此日计算）")
    source: Literal["SUMMARY", "LIVE"] = Field(
        description="扩展：口径来源：SUMMARY 汇总表（与业务同事务维护），LIVE 在线业务表（按客户）"
    )


class IndicatorItem(Reply):
    indicator_code: str = Field(description="指标编码")
    indicator_name: str = Field(description="指标名称")
    indicator_value: str | None = Field(
        description="指标值（金额两位小数，笔数整数，比率为百分数两位小数；无分母时为空）"
    )
    unit: str = Field(description="指标单位")


class GroupRow(Reply):
    """分组结果: the group's dimension values (those grouped by) and its indicators."""

    period: str | None = Field(default=None, description="期间（账期，或交易/申请日所在月份）")
    dept_id: int | None = Field(default=None, description="营业所")
    dept_name: str | None = Field(default=None, description="营业所名称")
    customer_category: str | None = Field(default=None, description="客户类别")
    price_code: str | None = Field(default=None, description="价格类别")
    channel_code: str | None = Field(default=None, description="渠道")
    status: str | None = Field(default=None, description="状态")
    ageing: str | None = Field(default=None, description="账龄段编码")
    ageing_name: str | None = Field(default=None, description="账龄段名称")
    invoice_type: str | None = Field(default=None, description="票据类型")
    cust_id: int | None = Field(default=None, description="客户标识")
    cust_code: str | None = Field(default=None, description="客户编号")
    indicator_list: list[IndicatorItem] = Field(description="该分组的指标结果")


class ExportFile(Reply):
    """扩展：导出文件：一次导出，一个限时下载链接."""

    export_no: str = Field(description="导出编号")
    file_name: str = Field(description="文件名")
    row_count: int = Field(description="分组行数")
    download_url: str = Field(description="限时下载链接（预签名，过期后需重新导出）")
    expire_time: DateTime = Field(description="链接过期时间")


class StatQueryReply(Reply):
    """IF-REV-010 响应参数."""

    theme_code: str = Field(description="统计主题编码")
    theme_name: str = Field(description="统计主题名称")
    dimension_summary: DimensionSummary = Field(description="查询维度摘要")
    indicator_list: list[IndicatorItem] = Field(description="指标结果集合（全部结果的合计）")
    group_rows: list[GroupRow] = Field(description="分组结果集合（未分组时为空）")
    export_allowed: bool = Field(description="是否允许导出（调用人有导出权限）")
    msg: str = Field(description="处理说明")
    export_file: ExportFile | None = Field(default=None, description="扩展：exportFlag 为 true 时的导出文件")
