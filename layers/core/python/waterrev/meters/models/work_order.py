"""IF-METER-002 edge models: work orders."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Literal

from pydantic import ConfigDict, Field

from waterrev.fields import Id, LocalDateTime, Model, Reply
from waterrev.meters import commands


class CreateWorkOrderRequest(Model):
    """扩展：开具表务工单."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"orderType": "CALIBRATE", "meterId": 1, "reason": "周期检定"}]}
    )

    order_type: Literal["CHANGE", "MOVE", "CALIBRATE", "REPAIR"] = Field(
        description="工单类型：换表、移表、校表、维修"
    )
    meter_id: Id = Field(description="水表 ID")
    reason: str = Field(min_length=1, max_length=200, description="原因")
    handler_id: Id | None = Field(default=None, description="经办人")

    def command(self) -> commands.OpenWorkOrder:
        return commands.OpenWorkOrder(self.order_type, self.meter_id, self.reason, self.handler_id)


class HandleWorkOrderRequest(Model):
    """IF-METER-002 工单处理：派工、完工（回填结果）、取消."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "workOrderNo": "GD20260301000001",
                    "action": "COMPLETE",
                    "oldFinalReading": "1234.00",
                    "newMeterId": 2,
                    "newInitialReading": "0.00",
                }
            ]
        }
    )

    work_order_no: str = Field(min_length=1, max_length=32, description="工单号")
    action: Literal["DISPATCH", "COMPLETE", "CANCEL"] = Field(
        description="动作：DISPATCH 派工、COMPLETE 完工、CANCEL 取消"
    )
    handler_id: Id | None = Field(default=None, description="经办人（派工时为装表工）")
    remark: str | None = Field(default=None, max_length=200, description="处理说明")
    old_final_reading: Decimal | None = Field(
        default=None, ge=0, max_digits=12, decimal_places=2, description="换表：旧表止码"
    )
    new_meter_id: Id | None = Field(default=None, description="换表：新表 ID（须已领用出库）")
    new_initial_reading: Decimal | None = Field(
        default=None, ge=0, max_digits=12, decimal_places=2, description="换表：新表起码"
    )
    change_time: LocalDateTime | None = Field(default=None, description="换表：换表时间（默认当前）")
    install_address: str | None = Field(default=None, max_length=255, description="移表：新安装地址")
    certificate_no: str | None = Field(default=None, max_length=64, description="校表：检定证书编号")
    verify_result: Literal["PASS", "FAIL"] | None = Field(default=None, description="校表：检定结论")
    verify_date: dt.date | None = Field(default=None, description="校表：检定日期")
    valid_until: dt.date | None = Field(default=None, description="校表：有效期至")
    agency: str | None = Field(default=None, max_length=100, description="校表：检定机构")

    def command(self) -> commands.HandleWorkOrder:
        return commands.HandleWorkOrder(
            self.work_order_no,
            self.action,
            self.handler_id,
            self.remark,
            self.old_final_reading,
            self.new_meter_id,
            self.new_initial_reading,
            self.change_time,
            self.install_address,
            self.certificate_no,
            self.verify_result,
            self.verify_date,
            self.valid_until,
            self.agency,
        )


class WorkOrderReply(Reply):
    work_order_id: int = Field(description="工单 ID")
    work_order_no: str = Field(description="工单号")
    order_type: str = Field(description="工单类型")
    order_status: Literal["CREATED", "DISPATCHED", "DONE", "CANCELLED"] = Field(description="工单状态")
    meter_id: int = Field(description="水表 ID")
    cust_id: int | None = Field(description="客户 ID")
    process_id: int | None = Field(description="来源业务办理单 ID")
    new_meter_id: int | None = Field(description="换表的新表 ID")
    msg: str = Field(description="处理说明")
