"""IF-REV-009 发票结果查询接口: a result asked of SYS-008 (and its compensation), and the review of
results that conflicted with a terminal state (人工核查入口)."""

from typing import Annotated, Literal

from aws_lambda_powertools.event_handler.openapi.params import Query

from waterrev.api import doc, lambda_handler, new_app, request_context
from waterrev.envelope import ok
from waterrev.errors import ErrorCode
from waterrev.invoices import query as invoice_query
from waterrev.invoices import review as invoice_review
from waterrev.invoices.models.query import (
    ExceptionItem,
    ExceptionPage,
    InvoiceExceptionResolve,
    QueryReply,
    QueryRequest,
)

app = new_app()


@app.post(
    "/business/invoice/query",
    **doc(QueryReply, ErrorCode.NOT_FOUND, summary="发票结果查询"),
)
def query(body: QueryRequest) -> dict:
    return ok(invoice_query.query(request_context(app), body.command()))


@app.post(
    "/business/invoice/query/compensate",
    **doc(
        QueryReply,
        ErrorCode.NOT_FOUND,
        summary="发票结果补偿查询",
        description="与查询同一落账规则；另补发发票服务未收到的申请或作废 / 红冲、转存缺失的发票文件，并按退避计划下次查询。",
    ),
)
def compensate(body: QueryRequest) -> dict:
    return ok(invoice_query.query(request_context(app), body.command(compensate=True)))


@app.get(
    "/business/invoice/exception/page",
    **doc(ExceptionPage, summary="发票状态冲突分页（扩展，人工核查入口）"),
)
def exception_page(
    status: Annotated[Literal["OPEN", "RESOLVED"] | None, Query(description="处理状态")] = None,
    application_no: Annotated[str | None, Query(alias="applicationNo", max_length=40)] = None,
    page_no: Annotated[int, Query(alias="pageNo", ge=1, le=10000)] = 1,
    page_size: Annotated[int, Query(alias="pageSize", ge=1, le=100)] = 10,
) -> dict:
    return ok(
        invoice_review.page_exceptions(
            request_context(app),
            status=status,
            application_no=application_no,
            page_no=page_no,
            page_size=page_size,
        )
    )


@app.post(
    "/business/invoice/exception/resolve",
    **doc(ExceptionItem, ErrorCode.NOT_FOUND, ErrorCode.CONFLICT, summary="发票状态冲突人工核查（扩展）"),
)
def exception_resolve(body: InvoiceExceptionResolve) -> dict:
    return ok(invoice_review.resolve(request_context(app), body.command()))


handler = lambda_handler(app)
