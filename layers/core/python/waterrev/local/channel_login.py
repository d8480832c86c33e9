"""Sign a channel login with the local secret and call the running stack; prints the access token.

Usage: python -m waterrev.local.channel_login [--json] WECHAT <channelUserId>
The stack is found where `make run` listens (WATERREV_HOST, WATERREV_PORT); the secret is the one
it uses (WATERREV_CHANNEL_LOGIN_SECRET, else `<WATERREV_STATE_DIR>/channel-login-secret`). This
stands in for the mini-program's back end, which holds the channel secret in production.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
import time

import httpx

from waterrev.customers.channel import sign_channel_login


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m waterrev.local.channel_login",
        description="Log a customer-channel user in to the running local stack and print the access token.",
    )
    parser.add_argument("channel_type", metavar="CHANNEL_TYPE", help="the channel, e.g. WECHAT")
    parser.add_argument("channel_user_id", metavar="CHANNEL_USER_ID", help="the user's id there (openid)")
    parser.add_argument("--json", action="store_true", help="print the whole reply instead of the token")
    return parser


def base_url() -> str:
    """Where `make run` listens: the same variables, the same defaults."""
    host = os.environ.get("WATERREV_HOST", "127.0.0.1")
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{os.environ.get('WATERREV_PORT', '3000')}"


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)  # a usage message and exit code 2 when they are missing
    from waterrev.local.run import _channel_secret

    secret = os.environ.get("WATERREV_CHANNEL_LOGIN_SECRET") or _channel_secret()
    ts, nonce = int(time.time()), secrets.token_hex(8)
    signature = sign_channel_login(secret, args.channel_type, args.channel_user_id, ts, nonce)
    url = f"{base_url()}/app-api/customer/auth/channel-login"
    try:
        reply = httpx.post(
            url,
            json={
                "channelType": args.channel_type,
                "channelUserId": args.channel_user_id,
                "timestamp": ts,
                "nonce": nonce,
                "signature": signature,
            },
            timeout=30,
        )
        body = reply.json()
    except (httpx.HTTPError, ValueError) as exc:
        print(
            f"no answer from the local stack at {url}: {exc} (is `make run` running there?)", file=sys.stderr
        )
        return 1
    if args.json:
        print(json.dumps(body, ensure_ascii=False, indent=2))
    elif body.get("code") == 0:
        print(body["data"]["accessToken"])
    else:
        print(f"channel login refused: {body.get('code')} {body.get('msg')}", file=sys.stderr)
    return 0 if body.get("code") == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
