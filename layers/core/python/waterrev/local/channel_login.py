"""Sign a channel login with the local secret and call the running stack; prints the token.

Usage: python -m waterrev.local.channel_login WECHAT <channelUserId>
This stands in for the mini-program's back end, which holds the channel secret in production.
"""

from __future__ import annotations

import json
import os
import secrets
import sys
import time

import httpx

from waterrev.customers.channel import sign_channel_login
from waterrev.local.run import _channel_secret


def main() -> None:
    channel_type, channel_user_id = sys.argv[1], sys.argv[2]
    base = f"http://127.0.0.1:{os.environ.get('WATERREV_PORT', '3000')}"
    ts, nonce = int(time.time()), secrets.token_hex(8)
    signature = sign_channel_login(_channel_secret(), channel_type, channel_user_id, ts, nonce)
    reply = httpx.post(
        f"{base}/app-api/customer/auth/channel-login",
        json={
            "channelType": channel_type,
            "channelUserId": channel_user_id,
            "timestamp": ts,
            "nonce": nonce,
            "signature": signature,
        },
    )
    print(json.dumps(reply.json(), ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
