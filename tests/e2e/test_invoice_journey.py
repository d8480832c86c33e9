"""The invoice journey on the local stack as `make run` starts it (SYS-008 simulator, S3 on moto), over
HTTP only: a bill is paid at the counter; the clerk applies for an e-invoice (IF-REV-008); the simulator
issues it and writes back signed (IF-EXT-007); the bound customer lists it and downloads the PDF through
its time-limited link (IF-CS-004), pushes it by e-mail; the clerk red-inks it, the bill is invoiceable
again (IF-CS-002 shows it NONE)."""

from __future__ import annotations

import re
import signal
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.e2e.journey import admin_headers, billed_customer
from tests.e2e.test_local_stack import Stack
from tests.e2e.test_payment_journey import ok, until

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    running = Stack(tmp_path_factory.mktemp("invoice-stack"))
    try:
        running.wait_ready()
        yield running
    finally:
        if running.proc.poll() is None:
            running.proc.send_signal(signal.SIGINT)
            running.proc.wait(timeout=30)


def sys008_url(stack: Stack) -> str:
    for line in stack.lines:
        found = re.search(r"SYS-008 simulator: (http://\S+)", line)
        if found:
            return found.group(1)
    raise AssertionError("no SYS-008 simulator in the banner:\n" + "".join(stack.lines))


def test_pay_apply_issue_download_push_red_ink(stack: Stack) -> None:
    sim = sys008_url(stack)
    with httpx.Client(base_url=stack.base, timeout=10) as client:
        admin = admin_headers(client)
        period = "2020-10"
        tag, cust_id, _meter, bill = billed_customer(
            client,
            admin,
            name="吴十",
            mobile="13812345670",
            address="鼓楼区发票路 10 号",
            code="I",
            period=period,
            reading="18",
            due_date="2020-12-28",
        )

        # Given the bill paid in cash at the counter
        ok(
            client.post(
                "/admin-api/revenue/collection/create",
                headers=admin,
                json={
                    "custId": cust_id,
                    "chargeIds": [bill["chargeId"]],
                    "paymentChannel": "CASH",
                    "paymentAmount": bill["totalAmount"],
                },
            )
        )

        # When the clerk applies for an e-invoice, the simulator issues it and writes back
        applied = ok(
            client.post(
                "/business/invoice/apply",
                headers=admin,
                json={
                    "custId": cust_id,
                    "chargeIds": [bill["chargeId"]],
                    "invoiceType": "ELECTRONIC",
                    "invoiceTitle": "吴十",
                    "email": "wushi@example.com",
                    "sourceChannel": "COUNTER",
                },
            )
        )
        assert applied["sysRequestNo"], applied

        def back_office() -> dict[str, Any]:
            return ok(
                client.post(
                    "/business/invoice/query",
                    headers=admin,
                    json={"applicationNo": applied["applicationNo"], "querySource": "MANUAL"},
                )
            )

        issued = until(
            lambda: (v := back_office())["invoiceStatus"] == "SUCCESS" and v["fileStored"] and v,
            "the writeback",
        )
        assert issued["invoiceNumber"] and issued["fileUrl"].startswith(sim)

        # ... the bound customer lists it and downloads the PDF through a link that is not the platform's
        openid = f"e2e-inv-{tag}"
        owner = {"Authorization": f"Bearer {stack.channel_token(client, openid)}"}
        ok(
            client.post(
                "/app-api/customer/auth/send-verify-code",
                headers=owner,
                json={"custId": cust_id, "custName": "吴十"},
            )
        )
        ok(
            client.post(
                "/app-api/customer/account/bind",
                headers=owner,
                json={
                    "action": "BIND",
                    "channelType": "WECHAT",
                    "channelUserId": openid,
                    "custId": cust_id,
                    "verifyCode": stack.sms_code(),
                },
            )
        )
        listed = ok(client.post("/business/invoice/customer/query", headers=owner, json={"custId": cust_id}))
        assert [i["invoiceId"] for i in listed["list"]] == [applied["invoiceId"]]
        link = ok(
            client.post(
                "/business/invoice/customer/download",
                headers=owner,
                json={"custId": cust_id, "invoiceId": applied["invoiceId"]},
            )
        )
        assert not link["fileUrl"].startswith(sim)
        pdf = httpx.get(link["fileUrl"], timeout=10)
        assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")

        # ... and pushes it by e-mail (queued for the message pipeline)
        pushed = ok(
            client.post(
                "/business/invoice/customer/push",
                headers=owner,
                json={"custId": cust_id, "invoiceId": applied["invoiceId"], "pushChannel": "EMAIL"},
            )
        )
        assert pushed["pushStatus"] == "PUSHED"

        # When the clerk red-inks it (a person's invoice: no confirmation form needed)
        red = ok(
            client.post(
                "/business/invoice/red-ink",
                headers=admin,
                json={
                    "invoiceId": applied["invoiceId"],
                    "redInkReason": "用户退费",
                    "originalInvoiceNumber": issued["invoiceNumber"],
                },
            )
        )
        assert red["redFormStatus"] == "01" and red["triggerSource"] == "ADMIN_RED_INK"

        # Then it ends RED_INK and the bill is invoiceable again
        until(lambda: back_office()["invoiceStatus"] == "RED_INK", "the red-ink writeback")
        bills = ok(
            client.get(
                "/app-api/customer/bill/history",
                headers=owner,
                params={"custId": cust_id, "queryType": "BILL"},
            )
        )["list"]
        assert next(b for b in bills if b["chargeId"] == bill["chargeId"])["invoiceStatus"] == "NONE"
        again = ok(
            client.post(
                "/business/invoice/apply",
                headers=admin,
                json={
                    "custId": cust_id,
                    "chargeIds": [bill["chargeId"]],
                    "invoiceType": "PAPER",
                    "invoiceTitle": "吴十",
                    "sourceChannel": "COUNTER",
                },
            )
        )
        assert again["invoiceId"] != applied["invoiceId"]
