"""IF-REV-012 业务参数配置接口: versioned price templates and business parameters."""

from typing import Annotated, Literal

from aws_lambda_powertools.event_handler.openapi.params import Query

from waterrev.api import lambda_handler, new_app, request_context
from waterrev.envelope import ok
from waterrev.pricing import config as pricing
from waterrev.pricing.models import ConfigRequest

app = new_app()


@app.get("/admin-api/revenue/parameter/config")
def query(
    config_type: Annotated[Literal["PRICE", "RULE", "PAGE", "NOTICE"], Query(alias="configType")],
    config_code: Annotated[str | None, Query(alias="configCode", max_length=100)] = None,
) -> dict:
    return ok(pricing.query(request_context(app), config_type, config_code))


@app.post("/admin-api/revenue/parameter/config")
def save(body: ConfigRequest) -> dict:
    return ok(pricing.config(request_context(app), body))


handler = lambda_handler(app)
