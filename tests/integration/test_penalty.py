"""The late-payment penalty (违约金) through the routes: configured per dept by IF-REV-012 (effective-dated,
nearest scope), shown by IF-CS-002 ARREARS and the counter's bill query, checked and booked by counter
collection (a short amount refused with the difference, penalty and principal as lines of their own, in
the coverage order the parameter says), asked for by online and counter-QR orders (an order made today
and settled tomorrow books today's amounts), by bank real-time charging, and not accrued by a customer
exempt by parameter. Every test configures a dept of its own and moves the business day
(waterrev.clock.today), so no other test sees its rules."""

from __future__ import annotations

import datetime as dt
import json
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest

from tests.integration.test_ext_bank_realtime import SECRET, bank
from tests.integration.test_pay_orders import bound_member, settled
from tests.support import (
    audit_rows,
    call,
    charge_row,
    expect_error,
    new_bills,
    new_dept,
    set_param,
    sql_all,
    sql_exec,
    sql_scalar,
    unique,
)

ZERO = Decimal("0.00")
FEN = Decimal("0.01")
COLLECT = "/admin-api/revenue/collection/create"
HISTORY = "/app-api/customer/bill/history"
CHARGES = "/admin-api/revenue/collection/charge/page"
ORDER = "/app-api/customer/payment/order"
DUE = dt.date(2020, 2, 15)  # period 2020-01's due date (the 15th of the next month)
RATE = Decimal("0.001")


def rounded(amount: Decimal) -> Decimal:
    return amount.quantize(FEN, rounding=ROUND_HALF_UP)


def penalised_dept(admin: str, rule: dict[str, Any] | None = None, **params: str) -> int:
    """A dept of its own whose penalty rule (default: 0.1% a day after 5 grace days) applies from 2020."""
    dept = new_dept()
    rule = rule or {"mode": "DAILY_RATE", "graceDays": 5, "dailyRate": str(RATE)}
    set_param(admin, "revenue.penalty.rule", json.dumps(rule), dept_id=dept, effective="2020-01-01")
    for code, value in params.items():
        set_param(admin, code, value, dept_id=dept)
    return dept


def one_bill(admin: str, dept: int, period: str = "2020-01") -> tuple[int, dict[str, Any], Decimal]:
    cust, (bill,) = new_bills(admin, [period], dept_id=dept)
    return cust, bill, Decimal(bill["total_amount"])


def collect(admin: str, cust: int, bills: list[int], amount: Any, **extra: Any) -> Any:
    body = {
        "custId": cust,
        "chargeIds": bills,
        "paymentChannel": "CASH",
        "paymentAmount": str(amount),
        **extra,
    }
    return call("POST", COLLECT, body, token=admin)


def items_of(collection_id: int) -> list[tuple[int, str, Decimal]]:
    return [
        (r["charge_id"], r["item_type"], r["amount"])
        for r in sql_all(
            "SELECT charge_id, item_type, amount FROM biz_collection_item WHERE collection_id = :c ORDER BY id",
            {"c": collection_id},
        )
    ]


def arrears(member: str, cust: int) -> list[dict[str, Any]]:
    reply = call("GET", HISTORY, token=member, query=f"custId={cust}&queryType=ARREARS&pageSize=50")
    assert reply.code == 0, reply.body
    return list(reply.data["list"])


def counter_row(admin: str, cust: int, charge_id: int) -> dict[str, Any]:
    reply = call("GET", CHARGES, token=admin, query=f"custId={cust}&pageSize=50")
    assert reply.code == 0, reply.body
    return next(r for r in reply.data["list"] if r["chargeId"] == charge_id)


# ---- shown --------------------------------------------------------------------------------------------
def test_arrears_and_the_counter_show_principal_penalty_and_the_total_due(admin: str, on: Any) -> None:
    """Given 0.1% a day after 5 grace days and a bill due 15 Feb 2020, then up to 20 Feb nothing has accrued;
    on 1 Mar (10 days: 21 Feb - 1 Mar) IF-CS-002 ARREARS and the counter's bill query show the principal,
    a penalty of 1% of it and the two together as dueAmount; a day later one more day's penalty."""
    dept = penalised_dept(admin)
    cust, bill, principal = one_bill(admin, dept)
    assert bill["due_date"] == DUE
    member = bound_member(cust)

    on(dt.date(2020, 2, 20))
    (within,) = arrears(member, cust)
    on(dt.date(2020, 3, 1))
    (row,) = arrears(member, cust)
    counter = counter_row(admin, cust, bill["id"])
    on(dt.date(2020, 3, 2))
    (later,) = arrears(member, cust)

    assert within["penaltyAmount"] == "0.00" and within["dueAmount"] == f"{principal:.2f}"
    penalty = rounded(principal * RATE * 10)
    assert penalty > 0
    assert row["chargeId"] == bill["id"] and row["payStatus"] == "UNPAID"
    assert Decimal(row["arrearsAmount"]) == Decimal(row["unpaidAmount"]) == principal
    assert Decimal(row["penaltyAmount"]) == penalty and Decimal(row["dueAmount"]) == principal + penalty
    assert row["penaltyAsOf"] == "2020-03-01" and row["penaltyExemption"] is None
    assert Decimal(counter["unpaidAmount"]) == principal and Decimal(counter["penaltyAmount"]) == penalty
    assert Decimal(counter["dueAmount"]) == principal + penalty
    assert Decimal(later["penaltyAmount"]) == rounded(principal * RATE * 11)


def test_without_a_rule_nothing_accrues(admin: str, on: Any) -> None:
    """Given a dept with no penalty rule anywhere above it, a bill years overdue owes only its principal."""
    cust, bill, principal = one_bill(admin, new_dept())
    on(dt.date(2026, 1, 1))

    row = counter_row(admin, cust, bill["id"])

    assert row["penaltyAmount"] == "0.00" and Decimal(row["dueAmount"]) == principal


def test_a_fixed_amount_and_a_cap(admin: str, on: Any) -> None:
    """Given FIXED 5.00 after 3 grace days the bill owes 5.00 from the 4th day on, however long; given 1% a
    day capped at capAmount 2.00, it never owes more than 2.00."""
    fixed = penalised_dept(admin, {"mode": "FIXED", "graceDays": 3, "fixedAmount": "5.00"})
    capped = penalised_dept(admin, {"mode": "DAILY_RATE", "dailyRate": "0.01", "capAmount": "2.00"})
    cust, bill, _ = one_bill(admin, fixed)
    other, other_bill, _ = one_bill(admin, capped)

    on(DUE + dt.timedelta(days=3))
    before = counter_row(admin, cust, bill["id"])["penaltyAmount"]
    on(DUE + dt.timedelta(days=4))
    first = counter_row(admin, cust, bill["id"])["penaltyAmount"]
    on(dt.date(2024, 1, 1))
    late = counter_row(admin, cust, bill["id"])["penaltyAmount"]
    cap = counter_row(admin, other, other_bill["id"])["penaltyAmount"]

    assert (before, first, late, cap) == ("0.00", "5.00", "5.00", "2.00")


def test_versions_take_effect_on_their_day_and_the_nearest_dept_wins(admin: str, on: Any) -> None:
    """Given a parent dept at 0.1% a day from 2020 and its child dept at 0.2% from 1 Mar 2020, a bill of the
    child due 15 Feb accrues 0.1% a day until 29 Feb and 0.2% from 1 Mar; a sibling under the same parent
    keeps 0.1%."""
    parent = penalised_dept(admin, {"mode": "DAILY_RATE", "dailyRate": "0.001"})
    child, sibling = new_dept(parent), new_dept(parent)
    rule = json.dumps({"mode": "DAILY_RATE", "dailyRate": "0.002"})
    set_param(admin, "revenue.penalty.rule", rule, dept_id=child, effective="2020-03-01")
    cust, bill, principal = one_bill(admin, child)
    other, other_bill, other_principal = one_bill(admin, sibling)
    on(dt.date(2020, 3, 5))

    got = Decimal(counter_row(admin, cust, bill["id"])["penaltyAmount"])
    sibling_got = Decimal(counter_row(admin, other, other_bill["id"])["penaltyAmount"])

    assert got == rounded(principal * Decimal("0.001") * 14 + principal * Decimal("0.002") * 5)
    assert sibling_got == rounded(other_principal * Decimal("0.001") * 19)


def test_a_rule_version_stored_by_other_means_that_cannot_be_used_is_ignored(admin: str, on: Any) -> None:
    """Given a dept's valid rule and then a later version written straight into the table with a document
    the rules cannot use (IF-REV-012 would have refused it), the amount due still answers, by the valid
    version, instead of failing every payment of the dept."""
    dept = penalised_dept(admin)
    cust, bill, principal = one_bill(admin, dept)
    version = sql_scalar(
        "SELECT max(config_version) + 1 FROM biz_parameter_settings WHERE config_code = 'revenue.penalty.rule'"
    )
    sql_exec(
        "INSERT INTO biz_parameter_settings (config_type, config_code, config_value, config_version, dept_id,"
        " effective_date) VALUES ('RULE', 'revenue.penalty.rule', '{\"mode\": \"WEEKLY\"}', :v, :d, DATE '2020-02-01')",
        {"v": version, "d": dept},
    )
    on(dt.date(2020, 3, 1))

    row = counter_row(admin, cust, bill["id"])

    assert Decimal(row["penaltyAmount"]) == rounded(principal * RATE * 10)


def test_a_rule_the_penalty_could_not_use_is_refused_by_if_rev_012(admin: str) -> None:
    """Given IF-REV-012, a penalty rule without its daily rate, or a coverage order that is not one, is a 400
    naming the field, and nothing is saved."""
    dept = new_dept()
    body = {"action": "CREATE", "configType": "RULE", "deptId": dept}

    bad_rule = call(
        "POST",
        "/admin-api/revenue/parameter/config",
        {**body, "configCode": "revenue.penalty.rule", "configValue": '{"mode": "DAILY_RATE"}'},
        token=admin,
    )
    bad_order = call(
        "POST",
        "/admin-api/revenue/parameter/config",
        {**body, "configCode": "revenue.penalty.coverage", "configValue": "NEWEST_FIRST"},
        token=admin,
    )

    expect_error(bad_rule, 400, mentions="configValue.dailyRate")
    expect_error(bad_order, 400, mentions="configValue")
    saved = sql_scalar("SELECT count(*) FROM biz_parameter_settings WHERE dept_id = :d", {"d": dept})
    assert saved == 0


# ---- counter collection ------------------------------------------------------------------------------
def test_the_counter_refuses_an_amount_short_by_the_penalty_and_books_both_lines(admin: str, on: Any) -> None:
    """Given a bill owing principal and penalty, when the counter collects the principal only, then
    1_002_003_002 with the difference (the penalty) and nothing written; when it collects both, then
    SUCCESS, the bill PAID, a PRINCIPAL line (the water fee) and a PENALTY line of its own, arrears lowered
    by the principal only, nothing owed after, and IF-CS-002 PAYMENT lists the bill once."""
    dept = penalised_dept(admin)
    cust, bill, principal = one_bill(admin, dept)
    on(dt.date(2020, 3, 1))
    penalty = rounded(principal * RATE * 10)
    arrears_before = sql_scalar("SELECT arrears_amount FROM biz_account WHERE cust_id = :c", {"c": cust})

    short = collect(admin, cust, [bill["id"]], principal)
    paid = collect(admin, cust, [bill["id"]], principal + penalty)

    expect_error(short, 1_002_003_002, mentions=f"差额 {penalty}")
    assert (
        Decimal(short.data["difference"]) == penalty
        and Decimal(short.data["dueAmount"]) == principal + penalty
    )
    assert Decimal(short.data["penaltyAmount"]) == penalty
    assert paid.code == 0, paid.body
    assert sql_scalar("SELECT count(*) FROM biz_collection WHERE cust_id = :c", {"c": cust}) == 1
    data = paid.data
    assert data["writeOffStatus"] == "SUCCESS" and data["remainAmount"] == "0.00"
    assert (
        Decimal(data["writtenOffAmount"]) == principal + penalty and Decimal(data["penaltyAmount"]) == penalty
    )
    assert data["chargeList"] == [
        {
            "chargeId": bill["id"],
            "amount": f"{principal:.2f}",
            "penaltyAmount": f"{penalty:.2f}",
            "remainAmount": "0.00",
            "payStatus": "PAID",
        }
    ]
    assert items_of(data["collectionId"]) == [
        (bill["id"], "PRINCIPAL", principal),
        (bill["id"], "PENALTY", penalty),
    ]
    after = charge_row(bill["id"])
    assert after["status"] == "PAID" and after["paid_amount"] == principal
    arrears_after = sql_scalar("SELECT arrears_amount FROM biz_account WHERE cust_id = :c", {"c": cust})
    assert arrears_before - arrears_after == principal
    assert sql_scalar(
        "SELECT penalty_as_of FROM biz_collection WHERE id = :i", {"i": data["collectionId"]}
    ) == (dt.date(2020, 3, 1))
    assert counter_row(admin, cust, bill["id"])["dueAmount"] == "0.00"
    member = bound_member(cust)
    payments = call("GET", HISTORY, token=member, query=f"custId={cust}&queryType=PAYMENT")
    assert payments.code == 0 and payments.data["list"][0]["chargeIds"] == [bill["id"]], payments.body
    (written,) = audit_rows("biz_collection", data["collectionId"], "WRITE_OFF")
    assert written["after_data"]["lines"] == [
        {"chargeId": bill["id"], "amount": f"{principal:.2f}", "penalty": f"{penalty:.2f}"}
    ]


@pytest.mark.parametrize("coverage", ["PENALTY_FIRST", "PRINCIPAL_FIRST"])
def test_what_a_partial_payment_covers_first_is_the_coverage_parameter(
    admin: str, on: Any, coverage: str
) -> None:
    """Given partial payment allowed and two bills each owing principal and penalty, when the counter takes
    the two principals' sum, then PENALTY_FIRST settles both penalties and the oldest principal first,
    leaving the newer bill short by the penalties; PRINCIPAL_FIRST settles both principals and leaves both
    penalties owed (the bills PARTIAL though their water fee is paid)."""
    dept = penalised_dept(
        admin,
        **{"revenue.collection.allow-partial": "true", "revenue.penalty.coverage": coverage},
    )
    cust, (older, newer) = new_bills(admin, ["2020-01", "2020-02"], dept_id=dept)
    on(dt.date(2020, 4, 1))
    due = {b["id"]: counter_row(admin, cust, b["id"]) for b in (older, newer)}
    pen = {i: Decimal(r["penaltyAmount"]) for i, r in due.items()}
    prin = {i: Decimal(r["unpaidAmount"]) for i, r in due.items()}
    assert all(p > 0 for p in pen.values())

    paid = collect(admin, cust, [newer["id"], older["id"]], sum(prin.values()))

    assert paid.code == 0 and paid.data["writeOffStatus"] == "PARTIAL", paid.body
    lines = items_of(paid.data["collectionId"])
    if coverage == "PENALTY_FIRST":
        assert {(i, kind): a for i, kind, a in lines if kind == "PENALTY"} == {
            (b, "PENALTY"): pen[b] for b in (older["id"], newer["id"])
        }
        assert (older["id"], "PRINCIPAL", prin[older["id"]]) in lines
        assert (newer["id"], "PRINCIPAL", prin[newer["id"]] - sum(pen.values())) in lines
        assert charge_row(older["id"])["status"] == "PAID"
        assert Decimal(counter_row(admin, cust, newer["id"])["dueAmount"]) == sum(pen.values())
    else:
        assert sorted(lines) == sorted((b, "PRINCIPAL", prin[b]) for b in (older["id"], newer["id"]))
        for b in (older["id"], newer["id"]):
            row = counter_row(admin, cust, b)
            assert row["payStatus"] == "PARTIAL" and row["unpaidAmount"] == "0.00"
            assert Decimal(row["penaltyAmount"]) == pen[b]
        on(dt.date(2020, 5, 1))  # the principal is paid: nothing more accrues
        assert Decimal(counter_row(admin, cust, older["id"])["penaltyAmount"]) == pen[older["id"]]
        settle = collect(admin, cust, [older["id"], newer["id"]], sum(pen.values()))
        assert settle.code == 0 and settle.data["writeOffStatus"] == "SUCCESS", settle.body
        assert [charge_row(b)["status"] for b in (older["id"], newer["id"])] == ["PAID", "PAID"]


def test_the_rate_applies_to_the_principal_unpaid_on_each_day(admin: str, on: Any) -> None:
    """Given principal first and partial payment allowed, when half the principal is paid on 25 Feb, then on
    1 Mar the penalty is 5 days (21-25 Feb) on the whole principal and 5 days (26 Feb - 1 Mar) on the half
    still unpaid."""
    dept = penalised_dept(
        admin,
        **{"revenue.collection.allow-partial": "true", "revenue.penalty.coverage": "PRINCIPAL_FIRST"},
    )
    cust, bill, principal = one_bill(admin, dept)
    half = rounded(principal / 2)
    on(dt.date(2020, 2, 25))
    assert collect(admin, cust, [bill["id"]], half).code == 0
    on(dt.date(2020, 3, 1))

    row = counter_row(admin, cust, bill["id"])

    expected = rounded(principal * RATE * 5 + (principal - half) * RATE * 5)
    assert Decimal(row["penaltyAmount"]) == expected
    assert Decimal(row["dueAmount"]) == principal - half + expected


# ---- orders -------------------------------------------------------------------------------------------
def test_an_order_made_today_and_settled_tomorrow_books_todays_amounts(
    admin: str, on: Any, sys009: Any
) -> None:
    """Given a bill owing principal and penalty on 1 Mar, when the customer orders it online that day
    (paymentAmount = principal + penalty) and the money arrives on 2 Mar, when the penalty has grown, then
    the order books exactly what it asked for: the principal and 1 Mar's penalty as lines of their own, the
    bill PAID and nothing owed; a paymentAmount without the penalty is refused with the difference."""
    dept = penalised_dept(admin)
    cust, bill, principal = one_bill(admin, dept)
    member = bound_member(cust)
    on(dt.date(2020, 3, 1))
    penalty = rounded(principal * RATE * 10)
    body = {"custId": cust, "chargeIds": [bill["id"]], "paymentChannel": "WECHAT"}

    short = call("POST", ORDER, {**body, "paymentAmount": str(principal)}, token=member)
    order = call("POST", ORDER, {**body, "paymentAmount": str(principal + penalty)}, token=member)

    expect_error(short, 1_002_003_002)
    assert Decimal(short.data["difference"]) == penalty
    assert order.code == 0, order.body
    held = sql_all(
        "SELECT amount, penalty FROM biz_order_charge WHERE biz_order_no = :o",
        {"o": order.data["bizOrderNo"]},
    )
    assert held == [{"amount": principal, "penalty": penalty}]
    assert sys009.trade(order.data["tradeNo"])["tradeAmount"] == f"{principal + penalty:.2f}"

    on(dt.date(2020, 3, 2))
    assert Decimal(counter_row(admin, cust, bill["id"])["penaltyAmount"]) > penalty  # it grew meanwhile
    sys009.pay(order.data["tradeNo"])
    settled(order.data["bizOrderNo"])

    (collection,) = sql_all("SELECT * FROM biz_collection WHERE code = :o", {"o": order.data["bizOrderNo"]})
    assert collection["status"] == "SUCCESS" and collection["to_balance"] == ZERO
    assert collection["penalty_as_of"] == dt.date(2020, 3, 1)
    assert items_of(collection["id"]) == [
        (bill["id"], "PRINCIPAL", principal),
        (bill["id"], "PENALTY", penalty),
    ]
    assert charge_row(bill["id"])["status"] == "PAID"
    assert arrears(member, cust) == []


def test_a_counter_qr_order_asks_for_the_penalty_too(admin: str, on: Any, sys009: Any) -> None:
    """Given a bill owing a penalty, a counter QR order for the principal only is refused with the amount
    due; one for principal and penalty is made, its SYS-009 trade for that amount."""
    dept = penalised_dept(admin)
    _, bill, principal = one_bill(admin, dept)
    on(dt.date(2020, 3, 1))
    penalty = rounded(principal * RATE * 10)
    operator = int(sql_scalar("SELECT id FROM system_users WHERE username = 'admin'"))
    body = {
        "counterCode": "GL-01",
        "chargeIds": [bill["id"]],
        "paymentChannel": "ALIPAY",
        "operatorId": operator,
    }

    short = call(
        "POST", "/admin-api/counter/scan-pay/create", {**body, "orderAmount": str(principal)}, token=admin
    )
    made = call(
        "POST",
        "/admin-api/counter/scan-pay/create",
        {**body, "orderAmount": str(principal + penalty)},
        token=admin,
    )

    expect_error(short, 1_002_003_002, mentions="orderAmount")
    assert Decimal(short.data["dueAmount"]) == principal + penalty
    assert made.code == 0, made.body
    assert sys009.trade(made.data["tradeNo"])["tradeAmount"] == f"{principal + penalty:.2f}"


# ---- bank real-time ----------------------------------------------------------------------------------
@pytest.fixture
def bank_key(monkeypatch: pytest.MonkeyPatch) -> Any:
    from waterrev.settings import reset_settings

    monkeypatch.setenv("WATERREV_WEBHOOK_KEYS", json.dumps({"BANK": {"bank-key-1": SECRET}}))
    reset_settings()
    yield
    monkeypatch.undo()
    reset_settings()


@pytest.mark.usefixtures("bank_key")
def test_a_bank_is_told_principal_and_penalty_and_pays_both(admin: str, on: Any) -> None:
    """Given a bill owing a penalty, the bank's query answers amount = principal + penalty (and each part);
    paying the principal only is 1_002_003_002; paying the amount writes off both lines."""
    dept = penalised_dept(admin)
    cust, bill, principal = one_bill(admin, dept)
    code = sql_scalar("SELECT code FROM biz_cust WHERE id = :c", {"c": cust})
    on(dt.date(2020, 3, 1))
    penalty = rounded(principal * RATE * 10)

    query = bank("/open-api/bank/charge/query", {"bankCode": "ICBC", "custCode": code})
    pay = {"bankCode": "ICBC", "custCode": code, "chargeIds": [bill["id"]]}
    short = bank("/open-api/bank/charge/pay", {**pay, "bankSerialNo": unique("BS"), "amount": str(principal)})
    paid = bank(
        "/open-api/bank/charge/pay", {**pay, "bankSerialNo": unique("BS"), "amount": str(principal + penalty)}
    )

    assert query.code == 0, query.body
    (listed,) = query.data["billList"]
    assert Decimal(listed["amount"]) == principal + penalty == Decimal(query.data["arrearsAmount"])
    assert (Decimal(listed["principalAmount"]), Decimal(listed["penaltyAmount"])) == (principal, penalty)
    assert query.data["penaltyAsOf"] == "2020-03-01"
    expect_error(short, 1_002_003_002)
    assert paid.code == 0 and paid.data["writeOffStatus"] == "SUCCESS", paid.body
    (collection,) = sql_all(
        "SELECT id FROM biz_collection WHERE code = :c", {"c": paid.data["collectionCode"]}
    )
    assert items_of(collection["id"]) == [
        (bill["id"], "PRINCIPAL", principal),
        (bill["id"], "PENALTY", penalty),
    ]


# ---- exemptions --------------------------------------------------------------------------------------
def test_a_withholding_customer_is_exempt_only_when_the_parameter_says_so(admin: str, on: Any) -> None:
    """Given a customer with an active withholding agreement, it accrues a penalty while
    revenue.penalty.exempt-withholding is off and none once it is on (the reply says why); a customer
    without an agreement still accrues."""
    dept = penalised_dept(admin)
    cust, bill, _ = one_bill(admin, dept)
    other, other_bill, _ = one_bill(admin, dept)
    signed = call(
        "PUT",
        "/admin-api/revenue/customer/update",
        {
            "id": cust,
            "withholdingRel": {
                "bankCode": "ICBC",
                "bankAccount": "6222020200112233445",
                "accountName": "测试客户",
            },
        },
        token=admin,
    )
    assert signed.code == 0, signed.body
    member = bound_member(cust)
    on(dt.date(2020, 3, 1))

    (accruing,) = arrears(member, cust)
    set_param(admin, "revenue.penalty.exempt-withholding", "true", dept_id=dept)
    (exempt,) = arrears(member, cust)

    assert Decimal(accruing["penaltyAmount"]) > 0 and accruing["penaltyExemption"] is None
    assert exempt["penaltyAmount"] == "0.00" and exempt["penaltyExemption"] == "WITHHOLDING"
    assert exempt["dueAmount"] == exempt["arrearsAmount"]
    assert Decimal(counter_row(admin, other, other_bill["id"])["penaltyAmount"]) > 0
    paid = collect(admin, cust, [bill["id"]], exempt["arrearsAmount"])
    assert paid.code == 0 and paid.data["writeOffStatus"] == "SUCCESS", paid.body


def test_a_low_income_customer_is_exempt_by_parameter(admin: str, on: Any) -> None:
    """Given the 低保 flag set on a customer by IF-REV-002 (IF-REV-001 shows it) and
    revenue.penalty.exempt-low-income on, the customer accrues nothing; clearing the flag brings it back."""
    dept = penalised_dept(admin, **{"revenue.penalty.exempt-low-income": "true"})
    cust, bill, _ = one_bill(admin, dept)
    on(dt.date(2020, 3, 1))
    before = counter_row(admin, cust, bill["id"])["penaltyAmount"]

    flagged = call("PUT", "/admin-api/revenue/customer/update", {"id": cust, "lowIncome": True}, token=admin)
    shown = call("GET", f"/admin-api/revenue/customer/{cust}", token=admin)
    exempt_row = counter_row(admin, cust, bill["id"])
    exempt = exempt_row["penaltyAmount"]
    call("PUT", "/admin-api/revenue/customer/update", {"id": cust, "lowIncome": False}, token=admin)
    again = counter_row(admin, cust, bill["id"])["penaltyAmount"]

    assert flagged.code == 0 and flagged.data["lowIncome"] is True, flagged.body
    assert shown.code == 0 and shown.data["lowIncome"] is True
    assert Decimal(before) > 0 and exempt == "0.00" and again == before
    assert exempt_row["penaltyExemption"] == "LOW_INCOME"


def test_a_person_books_money_short_of_the_order_penalty_first(admin: str, on: Any, sys009: Any) -> None:
    """Given an order for principal + penalty made on 1 Mar and the platform reporting 1.00 less
    (AMOUNT_MISMATCH, held for a person), when the person decides WRITE_OFF_PAID on 5 Mar, then the money
    books the penalty the order held (as of 1 Mar) first - PENALTY_FIRST, the default - and the rest on the
    water fee, leaving the bill PARTIAL and 1.00 of principal owed."""
    from tests.integration.test_payment_review import exception_of, notify

    sys009.behaviour(dropNotifications=True)
    dept = penalised_dept(admin)
    cust, bill, principal = one_bill(admin, dept)
    member = bound_member(cust)
    on(dt.date(2020, 3, 1))
    penalty = rounded(principal * RATE * 10)
    body = {"custId": cust, "chargeIds": [bill["id"]], "paymentChannel": "WECHAT"}
    order = call("POST", ORDER, {**body, "paymentAmount": str(principal + penalty)}, token=member)
    assert order.code == 0, order.body
    short = principal + penalty - 1
    assert notify(sys009, order.data, "SUCCESS", short).data["writeBackStatus"] == "EXCEPTION"
    on(dt.date(2020, 3, 5))

    resolved = call(
        "POST",
        "/admin-api/revenue/collection/exception/resolve",
        {
            "id": exception_of(order.data["bizOrderNo"], "AMOUNT_MISMATCH")["id"],
            "action": "WRITE_OFF_PAID",
            "remark": "客户少付 1 元，按实收入账",
        },
        token=admin,
    )

    assert resolved.code == 0, resolved.body
    (collection,) = sql_all("SELECT * FROM biz_collection WHERE code = :o", {"o": order.data["bizOrderNo"]})
    assert collection["penalty_as_of"] == dt.date(2020, 3, 1) and collection["status"] == "PARTIAL"
    assert items_of(collection["id"]) == [
        (bill["id"], "PRINCIPAL", principal - 1),
        (bill["id"], "PENALTY", penalty),
    ]
    assert resolved.data["result"]["chargeList"] == [
        {"chargeId": bill["id"], "amount": f"{principal - 1:.2f}", "penaltyAmount": f"{penalty:.2f}"}
    ]
    assert charge_row(bill["id"])["status"] == "PARTIAL"
    assert Decimal(counter_row(admin, cust, bill["id"])["unpaidAmount"]) == 1
