"""The local stack as `make run` starts it, driven over HTTP like a back office and a mini-program."""

from __future__ import annotations

import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests import piilog
from waterrev.customers.channel import sign_channel_login

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Stack:
    def __init__(self, state_dir: Path) -> None:
        self.port = _free_port()
        self.state_dir = state_dir
        self.base = f"http://127.0.0.1:{self.port}"
        self.lines: list[str] = []
        piilog.STREAMS.append(self.lines)  # scanned for unmasked personal numbers when the run ends
        self._codes_taken = 0
        env = {k: v for k, v in os.environ.items() if not k.startswith("WATERREV_")}
        env.update(WATERREV_PORT=str(self.port), WATERREV_STATE_DIR=str(state_dir))
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "waterrev.local.run"],
            cwd=ROOT,
            env=env,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any("local stack on" in line for line in self.lines):
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        raise AssertionError("stack did not start:\n" + "".join(self.lines))

    def sms_code(self, timeout: float = 15) -> str:
        """The next bind code the SYS-010 simulator printed: it arrives through the message pipeline
        (outbox, relay, queue, consumer, SYS-010), a moment after the request that sent it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            codes = [
                m.group(1)
                for line in list(self.lines)
                if (m := re.search(r"verification code for [\d*]+: (\d{6})", line))
            ]
            if len(codes) > self._codes_taken:
                self._codes_taken += 1
                return codes[self._codes_taken - 1]
            time.sleep(0.1)
        raise AssertionError("no SMS code printed:\n" + "".join(self.lines[-40:]))

    def banner_url(self, name: str) -> str:
        """A simulator's URL as the banner prints it (`SYS-009 simulator: http://...`)."""
        for line in self.lines:
            found = re.search(rf"{name} simulator: (http://\S+)", line)
            if found:
                return found.group(1)
        raise AssertionError(f"no {name} simulator in the banner:\n" + "".join(self.lines))

    def channel_token(self, client: httpx.Client, openid: str) -> str:
        secret = (self.state_dir / "channel-login-secret").read_text().strip()
        ts, nonce = int(time.time()), secrets.token_hex(8)
        reply = client.post(
            "/app-api/customer/auth/channel-login",
            json={
                "channelType": "WECHAT",
                "channelUserId": openid,
                "timestamp": ts,
                "nonce": nonce,
                "signature": sign_channel_login(secret, "WECHAT", openid, ts, nonce),
            },
        ).json()
        assert reply["code"] == 0, reply
        return str(reply["data"]["accessToken"])


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    running = Stack(tmp_path_factory.mktemp("stack"))
    try:
        running.wait_ready()
        yield running
    finally:
        if running.proc.poll() is None:
            running.proc.send_signal(signal.SIGINT)
            running.proc.wait(timeout=30)


def test_back_office_and_channel_user_journey(stack: Stack) -> None:
    """Given the running stack, when a clerk creates a customer and a WeChat user binds it, then the
    user reads its bill history and another WeChat user cannot."""
    with httpx.Client(base_url=stack.base, timeout=10) as client:
        login = client.post(
            "/admin-api/system/auth/login", json={"username": "admin", "password": "admin123"}
        )
        assert login.status_code == 200 and login.json()["code"] == 0
        admin = {"Authorization": f"Bearer {login.json()['data']['accessToken']}"}

        created = client.post(
            "/admin-api/revenue/customer/create",
            headers=admin,
            json={
                "name": "赵六",
                "custType": "RESIDENT",
                "mobile": "13512345678",
                "address": "鼓楼区华林路 3 号",
                "deptId": 2,
                "meterList": [{"meterNo": "E2E-0001", "caliber": "DN20"}],
            },
        ).json()
        assert created["code"] == 0, created
        cust_id = created["data"]["id"]
        detail = client.get(f"/admin-api/revenue/customer/{cust_id}", headers=admin).json()["data"]
        assert detail["mobile"] == "135****5678"
        assert detail["accountInfo"]["status"] == "NORMAL" and detail["meterList"][0]["meterNo"] == "E2E-0001"

        owner = {"Authorization": f"Bearer {stack.channel_token(client, 'e2e-owner-openid')}"}
        sent = client.post(
            "/app-api/customer/auth/send-verify-code",
            headers=owner,
            json={"custId": cust_id, "custName": detail["name"]},
        )
        assert sent.json()["data"]["mobile"] == "135****5678"
        bound = client.post(
            "/app-api/customer/account/bind",
            headers=owner,
            json={
                "action": "BIND",
                "channelType": "WECHAT",
                "channelUserId": "e2e-owner-openid",
                "custId": cust_id,
                "verifyCode": stack.sms_code(),
            },
        ).json()
        assert bound["code"] == 0 and bound["data"]["bindStatus"] == "BOUND", bound

        history = client.get(
            "/app-api/customer/bill/history", headers=owner, params={"custId": cust_id, "queryType": "BILL"}
        ).json()
        assert history == {
            "code": 0,
            "data": {"list": [], "total": 0, "pageNo": 1, "pageSize": 10},
            "msg": "success",
        }

        stranger = {"Authorization": f"Bearer {stack.channel_token(client, 'e2e-stranger-openid')}"}
        denied = client.get(
            "/app-api/customer/bill/history",
            headers=stranger,
            params={"custId": cust_id, "queryType": "BILL"},
        )
        assert denied.json()["code"] == 1_002_001_002 and denied.json()["data"] is None

        assert "135****5678" in "".join(stack.lines) and "13512345678" not in "".join(stack.lines)


def test_openapi_names_every_operation_with_its_interface_id(stack: Stack) -> None:
    """Every served operation carries the seed interface id; the Swagger UI page is served."""
    from waterrev import catalog

    spec = httpx.get(f"{stack.base}/openapi.json").json()
    served = {
        f"{m.upper()} {p}": op["x-interface-id"] for p, ops in spec["paths"].items() for m, op in ops.items()
    }
    expected = {r.route_key: i.if_id for i in catalog.built() for r in i.routes}
    assert served == expected
    docs = httpx.get(f"{stack.base}/docs")
    assert docs.status_code == 200 and "swagger-ui" in docs.text


def test_ctrl_c_stops_the_stack_and_its_database(stack: Stack) -> None:
    """When the stack is interrupted it exits cleanly and its PostgreSQL is gone."""
    pgdata = stack.state_dir / "pgdata"
    assert (pgdata / "postmaster.pid").exists()
    stack.proc.send_signal(signal.SIGINT)
    assert stack.proc.wait(timeout=30) == 0
    assert not (pgdata / "postmaster.pid").exists()
    assert any("stopped" in line for line in stack.lines)
