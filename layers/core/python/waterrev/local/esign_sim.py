"""A local simulator of the e-signature service (docs/ESIGN.md), over real HTTP.

It takes HMAC-signed signing requests, fetches the contract from the address it is given and checks its
SHA-256, plays the signer (automatically after a delay, or a person at its /sign/<requestNo> page, or a
test through /sim/tasks/<requestNo>/sign), produces the signed document (served at /v1/files/<requestNo>,
signed GETs only) with an evidence number and hash, and calls back signed (waterrev.webhook's scheme:
key id + HMAC-SHA256 over `timestamp\\nnonce\\nbody\\n`) with signStatus SUCCESS, FAIL or CANCEL. It
misbehaves on request: a slower signer, duplicate callbacks, a bad callback signature, no callback, a
hash that does not match the file, slow or 503 answers. State lives in memory behind one lock.

    python -m waterrev.local.esign_sim --port 3011

From tests: `sim = start()`, `sim.base_url`, `sim.behaviour(duplicate=2)`, `sim.sign(request_no, "FAIL")`,
`sim.callbacks()`, `sim.stop()`.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import html
import itertools
import json
import secrets
import signal
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from http.server import ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote, urlsplit

import httpx

from waterrev import webhook
from waterrev.adapters.esign import sign as request_signature
from waterrev.local.simhttp import SimHandler

CST = timezone(timedelta(hours=8))
DEFAULT_APP_ID = "waterrev-local"
DEFAULT_APP_SECRET = "esign-local-secret-not-for-production"
DEFAULT_KEY_ID = "esign-1"
DEFAULT_CALLBACK_SECRET = "esign-callback-secret-not-for-production"
MAX_BODY = 1 << 20
MAX_DOCUMENT = 20 << 20
WINDOW_S = 300
RETRY_S = (0.2, 0.5, 1.0, 2.0)  # a callback not written back is tried again after these (x scale)
STATUSES = ("SUCCESS", "FAIL", "CANCEL")
_DEFAULT_BEHAVIOUR: dict[str, Any] = {
    "signDelaySeconds": 0.05,  # between acceptance and the signer's verdict
    "outcome": "SUCCESS",  # the automatic signer's verdict: SUCCESS | FAIL | CANCEL
    "holdSign": False,  # wait for a person (/sign/<requestNo>) or a test (sim.sign)
    "duplicate": 1,  # copies of every callback
    "badSignature": False,  # sign callbacks with a wrong secret
    "noCallback": False,  # decide, but never call back
    "tamperHash": False,  # call back a hashValue that does not match the signed file
    "timeoutSeconds": 0.0,  # answer API calls this late
    "errors5xx": 0,  # answer the next N API calls 503
}


@dataclass
class _Task:
    request_no: str
    task_no: str
    contract_id: int
    contract_no: str
    title: str
    document: bytes
    signer_name: str
    notify_url: str | None
    status: str = "SIGNING"
    signed: bytes | None = None
    evidence_no: str | None = None
    signer_id: str | None = None
    signature_time: datetime | None = None
    result_msg: str | None = None

    def view(self, base_url: str) -> dict[str, Any]:
        return {
            "requestNo": self.request_no,
            "taskNo": self.task_no,
            "contractId": self.contract_id,
            "contractNo": self.contract_no,
            "taskStatus": self.status,
            "signUrl": f"{base_url}/sign/{self.request_no}",
            "evidenceNo": self.evidence_no,
            "signatureTime": self.signature_time.isoformat(timespec="seconds")
            if self.signature_time
            else None,
            "fileUrl": f"{base_url}/v1/files/{self.request_no}" if self.signed else None,
            "hashValue": hashlib.sha256(self.signed).hexdigest() if self.signed else None,
            "resultMsg": self.result_msg,
        }


class Sim:
    """The simulator: an HTTP server on host:port; timers play the signer and call back."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        app_id: str = DEFAULT_APP_ID,
        app_secret: str = DEFAULT_APP_SECRET,
        key_id: str = DEFAULT_KEY_ID,
        callback_secret: str = DEFAULT_CALLBACK_SECRET,
        retry_scale: float = 1.0,
    ) -> None:
        self.app_id, self._secret = app_id, app_secret
        self.key_id, self._callback_secret = key_id, callback_secret
        self.retry_scale = retry_scale
        self._lock = threading.Lock()
        self._tasks: dict[str, _Task] = {}
        self._requests: list[dict[str, Any]] = []
        self._callbacks: list[dict[str, Any]] = []
        self._nonces: dict[str, float] = {}
        self._seq = itertools.count(1)
        self._behaviour = dict(_DEFAULT_BEHAVIOUR)
        self._stopping = threading.Event()
        self._timers: list[threading.Timer] = []
        self._http = httpx.Client(timeout=5.0)
        handler = type("Handler", (_Handler,), {"sim": self})
        self._server = ThreadingHTTPServer((host, port), handler)
        self._server.daemon_threads = True
        self.base_url = f"http://{host}:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="esign-sim", daemon=True)
        self._thread.start()

    # ---- for tests and the person at the index page ------------------------------------------
    def behaviour(self, **changes: Any) -> dict[str, Any]:
        names = {
            "sign_delay_seconds": "signDelaySeconds",
            "hold_sign": "holdSign",
            "bad_signature": "badSignature",
            "no_callback": "noCallback",
            "tamper_hash": "tamperHash",
            "timeout_seconds": "timeoutSeconds",
            "errors_5xx": "errors5xx",
        }
        with self._lock:
            for key, value in changes.items():
                name = names.get(key, key)
                if name not in _DEFAULT_BEHAVIOUR:
                    raise ValueError(f"unknown behaviour {key}")
                if name == "outcome" and value not in STATUSES:
                    raise ValueError(f"outcome must be one of {STATUSES}")
                self._behaviour[name] = value
            return dict(self._behaviour)

    def reset(self) -> None:
        with self._lock:
            self._behaviour = dict(_DEFAULT_BEHAVIOUR)

    def requests(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._requests)

    def callbacks(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._callbacks)

    def task(self, request_no: str) -> dict[str, Any] | None:
        with self._lock:
            t = self._tasks.get(request_no)
            return t.view(self.base_url) if t else None

    def sign(self, request_no: str, status: str = "SUCCESS") -> dict[str, Any]:
        """The signer decides now (a held or pending task): SUCCESS, FAIL or CANCEL."""
        if status not in STATUSES:
            raise ValueError(f"signStatus must be one of {STATUSES}")
        with self._lock:
            if request_no not in self._tasks:
                raise KeyError(request_no)
        self._decide(request_no, status)
        return self.task(request_no) or {}

    def call_back_again(self, request_no: str) -> None:
        """Send the decided task's callback once more (a duplicate on demand)."""
        with self._lock:
            t = self._tasks.get(request_no)
            if t is None or t.status == "SIGNING":
                raise KeyError(request_no)
        self._call_back(t, copies=1)

    def settle(self, timeout_s: float = 10.0) -> None:
        """Wait until no signer or callback retry is pending (tests: one test's retries never reach
        the next test's behaviour)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self._lock:
                if not any(t.is_alive() for t in self._timers):
                    return
            time.sleep(0.02)

    def stop(self) -> None:
        self._stopping.set()
        with self._lock:
            timers, self._timers = self._timers, []
        for t in timers:
            t.cancel()
        self._server.shutdown()
        self._server.server_close()
        self._http.close()

    def __enter__(self) -> Sim:
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    # ---- internals -----------------------------------------------------------------------------
    def _later(self, fn: Any, *args: Any, delay: float) -> None:
        if self._stopping.is_set():
            return
        timer = threading.Timer(max(0.0, float(delay)), fn, args)
        timer.daemon = True
        with self._lock:
            self._timers = [t for t in self._timers if t.is_alive()]
            self._timers.append(timer)
        timer.start()

    def check(self, method: str, target: str, headers: Any, body: bytes) -> bool:
        ts, nonce = headers.get("X-Esign-Timestamp", ""), headers.get("X-Esign-Nonce", "")
        given = headers.get("X-Esign-Signature", "")
        if headers.get("X-Esign-App-Id") != self.app_id or not ts.isdigit() or not nonce:
            return False
        if abs(time.time() - int(ts)) > WINDOW_S:
            return False
        if not hmac.compare_digest(request_signature(self._secret, method, target, ts, nonce, body), given):
            return False
        with self._lock:
            now = time.time()
            if nonce in self._nonces:
                return False
            self._nonces[nonce] = now
            if len(self._nonces) > 100_000:
                self._nonces = {k: v for k, v in self._nonces.items() if now - v < WINDOW_S}
        return True

    def take_fault(self) -> tuple[float, bool]:
        with self._lock:
            fail = self._behaviour["errors5xx"] > 0
            if fail:
                self._behaviour["errors5xx"] -= 1
            return float(self._behaviour["timeoutSeconds"]), fail

    def _record(self, method: str, path: str, body: Any, status: int) -> None:
        with self._lock:
            self._requests.append(
                {
                    "time": datetime.now(CST).isoformat(timespec="seconds"),
                    "method": method,
                    "path": path,
                    "body": body,
                    "status": status,
                }
            )
            del self._requests[:-1000]

    def create(self, data: Any) -> tuple[int, dict[str, Any]]:
        if not isinstance(data, dict) or not isinstance(data.get("requestNo"), str):
            return 400, {"code": "PARAM_ERROR", "message": "requestNo is required"}
        with self._lock:
            known = self._tasks.get(data["requestNo"])
            if known is not None:  # idempotent by requestNo
                return 200, known.view(self.base_url)
        url, sha = data.get("documentUrl"), str(data.get("documentSha256") or "").lower()
        given = data.get("signer")
        signer: dict[str, Any] = given if isinstance(given, dict) else {}
        if not isinstance(url, str) or len(sha) != 64 or not signer.get("name"):
            return 400, {
                "code": "PARAM_ERROR",
                "message": "documentUrl, documentSha256 and signer.name are required",
            }
        try:
            reply = self._http.get(url)
        except httpx.HTTPError as exc:
            return 422, {"code": "DOCUMENT_UNREACHABLE", "message": str(exc)[:200]}
        if reply.status_code != 200 or len(reply.content) > MAX_DOCUMENT:
            return 422, {"code": "DOCUMENT_UNREACHABLE", "message": f"HTTP {reply.status_code}"}
        if hashlib.sha256(reply.content).hexdigest() != sha:
            return 422, {"code": "DOCUMENT_HASH_MISMATCH", "message": "the document's SHA-256 differs"}
        with self._lock:
            known = self._tasks.get(data["requestNo"])
            if known is not None:
                return 200, known.view(self.base_url)
            task = _Task(
                request_no=data["requestNo"],
                task_no=f"ST{next(self._seq):012d}",
                contract_id=int(data.get("contractId") or 0),
                contract_no=str(data.get("contractNo") or ""),
                title=str(data.get("title") or ""),
                document=reply.content,
                signer_name=str(signer["name"]),
                notify_url=data.get("notifyUrl"),
            )
            self._tasks[task.request_no] = task
            hold, delay = self._behaviour["holdSign"], self._behaviour["signDelaySeconds"]
            outcome = self._behaviour["outcome"]
        if not hold:
            self._later(self._decide, task.request_no, outcome, delay=delay)
        return 200, task.view(self.base_url)

    def _decide(self, request_no: str, status: str) -> None:
        with self._lock:
            t = self._tasks[request_no]
            if t.status != "SIGNING":
                return
            t.status, t.signer_id, t.signature_time = status, f"SIGNER-{t.task_no}", datetime.now(CST)
            if status == "SUCCESS":
                t.evidence_no = f"CZ{next(self._seq):014d}"
                stamp = (
                    f"\n--- 电子签章 ---\n签署人：{t.signer_name}\n签署时间：{t.signature_time.isoformat(timespec='seconds')}\n"
                    f"原文 SHA-256：{hashlib.sha256(t.document).hexdigest()}\n存证编号：{t.evidence_no}\n"
                )
                t.signed, t.result_msg = t.document + stamp.encode(), "签署完成"
            else:
                t.result_msg = "签署人拒签" if status == "FAIL" else "签署人撤销"
            copies = max(1, min(10, int(self._behaviour["duplicate"])))
        self._call_back(t, copies=copies)

    def _call_back(self, t: _Task, *, copies: int) -> None:
        with self._lock:
            if self._behaviour["noCallback"] or not t.notify_url:
                return
            view = t.view(self.base_url)
            if self._behaviour["tamperHash"] and view["hashValue"]:
                view["hashValue"] = hashlib.sha256(b"tampered" + (t.signed or b"")).hexdigest()
        body = {
            "contractId": t.contract_id,
            "requestNo": t.request_no,
            "signStatus": t.status,
            "signerId": t.signer_id,
            "signatureTime": view["signatureTime"],
            "evidenceNo": view["evidenceNo"],
            "fileUrl": view["fileUrl"],
            "hashValue": view["hashValue"],
            "resultMsg": t.result_msg,
        }
        body = {k: v for k, v in body.items() if v is not None}
        for _ in range(copies):
            self._post(t.notify_url, body)

    def _post(self, url: str | None, body: dict[str, Any], attempt: int = 0) -> None:
        if not url or self._stopping.is_set():
            return
        raw = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
        ts, nonce = str(int(time.time())), secrets.token_hex(12)
        with self._lock:
            secret = "not-the-key" if self._behaviour["badSignature"] else self._callback_secret
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "X-Waterrev-Key-Id": self.key_id,
            "X-Waterrev-Timestamp": ts,
            "X-Waterrev-Nonce": nonce,
            "X-Waterrev-Signature": webhook.sign(secret, ts, nonce, raw),
        }
        written: str | None = None
        try:
            reply = self._http.post(url, content=raw.encode(), headers=headers)
            code: int | None = reply.status_code
            answer = reply.text[:300]
            try:
                data = reply.json().get("data") or {}
                written = data.get("writeBackStatus") if isinstance(data, dict) else None
            except ValueError:
                pass
        except httpx.HTTPError as exc:
            code, answer = None, str(exc)
        with self._lock:
            self._callbacks.append(
                {
                    "time": datetime.now(CST).isoformat(timespec="seconds"),
                    "body": body,
                    "status": code,
                    "answer": answer,
                    "writeBackStatus": written,
                    "attempt": attempt,
                }
            )
            del self._callbacks[:-1000]
        retry = code is None or code >= 500 or written == "FAIL"
        if retry and attempt < len(RETRY_S):
            self._later(self._post, url, body, attempt + 1, delay=RETRY_S[attempt] * self.retry_scale)

    def file(self, request_no: str) -> bytes | None:
        with self._lock:
            t = self._tasks.get(request_no)
            return t.signed if t else None

    def index(self) -> str:
        with self._lock:
            tasks = [t.view(self.base_url) for t in self._tasks.values()][-50:]
            callbacks = self._callbacks[-30:]
            behaviour = dict(self._behaviour)
        rows = "".join(
            f"<tr><td><a href='/sign/{html.escape(t['requestNo'])}'>{html.escape(t['requestNo'])}</a></td>"
            f"<td>{html.escape(t['contractNo'])}</td><td>{t['taskStatus']}</td><td>{html.escape(str(t['evidenceNo']))}</td></tr>"
            for t in reversed(tasks)
        )
        calls = "".join(
            f"<tr><td>{c['time']}</td><td>{html.escape(str(c['body'].get('requestNo')))}</td>"
            f"<td>{c['body'].get('signStatus')}</td><td>{c['status']}</td><td>{html.escape(str(c['writeBackStatus']))}</td></tr>"
            for c in reversed(callbacks)
        )
        return (
            "<!doctype html><meta charset='utf-8'><title>电子签章服务（模拟）</title>"
            "<h1>电子签章服务（模拟）</h1>"
            f"<p>行为：<code>{html.escape(json.dumps(behaviour, ensure_ascii=False))}</code></p>"
            f"<h2>签署任务</h2><table border=1><tr><th>requestNo</th><th>合同</th><th>状态</th><th>存证</th></tr>{rows}</table>"
            f"<h2>回调</h2><table border=1><tr><th>时间</th><th>requestNo</th><th>signStatus</th><th>HTTP</th>"
            f"<th>writeBackStatus</th></tr>{calls}</table>"
        )

    def signer_page(self, request_no: str) -> str | None:
        with self._lock:
            t = self._tasks.get(request_no)
            if t is None:
                return None
            text, status = t.document.decode("utf-8", "replace"), t.status
        buttons = (
            "".join(
                f"<form method='post' action='/sign/{html.escape(request_no)}/{s}' style='display:inline'>"
                f"<button>{label}</button></form> "
                for s, label in (("SUCCESS", "签署"), ("FAIL", "拒签"), ("CANCEL", "撤销"))
            )
            if status == "SIGNING"
            else f"<p>已处理：{status}</p>"
        )
        return (
            "<!doctype html><meta charset='utf-8'><title>合同签署</title>"
            f"<h1>合同签署 {html.escape(request_no)}</h1><pre>{html.escape(text)}</pre>{buttons}"
        )


class _Handler(SimHandler):
    sim: Sim

    def _route(self, method: str) -> None:
        raw = self._body(MAX_BODY)
        if raw is None:
            return
        parts = urlsplit(self.path)
        segments = [unquote(s) for s in parts.path.strip("/").split("/")]
        sim = self.sim
        if parts.path in ("", "/") and method == "GET":
            self._send(200, sim.index().encode(), "text/html; charset=utf-8")
            return
        if segments[:1] == ["sign"]:
            self._signer(method, segments[1:])
            return
        if segments[:1] == ["sim"]:
            self._hooks(method, segments[1:], raw)
            return
        if segments[:1] != ["v1"]:
            self._send_json(404, {"code": "NOT_FOUND", "message": parts.path})
            return
        if not sim.check(method, self.path, self.headers, raw):
            self._send_json(401, {"code": "SIGN_ERROR", "message": "signature, timestamp or nonce rejected"})
            return
        delay, fail = sim.take_fault()
        if delay > 0 and sim._stopping.wait(delay):
            return
        if fail:
            self._send_json(503, {"code": "SYSTEM_BUSY", "message": "签章服务繁忙"})
            return
        rest = segments[1:]
        if len(rest) == 2 and rest[0] == "files" and method == "GET":
            content = sim.file(rest[1])
            if content is None:
                self._send_json(404, {"code": "FILE_NOT_EXIST", "message": rest[1]})
            else:
                self._send(200, content, "text/plain; charset=utf-8")
            return
        try:
            body = json.loads(raw) if raw.strip() else None
        except ValueError:
            self._send_json(400, {"code": "PARAM_ERROR", "message": "body is not JSON"})
            return
        if rest == ["sign-tasks"] and method == "POST":
            status, payload = sim.create(body)
        elif len(rest) == 2 and rest[0] == "sign-tasks" and method == "GET":
            view = sim.task(rest[1])
            status, payload = (200, view) if view else (404, {"code": "TASK_NOT_EXIST", "message": rest[1]})
        else:
            status, payload = 404, {"code": "NOT_FOUND", "message": parts.path}
        sim._record(method, parts.path, body, status)
        self._send_json(status, payload)

    def _signer(self, method: str, rest: list[str]) -> None:
        sim = self.sim
        if len(rest) == 1 and method == "GET":
            page = sim.signer_page(rest[0])
            if page is None:
                self._send_json(404, {"code": "TASK_NOT_EXIST", "message": rest[0]})
            else:
                self._send(200, page.encode(), "text/html; charset=utf-8")
        elif len(rest) == 2 and method == "POST" and rest[1] in STATUSES:
            try:
                sim.sign(rest[0], rest[1])
            except KeyError:
                self._send_json(404, {"code": "TASK_NOT_EXIST", "message": rest[0]})
                return
            page = sim.signer_page(rest[0]) or ""
            self._send(200, page.encode(), "text/html; charset=utf-8")
        else:
            self._send_json(404, {"code": "NOT_FOUND", "message": "/sign/" + "/".join(rest)})

    def _hooks(self, method: str, rest: list[str], raw: bytes) -> None:
        sim = self.sim
        try:
            data = json.loads(raw) if raw.strip() else {}
        except ValueError:
            data = None
        if not isinstance(data, dict):
            self._send_json(400, {"code": "PARAM_ERROR", "message": "body is not a JSON object"})
            return
        try:
            if rest == ["behaviour"]:
                self._send_json(200, sim.behaviour(**data) if method == "POST" else sim.behaviour())
            elif rest == ["requests"] and method == "GET":
                self._send_json(200, {"data": sim.requests()})
            elif rest == ["callbacks"] and method == "GET":
                self._send_json(200, {"data": sim.callbacks()})
            elif rest == ["reset"] and method == "POST":
                sim.reset()
                self._send_json(200, {"code": "OK"})
            elif len(rest) == 3 and rest[0] == "tasks" and rest[2] == "sign" and method == "POST":
                self._send_json(200, sim.sign(rest[1], str(data.get("signStatus") or "SUCCESS")))
            elif len(rest) == 3 and rest[0] == "tasks" and rest[2] == "callback" and method == "POST":
                sim.call_back_again(rest[1])
                self._send_json(200, {"code": "OK"})
            else:
                self._send_json(404, {"code": "NOT_FOUND", "message": "/sim/" + "/".join(rest)})
        except (KeyError, ValueError, TypeError) as exc:
            self._send_json(409, {"code": "SIM_CONFLICT", "message": str(exc)})


def start(port: int = 0, *, host: str = "127.0.0.1", retry_scale: float = 1.0, **kwargs: Any) -> Sim:
    return Sim(host=host, port=port, retry_scale=retry_scale, **kwargs)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m waterrev.local.esign_sim", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=3011)
    args = parser.parse_args(argv)
    sim = start(args.port, host=args.host)

    def _stop(*_: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _stop)
    print(
        f"e-signature simulator on {sim.base_url} (tasks and callbacks: {sim.base_url}/)\n"
        f"  WATERREV_ESIGN_BASE_URL={sim.base_url} WATERREV_ESIGN_APP_ID={sim.app_id}"
        f" WATERREV_ESIGN_APP_SECRET={DEFAULT_APP_SECRET}\n"
        f'  callbacks signed with key id {sim.key_id}: WATERREV_WEBHOOK_KEYS=\'{{"ESIGN": {{"{sim.key_id}":'
        f' "{DEFAULT_CALLBACK_SECRET}"}}}}\'\nCtrl-C stops it.',
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
