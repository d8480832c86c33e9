"""A local simulator of the SYS-009 payment platform (docs/SYS009.md), over real HTTP.

It takes signed orders, shows a pay page a person can click, and delivers RSA-signed notifications
WeChat Pay v3 style: retried on a schedule until a 2xx answer, optionally duplicated, reordered,
with a wrong amount or a bad signature, or not at all. State lives in memory behind one lock.
Everything is bounded: each notification is tried at most 1 + len(schedule) times, and stop() ends
the server, the scheduler and the deliveries promptly.

    python -m waterrev.local.sys009_sim --port 3009 --retry-scale 0.01

From tests: `sim = start(retry_scale=0.001)`, then `sim.base_url`, `sim.pay(trade_no)`,
`sim.behaviour(duplicate=2)`, `sim.notifications()`, `sim.stop()`.
"""

from __future__ import annotations

import argparse
import heapq
import html
import itertools
import json
import os
import re
import secrets
import signal
import sys
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlencode, urlsplit

import httpx

from waterrev.adapters import paysign
from waterrev.local.simhttp import SimHandler

# WeChat Pay's notification retry intervals (seconds after the previous attempt): about 24 h in all.
WECHAT_RETRY_SCHEDULE_S: tuple[float, ...] = (
    15, 15, 30, 180, 1800, 1800, 1800, 1800, 3600, 10800, 10800, 10800, 21600, 21600,
)  # fmt: skip
CST = timezone(timedelta(hours=8))
CHANNELS = ("WECHAT", "ALIPAY")
SCENES = ("ONLINE", "COUNTER_QR")
DEFAULT_APP_ID = "waterrev-local"
DEFAULT_APP_SECRET = "sys009-local-secret-not-for-production"
QR_VALIDITY = timedelta(hours=2)  # Native code_url validity: the default expiry
MAX_BODY = 1 << 20
MAX_ITEMS = 500
MAX_DUPLICATE = 10
MAX_DELAY_S = 120.0
MAX_CONCURRENT_POSTS = 32
_AMOUNT = re.compile(r"^\d{1,12}\.\d{2}$")
_SIGNED_AMOUNT = re.compile(r"^-?\d{1,12}\.\d{2}$")
_DEFAULT_BEHAVIOUR: dict[str, Any] = {
    "duplicate": 1,
    "reorder": False,
    "wrongAmount": None,
    "badSignature": False,
    "timeoutSeconds": 0,
    "dropNotifications": False,
    "refundResult": "SUCCESS",  # the outcome of the next refunds: SUCCESS or FAIL
}
_SNAKE = {
    "duplicate": "duplicate",
    "reorder": "reorder",
    "wrong_amount": "wrongAmount",
    "bad_signature": "badSignature",
    "timeout_seconds": "timeoutSeconds",
    "drop_notifications": "dropNotifications",
    "refund_result": "refundResult",
}


class SimError(Exception):
    def __init__(self, code: str, http_status: int, message: str = "") -> None:
        super().__init__(f"{http_status} {code}: {message}")
        self.code, self.http_status, self.message = code, http_status, message


def _now() -> datetime:
    return datetime.now(CST)


def _iso(moment: datetime) -> str:
    return moment.astimezone(CST).isoformat(timespec="seconds")


def _fen(amount: Decimal) -> str:
    return f"{amount:.2f}"


def _err(status: int, code: str, message: str = "") -> tuple[int, dict[str, Any]]:
    return status, {"code": code, "message": message}


@dataclass(frozen=True)
class _Key:
    serial: str
    private_pem: str
    public_pem: str
    effective_time: str


@dataclass
class _Trade:
    trade_no: str
    business_order_no: str
    items: list[tuple[str, Decimal]]
    buyer: dict[str, str]
    trade_amount: Decimal
    channel_code: str
    scene: str
    notify_url: str
    expire_at: datetime
    pay_url: str
    pay_params: dict[str, str]
    status: str = "PAYING"
    success_amount: Decimal | None = None
    paid_at: datetime | None = None

    def created_view(self) -> dict[str, Any]:
        return {
            "tradeNo": self.trade_no,
            "businessOrderNo": self.business_order_no,
            "tradeStatus": self.status,
            "payUrl": self.pay_url,
            "payParams": dict(self.pay_params),
            "expireTime": _iso(self.expire_at),
        }

    def view(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "tradeNo": self.trade_no,
            "businessOrderNo": self.business_order_no,
            "tradeStatus": self.status,
            "tradeAmount": _fen(self.trade_amount),
            "channelCode": self.channel_code,
            "expireTime": _iso(self.expire_at),
        }
        if self.status == "SUCCESS" and self.success_amount is not None and self.paid_at is not None:
            out["successAmount"] = _fen(self.success_amount)
            out["paidTime"] = _iso(self.paid_at)
        return out


@dataclass
class _Refund:
    refund_no: str
    sys_refund_no: str
    trade_no: str
    amount: Decimal
    notify_url: str
    status: str = "PROCESSING"
    outcome: str = "SUCCESS"
    finished_at: datetime | None = None

    def view(self) -> dict[str, Any]:
        out = {
            "refundNo": self.refund_no,
            "sysRefundNo": self.sys_refund_no,
            "tradeNo": self.trade_no,
            "refundAmount": _fen(self.amount),
            "refundStatus": self.status,
        }
        if self.finished_at is not None:
            out["finishTime"] = _iso(self.finished_at)
        return out


@dataclass
class _Notice:
    """One notification: the same body (and id) on every attempt; each attempt is signed afresh."""

    trade_no: str
    notice_id: str
    status: str
    url: str
    body: bytes
    copies: int
    bad_signature: bool
    generation: int
    follow: _Notice | None = None  # sent once this one's first attempt has finished
    attempt: int = 0


@dataclass
class _Round:
    notice: _Notice
    remaining: int
    acked: bool = False


@dataclass
class _State:
    trades: dict[str, _Trade] = field(default_factory=dict)
    refunds: dict[str, _Refund] = field(default_factory=dict)
    by_business: dict[str, str] = field(default_factory=dict)
    behaviour: dict[str, Any] = field(default_factory=lambda: dict(_DEFAULT_BEHAVIOUR))
    log: list[dict[str, Any]] = field(default_factory=list)
    nonces: dict[str, float] = field(default_factory=dict)


class Sim:
    """A running simulator. Use `start()`; a context manager that stops on exit."""

    def __init__(
        self,
        *,
        host: str,
        port: int,
        app_id: str,
        app_secret: str,
        retry_scale: float,
        retry_schedule: Sequence[float],
        notify_timeout_s: float,
        private_keys: Sequence[str] | None,
        key_file: Path | None,
    ) -> None:
        if retry_scale < 0:
            raise ValueError("retry_scale must not be negative")
        self.app_id = app_id
        self._secret = app_secret
        self._scale = retry_scale
        self._schedule = tuple(float(s) for s in retry_schedule)
        self._notify_timeout_s = notify_timeout_s
        self._key_file = key_file
        # None: refunds stay PROCESSING until finish_refunds() (tests decide when); seconds: settle after that
        self.auto_refund_s: float | None = None
        self._cond = threading.Condition(threading.RLock())
        self._stopping = threading.Event()
        self._state = _State()
        self._generation = 0
        self._queue: list[tuple[float, int, _Notice]] = []
        self._seq = itertools.count()
        self._rounds_in_flight = 0
        self._posts = threading.BoundedSemaphore(MAX_CONCURRENT_POSTS)
        self._threads: set[threading.Thread] = set()
        self._keys: list[_Key] = [self._key(pem) for pem in self._initial_keys(private_keys)]
        self._http = httpx.Client(headers={"User-Agent": "sys009-sim/1"})
        handler = type("_BoundHandler", (_Handler,), {"sim": self})
        self._server = ThreadingHTTPServer((host, port), handler)
        self._server.daemon_threads = True
        self.base_url = f"http://{host}:{self._server.server_address[1]}"
        self._serve_thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name="sys009-sim-http",
            daemon=True,
        )
        self._scheduler = threading.Thread(target=self._run_scheduler, name="sys009-sim-notify", daemon=True)
        self._serve_thread.start()
        self._scheduler.start()

    # ----------------------------------------------------------------- keys

    def _initial_keys(self, private_keys: Sequence[str] | None) -> list[str]:
        if private_keys:
            return list(private_keys)
        if self._key_file is not None and self._key_file.exists():
            pems = re.findall(
                r"-----BEGIN (?:RSA )?PRIVATE KEY-----.*?-----END (?:RSA )?PRIVATE KEY-----\n?",
                self._key_file.read_text(encoding="ascii"),
                flags=re.S,
            )
            if not pems:  # never overwrite a file we cannot read
                raise ValueError(f"{self._key_file}: no PEM private key (PKCS#8 or PKCS#1) in it")
            return pems
        pem = paysign.new_key_pair()[0]
        self._save_keys([pem])
        return [pem]

    def _save_keys(self, pems: list[str]) -> None:
        if self._key_file is None:
            return
        self._key_file.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self._key_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as out:
            out.write("".join(pems))

    @staticmethod
    def _key(private_pem: str) -> _Key:
        public = paysign.public_pem_of(private_pem)
        return _Key(paysign.key_serial(public), private_pem, public, _iso(_now()))

    @property
    def current_serial(self) -> str:
        with self._cond:
            return self._keys[-1].serial

    def public_keys(self) -> dict[str, str]:
        """{serial: publicKeyPem} of every key the platform has held, the current one last."""
        with self._cond:
            return {k.serial: k.public_pem for k in self._keys}

    def certificates(self) -> list[dict[str, str]]:
        """What GET /v1/certificates publishes."""
        with self._cond:
            return [
                {"serial": k.serial, "publicKeyPem": k.public_pem, "effectiveTime": k.effective_time}
                for k in self._keys
            ]

    def rotate_key(self, private_key_pem: str | None = None) -> str:
        """Add a key pair (generated unless given) and sign from now on with it; returns its serial."""
        key = self._key(private_key_pem or paysign.new_key_pair()[0])
        with self._cond:
            self._keys.append(key)
            self._save_keys([k.private_pem for k in self._keys])
        return key.serial

    # ------------------------------------------------------------ python API

    def pay(self, trade_no: str, status: str = "SUCCESS", amount: str | None = None) -> dict[str, Any]:
        """Mark the trade paid (or failed) and start its notifications; returns the trade."""
        code, payload = self._pay(trade_no, {"status": status, "amount": amount})
        if code != 200:
            raise SimError(payload["code"], code, payload.get("message", ""))
        return payload

    def behaviour(self, **changes: Any) -> dict[str, Any]:
        """Change misbehaviour (snake_case or camelCase names); returns the whole current set."""
        code, payload = self._set_behaviour({_SNAKE.get(k, k): v for k, v in changes.items()})
        if code != 200:
            raise SimError(payload["code"], code, payload.get("message", ""))
        return payload

    def notifications(self) -> list[dict[str, Any]]:
        """Every delivery attempt so far, oldest first."""
        with self._cond:
            return [dict(entry) for entry in self._state.log]

    def trade(self, trade_no: str) -> dict[str, Any] | None:
        with self._cond:
            trade = self._state.trades.get(trade_no)
            return trade.view() if trade else None

    def write_statements(
        self, root: Path, day: Any, misbehaviour: Any = None, *, on: Any = None
    ) -> dict[str, Decimal]:
        """Write the day's statements, ONLINE and COUNTER_QR (docs/SYS009.md 每日对账文件), into `root`
        from this platform's own record of the trades it settled (paid, by pay time in Beijing) -
        bent as a `recon_sim.Misbehaviour` says. `on`: the calendar day whose trades are reported as
        `day`'s (tests give their day a date of its own). Returns what each channel settled: what the
        platform pays over to the bank that day."""
        from waterrev.local import recon_sim

        with self._cond:
            paid = [
                (t.scene, recon_sim.Trade(t.business_order_no, t.success_amount, t.paid_at.astimezone(CST)))
                for t in self._state.trades.values()
                if t.status == "SUCCESS"
                and t.success_amount is not None
                and t.paid_at is not None
                and t.paid_at.astimezone(CST).date() == (on or day)
            ]
        settled = {}
        for scene in SCENES:
            trades = [t for s, t in paid if s == scene]
            _path, settled[scene] = recon_sim.write_statement(root, day, scene, trades, misbehaviour)
        return settled

    def _statements_hook(self, data: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """POST /sim/statements {"day": "YYYY-MM-DD"}: write that day's statements into
        WATERREV_RECON_DIR (or `root` in the body)."""
        import datetime as dt

        try:
            day = dt.date.fromisoformat(str(data.get("day")))
        except ValueError:
            return _err(400, "PARAM_ERROR", "day: YYYY-MM-DD")
        root = data.get("root") or os.environ.get("WATERREV_RECON_DIR")
        if not root:
            return _err(400, "PARAM_ERROR", "root: no WATERREV_RECON_DIR to write into")
        settled = self.write_statements(Path(str(root)), day)
        return 200, {"day": day.isoformat(), "settled": {k: _fen(v) for k, v in settled.items()}}

    def reset(self) -> None:
        """Forget trades, notifications (pending ones too), behaviour and nonces; keys stay."""
        with self._cond:
            self._state = _State()
            self._generation += 1
            self._queue.clear()
            self._cond.notify_all()

    def wait_idle(self, timeout_s: float = 5.0) -> bool:
        """Wait until no notification is queued or in flight (retries scheduled later count)."""
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while self._queue or self._rounds_in_flight:
                left = deadline - time.monotonic()
                if left <= 0 or self._stopping.is_set():
                    return False
                self._cond.wait(min(left, 0.05))
            return True

    def stop(self) -> None:
        if self._stopping.is_set():
            return
        self._stopping.set()
        with self._cond:
            self._queue.clear()
            self._cond.notify_all()
        self._server.shutdown()
        self._server.server_close()
        self._scheduler.join(timeout=2)
        # A delivery blocked on a slow receiver ends by itself within notify_timeout_s (daemon thread;
        # it schedules no retry once stopping): wait for it only briefly.
        deadline = time.monotonic() + 0.5
        for thread in list(self._threads):
            thread.join(timeout=max(0.0, deadline - time.monotonic()))
        self._http.close()

    def __enter__(self) -> Sim:
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    # ------------------------------------------------------------ order API

    def check_request(self, method: str, target: str, headers: Any, body: bytes) -> bool:
        ts, nonce = headers.get("X-Sys009-Timestamp", ""), headers.get("X-Sys009-Nonce", "")
        if headers.get("X-Sys009-App-Id", "") != self.app_id or not paysign.verify_request(
            self._secret, method, target, ts, nonce, body, headers.get("X-Sys009-Signature", "")
        ):
            return False
        now = time.time()
        with self._cond:
            seen = self._state.nonces
            if nonce in seen:
                return False
            if len(seen) > 10_000:
                for old in [n for n, at in seen.items() if now - at > 2 * paysign.REQUEST_WINDOW_S]:
                    del seen[old]
            seen[nonce] = now
        return True

    def request_delay(self) -> float:
        with self._cond:
            return float(self._state.behaviour["timeoutSeconds"])

    def sleep(self, seconds: float) -> bool:
        """Sleep, cut short by stop(); True when stopping."""
        return self._stopping.wait(seconds)

    def _create(self, data: Any) -> tuple[int, dict[str, Any]]:
        if not isinstance(data, dict):
            return _err(400, "PARAM_ERROR", "body must be a JSON object")
        bno = data.get("businessOrderNo")
        if not isinstance(bno, str) or not 0 < len(bno) <= 64 or not bno.isprintable():
            return _err(400, "PARAM_ERROR", "businessOrderNo: 1-64 printable characters")
        raw_items = data.get("orderItems")
        if not isinstance(raw_items, list) or not 0 < len(raw_items) <= MAX_ITEMS:
            return _err(400, "PARAM_ERROR", f"orderItems: 1-{MAX_ITEMS} items")
        items: list[tuple[str, Decimal]] = []
        for index, item in enumerate(raw_items):
            source = item.get("sourceId") if isinstance(item, dict) else None
            amount = _amount(item.get("amount") if isinstance(item, dict) else None)
            if not isinstance(source, str) or not source or amount is None or amount <= 0:
                return _err(400, "PARAM_ERROR", f"orderItems[{index}]: sourceId and a positive amount")
            items.append((source, amount))
        buyer = data.get("buyer")
        if (
            not isinstance(buyer, dict)
            or not isinstance(buyer.get("customerId"), str)
            or not buyer["customerId"]
        ):
            return _err(400, "PARAM_ERROR", "buyer.customerId is required")
        if buyer.get("openId") is not None and not isinstance(buyer["openId"], str):
            return _err(400, "PARAM_ERROR", "buyer.openId must be a string")
        total = _amount(data.get("tradeAmount"))
        if total is None or total <= 0:
            return _err(400, "PARAM_ERROR", 'tradeAmount: a positive amount with two places, e.g. "12.30"')
        channel, scene = data.get("channelCode"), data.get("scene", "ONLINE")
        if channel not in CHANNELS:
            return _err(400, "PARAM_ERROR", f"channelCode must be one of {list(CHANNELS)}")
        if scene not in SCENES:
            return _err(400, "PARAM_ERROR", f"scene must be one of {list(SCENES)}")
        notify_url = data.get("notifyUrl")
        if not isinstance(notify_url, str) or urlsplit(notify_url).scheme not in ("http", "https"):
            return _err(400, "PARAM_ERROR", "notifyUrl must be an http(s) URL")
        now = _now()
        expire_at = now + QR_VALIDITY
        if data.get("expireTime") is not None:
            try:
                expire_at = datetime.fromisoformat(str(data["expireTime"]))
            except ValueError:
                return _err(400, "PARAM_ERROR", "expireTime must be ISO-8601")
            if expire_at.utcoffset() is None:
                return _err(400, "PARAM_ERROR", "expireTime must carry an offset, e.g. +08:00")
            if expire_at <= now:
                return _err(400, "PARAM_ERROR", "expireTime is in the past")
        if sum((a for _, a in items), Decimal("0")) != total:
            return _err(400, "AMOUNT_MISMATCH", "tradeAmount must equal the sum of orderItems[].amount")
        with self._cond:
            self._expire_locked()
            known = self._state.trades.get(self._state.by_business.get(bno, ""))
            if known is not None:
                if known.status in ("CLOSED", "FAIL"):
                    return _err(409, "ORDER_CLOSED", f"trade {known.trade_no} is {known.status}")
                if (known.trade_amount, known.items, known.channel_code) != (total, items, channel):
                    return _err(409, "ORDER_MISMATCH", "same businessOrderNo with other items or channel")
                return 200, known.created_view()
            trade_no = f"T{now:%Y%m%d%H%M%S}{secrets.token_hex(4).upper()}"
            trade = _Trade(
                trade_no=trade_no,
                business_order_no=bno,
                items=items,
                buyer={
                    k: str(v) for k, v in buyer.items() if k in ("customerId", "openId") and v is not None
                },
                trade_amount=total,
                channel_code=channel,
                scene=scene,
                notify_url=notify_url,
                expire_at=expire_at,
                pay_url=self._pay_url(trade_no, channel, scene),
                pay_params=self._pay_params(trade_no, bno, total, channel, notify_url),
            )
            self._state.trades[trade_no] = trade
            self._state.by_business[bno] = trade_no
            self._cond.notify_all()  # the scheduler watches expiry times
            return 200, trade.created_view()

    def _pay_url(self, trade_no: str, channel: str, scene: str) -> str:
        if scene == "ONLINE":
            return f"{self.base_url}/pay/{trade_no}"
        if channel == "WECHAT":
            return f"weixin://wxpay/bizpayurl?pr={secrets.token_urlsafe(6)}"
        return f"https://qr.alipay.com/bax{secrets.token_hex(10)}"

    def _pay_params(
        self, trade_no: str, bno: str, total: Decimal, channel: str, notify_url: str
    ) -> dict[str, str]:
        key = self._keys[-1]
        ts = str(int(time.time()))
        if channel == "WECHAT":
            nonce = secrets.token_hex(16)
            package = f"prepay_id=wx{_now():%d%H%M%S}{secrets.token_hex(12)}"
            sign = paysign.sign_rsa(key.private_pem, f"{self.app_id}\n{ts}\n{nonce}\n{package}\n".encode())
            return {
                "appId": self.app_id,
                "timeStamp": ts,
                "nonceStr": nonce,
                "package": package,
                "signType": "RSA",
                "paySign": sign,
            }
        fields = {
            "app_id": self.app_id,
            "biz_content": json.dumps(
                {
                    "out_trade_no": bno,
                    "total_amount": _fen(total),
                    "subject": f"水费 {bno}",
                    "trade_no": trade_no,
                },
                ensure_ascii=False,
                separators=(",", ":"),
            ),
            "charset": "utf-8",
            "method": "alipay.trade.app.pay",
            "notify_url": notify_url,
            "sign_type": "RSA2",
            "timestamp": _now().strftime("%Y-%m-%d %H:%M:%S"),
            "version": "1.0",
        }
        unsigned = "&".join(f"{k}={v}" for k, v in sorted(fields.items()))
        return {
            "orderStr": urlencode({**fields, "sign": paysign.sign_rsa(key.private_pem, unsigned.encode())})
        }

    def _get(self, trade_no: str) -> tuple[int, dict[str, Any]]:
        with self._cond:
            self._expire_locked()
            trade = self._state.trades.get(trade_no)
            return (200, trade.view()) if trade else _err(404, "ORDER_NOT_EXIST", trade_no)

    def _get_by_business(self, bno: str) -> tuple[int, dict[str, Any]]:
        if not bno:
            return _err(400, "PARAM_ERROR", "businessOrderNo is required")
        with self._cond:
            return self._get(self._state.by_business.get(bno, ""))

    def _close(self, trade_no: str) -> tuple[int, dict[str, Any]]:
        with self._cond:
            self._expire_locked()
            trade = self._state.trades.get(trade_no)
            if trade is None:
                return _err(404, "ORDER_NOT_EXIST", trade_no)
            if trade.status == "SUCCESS":
                return _err(409, "ORDER_PAID", f"trade {trade_no} is paid")
            trade.status = "CLOSED"
            return 200, trade.view()

    # ---------------------------------------------------------------- refunds

    def _refund(self, data: Any) -> tuple[int, dict[str, Any]]:
        """POST /v1/pay/refunds: pay back part or all of a paid trade. The same refundNo again answers the
        same refund; the result follows as a signed refund notification to notifyUrl."""
        if not isinstance(data, dict):
            return _err(400, "PARAM_ERROR", "body must be a JSON object")
        refund_no, trade_no, url = data.get("refundNo"), data.get("tradeNo"), data.get("notifyUrl")
        amount = _amount(data.get("refundAmount"))
        if not isinstance(refund_no, str) or not 1 <= len(refund_no) <= 64:
            return _err(400, "PARAM_ERROR", "refundNo is required (at most 64 characters)")
        if not isinstance(trade_no, str) or not trade_no:
            return _err(400, "PARAM_ERROR", "tradeNo is required")
        if amount is None or amount <= 0:
            return _err(400, "PARAM_ERROR", 'refundAmount: more than 0, two places, e.g. "12.30"')
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            return _err(400, "PARAM_ERROR", "notifyUrl must be an http(s) URL")
        with self._cond:
            known = self._state.refunds.get(refund_no)
            if known is not None:
                if known.trade_no != trade_no or known.amount != amount:
                    return _err(409, "REFUND_NO_USED", f"refundNo {refund_no} was used for another refund")
                return 200, known.view()
            trade = self._state.trades.get(trade_no)
            if trade is None:
                return _err(404, "ORDER_NOT_EXIST", trade_no)
            if trade.status != "SUCCESS" or trade.success_amount is None:
                return _err(409, "ORDER_NOT_PAID", f"trade {trade_no} is {trade.status}")
            refunded = sum(
                (
                    r.amount
                    for r in self._state.refunds.values()
                    if r.trade_no == trade_no and r.status != "FAIL"
                ),
                Decimal("0"),
            )
            if amount > trade.success_amount - refunded:
                return _err(
                    409,
                    "REFUND_AMOUNT_EXCEEDED",
                    f"at most {_fen(trade.success_amount - refunded)} of trade {trade_no} can be refunded",
                )
            refund = _Refund(
                refund_no,
                "R" + uuid.uuid4().hex[:20].upper(),
                trade_no,
                amount,
                url,
                outcome=str(self._state.behaviour["refundResult"]),
            )
            self._state.refunds[refund_no] = refund
            if self.auto_refund_s is not None:  # the local stack: the refund settles a moment later
                timer = threading.Timer(self.auto_refund_s, self.finish_refunds)
                timer.daemon = True
                timer.start()
            return 200, refund.view()

    def _get_refund(self, refund_no: str) -> tuple[int, dict[str, Any]]:
        with self._cond:
            refund = self._state.refunds.get(refund_no)
            return (200, refund.view()) if refund else _err(404, "REFUND_NOT_EXIST", refund_no)

    def finish_refunds(self) -> list[dict[str, Any]]:
        """Settle every PROCESSING refund with its outcome (behaviour refundResult when it was asked for)
        and send the signed refund notifications; returns the refunds settled. The local stack calls it
        after each refund request (a short while later); tests call it to decide when."""
        settled = []
        with self._cond:
            for refund in self._state.refunds.values():
                if refund.status != "PROCESSING":
                    continue
                refund.status, refund.finished_at = refund.outcome, _now()
                settled.append(refund.view())
                if not self._state.behaviour["dropNotifications"]:
                    self._schedule_locked(self._refund_notice_locked(refund), 0.0)
        return settled

    def refund(self, refund_no: str) -> dict[str, Any] | None:
        with self._cond:
            found = self._state.refunds.get(refund_no)
            return found.view() if found else None

    def _refund_notice_locked(self, refund: _Refund) -> _Notice:
        notice_id = uuid.uuid4().hex
        payload = {
            "id": notice_id,
            "eventType": "REFUND",
            **refund.view(),
            "notifyTime": _iso(_now()),
        }
        if refund.status == "FAIL":
            payload["failReason"] = "the payer's account refused the refund"
        return _Notice(
            trade_no=refund.trade_no,
            notice_id=notice_id,
            status="REFUND_" + refund.status,
            url=refund.notify_url,
            body=json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode(),
            copies=int(self._state.behaviour["duplicate"]),
            bad_signature=bool(self._state.behaviour["badSignature"]),
            generation=self._generation,
        )

    # ------------------------------------------------------------- sim hooks

    def _pay(self, trade_no: str, data: Any) -> tuple[int, dict[str, Any]]:
        if not isinstance(data, dict):
            return _err(400, "PARAM_ERROR", "body must be a JSON object")
        status = data.get("status") or "SUCCESS"
        if status not in ("SUCCESS", "FAIL"):
            return _err(400, "PARAM_ERROR", "status: SUCCESS or FAIL")
        override = None
        if data.get("amount") not in (None, ""):
            override = _amount(data["amount"])
            if override is None:
                return _err(400, "PARAM_ERROR", 'amount: two places, e.g. "12.30"')
        with self._cond:
            self._expire_locked()
            trade = self._state.trades.get(trade_no)
            if trade is None:
                return _err(404, "ORDER_NOT_EXIST", trade_no)
            if trade.status != "PAYING":
                return _err(409, "ORDER_NOT_PAYING", f"trade {trade_no} is {trade.status}")
            behaviour, now = self._state.behaviour, _now()
            if status == "FAIL":
                trade.status = "FAIL"
                first = self._notice_locked(trade, "FAIL", now)
            else:
                paid = override
                if paid is None:
                    paid = trade.trade_amount + (_signed_amount(behaviour["wrongAmount"]) or Decimal("0"))
                if paid < 0:
                    return _err(400, "PARAM_ERROR", "successAmount would be negative")
                trade.status, trade.success_amount, trade.paid_at = "SUCCESS", paid, now
                first = self._notice_locked(trade, "SUCCESS", now)
                if behaviour["reorder"]:
                    # An earlier failed attempt of the payer, delivered after (or before) the success.
                    stale = self._notice_locked(trade, "FAIL", now - timedelta(seconds=1))
                    if behaviour["reorder"] == "FAIL_FIRST":
                        stale.follow, first = first, stale
                    else:
                        first.follow = stale
            if not behaviour["dropNotifications"]:
                self._schedule_locked(first, 0.0)
            return 200, trade.view()

    def _set_behaviour(self, data: Any) -> tuple[int, dict[str, Any]]:
        if not isinstance(data, dict):
            return _err(400, "PARAM_ERROR", "body must be a JSON object")
        changes: dict[str, Any] = {}
        for name, value in data.items():
            if name not in _DEFAULT_BEHAVIOUR:
                return _err(400, "PARAM_ERROR", f"unknown behaviour {name!r}")
            if name == "duplicate":
                ok = isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_DUPLICATE
            elif name == "reorder":
                value = "SUCCESS_FIRST" if value is True else value
                ok = value in (False, None, "SUCCESS_FIRST", "FAIL_FIRST")
                value = value or False
            elif name == "refundResult":
                ok = value in ("SUCCESS", "FAIL")
            elif name == "wrongAmount":
                ok = value is None or _signed_amount(value) is not None
            elif name == "timeoutSeconds":
                ok = (
                    isinstance(value, int | float)
                    and not isinstance(value, bool)
                    and 0 <= value <= MAX_DELAY_S
                )
            else:
                ok = isinstance(value, bool)
            if not ok:
                return _err(400, "PARAM_ERROR", f"bad value for {name}: {value!r}")
            changes[name] = value
        with self._cond:
            self._state.behaviour.update(changes)
            return 200, dict(self._state.behaviour)

    # --------------------------------------------------------- notifications

    def _notice_locked(self, trade: _Trade, status: str, at: datetime) -> _Notice:
        behaviour = self._state.behaviour
        success = (
            trade.success_amount if status == "SUCCESS" and trade.success_amount is not None else Decimal(0)
        )
        notice_id = uuid.uuid4().hex
        payload = {
            "id": notice_id,
            "tradeNo": trade.trade_no,
            "businessOrderNo": trade.business_order_no,
            "tradeStatus": status,
            "tradeAmount": _fen(trade.trade_amount),
            "successAmount": _fen(success),
            "channelCode": trade.channel_code,
            "notifyTime": _iso(at),
        }
        return _Notice(
            trade_no=trade.trade_no,
            notice_id=notice_id,
            status=status,
            url=trade.notify_url,
            body=json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode(),
            copies=int(behaviour["duplicate"]),
            bad_signature=bool(behaviour["badSignature"]),
            generation=self._generation,
        )

    def _schedule_locked(self, notice: _Notice, delay_s: float) -> None:
        if self._stopping.is_set() or notice.generation != self._generation:
            return
        heapq.heappush(self._queue, (time.monotonic() + delay_s, next(self._seq), notice))
        self._cond.notify_all()

    def _expire_locked(self) -> float:
        """Close PAYING trades past their expiry (with a CLOSED notice); seconds to the next expiry."""
        now, nearest = _now(), 3600.0
        for trade in self._state.trades.values():
            if trade.status != "PAYING":
                continue
            left = (trade.expire_at - now).total_seconds()
            if left <= 0:
                trade.status = "CLOSED"
                if not self._state.behaviour["dropNotifications"]:
                    self._schedule_locked(self._notice_locked(trade, "CLOSED", now), 0.0)
            else:
                nearest = min(nearest, left)
        return nearest

    def _run_scheduler(self) -> None:
        while not self._stopping.is_set():
            with self._cond:
                next_expiry = self._expire_locked()
                now, due = time.monotonic(), []
                while self._queue and self._queue[0][0] <= now:
                    due.append(heapq.heappop(self._queue)[2])
                if not due:
                    wait = min(1.0, next_expiry, self._queue[0][0] - now if self._queue else 1.0)
                    self._cond.wait(max(wait, 0.001))
                    continue
                self._rounds_in_flight += len(due)
            if self._stopping.is_set():
                return
            for notice in due:
                notice.attempt += 1
                round_ = _Round(notice, remaining=notice.copies)
                for copy in range(notice.copies):
                    thread = threading.Thread(target=self._deliver, args=(round_, copy + 1), daemon=True)
                    with self._cond:
                        self._threads.add(thread)
                    thread.start()

    def _deliver(self, round_: _Round, copy: int) -> None:
        notice = round_.notice
        code: int | None = None
        error, serial = "", ""
        acquired = False
        try:
            while not (acquired := self._posts.acquire(timeout=0.1)):
                if self._stopping.is_set():
                    error = "stopped"
                    return
            with self._cond:
                key = self._keys[-1]
            serial = key.serial
            ts, nonce = str(int(time.time())), secrets.token_hex(16)
            signed = notice.body + b" " if notice.bad_signature else notice.body
            headers = {
                "Content-Type": "application/json; charset=utf-8",
                "X-Sys009-Timestamp": ts,
                "X-Sys009-Nonce": nonce,
                "X-Sys009-Serial": serial,
                "X-Sys009-Signature": paysign.sign_notification(key.private_pem, ts, nonce, signed),
            }
            reply = self._http.post(
                notice.url, content=notice.body, headers=headers, timeout=self._notify_timeout_s
            )
            code = reply.status_code
        except httpx.TimeoutException:
            error = "timeout"
        except (httpx.HTTPError, RuntimeError) as exc:  # RuntimeError: the client was closed by stop()
            error = type(exc).__name__
        finally:
            if acquired:
                self._posts.release()
            self._finish(round_, copy, code, error, serial)

    def _finish(self, round_: _Round, copy: int, code: int | None, error: str, serial: str) -> None:
        notice = round_.notice
        with self._cond:
            self._threads.discard(threading.current_thread())
            if notice.generation == self._generation:
                self._state.log.append(
                    {
                        "tradeNo": notice.trade_no,
                        "id": notice.notice_id,
                        "tradeStatus": notice.status,
                        "attempt": notice.attempt,
                        "copy": copy,
                        "answerCode": code,
                        "error": error or None,
                        "serial": serial,
                        "time": _now().isoformat(timespec="milliseconds"),
                    }
                )
            round_.remaining -= 1
            round_.acked = round_.acked or (code is not None and 200 <= code < 300)
            if round_.remaining == 0:
                self._rounds_in_flight -= 1
                if notice.follow is not None and notice.attempt == 1:
                    self._schedule_locked(notice.follow, 0.0)
                if not round_.acked and notice.attempt <= len(self._schedule):
                    self._schedule_locked(notice, self._schedule[notice.attempt - 1] * self._scale)
            self._cond.notify_all()

    # -------------------------------------------------------------- pay page

    def pay_page(self, trade_no: str) -> tuple[int, str]:
        with self._cond:
            self._expire_locked()
            trade = self._state.trades.get(trade_no)
            view = trade.view() if trade else None
        if view is None:
            return 404, _page("交易不存在", f"<p>没有交易 {html.escape(trade_no)}</p>")
        rows = "".join(
            f"<tr><th>{label}</th><td>{html.escape(str(view.get(key, '')))}</td></tr>"
            for label, key in (
                ("交易号", "tradeNo"),
                ("业务订单号", "businessOrderNo"),
                ("金额", "tradeAmount"),
                ("渠道", "channelCode"),
                ("状态", "tradeStatus"),
                ("失效时间", "expireTime"),
            )
        )
        action = html.escape(f"/sim/orders/{trade_no}/pay", quote=True)
        buttons = ""
        if view["tradeStatus"] == "PAYING":
            buttons = "".join(
                f'<form method="post" action="{action}" style="display:inline">'
                f'<input type="hidden" name="status" value="{status}"><button type="submit">{label}</button></form> '
                for status, label in (("SUCCESS", "Pay"), ("FAIL", "Fail"))
            )
        return 200, _page("SYS-009 模拟收银台", f"<table>{rows}</table><p>{buttons}</p>")


def _page(title: str, content: str) -> str:
    return (
        '<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title></head><body><h1>{html.escape(title)}</h1>{content}</body></html>"
    )


def _amount(value: Any) -> Decimal | None:
    return Decimal(value) if isinstance(value, str) and _AMOUNT.match(value) else None


def _signed_amount(value: Any) -> Decimal | None:
    return Decimal(value) if isinstance(value, str) and _SIGNED_AMOUNT.match(value) else None


class _Handler(SimHandler):
    sim: Sim
    server_version = "sys009-sim/1"

    def do_PUT(self) -> None:
        self._send_json(405, {"code": "METHOD_NOT_ALLOWED"})

    do_DELETE = do_PATCH = do_PUT

    def _route(self, method: str) -> None:
        body = self._body(MAX_BODY)
        if body is None:
            return
        target = self.path
        parts = urlsplit(target)
        segments = [unquote(s) for s in parts.path.strip("/").split("/")]
        sim = self.sim
        if parts.path == "/v1/certificates" and method == "GET":
            self._send_json(200, {"data": sim.certificates()})
        elif segments[:2] == ["v1", "pay"]:
            if not sim.check_request(method, target, self.headers, body):
                self._send_json(
                    401, {"code": "SIGN_ERROR", "message": "signature, timestamp or nonce rejected"}
                )
                return
            delay = sim.request_delay()
            status, payload = self._order_api(method, segments, parts.query, body)
            if delay > 0 and sim.sleep(delay):
                return  # stopping
            self._send_json(status, payload)
        elif segments[:1] == ["sim"]:
            self._hooks(method, segments, body)
        elif method == "GET" and len(segments) == 2 and segments[0] == "pay":
            code, page = sim.pay_page(segments[1])
            self._send(code, page.encode(), "text/html; charset=utf-8")
        else:
            self._send_json(404, {"code": "NOT_FOUND", "message": parts.path})

    def _order_api(
        self, method: str, segments: list[str], query: str, body: bytes
    ) -> tuple[int, dict[str, Any]]:
        sim = self.sim
        rest = segments[2:]
        if rest == ["orders"] and method == "POST":
            data = _json(body)
            return sim._create(data) if data is not _BAD else _err(400, "PARAM_ERROR", "body is not JSON")
        if rest == ["orders"] and method == "GET":
            return sim._get_by_business(parse_qs(query).get("businessOrderNo", [""])[0])
        if len(rest) == 2 and rest[0] == "orders" and method == "GET":
            return sim._get(rest[1])
        if len(rest) == 3 and rest[0] == "orders" and rest[2] == "close" and method == "POST":
            return sim._close(rest[1])
        if rest == ["refunds"] and method == "POST":
            data = _json(body)
            return sim._refund(data) if data is not _BAD else _err(400, "PARAM_ERROR", "body is not JSON")
        if len(rest) == 2 and rest[0] == "refunds" and method == "GET":
            return sim._get_refund(rest[1])
        return _err(404, "NOT_FOUND", "/" + "/".join(segments))

    def _hooks(self, method: str, segments: list[str], body: bytes) -> None:
        sim = self.sim
        form = self.headers.get_content_type() == "application/x-www-form-urlencoded"
        data: Any = (
            {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()} if form else _json(body)
        )
        if data is _BAD:
            self._send_json(400, {"code": "PARAM_ERROR", "message": "body is not JSON"})
            return
        rest = segments[1:]
        if method == "POST" and len(rest) == 3 and rest[0] == "orders" and rest[2] == "pay":
            status, payload = sim._pay(rest[1], data if data is not None else {})
            if form and status == 200:
                self._redirect(f"/pay/{rest[1]}")
                return
            self._send_json(status, payload)
        elif method == "POST" and rest == ["refunds", "finish"]:
            self._send_json(200, {"data": sim.finish_refunds()})
        elif method == "POST" and rest == ["behaviour"]:
            self._send_json(*sim._set_behaviour(data if data is not None else {}))
        elif method == "GET" and rest == ["behaviour"]:
            self._send_json(*sim._set_behaviour({}))
        elif method == "GET" and rest == ["notifications"]:
            self._send_json(200, {"data": sim.notifications()})
        elif method == "POST" and rest == ["reset"]:
            sim.reset()
            self._send_json(200, {"code": "OK"})
        elif method == "POST" and rest == ["statements"]:
            self._send_json(*sim._statements_hook(data if isinstance(data, dict) else {}))
        elif method == "POST" and rest == ["keys", "rotate"]:
            self._send_json(200, {"serial": sim.rotate_key()})
        else:
            self._send_json(404, {"code": "NOT_FOUND", "message": "/" + "/".join(segments)})

    def _redirect(self, location: str) -> None:
        try:
            self.send_response(303)
            self.send_header("Location", location)
            self.send_header("Content-Length", "0")
            self.end_headers()
        except OSError:
            pass


_BAD = object()


def _json(body: bytes) -> Any:
    if not body.strip():
        return None
    try:
        return json.loads(body)
    except ValueError:
        return _BAD


def start(
    port: int = 0,
    app_id: str = DEFAULT_APP_ID,
    app_secret: str = DEFAULT_APP_SECRET,
    retry_scale: float = 1.0,
    *,
    host: str = "127.0.0.1",
    retry_schedule: Sequence[float] = WECHAT_RETRY_SCHEDULE_S,
    notify_timeout_s: float = 5.0,
    private_keys: Sequence[str] | None = None,
    key_file: str | Path | None = None,
) -> Sim:
    """Start a simulator on host:port (0: any free port). Keys: the given PEMs, else those in
    key_file, else a fresh 2048-bit pair (written to key_file when one is named)."""
    return Sim(
        host=host,
        port=port,
        app_id=app_id,
        app_secret=app_secret,
        retry_scale=retry_scale,
        retry_schedule=retry_schedule,
        notify_timeout_s=notify_timeout_s,
        private_keys=private_keys,
        key_file=Path(key_file) if key_file is not None else None,
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m waterrev.local.sys009_sim", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=3009)
    parser.add_argument("--app-id", default=os.environ.get("WATERREV_SYS009_APP_ID", DEFAULT_APP_ID))
    parser.add_argument(
        "--app-secret", default=os.environ.get("WATERREV_SYS009_APP_SECRET", DEFAULT_APP_SECRET)
    )
    parser.add_argument("--retry-scale", type=float, default=1.0, help="multiplies the retry schedule")
    parser.add_argument("--key-file", help="platform private key(s), PEM; created when missing")
    args = parser.parse_args(argv)
    sim = start(
        args.port, args.app_id, args.app_secret, args.retry_scale, host=args.host, key_file=args.key_file
    )

    def _stop(*_: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _stop)
    print(
        f"SYS-009 simulator on {sim.base_url}  (pay pages {sim.base_url}/pay/<tradeNo>)\n"
        f"  current key serial {sim.current_serial}; retry scale {args.retry_scale}\n"
        "  environment for SYS-002:\n"
        f"    WATERREV_SYS009_BASE_URL={sim.base_url}\n"
        f"    WATERREV_SYS009_APP_ID={sim.app_id}\n"
        f"    WATERREV_SYS009_APP_SECRET={args.app_secret}\n"
        f"    WATERREV_SYS009_PLATFORM_KEYS='{json.dumps(sim.public_keys())}'\n"
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
