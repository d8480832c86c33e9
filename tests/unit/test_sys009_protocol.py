"""SYS-009 protocol: our client against the simulator, and the simulator's notifications against a
tiny receiver, all over real HTTP on 127.0.0.1 (docs/SYS009.md). No database."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from waterrev.adapters import paysign
from waterrev.adapters.sys009 import (
    OrderItem,
    Sys009Client,
    Sys009Error,
    Sys009Timeout,
    client_from_settings,
    platform_keys_from_settings,
    verify_notification_headers,
)
from waterrev.local import sys009_sim

APP_ID, SECRET = "sys002-test", "test-sys009-secret"
CST = timezone(timedelta(hours=8))


class Receiver:
    """SYS-002's notification endpoint stand-in: records raw deliveries, answers scripted codes."""

    def __init__(self, codes: list[int] | None = None) -> None:
        self.codes = list(codes or [])
        self.deliveries: list[tuple[dict[str, str], bytes]] = []
        self._cond = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver._cond:
                    receiver.deliveries.append(({k.lower(): v for k, v in self.headers.items()}, body))
                    code = receiver.codes.pop(0) if receiver.codes else 200
                    receiver._cond.notify_all()
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/callbacks/sys009"
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    def wait_for(self, count: int, timeout_s: float = 3.0) -> list[tuple[dict[str, str], bytes]]:
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while len(self.deliveries) < count and time.monotonic() < deadline:
                self._cond.wait(0.02)
            return list(self.deliveries)

    def bodies(self) -> list[dict[str, Any]]:
        with self._cond:
            return [json.loads(body) for _, body in self.deliveries]

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def key_pems() -> list[str]:
    return [paysign.new_key_pair()[0], paysign.new_key_pair()[0]]


@pytest.fixture(scope="module")
def sim(key_pems: list[str]) -> Iterator[sys009_sim.Sim]:
    with sys009_sim.start(
        app_id=APP_ID, app_secret=SECRET, retry_scale=0.001, notify_timeout_s=1.0, private_keys=key_pems[:1]
    ) as running:
        yield running


@pytest.fixture(autouse=True)
def _fresh(sim: sys009_sim.Sim) -> None:
    sim.reset()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.stop()


@pytest.fixture
def client(sim: sys009_sim.Sim) -> Sys009Client:
    return Sys009Client(sim.base_url, APP_ID, SECRET, timeout_s=2)


def _order(
    client: Sys009Client, receiver: Receiver | None = None, no: str = "COL-1", **kw: Any
) -> dict[str, Any]:
    args: dict[str, Any] = {
        "business_order_no": no,
        "items": [OrderItem("CHG-1", Decimal("46.35")), OrderItem("CHG-2", Decimal("12.30"))],
        "customer_id": "CUST-9",
        "channel_code": "WECHAT",
        "notify_url": receiver.url if receiver else "http://127.0.0.1:9/unused",
    }
    return client.create_order(**(args | kw))


def test_create_order_returns_paying_trade_with_pay_url(client: Sys009Client, sim: sys009_sim.Sim) -> None:
    """Given signed create requests, when SYS-009 answers, then each trade is PAYING with channel pay data."""
    online = _order(client, no="COL-ONLINE")
    assert online["tradeStatus"] == "PAYING" and online["businessOrderNo"] == "COL-ONLINE"
    assert online["payUrl"] == f"{sim.base_url}/pay/{online['tradeNo']}"
    assert online["payParams"]["package"].startswith("prepay_id=") and online["payParams"]["paySign"]
    assert datetime.fromisoformat(online["expireTime"]).utcoffset() is not None
    qr = _order(client, no="COL-QR", scene="COUNTER_QR")
    assert qr["payUrl"].startswith("weixin://wxpay/bizpayurl?pr=")
    alipay = _order(client, no="COL-ALI", channel_code="ALIPAY")
    assert "orderStr" in alipay["payParams"]
    assert sim.trade(online["tradeNo"])["tradeAmount"] == "58.65"  # type: ignore[index]


def test_create_is_idempotent_per_business_order(client: Sys009Client) -> None:
    """Given a trade, when the same business order is created again, then the same trade comes back,
    and once the trade is closed the number cannot be used again."""
    first, again = _order(client), _order(client)
    assert again["tradeNo"] == first["tradeNo"] and again["payUrl"] == first["payUrl"]
    with pytest.raises(Sys009Error) as other:
        _order(client, items=[OrderItem("CHG-1", Decimal("46.35"))])
    assert (other.value.code, other.value.http_status) == ("ORDER_MISMATCH", 409)
    client.close_order(first["tradeNo"])
    with pytest.raises(Sys009Error) as closed:
        _order(client)
    assert (closed.value.code, closed.value.http_status) == ("ORDER_CLOSED", 409)


def test_trade_amount_must_equal_sum_of_items(client: Sys009Client) -> None:
    """Given items summing to 58.65, when tradeAmount says 58.66, then SYS-009 answers 400."""
    with pytest.raises(Sys009Error) as exc:
        _order(client, trade_amount=Decimal("58.66"))
    assert exc.value.http_status == 400 and exc.value.code == "AMOUNT_MISMATCH"


def test_query_and_close(client: Sys009Client, sim: sys009_sim.Sim) -> None:
    """Given trades, when queried and closed, then states follow; a paid trade cannot be closed."""
    trade = _order(client)
    by_no = client.query_order(trade["tradeNo"])
    assert by_no == client.query_by_business_order("COL-1")
    assert by_no is not None and by_no["tradeStatus"] == "PAYING" and by_no["tradeAmount"] == "58.65"
    assert "successAmount" not in by_no
    assert client.query_order("T-UNKNOWN") is None and client.query_by_business_order("nope/&=") is None
    assert client.close_order(trade["tradeNo"])["tradeStatus"] == "CLOSED"
    assert client.query_order(trade["tradeNo"])["tradeStatus"] == "CLOSED"  # type: ignore[index]

    paid = _order(client, no="COL-2")
    sim.behaviour(drop_notifications=True)
    sim.pay(paid["tradeNo"])
    done = client.query_order(paid["tradeNo"])
    assert done is not None and done["tradeStatus"] == "SUCCESS" and done["successAmount"] == "58.65"
    assert datetime.fromisoformat(done["paidTime"]).utcoffset() is not None
    with pytest.raises(Sys009Error) as exc:
        client.close_order(paid["tradeNo"])
    assert (exc.value.code, exc.value.http_status) == ("ORDER_PAID", 409)


def test_bad_app_signature_is_401(sim: sys009_sim.Sim, client: Sys009Client) -> None:
    """Given a wrong secret, a stale timestamp or a reused nonce, then SYS-009 answers 401 SIGN_ERROR."""
    with pytest.raises(Sys009Error) as exc:
        _order(Sys009Client(sim.base_url, APP_ID, "wrong-secret"))
    assert (exc.value.code, exc.value.http_status) == ("SIGN_ERROR", 401)

    def raw_get(ts: str, nonce: str) -> httpx.Response:
        path = "/v1/pay/orders/T-ANY"
        signature = paysign.sign_request(SECRET, "GET", path, ts, nonce, b"")
        headers = {
            "X-Sys009-App-Id": APP_ID,
            "X-Sys009-Timestamp": ts,
            "X-Sys009-Nonce": nonce,
            "X-Sys009-Signature": signature,
        }
        return httpx.get(sim.base_url + path, headers=headers)

    now = int(time.time())
    assert raw_get(str(now), "n-1").status_code == 404  # signed right: the trade is simply unknown
    assert raw_get(str(now), "n-1").json()["code"] == "SIGN_ERROR"  # the same nonce again
    assert raw_get(str(now - 301), "n-2").status_code == 401  # outside the 5-minute window
    assert client.query_order("T-ANY") is None


def test_notification_verifies_on_raw_body_and_is_retried_until_2xx(
    client: Sys009Client, sim: sys009_sim.Sim
) -> None:
    """Given a receiver failing twice, when the trade is paid, then the signed notification is
    delivered again on the (scaled) schedule until a 2xx, and no more after that."""
    receiver = Receiver(codes=[500, 503])
    try:
        trade = _order(client, receiver)
        sim.pay(trade["tradeNo"])
        deliveries = receiver.wait_for(3)
        assert sim.wait_idle(3)
        time.sleep(0.1)
        assert len(receiver.deliveries) == 3
        keys = client.certificates()
        assert keys == sim.public_keys()
        for headers, body in deliveries:
            assert verify_notification_headers(headers, body, keys)
            assert not verify_notification_headers(headers, body.replace(b'"58.65"', b'"58.66"'), keys)
        notice = json.loads(deliveries[0][1])
        assert notice["tradeNo"] == trade["tradeNo"] and notice["businessOrderNo"] == "COL-1"
        assert (notice["tradeStatus"], notice["tradeAmount"], notice["successAmount"]) == (
            "SUCCESS",
            "58.65",
            "58.65",
        )
        assert notice["channelCode"] == "WECHAT" and datetime.fromisoformat(notice["notifyTime"]).utcoffset()
        assert {json.loads(body)["id"] for _, body in deliveries} == {notice["id"]}
        assert len({h["x-sys009-nonce"] for h, _ in deliveries}) == 3  # each attempt signed afresh
        log = sim.notifications()
        assert [(e["attempt"], e["answerCode"]) for e in log] == [(1, 500), (2, 503), (3, 200)]
    finally:
        receiver.stop()


def test_retries_stop_after_the_schedule(key_pems: list[str]) -> None:
    """Given a receiver that never acknowledges, then delivery stops after 1 + len(schedule) attempts."""
    receiver = Receiver(codes=[500] * 100)
    with sys009_sim.start(
        app_id=APP_ID,
        app_secret=SECRET,
        retry_scale=0.01,
        retry_schedule=[1, 2, 1],
        private_keys=key_pems[:1],
    ) as own:
        trade = _order(Sys009Client(own.base_url, APP_ID, SECRET), receiver)
        own.pay(trade["tradeNo"])
        assert own.wait_idle(3)
        assert [e["attempt"] for e in own.notifications()] == [1, 2, 3, 4]
    receiver.stop()


def test_duplicate_sends_n_copies(client: Sys009Client, sim: sys009_sim.Sim, receiver: Receiver) -> None:
    """Given duplicate=3, when paid, then three copies of one notification arrive, each verifiable."""
    sim.behaviour(duplicate=3)
    sim.pay(_order(client, receiver)["tradeNo"])
    deliveries = receiver.wait_for(3)
    assert sim.wait_idle(2)
    assert len(deliveries) == 3 and len({json.loads(b)["id"] for _, b in deliveries}) == 1
    assert all(verify_notification_headers(h, b, sim.public_keys()) for h, b in deliveries)
    assert sorted(e["copy"] for e in sim.notifications()) == [1, 2, 3]


def test_wrong_amount_changes_success_amount(
    client: Sys009Client, sim: sys009_sim.Sim, receiver: Receiver
) -> None:
    """Given wrongAmount 0.01, when paid, then successAmount differs from tradeAmount by 0.01."""
    sim.behaviour(wrong_amount="0.01")
    trade = _order(client, receiver)
    sim.pay(trade["tradeNo"])
    notice = json.loads(receiver.wait_for(1)[0][1])
    assert (notice["tradeAmount"], notice["successAmount"]) == ("58.65", "58.66")
    assert client.query_order(trade["tradeNo"])["successAmount"] == "58.66"  # type: ignore[index]


def test_bad_signature_does_not_verify(client: Sys009Client, sim: sys009_sim.Sim) -> None:
    """Given badSignature, when the receiver rejects the notification, then it is not verifiable and retried."""
    receiver = Receiver(codes=[401])
    try:
        sim.behaviour(bad_signature=True)
        sim.pay(_order(client, receiver)["tradeNo"])
        deliveries = receiver.wait_for(2)
        assert sim.wait_idle(2) and len(deliveries) == 2
        assert not any(verify_notification_headers(h, b, sim.public_keys()) for h, b in deliveries)
        assert [e["answerCode"] for e in sim.notifications()][:2] == [401, 200]
    finally:
        receiver.stop()


def test_slow_answer_raises_sys009_timeout(sim: sys009_sim.Sim) -> None:
    """Given an order API answering after 1 s, when the client waits 0.2 s, then Sys009Timeout (had it
    waited for the answer, the create would have succeeded); the order was still created, so a lookup
    by business order finds it."""
    sim.behaviour(timeout_seconds=1)
    impatient = Sys009Client(sim.base_url, APP_ID, SECRET, timeout_s=0.2)
    with pytest.raises(Sys009Timeout):
        _order(impatient, no="COL-SLOW")
    sim.behaviour(timeout_seconds=0)
    found = Sys009Client(sim.base_url, APP_ID, SECRET).query_by_business_order("COL-SLOW")
    assert found is not None and found["tradeStatus"] == "PAYING"


def test_key_rotation_signs_with_the_current_serial(key_pems: list[str]) -> None:
    """Given two platform keys, each notification names the serial of the key that signed it and
    verifies only with that one."""
    receiver = Receiver()
    with sys009_sim.start(
        app_id=APP_ID, app_secret=SECRET, retry_scale=0.001, private_keys=key_pems[:1]
    ) as own:
        client = Sys009Client(own.base_url, APP_ID, SECRET)
        old = own.current_serial
        own.pay(_order(client, receiver, no="COL-A")["tradeNo"])
        receiver.wait_for(1)
        new = own.rotate_key(key_pems[1])
        own.pay(_order(client, receiver, no="COL-B")["tradeNo"])
        (h1, b1), (h2, b2) = receiver.wait_for(2)
        keys = client.certificates()
    receiver.stop()
    assert old != new and set(keys) == {old, new}
    assert (h1["x-sys009-serial"], h2["x-sys009-serial"]) == (old, new)
    assert verify_notification_headers(h1, b1, keys) and verify_notification_headers(h2, b2, keys)
    assert not verify_notification_headers(h2 | {"x-sys009-serial": old}, b2, keys)
    assert not verify_notification_headers(h2, b2, {old: keys[old]})


def test_reorder_delivers_a_stale_fail_around_the_success(
    client: Sys009Client, sim: sys009_sim.Sim, receiver: Receiver
) -> None:
    """Given reorder, then a FAIL notice arrives after (or before) the SUCCESS; the trade stays SUCCESS."""
    sim.behaviour(reorder=True)
    trade = _order(client, receiver, no="COL-R1")
    sim.pay(trade["tradeNo"])
    receiver.wait_for(2)
    sim.behaviour(reorder="FAIL_FIRST")
    sim.pay(_order(client, receiver, no="COL-R2")["tradeNo"])
    receiver.wait_for(4)
    assert [b["tradeStatus"] for b in receiver.bodies()] == ["SUCCESS", "FAIL", "FAIL", "SUCCESS"]
    assert client.query_order(trade["tradeNo"])["tradeStatus"] == "SUCCESS"  # type: ignore[index]


def test_drop_notifications_sends_nothing(
    client: Sys009Client, sim: sys009_sim.Sim, receiver: Receiver
) -> None:
    """Given dropNotifications, when paid, then nothing is delivered and only a query tells."""
    sim.behaviour(drop_notifications=True)
    trade = _order(client, receiver)
    sim.pay(trade["tradeNo"])
    assert sim.wait_idle(1)
    time.sleep(0.05)
    assert receiver.deliveries == [] and sim.notifications() == []
    assert client.query_order(trade["tradeNo"])["tradeStatus"] == "SUCCESS"  # type: ignore[index]


def test_expired_trade_closes_with_a_notification(
    client: Sys009Client, sim: sys009_sim.Sim, receiver: Receiver
) -> None:
    """Given a trade expiring in about a second, then it becomes CLOSED and a CLOSED notice is sent."""
    expire = datetime.now(CST) + timedelta(seconds=1.2)
    trade = _order(client, receiver, expire_time=expire)
    assert datetime.fromisoformat(trade["expireTime"]) == expire.replace(microsecond=0)
    (_, body), *_ = receiver.wait_for(1, timeout_s=3)
    assert (json.loads(body)["tradeStatus"], json.loads(body)["successAmount"]) == ("CLOSED", "0.00")
    assert client.query_order(trade["tradeNo"])["tradeStatus"] == "CLOSED"  # type: ignore[index]
    with pytest.raises(sys009_sim.SimError):
        sim.pay(trade["tradeNo"])


def test_pay_page_lets_a_person_pay_or_fail(
    client: Sys009Client, sim: sys009_sim.Sim, receiver: Receiver
) -> None:
    """Given an ONLINE trade, when the Fail button of its pay page is pressed, then it fails and notifies."""
    trade = _order(client, receiver)
    page = httpx.get(trade["payUrl"])
    assert page.status_code == 200 and ">Pay</button>" in page.text and ">Fail</button>" in page.text
    pressed = httpx.post(f"{sim.base_url}/sim/orders/{trade['tradeNo']}/pay", data={"status": "FAIL"})
    assert pressed.status_code == 303 and pressed.headers["location"] == f"/pay/{trade['tradeNo']}"
    assert json.loads(receiver.wait_for(1)[0][1])["tradeStatus"] == "FAIL"
    assert (
        "FAIL" in httpx.get(trade["payUrl"]).text and ">Pay</button>" not in httpx.get(trade["payUrl"]).text
    )


def test_http_hooks(client: Sys009Client, sim: sys009_sim.Sim, receiver: Receiver) -> None:
    """Given the operator hooks over HTTP, then behaviour, pay, log and reset work without signatures."""
    assert httpx.post(f"{sim.base_url}/sim/behaviour", json={"duplicate": 2}).json()["duplicate"] == 2
    assert httpx.post(f"{sim.base_url}/sim/behaviour", json={"nonsense": 1}).status_code == 400
    trade = _order(client, receiver)
    paid = httpx.post(f"{sim.base_url}/sim/orders/{trade['tradeNo']}/pay", json={"amount": "50.00"})
    assert paid.json()["successAmount"] == "50.00"
    receiver.wait_for(2)
    assert sim.wait_idle(2)
    log = httpx.get(f"{sim.base_url}/sim/notifications").json()["data"]
    assert len(log) == 2 and {e["tradeNo"] for e in log} == {trade["tradeNo"]}
    assert httpx.post(f"{sim.base_url}/sim/reset").status_code == 200
    assert client.query_order(trade["tradeNo"]) is None and sim.notifications() == []


def test_signature_helpers_reject_tampering() -> None:
    """Given signed messages, then any change of body, serial, signature or time fails verification."""
    private, public = paysign.new_key_pair()
    serial, body = paysign.key_serial(public), '{"a":"中文","b":"1.00"}'.encode()
    sig = paysign.sign_notification(private, "1700000000", "n", body)
    keys = {serial: public}
    assert paysign.verify_notification(keys, serial, "1700000000", "n", sig, body)
    assert not paysign.verify_notification(keys, serial, "1700000000", "n", sig, body + b" ")
    assert not paysign.verify_notification(keys, serial, "1700000001", "n", sig, body)
    assert not paysign.verify_notification(keys, "OTHER", "1700000000", "n", sig, body)
    assert not paysign.verify_notification(keys, serial, "1700000000", "n", "not base64!", body)
    assert not paysign.verify_notification(keys, serial, "1700000000", "n", sig, body, window_s=300)
    request_sig = paysign.sign_request("s", "POST", "/v1/pay/orders", 1700000000, "n", body)
    assert paysign.verify_request(
        "s", "POST", "/v1/pay/orders", "1700000000", "n", body, request_sig, now=1700000100
    )
    assert not paysign.verify_request("s", "POST", "/v1/pay/orders", "1700000000", "n", body, request_sig)
    assert not paysign.verify_request(
        "t", "POST", "/v1/pay/orders", "1700000000", "n", body, request_sig, now=1.7e9
    )


def test_client_from_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Given WATERREV_SYS009_* settings, then the factory and the key reader use them."""
    from waterrev.settings import reset_settings

    monkeypatch.setenv("WATERREV_SYS009_BASE_URL", "http://127.0.0.1:3009/")
    monkeypatch.setenv("WATERREV_SYS009_APP_ID", "app")
    monkeypatch.setenv("WATERREV_SYS009_APP_SECRET", "secret")
    monkeypatch.setenv("WATERREV_SYS009_PLATFORM_KEYS", json.dumps({"S1": "PEM"}))
    reset_settings()
    try:
        made = client_from_settings()
        assert (made.base_url, made.app_id) == ("http://127.0.0.1:3009", "app")
        assert platform_keys_from_settings() == {"S1": "PEM"}
        monkeypatch.delenv("WATERREV_SYS009_APP_SECRET")
        reset_settings()
        with pytest.raises(RuntimeError):
            client_from_settings()
    finally:
        monkeypatch.undo()
        reset_settings()


def test_stop_is_prompt(key_pems: list[str]) -> None:
    """Given a request sleeping in the order API and a hanging notification, stop() returns within a second."""
    hang = threading.Event()

    class Hanging(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            hang.wait(5)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Hanging)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    own = sys009_sim.start(
        app_id=APP_ID, app_secret=SECRET, retry_scale=0.001, notify_timeout_s=5, private_keys=key_pems[:1]
    )
    client = Sys009Client(own.base_url, APP_ID, SECRET, timeout_s=0.1)
    trade = client.create_order(
        business_order_no="COL-H",
        items=[("CHG-1", Decimal("1.00"))],
        customer_id="C",
        channel_code="ALIPAY",
        notify_url=f"http://127.0.0.1:{server.server_address[1]}/",
    )
    own.pay(trade["tradeNo"])
    own.behaviour(timeout_seconds=30)
    with pytest.raises(Sys009Timeout):
        client.query_order(trade["tradeNo"])
    # The receiver hangs until `hang` is set, which happens only after stop() returned: a stop() that
    # waited for the delivery would never return (the wait below detects that deadlock; it is no timing).
    stopped = threading.Event()
    threading.Thread(target=lambda: (own.stop(), stopped.set()), daemon=True).start()
    assert stopped.wait(30), "stop() waited for a hanging notification delivery"
    hang.set()
    server.shutdown()
    server.server_close()


def test_the_daily_statements_are_written_from_the_trades_the_platform_settled(
    client: Sys009Client, sim: sys009_sim.Sim, tmp_path: Any
) -> None:
    """Given an online trade paid (with 0.01 more, as the platform was told), a QR trade paid, a trade
    failed and one never paid
    When the platform writes today's statements (by its hook POST /sim/statements)
    Then the ONLINE statement lists the paid online trade at what was paid, the QR statement the paid QR
    trade, neither the failed nor the unpaid one; both parse as daily statements and what each channel
    settled is answered (what the platform pays over to the bank)."""
    from waterrev.banking import daily_rules

    sim.behaviour(wrong_amount="0.01")
    online = _order(client, no="DAY-ONLINE")
    sim.pay(online["tradeNo"])
    sim.behaviour(wrong_amount=None)
    qr = _order(client, no="DAY-QR", scene="COUNTER_QR")
    sim.pay(qr["tradeNo"])
    sim.pay(_order(client, no="DAY-FAIL")["tradeNo"], status="FAIL")
    _order(client, no="DAY-UNPAID")
    today = datetime.now(sys009_sim.CST).date()
    reply = httpx.post(
        f"{sim.base_url}/sim/statements", json={"day": today.isoformat(), "root": str(tmp_path)}
    )
    assert reply.status_code == 200, reply.text
    assert reply.json()["settled"] == {"ONLINE": "58.66", "COUNTER_QR": "58.65"}
    read = {
        channel: daily_rules.parse_statement(
            (tmp_path / daily_rules.statement_name(today, channel)).read_bytes(), channel, today
        )
        for channel in ("ONLINE", "COUNTER_QR")
    }
    assert read == {"ONLINE": {"DAY-ONLINE": Decimal("58.66")}, "COUNTER_QR": {"DAY-QR": Decimal("58.65")}}
    assert httpx.post(f"{sim.base_url}/sim/statements", json={"day": "2026-02-30"}).status_code == 400
