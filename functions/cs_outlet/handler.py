"""IF-CS-005 网点与业务办理接口: outlets by district, business type and "open now", with hours, phone,
address, coordinates, distance, services and the appointment entry; the business types; maintenance."""

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Path, Query

from waterrev.api import doc, lambda_handler, new_app, request_context
from waterrev.envelope import ok
from waterrev.errors import ErrorCode
from waterrev.service import outlets
from waterrev.service.commands import OutletSearch
from waterrev.service.models.outlet import BusinessTypeItem, OutletItem, OutletPage, SaveOutletRequest
from waterrev.service.models.process import BusinessType

app = new_app()
Longitude = Annotated[
    float | None, Query(ge=-180, le=180, description="当前位置经度（与 latitude 同时提供）")
]
Latitude = Annotated[float | None, Query(ge=-90, le=90, description="当前位置纬度")]


def _search(
    district: str | None,
    business_type_code: str | None,
    open_now: bool,
    longitude: float | None,
    latitude: float | None,
    keyword: str | None,
    page_no: int,
    page_size: int,
) -> OutletSearch:
    return OutletSearch(
        district, business_type_code, open_now, longitude, latitude, keyword, page_no, page_size
    )


@app.get(
    "/app-api/customer/outlet/page",
    **doc(OutletPage, summary="营业网点查询：按区、可办事项、是否营业中筛选，给定位置时按距离排序"),
)
def page(
    district: Annotated[str | None, Query(max_length=32, description="所在区")] = None,
    business_type_code: Annotated[
        BusinessType | None, Query(alias="businessTypeCode", description="可办事项")
    ] = None,
    open_now: Annotated[bool, Query(alias="openNow", description="只看当前营业中的网点")] = False,
    longitude: Longitude = None,
    latitude: Latitude = None,
    keyword: Annotated[str | None, Query(max_length=50, description="名称或地址关键字")] = None,
    page_no: Annotated[int, Query(alias="pageNo", ge=1, le=10000, description="页码")] = 1,
    page_size: Annotated[int, Query(alias="pageSize", ge=1, le=50, description="每页数量")] = 10,
) -> dict:
    q = _search(district, business_type_code, open_now, longitude, latitude, keyword, page_no, page_size)
    return ok(outlets.search(request_context(app), q))


@app.get(
    "/app-api/customer/outlet/business-types",
    **doc(list[BusinessTypeItem], summary="可办事项：业务类型、是否可线上办理、所需附件"),
)
def business_types() -> dict:
    return ok(outlets.business_types(request_context(app)))


@app.get(
    "/app-api/customer/outlet/<outletCode>",
    **doc(
        OutletItem, ErrorCode.NOT_FOUND, summary="网点详情（营业时间、电话、地址、坐标、可办事项、预约入口）"
    ),
)
def detail(
    outlet_code: Annotated[
        str, Path(alias="outletCode", min_length=1, max_length=32, description="网点编码")
    ],
    longitude: Longitude = None,
    latitude: Latitude = None,
) -> dict:
    return ok(outlets.get(request_context(app), outlet_code, longitude, latitude))


@app.get(
    "/admin-api/customer/outlet/page",
    **doc(OutletPage, summary="网点分页（后台，含已关闭网点）"),
)
def admin_page(
    district: Annotated[str | None, Query(max_length=32, description="所在区")] = None,
    keyword: Annotated[str | None, Query(max_length=50, description="名称或地址关键字")] = None,
    page_no: Annotated[int, Query(alias="pageNo", ge=1, le=10000, description="页码")] = 1,
    page_size: Annotated[int, Query(alias="pageSize", ge=1, le=100, description="每页数量")] = 10,
) -> dict:
    q = _search(district, None, False, None, None, keyword, page_no, page_size)
    return ok(outlets.search(request_context(app), q, all_status=True))


@app.post(
    "/admin-api/customer/outlet/save",
    **doc(
        OutletItem,
        ErrorCode.NOT_FOUND,
        summary="网点维护：按编码新增或修改（营业时间、坐标、可办事项、预约入口、状态）",
    ),
)
def save(body: SaveOutletRequest) -> dict:
    return ok(outlets.save(request_context(app), body.command()))


handler = lambda_handler(app)
