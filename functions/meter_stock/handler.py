"""IF-METER-003 库存出入库接口: IN, OUT (领用), RETURN (退库), SCRAP (报废), a result per meter, and the
warehouse balance."""

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Query

from waterrev.api import doc, lambda_handler, new_app, request_context
from waterrev.envelope import ok
from waterrev.meters import stock
from waterrev.meters.models.stock import BalanceItem, StockReply, StockRequest

app = new_app()


@app.post(
    "/admin-api/meter/stock/in-out",
    **doc(
        StockReply,
        summary="出入库：逐表 SUCCESS / FAIL，批次 SUCCESS / PARTIAL / FAIL；同一动作同一批次号只处理一次",
    ),
)
def in_out(body: StockRequest) -> dict:
    return ok(stock.in_out(request_context(app), body.command()))


@app.get("/admin-api/meter/stock/balance", **doc(list[BalanceItem], summary="库存结余（扩展）：按仓库、口径"))
def balance(
    warehouse_code: Annotated[
        str | None, Query(alias="warehouseCode", max_length=32, description="仓库编码")
    ] = None,
) -> dict:
    return ok(stock.balance(request_context(app), warehouse_code))


handler = lambda_handler(app)
