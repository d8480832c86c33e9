"""IF-CS-004 电子发票消费接口: a bound customer's issued e-invoices - query, download, push."""

from waterrev.api import doc, lambda_handler, new_app, request_context
from waterrev.envelope import ok
from waterrev.errors import ErrorCode
from waterrev.invoices import customer as customer_invoices
from waterrev.invoices.models.customer import (
    CustomerDownload,
    CustomerInvoice,
    CustomerInvoicePage,
    CustomerPush,
    CustomerQuery,
    DownloadReply,
)

app = new_app()


@app.post(
    "/business/invoice/customer/query",
    **doc(
        CustomerInvoicePage,
        ErrorCode.BINDING_NOT_FOUND,
        ErrorCode.INVOICE_NOT_ELIGIBLE,
        ErrorCode.NOT_FOUND,
        summary="本人电子发票查询",
    ),
)
def query(body: CustomerQuery) -> dict:
    return ok(customer_invoices.query(request_context(app), body.command()))


@app.post(
    "/business/invoice/customer/download",
    **doc(
        DownloadReply,
        ErrorCode.BINDING_NOT_FOUND,
        ErrorCode.INVOICE_NOT_ELIGIBLE,
        ErrorCode.NOT_FOUND,
        summary="本人电子发票下载（限时链接）",
    ),
)
def download(body: CustomerDownload) -> dict:
    return ok(customer_invoices.download(request_context(app), body.command()))


@app.post(
    "/business/invoice/customer/push",
    **doc(
        CustomerInvoice,
        ErrorCode.BINDING_NOT_FOUND,
        ErrorCode.INVOICE_NOT_ELIGIBLE,
        ErrorCode.NOT_FOUND,
        summary="本人电子发票推送（邮件 / 短信）",
    ),
)
def push(body: CustomerPush) -> dict:
    return ok(customer_invoices.push(request_context(app), body.command()))


handler = lambda_handler(app)
