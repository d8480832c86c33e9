"""IF-REV-003 / IF-REV-004 / IF-METER-004 / IF-EXT-009 edge models: requests and replies, with the seed's
field names. The use cases take the commands in commands.py, never these."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal, Self

from pydantic import ConfigDict, Field, model_validator

from waterrev.fields import BIGINT_MAX, BillPeriod, Decimal4, LocalDateTime, Model, Reply
from waterrev.metering.commands import IotReading

ReadCycle = Literal["MONTHLY", "ODD_MONTH", "EVEN_MONTH", "QUARTERLY"]
ValidateStatus = Literal["PASS", "WARN", "REJECT"]
NextAction = Literal["BILLING", "RECHECK", "MANUAL_REVIEW"]
AcceptStatus = Literal["SUCCESS", "WARN", "REJECT"]
DeviceStatus = Literal["ONLINE", "OFFLINE", "ALARM"]
SourceSystem = Literal["IOT", "MDC"]
PositiveId = Annotated[int, Field(gt=0, le=BIGINT_MAX)]


ReadingValue = Annotated[Decimal, Field(ge=0, max_digits=12, decimal_places=2)]  # NUMERIC(12,2)


# ---- IF-REV-003 抄表任务下发 --------------------------------------------------------------------------
class MeterBookSave(Model):
    """册本维护：按编码新建或修改册本，并把水表归入该册本。"""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "code": "GL-01",
                    "name": "鼓楼一册",
                    "areaCode": "GL-A1",
                    "deptId": 2,
                    "readCycle": "MONTHLY",
                    "readerId": 3,
                    "meterIds": [2001, 2002],
                }
            ]
        }
    )

    code: str = Field(pattern=r"^[A-Za-z0-9-]{2,32}$", description="册本编码（biz_meter_book.code）")
    name: str = Field(min_length=1, max_length=100, description="册本名称")
    area_code: str = Field(min_length=1, max_length=32, description="片区编码")
    dept_id: PositiveId = Field(description="所属营业所（system_dept.id）")
    read_cycle: ReadCycle = Field(description="抄表周期：每月、单月、双月、每季")
    reader_id: PositiveId | None = Field(default=None, description="抄表员（system_users.id）")
    meter_ids: list[PositiveId] = Field(
        default_factory=list, max_length=5000, description="归入本册的水表 ID"
    )


class TaskGenerate(Model):
    """抄表任务下发：按册本、片区、抄表周期为一个账期生成任务。"""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"billPeriod": "2026-03", "bookIds": [11, 12], "readingBatchNo": "RB202603-01"},
                {"billPeriod": "2026-03", "areaCode": "GL-A1", "readCycle": "MONTHLY"},
            ]
        }
    )

    bill_period: BillPeriod = Field(description="账期，如 2026-03")
    book_ids: list[PositiveId] = Field(default_factory=list, max_length=1000, description="册本 ID")
    area_code: str | None = Field(default=None, max_length=32, description="片区编码：该片区的全部册本")
    read_cycle: ReadCycle | None = Field(
        default=None,
        description="抄表周期：仅该周期的册本；单独填写时为数据范围内该周期的全部册本",
    )
    reading_batch_no: str | None = Field(
        default=None, pattern=r"^[A-Za-z0-9-]{1,40}$", description="抄表批次号（IF-REV-005 可按批次开账）"
    )

    @model_validator(mode="after")
    def _scope(self) -> Self:
        if not self.book_ids and not self.area_code and not self.read_cycle:
            raise ValueError("bookIds、areaCode 与 readCycle 至少填写一项")
        return self


class BookReply(Reply):
    book_id: int = Field(description="册本 ID（biz_meter_book.id）")
    code: str = Field(description="册本编码")
    meter_count: int = Field(description="本册水表数")


class TaskGenerateReply(Reply):
    bill_period: str = Field(description="账期")
    created_count: int = Field(description="本次新生成的任务数")
    task_count: int = Field(description="所选册本该账期的任务总数（含以前生成的）")
    skipped_books: list[str] = Field(description="本账期不在抄表周期内而跳过的册本编码")
    meter_read_ids: list[int] = Field(description="本次新生成的抄表任务 ID（最多 1000 个）")


# ---- IF-REV-004 抄表数据提交 --------------------------------------------------------------------------
class ReadingSubmit(Model):
    """IF-REV-004 请求参数。"""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "meterReadId": 1001,
                    "meterId": 2001,
                    "readTime": "2026-03-11 09:30:00",
                    "currentReading": "156.32",
                    "readType": "MANUAL",
                    "photoList": ["file-001", "file-002"],
                    "gps": "119.2965,26.0745",
                    "remark": "现场抄表正常",
                }
            ]
        }
    )

    meter_read_id: PositiveId = Field(description="抄表任务 ID（biz_meter_read.id）")
    meter_id: PositiveId = Field(description="水表 ID（biz_meter.id）")
    read_time: LocalDateTime = Field(description="抄表时间")
    current_reading: ReadingValue = Field(description="本次读数")
    read_type: Literal["MANUAL", "IOT", "IMPORT"] = Field(description="抄表方式：MANUAL、IOT、IMPORT")
    usage_amount: ReadingValue | None = Field(
        default=None,
        description="本次用量，可由系统自动计算（与系统计算不一致时以系统为准，并在 msg 中说明）",
    )
    photo_list: list[Annotated[str, Field(min_length=1, max_length=128)]] = Field(
        default_factory=list, max_length=20, description="表盘照片或现场图片文件标识"
    )
    gps: str | None = Field(
        default=None,
        max_length=64,
        pattern=r"^-?\d{1,3}\.\d+,-?\d{1,3}\.\d+$",
        description="现场坐标：经度,纬度",
    )
    remark: str | None = Field(default=None, max_length=255, description="异常说明或现场备注")
    abnormal_flag: bool = Field(default=False, description="是否标记异常（标记后进入人工复核）")


class EstimateRequest(Model):
    """估抄：无法抄见的水表按近三期均量估算。"""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"meterReadId": 1001, "reason": "表井积水无法抄见"}]}
    )

    meter_read_id: PositiveId = Field(description="抄表任务 ID")
    reason: str = Field(min_length=1, max_length=255, description="估抄原因")


class ReviewRequest(Model):
    """复核：待复核读数（WARN）或低于上次读数的异常审批，二者填且仅填一项。"""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"readingId": 5001, "approve": True, "remark": "核实为用水量增加"},
                {"reviewId": 301, "approve": True, "remark": "换表后读数归零"},
            ]
        }
    )

    reading_id: PositiveId | None = Field(default=None, description="待复核读数 ID（WARN 读数的复核）")
    review_id: PositiveId | None = Field(default=None, description="异常审批单 ID（低于上次读数的审批）")
    approve: bool = Field(description="true 通过，false 驳回")
    remark: str = Field(min_length=1, max_length=255, description="复核意见")

    @model_validator(mode="after")
    def _one(self) -> Self:
        if (self.reading_id is None) == (self.review_id is None):
            raise ValueError("readingId 与 reviewId 须且仅须填写一项")
        return self


class ReadingReply(Reply):
    """IF-REV-004 响应参数 (readingId ... msg) and our additions. REJECT is answered as the error
    1_002_002_002 (its data carries validateStatus REJECT and nextAction RECHECK)."""

    reading_id: int = Field(description="抄表数据主键（biz_reading_data.id）")
    meter_read_id: int = Field(description="抄表任务 ID")
    validate_status: ValidateStatus = Field(description="校验状态：PASS、WARN、REJECT")
    abnormal_flag: bool = Field(description="是否识别为异常")
    next_action: NextAction = Field(description="后续动作：BILLING、RECHECK、MANUAL_REVIEW")
    msg: str = Field(description="处理说明")
    usage_amount: Decimal4 = Field(description="扩展：系统计算的本次用量")
    previous_reading: Decimal4 = Field(description="扩展：上次有效读数")
    estimated: bool = Field(description="扩展：是否为估抄")


class ReviewReply(Reply):
    reading_id: int | None = Field(description="复核的读数 ID（异常审批时为 null）")
    review_id: int | None = Field(description="异常审批单 ID（读数复核时为 null）")
    status: Literal["VALID", "REJECTED", "APPROVED"] = Field(
        description="读数复核：VALID（可开账）或 REJECTED；异常审批：APPROVED 或 REJECTED"
    )
    next_action: NextAction = Field(
        description="BILLING（读数可开账）或 RECHECK（须重新抄表；审批通过后按审批读数重新提交）"
    )


# ---- IF-METER-004 集抄数据接收 / IF-EXT-009 集抄数据接入 ------------------------------------------------
_IOT_EXAMPLE: dict[str, Any] = {
    "meterCode": "WM-0001",
    "readTime": "2026-03-11 08:00:00",
    "currentReading": "168.40",
    "deviceStatus": "ONLINE",
    "alarmList": [],
    "fileSerialNo": "IOT-20260311-0001",
    "sourceSystem": "IOT",
}


class IotReadingReceive(Model):
    """IF-METER-004 请求参数：一条远传读数及设备状态、告警。"""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                _IOT_EXAMPLE,
                {
                    "meterCode": "WM-0002",
                    "readTime": "2026-03-11T08:00:00+08:00",
                    "currentReading": "73.05",
                    "deviceStatus": "ALARM",
                    "alarmList": ["LOW_BATTERY"],
                    "sourceSystem": "MDC",
                    "batteryLevel": "9.5",
                    "signal": -97,
                },
            ]
        }
    )

    meter_code: str = Field(min_length=1, max_length=32, description="水表编号（biz_meter.meter_no）")
    read_time: LocalDateTime = Field(description="采集时间")
    current_reading: ReadingValue = Field(description="当前读数")
    device_status: DeviceStatus = Field(default="ONLINE", description="设备状态：ONLINE、OFFLINE、ALARM")
    alarm_list: list[Annotated[str, Field(pattern=r"^[A-Za-z0-9_.\-]{1,32}$")]] = Field(
        default_factory=list, max_length=20, description="告警编码列表（有告警的读数进入人工复核）"
    )
    file_serial_no: str | None = Field(
        default=None, pattern=r"^[A-Za-z0-9_\-]{1,64}$", description="上送批次或文件序列号（幂等辅助键）"
    )
    source_system: SourceSystem = Field(description="来源系统：IOT、MDC")
    battery_level: Decimal | None = Field(
        default=None, ge=0, le=100, max_digits=5, decimal_places=2, description="扩展：电池电量（%）"
    )
    signal: int | None = Field(default=None, ge=-200, le=100, description="扩展：信号强度（dBm）")

    def command(self) -> IotReading:
        return IotReading(
            source_system=self.source_system,
            meter_code=self.meter_code,
            read_time=self.read_time,
            current_reading=self.current_reading,
            device_status=self.device_status,
            alarm_list=tuple(self.alarm_list),
            file_serial_no=self.file_serial_no,
            battery_level=self.battery_level,
            signal=self.signal,
        )


class IotReadingBatch(Model):
    """扩展：批量上送（后台批量接收与 IF-EXT-009 平台推送），每条读数即 IF-METER-004 的请求参数。"""

    model_config = ConfigDict(json_schema_extra={"examples": [{"readings": [_IOT_EXAMPLE]}]})

    readings: list[IotReadingReceive] = Field(min_length=1, max_length=1000, description="读数列表，逐条处理")


class IotReadingReply(Reply):
    """IF-METER-004 响应参数 (readingId ... msg) and our additions."""

    reading_id: int | None = Field(description="读数记录 ID（biz_reading_data.id）；REJECT 时为 null")
    meter_read_id: int | None = Field(description="对应抄表任务 ID；未找到任务时为 null")
    accept_status: AcceptStatus = Field(description="接收状态：SUCCESS、WARN、REJECT")
    abnormal_flag: bool = Field(description="是否异常")
    next_action: NextAction = Field(description="后续动作：BILLING、RECHECK、MANUAL_REVIEW")
    msg: str = Field(description="处理说明")
    meter_code: str = Field(description="扩展：请求中的水表编号")
    file_serial_no: str | None = Field(description="扩展：请求中的上送序列号")
    validate_status: ValidateStatus | None = Field(description="扩展：读数校验状态；未校验（拒收）时为 null")
    usage_amount: Decimal4 | None = Field(description="扩展：系统计算的本次用量；未入库时为 null")
    duplicate: bool = Field(description="扩展：true 表示重复上送，返回首次入库的读数")
    error_code: int | None = Field(
        description="扩展：REJECT 的原因码（404 水表不存在、1_002_002_001 无抄表任务、1_002_002_002 低于上次读数）"
    )


class IotBatchItemReply(IotReadingReply):
    index: int = Field(description="扩展：该读数在请求 readings 中的位置（从 0 起）")


class IotBatchReply(Reply):
    """扩展：批量上送的结果，每条读数一个 IF-METER-004 响应。"""

    total: int = Field(description="读数条数")
    success_count: int = Field(description="SUCCESS 条数")
    warn_count: int = Field(description="WARN 条数")
    reject_count: int = Field(description="REJECT 条数")
    result_list: list[IotBatchItemReply] = Field(description="逐条结果，顺序同请求")
