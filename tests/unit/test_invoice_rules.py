"""Invoice rules, pure: lines per cost component and rate (多税率拆票), tax split, title checks, the
bills' key, and how a reported result meets the current state."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from waterrev.domain.states import INVOICE, InvoiceStatus
from waterrev.invoices import rules

amounts = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("99999.99"), places=2)
rates = st.sampled_from([Decimal("0"), Decimal("0.03"), Decimal("0.06"), Decimal("0.09"), Decimal("0.13")])


@given(amounts, rates)
def test_the_tax_split_always_adds_up(amount: Decimal, rate: Decimal) -> None:
    """Given any tax-included amount and rate, the part without tax plus the tax is the amount, both to
    the fen, and the tax is what the rate says within half a fen."""
    ex_tax, tax = rules.split_tax(amount, rate)
    assert ex_tax + tax == amount
    assert ex_tax.as_tuple().exponent == -2 and tax.as_tuple().exponent == -2
    assert abs(ex_tax * rate - tax) <= Decimal("0.005") * (1 + rate)


@given(
    st.lists(
        st.tuples(st.sampled_from(["WATER_FEE", "SEWAGE_FEE", "RESOURCE_FEE", "LATE_FEE"]), rates, amounts),
        min_size=1,
        max_size=30,
    )
)
def test_lines_group_by_component_and_rate_and_keep_the_total(
    details: list[tuple[str, Decimal, Decimal]],
) -> None:
    """Given bill lines, the invoice has one line per component and rate, penalties left out, and its
    lines add up to the bills' invoiced lines exactly."""
    lines = rules.invoice_lines(rules.DetailLine(c, c, r, a) for c, r, a in details)
    keys = [(line.cost_component, line.tax_rate) for line in lines]
    assert len(keys) == len(set(keys))
    assert "LATE_FEE" not in {line.cost_component for line in lines}
    expected = sum((a for c, _, a in details if c != "LATE_FEE"), Decimal("0"))
    assert sum((line.amount for line in lines), Decimal("0")) == expected
    assert all(line.amount == line.amount_ex_tax + line.tax_amount for line in lines)
    assert [line.line_no for line in lines] == list(range(1, len(lines) + 1))


def test_water_and_sewage_carry_their_own_rates() -> None:
    """Given water at 9% and sewage at 0% on two bills, then two lines with their own codes and rates."""
    lines = rules.invoice_lines(
        [
            rules.DetailLine("WATER_FEE", "水费", Decimal("0.09"), Decimal("43.00")),
            rules.DetailLine("SEWAGE_FEE", "污水处理费", Decimal("0"), Decimal("20.00")),
            rules.DetailLine("WATER_FEE", "水费", Decimal("0.09"), Decimal("21.80")),
        ]
    )
    assert [(x.cost_component, x.tax_rate, x.amount, x.tax_amount) for x in lines] == [
        ("WATER_FEE", Decimal("0.09"), Decimal("64.80"), Decimal("5.35")),
        ("SEWAGE_FEE", Decimal("0"), Decimal("20.00"), Decimal("0.00")),
    ]
    assert lines[0].tax_code != lines[1].tax_code


@given(st.lists(st.integers(min_value=1, max_value=10**12), min_size=1, max_size=20))
def test_the_bills_key_ignores_order_and_repeats(ids: list[int]) -> None:
    assert rules.charge_key(ids) == rules.charge_key(list(reversed(ids)) + ids[:1])


def test_titles() -> None:
    """An organisation's name or a tax number makes an enterprise title, which needs a valid tax number;
    an e-invoice needs an e-mail or a mobile."""
    assert rules.title_type("福州某某科技有限公司", None) == "ENTERPRISE"
    assert rules.title_type("张三", None) == "PERSONAL"
    assert rules.title_type("张三", None, "ENTERPRISE") == "ENTERPRISE"
    assert rules.valid_uscc("91350100MA2Y0C8X0G") and not rules.valid_uscc("91350100MA2Y0C8X0A")
    assert rules.title_problems(
        invoice_type="ELECTRONIC", kind="ENTERPRISE", tax_no=None, email="a@b.cn", mobile=None
    ) == ["taxNo: 企业抬头须提供税号"]
    assert rules.title_problems(
        invoice_type="ELECTRONIC", kind="PERSONAL", tax_no=None, email=None, mobile=None
    )
    assert not rules.title_problems(
        invoice_type="PAPER", kind="PERSONAL", tax_no=None, email=None, mobile=None
    )


@given(st.sampled_from(list(InvoiceStatus)), st.sampled_from(list(InvoiceStatus)))
def test_a_terminal_state_never_regresses(current: InvoiceStatus, reported: InvoiceStatus) -> None:
    """Given any current and reported state, a result is applied only where the lifecycle allows it,
    and never out of a terminal state (SUCCESS is never overwritten by FAIL)."""
    verdict = rules.decide(current, reported, live_modify_target=reported)
    if verdict == rules.APPLIED:
        assert INVOICE.allows(current, reported)
        assert not INVOICE.is_terminal(current)
    if current == InvoiceStatus.SUCCESS and reported == InvoiceStatus.FAIL:
        assert verdict == rules.CONFLICT


def test_backoff() -> None:
    assert [rules.backoff_minutes(n) for n in range(8)] == [1, 2, 4, 8, 16, 32, 60, 60]
