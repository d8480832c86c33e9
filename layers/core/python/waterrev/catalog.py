"""The interface catalog: seed interface id -> Lambda function -> routes -> who may call them.

One table drives both runtimes: the CDK API construct creates one function per built interface
and one HTTP API route per catalog route; the local gateway serves exactly these routes; the
auth middleware reads the caller kind and permission of the matched route from here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Direction(StrEnum):
    INBOUND = "inbound"  # the outside calls SYS-002: a Lambda function behind HTTP API routes
    OUTBOUND = "outbound"  # SYS-002 calls the outside system: a client module in the core, no function


class Caller(StrEnum):
    PUBLIC = "public"  # no token (login, channel login); still rate-limited and audited
    ADMIN = "admin"  # back-office bearer token + permission + dept data scope
    CUSTOMER = "customer"  # customer-channel bearer token; only bound customers are visible
    WEBHOOK = "webhook"  # outside platform; signature on the raw body + replay window


@dataclass(frozen=True)
class Rate:
    """How often one caller may call a route: `calls` in `window_s` seconds, counted per signed-in user
    (back office or customer channel). Beyond it: 429 in the envelope (waterrev.limits)."""

    calls: int
    window_s: int = 60


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    caller: Caller
    permission: str | None = None  # back-office permission string (system_menu.permission)
    rate: Rate | None = None  # a per-caller limit where a user is the unit (orders, exports)

    @property
    def route_key(self) -> str:
        return f"{self.method} {self.path}"


@dataclass(frozen=True)
class Interface:
    if_id: str
    name: str
    function: str | None  # folder under functions/; None while not built
    routes: tuple[Route, ...] = field(default_factory=tuple)
    timeout_s: int = 10
    memory_mb: int = 512
    direction: Direction = Direction.INBOUND
    peer: str | None = None  # outbound: the system called, as the seed's 调用方向 names it
    client: str | None = None  # outbound: the module that calls it; None while not built

    def __post_init__(self) -> None:
        outbound = self.direction is Direction.OUTBOUND
        if outbound and (self.function or self.routes):
            raise ValueError(f"{self.if_id}: an outbound interface has no function and no routes")
        if not outbound and (self.client or self.peer):
            raise ValueError(f"{self.if_id}: only an outbound interface has a client and a peer")

    @property
    def built(self) -> bool:
        """Has a Lambda function: what CDK deploys and the gateway serves (never an outbound one)."""
        return self.function is not None

    @property
    def reads(self) -> tuple[str, ...]:
        """The tables it reads and never writes (TABLES, below)."""
        return TABLES.get(self.if_id, Tables()).reads

    @property
    def writes(self) -> tuple[str, ...]:
        """The tables it inserts into, updates or deletes from (and may read)."""
        return TABLES.get(self.if_id, Tables()).writes

    @property
    def implemented(self) -> bool:
        """Built, or for an outbound interface, its client exists."""
        return self.built or self.client is not None


def outbound(if_id: str, name: str, peer: str, client: str | None = None) -> Interface:
    """An interface SYS-002 calls: listed for the interface map, never given a function or route."""
    return Interface(if_id, name, None, direction=Direction.OUTBOUND, peer=peer, client=client)


A, C, P, W = Caller.ADMIN, Caller.CUSTOMER, Caller.PUBLIC, Caller.WEBHOOK

CATALOG: tuple[Interface, ...] = (
    Interface(
        "IF-UP-001",
        "用户登录接口",
        "up_auth",
        (
            Route("POST", "/admin-api/system/auth/login", P),
            Route("POST", "/admin-api/system/auth/refresh-token", P),
            Route("POST", "/admin-api/system/auth/logout", A),
        ),
    ),
    Interface(
        "IF-UP-002",
        "用户信息接口",
        "up_user_info",
        (Route("GET", "/admin-api/system/auth/get-permission-info", A),),
    ),
    Interface(
        "IF-UP-003",
        "权限校验接口",
        "up_permission_check",
        (Route("POST", "/admin-api/system/permission/check", A),),
    ),
    Interface(
        "IF-UP-004",
        "参数字典接口",
        "up_dict",
        (
            Route("GET", "/admin-api/system/dict-data/simple-list", A),
            Route("GET", "/admin-api/system/param/get", A),
        ),
    ),
    Interface(
        "IF-REV-001",
        "客户信息查询接口",
        "rev_customer_query",
        (
            Route("GET", "/admin-api/revenue/customer/{id}", A, "revenue:customer:query"),
            Route("GET", "/admin-api/revenue/customer/get", A, "revenue:customer:query"),
            Route("GET", "/admin-api/revenue/customer/page", A, "revenue:customer:query"),
        ),
    ),
    Interface(
        "IF-REV-002",
        "客户主数据维护接口",
        "rev_customer_maintain",
        (
            Route("POST", "/admin-api/revenue/customer/create", A, "revenue:customer:create"),
            Route("PUT", "/admin-api/revenue/customer/update", A, "revenue:customer:update"),
            Route("PUT", "/admin-api/revenue/customer/update-status", A, "revenue:customer:update"),
        ),
    ),
    Interface(
        "IF-CS-001",
        "账户绑定接口",
        "cs_account_bind",
        (
            Route("POST", "/app-api/customer/auth/channel-login", P),
            Route("POST", "/app-api/customer/auth/send-verify-code", C),
            Route("POST", "/app-api/customer/account/bind", C),
            Route("GET", "/app-api/customer/account/list", C),
        ),
    ),
    Interface(
        "IF-CS-002",
        "历史账单查询接口",
        "cs_bill_history",
        (Route("GET", "/app-api/customer/bill/history", C),),
    ),
    Interface(
        "IF-REV-003",
        "抄表任务下发接口",
        "rev_meter_read_task",
        (
            Route("POST", "/admin-api/revenue/meter-book/save", A, "revenue:meter-read:task"),
            Route("POST", "/admin-api/revenue/meter-read/generate", A, "revenue:meter-read:task"),
        ),
    ),
    Interface(
        "IF-REV-004",
        "抄表数据提交接口",
        "rev_reading_submit",
        (
            Route("POST", "/admin-api/revenue/reading-data/create", A, "revenue:reading:create"),
            Route("POST", "/admin-api/revenue/reading-data/estimate", A, "revenue:reading:create"),
            Route("POST", "/admin-api/revenue/reading-data/review", A, "revenue:reading:review"),
        ),
    ),
    Interface(
        "IF-REV-005",
        "账单生成接口",
        "rev_charge_generate",
        (
            Route("POST", "/admin-api/revenue/charge/generate", A, "revenue:charge:generate"),
            Route("POST", "/admin-api/revenue/charge/bill-run", A, "revenue:charge:generate"),
            Route("GET", "/admin-api/revenue/charge/bill-run/{runNo}", A, "revenue:charge:generate"),
            # 价差调整: a corrected price billed as new bills (its own permission: it bills past periods)
            Route("POST", "/admin-api/revenue/charge/price-diff", A, "revenue:charge:price-diff"),
        ),
        timeout_s=300,
        memory_mb=1024,
    ),
    Interface(
        "IF-REV-006",
        "缴费处理接口",
        "rev_collection",
        (
            Route("POST", "/admin-api/revenue/collection/create", A, "revenue:collection:create"),
            # the bills a counter can collect (chargeIds for the create): reading, not taking money
            Route("GET", "/admin-api/revenue/collection/charge/page", A, "revenue:collection:query"),
            # payment exception review (人工复核入口): list the exceptions, record a person's decision
            Route("GET", "/admin-api/revenue/collection/exception/page", A, "revenue:collection:exception"),
            Route(
                "POST", "/admin-api/revenue/collection/exception/resolve", A, "revenue:collection:exception"
            ),
        ),
    ),
    Interface(
        "IF-CS-003",
        "在线支付下单接口",
        "cs_payment_order",
        (
            # a customer makes an order to pay; dozens a minute is a script, not a person
            Route("POST", "/app-api/customer/payment/order", C, rate=Rate(10)),
            Route("GET", "/app-api/customer/payment/order/{bizOrderNo}", C),
        ),
    ),
    Interface(
        "IF-CS-007",
        "柜面扫码支付接口",
        "cs_counter_scan_pay",
        (
            Route(
                "POST", "/admin-api/counter/scan-pay/create", A, "revenue:collection:create", rate=Rate(30)
            ),
            Route("POST", "/admin-api/counter/scan-pay/renew", A, "revenue:collection:create", rate=Rate(30)),
            Route("GET", "/admin-api/counter/scan-pay/{bizOrderNo}", A, "revenue:collection:create"),
            Route("GET", "/admin-api/counter/scan-pay/{bizOrderNo}/qrcode", A, "revenue:collection:create"),
            Route("GET", "/admin-api/counter/scan-pay/{bizOrderNo}/receipt", A, "revenue:collection:create"),
        ),
    ),
    Interface(
        "IF-EXT-003",
        "银行实时收费接口",
        "ext_bank_realtime",
        (
            Route("POST", "/open-api/bank/charge/query", W),
            Route("POST", "/open-api/bank/charge/pay", W),
        ),
    ),
    Interface(
        "IF-EXT-005",
        "聚合支付结果回调接口",
        "ext_pay_notify",
        (
            Route("POST", "/open-api/pay/notify", W),
            # 扩展: SYS-009's refund results (the seed: 接收支付成功、失败、关闭、退款等异步事件), signed the same way
            Route("POST", "/open-api/pay/refund-notify", W),
        ),
    ),
    Interface(
        "IF-REV-012",
        "业务参数配置接口",
        "rev_parameter_config",
        (
            Route("GET", "/admin-api/revenue/parameter/config", A, "revenue:parameter:query"),
            Route("POST", "/admin-api/revenue/parameter/config", A, "revenue:parameter:update"),
        ),
    ),
    Interface(
        "IF-METER-004",
        "集抄数据接收接口",
        "meter_iot_reading",
        (
            Route("POST", "/admin-api/meter/iot/reading/receive", A, "meter:iot:receive"),
            # extension: a batch of seed-shaped readings, one seed-shaped result each
            Route("POST", "/admin-api/meter/iot/reading/receive-batch", A, "meter:iot:receive"),
        ),
    ),
    Interface(
        "IF-EXT-009",
        "集抄数据接入接口",
        "ext_iot_push",
        (Route("POST", "/open-api/iot/reading/push", W),),
    ),
    Interface(
        "IF-REV-007",
        "账务调整接口",
        "rev_accounting_adjust",
        (
            # USAGE / AMOUNT / REFUND / REVERSE / BAD_DEBT; above a threshold or for chosen types a second
            # person approves (扩展: approve, reject, the list of adjustments and of what waits)
            Route("POST", "/admin-api/revenue/accounting/adjust", A, "revenue:adjust:create"),
            Route("POST", "/admin-api/revenue/accounting/adjust/approve", A, "revenue:adjust:approve"),
            Route("POST", "/admin-api/revenue/accounting/adjust/reject", A, "revenue:adjust:approve"),
            Route("GET", "/admin-api/revenue/accounting/adjust/page", A, "revenue:adjust:query"),
            # the late-payment penalty waiver: requested by one person, effective once another approves it
            Route("POST", "/admin-api/revenue/accounting/penalty-waiver", A, "revenue:penalty:waive"),
            Route(
                "POST", "/admin-api/revenue/accounting/penalty-waiver/approve", A, "revenue:penalty:approve"
            ),
            Route(
                "POST", "/admin-api/revenue/accounting/penalty-waiver/reject", A, "revenue:penalty:approve"
            ),
            Route("GET", "/admin-api/revenue/accounting/penalty-waiver/page", A, "revenue:penalty:query"),
        ),
    ),
    # The invoice routes keep the seed's paths (/business/invoice/...): the back-office ones are ADMIN
    # routes (token + permission + data scope), the customer ones CUSTOMER routes (a channel token, bound
    # customers only) although not under /app-api (docs/DECISIONS.md).
    Interface(
        "IF-REV-008",
        "发票申请接口",
        "rev_invoice",
        (
            Route("POST", "/business/invoice/apply", A, "revenue:invoice:apply"),
            Route("POST", "/business/invoice/invalidate", A, "revenue:invoice:modify"),
            Route("POST", "/business/invoice/red-ink", A, "revenue:invoice:modify"),
        ),
        timeout_s=15,
    ),
    Interface(
        "IF-REV-009",
        "发票结果查询接口",
        "rev_invoice_query",
        (
            Route("POST", "/business/invoice/query", A, "revenue:invoice:query"),
            Route("POST", "/business/invoice/query/compensate", A, "revenue:invoice:query"),
            # extension: results that conflicted with a terminal state (人工核查入口)
            Route("GET", "/business/invoice/exception/page", A, "revenue:invoice:exception"),
            Route("POST", "/business/invoice/exception/resolve", A, "revenue:invoice:exception"),
        ),
        timeout_s=15,
    ),
    Interface(
        "IF-CS-004",
        "电子发票消费接口",
        "cs_invoice",
        (
            Route("POST", "/business/invoice/customer/query", C),
            Route("POST", "/business/invoice/customer/download", C),
            Route("POST", "/business/invoice/customer/push", C),
        ),
    ),
    # SYS-008's writeback: the seed gives no path; ours, beside the other platforms' webhooks
    Interface(
        "IF-EXT-007",
        "发票结果回写接口",
        "ext_invoice_result",
        (Route("POST", "/open-api/invoice/result", W),),
        timeout_s=15,
    ),
    Interface(
        "IF-REV-013",
        "催缴任务生成与结果承接接口",
        "rev_reminder_task",
        (
            Route("POST", "/admin-api/revenue/reminder/task", A, "revenue:reminder:create"),
            Route("POST", "/admin-api/revenue/reminder/task/query", A, "revenue:reminder:query"),
            Route("POST", "/admin-api/revenue/reminder/task/manual-verify", A, "revenue:reminder:verify"),
            # extensions: an office at once (as the monthly schedule), what it skipped and why
            Route("POST", "/admin-api/revenue/reminder/task/generate", A, "revenue:reminder:create"),
            Route("GET", "/admin-api/revenue/reminder/task/skipped", A, "revenue:reminder:query"),
            # what the message pipeline could not deliver (dead letters), for a person to replay
            Route("GET", "/admin-api/revenue/reminder/dead-letter/page", A, "revenue:reminder:dead-letter"),
            Route(
                "POST", "/admin-api/revenue/reminder/dead-letter/replay", A, "revenue:reminder:dead-letter"
            ),
            # SYS-010's signed delivery results (IF-EXT-008's 回传执行结果: the four states承接 here)
            Route("POST", "/open-api/message/result", W),
        ),
        timeout_s=300,
        memory_mb=1024,
    ),
    # IF-REV-011 with the seed's 扩展 table 银行签约、状态查询与批次控制扩展接口: signing, termination, customer
    # check, 送盘 (the seed's batch route), send status (it shows the returns and the differences too: 回盘
    # 状态), cancel, return; one set of routes for withholding (代扣) and collection (托收): the kind is a field
    # of the agreement and of the batch. The reconciliation differences a person resolves, and the bank file
    # transfer configuration (docs/BANK.md). Few routes on purpose: every route is two stack resources.
    Interface(
        "IF-REV-011",
        "银行代收协同接口",
        "rev_bank_withholding",
        (
            Route("POST", "/admin-api/revenue/bank/withholding/signing", A, "revenue:bank:agreement"),
            Route("POST", "/admin-api/revenue/bank/withholding/termination", A, "revenue:bank:agreement"),
            Route("GET", "/admin-api/revenue/bank/withholding/customer-check", A, "revenue:bank:query"),
            Route("POST", "/admin-api/revenue/bank/withholding/batch", A, "revenue:bank:batch"),
            Route("GET", "/admin-api/revenue/bank/withholding/send-disc-check", A, "revenue:bank:query"),
            Route("POST", "/admin-api/revenue/bank/withholding/cancel-disc", A, "revenue:bank:batch"),
            Route("POST", "/admin-api/revenue/bank/withholding/back-disc", A, "revenue:bank:batch"),
            Route(
                "POST",
                "/admin-api/revenue/bank/withholding/reconcile/diff/resolve",
                A,
                "revenue:bank:reconcile",
            ),
            Route("GET", "/admin-api/revenue/bank/transfer-config", A, "revenue:bank:config"),
            Route("POST", "/admin-api/revenue/bank/transfer-config", A, "revenue:bank:config"),
            # 扩展: the daily three-way reconciliation over every channel (banking.daily_recon)
            Route("GET", "/admin-api/revenue/bank/daily-reconcile/page", A, "revenue:bank:reconcile"),
            Route("GET", "/admin-api/revenue/bank/daily-reconcile/report", A, "revenue:bank:reconcile"),
            Route("POST", "/admin-api/revenue/bank/daily-reconcile/run", A, "revenue:bank:reconcile"),
            Route(
                "POST", "/admin-api/revenue/bank/daily-reconcile/diff/resolve", A, "revenue:bank:reconcile"
            ),
        ),
        timeout_s=29,
    ),
    # the bank's (or SYS-009's) signed receipt that a return file is ready: the seed gives no path
    Interface(
        "IF-EXT-002",
        "银行代扣回盘接收接口",
        "ext_bank_return",
        (Route("POST", "/open-api/bank/withholding/return", W),),
        timeout_s=29,
        memory_mb=1024,
    ),
    # ---- service desk and meter assets (issue 15) ----------------------------------------------
    # IF-CS-005: the seed gives no path; ours, beside the other customer routes
    Interface(
        "IF-CS-005",
        "网点与业务办理接口",
        "cs_outlet",
        (
            Route("GET", "/app-api/customer/outlet/page", C),
            Route("GET", "/app-api/customer/outlet/business-types", C),
            Route("GET", "/app-api/customer/outlet/{outletCode}", C),
            Route("GET", "/admin-api/customer/outlet/page", A, "customer:outlet:query"),
            Route("POST", "/admin-api/customer/outlet/save", A, "customer:outlet:update"),
        ),
    ),
    Interface(
        "IF-CS-006",
        "业务办理进度接口",
        "cs_process",
        (
            Route("POST", "/app-api/customer/process", C),
            Route("GET", "/app-api/customer/process", C),
            Route("GET", "/app-api/customer/process/page", C),
            Route("POST", "/app-api/customer/process/attachment/upload-url", C),
            # the back office's steps (扩展): the seed's 后台受理、转办、审批
            Route("GET", "/admin-api/customer/process/page", A, "customer:process:query"),
            Route("GET", "/admin-api/customer/process/{processId}", A, "customer:process:query"),
            Route("POST", "/admin-api/customer/process/accept", A, "customer:process:handle"),
            Route("POST", "/admin-api/customer/process/transfer", A, "customer:process:handle"),
            Route("POST", "/admin-api/customer/process/request-supplement", A, "customer:process:handle"),
            Route("POST", "/admin-api/customer/process/approve", A, "customer:process:approve"),
            Route("POST", "/admin-api/customer/process/reject", A, "customer:process:approve"),
        ),
        timeout_s=30,
    ),
    Interface(
        "IF-METER-001",
        "水表档案查询接口",
        "meter_archive",
        (
            Route("GET", "/admin-api/meter/archive/{id}", A, "meter:archive:query"),
            Route("GET", "/admin-api/meter/archive/get", A, "meter:archive:query"),
        ),
    ),
    Interface(
        "IF-METER-002",
        "表务工单处理接口",
        "meter_work_order",
        (
            Route("POST", "/admin-api/meter/work-order/handle", A, "meter:work-order:handle"),
            Route("POST", "/admin-api/meter/work-order/create", A, "meter:work-order:create"),
            Route("GET", "/admin-api/meter/work-order/page", A, "meter:work-order:handle"),
        ),
    ),
    Interface(
        "IF-METER-003",
        "库存出入库接口",
        "meter_stock",
        (
            Route("POST", "/admin-api/meter/stock/in-out", A, "meter:stock:in-out"),
            Route("GET", "/admin-api/meter/stock/balance", A, "meter:stock:query"),
        ),
        timeout_s=30,
    ),
    # ---- connection applications (报装) with e-signature: the seed's paths ------------------
    Interface(
        "IF-INST-001",
        "报装申请提交接口",
        "inst_apply",
        (
            Route("POST", "/admin-api/installation/apply/create", A, "installation:apply:create"),
            # extensions: the attachment upload link, the application's detail
            Route(
                "POST", "/admin-api/installation/attachment/upload-url", A, "installation:attachment:upload"
            ),
            Route("GET", "/admin-api/installation/apply/{processId}", A, "installation:apply:query"),
        ),
        timeout_s=30,
    ),
    Interface(
        "IF-INST-002",
        "踏勘结果回填接口",
        "inst_survey",
        (Route("POST", "/admin-api/installation/survey/result", A, "installation:survey:update"),),
        timeout_s=30,
    ),
    Interface(
        "IF-INST-003",
        "合同签署发起接口",
        "inst_contract_sign",
        (
            Route("POST", "/admin-api/installation/contract/sign/initiate", A, "installation:contract:sign"),
            # extension: callbacks that could not be written back (人工核查入口)
            Route(
                "GET",
                "/admin-api/installation/contract/sign/exception/page",
                A,
                "installation:contract:exception",
            ),
        ),
        timeout_s=15,
    ),
    # the e-signature service's callback keeps the seed's /admin-api path but is a signed webhook
    Interface(
        "IF-INST-004",
        "签章回执接口",
        "inst_sign_callback",
        (Route("POST", "/admin-api/installation/contract/sign/callback", W),),
        timeout_s=15,
    ),
    Interface(
        "IF-INST-005",
        "报装归档接口",
        "inst_archive",
        (Route("POST", "/admin-api/installation/archive/submit", A, "installation:archive:submit"),),
        timeout_s=60,
    ),
    Interface(
        "IF-REV-010",
        "统计查询接口",
        "rev_statistics",
        (
            Route("POST", "/admin-api/revenue/statistics/query", A, "revenue:statistics:query"),
            Route(
                "POST", "/admin-api/revenue/statistics/export", A, "revenue:statistics:export", rate=Rate(5)
            ),
            # 历史查询与迁移校验 (extensions of this read-only query family; each record names its seed family)
            Route("POST", "/admin-api/revenue/history/query", A, "revenue:history:query"),
            Route("POST", "/admin-api/revenue/migration/import", A, "revenue:migration:import"),
            Route("GET", "/admin-api/revenue/migration/import/page", A, "revenue:migration:import"),
            Route("POST", "/admin-api/revenue/migration/verify", A, "revenue:migration:verify"),
        ),
        timeout_s=120,  # an export of up to a million group rows
        memory_mb=1024,
    ),
    # ---- not built yet: listed so the interface map stays complete -------------------------
    outbound("IF-EXT-001", "银行代扣批次下发接口", "SYS-009 / 银行渠道", "waterrev.adapters.bank_sftp"),
    outbound("IF-EXT-004", "聚合支付下单接口", "SYS-009", "waterrev.adapters.sys009"),
    outbound("IF-EXT-006", "发票开具协同接口", "SYS-008", "waterrev.adapters.sys008"),
    outbound("IF-EXT-008", "消息触达接口", "SYS-010", "waterrev.adapters.sys010"),
)


@dataclass(frozen=True)
class TaskFunction:
    """A function that is not an HTTP interface: a workflow task, a queue consumer, a schedule."""

    function: str
    purpose: str
    timeout_s: int = 60
    memory_mb: int = 1024


TASK_FUNCTIONS: tuple[TaskFunction, ...] = (
    TaskFunction("wf_bill_run", "bill-run workflow steps: prepare, bill_chunk, finish", 900, 1769),
    TaskFunction(
        "job_pay_compensate", "scheduled: query SYS-009 for orders without a result, close expired", 300, 512
    ),
    TaskFunction(
        "job_invoice_compensate",
        "scheduled: query SYS-008 for invoices without a result (backoff), voids / red-inks, missing files",
        300,
        1024,
    ),
    TaskFunction("job_migrate", "deploy-time: apply the Alembic migrations (CDK trigger)", 600, 512),
    TaskFunction(
        "job_message_relay",
        "scheduled every minute: outbox (biz_message) -> message queue; dead-letter sweep",
        70,
        512,
    ),
    TaskFunction("msg_consumer", "message queue consumer: deliver messages to SYS-010 (IF-EXT-008)", 60, 512),
    TaskFunction(
        "job_reminder_generate", "scheduled monthly: reminder tasks per office (IF-REV-013)", 900, 1024
    ),
    TaskFunction(
        "wf_withholding",
        "withholding-batch workflow steps: select, send (SFTP), await, poll, reconcile, settle (IF-REV-011)",
        900,
        1769,
    ),
    TaskFunction(
        "job_ledger_check",
        "scheduled nightly: the ledger's invariants on the real data (docs/LEDGER.md), metric and alarm",
        900,
        1024,
    ),
    TaskFunction(
        "job_daily_reconcile",
        "scheduled every morning: the three-way reconciliation of the day before over every channel (docs/BANK.md)",
        300,
        1024,
    ),
    TaskFunction(
        "job_stat_fold", "scheduled every 10 minutes: fold the statistics summaries (IF-REV-010)", 120, 512
    ),
)


def built() -> tuple[Interface, ...]:
    return tuple(i for i in CATALOG if i.built)


def by_id(if_id: str) -> Interface:
    for i in CATALOG:
        if i.if_id == if_id:
            return i
    raise KeyError(if_id)


_ROUTES: dict[str, tuple[Interface, Route]] | None = None


def route_for(route_key: str) -> tuple[Interface, Route] | None:
    """Look up a route by API Gateway's routeKey ("GET /admin-api/revenue/customer/{id}")."""
    global _ROUTES
    if _ROUTES is None:
        _ROUTES = {r.route_key: (i, r) for i in built() for r in i.routes}
    return _ROUTES.get(route_key)


# ---- the tables each interface reads and writes ------------------------------------------------
# What its function's SQL touches, the database functions it calls included. A test that calls an
# interface through tests.support.call fails if it touches a table not declared here (tests/sqltrace.py);
# docs/SCHEMA.md shows the map both ways.
@dataclass(frozen=True)
class Tables:
    reads: tuple[str, ...] = ()  # read only: a table it also writes is under writes
    writes: tuple[str, ...] = ()


def _tables(reads: tuple[str, ...] = (), writes: tuple[str, ...] = ()) -> Tables:
    return Tables(tuple(sorted(set(reads) - set(writes))), tuple(sorted(set(writes))))


# Any route called with a bearer token (api.authenticate): the token, then its channel member, or its
# back-office user with roles, permissions and data scope.
TOKEN_TABLES = (
    "biz_channel_user",
    "system_dept",
    "system_menu",
    "system_oauth2_access_token",
    "system_role",
    "system_role_menu",
    "system_user_role",
    "system_users",
)
# What every write-off touches (rev_write_off, through pay_apply_status for an order), and the
# payment-result message its collection queues (the biz_collection trigger msg_payment_result).
# A refund's result (SYS-009's notification): the refund, its notification, and a failed one's money back
# on the balance with the lines of its adjustment.
_REFUND = (
    "biz_adjustment_line",
    "biz_refund",
    "biz_refund_callback",
)
_SETTLE = (
    "biz_account",
    "biz_account_flow",
    "biz_charge",
    "biz_collection",
    "biz_collection_item",
    "biz_message",
    "biz_operat_log",
    "biz_order_charge",
    "bk_transaction",
    "bk_transaction_exception",
)
# What reading an amount due reads (billing.dues.amount_due: the customer, its penalty parameters, its
# bills with what was paid and waived on each): every interface that shows or checks one.
_DUES = (
    "biz_adjustment_line",  # a reversal's negative principal and penalty lines (IF-REV-007)
    "biz_charge",
    "biz_collection",
    "biz_collection_item",
    "biz_cust",
    "biz_cust_withholding_rel",
    "biz_order_charge",
    "biz_parameter_settings",
    "biz_penalty_waiver",
    "system_dept",
)
_READING = (  # a reading taken in: validated, stored, reviewed if need be, the task moved on
    "biz_last_reading",
    "biz_meter_read",
    "biz_operat_log",
    "biz_reading_data",
    "biz_reading_logs",
)

# What settling an invoice result touches (inv_apply_results, and the reads around it).
_INVOICE_RESULT = (
    "biz_charge",
    "biz_invoice",
    "biz_invoice_charge",
    "biz_invoice_exception",
    "biz_operat_log",
    "biz_process_invoice_modifys",
)

# What a withholding batch touches from its creation to its settlement (banking.batch, banking.reconcile):
# its own tables, the agreements (opened for the file), what selecting reads (billing.dues) and the shared
# write-off of every success; a refused return file becomes a review record (bk_transaction_exception).
_BANK_BATCH = (
    "bk_data_key",
    "bk_reconcile_batch",
    "bk_reconcile_diff",
    "bk_settlement_batch",
    "bk_transfer_config",
    "bk_withholding_batch",
    "bk_withholding_item",
    "bk_withholding_return",
    "bk_withholding_reversal",
    "bk_withholding_stage",  # the set-based write-off's working rows (banking.write_off_set)
)

# What the daily three-way reconciliation writes (banking.daily_recon); it reads bk_transaction.
_DAILY_RECON = ("biz_operat_log", "bk_daily_recon", "bk_daily_recon_diff", "bk_daily_recon_file")

# What an application's completion may touch (service.processes._apply): the customer master, the
# invoice profile, a self reading through IF-REV-004's path, a meter work order; and each step's notice.
_PROCESS_APPLY = (
    "biz_cust",
    "biz_cust_app_binds",
    "biz_cust_contact",
    "biz_cust_invoice",
    "biz_message",
    "biz_meter",
    "biz_meter_log",
    "biz_meter_work_order",
    "biz_operat_log",
    "biz_process",
    "biz_process_transfer",
    *_READING,
    "biz_meter_change",
    "biz_reading_review",
)

# What the connection-application steps touch (the process, its trail and documents).
_INSTALL = (
    "biz_message",  # the applicant's progress SMS
    "biz_operat_log",
    "installation_apply",
    "installation_document",
    "installation_process",
    "installation_transfer",
)
_INSTALL_READ = (
    "installation_archive",
    "installation_contract",
    "installation_evidence",
    "installation_signature",
    "system_dept",
)

TABLES: dict[str, Tables] = {
    "IF-UP-001": _tables(
        reads=TOKEN_TABLES,
        writes=(
            "system_login_log",
            "system_oauth2_access_token",
            "system_oauth2_refresh_token",
            "system_users",
        ),
    ),
    "IF-UP-002": _tables(reads=TOKEN_TABLES),
    "IF-UP-003": _tables(reads=(*TOKEN_TABLES, "biz_cust")),
    "IF-UP-004": _tables(
        reads=(*TOKEN_TABLES, "biz_cust", "biz_parameter_settings", "system_dict_data", "system_dict_type"),
    ),
    "IF-REV-001": _tables(
        reads=(
            *TOKEN_TABLES,
            "biz_account",
            "biz_cust",
            "biz_cust_collection_rel",
            "biz_cust_contact",
            "biz_cust_invoice",
            "biz_cust_meter",
            "biz_cust_withholding_rel",
            "biz_meter",
            "biz_meter_price_split",
        ),
    ),
    "IF-REV-002": _tables(
        reads=(*TOKEN_TABLES, "biz_price_template", "bk_data_key"),  # bank accounts sealed (waterrev.crypto)
        writes=(
            "biz_account",
            "biz_cust",
            "biz_cust_collection_rel",
            "biz_cust_contact",
            "biz_cust_invoice",
            "biz_cust_meter",
            "biz_cust_withholding_rel",
            "biz_meter",
            "biz_meter_price_split",  # 一表多价 (meterList[].priceSplit, priceSplits)
            "biz_operat_log",
        ),
    ),
    "IF-CS-001": _tables(
        reads=(*TOKEN_TABLES, "biz_account", "biz_cust"),
        writes=(
            "biz_channel_nonce",
            "biz_channel_user",
            "biz_cust_app_binds",
            "biz_message",
            "biz_operat_log",
            "biz_verify_code",
            "biz_verify_code_failure",
            "system_login_log",
            "system_oauth2_access_token",
            "system_oauth2_refresh_token",
        ),
    ),
    "IF-CS-002": _tables(
        reads=(
            *TOKEN_TABLES,
            *_DUES,
            "biz_charge",
            "biz_charge_detail",
            "biz_collection",
            "biz_collection_item",
            "biz_cust_app_binds",
            "biz_invoice",
            "biz_price_template",
            "biz_reading_data",
            "biz_reminder_task",
        ),
    ),
    "IF-REV-003": _tables(
        reads=(*TOKEN_TABLES, "biz_cust", "biz_cust_meter"),
        writes=("biz_meter", "biz_meter_book", "biz_meter_read", "biz_operat_log"),
    ),
    "IF-REV-004": _tables(
        reads=(*TOKEN_TABLES, "biz_cust", "biz_meter", "biz_parameter_settings"),
        writes=(*_READING, "biz_meter_change", "biz_reading_review"),
    ),
    "IF-REV-005": _tables(
        reads=(
            *TOKEN_TABLES,
            *_DUES,  # a prepaid deduction pays older bills with their penalty as of the day
            "biz_bill_run",
            "biz_cost_component",
            "biz_cost_component_price",
            "biz_cust",
            "biz_meter_price_split",
            "biz_order_charge",
            "biz_parameter_settings",
            "biz_price_template",
            "biz_price_tier_adjustment",
            "system_dept",
        ),
        writes=(
            "biz_account",
            "biz_account_flow",  # prepaid deduction (预存抵扣)
            "biz_charge",
            "biz_charge_detail",
            "biz_collection",
            "biz_collection_item",
            "biz_message",  # the low-balance notice
            "biz_meter_read",
            "biz_operat_log",
            "biz_reading_data",
        ),
    ),
    "IF-REV-006": _tables(reads=(*TOKEN_TABLES, *_DUES), writes=(*_SETTLE, "biz_refund")),
    "IF-CS-003": _tables(
        reads=(*TOKEN_TABLES, *_DUES, "biz_account", "biz_cust_app_binds"),
        writes=("biz_operat_log", "biz_order_charge", "bk_transaction"),
    ),
    "IF-CS-007": _tables(reads=(*TOKEN_TABLES, *_DUES), writes=_SETTLE),
    "IF-EXT-003": _tables(
        reads=_DUES,
        writes=(*(t for t in _SETTLE if t != "bk_transaction_exception"), "biz_channel_nonce"),
    ),
    "IF-EXT-005": _tables(
        reads=("biz_penalty_waiver",),
        writes=(*_SETTLE, "bk_transaction_callback", *_REFUND),
    ),
    "IF-REV-007": _tables(
        reads=(
            *TOKEN_TABLES,
            *_DUES,
            "biz_cost_component",
            "biz_cost_component_price",
            "biz_price_template",
            "biz_price_tier_adjustment",
            "bk_transaction",
        ),
        writes=(
            "biz_account",
            "biz_account_flow",
            "biz_adjustment",
            "biz_adjustment_line",
            "biz_charge",
            "biz_charge_detail",
            "biz_operat_log",
            "biz_penalty_waiver",
            "biz_refund",
        ),
    ),
    "IF-REV-012": _tables(
        reads=TOKEN_TABLES,
        writes=(
            "biz_cost_component",
            "biz_cost_component_price",
            "biz_operat_log",
            "biz_parameter_settings",
            "biz_price_template",
            "biz_price_tier_adjustment",
        ),
    ),
    "IF-METER-004": _tables(
        reads=(
            *TOKEN_TABLES,
            "biz_cust",
            "biz_cust_meter",
            "biz_meter",
            "biz_meter_change",
            "biz_parameter_settings",
        ),
        writes=(*_READING, "biz_meter_device_status", "biz_reading_review"),
    ),
    "IF-REV-010": _tables(
        reads=(
            *TOKEN_TABLES,
            # the theme summaries (kept by the business tables' triggers, migration 0090)
            "biz_stat_collection",
            "biz_stat_customer",
            "biz_stat_invoice",
            "biz_stat_reading",
            "biz_stat_receivable",
            # the live tables: one customer's statistics, groupBy custId, verification's new side
            "biz_account",
            "biz_charge",
            "biz_collection",
            "biz_cust",
            "biz_invoice",
            "biz_meter_read",
            "biz_reading_data",
            # reversals and refunds, through the view stat_adjust_collection_v (migration 0110)
            "biz_adjustment",
            "biz_adjustment_line",
            "biz_refund",
            # a history record's new object (its current status)
            "biz_meter",
            "biz_parameter_settings",
            "biz_reminder_task",
        ),
        writes=("biz_hist_import", "biz_hist_record", "biz_operat_log", "biz_stat_export"),
    ),
    "IF-REV-013": _tables(
        reads=(
            *TOKEN_TABLES,
            "biz_charge",
            "biz_cust",
            "biz_cust_app_binds",
            "biz_parameter_settings",
        ),
        writes=(
            "biz_channel_nonce",
            "biz_message",
            "biz_message_callback",
            "biz_message_exception",
            "biz_operat_log",
            "biz_reminder_guard",
            "biz_reminder_run",
            "biz_reminder_skip",
            "biz_reminder_task",
        ),
    ),
    "IF-EXT-009": _tables(
        reads=("biz_cust", "biz_meter", "biz_meter_change", "biz_parameter_settings", "system_dept"),
        writes=(*_READING, "biz_channel_nonce", "biz_meter_device_status"),
    ),
    "IF-REV-008": _tables(
        reads=(*TOKEN_TABLES, "biz_cust", "biz_charge_detail", "biz_cost_component", "biz_invoice_taxrate"),
        writes=(*_INVOICE_RESULT, "biz_cust_invoice", "biz_invoice_taxrate"),
    ),
    "IF-REV-009": _tables(
        reads=(*TOKEN_TABLES, "biz_cust", "biz_message", "biz_invoice_taxrate"),
        writes=_INVOICE_RESULT,
    ),
    "IF-CS-004": _tables(
        reads=(*TOKEN_TABLES, "biz_cust_app_binds", "biz_cust", "biz_cust_invoice", "biz_invoice_taxrate"),
        writes=("biz_invoice", "biz_message", "biz_operat_log"),
    ),
    "IF-EXT-007": _tables(writes=(*_INVOICE_RESULT, "biz_channel_nonce", "biz_invoice_callback")),
    "IF-REV-011": _tables(
        reads=(*TOKEN_TABLES, *_DUES, "biz_cust_app_binds", "biz_cust_collection_rel"),
        writes=(
            *_SETTLE,
            *_BANK_BATCH,
            *_DAILY_RECON,
            "biz_cust_collection_rel",
            "biz_cust_withholding_rel",
        ),
    ),
    "IF-EXT-002": _tables(
        reads=(
            *_DUES,
            "biz_cust_app_binds",  # the payment-result message's receiver (banking.write_off_set)
            "biz_cust_collection_rel",
            "bk_data_key",
            "bk_reconcile_batch",
            "bk_reconcile_diff",
            "bk_transfer_config",
        ),
        writes=(
            *_SETTLE,
            "biz_channel_nonce",
            "bk_withholding_batch",
            "bk_withholding_item",
            "bk_withholding_return",
            "bk_withholding_stage",
        ),
    ),
    "IF-CS-005": _tables(
        reads=(*TOKEN_TABLES, "biz_business_types"),
        writes=("biz_outlet_business", "biz_outlets", "biz_operat_log"),
    ),
    "IF-CS-006": _tables(
        reads=(
            *TOKEN_TABLES,
            "biz_business_types",
            "biz_cust_meter",
            "biz_meter",
            "biz_meter_read",
            "biz_parameter_settings",
            "system_dept",
        ),
        writes=(*_PROCESS_APPLY, "biz_business_datas", "biz_content_attach"),
    ),
    "IF-METER-001": _tables(
        reads=(
            *TOKEN_TABLES,
            "biz_cust",
            "biz_cust_meter",
            "biz_last_reading",
            "biz_meter",
            "biz_meter_certificate",
            "biz_meter_log",
            "biz_meter_work_order",
            "biz_reading_data",
        ),
    ),
    "IF-METER-002": _tables(
        reads=(*TOKEN_TABLES, "biz_business_types", "biz_cust", "biz_cust_meter"),
        writes=(
            "biz_cust_meter",
            "biz_last_reading",
            "biz_message",
            "biz_meter",
            "biz_meter_certificate",
            "biz_meter_change",
            "biz_meter_log",
            "biz_meter_price_split",  # a mixed-use split moves to the new meter
            "biz_meter_read",
            "biz_meter_work_order",
            "biz_operat_log",
            "biz_process",
            "biz_process_transfer",
        ),
    ),
    "IF-METER-003": _tables(
        reads=(*TOKEN_TABLES, "biz_cust_meter"),
        writes=(
            "biz_meter",
            "biz_meter_in_out",
            "biz_meter_in_out_rel",
            "biz_meter_log",
            "biz_meter_stock",
            "biz_operat_log",
        ),
    ),
    "IF-INST-001": _tables(reads=(*TOKEN_TABLES, *_INSTALL_READ), writes=_INSTALL),
    "IF-INST-002": _tables(reads=(*TOKEN_TABLES, "system_dept"), writes=(*_INSTALL, "installation_survey")),
    "IF-INST-003": _tables(
        reads=(*TOKEN_TABLES, "system_dept"),  # and, for the exception page, the contracts' processes
        writes=(  # initiating again asks the service, and writes its verdict as the callback would
            *_INSTALL,
            "installation_contract",
            "installation_evidence",
            "installation_sign_callback",
            "installation_signature",
        ),
    ),
    "IF-INST-004": _tables(
        writes=(
            *_INSTALL,
            "biz_channel_nonce",
            "installation_contract",
            "installation_evidence",
            "installation_sign_callback",
            "installation_signature",
        ),
    ),
    "IF-INST-005": _tables(
        reads=(*TOKEN_TABLES, "installation_contract", "installation_signature", "system_dept"),
        writes=(
            *_INSTALL,
            "biz_account",
            "biz_cust",
            "biz_cust_contact",
            "biz_cust_meter",
            "biz_meter",
            "installation_archive",
            "installation_evidence",
        ),
    ),
}

# A route with a per-caller rate counts its calls in sys_rate_limit (waterrev.limits), at the edge.
RATE_TABLE = "sys_rate_limit"
for _interface in CATALOG:
    if _interface.if_id in TABLES and any(r.rate for r in _interface.routes):
        _t = TABLES[_interface.if_id]
        TABLES[_interface.if_id] = _tables(_t.reads, (*_t.writes, RATE_TABLE))

# ID numbers and mobiles are sealed as bank accounts are (migration 0120, waterrev.crypto): the interfaces
# that seal, index or open one read the data keys (once per execution environment; infra grants them KMS).
SEALS_PII = (
    "IF-REV-001", "IF-REV-002", "IF-CS-004", "IF-CS-006", "IF-INST-001", "IF-INST-003", "IF-INST-005",
    "IF-REV-008", "IF-REV-009", "IF-REV-010", "IF-REV-013",
)  # fmt: skip
for _if_id in SEALS_PII:
    _t = TABLES[_if_id]
    TABLES[_if_id] = _tables((*_t.reads, "bk_data_key"), _t.writes)
