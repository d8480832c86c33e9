"""`make run`: embedded PostgreSQL (unless WATERREV_DATABASE_URL is set), migrations, demo data,
and every catalog interface served on http://127.0.0.1:$WATERREV_PORT (3000). Ctrl-C stops it all."""

from __future__ import annotations

import os
import secrets
import signal
import sys
from pathlib import Path
from typing import Any

from waterrev.local.gateway import REPO_ROOT, local_concurrency, make_server

STATE_DIR = Path(os.environ.get("WATERREV_STATE_DIR", REPO_ROOT / ".local"))


def _channel_secret() -> str:
    path = STATE_DIR / "channel-login-secret"
    if not path.exists():
        STATE_DIR.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()


def set_pool_size() -> None:
    """A database connection for each request the gateway runs at once (a request holds at most one);
    the pool's overflow, as many again, serves what runs beside the gateway (the bill run's tasks on
    moto's Step Functions). WATERREV_DB_POOL_SIZE, when set, is kept."""
    os.environ.setdefault("WATERREV_DB_POOL_SIZE", str(local_concurrency()))


def prepare() -> Any:
    """Start the database if needed, set the environment, migrate, load the demo set."""
    server = None
    if not os.environ.get("WATERREV_DATABASE_URL"):
        from waterrev.local import pg

        server, url = pg.start(STATE_DIR / "pgdata", cleanup=True)
        os.environ["WATERREV_DATABASE_URL"] = pg.create_database(url, "waterrev")
    os.environ.setdefault("WATERREV_ENV", "local")
    # personal data at rest (bank accounts, waterrev.crypto): the local key file, made on first use
    if not os.environ.get("WATERREV_KMS_KEY_ID"):
        os.environ.setdefault("WATERREV_DATA_KEY_FILE", str(STATE_DIR / "data-key"))
    # the daily reconciliation's files (docs/SYS009.md): the simulators write each day's (start_recon_files)
    if not os.environ.get("WATERREV_RECON_BUCKET"):
        os.environ.setdefault("WATERREV_RECON_DIR", str(STATE_DIR / "recon"))
    set_pool_size()
    if not os.environ.get("WATERREV_CHANNEL_LOGIN_SECRET_ARN"):
        os.environ.setdefault("WATERREV_CHANNEL_LOGIN_SECRET", _channel_secret())
    os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "waterrev")
    # business metrics (waterrev.metrics) are CloudWatch EMF lines on stdout: noise in a terminal
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
    from waterrev import migrate
    from waterrev.local import demo
    from waterrev.settings import reset_settings

    reset_settings()
    migrate.upgrade()
    loaded = demo.load()
    print("demo data:", "loaded" if loaded else "already present", flush=True)
    from waterrev.local import stepfunctions

    stepfunctions.plug_in()
    stepfunctions.warm_up()  # moto's Step Functions on a background thread: start-up stays fast
    return server


def start_payment_platform(notify_base: str) -> Any:
    """The SYS-009 simulator on a free loopback port, unless WATERREV_SYS009_BASE_URL names a real one;
    our settings point at it (credentials generated per start, its public keys for the callbacks)."""
    import json
    import secrets

    if os.environ.get("WATERREV_SYS009_BASE_URL"):
        return None
    from waterrev.local import sys009_sim
    from waterrev.settings import reset_settings

    app_id, app_secret = "waterrev-local", secrets.token_hex(16)
    sim = sys009_sim.start(port=0, app_id=app_id, app_secret=app_secret, retry_scale=0.01)
    sim.auto_refund_s = 2.0  # a refund settles (and its notification is sent) two seconds after it is asked
    os.environ.update(
        WATERREV_SYS009_BASE_URL=sim.base_url,
        WATERREV_SYS009_APP_ID=app_id,
        WATERREV_SYS009_APP_SECRET=app_secret,
        WATERREV_SYS009_PLATFORM_KEYS=json.dumps(sim.public_keys()),
        WATERREV_SYS009_NOTIFY_URL=f"{notify_base}/open-api/pay/notify",
    )
    reset_settings()
    return sim


def start_invoice_platform(notify_base: str) -> Any:
    """The SYS-008 simulator on a free loopback port (unless WATERREV_SYS008_BASE_URL names a real one)
    and the invoice bucket on moto's S3 server; our settings point at them."""
    import json
    import secrets

    from waterrev.local import s3

    s3.start()
    if os.environ.get("WATERREV_SYS008_BASE_URL"):
        return None
    from waterrev.local import sys008_sim
    from waterrev.settings import reset_settings

    app_secret, callback_secret = secrets.token_hex(16), secrets.token_hex(16)
    sim = sys008_sim.start(app_id="waterrev-local", app_secret=app_secret, callback_secret=callback_secret)
    keys = json.loads(os.environ.get("WATERREV_WEBHOOK_KEYS") or "{}")
    keys["SYS008"] = {sim.key_id: callback_secret}
    os.environ.update(
        WATERREV_SYS008_BASE_URL=sim.base_url,
        WATERREV_SYS008_APP_ID="waterrev-local",
        WATERREV_SYS008_APP_SECRET=app_secret,
        WATERREV_SYS008_NOTIFY_URL=f"{notify_base}/open-api/invoice/result",
        WATERREV_WEBHOOK_KEYS=json.dumps(keys),
    )
    reset_settings()
    return sim


def start_esign_service(notify_base: str) -> Any:
    """The e-signature simulator on a free loopback port (unless WATERREV_ESIGN_BASE_URL names a real
    one) and the documents bucket on the local S3; its signed callbacks reach our IF-INST-004 route."""
    import json
    import secrets

    from waterrev.adapters import documents
    from waterrev.local import s3
    from waterrev.settings import get_settings, reset_settings

    s3.start(get_settings().document_bucket)
    documents.reset()
    if os.environ.get("WATERREV_ESIGN_BASE_URL"):
        return None
    from waterrev.local import esign_sim

    app_secret, callback_secret = secrets.token_hex(16), secrets.token_hex(16)
    sim = esign_sim.start(app_secret=app_secret, callback_secret=callback_secret, retry_scale=0.5)
    keys = json.loads(os.environ.get("WATERREV_WEBHOOK_KEYS") or "{}")
    keys["ESIGN"] = {sim.key_id: callback_secret}
    os.environ.update(
        WATERREV_ESIGN_BASE_URL=sim.base_url,
        WATERREV_ESIGN_APP_ID=sim.app_id,
        WATERREV_ESIGN_APP_SECRET=app_secret,
        WATERREV_ESIGN_NOTIFY_URL=f"{notify_base}/admin-api/installation/contract/sign/callback",
        WATERREV_WEBHOOK_KEYS=json.dumps(keys),
    )
    reset_settings()
    return sim


def start_message_service(callback_base: str) -> tuple[Any, Any]:
    """The SYS-010 simulator (unless WATERREV_SYS010_BASE_URL names a real one) and the message queue on
    moto with its pump (relay, consumer, dead-letter sweep): a message queued by any use case reaches the
    simulator, whose page and console show it, and its signed result comes back to our callback route."""
    import json
    import secrets

    from waterrev.local import messaging
    from waterrev.settings import reset_settings

    sim = None
    if not os.environ.get("WATERREV_SYS010_BASE_URL"):
        from waterrev.local import sys010_sim

        app_secret, key = secrets.token_hex(16), secrets.token_hex(16)
        sim = sys010_sim.start(port=0, app_secret=app_secret, callback_keys={"sys010-local": key}, echo=True)
        keys = json.loads(os.environ.get("WATERREV_WEBHOOK_KEYS") or "{}")
        keys["SYS010"] = {"sys010-local": key}
        os.environ.update(
            WATERREV_SYS010_BASE_URL=sim.base_url,
            WATERREV_SYS010_APP_ID=sys010_sim.DEFAULT_APP_ID,
            WATERREV_SYS010_APP_SECRET=app_secret,
            WATERREV_WEBHOOK_KEYS=json.dumps(keys),
        )
    os.environ.setdefault("WATERREV_SYS010_CALLBACK_URL", f"{callback_base}/open-api/message/result")
    # a message that cannot be delivered is retried after 5, 10, 20, 40 s here (30 s and up in the cloud)
    os.environ.setdefault("WATERREV_MESSAGE_RETRY_BASE_S", "5")
    os.environ.setdefault("WATERREV_MESSAGE_RETRY_MAX_S", "60")
    reset_settings()
    queue = messaging.start()
    queue.start_pump()
    return sim, queue


def start_bank(callback_base: str) -> Any:
    """The bank's file channel (docs/BANK.md): the SFTP server and the bank's processor on a free loopback
    port, chrooted to .local/bank-sftp; the credentials in a local secret file; the channel ICBC configured
    to reach it (its host key pinned); its receipts (IF-EXT-002) signed with a key of platform BANK."""
    import json
    import secrets

    from waterrev.db import UnitOfWork
    from waterrev.local import bank_sim
    from waterrev.settings import reset_settings

    password, notify_secret = secrets.token_hex(12), secrets.token_hex(16)
    sim = bank_sim.start(
        STATE_DIR / "bank-sftp",
        users={"waterrev": password},
        notify_url=f"{callback_base}/open-api/bank/withholding/return",
        notify_key=("bank-local", notify_secret),
    )
    credentials = STATE_DIR / "bank-credentials.json"
    credentials.write_text(json.dumps({"bank/icbc": {"password": password}}))
    credentials.chmod(0o600)
    keys = json.loads(os.environ.get("WATERREV_WEBHOOK_KEYS") or "{}")
    keys.setdefault("BANK", {})["bank-local"] = notify_secret
    os.environ.update(WATERREV_BANK_CREDENTIALS_FILE=str(credentials), WATERREV_WEBHOOK_KEYS=json.dumps(keys))
    os.environ.setdefault("WATERREV_WITHHOLDING_POLL_S", "30")
    reset_settings()
    with UnitOfWork() as uow:
        uow.execute(
            "INSERT INTO bk_transfer_config (channel_code, protocol, host, port, username, credential_ref, host_key,"
            " send_dir, back_dir, reconcile_dir) VALUES ('ICBC', 'SFTP', :h, :p, 'waterrev', 'bank/icbc', :k,"
            " '/ICBC/send', '/ICBC/back', '/ICBC/reconcile')"
            " ON CONFLICT (COALESCE(tenant_id, 0), COALESCE(channel_code, '')) DO UPDATE SET host = EXCLUDED.host,"
            " port = EXCLUDED.port, host_key = EXCLUDED.host_key",
            {"h": sim.host, "p": sim.port, "k": sim.host_key},
        )
        uow.commit()
    return sim


def start_recon_files(sim: Any, bank: Any) -> Any:
    """The outside systems' daily reconciliation files (docs/SYS009.md 每日对账文件), written by the
    simulators from their own records into WATERREV_RECON_DIR: at start, yesterday's (unless already
    there: a restarted simulator has forgotten yesterday), then at every day change the day just over;
    the SYS-009 simulator's (ONLINE, COUNTER_QR) first, then the bank's (BANK_REALTIME, WITHHOLDING, the
    credit file, crediting what SYS-009 settled). Not with WATERREV_RECON_BUCKET (real channels). The
    stop event."""
    import datetime as dt
    import threading

    from waterrev import clock
    from waterrev.banking import daily_rules

    stop = threading.Event()
    folder = os.environ.get("WATERREV_RECON_DIR")
    if os.environ.get("WATERREV_RECON_BUCKET") or not folder:
        return stop
    root = Path(folder)

    def write(day: dt.date, again: bool) -> None:
        if not again and (root / daily_rules.credit_name(day)).exists():
            return
        settled = sim.write_statements(root, day) if sim is not None else {}
        bank.write_statements(root, day, settled)
        print(f"daily reconciliation files of {day} written under {root}", flush=True)

    def loop() -> None:
        last = clock.today()
        try:
            write(last - dt.timedelta(days=1), False)
            while not stop.wait(60):
                if clock.today() != last:
                    write(last, True)
                    last = clock.today()
        except Exception as exc:  # a file the simulators cannot write must not stop the stack
            print(f"daily reconciliation files: {exc!r}", flush=True)

    threading.Thread(target=loop, name="recon-files", daemon=True).start()
    return stop


def main() -> None:
    port = int(os.environ.get("WATERREV_PORT", "3000"))
    host = os.environ.get("WATERREV_HOST", "127.0.0.1")
    pg_server = prepare()
    http = make_server(host, port)
    sim = start_payment_platform(f"http://{host}:{http.server_address[1]}")
    invoice_sim = start_invoice_platform(f"http://{host}:{http.server_address[1]}")
    sys010, messages = start_message_service(f"http://{host}:{http.server_address[1]}")
    bank = start_bank(f"http://{host}:{http.server_address[1]}")
    esign = start_esign_service(f"http://{host}:{http.server_address[1]}")
    recon_files = start_recon_files(sim, bank)

    def stop(*_: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    print(
        f"SYS-002 local stack on http://{host}:{port}\n"
        f"  OpenAPI  http://{host}:{port}/openapi.json   Swagger UI  http://{host}:{port}/docs\n"
        "  back office login: admin / admin123  (also gulou / gulou123, taijiang / taijiang123)\n"
        "  channel login:     .venv/bin/python -m waterrev.local.channel_login WECHAT <openid>\n"
        f"  SYS-009 simulator: {sim.base_url if sim else os.environ.get('WATERREV_SYS009_BASE_URL')}"
        " (pay an order by hand at its /pay/<tradeNo> page)\n"
        f"  SYS-008 simulator: {invoice_sim.base_url if invoice_sim else os.environ.get('WATERREV_SYS008_BASE_URL')}"
        " (what it received and issued, at its index page)\n"
        f"  SYS-010 simulator: {sys010.base_url if sys010 else os.environ.get('WATERREV_SYS010_BASE_URL')}"
        " (the messages it received: SMS, WeChat, in-app; bind codes also print here)\n"
        f"  bank SFTP (IF-EXT-001/002): sftp://waterrev@{bank.host}:{bank.port} (channel ICBC; files under"
        f" {bank.root}; password in {STATE_DIR / 'bank-credentials.json'})\n"
        f"  e-signature simulator: {esign.base_url if esign else os.environ.get('WATERREV_ESIGN_BASE_URL')}"
        " (signing tasks and callbacks; sign by hand at /sign/<requestNo>)\n"
        "Ctrl-C stops everything, the database included.",
        flush=True,
    )
    try:
        http.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        http.server_close()
        recon_files.set()
        if sim is not None:
            sim.stop()
        if invoice_sim is not None:
            invoice_sim.stop()
        messages.stop()
        bank.stop()
        if esign is not None:
            esign.stop()
        if sys010 is not None:
            sys010.stop()
        from waterrev.db import dispose_engine

        dispose_engine()
        if pg_server is not None:
            pg_server.cleanup()
        print("stopped", flush=True)
        sys.stdout.flush()


if __name__ == "__main__":
    main()
