"""IF-REV-011 / IF-EXT-001 / IF-EXT-002: a withholding batch on the workflow (moto's Step Functions running
workflows/withholding.asl.json), the bank simulator's SFTP server and processor, the real database."""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

import pytest

from tests.support import call, expect_error, new_bills, sql_all, sql_scalar, unique

pytestmark = pytest.mark.integration
BASE = "/admin-api/revenue/bank/withholding"


def signed_customer(admin: str, period: str, *, account: str | None = None) -> tuple[int, dict[str, Any]]:
    cust_id, bills = new_bills(admin, [period])
    reply = call(
        "POST",
        f"{BASE}/signing",
        {
            "custId": cust_id,
            "bankCode": "TBANK",
            "bankAccount": account or f"62220202{cust_id:011d}",
            "accountName": "代扣测试户䶮",
            "channelCode": "TBANK",
        },
        token=admin,
    )
    assert reply.code == 0, reply.body
    return cust_id, bills[0]


def start_batch(admin: str, period: str, **extra: Any) -> dict[str, Any]:
    batch_no = unique("WH")[:24]
    reply = call(
        "POST",
        f"{BASE}/batch",
        {
            "batchNo": batch_no,
            "businessType": "WITHHOLDING",
            "channelCode": "TBANK",
            "billPeriod": period,
            **extra,
        },
        token=admin,
    )
    assert reply.code == 0, reply.body
    return dict(reply.data)


def status(admin: str, batch_no: str) -> dict[str, Any]:
    reply = call("GET", f"{BASE}/send-disc-check", token=admin, query=f"batchNo={batch_no}")
    assert reply.code == 0, reply.body
    return dict(reply.data)


def wait_status(admin: str, batch_no: str, wanted: set[str], timeout_s: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while True:
        found = status(admin, batch_no)
        if found["batchStatus"] in wanted:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"{batch_no} still {found['batchStatus']}: {found}")
        time.sleep(0.1)


def test_a_batch_is_selected_sent_returned_written_off_reconciled_and_settled(admin: str, bank: Any) -> None:
    """Given two customers with withholding agreements on channel TBANK and an unpaid bill each in the period,
    the bank debiting the first and refusing the second (1001 余额不足)
    When a WITHHOLDING batch is created
    Then the workflow selects both bills with their amounts due, sends a GBK fixed-width file whose header
    carries the count and total, the bank's return is applied once: the first bill is written off with the
    bank's serial as trade number, the second keeps its arrears; the statement matches, so the batch is
    reconciled without differences and settled."""
    period = "2021-01"
    _cust_a, bill_a = signed_customer(admin, period)
    cust_b, bill_b = signed_customer(admin, period)
    code_b = sql_scalar("SELECT code FROM biz_cust WHERE id = :c", {"c": cust_b})
    bank.behaviour.fail_codes = {code_b: "1001"}

    started = start_batch(admin, period)
    batch_no = started["batchNo"]
    assert started["batchStatus"] == "CREATED" and started["sourceScope"] == "TENANT_CHANNEL"
    assert started["sendFilePath"] == f"/TBANK/send/WH_TBANK_{batch_no}.txt"

    done = wait_status(admin, batch_no, {"SETTLED"})
    assert done["batchStatus"] == "SETTLED", done
    assert (done["successCount"], done["failCount"], done["reconcileStatus"]) == (1, 1, "BALANCED")
    items = sql_all(
        "SELECT i.*, c.status AS bill_status FROM bk_withholding_item i JOIN bk_withholding_batch b ON b.id = i.batch_id"
        " JOIN biz_charge c ON c.id = i.charge_id WHERE b.batch_no = :b ORDER BY i.seq_no",
        {"b": batch_no},
    )
    by_charge = {int(i["charge_id"]): i for i in items}
    assert set(by_charge) == {int(bill_a["id"]), int(bill_b["id"])}
    paid, failed = by_charge[int(bill_a["id"])], by_charge[int(bill_b["id"])]
    assert paid["status"] == "SUCCESS" and paid["bill_status"] == "PAID"
    assert (
        failed["status"] == "FAIL" and failed["result_code"] == "1001" and failed["bill_status"] == "UNPAID"
    )
    collection = sql_all("SELECT * FROM biz_collection WHERE id = :k", {"k": paid["collection_id"]})[0]
    assert collection["trade_no"] == paid["bank_serial_no"] and Decimal(collection["amount"]) == Decimal(
        paid["amount"]
    )
    processed = bank.wait_processed(batch_no)
    sent = (bank.root / processed.send_path.lstrip("/").replace("/send/", "/taken/")).read_bytes()
    header = sent.split(b"\r\n")[0]
    assert header[1:25].decode().strip() == batch_no
    assert int(header[52:62]) == 2
    assert int(header[62:77]) == round((Decimal(paid["amount"]) + Decimal(failed["amount"])) * 100)
    assert "代扣测试户".encode("gbk") in sent  # GBK, and 䶮 (not in GBK) written as "?"
    assert sql_scalar("SELECT count(*) FROM bk_withholding_return WHERE batch_no = :b", {"b": batch_no}) == 1


def test_the_same_batch_is_never_sent_twice(admin: str, bank: Any) -> None:
    """Given a batch that has been sent
    When the same batchNo is asked for again
    Then 1_002_006_001, and the bank received one file."""
    period = "2021-02"
    signed_customer(admin, period)
    batch_no = start_batch(admin, period)["batchNo"]
    wait_status(admin, batch_no, {"SENT", "RETURNED", "RECONCILED", "SETTLED"})
    again = call(
        "POST",
        f"{BASE}/batch",
        {"batchNo": batch_no, "businessType": "WITHHOLDING", "channelCode": "TBANK", "billPeriod": period},
        token=admin,
    )
    expect_error(again, 1_002_006_001)
    wait_status(admin, batch_no, {"SETTLED"})
    assert len([p for p in bank.processed if p.batch_no == batch_no]) == 1


def test_a_return_delivered_twice_is_applied_once(admin: str, bank: Any) -> None:
    """Given the bank announcing its return file twice (the same fileSerialNo)
    When both receipts reach IF-EXT-002
    Then the file is applied once: one write-off per success, the second receipt answered as a duplicate."""
    period = "2021-03"
    signed_customer(admin, period)
    bank.behaviour.duplicate_return = True
    batch_no = start_batch(admin, period)["batchNo"]
    wait_status(admin, batch_no, {"SETTLED"})
    receipt = sql_all("SELECT * FROM bk_withholding_return WHERE batch_no = :b", {"b": batch_no})
    assert len(receipt) == 1 and receipt[0]["receipt_count"] >= 2
    writes = sql_scalar(
        "SELECT count(*) FROM biz_collection k JOIN bk_withholding_item i ON i.collection_id = k.id"
        " JOIN bk_withholding_batch b ON b.id = i.batch_id WHERE b.batch_no = :b",
        {"b": batch_no},
    )
    assert writes == 1


def test_a_malformed_return_is_refused_and_kept_for_review(admin: str, bank: Any) -> None:
    """Given the bank writing a return file whose lines are cut short
    When its receipt reaches IF-EXT-002
    Then 1_002_006_002 to the bank, a review record (BANK_RETURN_INVALID), nothing written off; the batch
    stays SENT, waiting for a good file."""
    period = "2021-04"
    _cust, bill = signed_customer(admin, period)
    bank.behaviour.malformed_return = True
    batch_no = start_batch(admin, period)["batchNo"]
    bank.wait_processed(batch_no)
    deadline = time.monotonic() + 20
    while not [a for a in bank.notifications if a["batchNo"] == batch_no]:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    answers = [a for a in bank.notifications if a["batchNo"] == batch_no]
    assert answers and answers[0]["status"] == 422 and "1002006002" in answers[0]["body"]
    review = sql_all(
        "SELECT * FROM bk_transaction_exception WHERE biz_order_no = :b AND exception_type = 'BANK_RETURN_INVALID'",
        {"b": batch_no},
    )
    assert len(review) == 1 and "记录长度" in review[0]["detail"]["reason"]
    assert status(admin, batch_no)["batchStatus"] == "SENT"
    assert sql_scalar("SELECT status FROM biz_charge WHERE id = :c", {"c": bill["id"]}) == "UNPAID"


def test_a_return_of_another_batch_is_refused(admin: str, bank: Any) -> None:
    """Given the bank's return naming another batch number
    When it is received
    Then 1_002_006_002 (批次号不匹配) and a review record; nothing written off."""
    period = "2021-05"
    signed_customer(admin, period)
    bank.behaviour.wrong_batch_no = True
    batch_no = start_batch(admin, period)["batchNo"]
    bank.wait_processed(batch_no)
    deadline = time.monotonic() + 20
    while not sql_all("SELECT 1 FROM bk_transaction_exception WHERE biz_order_no = :b", {"b": batch_no}):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    review = sql_all("SELECT detail FROM bk_transaction_exception WHERE biz_order_no = :b", {"b": batch_no})
    assert "批次号不匹配" in review[0]["detail"]["reason"]
    assert status(admin, batch_no)["successCount"] == 0


@pytest.mark.parametrize("code", ["1001", "1002", "1003", "1004", "2001", "9999"])
def test_every_failure_code_keeps_the_arrears(admin: str, bank: Any, code: str) -> None:
    """Given the bank refusing the whole batch with a failure code
    When the return is applied
    Then every item is FAIL with that code, no bill is written off, and the batch settles with nothing."""
    period = {
        "1001": "2022-01",
        "1002": "2022-02",
        "1003": "2022-03",
        "1004": "2022-04",
        "2001": "2022-05",
        "9999": "2022-06",
    }[code]
    _cust, bill = signed_customer(admin, period)
    bank.behaviour.reject_batch = code
    batch_no = start_batch(admin, period)["batchNo"]
    done = wait_status(admin, batch_no, {"SETTLED"})
    assert (done["batchStatus"], done["successCount"], done["failCount"]) == ("SETTLED", 0, 1)
    item = sql_all(
        "SELECT i.* FROM bk_withholding_item i JOIN bk_withholding_batch b ON b.id = i.batch_id WHERE b.batch_no = :b",
        {"b": batch_no},
    )[0]
    assert (item["status"], item["result_code"]) == ("FAIL", code)
    assert sql_scalar("SELECT status FROM biz_charge WHERE id = :c", {"c": bill["id"]}) == "UNPAID"


def test_cancel_before_the_bank_takes_the_file_and_not_after(admin: str, bank: Any) -> None:
    """Given the bank holding send files (not taking them yet)
    When a sent batch is cancelled
    Then the file is removed from the send directory and the batch is CANCELLED; and once the bank has
    taken another batch's file, its cancel is refused (1_002_006_001)."""
    period = "2021-06"
    signed_customer(admin, period)
    bank.behaviour.hold = True
    batch_no = start_batch(admin, period)["batchNo"]
    wait_status(admin, batch_no, {"SENT"})
    reply = call("POST", f"{BASE}/cancel-disc", {"batchNo": batch_no, "reason": "账期有误"}, token=admin)
    assert reply.code == 0 and reply.data["batchStatus"] == "CANCELLED", reply.body
    assert not (bank.root / "TBANK" / "send" / f"WH_TBANK_{batch_no}.txt").exists()
    bank.behaviour.hold = False
    time.sleep(0.3)
    assert not [p for p in bank.processed if p.batch_no == batch_no]

    period = "2021-07"
    signed_customer(admin, period)
    taken = start_batch(admin, period)["batchNo"]
    bank.wait_processed(taken)
    expect_error(
        call("POST", f"{BASE}/cancel-disc", {"batchNo": taken, "reason": "太晚"}, token=admin), 1_002_006_001
    )


def test_cancel_racing_send_either_wins_before_the_upload_or_is_refused(admin: str, bank: Any) -> None:
    """Given batches whose workflow is selecting and sending while a cancel arrives (at several moments)
    When both run
    Then for each batch: either the cancel won (CANCELLED, no file in the bank's send directory, nothing
    processed), or it was refused while the upload was under way (1_002_006_001) and the batch is SENT with
    its file there; never a cancelled batch whose file the bank has."""
    bank.behaviour.hold = True
    cancelled = set()
    for delay, period in ((0.0, "2021-10"), (0.05, "2021-11"), (0.3, "2021-12"), (1.0, "2022-07")):
        signed_customer(admin, period)
        batch_no = start_batch(admin, period)["batchNo"]
        time.sleep(delay)
        reply = call("POST", f"{BASE}/cancel-disc", {"batchNo": batch_no, "reason": "并发取消"}, token=admin)
        found = wait_status(admin, batch_no, {"CANCELLED", "SENT"})
        on_server = (bank.root / "TBANK" / "send" / f"WH_TBANK_{batch_no}.txt").exists()
        if reply.code == 0:
            assert found["batchStatus"] == "CANCELLED" and not on_server, found
        else:
            expect_error(reply, 1_002_006_001)
            assert found["batchStatus"] == "SENT" and on_server, found
            again = call("POST", f"{BASE}/cancel-disc", {"batchNo": batch_no, "reason": "收尾"}, token=admin)
            assert again.code == 0 and again.data["batchStatus"] == "CANCELLED", again.body
        cancelled.add(batch_no)
    bank.behaviour.hold = False
    time.sleep(0.3)
    assert not [p for p in bank.processed if p.batch_no in cancelled]


def test_without_a_receipt_the_workflow_finds_the_return_by_polling(admin: str, bank: Any) -> None:
    """Given a bank that writes its return but never announces it (no IF-EXT-002 receipt)
    When the batch has waited pollSeconds (2 s here)
    Then the workflow's Poll step finds the return in the back directory, applies it, and the batch settles."""
    period = "2022-10"
    _cust, bill = signed_customer(admin, period)
    bank.behaviour.notify = False
    batch_no = start_batch(admin, period)["batchNo"]
    done = wait_status(admin, batch_no, {"SETTLED"})
    assert done["successCount"] == 1 and done["returnList"][0]["receiptCount"] == 1
    assert not [n for n in bank.notifications if n["batchNo"] == batch_no]
    assert sql_scalar("SELECT status FROM biz_charge WHERE id = :c", {"c": bill["id"]}) == "PAID"


def test_a_collection_batch_takes_the_collection_agreements_only(admin: str, bank: Any) -> None:
    """Given one customer with a collection (托收) agreement and one with a withholding (代扣) agreement, both on
    TBANK with a bill in the period
    When a COLLECTION batch is created
    Then it takes only the collection customer's bill (its file says COLLECTION), and settles."""
    period = "2022-11"
    _withheld, other = signed_customer(admin, period)
    cust_id, bills = new_bills(admin, [period])
    signed = call(
        "POST",
        f"{BASE}/signing",
        {
            "custId": cust_id,
            "bankCode": "TBANK",
            "bankAccount": f"62220303{cust_id:011d}",
            "accountName": "托收户",
            "channelCode": "TBANK",
            "agreementType": "COLLECTION",
        },
        token=admin,
    )
    assert signed.code == 0 and signed.data["agreementType"] == "COLLECTION", signed.body
    batch_no = start_batch(admin, period, bizKind="COLLECTION")["batchNo"]
    done = wait_status(admin, batch_no, {"SETTLED"})
    assert (done["businessType"], done["itemCount"], done["successCount"]) == ("COLLECTION", 1, 1)
    assert sql_scalar("SELECT status FROM biz_charge WHERE id = :c", {"c": bills[0]["id"]}) == "PAID"
    assert sql_scalar("SELECT status FROM biz_charge WHERE id = :c", {"c": other["id"]}) == "UNPAID"
    sent = (bank.root / "TBANK" / "taken" / f"WH_TBANK_{batch_no}.txt").read_bytes()
    assert sent[40:52].decode().strip() == "COLLECTION"


def test_a_send_that_fails_leaves_the_batch_created_with_its_error_and_cancellable(
    admin: str, bank: Any
) -> None:
    """Given a channel whose configuration pins another host key than the bank's server presents
    When its batch is sent
    Then the upload is refused before any credential is sent, the batch is back to CREATED with the error
    kept (the workflow's retry would send it again), nothing reached the bank, and a person can cancel it."""
    import asyncssh

    from tests.support import sql_exec

    other_key = " ".join(
        asyncssh.generate_private_key("ssh-ed25519").export_public_key("openssh").decode().split()[:2]
    )
    sql_exec(
        "INSERT INTO bk_transfer_config (tenant_id, channel_code, protocol, host, port, username, credential_ref,"
        " host_key, send_dir, back_dir, reconcile_dir, send_file_template, back_file_template, reconcile_file_template)"
        " SELECT id, 'TBAD', 'SFTP', '127.0.0.1', :port, 'waterrev', 'bank/test', :hk, '/TBAD/send', '/TBAD/back',"
        " '/TBAD/reconcile', 'WH_{batchNo}.txt', 'WH_{batchNo}_RET_{fileSerialNo}.txt', 'WH_{batchNo}_STMT.txt'"
        " FROM system_dept WHERE parent_id = 0 ORDER BY id LIMIT 1"
        " ON CONFLICT (COALESCE(tenant_id, 0), COALESCE(channel_code, '')) DO UPDATE SET port = EXCLUDED.port,"
        " host_key = EXCLUDED.host_key",
        {"port": bank.port, "hk": other_key},
    )
    period = "2022-12"
    cust_id, _bills = new_bills(admin, [period])
    signed = call(
        "POST",
        f"{BASE}/signing",
        {
            "custId": cust_id,
            "bankCode": "TBAD",
            "bankAccount": f"62220404{cust_id:011d}",
            "accountName": "甲",
            "channelCode": "TBAD",
        },
        token=admin,
    )
    assert signed.code == 0, signed.body
    batch_no = unique("WH")[:24]
    created = call(
        "POST",
        f"{BASE}/batch",
        {"batchNo": batch_no, "businessType": "WITHHOLDING", "channelCode": "TBAD", "billPeriod": period},
        token=admin,
    )
    assert created.code == 0, created.body
    deadline = time.monotonic() + 30
    while not (found := status(admin, batch_no))["lastError"]:
        assert time.monotonic() < deadline, found
        time.sleep(0.1)
    assert found["batchStatus"] == "CREATED" and "pinned" in found["lastError"]
    assert not (bank.root / "TBAD").exists()
    cancelled = call(
        "POST", f"{BASE}/cancel-disc", {"batchNo": batch_no, "reason": "主机公钥配置错误"}, token=admin
    )
    assert cancelled.code == 0 and cancelled.data["batchStatus"] == "CANCELLED", cancelled.body
