"""`make invoke FN=<function> EVENT=<file>`: run one handler on one event, as Lambda would.

Sample events in events/ may carry the placeholders {{ADMIN_TOKEN}} and {{MEMBER_TOKEN}}; they
are replaced by fresh tokens of the demo admin and of a demo channel user. The database is the
one `make run` uses (embedded unless WATERREV_DATABASE_URL is set).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from waterrev.local.gateway import FakeLambdaContext, load_handler


def _tokens(text: str) -> str:
    from waterrev.context import UserType
    from waterrev.db import UnitOfWork
    from waterrev.platform.auth import issue_tokens

    with UnitOfWork() as uow:
        if "{{ADMIN_TOKEN}}" in text:
            admin = uow.scalar("SELECT id FROM system_users WHERE username = 'admin'")
            text = text.replace("{{ADMIN_TOKEN}}", issue_tokens(uow, admin, UserType.ADMIN)["accessToken"])
        if "{{MEMBER_TOKEN}}" in text:
            member = uow.scalar(
                "INSERT INTO biz_channel_user (channel_type, channel_user_id) VALUES ('WECHAT', 'demo-openid')"
                " ON CONFLICT (channel_type, channel_user_id) DO UPDATE SET last_login_time = now() RETURNING id"
            )
            text = text.replace("{{MEMBER_TOKEN}}", issue_tokens(uow, member, UserType.MEMBER)["accessToken"])
        uow.commit()
    return text


def main() -> None:
    if len(sys.argv) != 3:
        sys.exit("usage: make invoke FN=<function folder> EVENT=<event file>")
    function, event_file = sys.argv[1], Path(sys.argv[2])
    from waterrev.local.run import prepare

    pg_server = prepare()
    queue = None
    if function in ("job_message_relay", "msg_consumer"):  # they need the message queue: moto's, here
        from waterrev.local import messaging

        queue = messaging.start()
    try:
        event = json.loads(_tokens(event_file.read_text(encoding="utf-8")))
        result = load_handler(function).handler(event, FakeLambdaContext(function))
        body = result.get("body")
        if isinstance(body, str) and result.get("headers", {}).get("Content-Type") == "application/json":
            result["body"] = json.loads(body)
        print(json.dumps(result, ensure_ascii=False, indent=2))
    finally:
        if queue is not None:
            queue.stop()
        if pg_server is not None:
            from waterrev.db import dispose_engine

            dispose_engine()
            pg_server.cleanup()


if __name__ == "__main__":
    main()
