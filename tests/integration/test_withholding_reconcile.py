"""Reconciliation and settlement of a withholding batch (IF-REV-011 RECONCILE / SETTLEMENT): the bank's
statement against our ledger and the return; every class of difference; a person resolves each; settlement
refused while one is open (1_002_006_003), then allowed."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from tests.integration.test_withholding_batch import BASE, signed_customer, start_batch, wait_status
from tests.support import audit_rows, call, expect_error, sql_all, sql_scalar

pytestmark = pytest.mark.integration


def diffs(admin: str, batch_no: str) -> dict[str, dict[str, Any]]:
    reply = call("GET", f"{BASE}/send-disc-check", token=admin, query=f"batchNo={batch_no}")
    assert reply.code == 0, reply.body
    return {d["diffType"]: d for d in reply.data["diffList"]}


def resolve(admin: str, diff_id: int, action: str, reason: str | None = None) -> Any:
    return call(
        "POST",
        f"{BASE}/reconcile/diff/resolve",
        {"diffId": diff_id, "action": action, "reason": reason},
        token=admin,
    )


def settle(admin: str, batch_no: str) -> Any:
    return call(
        "POST",
        f"{BASE}/batch",
        {"batchNo": batch_no, "businessType": "SETTLEMENT", "channelCode": "TBANK"},
        token=admin,
    )


def test_settlement_refused_while_a_difference_is_open_then_allowed(admin: str, bank: Any) -> None:
    """Given a batch whose statement lacks a debit the return reported (#1), reports a debit the return
    refused (#2), another amount (#3) and a debit for no item of the batch
    When the workflow reconciles
    Then four differences are open and settlement is refused (1_002_006_003); a person reverses #1 (the bill
    owes again; the collection is untouched), writes off #2 with the bank's serial, reverses #3 and ignores
    the bank-only line with a reason; then settlement is allowed and a repeat answers the same."""
    period = "2022-09"
    bills = [signed_customer(admin, period)[1] for _ in range(3)]
    code_2 = sql_scalar("SELECT code FROM biz_cust WHERE id = :c", {"c": bills[1]["cust_id"]})
    bank.behaviour.fail_codes = {code_2: "1001"}
    # sequence numbers follow customer id then bill id: the three customers were made in order
    bank.behaviour.statement_drop = {1}
    bank.behaviour.statement_debit_failed = {2}
    bank.behaviour.statement_amount_delta = {3: Decimal("-1.00")}
    bank.behaviour.statement_extra = True

    batch_no = start_batch(admin, period)["batchNo"]
    found = wait_status(admin, batch_no, {"RECONCILED", "SETTLED"})
    assert (found["batchStatus"], found["reconcileStatus"]) == ("RECONCILED", "DIFF"), found
    open_ = diffs(admin, batch_no)
    assert set(open_) == {"OURS_PAID_BANK_FAILED", "BANK_PAID_OURS_UNPAID", "AMOUNT_MISMATCH", "BANK_ONLY"}

    refused = expect_error(settle(admin, batch_no), 1_002_006_003)
    assert len(refused.body["data"]["diffList"]) == 4

    # an action the class does not allow, and an ignore without a reason, are refused
    expect_error(resolve(admin, open_["BANK_ONLY"]["diffId"], "WRITE_OFF"), 400)
    expect_error(resolve(admin, open_["BANK_ONLY"]["diffId"], "IGNORE"), 400)

    first = open_["OURS_PAID_BANK_FAILED"]
    collection_before = sql_all(
        "SELECT k.* FROM biz_collection k JOIN bk_withholding_item i ON i.collection_id = k.id WHERE i.charge_id = :c",
        {"c": first["chargeId"]},
    )
    reversed_ = resolve(admin, first["diffId"], "REVERSE", "银行对账单无此笔扣款")
    assert reversed_.code == 0 and reversed_.data["resolution"] == "REVERSE", reversed_.body
    assert sql_scalar("SELECT status FROM biz_charge WHERE id = :c", {"c": first["chargeId"]}) == "UNPAID"
    assert (
        sql_all("SELECT * FROM biz_collection WHERE id = :k", {"k": collection_before[0]["id"]})
        == collection_before
    )
    assert (
        sql_scalar("SELECT count(*) FROM bk_withholding_reversal WHERE diff_id = :d", {"d": first["diffId"]})
        == 1
    )

    second = open_["BANK_PAID_OURS_UNPAID"]
    assert sql_scalar("SELECT status FROM biz_charge WHERE id = :c", {"c": second["chargeId"]}) == "UNPAID"
    written = resolve(admin, second["diffId"], "WRITE_OFF")
    assert written.code == 0, written.body
    assert sql_scalar("SELECT status FROM biz_charge WHERE id = :c", {"c": second["chargeId"]}) == "PAID"
    assert sql_scalar(
        "SELECT trade_no FROM biz_collection WHERE trade_no = :t", {"t": second["bankSerialNo"]}
    )
    again = resolve(admin, second["diffId"], "WRITE_OFF")  # a repeat: the same answer, nothing written twice
    assert (
        again.code == 0
        and sql_scalar(
            "SELECT count(*) FROM biz_collection WHERE trade_no = :t", {"t": second["bankSerialNo"]}
        )
        == 1
    )

    expect_error(settle(admin, batch_no), 1_002_006_003)
    assert resolve(admin, open_["AMOUNT_MISMATCH"]["diffId"], "REVERSE", "金额不符，待银行更正").code == 0
    assert resolve(admin, open_["BANK_ONLY"]["diffId"], "IGNORE", "他行误入，已退回").code == 0

    settled = settle(admin, batch_no)
    assert settled.code == 0 and settled.data["batchStatus"] == "SETTLED", settled.body
    assert settled.data["settlementStatus"] == "SETTLED" and settled.data["reconcileStatus"] == "RESOLVED"
    assert settle(admin, batch_no).data["batchStatus"] == "SETTLED"
    assert (
        sql_scalar(
            "SELECT count(*) FROM bk_settlement_batch s JOIN bk_withholding_batch b ON b.id = s.batch_id WHERE b.batch_no = :b",
            {"b": batch_no},
        )
        == 1
    )
    assert audit_rows("bk_withholding_batch", batch_no, "WITHHOLDING_BATCH_SETTLE")
