"""IF-REV-008 / IF-REV-009 / IF-EXT-007: apply, issue, write back, query, compensate, void, red-ink, on
the real database against the SYS-008 simulator (a real HTTP server) and moto's S3."""

from __future__ import annotations

import concurrent.futures
import json
import time
from decimal import Decimal
from typing import Any

import pytest

from tests.support import audit_rows, call, charge_row, expect_error, new_bills, sql_all, sql_exec, sql_scalar

APPLY = "/business/invoice/apply"
QUERY = "/business/invoice/query"
COMPENSATE = "/business/invoice/query/compensate"
INVALIDATE = "/business/invoice/invalidate"
RED_INK = "/business/invoice/red-ink"
RESULT = "/open-api/invoice/result"
EXCEPTIONS = "/business/invoice/exception/page"
RESOLVE = "/business/invoice/exception/resolve"
NOT_ELIGIBLE, WRITEBACK_INVALID = 1_002_005_001, 1_002_005_002
USCC = "91350100MA2Y0C8X0G"  # a credit code whose check character is right (rules.valid_uscc)


def paid_bills(admin: str, periods: tuple[str, ...] = ("2021-03", "2021-04")) -> tuple[int, list[int]]:
    """A new customer whose bills of `periods` are paid in cash at the counter."""
    cust, bills = new_bills(admin, list(periods))
    ids = [int(b["id"]) for b in bills]
    total = sum((Decimal(str(b["total_amount"])) for b in bills), Decimal("0"))
    paid = call(
        "POST",
        "/admin-api/revenue/collection/create",
        {"custId": cust, "chargeIds": ids, "paymentChannel": "CASH", "paymentAmount": f"{total:.2f}"},
        token=admin,
    )
    assert paid.code == 0, paid.body
    return cust, ids


def application(cust: int, ids: list[int], **extra: Any) -> dict[str, Any]:
    return {
        "custId": cust,
        "chargeIds": ids,
        "invoiceType": "ELECTRONIC",
        "invoiceTitle": "张三",
        "email": "zhangsan@example.com",
        "sourceChannel": "COUNTER",
        **extra,
    }


def wait_for(predicate: Any, timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError("condition not reached in time")


def invoice(invoice_id: int) -> dict[str, Any]:
    return sql_all("SELECT * FROM biz_invoice WHERE id = :i", {"i": invoice_id})[0]


def status_of(invoice_id: int) -> str:
    return str(sql_scalar("SELECT invoice_status FROM biz_invoice WHERE id = :i", {"i": invoice_id}))


def issued(admin: str, sys008: Any, **extra: Any) -> tuple[int, list[int], dict[str, Any]]:
    cust, ids = paid_bills(admin)
    reply = call("POST", APPLY, application(cust, ids, **extra), token=admin)
    assert reply.code == 0, reply.body
    invoice_id = reply.data["invoiceId"]
    wait_for(lambda: status_of(invoice_id) == "SUCCESS")
    return cust, ids, reply.data


# ---- apply ---------------------------------------------------------------------------------------
def test_apply_sends_the_bills_and_the_writeback_issues_them(admin: str, sys008: Any) -> None:
    """Given two paid bills, when the clerk applies, then the invoice is PENDING with SYS-008's
    sysRequestNo, one line per cost component and rate, the bills held; when the platform writes back
    SUCCESS, the number, file (copied to S3) and time are stored and the bills marked invoiced."""
    cust, ids = paid_bills(admin)
    reply = call("POST", APPLY, application(cust, ids), token=admin)

    assert reply.code == 0, reply.body
    assert reply.data["invoiceStatus"] in ("PENDING", "SUCCESS") and reply.data["sysRequestNo"]
    invoice_id = reply.data["invoiceId"]
    lines = sql_all(
        "SELECT * FROM biz_invoice_taxrate WHERE invoice_id = :i ORDER BY line_no", {"i": invoice_id}
    )
    assert {line["cost_component"] for line in lines} == {"WATER_FEE", "SEWAGE_FEE", "RESOURCE_FEE"}
    assert all(line["amount"] == line["amount_ex_tax"] + line["tax_amount"] for line in lines)
    water = next(line for line in lines if line["cost_component"] == "WATER_FEE")
    assert water["tax_rate"] == Decimal("0.0900") and water["tax_amount"] > 0
    total = sum((charge_row(i)["total_amount"] for i in ids), Decimal("0"))
    assert invoice(invoice_id)["amount"] == total == sum((line["amount"] for line in lines), Decimal("0"))

    wait_for(lambda: status_of(invoice_id) == "SUCCESS")
    row = invoice(invoice_id)
    assert row["invoice_number"] and row["issue_time"] and row["file_url"].startswith(sys008.base_url)
    assert row["file_key"] and row["charge_bind_status"] == "BOUND"
    assert {charge_row(i)["invoice_status"] for i in ids} == {"SUCCESS"}
    assert [a["operation"] for a in audit_rows("biz_invoice", invoice_id)][:2] == [
        "INVOICE_APPLY",
        "INVOICE_SUCCESS",
    ]
    sent = next(
        r for r in sys008.requests() if r["body"] and r["body"].get("requestNo") == row["application_no"]
    )
    assert sent["body"]["buyerName"] == "张三" and len(sent["body"]["lines"]) == 3


def test_only_paid_uninvoiced_bills_of_the_customer_are_invoiceable(admin: str, sys008: Any) -> None:
    """Given an unpaid bill, another customer's bill and an invoiced bill, then each application is
    refused with 1_002_005_001 naming the bill and why, and nothing is written."""
    cust, bills = new_bills(admin, ["2021-05"])
    unpaid = int(bills[0]["id"])
    expect_error(
        call("POST", APPLY, application(cust, [unpaid]), token=admin), NOT_ELIGIBLE, mentions="未缴清"
    )
    _other, other_ids = paid_bills(admin)
    expect_error(
        call("POST", APPLY, application(cust, other_ids[:1]), token=admin), NOT_ELIGIBLE, mentions="不存在"
    )
    _, ids, _first = issued(admin, sys008)
    owner = int(sql_scalar("SELECT cust_id FROM biz_charge WHERE id = :i", {"i": ids[0]}))
    expect_error(
        call("POST", APPLY, application(owner, ids[:1]), token=admin), NOT_ELIGIBLE, mentions="已开票"
    )
    assert sql_scalar("SELECT count(*) FROM biz_invoice WHERE cust_id = :c", {"c": cust}) == 0


def test_title_rules(admin: str, sys008: Any) -> None:
    """Given an enterprise title without a tax number, with a wrong one, and an e-invoice with neither
    e-mail nor mobile, then 1_002_005_001 names taxNo or email/mobile."""
    cust, ids = paid_bills(admin)
    expect_error(
        call("POST", APPLY, application(cust, ids, invoiceTitle="福州某某科技有限公司"), token=admin),
        NOT_ELIGIBLE,
        mentions="taxNo",
    )
    expect_error(
        call(
            "POST",
            APPLY,
            application(cust, ids, invoiceTitle="某公司", taxNo="91350100MA2Y0C8X0A"),
            token=admin,
        ),
        NOT_ELIGIBLE,
        mentions="taxNo",
    )
    body = application(cust, ids)
    body.pop("email")
    expect_error(call("POST", APPLY, body, token=admin), NOT_ELIGIBLE, mentions="email/mobile")
    paper = application(cust, ids, invoiceType="PAPER")
    paper.pop("email")
    assert call("POST", APPLY, paper, token=admin).code == 0


def test_the_same_bills_twice_answer_the_first(admin: str, sys008: Any) -> None:
    """Given an application, when the same bills are applied for again (and by the same applicationNo),
    then the first is answered; once issued, a new application of the same bills is refused with it."""
    sys008.behaviour(hold_issue=True)
    cust, ids = paid_bills(admin)
    first = call("POST", APPLY, application(cust, ids, applicationNo="FPT" + str(ids[0])), token=admin)
    again = call("POST", APPLY, application(cust, list(reversed(ids))), token=admin)
    by_no = call("POST", APPLY, application(cust, ids, applicationNo="FPT" + str(ids[0])), token=admin)
    assert first.code == again.code == by_no.code == 0
    assert first.data["invoiceId"] == again.data["invoiceId"] == by_no.data["invoiceId"]
    sys008.issue(first.data["sysRequestNo"])
    wait_for(lambda: status_of(first.data["invoiceId"]) == "SUCCESS")
    refused = expect_error(call("POST", APPLY, application(cust, ids), token=admin), NOT_ELIGIBLE)
    assert refused.data["invoiceId"] == first.data["invoiceId"]


def test_concurrent_duplicate_applications_give_one_invoice(admin: str, sys008: Any) -> None:
    """Given paid bills, when eight identical applications arrive at once, then one invoice exists and
    every answer names it (issued later: an issued invoice refuses a new application, below)."""
    sys008.behaviour(hold_issue=True)
    cust, ids = paid_bills(admin)
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        replies = list(pool.map(lambda _: call("POST", APPLY, application(cust, ids), token=admin), range(8)))
    assert {r.code for r in replies} == {0}, [r.body for r in replies]
    assert len({r.data["invoiceId"] for r in replies}) == 1
    assert sql_scalar("SELECT count(*) FROM biz_invoice WHERE cust_id = :c", {"c": cust}) == 1
    assert (
        len(
            [
                r
                for r in sys008.requests()
                if r["path"] == "/v1/invoices" and r["body"]["customerId"] == str(cust)
            ]
        )
        >= 1
    )


def test_refused_application_frees_the_bills(admin: str, sys008: Any) -> None:
    """Given SYS-008 refusing the buyer, then the answer is REJECTED and the bills are invoiceable again."""
    sys008.behaviour(refuse_apply=True)
    cust, ids = paid_bills(admin)
    reply = call("POST", APPLY, application(cust, ids), token=admin)
    assert reply.code == 0 and reply.data["invoiceStatus"] == "REJECTED", reply.body
    assert {charge_row(i)["invoice_status"] for i in ids} == {"NONE"}
    sys008.behaviour(refuse_apply=False)
    assert call("POST", APPLY, application(cust, ids), token=admin).data["invoiceStatus"] != "REJECTED"


def test_a_lost_answer_stays_submitted_and_compensation_repairs_it(admin: str, sys008: Any) -> None:
    """Given SYS-008 answering too late (the client gives up), then the application stays SUBMITTED
    with its error; the compensation query finds it at SYS-008 (or sends it again) and settles it."""
    from waterrev.adapters.sys008 import Sys008Client
    from waterrev.invoices import results

    cust, ids = paid_bills(admin)
    impatient = Sys008Client(sys008.base_url, "waterrev-test", "sys008-test-secret", timeout_s=0.2)
    sys008.behaviour(timeout_seconds=0.6, no_callback=True)
    original = results.platform
    results.platform = lambda: impatient  # type: ignore[assignment]
    try:
        reply = call("POST", APPLY, application(cust, ids), token=admin)
    finally:
        results.platform = original  # type: ignore[assignment]
    assert reply.data["invoiceStatus"] == "SUBMITTED" and reply.data["sysRequestNo"] is None
    invoice_id = reply.data["invoiceId"]
    assert invoice(invoice_id)["latest_error"]
    sys008.behaviour(timeout_seconds=0)
    wait_for(
        lambda: (
            sys008.invoice(reply.data["applicationNo"])
            and sys008.invoice(reply.data["applicationNo"])["invoiceStatus"] == "SUCCESS"
        )
    )
    fixed = call(
        "POST",
        COMPENSATE,
        {"applicationNo": reply.data["applicationNo"], "querySource": "AUTO_COMPENSATE"},
        token=admin,
    )
    assert fixed.code == 0 and fixed.data["invoiceStatus"] == "SUCCESS", fixed.body
    assert fixed.data["tryCount"] == 1 and fixed.data["lastQueryTime"] and fixed.data["fileStored"]
    assert {charge_row(i)["invoice_status"] for i in ids} == {"SUCCESS"}


# ---- the writeback ---------------------------------------------------------------------------
def signed(
    body: dict[str, Any], sim: Any, *, secret: str | None = None, ts: int | None = None
) -> tuple[bytes, dict[str, str]]:
    import secrets as s

    from waterrev import webhook
    from waterrev.local import sys008_sim

    raw = json.dumps(body, ensure_ascii=False)
    stamp, nonce = str(ts or int(time.time())), s.token_hex(8)
    return raw.encode(), {
        "x-waterrev-key-id": sim.key_id,
        "x-waterrev-timestamp": stamp,
        "x-waterrev-nonce": nonce,
        "x-waterrev-signature": webhook.sign(secret or sys008_sim.DEFAULT_CALLBACK_SECRET, stamp, nonce, raw),
    }


def test_writeback_needs_a_valid_signature(admin: str, sys008: Any) -> None:
    """Given a writeback signed with another key, or stale, or replayed, then 401 and nothing changes."""
    sys008.behaviour(hold_issue=True)
    cust, ids = paid_bills(admin)
    applied = call("POST", APPLY, application(cust, ids), token=admin).data
    body = {"requestNo": applied["applicationNo"], "invoiceStatus": "SUCCESS", "invoiceNo": "1"}
    raw, headers = signed(body, sys008, secret="wrong")
    expect_error(call("POST", RESULT, raw_body=raw, headers=headers), 401)
    raw, headers = signed(body, sys008, ts=int(time.time()) - 3600)
    expect_error(call("POST", RESULT, raw_body=raw, headers=headers), 401)
    assert status_of(applied["invoiceId"]) == "PENDING"


def test_fail_after_success_never_overwrites_it_and_becomes_an_exception(admin: str, sys008: Any) -> None:
    """Given the platform writing SUCCESS then FAIL, then the invoice stays SUCCESS, the FAIL is answered
    1_002_005_002 and listed as an open exception a person resolves; a repeat only counts."""
    sys008.behaviour(fail_after_success=True)
    _cust, ids, applied = issued(admin, sys008)
    invoice_id = applied["invoiceId"]
    wait_for(
        lambda: sql_scalar(
            "SELECT count(*) FROM biz_invoice_exception WHERE invoice_id = :i", {"i": invoice_id}
        )
    )
    assert status_of(invoice_id) == "SUCCESS"
    assert {charge_row(i)["invoice_status"] for i in ids} == {"SUCCESS"}
    late = next(
        c
        for c in sys008.callbacks()
        if c["body"]["requestNo"] == applied["applicationNo"] and c["body"]["invoiceStatus"] == "FAIL"
    )
    assert late["status"] == 409 and str(WRITEBACK_INVALID) in late["answer"]
    page = call("GET", EXCEPTIONS, token=admin, query=f"status=OPEN&applicationNo={applied['applicationNo']}")
    assert page.code == 0 and page.data["total"] == 1, page.body
    item = page.data["list"][0]
    assert (item["currentStatus"], item["reportedStatus"], item["invoiceStatus"]) == (
        "SUCCESS",
        "FAIL",
        "SUCCESS",
    )
    raw, headers = signed({"requestNo": applied["applicationNo"], "invoiceStatus": "FAIL"}, sys008)
    expect_error(call("POST", RESULT, raw_body=raw, headers=headers), WRITEBACK_INVALID)
    assert (
        sql_scalar(
            "SELECT receive_count FROM biz_invoice_callback WHERE request_no = :r AND invoice_status = 'FAIL'",
            {"r": applied["applicationNo"]},
        )
        == 2
    )
    done = call("POST", RESOLVE, {"id": item["id"], "remark": "核实：以成功为准"}, token=admin)
    assert done.code == 0 and done.data["status"] == "RESOLVED"
    expect_error(call("POST", RESOLVE, {"id": item["id"], "remark": "again"}, token=admin), 409)
    assert status_of(invoice_id) == "SUCCESS"


def test_duplicate_writebacks_are_applied_once(admin: str, sys008: Any) -> None:
    """Given every writeback sent three times, then the invoice is issued once (one audit row of
    SUCCESS) and the receipt counts three."""
    sys008.behaviour(duplicate=3)
    _, _, applied = issued(admin, sys008)
    wait_for(
        lambda: (
            sql_scalar(
                "SELECT receive_count FROM biz_invoice_callback WHERE request_no = :r AND invoice_status = 'SUCCESS'",
                {"r": applied["applicationNo"]},
            )
            == 3
        )
    )
    assert len(audit_rows("biz_invoice", applied["invoiceId"], "INVOICE_SUCCESS")) == 1


def test_unknown_request_and_status_are_refused(admin: str, sys008: Any) -> None:
    """Given a writeback for a request we never made, or with a status that is not one, then 1_002_005_002."""
    raw, headers = signed({"requestNo": "FP-NOBODY", "invoiceStatus": "SUCCESS"}, sys008)
    expect_error(call("POST", RESULT, raw_body=raw, headers=headers), WRITEBACK_INVALID)
    raw, headers = signed({"requestNo": "FP-NOBODY", "invoiceStatus": "PRINTED"}, sys008)
    expect_error(call("POST", RESULT, raw_body=raw, headers=headers), WRITEBACK_INVALID)


def test_writeback_racing_the_compensation_query_ends_in_one_state(admin: str, sys008: Any) -> None:
    """Given an issued invoice whose callback and a compensation query arrive together, then it ends
    SUCCESS once: one SUCCESS audit row, the bills marked once."""
    sys008.behaviour(hold_issue=True)
    cust, ids = paid_bills(admin)
    applied = call("POST", APPLY, application(cust, ids), token=admin).data
    sys008.behaviour(no_callback=True)
    sys008.issue(applied["sysRequestNo"])
    view = sys008.invoice(applied["sysRequestNo"])
    body = {
        k: view[k]
        for k in ("requestNo", "sysRequestNo", "invoiceStatus", "invoiceNo", "fileUrl", "issueTime")
    }
    raw, headers = signed(body, sys008)
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        a = pool.submit(call, "POST", RESULT, raw_body=raw, headers=headers)
        b = pool.submit(
            call,
            "POST",
            COMPENSATE,
            {"applicationNo": applied["applicationNo"], "querySource": "AUTO_COMPENSATE"},
            token=admin,
        )
        assert a.result().code == 0 and b.result().code == 0
    assert status_of(applied["invoiceId"]) == "SUCCESS"
    assert len(audit_rows("biz_invoice", applied["invoiceId"], "INVOICE_SUCCESS")) == 1


# ---- query and the sweep -------------------------------------------------------------------------
def test_query_sources_share_one_rule_and_refresh_the_context(admin: str, sys008: Any) -> None:
    """Given an invoice issued without a callback, when MANUAL asks, then it settles SUCCESS and counts
    the query; CALLBACK_VERIFY asks again and changes nothing; a terminal one answers stored for MANUAL."""
    sys008.behaviour(no_callback=True)
    cust, ids = paid_bills(admin)
    applied = call("POST", APPLY, application(cust, ids), token=admin).data
    wait_for(lambda: sys008.invoice(applied["applicationNo"])["invoiceStatus"] == "SUCCESS")
    manual = call(
        "POST", QUERY, {"sysRequestNo": applied["sysRequestNo"], "querySource": "MANUAL"}, token=admin
    )
    assert manual.code == 0 and manual.data["invoiceStatus"] == "SUCCESS" and manual.data["tryCount"] == 1
    assert manual.data["latestResult"].startswith("SUCCESS") and manual.data["invoiceNumber"]
    verify = call(
        "POST",
        QUERY,
        {"applicationNo": applied["applicationNo"], "querySource": "CALLBACK_VERIFY"},
        token=admin,
    )
    assert verify.data["tryCount"] == 2 and verify.data["invoiceStatus"] == "SUCCESS"
    stored = call(
        "POST", QUERY, {"applicationNo": applied["applicationNo"], "querySource": "MANUAL"}, token=admin
    )
    assert stored.data["tryCount"] == 2
    expect_error(call("POST", QUERY, {"applicationNo": "FP-NONE", "querySource": "MANUAL"}, token=admin), 404)


def test_the_sweep_settles_pending_invoices_with_backoff(admin: str, sys008: Any) -> None:
    """Given invoices SYS-008 issued or failed without writing back, when the sweep runs, then each
    settles through the same rule, and one still pending is planned later (backoff)."""
    from waterrev.context import SYSTEM, RequestContext
    from waterrev.invoices.query import compensate_due

    sys008.behaviour(no_callback=True, hold_issue=True)
    made = []
    for _ in range(3):
        cust, ids = paid_bills(admin)
        made.append(call("POST", APPLY, application(cust, ids), token=admin).data)
    sys008.issue(made[0]["sysRequestNo"])
    sys008.issue(made[1]["sysRequestNo"], "FAIL")
    sql_exec(
        "UPDATE biz_invoice SET next_plan_time = now() - interval '1 second' WHERE id = ANY(CAST(:i AS bigint[]))",
        {"i": [m["invoiceId"] for m in made]},
    )
    counts = compensate_due(RequestContext("t", SYSTEM), limit=50)
    assert counts["claimed"] >= 3
    assert [status_of(m["invoiceId"]) for m in made] == ["SUCCESS", "FAIL", "PENDING"]
    waiting = invoice(made[2]["invoiceId"])
    assert waiting["try_count"] == 1 and waiting["next_plan_time"] is not None
    assert sql_scalar(
        "SELECT next_plan_time > now() + interval '30 seconds' FROM biz_invoice WHERE id = :i",
        {"i": made[2]["invoiceId"]},
    )
    failed_bills = sql_all(
        "SELECT invoice_status FROM biz_charge c JOIN biz_invoice_charge ic ON ic.charge_id = c.id WHERE ic.invoice_id = :i",
        {"i": made[1]["invoiceId"]},
    )
    assert {b["invoice_status"] for b in failed_bills} == {"NONE"}


# ---- void and red-ink ------------------------------------------------------------------------
def test_invalidate_only_from_success_and_final_state_by_writeback(admin: str, sys008: Any) -> None:
    """Given an issued invoice, when voided with the original number, then the reply means accepted; the
    writeback makes it INVALID and the bills invoiceable; a second void is refused 1_002_005_001."""
    cust, ids, applied = issued(admin, sys008)
    row = invoice(applied["invoiceId"])
    wrong = {"invoiceId": row["id"], "invalidReason": "信息有误", "originalInvoiceNumber": "0"}
    expect_error(call("POST", INVALIDATE, wrong, token=admin), NOT_ELIGIBLE, mentions="originalInvoiceNumber")
    reply = call(
        "POST",
        INVALIDATE,
        {
            "invoiceId": row["id"],
            "invalidReason": "信息有误",
            "invalidRemark": "重开",
            "originalInvoiceNumber": row["invoice_number"],
        },
        token=admin,
    )
    assert reply.code == 0 and reply.data["triggerSource"] == "ADMIN_INVALIDATE", reply.body
    assert reply.data["modifyStatus"] in ("PENDING", "SUCCESS")
    wait_for(lambda: status_of(row["id"]) == "INVALID")
    assert {charge_row(i)["invoice_status"] for i in ids} == {"NONE"}
    assert (
        invoice(row["id"])["invalid_reason"] == "信息有误"
        and invoice(row["id"])["charge_bind_status"] == "UNBOUND"
    )
    logged = audit_rows("biz_invoice", row["id"], "INVOICE_INVALIDATE")[0]
    assert logged["after_data"]["originalInvoiceNumber"] == row["invoice_number"] and logged["user_name"]
    again = expect_error(
        call("POST", INVALIDATE, {"invoiceId": row["id"], "invalidReason": "x"}, token=admin), NOT_ELIGIBLE
    )
    assert again.data["currentStatus"] == "INVALID"
    expect_error(
        call("POST", RED_INK, {"invoiceId": row["id"], "redInkReason": "x"}, token=admin), NOT_ELIGIBLE
    )
    assert call("POST", APPLY, application(cust, ids), token=admin).code == 0


def test_red_ink_of_a_person_needs_no_form(admin: str, sys008: Any) -> None:
    """Given a personal e-invoice, when red-inked, then the form is 01 (无需确认) and the red invoice
    makes it RED_INK with its bills invoiceable again."""
    _cust, ids, applied = issued(admin, sys008)
    reply = call(
        "POST", RED_INK, {"invoiceId": applied["invoiceId"], "redInkReason": "销售退回"}, token=admin
    )
    assert reply.code == 0 and reply.data["redFormStatus"] == "01", reply.body
    wait_for(lambda: status_of(applied["invoiceId"]) == "RED_INK")
    m = sql_all(
        "SELECT * FROM biz_process_invoice_modifys WHERE invoice_id = :i", {"i": applied["invoiceId"]}
    )[0]
    assert m["status"] == "SUCCESS" and m["red_invoice_number"] and m["trigger_source"] == "ADMIN_RED_INK"
    assert {charge_row(i)["invoice_status"] for i in ids} == {"NONE"}


def test_red_ink_of_an_enterprise_waits_for_the_buyer(admin: str, sys008: Any) -> None:
    """Given an enterprise e-invoice, when red-inked, then the form waits for the buyer (02) and the
    invoice stays SUCCESS with its bills invoiced; denied (05), the request fails and nothing changes;
    a new red-ink confirmed (04) ends RED_INK and frees the bills."""
    _cust, ids, applied = issued(admin, sys008, invoiceTitle="福州示例科技有限公司", taxNo=USCC)
    first = call(
        "POST", RED_INK, {"invoiceId": applied["invoiceId"], "redInkReason": "开票有误"}, token=admin
    ).data
    assert first["redFormStatus"] == "02" and first["invoiceStatus"] == "SUCCESS"
    expect_error(
        call("POST", RED_INK, {"invoiceId": applied["invoiceId"], "redInkReason": "again"}, token=admin),
        NOT_ELIGIBLE,
        mentions="处理中",
    )
    sys008.red_form(first["redFormNo"], "deny")
    wait_for(
        lambda: (
            sql_scalar(
                "SELECT status FROM biz_process_invoice_modifys WHERE modify_no = :m",
                {"m": first["modifyNo"]},
            )
            == "FAIL"
        )
    )
    assert status_of(applied["invoiceId"]) == "SUCCESS"
    assert (
        sql_scalar(
            "SELECT red_form_status FROM biz_process_invoice_modifys WHERE modify_no = :m",
            {"m": first["modifyNo"]},
        )
        == "05"
    )
    assert {charge_row(i)["invoice_status"] for i in ids} == {"SUCCESS"}
    second = call(
        "POST", RED_INK, {"invoiceId": applied["invoiceId"], "redInkReason": "开票有误"}, token=admin
    ).data
    sys008.red_form(second["redFormNo"], "confirm")
    wait_for(lambda: status_of(applied["invoiceId"]) == "RED_INK")
    assert {charge_row(i)["invoice_status"] for i in ids} == {"NONE"}


@pytest.mark.parametrize("action,code", [("expire", "07"), ("withdraw", "08")])
def test_a_red_form_not_confirmed_ends_the_request_by_query(
    admin: str, sys008: Any, action: str, code: str
) -> None:
    """Given a red-ink waiting for the buyer and no callbacks, when the form expires or is withdrawn,
    then the compensation query ends the request FAIL with the form's state; the invoice stays SUCCESS."""
    _cust, _ids, applied = issued(admin, sys008, invoiceTitle="福州示例科技有限公司", taxNo=USCC)
    sys008.behaviour(no_callback=True)
    first = call(
        "POST", RED_INK, {"invoiceId": applied["invoiceId"], "redInkReason": "开票有误"}, token=admin
    ).data
    sys008.red_form(first["redFormNo"], action)
    done = call(
        "POST",
        COMPENSATE,
        {"applicationNo": applied["applicationNo"], "querySource": "AUTO_COMPENSATE"},
        token=admin,
    )
    assert (
        done.code == 0
        and done.data["modify"]["status"] == "FAIL"
        and done.data["modify"]["redFormStatus"] == code
    )
    assert status_of(applied["invoiceId"]) == "SUCCESS"


def test_the_database_rule_is_the_python_rule() -> None:
    """Given every current state and every reported state of an application, then inv_apply_results
    decides as rules.decide does (APPLIED / UNCHANGED / CONFLICT), and a CONFLICT leaves the state."""
    from tests.support import sql_scratch
    from waterrev.domain.states import InvoiceStatus
    from waterrev.invoices import rules

    cust = int(sql_scalar("SELECT min(id) FROM biz_cust"))
    for current in InvoiceStatus:
        for reported in InvoiceStatus:
            if reported == InvoiceStatus.SUBMITTED:
                continue
            with sql_scratch() as uow:
                invoice_id = uow.scalar(
                    "INSERT INTO biz_invoice (application_no, cust_id, invoice_type, invoice_status, amount)"
                    " VALUES ('FP-RULE', :c, 'ELECTRONIC', :s, 1) RETURNING id",
                    {"c": cust, "s": current},
                )
                out = uow.scalar(
                    "SELECT inv_apply_results(p_actor => CAST(:a AS jsonb), p_source => 'MANUAL',"
                    " p_results => CAST(:r AS jsonb))",
                    {
                        "a": json.dumps({"userId": 0, "userType": "SYSTEM"}),
                        "r": json.dumps(
                            [{"invoiceId": invoice_id, "invoiceStatus": reported, "invoiceNo": "1"}]
                        ),
                    },
                )[0]
                expected = rules.decide(current, reported)
                assert out["outcome"] == expected, (current, reported, out)
                if expected != rules.APPLIED:
                    assert out["invoiceStatus"] == current


def test_a_5xx_from_the_platform_keeps_the_application_and_compensation_settles_it(
    admin: str, sys008: Any
) -> None:
    """Given SYS-008 answering 503, then the application is kept SUBMITTED with the error and its bills
    held; the compensation query, SYS-008 back, sends it again and it ends issued."""
    sys008.behaviour(errors_5xx=1)
    cust, ids = paid_bills(admin)
    reply = call("POST", APPLY, application(cust, ids), token=admin)
    assert reply.code == 0 and reply.data["invoiceStatus"] == "SUBMITTED", reply.body
    assert "503" in invoice(reply.data["invoiceId"])["latest_error"]
    assert {charge_row(i)["invoice_status"] for i in ids} == {"PENDING"}
    fixed = call(
        "POST",
        COMPENSATE,
        {"applicationNo": reply.data["applicationNo"], "querySource": "AUTO_COMPENSATE"},
        token=admin,
    )
    assert fixed.code == 0 and "重新提交" in fixed.data["msg"], fixed.body
    wait_for(lambda: status_of(reply.data["invoiceId"]) == "SUCCESS")
    assert {charge_row(i)["invoice_status"] for i in ids} == {"SUCCESS"}
