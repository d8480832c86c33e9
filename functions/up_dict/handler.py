"""IF-UP-004 参数字典接口: dictionaries and parameters."""

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Query

from waterrev.api import lambda_handler, new_app, request_context
from waterrev.envelope import ok
from waterrev.platform import dicts

app = new_app()


@app.get("/admin-api/system/dict-data/simple-list")
def dict_data(dict_type: Annotated[str | None, Query(alias="dictType", max_length=100)] = None) -> dict:
    return ok(dicts.dict_data(dict_type))


@app.get("/admin-api/system/param/get")
def parameter(key: Annotated[str, Query(min_length=1, max_length=100)]) -> dict:
    return ok(dicts.parameter(key, request_context(app).principal.dept_id))


handler = lambda_handler(app)
