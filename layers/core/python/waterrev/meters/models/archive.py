"""IF-METER-001 edge models: a meter's archive."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from waterrev.fields import DateStr, DateTime, Decimal4, Reply


class ArchiveCustomer(Reply):
    cust_id: int = Field(description="客户 ID")
    cust_code: str = Field(description="客户编号")
    cust_name: str = Field(description="客户名称")
    mobile: str | None = Field(description="手机号（脱敏）")
    bind_status: str = Field(description="表户关系状态 ACTIVE、REMOVED")
    bind_date: DateStr = Field(description="装表 / 关联日期")


class ArchiveReading(Reply):
    reading_id: int = Field(description="读数 ID")
    bill_period: str = Field(description="账期")
    read_time: DateTime = Field(description="抄表时间")
    previous_reading: Decimal4 = Field(description="上次读数")
    current_reading: Decimal4 = Field(description="本次读数")
    usage_amount: Decimal4 = Field(description="用量")
    read_type: str = Field(description="抄表方式")
    status: str = Field(description="读数状态")


class ArchiveWorkOrder(Reply):
    work_order_no: str = Field(description="工单号")
    order_type: str = Field(description="工单类型 CHANGE、MOVE、CALIBRATE、REPAIR")
    order_status: str = Field(description="工单状态")
    reason: str = Field(description="原因")
    process_id: int | None = Field(description="来源业务办理单")
    new_meter_id: int | None = Field(description="换表的新表 ID")
    create_time: DateTime = Field(description="创建时间")
    finish_time: DateTime | None = Field(description="完成时间")


class ArchiveCertificate(Reply):
    certificate_no: str = Field(description="检定证书编号")
    verify_result: str = Field(description="检定结论 PASS、FAIL")
    verify_date: DateStr = Field(description="检定日期")
    valid_until: DateStr | None = Field(description="有效期至")
    agency: str | None = Field(description="检定机构")


class ArchiveEvent(Reply):
    event: str = Field(description="事件")
    time: DateTime = Field(description="时间")
    detail: dict[str, Any] = Field(description="详情")


class ArchiveReply(Reply):
    """IF-METER-001 响应参数."""

    id: int = Field(description="水表主键 ID")
    code: str = Field(description="水表编号")
    meter_status: str = Field(description="水表状态 ACTIVE、STOPPED、REMOVED")
    model_code: str | None = Field(description="型号编码")
    caliber_code: str = Field(description="口径编码")
    range_code: str | None = Field(description="量程编码")
    install_address: str | None = Field(description="安装地址")
    last_reading: Decimal4 = Field(description="最近有效读数")
    meter_type: str = Field(description="扩展：水表类型 MECHANICAL、IOT")
    stock_status: str | None = Field(
        description="扩展：库存状态 IN_STOCK、ISSUED、INSTALLED、REMOVED、SCRAPPED"
    )
    warehouse_code: str | None = Field(description="扩展：仓库编码")
    install_date: DateStr | None = Field(description="扩展：安装日期")
    last_read_time: DateTime | None = Field(description="扩展：最近有效读数时间")
    customer: ArchiveCustomer | None = Field(description="扩展：用水客户（queryType status、lifeCycle、all）")
    readings: list[ArchiveReading] | None = Field(description="扩展：近期读数（lifeCycle、all）")
    work_orders: list[ArchiveWorkOrder] | None = Field(description="扩展：表务工单（lifeCycle、all）")
    certificates: list[ArchiveCertificate] | None = Field(description="扩展：检定证书（lifeCycle、all）")
    life_cycle: list[ArchiveEvent] | None = Field(description="扩展：生命周期事件（lifeCycle、all）")
