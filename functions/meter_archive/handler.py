"""IF-METER-001 水表档案查询接口: a meter's archive - base data, status, its customer, readings, work
orders, verification certificates and its life cycle."""

from typing import Annotated, Literal

from aws_lambda_powertools.event_handler.openapi.params import Path, Query

from waterrev.api import doc, lambda_handler, new_app, request_context
from waterrev.envelope import ok
from waterrev.errors import ErrorCode
from waterrev.fields import BIGINT_MAX
from waterrev.meters import archive
from waterrev.meters.commands import ArchiveQuery
from waterrev.meters.models.archive import ArchiveReply

app = new_app()
QueryTypeParam = Annotated[
    Literal["base", "status", "lifeCycle", "all"],
    Query(alias="queryType", description="查询类型：base、status、lifeCycle、all（默认 all）"),
]
_HIDDEN = "服务于本人数据范围外客户的水表与不存在的水表同样答 404。"


@app.get(
    "/admin-api/meter/archive/<id>",
    **doc(ArchiveReply, ErrorCode.NOT_FOUND, summary="按水表 ID 查询水表档案", description=_HIDDEN),
)
def by_id(
    meter_id: Annotated[int, Path(alias="id", gt=0, le=BIGINT_MAX, description="水表主键 ID")],
    query_type: QueryTypeParam = "all",
) -> dict:
    return ok(archive.get(request_context(app), ArchiveQuery(meter_id=meter_id, query_type=query_type)))


@app.get(
    "/admin-api/meter/archive/get",
    **doc(ArchiveReply, ErrorCode.NOT_FOUND, summary="按水表编号查询水表档案", description=_HIDDEN),
)
def by_code(
    code: Annotated[str, Query(min_length=1, max_length=32, description="水表编号，与 id 二选一")],
    query_type: QueryTypeParam = "all",
) -> dict:
    return ok(archive.get(request_context(app), ArchiveQuery(code=code, query_type=query_type)))


handler = lambda_handler(app)
