"""The set-based write-off of a withholding return's successes (decision 109).

The books end exactly as the shared write-off (payments.collection.write_off, the database function
rev_write_off, and record_trade) applied to each success line in turn would leave them - the collection
(channel BANK, source WITHHOLD, the bank's serial as trade number, idempotency key
WITHHOLD:<channel>:<serial>), its PRINCIPAL and PENALTY lines, the bill PAID, the account's arrears less
the principal, the settled bk_transaction (<channel>:<serial>) with the bill it paid, the WRITE_OFF audit
row with the same before and after, the item SUCCESS - but a chunk of lines is written by one statement
per table instead of a dozen round trips per line.

A line is written off here when the shared write-off would write it off in full with nothing to decide:
the customer has an account, the bill is its own, payable and held by no live order, what the bank
debited is exactly what the bill owes as of the batch's day (principal and penalty, billing.dues, read
after the locks), and neither its idempotency key nor its trade number is taken (nor its serial used by
another line of the file). Every other success line is handed back for the per-item path
(banking.batch._write_off_item), which answers it exactly as before: an excess to the balance, a short
amount PARTIAL, a bill paid meanwhile WRITE_OFF_FAILED. Lines are independent (each pays one bill of its
own; the arrears' floor at zero gives the same result in any order), so doing the clean ones first
changes nothing but ids and codes. tests/integration/test_withholding_set_write_off.py runs both paths on
the same data and compares every row.

Locks as the per-item path takes them, a chunk at a time: the customers' accounts (their first, in id
order), then the bills (in id order), so no payment that locks an account and then its bills can
deadlock against it.
"""

from __future__ import annotations

import datetime as dt
import io
import json
from collections import Counter
from decimal import Decimal
from typing import Any, NamedTuple

from sqlalchemy.exc import IntegrityError

from waterrev import audit, metrics
from waterrev.banking import rules
from waterrev.billing.dues import amount_due_many
from waterrev.context import RequestContext
from waterrev.db import UnitOfWork
from waterrev.domain.states import PAYABLE_BILLS

CHUNK = 5_000
ZERO = Decimal("0.00")
STAGE = "bk_withholding_stage"
_STAGE_COLUMNS = (
    "receipt_id",
    "item_id",
    "seq_no",
    "cust_id",
    "account_id",
    "charge_id",
    "amount",
    "owed",
    "penalty",
    "paid_before",
    "status_before",
    "penalty_first",
    "penalty_as_of",
    "collection_id",
    "code",
    "bank_serial_no",
    "result_code",
    "result_msg",
    "remark",
)


class Line(NamedTuple):
    item: dict[str, Any]
    line: rules.ReturnLine


def idempotency_key(channel: str, serial: str) -> str:
    return f"WITHHOLD:{channel}:{serial}"


def trade_no(channel: str, serial: str) -> str:
    return f"{channel}:{serial}"


def _copy_text(value: object) -> str:
    if value is None:
        return "\\N"
    text = str(value)
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def _ids(values: list[int]) -> str:
    return ",".join(str(v) for v in values)


def write_off(
    uow: UnitOfWork,
    ctx: RequestContext,
    batch: dict[str, Any],
    receipt_id: int,
    lines: list[Line],
    as_of: dt.date,
) -> list[Line]:
    """Write off the clean success `lines` set-based, chunk by chunk; the lines left for the per-item path,
    in file order."""
    twice = {s for s, n in Counter(x.line.bank_serial_no for x in lines).items() if n > 1}
    left: list[Line] = [x for x in lines if x.line.bank_serial_no in twice]
    single = [x for x in lines if x.line.bank_serial_no not in twice]
    for start in range(0, len(single), CHUNK):
        left.extend(_chunk(uow, ctx, batch, receipt_id, single[start : start + CHUNK], as_of))
    order = {id(x): n for n, x in enumerate(lines)}
    return sorted(left, key=lambda x: order[id(x)])


def _chunk(
    uow: UnitOfWork,
    ctx: RequestContext,
    batch: dict[str, Any],
    receipt_id: int,
    lines: list[Line],
    as_of: dt.date,
) -> list[Line]:
    channel = str(batch["channel_code"])
    custs = sorted({int(x.item["cust_id"]) for x in lines})
    charges = sorted({int(x.item["charge_id"]) for x in lines})
    accounts = {
        int(r["cust_id"]): int(r["id"])
        for r in uow.all(
            "SELECT id, cust_id FROM biz_account WHERE id IN (SELECT DISTINCT ON (cust_id) id FROM biz_account"
            " WHERE cust_id = ANY (CAST(string_to_array(:c, ',') AS bigint[])) ORDER BY cust_id, id)"
            " ORDER BY id FOR UPDATE",
            {"c": _ids(custs)},
        )
    }
    uow.scalar(
        "SELECT count(*) FROM (SELECT id FROM biz_charge WHERE id = ANY (CAST(string_to_array(:c, ',') AS bigint[]))"
        " ORDER BY id FOR UPDATE) locked",
        {"c": _ids(charges)},
    )
    dues = amount_due_many(
        uow, [(int(x.item["cust_id"]), int(x.item["charge_id"])) for x in lines], as_of=as_of
    )
    keys = [idempotency_key(channel, x.line.bank_serial_no) for x in lines]
    trades = [trade_no(channel, x.line.bank_serial_no) for x in lines]
    taken = {
        r["k"]
        for r in uow.all(
            "SELECT idempotency_key AS k FROM biz_collection WHERE idempotency_key IN"
            " (SELECT jsonb_array_elements_text(CAST(:keys AS jsonb)))"
            " UNION ALL SELECT trade_no FROM bk_transaction WHERE trade_no IN"
            " (SELECT jsonb_array_elements_text(CAST(:trades AS jsonb)))",
            {"keys": json.dumps(keys), "trades": json.dumps(trades)},
        )
    }
    clean: list[tuple[Line, int, Any, bool]] = []
    left: list[Line] = []
    for x, key, trade in zip(lines, keys, trades, strict=True):
        cust_id, charge_id = int(x.item["cust_id"]), int(x.item["charge_id"])
        account_id = accounts.get(cust_id)
        owed = dues.get(cust_id)
        bill = next((b for b in owed.bills if b.charge_id == charge_id), None) if owed else None
        if (
            account_id is None
            or owed is None
            or bill is None
            or bill.status not in PAYABLE_BILLS
            or bill.live_order is not None
            or bill.amount_due != x.line.amount
            or key in taken
            or trade in taken
        ):
            left.append(x)
            continue
        clean.append((x, account_id, bill, owed.penalty_first))
    if not clean:
        return left
    n = len(clean)
    row = uow.one(
        "SELECT string_agg(nextval('biz_collection_id_seq')::text, ',') AS ids,"
        " string_agg(nextval('biz_collection_code_seq')::text, ',') AS seqs FROM generate_series(1, :n)",
        {"n": n},
    )
    assert row is not None
    ids = [int(v) for v in row["ids"].split(",")]
    seqs = [int(v) for v in row["seqs"].split(",")]
    day = f"{dt.datetime.now(dt.UTC):%Y%m%d}"
    text = io.StringIO()
    for (x, account_id, bill, penalty_first), collection_id, seq in zip(clean, ids, seqs, strict=True):
        values = (
            receipt_id,
            x.item["id"],
            x.line.seq_no,
            x.item["cust_id"],
            account_id,
            bill.charge_id,
            x.line.amount,
            bill.principal,
            bill.penalty,
            bill.paid,
            bill.status,
            "t" if penalty_first else "f",
            as_of.isoformat(),
            collection_id,
            f"SF{day}{seq:08d}",
            x.line.bank_serial_no,
            x.line.result_code,
            x.line.result_msg[:200],
            f"银行代扣 {batch['batch_no']} #{x.line.seq_no}",
        )
        text.write("\t".join(_copy_text(v) for v in values) + "\n")
    text.seek(0)
    savepoint = uow.conn.begin_nested()
    try:
        raw = uow.conn.connection.dbapi_connection
        raw.run(f"COPY {STAGE} ({', '.join(_STAGE_COLUMNS)}) FROM STDIN", stream=text)  # type: ignore[union-attr]
        _write(uow, ctx, channel, receipt_id)
        savepoint.commit()
    except IntegrityError:  # a key taken by a payment committed meanwhile: the per-item path decides each
        savepoint.rollback()
        return lines
    metrics.on_commit(uow, metrics.PAYMENTS_SETTLED, n)  # each settled as the shared write-off counts one
    return left


def _write(uow: UnitOfWork, ctx: RequestContext, channel: str, receipt_id: int) -> None:
    """The staged lines written, one statement per table, as rev_write_off and record_trade write one."""
    params = {
        "r": receipt_id,
        "ch": channel,
        "op": ctx.principal.user_id or None,
        "actor": audit.actor(ctx),
    }
    stage = f"{STAGE} s WHERE s.receipt_id = :r"
    # the payment-result messages are queued below in one statement, as the trigger would queue each
    uow.scalar("SELECT set_config('waterrev.payment_result_set', 'on', true)")
    uow.execute(
        "INSERT INTO biz_collection (id, code, cust_id, account_id, amount, channel, trade_no, status, outlet_code,"
        " operator_id, remark, pay_time, source, actual_amount, change_amount, written_off, to_balance,"
        " idempotency_key, penalty_as_of)"
        " SELECT s.collection_id, s.code, s.cust_id, s.account_id, s.amount, 'BANK', s.bank_serial_no, 'SUCCESS',"
        " NULL, :op, s.remark, now(), 'WITHHOLD', NULL, 0, s.amount, 0, 'WITHHOLD:' || :ch || ':' || s.bank_serial_no,"
        f" s.penalty_as_of FROM {stage} ORDER BY s.seq_no",
        params,
    )
    uow.scalar("SELECT set_config('waterrev.payment_result_set', 'off', true)")
    uow.execute(  # msg_payment_result's message (sql/functions/msg_payment_result.sql), for the whole chunk
        "INSERT INTO biz_message (message_biz_no, template_code, receiver, receiver_cipher, receiver_index,"
        " channel, cust_id, source, payload)"
        " SELECT 'PAY:' || k.code, 'PAY_RESULT', COALESCE(w.receiver, u.mobile),"
        " CASE WHEN w.receiver IS NULL THEN u.mobile_cipher END, CASE WHEN w.receiver IS NULL THEN u.mobile_index END,"
        " CASE WHEN w.receiver IS NOT NULL THEN 'WECHAT' ELSE 'SMS' END, k.cust_id, 'PAYMENT_RESULT',"
        " jsonb_build_object('collectionCode', k.code, 'paymentChannel', k.channel,"
        " 'amount', CAST(k.amount AS text), 'writtenOff', CAST(k.written_off AS text),"
        " 'toBalance', CAST(k.to_balance AS text), 'writeOffStatus', k.status,"
        " 'payTime', to_char(COALESCE(k.pay_time, now()) AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD HH24:MI:SS'))"
        f" FROM {STAGE} s JOIN biz_collection k ON k.id = s.collection_id JOIN biz_cust u ON u.id = k.cust_id"
        " LEFT JOIN LATERAL (SELECT b.channel_user_id AS receiver FROM biz_cust_app_binds b"
        " WHERE b.cust_id = k.cust_id AND b.channel_type = 'WECHAT' AND b.status = 'BOUND'"
        " ORDER BY b.is_default DESC, b.bind_time DESC LIMIT 1) w ON true"
        " WHERE s.receipt_id = :r AND k.status IN ('SUCCESS', 'PARTIAL')"
        " AND (w.receiver IS NOT NULL OR (u.mobile_cipher IS NOT NULL AND u.mobile ~ '^1[3-9][0-9][*]{4}[0-9]{4}$'))"
        " ORDER BY s.seq_no"
        " ON CONFLICT ON CONSTRAINT biz_message_key DO NOTHING",
        params,
    )
    # PAID once the principal and the penalty owed as of the payment are both settled (rev_write_off's rule;
    # here both are paid in full)
    uow.execute(
        "UPDATE biz_charge c SET paid_amount = c.paid_amount + s.owed,"
        " status = CASE WHEN c.paid_amount + s.owed >= c.total_amount THEN 'PAID' ELSE 'PARTIAL' END,"
        " paid_time = CASE WHEN c.paid_amount + s.owed >= c.total_amount THEN now() ELSE c.paid_time END"
        f" FROM {stage} AND c.id = s.charge_id",
        params,
    )
    uow.execute(
        "INSERT INTO biz_collection_item (collection_id, charge_id, amount, item_type)"
        " SELECT s.collection_id, s.charge_id, s.owed, 'PRINCIPAL' FROM "
        + stage
        + " AND s.owed > 0 UNION ALL SELECT s.collection_id, s.charge_id, s.penalty, 'PENALTY' FROM "
        + stage
        + " AND s.penalty > 0",
        params,
    )
    uow.execute(  # arrears are the water fee owed: only principal lowers them (the floor at 0 commutes)
        "UPDATE biz_account a SET arrears_amount = GREATEST(a.arrears_amount - f.fee, 0), balance = a.balance"
        f" FROM (SELECT s.account_id, sum(s.owed) AS fee FROM {stage} GROUP BY s.account_id) f"
        " WHERE a.id = f.account_id",
        params,
    )
    uow.execute(
        "INSERT INTO bk_transaction (biz_order_no, trade_no, cust_id, channel_code, scene, trade_amount, status,"
        " success_amount, expire_time, paid_time, notify_time, request_key, operator_id, penalty_as_of)"
        " SELECT s.code, :ch || ':' || s.bank_serial_no, s.cust_id, 'BANK', 'WITHHOLD', s.amount, 'SUCCESS', s.amount,"
        " now(), now(), now(), 'WITHHOLD|' || :ch || '|' || s.bank_serial_no, :op, s.penalty_as_of"
        f" FROM {stage} ORDER BY s.seq_no",
        params,
    )
    uow.execute(
        "INSERT INTO biz_order_charge (biz_order_no, charge_id, amount, penalty, live)"
        f" SELECT s.code, s.charge_id, s.owed, s.penalty, false FROM {stage}",
        params,
    )
    uow.execute(  # rev_audit's row, with rev_write_off's before and after
        "INSERT INTO biz_operat_log (request_id, user_id, user_type, user_name, module, operation, object_type,"
        " object_id, before_data, after_data)"
        " SELECT x.a ->> 'requestId', CAST(x.a ->> 'userId' AS bigint), x.a ->> 'userType', x.a ->> 'userName',"
        " 'REV-003', 'WRITE_OFF', 'biz_collection', s.collection_id::text,"
        " jsonb_build_object('charges', jsonb_build_array(jsonb_build_object('chargeId', s.charge_id,"
        " 'paidAmount', s.paid_before::text, 'status', s.status_before))),"
        " jsonb_build_object('code', s.code, 'channel', 'BANK', 'amount', s.amount::text,"
        " 'writtenOff', s.amount::text, 'toBalance', '0.00', 'tradeNo', s.bank_serial_no,"
        " 'penaltyAsOf', s.penalty_as_of, 'penaltyFirst', s.penalty_first,"
        " 'lines', jsonb_build_array(jsonb_build_object('chargeId', s.charge_id, 'amount', s.owed::text,"
        " 'penalty', s.penalty::text)))"
        f" FROM (SELECT CAST(:actor AS jsonb) AS a) x, {stage} ORDER BY s.seq_no",
        params,
    )
    uow.execute(
        "UPDATE bk_withholding_item i SET status = 'SUCCESS', result_code = s.result_code, result_msg = s.result_msg,"
        " bank_serial_no = s.bank_serial_no, bank_amount = s.amount, collection_id = s.collection_id"
        f" FROM {stage} AND i.id = s.item_id",
        params,
    )
    uow.execute(f"DELETE FROM {STAGE} WHERE receipt_id = :r", params)


def mark_failed(uow: UnitOfWork, lines: list[Line]) -> None:
    """The bank's refusals, one statement: the items FAIL with the bank's code and message."""
    if not lines:
        return
    uow.execute(
        "UPDATE bk_withholding_item i SET status = 'FAIL', result_code = x.c, result_msg = x.m"
        " FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS x (id bigint, c text, m text) WHERE i.id = x.id",
        {
            "rows": json.dumps(
                [{"id": x.item["id"], "c": x.line.result_code, "m": x.line.result_msg[:200]} for x in lines],
                ensure_ascii=False,
            )
        },
    )
