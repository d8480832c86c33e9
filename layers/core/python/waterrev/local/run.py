"""`make run`: embedded PostgreSQL (unless WATERREV_DATABASE_URL is set), migrations, demo data,
and every catalog interface served on http://127.0.0.1:$WATERREV_PORT (3000). Ctrl-C stops it all."""

from __future__ import annotations

import os
import secrets
import signal
import sys
from pathlib import Path
from typing import Any

from waterrev.local.gateway import REPO_ROOT, make_server

STATE_DIR = Path(os.environ.get("WATERREV_STATE_DIR", REPO_ROOT / ".local"))


def _channel_secret() -> str:
    path = STATE_DIR / "channel-login-secret"
    if not path.exists():
        STATE_DIR.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()


def prepare() -> Any:
    """Start the database if needed, set the environment, migrate, load the demo set."""
    server = None
    if not os.environ.get("WATERREV_DATABASE_URL"):
        from waterrev.local import pg

        server, url = pg.start(STATE_DIR / "pgdata", cleanup=True)
        os.environ["WATERREV_DATABASE_URL"] = pg.create_database(url, "waterrev")
    os.environ.setdefault("WATERREV_ENV", "local")
    os.environ.setdefault("WATERREV_DB_POOL_SIZE", "4")
    if not os.environ.get("WATERREV_CHANNEL_LOGIN_SECRET_ARN"):
        os.environ.setdefault("WATERREV_CHANNEL_LOGIN_SECRET", _channel_secret())
    os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "waterrev")
    from waterrev import demo, migrate
    from waterrev.settings import reset_settings

    reset_settings()
    migrate.upgrade()
    loaded = demo.load()
    print("demo data:", "loaded" if loaded else "already present", flush=True)
    from waterrev.local import stepfunctions

    stepfunctions.warm_up()  # moto's Step Functions on a background thread: start-up stays fast
    return server


def main() -> None:
    port = int(os.environ.get("WATERREV_PORT", "3000"))
    host = os.environ.get("WATERREV_HOST", "127.0.0.1")
    pg_server = prepare()
    http = make_server(host, port)

    def stop(*_: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    print(
        f"SYS-002 local stack on http://{host}:{port}\n"
        f"  OpenAPI  http://{host}:{port}/openapi.json   Swagger UI  http://{host}:{port}/docs\n"
        "  back office login: admin / admin123  (also gulou / gulou123, taijiang / taijiang123)\n"
        "  channel login:     .venv/bin/python -m waterrev.local.channel_login WECHAT <openid>\n"
        "Ctrl-C stops everything, the database included.",
        flush=True,
    )
    try:
        http.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        http.server_close()
        from waterrev.db import dispose_engine

        dispose_engine()
        if pg_server is not None:
            pg_server.cleanup()
        print("stopped", flush=True)
        sys.stdout.flush()


if __name__ == "__main__":
    main()
