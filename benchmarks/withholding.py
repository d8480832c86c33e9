"""Bank withholding (issue 13): a batch of BENCH_ITEMS items (default 5,000; the issue names 100,000: set
BENCH_ITEMS=100000), each figure beside its floor.

1. Select + build + upload: `banking.batch.create`, `select` (the period's unpaid bills of customers with an
   active agreement, each with its amount due from `billing.dues`) and `send` (the GBK fixed-width file, every
   account opened from its seal, uploaded over SFTP to the bank simulator on loopback), as the workflow's
   steps run them, one worker. Floor: the same item rows COPYed into an empty copy of bk_withholding_item
   plus the same bytes uploaded over the same SFTP connection kind.
2. Parse + write-off: `banking.batch.apply_return` on the bank's return (every line a success): the file
   read over SFTP, checked whole, every item written off set-based (banking.write_off_set: the rows the
   shared write-off would write, a chunk of 5,000 lines per statement), one transaction. Floor: one
   set-based UPDATE marking the same bills paid in an empty copy of biz_charge. The issue's target: at
   least 5,000 items/s written off per worker: printed for the whole step and for the write-off alone (the
   checked lines applied: banking.batch._apply_lines, timed by wrapping it). BENCH_PER_ITEM=1 writes off bill by bill instead (the
   shared write-off, one savepoint each: what the real-time bank does), for comparison.

Prints figures; asserts nothing.
"""

from __future__ import annotations

import io
import os
import secrets
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
PERIOD = "2031-01"
CHANNEL = "BENCH"


def database() -> object | None:
    url = os.environ.get("WATERREV_BENCH_DATABASE_URL")
    server = None
    state = Path(tempfile.mkdtemp(prefix="waterrev-bench-withholding-"))
    if not url:
        from waterrev.local import pg

        server, base = pg.start(state / "pgdata", cleanup=True)
        url = pg.create_database(base, "bench_withholding")
    os.environ["WATERREV_DATABASE_URL"] = url
    os.environ.setdefault("WATERREV_ENV", "bench")
    os.environ["WATERREV_DATA_KEY_FILE"] = str(state / "data-key")
    from waterrev import migrate
    from waterrev.local import demo
    from waterrev.settings import reset_settings

    reset_settings()
    migrate.upgrade()
    demo.load(months=1)
    return server


def seed(items: int, sim: object) -> None:
    """An office with `items` customers, each with an account, one unpaid bill of the period (not yet due: no
    penalty) and a signed withholding agreement on channel BENCH (its account sealed); the channel's transfer
    configuration pointing at the simulator."""
    from waterrev import crypto
    from waterrev.db import UnitOfWork
    from waterrev.masking import mask_bank_account

    with UnitOfWork() as uow:
        office = uow.scalar(
            "INSERT INTO system_dept (name, parent_id, tree_path) SELECT '代扣基准营业所', id, tree_path FROM system_dept"
            " WHERE parent_id = 0 ORDER BY id LIMIT 1 RETURNING id"
        )
        uow.execute("UPDATE system_dept SET tree_path = tree_path || id || '/' WHERE id = :d", {"d": office})
        from benchmarks import sealed

        slots = sealed.mobiles(uow)  # sealed as the use case stores them: each write-off queues its SMS
        uow.execute(
            "INSERT INTO biz_cust (code, name, cust_type, mobile, mobile_cipher, mobile_index, address, dept_id)"
            " SELECT 'WHB' || g, '代扣户' || g, 'RESIDENT', m.mobile, m.mobile_cipher, m.mobile_index, '地址 ' || g, :d"
            " FROM generate_series(1, :n) g JOIN bench_mobile m ON m.slot = mod(g, :slots)",
            {"n": items, "d": office, "slots": slots},
        )
        uow.execute(
            "INSERT INTO biz_account (cust_id, account_no) SELECT id, 'ZH' || code FROM biz_cust WHERE dept_id = :d",
            {"d": office},
        )
        uow.execute(
            "INSERT INTO biz_charge (code, cust_id, account_id, bill_period, usage_amount, total_amount, status,"
            " due_date) SELECT 'ZDW' || c.code, c.id, a.id, :p, 12, 20 + mod(c.id, 50), 'UNPAID', current_date + 30"
            " FROM biz_cust c JOIN biz_account a ON a.cust_id = c.id WHERE c.dept_id = :d",
            {"d": office, "p": PERIOD},
        )
        keys = crypto.keys(uow.conn)
        ids = [
            int(r["id"])
            for r in uow.all("SELECT id FROM biz_cust WHERE dept_id = :d ORDER BY id", {"d": office})
        ]
        accounts = [f"62220202{i:011d}" for i in ids]
        raw = uow.conn.connection.dbapi_connection
        text = io.StringIO()
        for cust_id, number in zip(ids, accounts, strict=True):
            sealed = "\\\\x" + keys.seal(number).hex()
            text.write(
                f"{cust_id}\tBENCH\t{mask_bank_account(number)}\t{sealed}\t{keys.index(number)}\t代扣户\tWH{cust_id:014d}\t{CHANNEL}\n"
            )
        text.seek(0)
        raw.run(
            "COPY biz_cust_withholding_rel (cust_id, bank_code, bank_account, bank_account_cipher, bank_account_index,"
            " account_name, sign_no, channel_code) FROM STDIN",
            stream=text,
        )
        uow.execute(
            "INSERT INTO bk_transfer_config (channel_code, protocol, host, port, username, credential_ref, host_key,"
            " send_dir, back_dir, reconcile_dir) VALUES (:ch, 'SFTP', '127.0.0.1', :port, 'waterrev', 'bank/bench', :hk,"
            " '/BENCH/send', '/BENCH/back', '/BENCH/reconcile')",
            {"ch": CHANNEL, "port": sim.port, "hk": sim.host_key},  # type: ignore[attr-defined]
        )
        uow.commit()
    with UnitOfWork() as uow:
        uow.execute("ANALYZE")
        uow.commit()


def select_build_upload(batch_no: str) -> float:
    from waterrev.banking import batch
    from waterrev.banking.commands import NewBatch
    from waterrev.context import SYSTEM, RequestContext

    ctx = RequestContext("bench", SYSTEM)
    started = time.perf_counter()
    batch.create(ctx, NewBatch(batch_no, CHANNEL, PERIOD))
    batch.select(ctx, batch_no)
    batch.send(ctx, batch_no)
    return time.perf_counter() - started


def select_floor(batch_no: str, sim: object) -> float:
    """COPY the batch's item rows into an empty copy of the table, and upload the same bytes again."""
    from waterrev.banking import batch
    from waterrev.db import UnitOfWork, get_engine

    with UnitOfWork() as uow:
        row = batch.get(uow, batch_no)
        data = batch.send_file(uow, row)
        uow.execute("DROP TABLE IF EXISTS bench_item")
        uow.execute("CREATE TABLE bench_item (LIKE bk_withholding_item INCLUDING ALL)")
        rows = uow.all(
            "SELECT batch_id, seq_no, cust_id, charge_id, agreement_id, sign_no, amount, principal, penalty"
            " FROM bk_withholding_item WHERE batch_id = :b",
            {"b": row["id"]},
        )
        uow.commit()
    copy_text = "".join("\t".join(str(v) for v in r.values()) + "\n" for r in rows)
    raw = get_engine().raw_connection()
    try:
        started = time.perf_counter()
        raw.dbapi_connection.run(
            "COPY bench_item (batch_id, seq_no, cust_id, charge_id, agreement_id, sign_no, amount, principal, penalty)"
            " FROM STDIN",
            stream=io.StringIO(copy_text),
        )
        raw.commit()
        with batch.connect(row) as sftp:
            sftp.upload("/BENCH/floor/floor.txt", data)
        return time.perf_counter() - started
    finally:
        raw.close()


def parse_write_off(batch_no: str, sim: object) -> tuple[float, float]:
    """(the whole apply_return, the write-off alone: the checked lines applied, banking.batch._apply_lines)."""
    from waterrev.banking import batch
    from waterrev.context import SYSTEM, RequestContext

    sim.behaviour.hold = False  # type: ignore[attr-defined]
    (processed,) = sim.process_pending() or [sim.wait_processed(batch_no)]  # type: ignore[attr-defined]
    apply_lines = batch._apply_lines
    spent: list[float] = []

    def timed(*args: object, **kwargs: object) -> object:
        began = time.perf_counter()
        try:
            return apply_lines(*args, **kwargs)  # type: ignore[arg-type]
        finally:
            spent.append(time.perf_counter() - began)

    batch._apply_lines = timed  # type: ignore[assignment]
    try:
        started = time.perf_counter()
        batch.apply_return(
            RequestContext("bench", SYSTEM),
            batch_no,
            processed.file_serial_no,
            processed.return_paths[0],
            set_based=os.environ.get("BENCH_PER_ITEM") != "1",
        )
        return time.perf_counter() - started, sum(spent)
    finally:
        batch._apply_lines = apply_lines  # type: ignore[assignment]


def write_off_floor(batch_no: str) -> float:
    from waterrev.db import UnitOfWork

    with UnitOfWork() as uow:
        uow.execute("DROP TABLE IF EXISTS bench_charge")
        uow.execute("CREATE TABLE bench_charge (LIKE biz_charge INCLUDING ALL)")
        uow.execute(
            "INSERT INTO bench_charge SELECT c.* FROM biz_charge c JOIN bk_withholding_item i ON i.charge_id = c.id"
            " JOIN bk_withholding_batch b ON b.id = i.batch_id WHERE b.batch_no = :b",
            {"b": batch_no},
        )
        uow.execute("UPDATE bench_charge SET paid_amount = 0, status = 'UNPAID', paid_time = NULL")
        uow.commit()
    with UnitOfWork() as uow:
        ids = [r["id"] for r in uow.all("SELECT id FROM bench_charge")]
        started = time.perf_counter()
        uow.execute(
            "UPDATE bench_charge c SET paid_amount = c.total_amount, status = 'PAID', paid_time = now()"
            " FROM unnest(CAST(:ids AS bigint[])) AS x (id) WHERE c.id = x.id",
            {"ids": ids},
        )
        uow.commit()
        return time.perf_counter() - started


def main() -> None:
    import json

    items = int(os.environ.get("BENCH_ITEMS", "5000"))
    server = database()
    from waterrev.local import bank_sim
    from waterrev.settings import reset_settings

    password = secrets.token_hex(8)
    state = Path(tempfile.mkdtemp(prefix="waterrev-bench-bank-"))
    sim = bank_sim.start(state / "sftp", users={"waterrev": password}, poll_s=3600)
    sim.behaviour.hold = True
    credentials = state / "credentials.json"
    credentials.write_text(json.dumps({"bank/bench": {"password": password}}))
    os.environ["WATERREV_BANK_CREDENTIALS_FILE"] = str(credentials)
    reset_settings()
    try:
        started = time.perf_counter()
        seed(items, sim)
        print(
            f"withholding: seeded {items:,} customers with agreements and bills in {time.perf_counter() - started:.1f} s"
        )
        batch_no = "WHBENCH" + secrets.token_hex(4).upper()
        took = select_build_upload(batch_no)
        floor = select_floor(batch_no, sim)
        print(
            f"  select + build + upload: {items / took:,.0f} items/s ({took:.1f} s)"
            f"   floor (COPY the items + upload the file): {items / floor:,.0f} items/s"
        )
        took, write_off = parse_write_off(batch_no, sim)
        floor = write_off_floor(batch_no)
        how = "bill by bill" if os.environ.get("BENCH_PER_ITEM") == "1" else "set-based"
        print(
            f"  parse + write-off ({how}): {items / took:,.0f} items/s ({took:.1f} s: SFTP read, checks, write-off,"
            f" commit)"
        )
        print(
            f"  write-off alone ({how}): {items / write_off:,.0f} items/s ({write_off:.1f} s, one worker)"
            f"   floor (one UPDATE of the bills): {items / floor:,.0f} items/s   target: 5,000 items/s"
        )
    finally:
        sim.stop()
        from waterrev.db import dispose_engine

        dispose_engine()
        if server is not None:
            server.cleanup()  # type: ignore[attr-defined]


if __name__ == "__main__":
    main()
