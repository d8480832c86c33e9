"""The set-based write-off of a withholding return (banking.write_off_set) against the shared per-payment
write-off it replaces for returns: two twin worlds - the same customers, bills, penalties and counter
payments - each sent in a batch the bank answers the same way; one return applied bill by bill
(set_based=False, the path the real-time bank and the counter keep), the other set-based. Every ledger
row must be the same but for ids, codes, serials and times.

Period 2020-01 (due 2020-02-15, overdue: the penalty rule of a dept of this module's own accrues).
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from tests.support import call, new_bills, new_dept, set_param, sql_all, sql_exec, sql_scalar, unique
from waterrev import metrics
from waterrev.banking import batch
from waterrev.banking.commands import BatchItem, NewBatch
from waterrev.billing.dues import amount_due
from waterrev.context import SYSTEM, RequestContext
from waterrev.db import UnitOfWork

pytestmark = pytest.mark.integration

PERIOD = "2020-01"
ROLES = (
    "debited",
    "part paid before the batch",
    "refused by the bank",
    "paid at the counter meanwhile",
    "part paid meanwhile",
)


def penalised_dept(admin: str) -> int:
    dept = new_dept()
    rule = {"mode": "DAILY_RATE", "graceDays": 5, "dailyRate": "0.001"}
    set_param(admin, "revenue.penalty.rule", json.dumps(rule), dept_id=dept, effective="2020-01-01")
    set_param(admin, "revenue.penalty.exempt-withholding", "false", dept_id=dept)
    set_param(admin, "revenue.collection.allow-partial", "true", dept_id=dept)
    return dept


def world(admin: str, bank: Any) -> tuple[str, list[tuple[int, int]]]:
    """The customers of ROLES, each with its one bill of PERIOD and an agreement on TBANK, in a batch that
    is sent; the bank told to refuse the third."""
    dept = penalised_dept(admin)
    roles: list[tuple[int, int]] = []
    for role in ROLES:
        cust_id, (bill,) = new_bills(admin, [PERIOD], dept_id=dept)
        reply = call(
            "POST",
            "/admin-api/revenue/bank/withholding/signing",
            {
                "custId": cust_id,
                "bankCode": "TBANK",
                "bankAccount": f"62220202{cust_id:011d}",
                "accountName": "代扣孪生户",
                "channelCode": "TBANK",
            },
            token=admin,
        )
        assert reply.code == 0, reply.body
        roles.append((cust_id, int(bill["id"])))
        if role == "refused by the bank":
            code = sql_scalar("SELECT code FROM biz_cust WHERE id = :c", {"c": cust_id})
            bank.behaviour.fail_codes[code] = "1001"
        elif role == "debited":  # bound in WeChat: the payment result goes there, not by SMS
            sql_exec(
                "INSERT INTO biz_cust_app_binds (channel_type, channel_user_id, cust_id, account_id)"
                " SELECT 'WECHAT', 'wx-twin-openid', cust_id, account_id FROM biz_charge WHERE id = :b",
                {"b": bill["id"]},
            )
        elif role == "part paid before the batch":
            counter(admin, cust_id, int(bill["id"]), Decimal("3.00"))
    ctx = RequestContext(unique("twin"), SYSTEM)
    batch_no = unique("WT")[:24]
    with UnitOfWork() as uow:  # the seed's itemList: exactly these bills, each with what it owes today
        listed = tuple(BatchItem(c, b, amount_due(uow, c, charge_ids=[b]).of(b).amount_due) for c, b in roles)
        penalties = [amount_due(uow, c, charge_ids=[b]).of(b).penalty for c, b in roles]
    assert all(p > 0 for p in penalties)  # overdue for years: each bill owes a penalty too
    batch.create(ctx, NewBatch(batch_no, "TBANK", PERIOD, items=listed))
    batch.select(ctx, batch_no)
    batch.send(ctx, batch_no)
    return batch_no, roles


def counter(admin: str, cust_id: int, charge_id: int, amount: Decimal) -> None:
    reply = call(
        "POST",
        "/admin-api/revenue/collection/create",
        {"custId": cust_id, "chargeIds": [charge_id], "paymentChannel": "CASH", "paymentAmount": str(amount)},
        token=admin,
    )
    assert reply.code == 0, reply.body


def meanwhile(admin: str, roles: list[tuple[int, int]]) -> None:
    """While the bank holds the file: one bill paid in full at the counter, another in part."""
    for role, (cust_id, charge_id) in zip(ROLES, roles, strict=True):
        if role == "paid at the counter meanwhile":
            with UnitOfWork() as uow:
                due = amount_due(uow, cust_id, charge_ids=[charge_id]).of(charge_id).amount_due
            counter(admin, cust_id, charge_id, due)
        elif role == "part paid meanwhile":
            counter(admin, cust_id, charge_id, Decimal("5.00"))


KINDS = {  # which kind of id a key names
    "cust_id": "cust",
    "charge_id": "charge",
    "chargeId": "charge",
    "account_id": "account",
    "collection_id": "collection",
    "object_id": "collection",
}


def normal(value: Any, names: dict[str, dict[str, str]], key: str = "") -> Any:
    """A value with every id, code, serial and batch number of its world replaced by its role's name: an
    id by the kind its key names, a code or serial wherever it stands (inside a text such as
    WITHHOLD:TBANK:<serial> too)."""
    if isinstance(value, dict):
        return {k: normal(v, names, k) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [normal(v, names, key) for v in value]
    if key in KINDS and value is not None:
        return names[KINDS[key]].get(str(value), f"other {KINDS[key]}")
    if isinstance(value, str):
        for raw, name in sorted(names["text"].items(), key=lambda kv: -len(kv[0])):
            value = value.replace(raw, name)
    return value


def differences(old: Any, new: Any, path: str = "") -> list[str]:
    """Where two books differ, as paths (the assertion's message)."""
    if isinstance(old, dict) and isinstance(new, dict):
        return [
            d for k in sorted(set(old) | set(new)) for d in differences(old.get(k), new.get(k), f"{path}.{k}")
        ]
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        return [
            d
            for n, (a, b) in enumerate(zip(old, new, strict=True))
            for d in differences(a, b, f"{path}[{n}]")
        ]
    return [] if old == new else [f"{path}: per item {old!r}, set-based {new!r}"]


def books(batch_no: str, roles: list[tuple[int, int]]) -> dict[str, Any]:
    """Every row the write-off of the batch's return touched, per role, without ids and times."""
    items = sql_all(
        "SELECT i.* FROM bk_withholding_item i JOIN bk_withholding_batch b ON b.id = i.batch_id"
        " WHERE b.batch_no = :b ORDER BY i.seq_no",
        {"b": batch_no},
    )
    by_charge = {int(i["charge_id"]): i for i in items}
    names: dict[str, dict[str, str]] = {
        "text": {batch_no: "BATCH"},
        "cust": {},
        "charge": {},
        "account": {},
        "collection": {},
    }
    out: dict[str, Any] = {}
    for role, (cust_id, charge_id) in zip(ROLES, roles, strict=True):
        item = by_charge[charge_id]
        names["cust"][str(cust_id)] = role
        names["charge"][str(charge_id)] = role
        names["text"][sql_scalar("SELECT code FROM biz_charge WHERE id = :b", {"b": charge_id})] = (
            f"BILL<{role}>"
        )
        if item["bank_serial_no"]:
            names["text"][item["bank_serial_no"]] = f"SERIAL<{role}>"
        # one collection per channel at most: the counter's (CASH) and the bank's
        collections = sql_all(
            "SELECT * FROM biz_collection WHERE cust_id = :c ORDER BY channel", {"c": cust_id}
        )
        for k in collections:
            names["collection"][str(k["id"])] = f"{role} {k['channel']}"
            names["text"][k["code"]] = f"CODE<{role} {k['channel']}>"
        for a in sql_all("SELECT id FROM biz_account WHERE cust_id = :c", {"c": cust_id}):
            names["account"][str(a["id"])] = role
        codes = [k["code"] for k in collections]
        out[role] = {
            "item": {
                k: item[k]
                for k in (
                    "seq_no",
                    "amount",
                    "principal",
                    "penalty",
                    "status",
                    "result_code",
                    "result_msg",
                    "bank_serial_no",
                    "bank_amount",
                    "collection_id",
                )
            },
            "bill": sql_all(
                "SELECT total_amount, paid_amount, status, paid_time IS NOT NULL AS paid FROM biz_charge WHERE id = :b",
                {"b": charge_id},
            ),
            "account": sql_all(
                "SELECT balance, arrears_amount, status FROM biz_account WHERE cust_id = :c ORDER BY id",
                {"c": cust_id},
            ),
            "flows": sql_all(
                "SELECT f.change_amount, f.balance_after, f.biz_type, f.ref_no FROM biz_account_flow f"
                " JOIN biz_account a ON a.id = f.account_id WHERE a.cust_id = :c ORDER BY f.id",
                {"c": cust_id},
            ),
            "collections": [
                {k: v for k, v in c.items() if k not in ("id", "create_time", "update_time", "pay_time")}
                for c in collections
            ],
            "lines": sql_all(
                "SELECT k.code, i.charge_id, i.amount, i.item_type FROM biz_collection_item i"
                " JOIN biz_collection k ON k.id = i.collection_id WHERE k.cust_id = :c"
                " ORDER BY k.channel, i.item_type, i.charge_id",
                {"c": cust_id},
            ),
            "trades": sql_all(
                "SELECT biz_order_no, trade_no, cust_id, channel_code, scene, trade_amount, status, success_amount,"
                " request_key, operator_id, penalty_as_of, expire_time IS NOT NULL AS e, paid_time IS NOT NULL AS p,"
                " notify_time IS NOT NULL AS n FROM bk_transaction WHERE cust_id = :c ORDER BY scene",
                {"c": cust_id},
            ),
            "bills paid": sql_all(
                "SELECT o.biz_order_no, o.charge_id, o.amount, o.penalty, o.live FROM biz_order_charge o"
                " JOIN biz_collection k ON k.code = o.biz_order_no"
                " WHERE o.biz_order_no = ANY (CAST(:codes AS text[])) ORDER BY k.channel",
                {"codes": codes},
            ),
            "audit": sql_all(
                "SELECT request_id IS NOT NULL AS r, user_id, user_type, user_name, module, operation, object_type,"
                " object_id, before_data, after_data FROM biz_operat_log WHERE object_type = 'biz_collection'"
                " AND object_id = ANY (CAST(:ids AS text[])) ORDER BY after_data ->> 'channel'",
                {"ids": [str(k["id"]) for k in collections]},
            ),
            "messages": [
                {**m, "payload": {k: v for k, v in m["payload"].items() if k != "payTime"}}
                for m in sql_all(
                    "SELECT message_biz_no, template_code, receiver, channel, cust_id, source, status, payload"
                    " FROM biz_message WHERE cust_id = :c AND template_code = 'PAY_RESULT'"
                    " ORDER BY payload ->> 'paymentChannel'",
                    {"c": cust_id},
                )
            ],
        }
    head = sql_all(
        "SELECT status, item_count, success_count, fail_count, success_amount, total_amount"
        " FROM bk_withholding_batch WHERE batch_no = :b",
        {"b": batch_no},
    )
    dept = sql_scalar("SELECT dept_id FROM biz_cust WHERE id = :c", {"c": roles[0][0]})
    statistics = {  # what the summary triggers made of it (the world's own office)
        "receivable": sql_all(
            "SELECT bill_period, status, sum(bill_count) AS n, sum(receivable) AS receivable, sum(paid) AS paid"
            " FROM biz_stat_receivable WHERE dept_id = :d GROUP BY bill_period, status"
            " HAVING sum(bill_count) <> 0 OR sum(paid) <> 0 ORDER BY bill_period, status",
            {"d": dept},
        ),
        "collection": sql_all(
            "SELECT channel, status, sum(tx_count) AS n, sum(amount) AS amount, sum(written_off) AS written_off,"
            " sum(to_balance) AS to_balance FROM biz_stat_collection WHERE dept_id = :d GROUP BY channel, status"
            " ORDER BY channel, status",
            {"d": dept},
        ),
    }
    return normal({"batch": head, "roles": out, "statistics": statistics}, names)


def test_the_set_write_off_writes_exactly_what_the_per_item_write_off_writes(
    admin: str, bank: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Given two twin worlds of customers - a bill debited, a bill debited for a customer who also owes a
    penalty, a debit the bank refused, a bill paid in full at the counter while the bank held the file,
    a bill paid in part meanwhile - each sent in a batch the bank answers alike
    When one return is applied bill by bill through the shared write-off and the other set-based
    Then every ledger row - bills, accounts and their flows, collections and their lines, the settled
    bank trades and the bills they paid, the audit rows, the items, the payment-result messages and the
    batch's counts - is the same, ids, codes, serials and times aside."""
    bank.behaviour.notify = False
    bank.behaviour.hold = True
    old_no, old_roles = world(admin, bank)
    new_no, new_roles = world(admin, bank)
    meanwhile(admin, old_roles)
    meanwhile(admin, new_roles)
    bank.behaviour.hold = False
    ctx = RequestContext(unique("twin-return"), SYSTEM)
    settled: dict[bool, float] = {}
    counted: list[tuple[str, float]] = []
    monkeypatch.setattr(metrics, "put", lambda name, value=1: counted.append((name, value)))
    for batch_no, set_based in ((old_no, False), (new_no, True)):
        processed = bank.wait_processed(batch_no)
        counted.clear()
        reply = batch.apply_return(
            ctx, batch_no, processed.file_serial_no, processed.return_paths[0], set_based=set_based
        )
        assert reply["returnStatus"] == "APPLIED", reply
        settled[set_based] = sum(v for name, v in counted if name == metrics.PAYMENTS_SETTLED)
    # PaymentsSettled: each line written off counts once, whichever path wrote it
    assert settled == {False: 3, True: 3}
    old, new = books(old_no, old_roles), books(new_no, new_roles)
    assert old == new, "\n".join(differences(old, new))
    # and the worlds are what the roles say: the twin comparison is not of two empty books
    roles = new["roles"]
    assert roles["debited"]["item"]["status"] == "SUCCESS" and roles["debited"]["bill"][0]["status"] == "PAID"
    assert [line["item_type"] for line in roles["debited"]["lines"]] == ["PENALTY", "PRINCIPAL"]
    assert roles["refused by the bank"]["item"]["status"] == "FAIL"
    assert roles["paid at the counter meanwhile"]["item"]["status"] == "WRITE_OFF_FAILED"
    assert roles["part paid meanwhile"]["item"]["status"] == "SUCCESS"
    assert [f["biz_type"] for f in roles["part paid meanwhile"]["flows"]] == ["OVERPAY"]
    assert new["batch"][0]["success_count"] == 3 and new["batch"][0]["fail_count"] == 2
    summary = [(r["channel"], r["status"], r["n"]) for r in new["statistics"]["collection"]]
    assert summary == [("BANK", "SUCCESS", 3), ("CASH", "PARTIAL", 2), ("CASH", "SUCCESS", 1)]
    assert [(m["payload"]["paymentChannel"], m["channel"]) for m in roles["debited"]["messages"]] == [
        ("BANK", "WECHAT")
    ]
    assert [m["channel"] for m in roles["part paid meanwhile"]["messages"]] == ["SMS", "SMS"]


def test_a_return_applied_set_based_twice_writes_off_nothing_twice(admin: str, bank: Any) -> None:
    """Given a return applied set-based
    When the same file (batchNo + fileSerialNo) is applied again
    Then it is answered as a duplicate and nothing more is written."""
    bank.behaviour.notify = False
    batch_no, roles = world(admin, bank)
    processed = bank.wait_processed(batch_no)
    ctx = RequestContext(unique("twice"), SYSTEM)
    first = batch.apply_return(ctx, batch_no, processed.file_serial_no, processed.return_paths[0])
    before = books(batch_no, roles)
    again = batch.apply_return(ctx, batch_no, processed.file_serial_no, processed.return_paths[0])
    assert first["duplicate"] is False and again["duplicate"] is True
    assert books(batch_no, roles) == before
    assert sql_scalar("SELECT count(*) FROM bk_withholding_stage") == 0
