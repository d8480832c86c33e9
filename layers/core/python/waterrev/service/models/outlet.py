"""IF-CS-005 edge models: outlets, their services and hours, and their maintenance."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import ConfigDict, Field

from waterrev.fields import Model, Page, Reply
from waterrev.service import commands


class OpeningHours(Model):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"weekdays": [1, 2, 3, 4, 5], "open": "08:30", "close": "17:30"}]}
    )

    weekdays: list[int] = Field(min_length=1, max_length=7, description="星期：1（周一）到 7（周日）")
    open: str = Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$", description="开门时间 HH:MM（北京时间）")
    close: str = Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$", description="关门时间 HH:MM")


class OpeningHoursReply(Reply):
    weekdays: list[int] = Field(description="星期：1（周一）到 7（周日）")
    open: str = Field(description="开门时间 HH:MM（北京时间）")
    close: str = Field(description="关门时间 HH:MM")


class OutletService(Reply):
    business_type_code: str = Field(description="业务类型编码")
    business_type_name: str = Field(description="业务类型名称")
    online_available: bool = Field(description="是否可线上办理（IF-CS-006）")


class OutletItem(Reply):
    """网点信息."""

    outlet_id: int = Field(description="网点 ID")
    outlet_code: str = Field(description="网点编码")
    outlet_name: str = Field(description="网点名称")
    district: str = Field(description="所在区")
    address: str = Field(description="地址")
    phone: str = Field(description="联系电话")
    longitude: str = Field(description="经度（六位小数）")
    latitude: str = Field(description="纬度（六位小数）")
    opening_hours: list[OpeningHoursReply] = Field(description="营业时间")
    open_now: bool = Field(description="当前是否营业")
    distance_meters: int | None = Field(description="距给定位置的距离（米），未给位置时为空")
    services: list[OutletService] = Field(description="可办事项")
    appointment_url: str | None = Field(description="预约入口")
    outlet_status: Literal["OPEN", "CLOSED"] = Field(description="网点状态")


class OutletPage(Page[OutletItem]):
    pass


class BusinessTypeItem(Reply):
    business_type_code: str = Field(description="业务类型编码")
    business_type_name: str = Field(description="业务类型名称")
    online_available: bool = Field(description="是否可线上办理")
    min_attachments: int = Field(description="线上申请至少需要的附件数")
    description: str | None = Field(description="办事指引")


class SaveOutletRequest(Model):
    """扩展：网点维护（按编码新增或修改）."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "code": "WD-GL-01",
                    "name": "鼓楼营业厅",
                    "district": "鼓楼区",
                    "address": "鼓楼区五四路 1 号",
                    "phone": "0591-87000001",
                    "longitude": 119.296494,
                    "latitude": 26.074508,
                    "openingHours": [{"weekdays": [1, 2, 3, 4, 5], "open": "08:30", "close": "17:30"}],
                    "businessTypeCodes": ["RENAME", "TRANSFER", "METER_CHANGE"],
                    "appointmentUrl": "https://example.com/appointment/WD-GL-01",
                }
            ]
        }
    )

    code: str = Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_-]+$", description="网点编码")
    name: str = Field(min_length=1, max_length=100, description="网点名称")
    dept_id: int | None = Field(default=None, gt=0, le=2**63 - 1, description="所属营业所")
    district: str = Field(min_length=1, max_length=32, description="所在区")
    address: str = Field(min_length=1, max_length=255, description="地址")
    phone: str = Field(min_length=3, max_length=32, pattern=r"^[0-9+() -]+$", description="联系电话")
    longitude: float = Field(ge=-180, le=180, description="经度")
    latitude: float = Field(ge=-90, le=90, description="纬度")
    opening_hours: list[OpeningHours] = Field(max_length=14, description="营业时间")
    business_type_codes: list[Annotated[str, Field(max_length=32)]] = Field(
        max_length=50, description="可办事项（业务类型编码）"
    )
    appointment_url: str | None = Field(
        default=None, max_length=255, pattern=r"^https?://", description="预约入口"
    )
    status: Literal["OPEN", "CLOSED"] = Field(default="OPEN", description="网点状态")
    remark: str | None = Field(default=None, max_length=255, description="备注")

    def command(self) -> commands.SaveOutlet:
        return commands.SaveOutlet(
            self.code,
            self.name,
            self.district,
            self.address,
            self.phone,
            self.longitude,
            self.latitude,
            tuple(h.model_dump() for h in self.opening_hours),
            tuple(self.business_type_codes),
            self.dept_id,
            self.appointment_url,
            self.status,
            self.remark,
        )
