"""IF-REV-012 业务参数配置接口: versioned price templates and business parameters."""

from typing import Annotated, Literal

from aws_lambda_powertools.event_handler.openapi.params import Query

from waterrev.api import doc, lambda_handler, new_app, request_context
from waterrev.envelope import ok
from waterrev.errors import ErrorCode
from waterrev.pricing import config as pricing
from waterrev.pricing.commands import ConfigCommand
from waterrev.pricing.models import ConfigItem, ConfigReply, ConfigRequest

app = new_app()


@app.get(
    "/admin-api/revenue/parameter/config",
    **doc(list[ConfigItem], summary="查询配置（全部版本，新版本在前）"),
)
def query(
    config_type: Annotated[
        Literal["PRICE", "RULE", "PAGE", "NOTICE"],
        Query(alias="configType", description="配置类型：PRICE、RULE、PAGE、NOTICE"),
    ],
    config_code: Annotated[
        str | None, Query(alias="configCode", max_length=100, description="配置编码（缺省为该类型全部）")
    ] = None,
) -> dict:
    return ok(pricing.query(request_context(app), config_type, config_code))


@app.post(
    "/admin-api/revenue/parameter/config",
    **doc(
        ConfigReply,
        ErrorCode.NOT_FOUND,
        ErrorCode.CONFLICT,
        summary="查询、新建或修改配置（价格模板版本的草稿与发布、业务参数）",
    ),
)
def save(body: ConfigRequest) -> dict:
    command = ConfigCommand(
        action=body.action,
        config_type=body.config_type,
        config_code=body.config_code,
        config_value=body.config_value,
        config_version=body.config_version,
        effect_status=body.effect_status,
        dept_id=body.dept_id,
        effective_date=body.effective_date,
        operator_id=body.operator_id,
    )
    return ok(pricing.config(request_context(app), command))


handler = lambda_handler(app)
