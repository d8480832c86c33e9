"""IF-UP-004 参数字典接口: dictionaries and parameters."""

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Query

from waterrev.api import doc, lambda_handler, new_app, request_context
from waterrev.envelope import ok
from waterrev.errors import ErrorCode
from waterrev.platform import dicts
from waterrev.platform.models.dicts import DictItem, ParameterReply

app = new_app()


@app.get(
    "/admin-api/system/dict-data/simple-list",
    **doc(list[DictItem], summary="字典数据（可按字典类型筛选）"),
)
def dict_data(
    dict_type: Annotated[str | None, Query(alias="dictType", max_length=100, description="字典类型")] = None,
) -> dict:
    return ok(dicts.dict_data(dict_type))


@app.get(
    "/admin-api/system/param/get",
    **doc(ParameterReply, ErrorCode.NOT_FOUND, summary="按参数编码查询当前生效的参数值"),
)
def parameter(
    key: Annotated[str, Query(min_length=1, max_length=100, description="参数编码 (configCode)")],
) -> dict:
    return ok(dicts.parameter(key, request_context(app).principal.dept_id))


handler = lambda_handler(app)
