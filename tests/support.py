"""Test helpers: call a function through its API Gateway v2 event, log in, create data."""

from __future__ import annotations

import itertools
import json
import secrets
import time
from dataclasses import dataclass
from typing import Any

from tests import sqltrace
from waterrev.local.gateway import FakeLambdaContext, Target, build_targets, to_event

_targets: list[Target] | None = None
_seq = itertools.count(1)


@dataclass
class Reply:
    status: int
    body: dict[str, Any]

    @property
    def code(self) -> int:
        return int(self.body["code"])

    @property
    def data(self) -> Any:
        return self.body["data"]

    @property
    def msg(self) -> str:
        return str(self.body["msg"])


def call(
    method: str,
    path: str,
    body: Any = None,
    *,
    token: str | None = None,
    query: str = "",
    raw_body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> Reply:
    """Route like API Gateway, build the v2 event, run the function's handler."""
    global _targets
    if _targets is None:
        _targets = build_targets()
    all_headers = {"content-type": "application/json", "user-agent": "pytest", **(headers or {})}
    if token:
        all_headers["authorization"] = f"Bearer {token}"
    payload = raw_body if raw_body is not None else (b"" if body is None else json.dumps(body).encode())
    for target in _targets:
        match = target.pattern.match(path) if target.route.method == method else None
        if match:
            event = to_event(method, path, query, all_headers, payload, target, match.groupdict(), "10.0.0.8")
            # as Lambda runs it: calls from several threads run at once, each in an environment of its own
            with sqltrace.interface(target.interface.if_id):
                result = target.environments.invoke(
                    event, FakeLambdaContext(target.interface.function or "-")
                )
            if (
                not result.get("headers", {})
                .get("Content-Type", "application/json")
                .startswith("application/json")
            ):
                return Reply(result["statusCode"], {"code": 0, "data": None, "msg": "binary"})
            reply = Reply(result["statusCode"], json.loads(result["body"]))
            check_documented(target, reply)
            return reply
    raise AssertionError(f"no route for {method} {path}")


_spec: dict[str, Any] | None = None


def check_documented(target: Target, reply: Reply) -> None:
    """Every reply a test sees must be one its operation documents in /openapi.json: a documented HTTP
    status, an envelope code listed for it, and on success a `data` that validates (strictly, no
    undeclared field) against the declared reply model. The whole suite thereby keeps the OpenAPI
    document true. Operations that declare no reply model yet are not checked."""
    global _spec
    from pydantic import TypeAdapter

    from waterrev.local.openapi import documented_codes

    route = target.route
    module = _module_of(target)
    declared = _declared_routes(module).get((route.method, route.path))
    if declared is None or not declared.responses or 200 not in declared.responses:
        return
    if _spec is None:
        from waterrev.local.gateway import merged_openapi

        assert _targets is not None
        _spec = merged_openapi(_targets)
    codes = documented_codes(_spec, route.method, route.path)
    assert reply.status in codes, (
        f"{route.route_key} answered HTTP {reply.status}, undocumented: {reply.body}"
    )
    assert reply.code in codes[reply.status], (
        f"{route.route_key} answered code {reply.code} under HTTP {reply.status}, undocumented: {reply.body}"
    )
    if reply.status == 200:
        model = declared.responses[200]["content"]["application/json"]["model"]
        TypeAdapter(model).validate_python(reply.body, strict=True)


def _module_of(target: Target) -> Any:
    from waterrev.local.gateway import load_handler

    assert target.interface.function is not None
    return load_handler(target.interface.function)


def _declared_routes(module: Any) -> dict[tuple[str, str], Any]:
    app = getattr(module, "app", None)
    if app is None:
        return {}
    return {(r.method, r.openapi_path): r for r in app._static_routes + app._dynamic_routes}


def unique(prefix: str) -> str:
    return f"{prefix}{int(time.time() * 1000) % 10**8:08d}{next(_seq):04d}"


def admin_login(username: str = "admin", password: str = "admin123") -> str:
    reply = call("POST", "/admin-api/system/auth/login", {"username": username, "password": password})
    assert reply.code == 0, reply.body
    return str(reply.data["accessToken"])


def channel_login(channel_user_id: str, channel_type: str = "WECHAT") -> str:
    from waterrev.customers.channel import sign_channel_login
    from waterrev.settings import get_settings

    ts, nonce = int(time.time()), secrets.token_hex(8)
    secret = get_settings().channel_login_secret or ""
    signature = sign_channel_login(secret, channel_type, channel_user_id, ts, nonce)
    reply = call(
        "POST",
        "/app-api/customer/auth/channel-login",
        {
            "channelType": channel_type,
            "channelUserId": channel_user_id,
            "timestamp": ts,
            "nonce": nonce,
            "signature": signature,
        },
    )
    assert reply.code == 0, reply.body
    return str(reply.data["accessToken"])


GULOU_DEPT = 2  # demo depts: 1 group (root), 2 鼓楼营业所, 3 台江营业所
TAIJIANG_DEPT = 3


def new_customer(
    token: str, *, dept_id: int = GULOU_DEPT, mobile: str = "13712345678", **extra: Any
) -> dict[str, Any]:
    body = {
        "name": "测试客户",
        "custType": "RESIDENT",
        "mobile": mobile,
        "address": "鼓楼区测试路 1 号",
        "deptId": dept_id,
        "idType": "ID_CARD",
        "idNo": "11010519491231002X",
        "meterList": [{"meterNo": unique("M"), "caliber": "DN20"}],
        **extra,
    }
    reply = call("POST", "/admin-api/revenue/customer/create", body, token=token)
    assert reply.code == 0, reply.body
    return dict(reply.data)


def latest_verify_code(cust_id: int) -> str:
    """The code SYS-010 would deliver by SMS: read from the outbox (biz_message) before it is sent."""
    from waterrev.db import UnitOfWork

    with UnitOfWork() as uow:
        payload = uow.scalar(
            "SELECT payload FROM biz_message WHERE template_code = 'BIND_VERIFY_CODE' AND channel = 'SMS'"
            " AND cust_id = :c ORDER BY id DESC LIMIT 1",
            {"c": cust_id},
        )
    return str(payload["code"])


def cust_name(cust_id: int) -> str:
    """The customer's name as kept: what its owner types, with its id, to be sent a bind code."""
    return str(sql_scalar("SELECT name FROM biz_cust WHERE id = :c", {"c": cust_id}))


def bind(member_token: str, channel_user_id: str, cust_id: int, **extra: Any) -> Reply:
    sent = call(
        "POST",
        "/app-api/customer/auth/send-verify-code",
        {"custId": cust_id, "custName": cust_name(cust_id)},
        token=member_token,
    )
    assert sent.code == 0, sent.body
    body = {
        "action": "BIND",
        "channelType": "WECHAT",
        "channelUserId": channel_user_id,
        "custId": cust_id,
        "verifyCode": latest_verify_code(cust_id),
        **extra,
    }
    return call("POST", "/app-api/customer/account/bind", body, token=member_token)


# ---- added for the integration suite: direct SQL, own users, error-envelope checks ----------
_behind_engines: dict[str, Any] = {}


def _behind() -> Any:
    """The tests' own engine for looking behind the API: not the application's pool, so a test may
    read while it holds a unit of work open (which the application itself may never do)."""
    from sqlalchemy import create_engine

    from waterrev.db import database_url

    url = database_url().render_as_string(hide_password=False)
    if url not in _behind_engines:
        _behind_engines[url] = create_engine(url, pool_size=2, max_overflow=6)
    return _behind_engines[url]


def dispose_behind() -> None:
    for engine in _behind_engines.values():
        engine.dispose()
    _behind_engines.clear()


def sql_scalar(sql: str, params: dict[str, Any] | None = None) -> Any:
    """Read one value straight from the database (tests look behind the API)."""
    from waterrev.db import UnitOfWork

    with UnitOfWork(_behind()) as uow:
        return uow.scalar(sql, params or {})


def sql_all(sql: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    from waterrev.db import UnitOfWork

    with UnitOfWork(_behind()) as uow:
        return uow.all(sql, params or {})


def sql_scratch() -> Any:
    """A unit of work on the tests' own engine that is never committed: whatever a test writes in it
    is rolled back when it closes (to run a database function on made-up rows)."""
    from waterrev.db import UnitOfWork

    return UnitOfWork(_behind())


def sql_exec(sql: str, params: dict[str, Any] | None = None) -> Any:
    """Change data behind the API (expire a token, lift a lock); committed; returns RETURNING's value."""
    from waterrev.db import UnitOfWork

    with UnitOfWork(_behind()) as uow:
        result = uow.execute(sql, params or {})
        value = result.scalar() if result.returns_rows else None
        uow.commit()
    return value


def set_cust_mobile(cust_id: int, mobile: str | None) -> None:
    """A customer's reserved mobile changed behind the API, kept as the use cases keep it (sealed,
    waterrev.crypto): masked in clear, the value sealed and indexed; None clears it."""
    from waterrev import crypto
    from waterrev.db import UnitOfWork

    with UnitOfWork(_behind()) as uow:
        sealed = crypto.keys(uow.conn).pii(crypto.MOBILE, mobile)
        uow.execute(
            "UPDATE biz_cust SET mobile = :mobile, mobile_cipher = :mobile_cipher, mobile_index = :mobile_index"
            " WHERE id = :c",
            {**crypto.columns("mobile", sealed), "c": cust_id},
        )
        uow.commit()


def opened(table: str, column: str, where: str, params: dict[str, Any], kind: str = "mobile") -> str | None:
    """The sealed value of `column` in the one row of `table` that `where` names, opened (tests only)."""
    from waterrev import crypto
    from waterrev.db import UnitOfWork

    with UnitOfWork(_behind()) as uow:
        blob = uow.scalar(f"SELECT {column}_cipher FROM {table} WHERE {where}", params)
        return crypto.keys(uow.conn).open_pii(kind, blob)


def receiver_of(message: dict[str, Any]) -> str:
    """Where a biz_message row goes: an SMS's mobile is kept masked and sealed, and must open to the
    mobile; the masked form must be its mask (tests only)."""
    from waterrev import crypto
    from waterrev.db import UnitOfWork

    if message.get("receiver_cipher") is None:
        assert message["channel"] != "SMS", f"an SMS receiver kept in clear: {message['id']}"
        return str(message["receiver"])
    with UnitOfWork(_behind()) as uow:
        mobile = crypto.keys(uow.conn).open_pii(crypto.MOBILE, message["receiver_cipher"])
    assert mobile is not None and message["receiver"] == crypto.mask(crypto.MOBILE, mobile)
    return mobile


def new_admin_user(
    password: str = "Passw0rd!",
    *,
    dept_id: int = GULOU_DEPT,
    permissions: tuple[str, ...] | None = None,
    data_scope: str = "DEPT_AND_CHILD",
    status: int = 0,
) -> str:
    """A back-office user of its own (a fresh role): `permissions` None means every demo permission."""
    from waterrev.security import hash_password

    username = unique("u")
    role_code = unique("role")
    with_perms = "" if permissions is None else " AND permission = ANY(CAST(:perms AS varchar[]))"
    from waterrev.db import UnitOfWork

    with UnitOfWork() as uow:
        role = uow.scalar(
            "INSERT INTO system_role (code, name, data_scope) VALUES (:c, :c, :s) RETURNING id",
            {"c": role_code, "s": data_scope},
        )
        uow.execute(
            "INSERT INTO system_role_menu SELECT :r, id FROM system_menu WHERE status = 0" + with_perms,
            {"r": role, "perms": list(permissions or ())},
        )
        user = uow.scalar(
            "INSERT INTO system_users (username, password, nickname, dept_id, status)"
            " VALUES (:u, :p, :u, :d, :s) RETURNING id",
            {"u": username, "p": hash_password(password), "d": dept_id, "s": status},
        )
        uow.execute("INSERT INTO system_user_role VALUES (:u, :r)", {"u": user, "r": role})
        uow.commit()
    return username


def customer_id(code: str) -> int:
    return int(sql_scalar("SELECT id FROM biz_cust WHERE code = :c", {"c": code}))


def member_id(channel_user_id: str, channel_type: str = "WECHAT") -> int:
    return int(
        sql_scalar(
            "SELECT id FROM biz_channel_user WHERE channel_type = :t AND channel_user_id = :u",
            {"t": channel_type, "u": channel_user_id},
        )
    )


def audit_rows(object_type: str, object_id: object, operation: str | None = None) -> list[dict[str, Any]]:
    return sql_all(
        "SELECT * FROM biz_operat_log WHERE object_type = :t AND object_id = :o"
        " AND (CAST(:op AS varchar) IS NULL OR operation = :op) ORDER BY id",
        {"t": object_type, "o": str(object_id), "op": operation},
    )


def expect_error(reply: Reply, code: int, *, mentions: str | None = None) -> Reply:
    """An error answer: exactly {code, data, msg}, the catalogue's HTTP status, the field named in msg."""
    from waterrev.errors import ErrorCode

    assert set(reply.body) == {"code", "data", "msg"}, reply.body
    assert reply.code == code, reply.body
    statuses = {e.code: e.http_status for e in ErrorCode}
    assert reply.status == statuses[code], (reply.status, reply.body)
    if mentions is not None:
        assert mentions in reply.msg, reply.body
    return reply


# ---- added for the metering and pricing suite: meters, books, reading tasks, readings, pushes ----
BOOK_SAVE = "/admin-api/revenue/meter-book/save"
TASK_GENERATE = "/admin-api/revenue/meter-read/generate"
READING_CREATE = "/admin-api/revenue/reading-data/create"


def new_meter(token: str, *, dept_id: int = GULOU_DEPT, **meter: Any) -> int:
    """A new customer with one new meter (`meter`: extra meterList fields such as initialReading,
    maxReading); returns the meter id."""
    cust = new_customer(
        token, dept_id=dept_id, meterList=[{"meterNo": unique("M"), "caliber": "DN20", **meter}]
    )
    return int(cust["meterIds"][0])


def new_book(
    token: str,
    meter_ids: list[int],
    *,
    dept_id: int = GULOU_DEPT,
    read_cycle: str = "MONTHLY",
    area_code: str | None = None,
    code: str | None = None,
) -> dict[str, Any]:
    body = {
        "code": code or unique("BK-"),
        "name": "测试册本",
        "areaCode": area_code or unique("AR-"),
        "deptId": dept_id,
        "readCycle": read_cycle,
        "meterIds": meter_ids,
    }
    reply = call("POST", BOOK_SAVE, body, token=token)
    assert reply.code == 0, reply.body
    return dict(reply.data)


def generate(token: str, book_id: int, period: str) -> dict[str, Any]:
    reply = call("POST", TASK_GENERATE, {"billPeriod": period, "bookIds": [book_id]}, token=token)
    assert reply.code == 0, reply.body
    return dict(reply.data)


def task_of(meter_id: int, period: str) -> int:
    return int(
        sql_scalar(
            "SELECT id FROM biz_meter_read WHERE meter_id = :m AND bill_period = :p",
            {"m": meter_id, "p": period},
        )
    )


def read_time(period: str, day: int = 15, hour: int = 9) -> str:
    return f"{period}-{day:02d}T{hour:02d}:30:00+08:00"


def submit_reading(token: str, meter_id: int, period: str, value: str | int, **extra: Any) -> Reply:
    """Submit a manual reading on the meter's task of `period` (read mid-month)."""
    body = {
        "meterReadId": task_of(meter_id, period),
        "meterId": meter_id,
        "readTime": read_time(period),
        "currentReading": str(value),
        "readType": "MANUAL",
        **extra,
    }
    return call("POST", READING_CREATE, body, token=token)


def metered(token: str, *, dept_id: int = GULOU_DEPT, **meter: Any) -> tuple[int, int]:
    """A new meter in a new monthly book of its own: (meter id, book id)."""
    meter_id = new_meter(token, dept_id=dept_id, **meter)
    return meter_id, int(new_book(token, [meter_id], dept_id=dept_id)["bookId"])


def read_history(token: str, meter_id: int, book_id: int, readings: dict[str, Any]) -> None:
    """Tasks for each period and a valid (PASS) reading on each, in order."""
    for period, value in readings.items():
        generate(token, book_id, period)
        reply = submit_reading(token, meter_id, period, value)
        assert reply.code == 0 and reply.data["validateStatus"] == "PASS", reply.body


def last_reading(meter_id: int) -> dict[str, Any] | None:
    rows = sql_all("SELECT * FROM biz_last_reading WHERE meter_id = :m", {"m": meter_id})
    return rows[0] if rows else None


def signed_headers(
    body: str,
    *,
    secret: str,
    key_id: str = "key-1",
    timestamp: int | None = None,
    nonce: str | None = None,
) -> dict[str, str]:
    """The headers an outside platform signs its webhook call with (waterrev.webhook.sign)."""
    from waterrev.webhook import sign

    ts = str(int(time.time()) if timestamp is None else timestamp)
    nonce = nonce or secrets.token_hex(12)
    return {
        "X-Waterrev-Key-Id": key_id,
        "X-Waterrev-Timestamp": ts,
        "X-Waterrev-Nonce": nonce,
        "X-Waterrev-Signature": sign(secret, ts, nonce, body),
    }


# ---- added for the billing suite: bill generation (IF-REV-005), bills and their lines ------------
CHARGE_GENERATE = "/admin-api/revenue/charge/generate"


def charge_generate(token: str, period: str, *, due_date: str | None = None, **scope: Any) -> Reply:
    """POST IF-REV-005 for `period` (due date: the 15th of the next month unless given); `scope` holds
    readingBatchNo / customerIds / meterReadIds."""
    from waterrev.billing.bill_run import default_due_date

    body = {"billPeriod": period, "dueDate": due_date or default_due_date(period).isoformat(), **scope}
    return call("POST", CHARGE_GENERATE, body, token=token)


def charge_of_reading(reading_id: int) -> dict[str, Any] | None:
    rows = sql_all("SELECT * FROM biz_charge WHERE reading_id = :r", {"r": reading_id})
    return rows[0] if rows else None


def charge_lines(charge_id: int) -> list[dict[str, Any]]:
    """A bill's lines in the order they were written (component by component, tier by tier)."""
    return sql_all("SELECT * FROM biz_charge_detail WHERE charge_id = :c ORDER BY line_no", {"c": charge_id})


def arrears_of(cust_id: int) -> Any:
    return sql_scalar(
        "SELECT arrears_amount FROM biz_account WHERE cust_id = :c ORDER BY id LIMIT 1", {"c": cust_id}
    )


# ---- payments: a relay that hands SYS-009's notifications to the real IF-EXT-005 handler --------
class NotifyRelay:
    """A loopback HTTP server standing where API Gateway would: the raw body and headers of each
    notification go, as an API Gateway v2 event, to the ext_pay_notify handler; its answer goes back."""

    def __init__(self, path: str = "/open-api/pay/notify") -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        relay = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, fmt: str, *args: Any) -> None:
                return

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                # the path as posted (a payment or a refund notification), else the relay's own
                target = self.path if self.path.startswith("/open-api/pay/") else path
                reply = call(
                    "POST",
                    target,
                    raw_body=raw,
                    headers={k.lower(): v for k, v in self.headers.items()},
                )
                relay.answers.append(reply)
                body = json.dumps(reply.body).encode()
                self.send_response(reply.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.answers: list[Reply] = []
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}{path}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# ---- added for the payments suite: bills to pay, the partial-payment switch, signed notifications ----
def new_bills(
    token: str, periods: list[str], *, step: int = 20, dept_id: int = GULOU_DEPT
) -> tuple[int, list[dict[str, Any]]]:
    """A new customer (of `dept_id`) with one meter read in each period (`step` m3 a month) and billed by
    IF-REV-005; returns (custId, its bills oldest first)."""
    meter, book = metered(token, dept_id=dept_id)
    read_ids = []
    for n, period in enumerate(periods, start=1):
        generate(token, book, period)
        reply = submit_reading(token, meter, period, step * n)
        assert reply.code == 0, reply.body
        read_ids.append((period, reply.data))
    charges = []
    for period, data in read_ids:
        generated = charge_generate(token, period, meterReadIds=[data["meterReadId"]])
        assert generated.code == 0, generated.body
        charge = charge_of_reading(data["readingId"])
        assert charge is not None and charge["total_amount"] > 0, charge
        charges.append(charge)
    return int(charges[0]["cust_id"]), charges


def new_dept(parent: int | None = None, name: str | None = None) -> int:
    """A dept of its own under `parent` (default: the demo group's root), for values configured per dept
    that no other test should see (decision 28)."""
    from waterrev.db import UnitOfWork

    with UnitOfWork() as uow:
        parent = parent or int(
            uow.scalar("SELECT id FROM system_dept WHERE parent_id = 0 ORDER BY id LIMIT 1")
        )
        dept = uow.scalar(
            "INSERT INTO system_dept (name, parent_id, tree_path) SELECT :n, id, tree_path FROM system_dept"
            " WHERE id = :p RETURNING id",
            {"n": name or unique("测试营业所"), "p": parent},
        )
        uow.execute("UPDATE system_dept SET tree_path = tree_path || id || '/' WHERE id = :id", {"id": dept})
        uow.commit()
    return int(dept)


def set_param(
    token: str, code: str, value: str, *, dept_id: int | None, effective: str | None = None
) -> dict[str, Any]:
    """IF-REV-012: a RULE parameter `code` in the scope of `dept_id` (GLOBAL when None), ACTIVE from
    `effective` (CREATE the first time in that scope, else UPDATE: a new version)."""
    body: dict[str, Any] = {"configType": "RULE", "configCode": code, "configValue": value}
    if dept_id is not None:
        body["deptId"] = dept_id
    if effective is not None:
        body["effectiveDate"] = effective
    reply = call("POST", "/admin-api/revenue/parameter/config", {"action": "CREATE", **body}, token=token)
    if reply.code == 409:
        reply = call("POST", "/admin-api/revenue/parameter/config", {"action": "UPDATE", **body}, token=token)
    assert reply.code == 0, reply.body
    return dict(reply.data)


def charge_row(charge_id: int) -> dict[str, Any]:
    return sql_all("SELECT * FROM biz_charge WHERE id = :c", {"c": charge_id})[0]


def set_allow_partial(token: str, value: bool) -> None:
    """RULE revenue.collection.allow-partial, ACTIVE with `value` (CREATE the first time, else UPDATE)."""
    body = {
        "configType": "RULE",
        "configCode": "revenue.collection.allow-partial",
        "configValue": "true" if value else "false",
    }
    reply = call("POST", "/admin-api/revenue/parameter/config", {"action": "CREATE", **body}, token=token)
    if reply.code != 0:
        reply = call("POST", "/admin-api/revenue/parameter/config", {"action": "UPDATE", **body}, token=token)
    assert reply.code == 0, reply.body


def signed_notification(
    private_pem: str,
    payload: dict[str, Any],
    *,
    serial: str | None = None,
    timestamp: int | None = None,
    nonce: str | None = None,
) -> tuple[dict[str, str], bytes]:
    """A SYS-009 notification as the platform sends it: (headers, raw body), RSA-signed with paysign."""
    from waterrev.adapters import paysign

    raw = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
    ts = str(int(time.time()) if timestamp is None else timestamp)
    nonce = nonce or secrets.token_hex(16)
    if serial is None:
        serial = paysign.key_serial(paysign.public_pem_of(private_pem))
    return {
        "content-type": "application/json; charset=utf-8",
        "x-sys009-timestamp": ts,
        "x-sys009-nonce": nonce,
        "x-sys009-serial": serial,
        "x-sys009-signature": paysign.sign_notification(private_pem, ts, nonce, raw),
    }, raw


def notify_payload(
    trade_no: str, order_no: str, status: str, amount: Any, *, notify_time: str | None = None
) -> dict[str, Any]:
    """The body of one SYS-009 notification (docs: IF-EXT-005)."""
    import datetime as dt

    return {
        "id": secrets.token_hex(16),
        "tradeNo": trade_no,
        "businessOrderNo": order_no,
        "tradeStatus": status,
        "tradeAmount": str(amount),
        "successAmount": str(amount) if status == "SUCCESS" else "0.00",
        "channelCode": "WECHAT",
        "notifyTime": notify_time or dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }


def wait_for(predicate: Any, timeout_s: float = 10.0, what: str = "condition") -> Any:
    """Poll until `predicate()` is truthy; its value."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def call_raw(method: str, path: str, *, token: str | None = None) -> dict[str, Any]:
    """Like `call`, but the Lambda's result as it is (for answers that are not JSON, e.g. a PNG)."""
    global _targets
    if _targets is None:
        _targets = build_targets()
    headers = {"user-agent": "pytest", **({"authorization": f"Bearer {token}"} if token else {})}
    for target in _targets:
        match = target.pattern.match(path) if target.route.method == method else None
        if match:
            event = to_event(method, path, "", headers, b"", target, match.groupdict(), "10.0.0.8")
            with sqltrace.interface(target.interface.if_id):
                return dict(
                    target.environments.invoke(event, FakeLambdaContext(target.interface.function or "-"))
                )
    raise AssertionError(f"no route for {method} {path}")


# ---- added for the notifications suite: offices with their own reminder parameters, overdue bills,
# ---- and a relay that hands SYS-010's result callbacks to the real IF-REV-013 webhook route ------------
ROOT_DEPT = 1
REMINDER_TASK = "/admin-api/revenue/reminder/task"


def new_office(token: str, params: dict[str, str] | None = None) -> int:
    """A dept of its own under the company (so its customers are this test's alone), with reminder
    parameters of its own (IF-REV-012 RULE, scoped to the dept; no quiet hours unless given)."""
    dept = int(
        sql_exec(
            "INSERT INTO system_dept (name, parent_id, tree_path) VALUES (:n, :p, '') RETURNING id",
            {"n": unique("催缴所"), "p": ROOT_DEPT},
        )
    )
    sql_exec(
        "UPDATE system_dept SET tree_path = (SELECT tree_path FROM system_dept WHERE id = :p) || id || '/'"
        " WHERE id = :d",
        {"p": ROOT_DEPT, "d": dept},
    )
    # no quiet hours unless a test asks for them: these tests run at any time of day
    for code, value in {"revenue.reminder.quiet-hours": "00:00-00:00", **(params or {})}.items():
        reply = call(
            "POST",
            "/admin-api/revenue/parameter/config",
            {
                "action": "CREATE",
                "configType": "RULE",
                "configCode": code,
                "configValue": value,
                "deptId": dept,
            },
            token=token,
        )
        assert reply.code == 0, reply.body
    return dept


def overdue_bills(cust_id: int, owed: list[str], *, days_overdue: int = 40) -> list[int]:
    """Bills of the customer, one per month going back, each `days_overdue` days (and a month more per
    bill) past its due date, unpaid: written behind the API (billing is not what these tests are about)."""
    import datetime as dt

    account = sql_scalar("SELECT id FROM biz_account WHERE cust_id = :c ORDER BY id LIMIT 1", {"c": cust_id})
    today = dt.date.today()
    ids = []
    for n, amount in enumerate(owed):
        due = today - dt.timedelta(days=days_overdue + 30 * n)
        period = (due.replace(day=1) - dt.timedelta(days=1)).strftime("%Y-%m")
        ids.append(
            int(
                sql_exec(
                    "INSERT INTO biz_charge (code, cust_id, account_id, bill_period, usage_amount, total_amount,"
                    " paid_amount, status, due_date) VALUES (:code, :c, :a, :p, 10, :t, 0, 'UNPAID', :due) RETURNING id",
                    {"code": unique("ZDR"), "c": cust_id, "a": account, "p": period, "t": amount, "due": due},
                )
            )
        )
    return ids


def reminder_body(cust_id: int, charge_ids: list[int], **extra: Any) -> dict[str, Any]:
    """A valid IF-REV-013 create for these bills: the oldest period, the amount owed on them."""
    rows = sql_all(
        "SELECT bill_period, total_amount - paid_amount AS owed FROM biz_charge WHERE id = ANY(CAST(:ids AS bigint[]))",
        {"ids": charge_ids},
    )
    return {
        "custId": cust_id,
        "chargeIds": charge_ids,
        "billPeriod": min(r["bill_period"] for r in rows),
        "arrearsAmount": str(sum(r["owed"] for r in rows)),
        "strategyCode": "FIRST_NOTICE",
        "channelType": "SMS",
        "triggerType": "MANUAL",
        **extra,
    }


class ResultRelay:
    """A loopback HTTP server standing where API Gateway would for SYS-010's result callbacks: each goes,
    raw body and headers, to the IF-REV-013 handler's webhook route; its answer goes back."""

    def __init__(self) -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        relay = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, fmt: str, *args: Any) -> None:
                return

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                reply = call(
                    "POST",
                    "/open-api/message/result",
                    raw_body=raw,
                    headers={k.lower(): v for k, v in self.headers.items()},
                )
                relay.answers.append(reply)
                body = json.dumps(reply.body).encode()
                self.send_response(reply.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.answers: list[Reply] = []
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/open-api/message/result"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# ---- added for the billing lines suite: depts of a test's own, bill readers, RULE parameters ------
def rule(token: str, code: str, value: str, dept_id: int | None = None) -> None:
    """A RULE parameter through IF-REV-012: CREATE in the scope (GLOBAL or the dept), else UPDATE it."""
    body: dict[str, Any] = {"configType": "RULE", "configCode": code, "configValue": value}
    if dept_id is not None:
        body["deptId"] = dept_id
    reply = call("POST", "/admin-api/revenue/parameter/config", {"action": "CREATE", **body}, token=token)
    if reply.code != 0:
        reply = call("POST", "/admin-api/revenue/parameter/config", {"action": "UPDATE", **body}, token=token)
    assert reply.code == 0, reply.body


@dataclass
class Household:
    """A new customer with its meters (starting at 0) in a new book of its own."""

    cust_id: int
    account_id: int
    meter_ids: list[int]
    book_id: int

    def read(self, token: str, period: str, values: list[int | str], **extra: Any) -> list[int]:
        """Tasks of `period` and one reading (the dial) per meter; returns the reading ids."""
        generate(token, self.book_id, period)
        ids = []
        for meter, value in zip(self.meter_ids, values, strict=True):
            reply = submit_reading(token, meter, period, value, **extra)
            assert reply.code == 0 and reply.data["validateStatus"] == "PASS", reply.body
            ids.append(int(reply.data["readingId"]))
        return ids

    def bill(self, token: str, period: str) -> list[dict[str, Any]]:
        reply = charge_generate(token, period, customerIds=[self.cust_id])
        assert reply.code == 0 and reply.data["failureList"] == [], reply.body
        return sql_all(
            "SELECT * FROM biz_charge WHERE cust_id = :c AND bill_period = :p ORDER BY id",
            {"c": self.cust_id, "p": period},
        )


def household(token: str, *, meters: int = 1, dept_id: int = GULOU_DEPT, **customer: Any) -> Household:
    created = new_customer(
        token,
        dept_id=dept_id,
        meterList=[{"meterNo": unique("M"), "caliber": "DN20"} for _ in range(meters)],
        **customer,
    )
    meter_ids = [int(m) for m in created["meterIds"]]
    book = int(new_book(token, meter_ids, dept_id=dept_id)["bookId"])
    return Household(int(created["id"]), int(created["accountId"]), meter_ids, book)
