"""IF-CS-002 历史账单查询: a bound customer's bills, arrears, usage, payments and invoices, paged and
newest first; nothing for customers the channel user has not bound."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.support import (
    Reply,
    admin_login,
    bind,
    call,
    channel_login,
    customer_id,
    expect_error,
    new_customer,
    sql_exec,
    unique,
)

HISTORY = "/app-api/customer/bill/history"
MONEY = re.compile(r"^-?\d+\.\d{2}$")


class Holder:
    """A fresh channel user that has bound one customer."""

    def __init__(self, cust_id: int) -> None:
        self.id = unique("bh")
        self.token = channel_login(self.id)
        self.cust_id = cust_id
        reply = bind(self.token, self.id, cust_id)
        assert reply.code == 0, reply.body

    def history(self, query: str, cust_id: int | None = None) -> Reply:
        return call("GET", HISTORY, token=self.token, query=f"custId={cust_id or self.cust_id}&{query}")


@pytest.fixture(scope="module")
def demo_holder() -> Holder:
    """A channel user bound to the 鼓楼 demo customer KH0000000001 (12 monthly bills, the last unpaid)."""
    return Holder(customer_id("KH0000000001"))


def periods(reply: Any) -> list[str]:
    return [item["billPeriod"] for item in reply.data["list"]]


def test_bills_are_listed_newest_first_with_paging(demo_holder: Holder) -> None:
    """Given the demo customer's 12 bills, when BILL is read five at a time, then the pages hold 5, 5 and
    2 bills, total 12, in strictly descending periods without overlap."""
    pages = [demo_holder.history(f"queryType=BILL&pageNo={n}&pageSize=5") for n in (1, 2, 3)]

    assert [len(p.data["list"]) for p in pages] == [5, 5, 2]
    assert {p.data["total"] for p in pages} == {12}
    assert [(p.data["pageNo"], p.data["pageSize"]) for p in pages] == [(1, 5), (2, 5), (3, 5)]
    every = [period for p in pages for period in periods(p)]
    assert every == sorted(every, reverse=True) and len(set(every)) == 12


def test_default_page_is_ten_bills(demo_holder: Holder) -> None:
    """Given the 12 bills, when BILL is read without paging, then page 1 of size 10."""
    reply = demo_holder.history("queryType=BILL")

    assert reply.code == 0 and reply.data["pageNo"] == 1 and reply.data["pageSize"] == 10
    assert reply.data["total"] == 12 and len(reply.data["list"]) == 10


def test_bill_fields_and_money_as_two_decimal_strings(demo_holder: Holder) -> None:
    """Given the bills, when read, then each has its id, period, usage, pay and invoice status, and all
    money fields are strings with two decimals that add up."""
    reply = demo_holder.history("queryType=BILL&pageSize=12")

    for bill in reply.data["list"]:
        assert {"chargeId", "billPeriod", "usageAmount", "payStatus", "invoiceStatus"} <= set(bill)
        for key in ("totalAmount", "paidAmount", "unpaidAmount", "usageAmount"):
            assert isinstance(bill[key], str) and MONEY.match(bill[key]), (key, bill[key])
        assert float(bill["paidAmount"]) + float(bill["unpaidAmount"]) == pytest.approx(
            float(bill["totalAmount"])
        )
    newest = reply.data["list"][0]
    assert newest["payStatus"] == "UNPAID" and newest["paidAmount"] == "0.00"
    assert {b["payStatus"] for b in reply.data["list"][1:]} == {"PAID"}


def test_arrears_lists_only_unpaid_bills(demo_holder: Holder) -> None:
    """Given one unpaid bill among 12, when ARREARS is read, then only that bill, with its arrears."""
    reply = demo_holder.history("queryType=ARREARS")

    assert reply.data["total"] == 1 and len(reply.data["list"]) == 1
    item = reply.data["list"][0]
    assert item["payStatus"] == "UNPAID" and item["arrearsAmount"] == item["totalAmount"]
    assert MONEY.match(item["arrearsAmount"]) and float(item["arrearsAmount"]) > 0


def test_usage_lists_usage_amounts(demo_holder: Holder) -> None:
    """Given the bills, when USAGE is read, then each row carries its period and usageAmount."""
    reply = demo_holder.history("queryType=USAGE&pageSize=12")

    assert reply.data["total"] == 12
    for item in reply.data["list"]:
        assert MONEY.match(item["usageAmount"]) and float(item["usageAmount"]) >= 10
        assert re.match(r"^\d{4}-\d{2}$", item["billPeriod"])


def test_bill_period_and_charge_status_filters(demo_holder: Holder) -> None:
    """Given the bills, when filtered by one period, then only that bill; when filtered by PAID or
    UNPAID, then 11 and 1 bills of that status."""
    third = periods(demo_holder.history("queryType=BILL&pageSize=3"))[2]

    one = demo_holder.history(f"queryType=BILL&billPeriod={third}")
    paid = demo_holder.history("queryType=BILL&chargeStatus=PAID&pageSize=20")
    unpaid = demo_holder.history("queryType=BILL&chargeStatus=UNPAID")
    nothing = demo_holder.history("queryType=BILL&billPeriod=1999-01")

    assert periods(one) == [third] and one.data["total"] == 1
    assert paid.data["total"] == 11 and {b["payStatus"] for b in paid.data["list"]} == {"PAID"}
    assert unpaid.data["total"] == 1 and unpaid.data["list"][0]["payStatus"] == "UNPAID"
    assert nothing.data == {"list": [], "total": 0, "pageNo": 1, "pageSize": 10}


def test_payments_and_invoices_are_paged_newest_first() -> None:
    """Given a bound customer with two payments and one invoice, when PAYMENT and INVOICE are read, then
    pages of them, newest first, money as two-decimal strings."""
    cust = new_customer(admin_login())
    holder = Holder(cust["id"])
    older, newer, invoice = unique("SK"), unique("SK"), unique("FP")
    sql_exec(
        "INSERT INTO biz_collection (code, cust_id, amount, channel, trade_no, status, pay_time, create_time)"
        " VALUES (:a, :c, 12.5, 'WECHAT', 'T1', 'SUCCESS', now() - interval '2 days', now() - interval '2 days'),"
        " (:b, :c, 30, 'CASH', NULL, 'SUCCESS', now(), now())",
        {"a": older, "b": newer, "c": cust["id"]},
    )
    sql_exec(
        "INSERT INTO biz_invoice (application_no, cust_id, invoice_type, invoice_status, amount)"
        " VALUES (:n, :c, 'ELECTRONIC', 'SUCCESS', 42.3)",
        {"n": invoice, "c": cust["id"]},
    )

    payments = holder.history("queryType=PAYMENT")
    first_page = holder.history("queryType=PAYMENT&pageSize=1")
    invoices = holder.history("queryType=INVOICE")

    assert payments.data["total"] == 2
    assert [p["collectionCode"] for p in payments.data["list"]] == [newer, older]
    assert [p["amount"] for p in payments.data["list"]] == ["30.00", "12.50"]
    assert payments.data["list"][1]["paymentChannel"] == "WECHAT"
    assert first_page.data["total"] == 2 and [p["collectionCode"] for p in first_page.data["list"]] == [newer]
    assert invoices.data["total"] == 1
    assert (
        invoices.data["list"][0]["applicationNo"] == invoice and invoices.data["list"][0]["amount"] == "42.30"
    )


SEED_FIELDS = {"chargeId", "billPeriod", "usageAmount", "payStatus", "invoiceStatus"}


def test_every_query_type_answers_the_seeds_list_fields(demo_holder: Holder) -> None:
    """Given the demo customer's bills and readings, when each queryType is read, then every row carries
    the seed's list fields (chargeId, billPeriod, usageAmount, payStatus, invoiceStatus); a usage row of a
    billed reading names its bill with the bill's pay and invoice status."""
    bills = {b["chargeId"]: b for b in demo_holder.history("queryType=BILL&pageSize=12").data["list"]}

    for query_type in ("BILL", "ARREARS", "USAGE", "PAYMENT", "INVOICE"):
        for item in demo_holder.history(f"queryType={query_type}&pageSize=100").data["list"]:
            assert set(item) >= SEED_FIELDS, (query_type, item)
    usage = demo_holder.history("queryType=USAGE&pageSize=12").data["list"]
    assert {u["chargeId"] for u in usage} == set(bills)
    for row in usage:
        bill = bills[row["chargeId"]]
        assert (row["billPeriod"], row["payStatus"], row["invoiceStatus"]) == (
            bill["billPeriod"],
            bill["payStatus"],
            bill["invoiceStatus"],
        )


def test_a_payment_names_the_bills_it_paid(admin: str) -> None:
    """Given a bound customer that paid two bills at the counter in one payment, when PAYMENT is read,
    then the payment row lists both bills (chargeIds), pays SUCCESS, and names no single bill."""
    from tests.support import new_bills

    cust_id, charges = new_bills(admin, ["2026-01", "2026-02"])
    holder = Holder(cust_id)
    total = sum(c["total_amount"] for c in charges)
    paid = call(
        "POST",
        "/admin-api/revenue/collection/create",
        {
            "custId": cust_id,
            "chargeIds": [c["id"] for c in charges],
            "paymentAmount": str(total),
            "paymentChannel": "CASH",
        },
        token=admin,
    )
    assert paid.code == 0, paid.body

    payments = holder.history("queryType=PAYMENT").data["list"]

    assert len(payments) == 1
    assert payments[0]["chargeIds"] == sorted(c["id"] for c in charges)
    assert payments[0]["payStatus"] == "SUCCESS" and payments[0]["chargeId"] is None
    assert payments[0]["amount"] == f"{total:.2f}"


def test_customer_without_bills_has_empty_pages() -> None:
    """Given a bound customer with no bills, payments or invoices, when each type is read, then empty pages."""
    holder = Holder(new_customer(admin_login())["id"])

    for query_type in ("BILL", "ARREARS", "USAGE", "PAYMENT", "INVOICE"):
        reply = holder.history(f"queryType={query_type}")
        assert reply.code == 0 and reply.data == {"list": [], "total": 0, "pageNo": 1, "pageSize": 10}


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("queryType=EVERYTHING", "queryType"),
        ("queryType=bill", "queryType"),
        ("pageSize=10", "queryType"),
        ("queryType=BILL&pageSize=0", "pageSize"),
        ("queryType=BILL&pageSize=101", "pageSize"),
        ("queryType=BILL&pageNo=0", "pageNo"),
        ("queryType=BILL&billPeriod=2026-13", "billPeriod"),
        ("queryType=BILL&chargeStatus=LOST", "chargeStatus"),
    ],
)
def test_bad_parameters_are_400_naming_the_field(demo_holder: Holder, query: str, field: str) -> None:
    """Given a bad or missing parameter, when history is read, then 400 naming the field."""
    expect_error(demo_holder.history(query), 400, mentions=field)


def test_missing_or_bad_cust_id_is_400() -> None:
    """Given no custId or a non-numeric one, when history is read, then 400 naming custId."""
    token = channel_login(unique("nc"))

    expect_error(call("GET", HISTORY, token=token, query="queryType=BILL"), 400, mentions="custId")
    expect_error(call("GET", HISTORY, token=token, query="custId=abc&queryType=BILL"), 400, mentions="custId")


def test_unbound_and_unknown_customers_answer_alike(demo_holder: Holder) -> None:
    """Given a channel user, when it reads a real customer it has not bound and a customer id that does
    not exist, then both are 1_002_001_002 with the same message shape (no existence oracle)."""
    other = customer_id("KH0000000002")
    missing = 987_654_321

    unbound = demo_holder.history("queryType=BILL", cust_id=other)
    unknown = demo_holder.history("queryType=BILL", cust_id=missing)

    expect_error(unbound, 1_002_001_002)
    expect_error(unknown, 1_002_001_002)
    assert unbound.msg.replace(str(other), "#") == unknown.msg.replace(str(missing), "#")
    assert unbound.data is None and unknown.data is None


def test_history_is_denied_again_after_unbind() -> None:
    """Given a channel user that bound the demo customer and read its bills, when it unbinds, then reading
    history answers 1_002_001_002."""
    cust = customer_id("KH0000000001")
    holder = Holder(cust)
    assert holder.history("queryType=BILL").data["total"] == 12

    unbound = call(
        "POST",
        "/app-api/customer/account/bind",
        {"action": "UNBIND", "channelType": "WECHAT", "channelUserId": holder.id, "custId": cust},
        token=holder.token,
    )

    assert unbound.code == 0, unbound.body
    expect_error(holder.history("queryType=BILL"), 1_002_001_002)
    expect_error(holder.history("queryType=ARREARS"), 1_002_001_002)
