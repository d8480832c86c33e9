"""IF-METER-003 edge models: stock actions."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

from pydantic import ConfigDict, Field

from waterrev.fields import Id, Model, Reply
from waterrev.meters import commands


class NewMeterItem(Model):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"meterNo": "M20260301001", "caliber": "DN20"}]}
    )

    meter_no: str = Field(min_length=1, max_length=32, description="表号")
    caliber: str = Field(min_length=1, max_length=16, description="口径 DN15、DN20 ...")
    model: str | None = Field(default=None, max_length=32, description="型号")
    range_code: str | None = Field(default=None, max_length=16, description="量程编码")
    max_reading: Decimal = Field(
        default=Decimal("99999"), gt=0, max_digits=12, decimal_places=2, description="最大读数"
    )


class StockRequest(Model):
    """IF-METER-003 请求参数."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "action": "OUT",
                    "batchNo": "CK20260301001",
                    "warehouseCode": "WH-01",
                    "meterIds": [1],
                    "operatorId": 1,
                }
            ]
        }
    )

    action: Literal["IN", "OUT", "RETURN", "SCRAP"] = Field(description="动作：IN、OUT、RETURN、SCRAP")
    batch_no: str = Field(min_length=1, max_length=40, description="批次号")
    warehouse_code: str | None = Field(default=None, max_length=32, description="仓库编码（入库、退库必填）")
    meter_ids: list[Id] = Field(max_length=500, description="水表 ID 列表（入库登记新表时可为空列表）")
    remark: str | None = Field(default=None, max_length=200, description="出入库说明")
    operator_id: Id = Field(description="操作人 ID")
    new_meters: list[NewMeterItem] = Field(
        default_factory=list, max_length=500, description="扩展：入库时登记的新表（表号、口径）"
    )

    def command(self) -> commands.StockAction:
        return commands.StockAction(
            self.action,
            self.batch_no,
            self.operator_id,
            tuple(self.meter_ids),
            self.warehouse_code,
            self.remark,
            tuple(
                commands.NewMeter(m.meter_no, m.caliber, m.model, m.range_code, m.max_reading)
                for m in self.new_meters
            ),
        )


class StockLine(Reply):
    meter_id: int = Field(description="水表 ID")
    line_status: Literal["SUCCESS", "FAIL"] = Field(description="本行处理结果")
    reason: str | None = Field(description="失败原因")


class StockReply(Reply):
    """IF-METER-003 响应参数."""

    in_out_id: int = Field(description="出入库主记录 ID")
    batch_no: str = Field(description="批次号")
    action_status: Literal["SUCCESS", "PARTIAL", "FAIL"] = Field(
        description="处理状态：SUCCESS、PARTIAL、FAIL"
    )
    success_count: int = Field(description="成功处理数量")
    fail_count: int = Field(description="失败数量")
    msg: str = Field(description="处理说明")
    action: str = Field(description="扩展：动作")
    warehouse_code: str | None = Field(description="扩展：仓库编码")
    lines: list[StockLine] = Field(description="扩展：逐表结果")


class BalanceItem(Reply):
    warehouse_code: str = Field(description="仓库编码")
    caliber: str = Field(description="口径")
    quantity: int = Field(description="在库数量")


Balance = Annotated[list[BalanceItem], Field(description="库存结余")]
