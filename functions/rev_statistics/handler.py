"""IF-REV-010 统计查询接口: a theme's indicators (query) and their XLSX export; and, as extensions of the
same read-only query family, the history queries and migration verification (历史查询与迁移校验接口口径:
each record names the seed's interface family it belongs to, docs/MIGRATION.md)."""

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Query

from waterrev.api import doc, lambda_handler, new_app, request_context
from waterrev.envelope import ok
from waterrev.errors import ErrorCode
from waterrev.history import load as hist_load
from waterrev.history import search as hist_search
from waterrev.history import verify as hist_verify
from waterrev.history.models.history import (
    HistImportPage,
    HistImportReply,
    HistImportRequest,
    HistSearchReply,
    HistSearchRequest,
    MigrationVerifyReply,
    MigrationVerifyRequest,
    ObjectType,
)
from waterrev.statistics import export as stat_export
from waterrev.statistics import query as stat_query
from waterrev.statistics.models.query import ExportFile, StatQueryReply, StatQueryRequest

app = new_app()


@app.post(
    "/admin-api/revenue/statistics/query",
    **doc(
        StatQueryReply,
        ErrorCode.NOT_FOUND,
        ErrorCode.CUSTOMER_NOT_FOUND_OR_STOPPED,
        summary="统计查询",
        description="主题 + 维度 + 指标，限于调用人的数据权限；exportFlag 为 true 时同时导出（需要导出权限）。",
    ),
)
def query(body: StatQueryRequest) -> dict:
    ctx = request_context(app)
    cmd = body.command()
    reply = stat_query.run(ctx, cmd)
    if cmd.export_flag:
        reply["exportFile"] = stat_export.export(ctx, cmd)
    return ok(reply)


@app.post(
    "/admin-api/revenue/statistics/export",
    **doc(
        ExportFile,
        ErrorCode.NOT_FOUND,
        ErrorCode.CUSTOMER_NOT_FOUND_OR_STOPPED,
        summary="统计导出",
        description="与查询同一口径与数据权限，写成 XLSX（按期间分组时附趋势图），返回限时下载链接；需要导出权限，留痕。",
    ),
)
def export(body: StatQueryRequest) -> dict:
    return ok(stat_export.export(request_context(app), body.command()))


@app.post(
    "/admin-api/revenue/history/query",
    **doc(
        HistSearchReply,
        ErrorCode.NOT_FOUND,
        summary="历史查询（扩展）",
        description="原系统对象（账单、收费、调整、发票、催缴、业务办理、表务、配置）：历史摘要 + 明细，原/新标识映射，"
        "证件号与手机号按完整值检索、回复脱敏；只读，限于数据权限。",
    ),
)
def history_query(body: HistSearchRequest) -> dict:
    return ok(hist_search.search(request_context(app), body.command()))


@app.post(
    "/admin-api/revenue/migration/import",
    **doc(
        HistImportReply,
        ErrorCode.CONFLICT,
        summary="迁移数据导入（扩展）",
        description="一份原系统 CSV（docs/MIGRATION.md 的版式）载入历史表并建立原/新标识映射；整份校验，有错不写；"
        "同一文件重复提交返回首次导入；需要全部数据权限。",
    ),
)
def migration_import(body: HistImportRequest) -> dict:
    return ok(hist_load.import_csv(request_context(app), body.command()))


@app.get(
    "/admin-api/revenue/migration/import/page",
    **doc(HistImportPage, summary="迁移数据导入批次（扩展）"),
)
def migration_import_page(
    object_type: Annotated[ObjectType | None, Query(alias="objectType", description="对象类型")] = None,
    page_no: Annotated[int, Query(alias="pageNo", ge=1, le=10000)] = 1,
    page_size: Annotated[int, Query(alias="pageSize", ge=1, le=100)] = 10,
) -> dict:
    return ok(hist_load.page_imports(request_context(app), object_type, page_no, page_size))


@app.post(
    "/admin-api/revenue/migration/verify",
    **doc(
        MigrationVerifyReply,
        ErrorCode.NOT_FOUND,
        summary="迁移验收对账（扩展）",
        description="原系统记录与新系统对象按账期、营业所（收费另按渠道）汇总笔数与金额，并列出差异明细（缺失、金额、状态、"
        "客户、账期不一致），可按原/新标识追溯；只读，限于数据权限。",
    ),
)
def migration_verify(body: MigrationVerifyRequest) -> dict:
    return ok(hist_verify.verify(request_context(app), body.command()))


handler = lambda_handler(app)
