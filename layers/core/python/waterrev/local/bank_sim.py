"""The bank's file channel, simulated (docs/BANK.md): a real SFTP server and the bank's processor.

- The SFTP server is asyncssh's, in-process on 127.0.0.1, on its own event loop in a thread, every
  session chrooted to the bank's folder (`root`); login by password or key; its ed25519 host key is
  generated per start (`host_key` is what our configuration pins).
- The processor (a thread) watches every `send` directory under the root, as the bank would: it takes
  a complete send file (moves it out of the send directory: from then on it cannot be cancelled), debits
  each line by the rules it was told (`Behaviour`), and writes a return file into the matching `back`
  directory and a statement file into the `reconcile` directory, GBK fixed width like the send file.
  Then, if `notify_url` is set, it tells SYS-002 by a signed IF-EXT-002 receipt
  (POST /open-api/bank/withholding/return, HMAC over timestamp, nonce and body, platform "BANK").

Told to misbehave (`sim.behaviour`): failure codes per customer code or sequence number, a whole batch
rejected, the return written (and announced) twice, a malformed return, a return of another batch,
statement lines dropped / added / with another amount, and `hold` (the bank does not take files yet).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from waterrev.banking import rules
from waterrev.local import recon_sim

SEND, BACK, RECONCILE = "send", "back", "reconcile"
CST = dt.timezone(dt.timedelta(hours=8))


@dataclass
class Behaviour:
    fail_codes: dict[str, str] = field(default_factory=dict)  # custCode or "#<seqNo>" -> result code
    reject_batch: str | None = None  # a result code for every line (e.g. "9999")
    duplicate_return: bool = False  # write the same return file twice and announce it twice
    malformed_return: bool = False  # a return file whose lines are cut short
    wrong_batch_no: bool = False  # a return file naming another batch
    statement_drop: set[int] = field(
        default_factory=set
    )  # seq nos debited in the return, absent from the statement
    statement_extra: bool = False  # a debit in the statement for no line of the batch
    statement_amount_delta: dict[int, Decimal] = field(default_factory=dict)  # seq no -> added to its debit
    statement_debit_failed: set[int] = field(
        default_factory=set
    )  # seq nos failed in the return, debited in the statement
    hold: bool = False  # do not take send files (they stay cancellable)
    notify: bool = True  # announce the return by IF-EXT-002


@dataclass
class Processed:
    send_path: str
    return_paths: list[str]
    statement_path: str
    batch_no: str
    file_serial_no: str


@dataclass(frozen=True)
class RealtimeDebit:
    """A real-time payment the bank made from a customer's account and told us of (IF-EXT-003)."""

    bank_code: str
    serial: str
    cust_code: str
    amount: Decimal
    at: dt.datetime


class BankSimulator:
    def __init__(
        self,
        root: Path,
        users: dict[str, str],
        *,
        client_keys: dict[str, str] | None = None,
        notify_url: str | None = None,
        notify_key: tuple[str, str] | None = None,
        poll_s: float = 0.05,
    ) -> None:
        self.root = root
        self.users = users
        self.client_keys = client_keys or {}
        self.notify_url = notify_url
        self.notify_key = notify_key
        self.poll_s = poll_s
        self.behaviour = Behaviour()
        self.processed: list[Processed] = []
        self.notifications: list[dict[str, Any]] = []
        self.host = "127.0.0.1"
        self.port = 0
        self.host_key = ""
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._processor: threading.Thread | None = None
        self._serial = 0
        self._lock = threading.Lock()
        self.realtime_debits: list[RealtimeDebit] = []  # the day's reconciliation files, below
        self.cash_deposits: list[tuple[dt.datetime, Decimal]] = []

    # ---- the SFTP server -----------------------------------------------------------------------
    def start(self) -> BankSimulator:
        import asyncssh

        self.root.mkdir(parents=True, exist_ok=True)
        key = asyncssh.generate_private_key("ssh-ed25519")
        self.host_key = " ".join(key.export_public_key("openssh").decode().split()[:2])
        sim = self

        class _Server(asyncssh.SSHServer):
            def begin_auth(self, username: str) -> bool:
                return True

            def password_auth_supported(self) -> bool:
                return True

            def validate_password(self, username: str, password: str) -> bool:
                expected = sim.users.get(username)
                return expected is not None and secrets.compare_digest(expected, password)

            def public_key_auth_supported(self) -> bool:
                return bool(sim.client_keys)

            def validate_public_key(self, username: str, key: Any) -> bool:
                allowed = sim.client_keys.get(username)
                if not allowed:
                    return False
                return bool(key.export_public_key("openssh").split()[:2] == allowed.encode().split()[:2])

        root = str(self.root).encode()

        def sftp_factory(chan: Any) -> Any:
            return asyncssh.SFTPServer(chan, chroot=root)

        ready = threading.Event()
        loop = asyncio.new_event_loop()
        self._loop = loop

        async def serve() -> None:
            self._server = await asyncssh.create_server(
                _Server,
                self.host,
                0,
                server_host_keys=[key],
                sftp_factory=sftp_factory,
                allow_scp=False,
            )
            self.port = self._server.sockets[0].getsockname()[1]

        def run() -> None:
            asyncio.set_event_loop(loop)
            loop.run_until_complete(serve())
            ready.set()
            loop.run_forever()

        self._thread = threading.Thread(target=run, name="bank-sftp", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("bank SFTP simulator did not start")
        self._processor = threading.Thread(target=self._process_loop, name="bank-processor", daemon=True)
        self._processor.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._processor is not None:
            self._processor.join(5)
        loop = self._loop
        if loop is None:
            return

        async def close() -> None:
            self._server.close()
            await self._server.wait_closed()

        asyncio.run_coroutine_threadsafe(close(), loop).result(5)
        loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(5)
        loop.run_until_complete(loop.shutdown_default_executor())
        loop.close()
        self._loop = None

    # ---- the bank's processor ------------------------------------------------------------------
    def _process_loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.process_pending()
            except Exception as exc:  # a broken file must not stop the bank
                print(f"bank simulator: {exc!r}", flush=True)
            self._stop.wait(self.poll_s)

    def process_pending(self) -> list[Processed]:
        """Take and answer every complete send file (a dot-prefixed name is still being written)."""
        done: list[Processed] = []
        if self.behaviour.hold:
            return done
        with self._lock:
            for send_dir in sorted(self.root.rglob(SEND)):
                if not send_dir.is_dir():
                    continue
                for path in sorted(send_dir.iterdir()):
                    if path.name.startswith(".") or not path.is_file():
                        continue
                    done.append(self._process(path))
        return done

    def _process(self, path: Path) -> Processed:
        data = path.read_bytes()
        taken = path.parent.parent / "taken"
        taken.mkdir(parents=True, exist_ok=True)
        path.rename(taken / path.name)  # taken: gone from the send directory
        b = self.behaviour
        head, rows = rules.parse_send_file(data)
        batch_no = head["batchNo"]
        self._serial += 1
        serial = f"{self._serial:08d}"
        today = dt.date.today().strftime("%Y%m%d")
        results = []
        for row in rows:
            seq = int(row["seqNo"])
            code = (
                b.reject_batch
                or b.fail_codes.get(row["custCode"])
                or b.fail_codes.get(f"#{seq}")
                or rules.SUCCESS
            )
            results.append((row, seq, code))
        success = [(r, s) for r, s, c in results if c == rules.SUCCESS]
        head_out = rules.encode_record(
            rules.RETURN_HEADER,
            {
                "recordType": "H",
                "batchNo": "X" + batch_no[1:] if b.wrong_batch_no else batch_no,
                "fileSerialNo": serial,
                "count": len(rows),
                "successCount": len(success),
                "successFen": sum(int(r["amountFen"]) for r, _ in success),
                "returnDate": today,
            },
        )
        lines = [head_out]
        serials: dict[int, str] = {}
        for row, seq, code in results:
            bank_serial = f"BK{today}{batch_no[-8:]}{seq:08d}" if code == rules.SUCCESS else ""
            serials[seq] = bank_serial or f"BK{today}{batch_no[-8:]}{seq:08d}"
            line = rules.encode_record(
                rules.RETURN_DETAIL,
                {
                    "recordType": "D",
                    "seqNo": seq,
                    "custCode": row["custCode"],
                    "chargeId": row["chargeId"],
                    "amountFen": row["amountFen"],
                    "resultCode": code,
                    "bankSerialNo": bank_serial,
                    "resultMsg": rules.RESULT_CODES.get(code, "失败"),
                },
            )
            lines.append(line[:-7] if b.malformed_return else line)
        return_bytes = rules.EOL.join(lines) + rules.EOL
        back_dir = path.parent.parent / BACK
        back_dir.mkdir(parents=True, exist_ok=True)
        stem = path.stem
        return_name = f"{stem}_RET_{serial}.txt"
        (back_dir / return_name).write_bytes(return_bytes)
        return_paths = ["/" + str((back_dir / return_name).relative_to(self.root))]
        # the statement: what the bank really debited
        debits = []
        for row, seq, code in results:
            debited = (
                code == rules.SUCCESS and seq not in b.statement_drop
            ) or seq in b.statement_debit_failed
            if debited:
                amount = int(row["amountFen"]) + rules.fen(b.statement_amount_delta.get(seq, Decimal("0")))
                debits.append((serials[seq], seq, row["custCode"], amount))
        if b.statement_extra:
            debits.append((f"BK{today}EXTRA{self._serial:06d}", 99999999, "UNKNOWN", 1234))
        statement = [
            rules.encode_record(
                rules.STATEMENT_HEADER,
                {
                    "recordType": "H",
                    "batchNo": batch_no,
                    "statementDate": today,
                    "count": len(debits),
                    "totalFen": sum(d[3] for d in debits),
                },
            )
        ] + [
            rules.encode_record(
                rules.STATEMENT_DETAIL,
                {
                    "recordType": "D",
                    "bankSerialNo": s,
                    "seqNo": q,
                    "custCode": c,
                    "amountFen": a,
                    "creditDate": today,
                },
            )
            for s, q, c, a in debits
        ]
        reconcile_dir = path.parent.parent / RECONCILE
        reconcile_dir.mkdir(parents=True, exist_ok=True)
        statement_name = f"{stem}_STMT.txt"
        (reconcile_dir / statement_name).write_bytes(rules.EOL.join(statement) + rules.EOL)
        statement_path = "/" + str((reconcile_dir / statement_name).relative_to(self.root))
        processed = Processed(
            "/" + str(path.relative_to(self.root)), return_paths, statement_path, batch_no, serial
        )
        self.processed.append(processed)
        if b.notify and self.notify_url:
            for _ in range(2 if b.duplicate_return else 1):
                self._announce(batch_no, serial, return_paths[0], head["channelCode"])
        return processed

    def _announce(self, batch_no: str, serial: str, path: str, channel_code: str) -> None:
        import httpx

        from waterrev.webhook import sign

        body = json.dumps(
            {"batchNo": batch_no, "fileSerialNo": serial, "backFilePath": path, "channelCode": channel_code},
            ensure_ascii=False,
        )
        key_id, secret = self.notify_key or ("bank-local", "")
        timestamp, nonce = str(int(time.time())), secrets.token_hex(8)
        headers = {
            "Content-Type": "application/json",
            "X-Waterrev-Key-Id": key_id,
            "X-Waterrev-Timestamp": timestamp,
            "X-Waterrev-Nonce": nonce,
            "X-Waterrev-Signature": sign(secret, timestamp, nonce, body),
        }
        try:
            reply = httpx.post(str(self.notify_url), content=body.encode(), headers=headers, timeout=30)
            self.notifications.append({"batchNo": batch_no, "status": reply.status_code, "body": reply.text})
        except httpx.HTTPError as exc:
            self.notifications.append({"batchNo": batch_no, "status": 0, "body": str(exc)})

    def wait_processed(self, batch_no: str, timeout_s: float = 20.0) -> Processed:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for p in self.processed:
                if p.batch_no == batch_no:
                    return p
            time.sleep(0.05)
        raise TimeoutError(f"the bank did not process {batch_no}")

    # ---- the day's reconciliation files (docs/SYS009.md 每日对账文件) --------------------------------
    # Beside the file channel, not inside it: the bank's own records of the money it moved - the real-time
    # debits it made and told us of (IF-EXT-003), the withholding debits of the statement files it wrote,
    # the cash the cashiers deposited - written as the BANK_REALTIME and WITHHOLDING statements and the
    # credit file (one credit per channel: what that channel settled).
    def pay_realtime(
        self,
        post: Callable[[dict[str, str]], Any],
        *,
        bank_code: str,
        cust_code: str,
        amount: Decimal,
        serial: str | None = None,
    ) -> Any:
        """The bank debits a customer's account and tells SYS-002 by IF-EXT-003 (`post(body)` sends it,
        signed as the caller's gateway wants); the debit is the bank's record whatever the answer.
        Returns `post`'s answer."""
        serial = serial or f"RT{dt.datetime.now(CST):%Y%m%d}{secrets.token_hex(6).upper()}"
        with self._lock:
            self.realtime_debits.append(
                RealtimeDebit(bank_code, serial, cust_code, amount, dt.datetime.now(CST))
            )
        return post(
            {"bankCode": bank_code, "bankSerialNo": serial, "custCode": cust_code, "amount": f"{amount:.2f}"}
        )

    def deposit_cash(self, amount: Decimal, at: dt.datetime | None = None) -> None:
        """A cashier pays the counter's takings into our account: credited to COUNTER that day."""
        with self._lock:
            self.cash_deposits.append((at or dt.datetime.now(CST), amount))

    def _withheld(self, on: dt.date) -> list[recon_sim.Trade]:
        """The withholding debits of every statement file the bank wrote, credited `on`, keyed as our
        books key them: <channelCode>:<bankSerialNo> (the channel from the send file it took)."""
        out = []
        for done in list(self.processed):
            statement = self.root / done.statement_path.lstrip("/")
            send = Path(done.send_path.lstrip("/"))
            taken = self.root / send.parent.parent / "taken" / send.name
            if not statement.is_file() or not taken.is_file():
                continue
            head, _ = rules.parse_send_file(taken.read_bytes())
            _, rows = rules._parse(statement.read_bytes(), rules.STATEMENT_HEADER, rules.STATEMENT_DETAIL)
            for row in rows:
                when = dt.datetime.strptime(row["creditDate"], "%Y%m%d").date()
                if when == on:
                    at = dt.datetime.combine(when, dt.time(12), CST)
                    key = f"{head['channelCode']}:{row['bankSerialNo']}"
                    out.append(recon_sim.Trade(key, rules.yuan(row["amountFen"]), at))
        return out

    def write_statements(
        self,
        root: Path,
        day: dt.date,
        settled_by_channels: dict[str, Decimal] | None = None,
        misbehaviour: recon_sim.Misbehaviour | None = None,
        *,
        on: dt.date | None = None,
    ) -> dict[str, Decimal]:
        """Write the day's BANK_REALTIME and WITHHOLDING statements and the credit file into `root` from
        the bank's own records (`on`: the calendar day reported as `day`'s; tests give their day a date of
        its own). The credits, per channel what it settled: the bank's two from its own statements, ONLINE
        and COUNTER_QR as the channel paid them over (`settled_by_channels`: what SYS-009's statements
        settled), COUNTER the cash deposited; bent by the misbehaviour's `credit_delta`. Returns them."""
        on = on or day
        with self._lock:
            realtime = [
                recon_sim.Trade(f"{d.bank_code}:{d.serial}", d.amount, d.at)
                for d in self.realtime_debits
                if d.at.astimezone(CST).date() == on
            ]
            cash = sum(
                (a for at, a in self.cash_deposits if at.astimezone(CST).date() == on), Decimal("0.00")
            )
            withheld = self._withheld(on)
        credits = dict(settled_by_channels or {})
        credits["COUNTER"] = credits.get("COUNTER", Decimal("0.00")) + cash
        _, credits["BANK_REALTIME"] = recon_sim.write_statement(
            root, day, "BANK_REALTIME", realtime, misbehaviour
        )
        _, credits["WITHHOLDING"] = recon_sim.write_statement(
            root, day, "WITHHOLDING", withheld, misbehaviour
        )
        recon_sim.write_credits(root, day, credits, misbehaviour)
        return credits


def start(root: Path, *, users: dict[str, str] | None = None, **kwargs: Any) -> BankSimulator:
    return BankSimulator(root, users or {"waterrev": secrets.token_hex(12)}, **kwargs).start()
