"""IF-CS-004: a bound customer's issued e-invoices - list, download (a time-limited S3 link), push
(a message for the pipeline) - and only its own."""

from __future__ import annotations

from typing import Any

import httpx

from tests.integration.test_invoices import APPLY, application, paid_bills, status_of, wait_for
from tests.support import bind, call, channel_login, expect_error, sql_all, sql_exec, unique

QUERY = "/business/invoice/customer/query"
DOWNLOAD = "/business/invoice/customer/download"
PUSH = "/business/invoice/customer/push"


def customer_with_invoice(admin: str, sys008: Any) -> tuple[str, int, dict[str, Any]]:
    cust, ids = paid_bills(admin)
    applied = call("POST", APPLY, application(cust, ids, mobile="13800138000"), token=admin).data
    wait_for(lambda: status_of(applied["invoiceId"]) == "SUCCESS")
    wait_for(
        lambda: sql_all("SELECT file_key FROM biz_invoice WHERE id = :i", {"i": applied["invoiceId"]})[0][
            "file_key"
        ]
    )
    openid = unique("inv")
    token = channel_login(openid)
    assert bind(token, openid, cust).code == 0
    return token, cust, applied


def test_the_customer_lists_and_downloads_its_invoice(admin: str, sys008: Any) -> None:
    """Given an issued e-invoice of a bound customer, then the list shows it with its lines and a link;
    the download answers a presigned S3 link (not the platform's address) that serves the PDF."""
    token, cust, applied = customer_with_invoice(admin, sys008)
    listed = call("POST", QUERY, {"custId": cust}, token=token)
    assert listed.code == 0 and listed.data["total"] == 1, listed.body
    item = listed.data["list"][0]
    assert item["invoiceId"] == applied["invoiceId"] and item["chargeBindStatus"] == "BOUND"
    assert item["pushStatus"] == "NONE" and len(item["lines"]) == 3
    got = call("POST", DOWNLOAD, {"custId": cust, "applicationNo": applied["applicationNo"]}, token=token)
    assert got.code == 0, got.body
    url = got.data["fileUrl"]
    assert not url.startswith(sys008.base_url) and "X-Amz-Expires=600" in url and got.data["linkExpireTime"]
    pdf = httpx.get(url, timeout=5)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")


def test_push_queues_a_message_and_pipeline_failure_turns_it_fail(admin: str, sys008: Any) -> None:
    """Given an issued e-invoice, when pushed by e-mail, then a message waits in biz_message for the
    pipeline and pushStatus is PUSHED; when the pipeline reports it failed, pushStatus turns FAIL."""
    from waterrev.invoices.query import note_failed_pushes

    token, cust, applied = customer_with_invoice(admin, sys008)
    pushed = call(
        "POST",
        PUSH,
        {
            "custId": cust,
            "invoiceId": applied["invoiceId"],
            "pushChannel": "EMAIL",
            "pushEmail": "a@example.com",
        },
        token=token,
    )
    assert pushed.code == 0 and pushed.data["pushStatus"] == "PUSHED", pushed.body
    message = sql_all("SELECT * FROM biz_message WHERE cust_id = :c AND source = 'INVOICE_PUSH'", {"c": cust})
    assert (
        len(message) == 1 and message[0]["receiver"] == "a@example.com" and message[0]["channel"] == "EMAIL"
    )
    assert message[0]["payload"]["downloadUrl"] and message[0]["payload"]["invoiceNumber"]
    sms = call(
        "POST", PUSH, {"custId": cust, "invoiceId": applied["invoiceId"], "pushChannel": "SMS"}, token=token
    )
    assert sms.code == 0 and "138****8000" in sms.msg + sms.data["msg"]
    sql_exec("UPDATE biz_message SET status = 'FAIL' WHERE cust_id = :c AND channel = 'EMAIL'", {"c": cust})
    sql_exec(
        "UPDATE biz_invoice SET push_message_id = (SELECT id FROM biz_message WHERE cust_id = :c AND channel = 'EMAIL') WHERE id = :i",
        {"c": cust, "i": applied["invoiceId"]},
    )
    assert call("POST", QUERY, {"custId": cust}, token=token).data["list"][0]["pushStatus"] == "FAIL"
    assert note_failed_pushes() >= 1
    assert (
        sql_all("SELECT push_status FROM biz_invoice WHERE id = :i", {"i": applied["invoiceId"]})[0][
            "push_status"
        ]
        == "FAIL"
    )


def test_a_push_without_an_address_is_refused(admin: str, sys008: Any) -> None:
    """Given no e-mail anywhere, when pushed by e-mail, then 400 names pushEmail and nothing is queued."""
    cust, ids = paid_bills(admin)
    applied = call("POST", APPLY, application(cust, ids, email=None, mobile="13800138000"), token=admin).data
    wait_for(lambda: status_of(applied["invoiceId"]) == "SUCCESS")
    openid = unique("inv")
    token = channel_login(openid)
    assert bind(token, openid, cust).code == 0
    sql_exec("UPDATE biz_cust_invoice SET email = NULL WHERE cust_id = :c", {"c": cust})
    wait_for(
        lambda: sql_all("SELECT file_key FROM biz_invoice WHERE id = :i", {"i": applied["invoiceId"]})[0][
            "file_key"
        ]
    )
    reply = call(
        "POST", PUSH, {"custId": cust, "invoiceId": applied["invoiceId"], "pushChannel": "EMAIL"}, token=token
    )
    expect_error(reply, 400, mentions="pushEmail")


def test_a_voided_invoice_is_not_consumable_and_a_strangers_is_missing(admin: str, sys008: Any) -> None:
    """Given a red-inked invoice, then download answers 1_002_005_001 with the reason; a stranger naming
    another customer's invoice under its own customer gets what a missing invoice gets."""
    token, cust, applied = customer_with_invoice(admin, sys008)
    call(
        "POST",
        "/business/invoice/red-ink",
        {"invoiceId": applied["invoiceId"], "redInkReason": "退回"},
        token=admin,
    )
    wait_for(lambda: status_of(applied["invoiceId"]) == "RED_INK")
    expect_error(
        call("POST", DOWNLOAD, {"custId": cust, "invoiceId": applied["invoiceId"]}, token=token),
        1_002_005_001,
        mentions="红冲",
    )
    assert call("POST", QUERY, {"custId": cust}, token=token).data["total"] == 0
    stranger_token, stranger_cust, _ = customer_with_invoice(admin, sys008)
    theirs = call(
        "POST", DOWNLOAD, {"custId": stranger_cust, "invoiceId": applied["invoiceId"]}, token=stranger_token
    )
    missing = call(
        "POST", DOWNLOAD, {"custId": stranger_cust, "invoiceId": 987654321000}, token=stranger_token
    )
    assert (theirs.status, theirs.body) == (missing.status, missing.body)
    other_cust = call("POST", QUERY, {"custId": cust}, token=stranger_token)
    expect_error(other_cust, 1_002_001_002)


def test_bill_history_shows_an_invoice_with_a_link_of_ours(admin: str, sys008: Any) -> None:
    """Given an issued e-invoice, when IF-CS-002 lists INVOICE rows, then its fileUrl is a presigned link
    to our copy, never the platform's address."""
    token, cust, applied = customer_with_invoice(admin, sys008)
    rows = call(
        "GET", "/app-api/customer/bill/history", token=token, query=f"custId={cust}&queryType=INVOICE"
    ).data["list"]
    (row,) = [r for r in rows if r["invoiceId"] == applied["invoiceId"]]
    assert (
        row["fileUrl"]
        and not row["fileUrl"].startswith(sys008.base_url)
        and "X-Amz-Signature" in row["fileUrl"]
    )
