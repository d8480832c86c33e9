"""A local simulator of the SYS-008 invoice platform (docs/SYS008.md), over real HTTP.

It takes HMAC-signed applications, issues them asynchronously (an invoice number and a real PDF with
the Chinese title, amounts and lines, rendered by reportlab with the WenQuanYi Micro Hei font), writes
results back signed (waterrev.webhook's scheme, platform key id + secret), answers queries (one, or a
batch), plays void and red-ink with the red-letter confirmation form (红字确认单) of a 数电票, and
misbehaves on request: no callback, FAIL after SUCCESS, duplicate callbacks, slow answers (timeouts),
5xx answers, FAIL instead of SUCCESS. Everything it received is listed at its index page and
/sim/requests. State lives in memory behind one lock.

    python -m waterrev.local.sys008_sim --port 3008

From tests: `sim = start()`, `sim.base_url`, `sim.behaviour(no_callback=True)`, `sim.issue(sys_no)`,
`sim.red_form(form_no, "confirm")`, `sim.requests()`, `sim.stop()`.
"""

from __future__ import annotations

import argparse
import hmac
import html
import io
import itertools
import json
import os
import secrets
import signal
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import httpx

from waterrev import webhook
from waterrev.adapters.sys008 import sign
from waterrev.local.simhttp import SimHandler

CST = timezone(timedelta(hours=8))
DEFAULT_APP_ID = "waterrev-local"
DEFAULT_APP_SECRET = "sys008-local-secret-not-for-production"
DEFAULT_KEY_ID = "sys008-1"
DEFAULT_CALLBACK_SECRET = "sys008-callback-secret-not-for-production"
FONT_PATHS = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/wqy-microhei/wqy-microhei.ttc",
)
SELLER = ("福州市自来水有限公司（演示）", "91350100MA2XXXXXX0")
MAX_BODY = 1 << 20
WINDOW_S = 300
RETRY_S = (0.2, 0.5, 1.0, 2.0)  # a callback not answered 2xx is tried again after these (x scale)
_DEFAULT_BEHAVIOUR: dict[str, Any] = {
    "issueDelaySeconds": 0.05,  # between acceptance and the result
    "noCallback": False,  # issue, but never write back (compensation must find out)
    "failAfterSuccess": False,  # write SUCCESS, then FAIL for the same invoice
    "duplicate": 1,  # copies of every callback
    "timeoutSeconds": 0.0,  # answer API calls this late (the client gives up first)
    "errors5xx": 0,  # answer the next N API calls 503
    "failIssue": False,  # issue FAIL instead of SUCCESS
    "refuseApply": False,  # refuse applications (422 BUYER_INVALID)
    "holdIssue": False,  # accept, but issue only when told (sim.issue)
}


class FontMissing(RuntimeError):
    pass


def font_path() -> str:
    """A CJK TrueType font reportlab can embed; a clear error when there is none."""
    candidates = [os.environ.get("WATERREV_CJK_FONT", ""), *FONT_PATHS]
    for path in candidates:
        if path and Path(path).is_file():
            return path
    raise FontMissing(
        "the SYS-008 simulator renders invoices with a CJK TrueType font and found none: install Debian's"
        " fonts-wqy-microhei (`make install` does it as root) or set WATERREV_CJK_FONT to a .ttf/.ttc file"
    )


_FONT_LOCK = threading.Lock()
_FONT_READY: list[str] = []


def _font() -> str:
    with _FONT_LOCK:
        if not _FONT_READY:
            from reportlab.pdfbase import pdfmetrics
            from reportlab.pdfbase.ttfonts import TTFont

            pdfmetrics.registerFont(TTFont("WQY", font_path(), subfontIndex=0))
            _FONT_READY.append("WQY")
        return _FONT_READY[0]


def render_pdf(inv: _Invoice, *, red: bool = False) -> bytes:
    """The invoice as a one-page PDF: title, number, buyer, seller, lines, totals (红字 for a red-ink)."""
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.pdfgen import canvas

    font = _font()
    buf = io.BytesIO()
    page = canvas.Canvas(buf, pagesize=landscape(A4))
    width, height = landscape(A4)
    sign_ = -1 if red else 1
    title = "电子发票（普通发票）" if inv.invoice_type == "ELECTRONIC" else "增值税普通发票"
    page.setTitle(f"{'红字' if red else ''}{title} {inv.invoice_no}")
    page.setFont(font, 20)
    page.drawCentredString(width / 2, height - 50, f"{'红字' if red else ''}{title}")
    page.setFont(font, 10)
    number = inv.red_invoice_no if red else inv.invoice_no
    page.drawString(40, height - 80, f"发票号码：{number}")
    page.drawString(40, height - 95, f"开票日期：{(inv.issue_time or datetime.now(CST)):%Y年%m月%d日}")
    page.drawString(40, height - 115, f"购买方名称：{inv.buyer_name}")
    page.drawString(40, height - 130, f"购买方统一社会信用代码/纳税人识别号：{inv.buyer_tax_no or ''}")
    page.drawString(width / 2, height - 115, f"销售方名称：{SELLER[0]}")
    page.drawString(width / 2, height - 130, f"销售方统一社会信用代码/纳税人识别号：{SELLER[1]}")
    y = height - 165
    for x, text in ((40, "项目名称"), (300, "税率"), (380, "金额"), (480, "税额"), (580, "价税合计")):
        page.drawString(x, y, text)
    total_ex, total_tax = Decimal("0"), Decimal("0")
    for line in inv.lines:
        y -= 18
        ex, tax = Decimal(line["amountExTax"]) * sign_, Decimal(line["taxAmount"]) * sign_
        total_ex, total_tax = total_ex + ex, total_tax + tax
        rate = Decimal(line["taxRate"])
        page.drawString(40, y, str(line["itemName"]))
        page.drawString(300, y, "免税" if rate == 0 else f"{rate * 100:.0f}%")
        page.drawString(380, y, f"¥{ex:.2f}")
        page.drawString(480, y, f"¥{tax:.2f}")
        page.drawString(580, y, f"¥{Decimal(line['amount']) * sign_:.2f}")
    y -= 30
    page.drawString(
        40,
        y,
        f"合计：金额 ¥{total_ex:.2f}  税额 ¥{total_tax:.2f}  价税合计（小写）¥{total_ex + total_tax:.2f}",
    )
    page.drawString(40, y - 18, f"备注：申请单号 {inv.request_no}；受理号 {inv.sys_request_no}")
    if red:
        page.drawString(
            40,
            y - 36,
            f"红字发票信息确认单编号：{inv.red_form_no or '无需确认'}；对应蓝字发票 {inv.invoice_no}",
        )
    page.showPage()
    page.save()
    return buf.getvalue()


@dataclass
class _Operation:
    request_no: str
    operation_type: str  # INVALIDATE | RED_INK
    target_status: str
    status: str = "PENDING"  # PENDING | SUCCESS | FAIL
    red_form_no: str | None = None
    red_form_status: str | None = None
    result_msg: str | None = None

    def view(self, inv: _Invoice) -> dict[str, Any]:
        return {
            "requestNo": self.request_no,
            "operationType": self.operation_type,
            "targetStatus": self.target_status,
            "operationStatus": self.status,
            "redFormNo": self.red_form_no,
            "redFormStatus": self.red_form_status,
            "redInvoiceNo": inv.red_invoice_no
            if self.status == "SUCCESS" and self.operation_type == "RED_INK"
            else None,
            "redFileUrl": inv.red_file_url
            if self.status == "SUCCESS" and self.operation_type == "RED_INK"
            else None,
            "resultMsg": self.result_msg,
        }


@dataclass
class _Invoice:
    request_no: str
    sys_request_no: str
    customer_id: str
    buyer_name: str
    buyer_tax_no: str | None
    invoice_type: str
    total: str
    lines: list[dict[str, Any]]
    notify_url: str | None
    status: str = "PENDING"
    invoice_no: str | None = None
    issue_time: datetime | None = None
    result_msg: str | None = None
    file_url: str | None = None
    red_invoice_no: str | None = None
    red_file_url: str | None = None
    red_form_no: str | None = None
    operations: list[_Operation] = field(default_factory=list)
    pdf: bytes | None = None
    red_pdf: bytes | None = None

    def view(self) -> dict[str, Any]:
        return {
            "requestNo": self.request_no,
            "sysRequestNo": self.sys_request_no,
            "invoiceStatus": self.status,
            "invoiceCode": "",  # 数电票 have no separate code; the 20-digit number says it all
            "invoiceNo": self.invoice_no,
            "fileUrl": self.file_url,
            "issueTime": self.issue_time.isoformat(timespec="seconds") if self.issue_time else None,
            "totalAmount": self.total,
            "resultMsg": self.result_msg,
            "operations": [op.view(self) for op in self.operations],
        }


class Sim:
    """The simulator: an HTTP server on host:port, a worker that issues and writes back."""

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
        self._invoices: dict[str, _Invoice] = {}  # by sysRequestNo
        self._by_request: dict[str, str] = {}  # requestNo -> sysRequestNo
        self._ops: dict[str, str] = {}  # operation requestNo -> sysRequestNo
        self._forms: dict[str, str] = {}  # red form no -> sysRequestNo
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
        self._thread = threading.Thread(target=self._server.serve_forever, name="sys008-sim", daemon=True)
        self._thread.start()

    # ---- for tests and the person at the index page ------------------------------------------
    def behaviour(self, **changes: Any) -> dict[str, Any]:
        names = {
            "issue_delay_seconds": "issueDelaySeconds",
            "no_callback": "noCallback",
            "fail_after_success": "failAfterSuccess",
            "duplicate": "duplicate",
            "timeout_seconds": "timeoutSeconds",
            "errors_5xx": "errors5xx",
            "fail_issue": "failIssue",
            "refuse_apply": "refuseApply",
            "hold_issue": "holdIssue",
        }
        with self._lock:
            for key, value in changes.items():
                self._behaviour[names.get(key, key)] = value
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

    def invoice(self, key: str) -> dict[str, Any] | None:
        with self._lock:
            inv = self._find(key)
            return inv.view() if inv else None

    def issue(self, key: str, status: str | None = None) -> dict[str, Any]:
        """Issue a held (or pending) invoice now: SUCCESS, or the status given."""
        with self._lock:
            inv = self._find(key)
            if inv is None:
                raise KeyError(key)
        self._issue(inv.sys_request_no, status)
        return self.invoice(key) or {}

    def red_form(self, form_no: str, action: str) -> dict[str, Any]:
        """The other party on a red-letter form: confirm (04), deny (05/06), expire (07), withdraw (08)."""
        with self._lock:
            sys_no = self._forms.get(form_no)
            if sys_no is None:
                raise KeyError(form_no)
            inv = self._invoices[sys_no]
            op = next(o for o in inv.operations if o.red_form_no == form_no)
            if op.red_form_status not in ("02", "03"):
                raise ValueError(f"form {form_no} is {op.red_form_status}: nothing to {action}")
            if action == "confirm":
                op.red_form_status = "04"
            else:
                op.red_form_status = {
                    "deny": "05" if op.red_form_status == "02" else "06",
                    "expire": "07",
                    "withdraw": "08",
                }[action]
                op.status, op.result_msg = "FAIL", f"红字确认单已作废（{op.red_form_status}）"
        if action == "confirm":
            self._later(self._settle_operation, inv.sys_request_no, op.request_no)
        else:
            self._write_back(inv, op)
        return self.invoice(sys_no) or {}

    def seed_issued(self, request_nos: Sequence[str], status: str = "SUCCESS") -> list[str]:
        """Benchmarks: invoices the platform already holds in `status`, without callbacks. Their
        sysRequestNos."""
        out = []
        now = datetime.now(CST)
        with self._lock:
            for request_no in request_nos:
                n = next(self._seq)
                sys_no = f"SR{n:012d}"
                inv = _Invoice(
                    request_no, sys_no, "0", "基准测试", None, "ELECTRONIC", "0.00", [], None, status=status
                )
                if status == "SUCCESS":
                    inv.invoice_no, inv.issue_time = f"26{n:018d}", now
                    inv.file_url = f"{self.base_url}/v1/files/{sys_no}.pdf"
                self._invoices[sys_no] = inv
                self._by_request[request_no] = sys_no
                out.append(sys_no)
        return out

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
    def _find(self, key: str) -> _Invoice | None:
        sys_no = key if key in self._invoices else self._by_request.get(key) or self._ops.get(key)
        return self._invoices.get(sys_no) if sys_no else None

    def _later(self, fn: Any, *args: Any, delay: float | None = None) -> None:
        if self._stopping.is_set():
            return
        wait = self._behaviour["issueDelaySeconds"] if delay is None else delay
        timer = threading.Timer(max(0.0, float(wait)), fn, args)
        timer.daemon = True
        with self._lock:
            self._timers = [t for t in self._timers if t.is_alive()]
            self._timers.append(timer)
        timer.start()

    def check(self, method: str, target: str, headers: Any, body: bytes) -> bool:
        ts, nonce = headers.get("X-Sys008-Timestamp", ""), headers.get("X-Sys008-Nonce", "")
        given = headers.get("X-Sys008-Signature", "")
        if headers.get("X-Sys008-App-Id") != self.app_id or not ts.isdigit() or not nonce:
            return False
        if abs(time.time() - int(ts)) > WINDOW_S:
            return False
        expected = sign(self._secret, method, target, ts, nonce, body)
        if not hmac.compare_digest(expected, given):
            return False
        with self._lock:
            now = time.time()
            if nonce in self._nonces:
                return False
            self._nonces[nonce] = now
            if len(self._nonces) > 200_000:
                self._nonces = {k: v for k, v in self._nonces.items() if now - v < WINDOW_S}
        return True

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
            if len(self._requests) > 2000:
                del self._requests[:1000]

    def api(self, method: str, segments: list[str], query: str, body: Any) -> tuple[int, dict[str, Any]]:
        rest = segments[1:]
        if rest == ["invoices"] and method == "POST":
            return self._apply(body)
        if rest == ["invoices", "batch-query"] and method == "POST":
            nos = body.get("requestNos") if isinstance(body, dict) else None
            if not isinstance(nos, list) or len(nos) > 200:
                return 400, {"code": "PARAM_ERROR", "message": "requestNos: a list of at most 200"}
            with self._lock:
                views = [inv.view() for n in nos if (inv := self._find(str(n))) is not None]
            return 200, {"data": views}
        if rest == ["invoices"] and method == "GET":
            key = parse_qs(query).get("requestNo", [""])[0]
            return self._view(key)
        if len(rest) == 2 and rest[0] == "invoices" and method == "GET":
            return self._view(rest[1])
        if (
            len(rest) == 3
            and rest[0] == "invoices"
            and rest[2] in ("invalidate", "red-ink")
            and method == "POST"
        ):
            return self._operate(rest[1], "INVALIDATE" if rest[2] == "invalidate" else "RED_INK", body)
        return 404, {"code": "NOT_FOUND", "message": "/" + "/".join(segments)}

    def _view(self, key: str) -> tuple[int, dict[str, Any]]:
        with self._lock:
            inv = self._find(key)
            if inv is None:
                return 404, {"code": "INVOICE_NOT_EXIST", "message": key}
            return 200, inv.view()

    def _apply(self, data: Any) -> tuple[int, dict[str, Any]]:
        if not isinstance(data, dict) or not isinstance(data.get("requestNo"), str) or not data.get("lines"):
            return 400, {"code": "PARAM_ERROR", "message": "requestNo and lines are required"}
        with self._lock:
            known = self._find(data["requestNo"])
            if known is not None:  # idempotent by requestNo
                return 200, {
                    "requestNo": known.request_no,
                    "sysRequestNo": known.sys_request_no,
                    "invoiceStatus": known.status,
                }
            if self._behaviour["refuseApply"]:
                return 422, {"code": "BUYER_INVALID", "message": "购方信息校验未通过"}
            n = next(self._seq)
            sys_no = f"SR{n:012d}"
            inv = _Invoice(
                request_no=data["requestNo"],
                sys_request_no=sys_no,
                customer_id=str(data.get("customerId")),
                buyer_name=str(data.get("buyerName") or ""),
                buyer_tax_no=data.get("buyerTaxNo"),
                invoice_type=str(data.get("invoiceType") or "ELECTRONIC"),
                total=str(data.get("totalAmount") or "0.00"),
                lines=list(data["lines"]),
                notify_url=data.get("notifyUrl"),
            )
            self._invoices[sys_no] = inv
            self._by_request[inv.request_no] = sys_no
            hold = self._behaviour["holdIssue"]
        if not hold:
            self._later(self._issue, sys_no, None)
        return 200, {"requestNo": inv.request_no, "sysRequestNo": sys_no, "invoiceStatus": "PENDING"}

    def _issue(self, sys_no: str, status: str | None) -> None:
        with self._lock:
            inv = self._invoices[sys_no]
            if inv.status != "PENDING":
                return
            fail = status == "FAIL" or (status is None and self._behaviour["failIssue"])
            if fail:
                inv.status, inv.result_msg = "FAIL", "税控平台开具失败：购方税号不存在"
            else:
                n = int(sys_no[2:])
                inv.status, inv.result_msg = "SUCCESS", "开具成功"
                inv.invoice_no, inv.issue_time = f"26{n:018d}", datetime.now(CST)
                inv.file_url = f"{self.base_url}/v1/files/{sys_no}.pdf"
            fail_after = self._behaviour["failAfterSuccess"] and not fail
        self._write_back(inv, None)
        if fail_after:
            with self._lock:
                late = {**inv.view(), "invoiceStatus": "FAIL", "resultMsg": "税控平台撤销：重复开具"}
            self._post(inv.notify_url, {**_callback_of(late), "operationType": "ISSUE"})

    def _operate(self, key: str, kind: str, data: Any) -> tuple[int, dict[str, Any]]:
        if not isinstance(data, dict) or not isinstance(data.get("requestNo"), str):
            return 400, {"code": "PARAM_ERROR", "message": "requestNo is required"}
        with self._lock:
            inv = self._find(key)
            if inv is None:
                return 404, {"code": "INVOICE_NOT_EXIST", "message": key}
            op = next((o for o in inv.operations if o.request_no == data["requestNo"]), None)
            if op is not None:  # idempotent by requestNo
                return 200, {
                    "requestNo": op.request_no,
                    "operationStatus": op.status,
                    "redFormNo": op.red_form_no,
                    "redFormStatus": op.red_form_status,
                }
            if inv.status != "SUCCESS":
                return 409, {"code": "INVOICE_STATUS_INVALID", "message": f"invoice is {inv.status}"}
            for field_, given in (("invoiceNo", data.get("invoiceNo")),):
                if given and given != inv.invoice_no:
                    return 422, {"code": "ORIGINAL_MISMATCH", "message": f"{field_} does not match"}
            op = _Operation(data["requestNo"], kind, "INVALID" if kind == "INVALIDATE" else "RED_INK")
            inv.operations.append(op)
            self._ops[op.request_no] = inv.sys_request_no
            waits = False
            if kind == "RED_INK" and inv.invoice_type == "ELECTRONIC":
                op.red_form_no = f"HZ{next(self._seq):016d}"
                self._forms[op.red_form_no] = inv.sys_request_no
                # an enterprise buyer confirms the seller's form; a person needs no confirmation
                op.red_form_status = "02" if inv.buyer_tax_no else "01"
                waits = op.red_form_status == "02"
        if not waits:
            self._later(self._settle_operation, inv.sys_request_no, op.request_no)
        return 200, {
            "requestNo": op.request_no,
            "operationStatus": "PENDING",
            "redFormNo": op.red_form_no,
            "redFormStatus": op.red_form_status,
        }

    def _settle_operation(self, sys_no: str, op_no: str) -> None:
        with self._lock:
            inv = self._invoices[sys_no]
            op = next(o for o in inv.operations if o.request_no == op_no)
            if op.status != "PENDING":
                return
            op.status = "SUCCESS"
            inv.status = op.target_status
            if op.operation_type == "RED_INK":
                inv.red_invoice_no = f"26{next(self._seq) + 5 * 10**17:018d}"
                inv.red_file_url = f"{self.base_url}/v1/files/{sys_no}-red.pdf"
                inv.red_form_no = op.red_form_no
                op.result_msg = "红字发票开具成功"
            else:
                op.result_msg = "作废成功"
        self._write_back(inv, op)

    def _write_back(self, inv: _Invoice, op: _Operation | None) -> None:
        with self._lock:
            if self._behaviour["noCallback"] or not inv.notify_url:
                return
            copies = max(1, min(10, int(self._behaviour["duplicate"])))
            view = inv.view()
        if op is None:
            body = {**_callback_of(view), "operationType": "ISSUE"}
        else:
            with self._lock:
                ov = op.view(inv)
            body = {
                "requestNo": op.request_no,
                "originalRequestNo": inv.request_no,
                "sysRequestNo": inv.sys_request_no,
                "operationType": op.operation_type,
                "invoiceStatus": op.target_status if op.status == "SUCCESS" else "FAIL",
                "redFormNo": ov["redFormNo"],
                "redFormStatus": ov["redFormStatus"],
                "redInvoiceNo": ov["redInvoiceNo"],
                "redFileUrl": ov["redFileUrl"],
                "resultMsg": op.result_msg,
            }
        for _ in range(copies):
            self._post(inv.notify_url, {k: v for k, v in body.items() if v is not None})

    def _post(self, url: str | None, body: dict[str, Any], attempt: int = 0) -> None:
        if not url or self._stopping.is_set():
            return
        raw = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
        ts, nonce = str(int(time.time())), secrets.token_hex(12)
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "X-Waterrev-Key-Id": self.key_id,
            "X-Waterrev-Timestamp": ts,
            "X-Waterrev-Nonce": nonce,
            "X-Waterrev-Signature": webhook.sign(self._callback_secret, ts, nonce, raw),
        }
        try:
            reply = self._http.post(url, content=raw.encode(), headers=headers)
            code: int | None = reply.status_code
            answer = reply.text[:300]
        except httpx.HTTPError as exc:
            code, answer = None, str(exc)
        with self._lock:
            self._callbacks.append(
                {
                    "time": datetime.now(CST).isoformat(timespec="seconds"),
                    "body": body,
                    "status": code,
                    "answer": answer,
                    "attempt": attempt,
                }
            )
        if (code is None or code >= 500) and attempt < len(RETRY_S):
            self._later(self._post, url, body, attempt + 1, delay=RETRY_S[attempt] * self.retry_scale)

    def file(self, name: str) -> bytes | None:
        red = name.endswith("-red.pdf")
        sys_no = name.removesuffix(".pdf").removesuffix("-red")
        with self._lock:
            inv = self._invoices.get(sys_no)
            if inv is None or (inv.invoice_no is None) or (red and inv.red_invoice_no is None):
                return None
            cached = inv.red_pdf if red else inv.pdf
        if cached is not None:
            return cached
        pdf = render_pdf(inv, red=red)
        with self._lock:
            if red:
                inv.red_pdf = pdf
            else:
                inv.pdf = pdf
        return pdf

    def take_fault(self) -> tuple[float, bool]:
        """(delay before answering, answer 503 instead) for the next API call."""
        with self._lock:
            errors = int(self._behaviour["errors5xx"])
            if errors > 0:
                self._behaviour["errors5xx"] = errors - 1
            return float(self._behaviour["timeoutSeconds"]), errors > 0

    def index(self) -> str:
        with self._lock:
            invoices = list(self._invoices.values())[-50:]
            requests = self._requests[-50:]
            callbacks = self._callbacks[-50:]
            behaviour = dict(self._behaviour)

        def ops(i: _Invoice) -> str:
            return "; ".join(
                f"{o.operation_type} {o.status} {o.red_form_no or ''} {o.red_form_status or ''}"
                for o in i.operations
            )

        def pdf(i: _Invoice) -> str:
            return f"<a href=/sim/files/{i.sys_request_no}.pdf>PDF</a>" if i.file_url else ""

        rows = "".join(
            f"<tr><td>{html.escape(i.request_no)}</td><td>{i.sys_request_no}</td><td>{i.status}</td>"
            f"<td>{i.invoice_no or ''}</td><td>{html.escape(i.buyer_name)}</td><td>{i.total}</td>"
            f"<td>{pdf(i)}</td><td>{html.escape(ops(i))}</td></tr>"
            for i in reversed(invoices)
        )
        reqs = "".join(
            f"<tr><td>{r['time']}</td><td>{r['method']} {html.escape(r['path'])}</td><td>{r['status']}</td>"
            f"<td><code>{html.escape(json.dumps(r['body'], ensure_ascii=False)[:300])}</code></td></tr>"
            for r in reversed(requests)
        )
        cbs = "".join(
            f"<tr><td>{c['time']}</td><td>{c['status']}</td><td><code>{html.escape(json.dumps(c['body'], ensure_ascii=False)[:300])}</code></td>"
            f"<td>{html.escape(str(c['answer'])[:200])}</td></tr>"
            for c in reversed(callbacks)
        )
        return (
            "<!doctype html><meta charset=utf-8><title>SYS-008 simulator</title>"
            f"<h1>SYS-008 发票服务（模拟）</h1><p>behaviour: <code>{html.escape(json.dumps(behaviour))}</code>"
            " (POST /sim/behaviour)</p>"
            f"<h2>发票</h2><table border=1><tr><th>requestNo<th>sysRequestNo<th>状态<th>号码<th>抬头<th>金额<th>文件<th>后处理</tr>{rows}</table>"
            f"<h2>收到的请求</h2><table border=1>{reqs}</table><h2>回写</h2><table border=1>{cbs}</table>"
        )


def _callback_of(view: dict[str, Any]) -> dict[str, Any]:
    return {
        k: view.get(k)
        for k in (
            "requestNo",
            "sysRequestNo",
            "invoiceStatus",
            "invoiceCode",
            "invoiceNo",
            "fileUrl",
            "issueTime",
            "resultMsg",
        )
        if view.get(k) is not None
    }


class _Handler(SimHandler):
    sim: Sim
    server_version = "sys008-sim/1"
    protocol_version = "HTTP/1.1"

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
            self._send_json(503, {"code": "SYSTEM_BUSY", "message": "税控平台繁忙"})
            return
        if segments[:2] == ["v1", "files"] and len(segments) == 3 and method == "GET":
            pdf = sim.file(segments[2])
            if pdf is None:
                self._send_json(404, {"code": "FILE_NOT_EXIST", "message": segments[2]})
            else:
                self._send(200, pdf, "application/pdf")
            return
        try:
            body = json.loads(raw) if raw.strip() else None
        except ValueError:
            self._send_json(400, {"code": "PARAM_ERROR", "message": "body is not JSON"})
            return
        status, payload = sim.api(method, segments, parts.query, body)
        if not (method == "POST" and segments[-1:] == ["batch-query"]):
            sim._record(method, parts.path, body, status)
        self._send_json(status, payload)

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
            if len(rest) == 2 and rest[0] == "files" and method == "GET":  # for the person at the index page
                pdf = sim.file(rest[1])
                if pdf is None:
                    self._send_json(404, {"code": "FILE_NOT_EXIST", "message": rest[1]})
                else:
                    self._send(200, pdf, "application/pdf")
            elif rest == ["behaviour"]:
                self._send_json(200, sim.behaviour(**data) if method == "POST" else sim.behaviour())
            elif rest == ["requests"] and method == "GET":
                self._send_json(200, {"data": sim.requests()})
            elif rest == ["callbacks"] and method == "GET":
                self._send_json(200, {"data": sim.callbacks()})
            elif rest == ["reset"] and method == "POST":
                sim.reset()
                self._send_json(200, {"code": "OK"})
            elif len(rest) == 3 and rest[0] == "invoices" and rest[2] == "issue" and method == "POST":
                self._send_json(200, sim.issue(rest[1], data.get("status")))
            elif len(rest) == 3 and rest[0] == "red-forms" and method == "POST":
                self._send_json(200, sim.red_form(rest[1], rest[2]))
            else:
                self._send_json(404, {"code": "NOT_FOUND", "message": "/sim/" + "/".join(rest)})
        except (KeyError, ValueError) as exc:
            self._send_json(409, {"code": "SIM_CONFLICT", "message": str(exc)})


def start(port: int = 0, *, host: str = "127.0.0.1", retry_scale: float = 1.0, **kwargs: Any) -> Sim:
    font_path()  # fail at start, clearly, rather than at the first file
    return Sim(host=host, port=port, retry_scale=retry_scale, **kwargs)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m waterrev.local.sys008_sim", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=3008)
    args = parser.parse_args(argv)
    sim = start(args.port, host=args.host)

    def _stop(*_: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _stop)
    print(
        f"SYS-008 simulator on {sim.base_url} (what it received: {sim.base_url}/)\n"
        f"  WATERREV_SYS008_BASE_URL={sim.base_url} WATERREV_SYS008_APP_ID={sim.app_id}"
        f" WATERREV_SYS008_APP_SECRET={DEFAULT_APP_SECRET}\n"
        f'  writebacks signed with key id {sim.key_id}: WATERREV_WEBHOOK_KEYS=\'{{"SYS008": {{"{sim.key_id}":'
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
