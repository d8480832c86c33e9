"""A local simulator of the SYS-010 message service (docs/SYS010.md), over real HTTP.

It takes signed messages (SMS, WeChat template, in-app, e-mail), answers "accepted", then calls the message's
callbackUrl back with the delivery result, signed with a webhook key (waterrev.webhook's headers), and
retries a callback that is not answered 2xx. It keeps the seed's idempotency key (eventNo + templateCode +
receiver): a message sent again is answered with the same messageId and delivered once.

It can be told to misbehave: answer late (`timeoutSeconds`: the message is taken, the answer comes too
late), answer 5xx (`fail5xx`: the next n requests, or `errorReceivers`: every request for those
receivers - a poison message), call back late, twice or never (`callback` LATE / TWICE / NEVER), FAIL
chosen numbers (`failReceivers`), refuse templates (`rejectTemplates`). A person running `make run`
sees what it received at its page (`/`), and each SMS text on the console (mobiles masked).

    python -m waterrev.local.sys010_sim --port 3010

From tests: `sim = start(callback_keys={"k1": secret})`, `sim.base_url`, `sim.behaviour(fail5xx=2)`,
`sim.messages()`, `sim.deliveries(receiver)`, `sim.wait_idle()`, `sim.stop()`.
"""

from __future__ import annotations

import argparse
import heapq
import html
import itertools
import json
import re
import secrets
import signal
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from http.server import ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import httpx

from waterrev.adapters import paysign
from waterrev.local.simhttp import SimHandler
from waterrev.masking import mask_mobile

CST = timezone(timedelta(hours=8))
CHANNELS = ("SMS", "WECHAT", "INBOX", "EMAIL")
DEFAULT_APP_ID = "waterrev-local"
DEFAULT_APP_SECRET = "sys010-local-secret-not-for-production"
CALLBACK_RETRY_S = (1.0, 2.0, 5.0, 10.0, 30.0)
MAX_BODY = 1 << 20
_MOBILE = re.compile(r"^1[3-9]\d{9}$")
_TEMPLATE = re.compile(r"^[A-Z][A-Z0-9_]{1,63}$")
TEMPLATES = {
    "BIND_VERIFY_CODE": "【水务】您的绑定验证码为 {code}，{ttlMinutes} 分钟内有效，请勿告知他人。",
    "REMIND_FIRST": "【水务】尊敬的客户，您 {billPeriod} 起的水费共 {arrearsAmount} 元已逾期，请尽快缴纳。",
    "REMIND_SECOND": "【水务】再次提醒：您 {billPeriod} 起的水费共 {arrearsAmount} 元仍未缴纳，请尽快缴纳。",
    "REMIND_PRE_STOP": "【水务】停水预告：您 {billPeriod} 起的水费共 {arrearsAmount} 元逾期未缴，逾期将依规停水。",
    "PAY_RESULT": "【水务】您已缴费 {amount} 元（{collectionCode}，{paymentChannel}），感谢您的支持。",
    "PROCESS_PROGRESS": "【水务】您的{businessTypeName}业务（{processCode}）：{actionName}，当前{nodeName}。{remark}",
}
_DEFAULT_BEHAVIOUR: dict[str, Any] = {
    "timeoutSeconds": 0,  # answer this late (the message is taken all the same)
    "fail5xx": 0,  # answer the next n requests 503 (taking nothing)
    "errorReceivers": [],  # answer every request for these receivers 500: a poison message
    "failReceivers": [],  # deliver to these receivers with result FAIL
    "callback": "NORMAL",  # NORMAL | LATE | TWICE | NEVER
    "callbackDelaySeconds": 2.0,  # LATE: this long after accepting
    "rejectTemplates": [],  # answer 422 TEMPLATE_NOT_FOUND for these templates
}


def _now() -> datetime:
    return datetime.now(CST)


def _err(status: int, code: str, message: str = "") -> tuple[int, dict[str, Any]]:
    return status, {"code": code, "message": message}


def receiver_key(channel: str, receiver: Mapping[str, Any]) -> str:
    """The receiver a message is for: the mobile, the openid, or the customer's inbox."""
    if channel == "SMS":
        return str(receiver.get("mobile") or "")
    if channel == "WECHAT":
        return str(receiver.get("openId") or "")
    if channel == "EMAIL":
        return str(receiver.get("email") or "")
    return str(receiver.get("inbox") or f"CUST:{receiver.get('customerId') or ''}")


def render(template: str, payload: Mapping[str, Any]) -> str:
    text = TEMPLATES.get(template)
    if text is None:
        return f"[{template}] " + json.dumps(payload, ensure_ascii=False)
    try:
        return text.format(**{k: v for k, v in payload.items()})
    except (KeyError, IndexError, ValueError):
        return f"[{template}] " + json.dumps(payload, ensure_ascii=False)


@dataclass
class _Message:
    message_id: str
    event_no: str
    template_code: str
    channel: str
    receiver: dict[str, Any]
    key: str
    payload: dict[str, Any]
    callback_url: str | None
    text: str
    received_at: datetime
    requests: int = 1  # how many times it was sent to us (the duplicates answered with the same id)
    result: str | None = None  # SUCCESS | FAIL once decided
    callbacks: list[dict[str, Any]] = field(default_factory=list)

    def view(self) -> dict[str, Any]:
        shown = dict(self.receiver)
        if shown.get("mobile"):
            shown["mobile"] = mask_mobile(str(shown["mobile"]))
        return {
            "messageId": self.message_id,
            "eventNo": self.event_no,
            "templateCode": self.template_code,
            "channel": self.channel,
            "receiver": shown,
            "payload": self.payload,
            "text": self.text,
            "receivedAt": self.received_at.isoformat(timespec="milliseconds"),
            "requests": self.requests,
            "result": self.result,
            "callbacks": list(self.callbacks),
        }


class Sim:
    """A running simulator; use `start()`. A context manager that stops on exit."""

    def __init__(
        self,
        *,
        host: str,
        port: int,
        app_id: str,
        app_secret: str,
        callback_keys: Mapping[str, str],
        callback_scale: float,
        echo: bool,
    ) -> None:
        self.app_id = app_id
        self._secret = app_secret
        self._keys = dict(callback_keys)
        self._scale = callback_scale
        self._echo = echo
        self._lock = threading.RLock()
        self._idle = threading.Condition(self._lock)
        self._stopping = threading.Event()
        self._messages: dict[str, _Message] = {}
        self._by_key: dict[str, str] = {}
        self._requests: list[dict[str, Any]] = []
        self._behaviour: dict[str, Any] = json.loads(json.dumps(_DEFAULT_BEHAVIOUR))
        self._nonces: dict[str, float] = {}
        self._seq = itertools.count(1)
        self._queue: list[tuple[float, int, str, int]] = []  # (due, seq, messageId, attempt)
        self._pending = 0  # callbacks scheduled or in flight
        self._generation = 0
        self._posts = ThreadPoolExecutor(max_workers=8, thread_name_prefix="sys010-sim-callback")
        self._http = httpx.Client(headers={"User-Agent": "sys010-sim/1"}, timeout=5.0)
        handler = type("_BoundHandler", (_Handler,), {"sim": self})
        self._server = ThreadingHTTPServer((host, port), handler)
        self._server.daemon_threads = True
        self._server.request_queue_size = 128
        self.base_url = f"http://{host}:{self._server.server_address[1]}"
        self._serve = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name="sys010-sim-http",
            daemon=True,
        )
        self._scheduler = threading.Thread(
            target=self._run_scheduler, name="sys010-sim-scheduler", daemon=True
        )
        self._serve.start()
        self._scheduler.start()

    # ------------------------------------------------------------------ python API
    def behaviour(self, **changes: Any) -> dict[str, Any]:
        status, payload = self._set_behaviour(changes)
        if status != 200:
            raise ValueError(payload["message"])
        return payload

    def messages(self) -> list[dict[str, Any]]:
        """Every message taken, oldest first."""
        with self._lock:
            return [m.view() for m in sorted(self._messages.values(), key=lambda m: m.received_at)]

    def requests(self) -> list[dict[str, Any]]:
        """Every request to /v1/messages and how it was answered, oldest first."""
        with self._lock:
            return [dict(r) for r in self._requests]

    def deliveries(self, receiver: str) -> list[dict[str, Any]]:
        """The messages delivered to one receiver (a mobile, an openid, CUST:<id>): each event once."""
        with self._lock:
            return [m.view() for m in self._messages.values() if m.key == receiver]

    def reset(self) -> None:
        with self._lock:
            self._messages.clear()
            self._by_key.clear()
            self._requests.clear()
            self._behaviour = json.loads(json.dumps(_DEFAULT_BEHAVIOUR))
            self._queue.clear()
            self._generation += 1
            self._pending = 0
            self._idle.notify_all()

    def wait_idle(self, timeout_s: float = 10.0) -> bool:
        """Wait until no callback is scheduled or in flight."""
        deadline = time.monotonic() + timeout_s
        with self._idle:
            while self._pending:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._idle.wait(min(left, 0.05))
            return True

    def stop(self) -> None:
        if self._stopping.is_set():
            return
        self._stopping.set()
        with self._idle:
            self._queue.clear()
            self._idle.notify_all()
        self._server.shutdown()
        self._server.server_close()
        self._scheduler.join(timeout=2)
        self._posts.shutdown(wait=False, cancel_futures=True)
        self._http.close()

    def __enter__(self) -> Sim:
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ the API
    def check_request(self, method: str, target: str, headers: Any, body: bytes) -> bool:
        ts, nonce = headers.get("X-Sys010-Timestamp", ""), headers.get("X-Sys010-Nonce", "")
        if headers.get("X-Sys010-App-Id", "") != self.app_id or not paysign.verify_request(
            self._secret, method, target, ts, nonce, body, headers.get("X-Sys010-Signature", "")
        ):
            return False
        now = time.time()
        with self._lock:
            if nonce in self._nonces:
                return False
            if len(self._nonces) > 50_000:
                for old in [n for n, at in self._nonces.items() if now - at > 2 * paysign.REQUEST_WINDOW_S]:
                    del self._nonces[old]
            self._nonces[nonce] = now
        return True

    def take(self, data: Any) -> tuple[int, dict[str, Any], float]:
        """(status, answer, seconds to wait before answering) for one POST /v1/messages."""
        if not isinstance(data, dict):
            return (*_err(400, "PARAM_ERROR", "body must be a JSON object"), 0.0)
        event_no, template = data.get("eventNo"), data.get("templateCode")
        channel, receiver = data.get("channel"), data.get("receiver")
        payload, callback_url = data.get("payload") or {}, data.get("callbackUrl")
        if not isinstance(event_no, str) or not 0 < len(event_no) <= 64:
            return (*_err(400, "PARAM_ERROR", "eventNo: 1-64 characters"), 0.0)
        if not isinstance(template, str) or not _TEMPLATE.match(template):
            return (*_err(400, "PARAM_ERROR", "templateCode: upper-case code"), 0.0)
        if channel not in CHANNELS:
            return (*_err(400, "PARAM_ERROR", f"channel must be one of {list(CHANNELS)}"), 0.0)
        if not isinstance(receiver, dict) or not isinstance(payload, dict):
            return (*_err(400, "PARAM_ERROR", "receiver and payload must be objects"), 0.0)
        if callback_url is not None and (
            not isinstance(callback_url, str) or urlsplit(callback_url).scheme not in ("http", "https")
        ):
            return (*_err(400, "PARAM_ERROR", "callbackUrl must be an http(s) URL"), 0.0)
        key = receiver_key(channel, receiver)
        with self._lock:
            behaviour = self._behaviour
            delay = float(behaviour["timeoutSeconds"])
            entry = {
                "eventNo": event_no,
                "templateCode": template,
                "channel": channel,
                "receiver": mask_mobile(key) if channel == "SMS" else key,
                "time": _now().isoformat(timespec="milliseconds"),
            }
            if behaviour["fail5xx"]:
                behaviour["fail5xx"] -= 1
                self._requests.append({**entry, "answer": 503})
                return (*_err(503, "SERVICE_UNAVAILABLE", "simulated outage"), 0.0)
            if key in behaviour["errorReceivers"]:
                self._requests.append({**entry, "answer": 500})
                return (*_err(500, "INTERNAL_ERROR", "simulated failure for this receiver"), 0.0)
            if template in behaviour["rejectTemplates"]:
                self._requests.append({**entry, "answer": 422})
                return (*_err(422, "TEMPLATE_NOT_FOUND", f"template {template}"), 0.0)
            if (channel == "SMS" and not _MOBILE.match(key)) or (channel in ("WECHAT", "EMAIL") and not key):
                self._requests.append({**entry, "answer": 422})
                return (*_err(422, "RECEIVER_INVALID", f"no usable {channel} receiver"), 0.0)
            dedup = f"{event_no}|{template}|{key}"
            known = self._messages.get(self._by_key.get(dedup, ""))
            if known is not None:
                known.requests += 1
                self._requests.append({**entry, "answer": 200, "duplicate": True})
                return (
                    200,
                    {
                        "messageId": known.message_id,
                        "eventNo": event_no,
                        "sendStatus": "ACCEPTED",
                        "duplicate": True,
                    },
                    delay,
                )
            message = _Message(
                message_id=f"M{_now():%Y%m%d%H%M%S}{next(self._seq):08d}",
                event_no=event_no,
                template_code=template,
                channel=channel,
                receiver=dict(receiver),
                key=key,
                payload=dict(payload),
                callback_url=callback_url,
                text=render(template, payload),
                received_at=_now(),
            )
            self._messages[message.message_id] = message
            self._by_key[dedup] = message.message_id
            self._requests.append({**entry, "answer": 200, "messageId": message.message_id})
            mode = behaviour["callback"]
            if callback_url and mode != "NEVER":
                wait = float(behaviour["callbackDelaySeconds"]) if mode == "LATE" else 0.05
                for copy in range(2 if mode == "TWICE" else 1):
                    self._schedule_locked(message.message_id, wait * self._scale + copy * 0.01, 1)
        if self._echo:
            shown = mask_mobile(key) if channel == "SMS" else key
            if template == "BIND_VERIFY_CODE" and channel == "SMS":
                print(f"[SYS-010 SMS] verification code for {shown}: {payload.get('code')}", flush=True)
            print(f"[SYS-010 {channel}] to {shown}: {message.text}", flush=True)
        return (
            200,
            {
                "messageId": message.message_id,
                "eventNo": event_no,
                "sendStatus": "ACCEPTED",
                "duplicate": False,
            },
            delay,
        )

    def _set_behaviour(self, data: Any) -> tuple[int, dict[str, Any]]:
        if not isinstance(data, dict):
            return _err(400, "PARAM_ERROR", "body must be a JSON object")
        changes: dict[str, Any] = {}
        for name, value in data.items():
            if name not in _DEFAULT_BEHAVIOUR:
                return _err(400, "PARAM_ERROR", f"unknown behaviour {name!r}")
            if name in ("timeoutSeconds", "callbackDelaySeconds"):
                ok = isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value <= 600
            elif name == "fail5xx":
                ok = isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 10_000
            elif name == "callback":
                ok = value in ("NORMAL", "LATE", "TWICE", "NEVER")
            else:
                ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
            if not ok:
                return _err(400, "PARAM_ERROR", f"bad value for {name}: {value!r}")
            changes[name] = value
        with self._lock:
            self._behaviour.update(changes)
            return 200, dict(self._behaviour)

    # ------------------------------------------------------------- callbacks
    def _schedule_locked(self, message_id: str, delay_s: float, attempt: int) -> None:
        if self._stopping.is_set():
            return
        heapq.heappush(self._queue, (time.monotonic() + delay_s, next(self._seq), message_id, attempt))
        self._pending += 1
        self._idle.notify_all()

    def _run_scheduler(self) -> None:
        while not self._stopping.is_set():
            with self._idle:
                now, due = time.monotonic(), []
                while self._queue and self._queue[0][0] <= now:
                    due.append(heapq.heappop(self._queue))
                if not due:
                    self._idle.wait(min(0.2, self._queue[0][0] - now) if self._queue else 0.2)
                    continue
                generation = self._generation
            for _, _, message_id, attempt in due:
                try:
                    self._posts.submit(self._call_back, message_id, attempt, generation)
                except RuntimeError:  # shut down
                    return

    def _call_back(self, message_id: str, attempt: int, generation: int) -> None:
        code: int | None = None
        error = None
        try:
            with self._lock:
                message = self._messages.get(message_id)
                if message is None or generation != self._generation:
                    return
                failed = message.key in self._behaviour["failReceivers"]
                message.result = "FAIL" if failed else "SUCCESS"
                url = message.callback_url
                body = json.dumps(
                    {
                        "messageId": message.message_id,
                        "eventNo": message.event_no,
                        "templateCode": message.template_code,
                        "channel": message.channel,
                        "receiver": message.receiver,
                        "sendStatus": message.result,
                        "reachStatus": "UNREACHABLE" if failed else "DELIVERED",
                        "sendTime": _now().isoformat(timespec="seconds"),
                        "resultMsg": "号码无法接通（模拟）" if failed else "已送达",
                    },
                    ensure_ascii=False,
                    separators=(",", ":"),
                )
                key_id, secret = next(iter(self._keys.items())) if self._keys else ("none", "")
            if not url:
                return
            from waterrev.webhook import sign

            ts, nonce = str(int(time.time())), secrets.token_hex(12)
            reply = self._http.post(
                url,
                content=body.encode(),
                headers={
                    "Content-Type": "application/json; charset=utf-8",
                    "X-Waterrev-Key-Id": key_id,
                    "X-Waterrev-Timestamp": ts,
                    "X-Waterrev-Nonce": nonce,
                    "X-Waterrev-Signature": sign(secret, ts, nonce, body),
                },
            )
            code = reply.status_code
        except (httpx.HTTPError, RuntimeError) as exc:
            error = type(exc).__name__
        finally:
            with self._idle:
                message = self._messages.get(message_id)
                if message is not None and generation == self._generation:
                    message.callbacks.append(
                        {
                            "attempt": attempt,
                            "answerCode": code,
                            "error": error,
                            "time": _now().isoformat(timespec="milliseconds"),
                        }
                    )
                    if not (code is not None and 200 <= code < 300) and attempt <= len(CALLBACK_RETRY_S):
                        self._schedule_locked(
                            message_id, CALLBACK_RETRY_S[attempt - 1] * self._scale, attempt + 1
                        )
                self._pending = max(0, self._pending - 1)
                self._idle.notify_all()

    # -------------------------------------------------------------- the page
    def page(self) -> str:
        rows = []
        for m in reversed(self.messages()):
            receiver = (
                m["receiver"].get("mobile") or m["receiver"].get("openId") or m["receiver"].get("inbox") or ""
            )
            rows.append(
                "<tr>"
                + "".join(
                    f"<td>{html.escape(str(v))}</td>"
                    for v in (
                        m["receivedAt"][11:19],
                        m["channel"],
                        receiver,
                        m["templateCode"],
                        m["text"],
                        m["eventNo"],
                        m["result"] or "…",
                        m["requests"],
                    )
                )
                + "</tr>"
            )
        head = "".join(
            f"<th>{h}</th>" for h in ("时间", "渠道", "接收方", "模板", "内容", "事件号", "结果", "请求次数")
        )
        return (
            '<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><meta http-equiv="refresh" content="5">'
            "<title>SYS-010 模拟消息服务</title></head><body><h1>SYS-010 模拟消息服务</h1>"
            f'<p>已收到 {len(rows)} 条消息（行为设置：<a href="/sim/behaviour">/sim/behaviour</a>，'
            'JSON：<a href="/sim/messages">/sim/messages</a>）</p>'
            f'<table border="1" cellpadding="4"><tr>{head}</tr>{"".join(rows)}</table></body></html>'
        )


class _Handler(SimHandler):
    sim: Sim
    server_version = "sys010-sim/1"
    protocol_version = "HTTP/1.1"  # keep-alive: a consumer's connection pool reuses its connections
    disable_nagle_algorithm = True  # headers and body leave as two writes: no 40 ms delayed-ACK stall

    def _route(self, method: str) -> None:
        body = self._body(MAX_BODY)
        if body is None:
            return
        path = urlsplit(self.path).path
        sim = self.sim
        if path == "/v1/messages" and method == "POST":
            if not sim.check_request(method, self.path, self.headers, body):
                self._send_json(
                    401, {"code": "SIGN_ERROR", "message": "signature, timestamp or nonce rejected"}
                )
                return
            try:
                data = json.loads(body) if body else None
            except ValueError:
                self._send_json(400, {"code": "PARAM_ERROR", "message": "body is not JSON"})
                return
            status, payload, delay = sim.take(data)
            if delay > 0 and sim._stopping.wait(delay):
                return
            self._send_json(status, payload)
        elif path == "/" and method == "GET":
            self._send(200, sim.page().encode(), "text/html; charset=utf-8")
        elif path == "/sim/messages" and method == "GET":
            self._send_json(200, {"data": sim.messages(), "requests": sim.requests()})
        elif path == "/sim/behaviour":
            try:
                data = json.loads(body) if body else {}
            except ValueError:
                data = None
            self._send_json(*sim._set_behaviour(data if method == "POST" else {}))
        elif path == "/sim/reset" and method == "POST":
            sim.reset()
            self._send_json(200, {"code": "OK"})
        else:
            self._send_json(404, {"code": "NOT_FOUND", "message": path})


def start(
    port: int = 0,
    app_id: str = DEFAULT_APP_ID,
    app_secret: str = DEFAULT_APP_SECRET,
    *,
    callback_keys: Mapping[str, str] | None = None,
    callback_scale: float = 1.0,
    host: str = "127.0.0.1",
    echo: bool = False,
) -> Sim:
    """Start a simulator on host:port (0: any free port). `callback_keys` {keyId: secret}: the webhook
    key its result callbacks are signed with (the first one); `callback_scale` multiplies its delays."""
    return Sim(
        host=host,
        port=port,
        app_id=app_id,
        app_secret=app_secret,
        callback_keys=callback_keys or {"sys010-local": secrets.token_hex(16)},
        callback_scale=callback_scale,
        echo=echo,
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m waterrev.local.sys010_sim", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=3010)
    parser.add_argument("--app-id", default=DEFAULT_APP_ID)
    parser.add_argument("--app-secret", default=DEFAULT_APP_SECRET)
    parser.add_argument("--quiet", action="store_true", help="do not print each message on the console")
    args = parser.parse_args(argv)
    key = secrets.token_hex(16)
    sim = start(
        args.port,
        args.app_id,
        args.app_secret,
        callback_keys={"sys010-local": key},
        host=args.host,
        echo=not args.quiet,
    )

    def _stop(*_: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _stop)
    print(
        f"SYS-010 simulator on {sim.base_url}  (received messages at {sim.base_url}/)\n"
        "  environment for SYS-002:\n"
        f"    WATERREV_SYS010_BASE_URL={sim.base_url}\n"
        f"    WATERREV_SYS010_APP_ID={args.app_id}\n"
        f"    WATERREV_SYS010_APP_SECRET={args.app_secret}\n"
        f"    WATERREV_WEBHOOK_KEYS='{json.dumps({'SYS010': {'sys010-local': key}})}'\n"
        "Ctrl-C stops it.",
        flush=True,
    )
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        sim.stop()


if __name__ == "__main__":
    main(sys.argv[1:])
