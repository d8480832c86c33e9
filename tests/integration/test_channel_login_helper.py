"""`python -m waterrev.local.channel_login`, the README's way to a customer-channel token: run as a
person runs it, against a local gateway on a port of its own."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
HELPER = [sys.executable, "-m", "waterrev.local.channel_login"]


@pytest.fixture(scope="module")
def stack_url() -> Iterator[str]:
    """A local gateway where `make run` would be with WATERREV_HOST=127.0.0.2 and a free WATERREV_PORT:
    neither is the helper's default (127.0.0.1:3000)."""
    from waterrev.local.gateway import make_server

    server = make_server("127.0.0.2", 0)
    assert server.server_address[1] != 3000
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.2:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def run_helper(args: list[str], stack_url: str | None, state_dir: Path) -> subprocess.CompletedProcess[str]:
    """The helper in a process of its own, told where the stack is the way `make run` is told; its
    state folder holds the secret the stack uses, as `make run` leaves it."""
    from waterrev.settings import get_settings

    secret = get_settings().channel_login_secret or ""
    (state_dir / "channel-login-secret").write_text(secret)
    env = {k: v for k, v in os.environ.items() if not k.startswith("WATERREV_")}
    env.update(WATERREV_STATE_DIR=str(state_dir), WATERREV_CHANNEL_LOGIN_SECRET=secret)
    if stack_url is not None:
        host, port = stack_url.removeprefix("http://").rsplit(":", 1)
        env.update(WATERREV_HOST=host, WATERREV_PORT=port)
    return subprocess.run(HELPER + args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def test_without_arguments_it_prints_its_usage_and_exits_2(tmp_path: Path) -> None:
    """Given no arguments
    When the helper runs
    Then it prints a usage line naming what it needs, exits with 2, and shows no traceback."""
    done = run_helper([], None, tmp_path)

    assert done.returncode == 2
    assert "usage:" in done.stderr and "CHANNEL_TYPE" in done.stderr and "CHANNEL_USER_ID" in done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""


def test_it_logs_in_at_waterrev_host_and_port_and_prints_only_the_access_token(
    stack_url: str, tmp_path: Path
) -> None:
    """Given a stack listening on WATERREV_HOST and WATERREV_PORT (not 127.0.0.1:3000)
    When the helper logs a WeChat user in
    Then it exits 0 and prints one line, the access token, which the stack accepts as that user's."""
    done = run_helper(["WECHAT", "helper-openid-1"], stack_url, tmp_path)

    assert done.returncode == 0, done.stderr
    token = done.stdout.strip()
    assert done.stdout == token + "\n" and token and " " not in token and "{" not in token
    listed = httpx.get(
        f"{stack_url}/app-api/customer/account/list", headers={"Authorization": f"Bearer {token}"}, timeout=30
    ).json()
    assert listed["code"] == 0, listed


def test_with_json_it_prints_the_whole_reply(stack_url: str, tmp_path: Path) -> None:
    """Given a running stack
    When the helper is asked for --json
    Then it prints the whole envelope, whose data holds the access token."""
    done = run_helper(["--json", "WECHAT", "helper-openid-2"], stack_url, tmp_path)

    assert done.returncode == 0, done.stderr
    reply = json.loads(done.stdout)
    assert reply["code"] == 0 and reply["data"]["accessToken"]


def test_a_stack_that_is_not_there_is_a_message_and_exit_1(tmp_path: Path) -> None:
    """Given no stack on the port it is told
    When the helper runs
    Then it says where it looked and exits 1, without a traceback."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free = f"http://127.0.0.1:{probe.getsockname()[1]}"

    done = run_helper(["WECHAT", "helper-openid-3"], free, tmp_path)

    assert done.returncode == 1
    assert free in done.stderr and "Traceback" not in done.stderr
