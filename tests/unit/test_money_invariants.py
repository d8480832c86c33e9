"""The money and file invariants docs/INVARIANTS.md lists that no other unit test proves, as property
tests over the pure rules (1,000 cases each): the one rounding rule, the tax split of an invoice, the
cut of a quantity, a reversal's refund against its collection, the withholding files' header totals and
their byte-counted GBK fields, and the message results' late-arrival rule."""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from waterrev.accounting import rules as accounting
from waterrev.accounting.rules import PREPAY
from waterrev.banking import rules as banking
from waterrev.billing.rules import allot
from waterrev.domain.states import MessageStatus
from waterrev.invoices import rules as invoices
from waterrev.money import FEN, money
from waterrev.notifications.rules import apply_result, task_status

CASES = settings(max_examples=1000, deadline=None)
fen = st.integers(min_value=1, max_value=10**9).map(lambda f: Decimal(f) / 100)
exact = st.decimals(min_value=Decimal("-1e9"), max_value=Decimal("1e9"), places=6, allow_nan=False)
rates = st.sampled_from([Decimal("0"), Decimal("0.03"), Decimal("0.06"), Decimal("0.09"), Decimal("0.13")])
gbk_text = st.text(st.characters(codec="gbk", exclude_categories=("Cs", "Cc")), max_size=40)
any_text = st.text(st.characters(exclude_categories=("Cs", "Cc")), max_size=40)


# ---- the one rounding rule (money.py) ----------------------------------------------------------------
@CASES
@given(exact)
def test_an_amount_is_rounded_half_up_to_the_fen_once(value: Decimal) -> None:
    """Given any amount, money() is a whole number of fen at most half a fen away, a tie goes away from zero,
    and rounding again changes nothing (totals are sums of rounded lines, never rounded twice)."""
    rounded = money(value)
    assert rounded == rounded.quantize(FEN)
    assert abs(rounded - value) <= Decimal("0.005")
    if abs(value - value.quantize(FEN, rounding="ROUND_DOWN")) == Decimal("0.005"):
        assert abs(rounded) > abs(value)
    assert money(rounded) == rounded and money(str(value)) == rounded


@CASES
@given(st.lists(exact, min_size=1, max_size=20))
def test_a_total_of_lines_is_their_sum_and_whole_fen(values: list[Decimal]) -> None:
    lines = [money(v) for v in values]
    total = sum(lines, Decimal("0.00"))
    assert money(total) == total  # a sum of rounded lines never needs rounding again


# ---- invoices: the tax split adds up -----------------------------------------------------------------
@CASES
@given(st.integers(min_value=-(10**9), max_value=10**9).map(lambda f: Decimal(f) / 100), rates)
def test_a_tax_split_adds_up_to_the_amount(amount: Decimal, rate: Decimal) -> None:
    ex_tax, tax = invoices.split_tax(amount, rate)
    assert ex_tax + tax == amount
    assert ex_tax == (amount / (1 + rate)).quantize(FEN, rounding=ROUND_HALF_UP)
    assert ex_tax == ex_tax.quantize(FEN) and tax == tax.quantize(FEN)


details = st.builds(
    invoices.DetailLine,
    cost_component=st.sampled_from(["WATER", "SEWAGE", "RESOURCE", "LATE_FEE", "PENALTY"]),
    component_name=st.just("项"),
    tax_rate=rates,
    amount=fen,
)


@CASES
@given(st.lists(details, max_size=15))
def test_invoice_lines_carry_every_invoiced_fen_once(lines: list[invoices.DetailLine]) -> None:
    """Given any bills' lines, the invoice's lines add up to the invoiced lines (penalties left out), one
    line per component and rate, each split into an amount without tax and a tax that add up to it."""
    out = invoices.invoice_lines(lines)
    invoiced = [d for d in lines if d.cost_component not in invoices.NOT_INVOICED]
    assert sum((line.amount for line in out), Decimal(0)) == sum((d.amount for d in invoiced), Decimal(0))
    assert len(out) == len({(d.cost_component, d.tax_rate) for d in invoiced})
    for line in out:
        assert line.amount_ex_tax + line.tax_amount == line.amount


# ---- billing: a cut quantity sums to the whole -------------------------------------------------------
@CASES
@given(
    st.integers(min_value=0, max_value=10**8).map(lambda c: Decimal(c) / 100),
    st.lists(st.integers(min_value=0, max_value=1000), min_size=1, max_size=6).filter(lambda w: sum(w) > 0),
    st.data(),
)
def test_a_cut_quantity_sums_to_the_whole_and_no_part_is_negative(
    total: Decimal, weights: list[int], data: st.DataObject
) -> None:
    designated = data.draw(st.integers(min_value=0, max_value=len(weights) - 1))
    parts = allot(total, weights, designated)
    assert sum(parts, Decimal(0)) == total
    assert all(p >= 0 and p == p.quantize(Decimal("0.01")) for p in parts)


# ---- accounting: a reversal gives back exactly what its collection took ------------------------------
@st.composite
def collections(draw: st.DrawFn) -> tuple[str, Decimal, Decimal, list[accounting.WrittenOff]]:
    lines = []
    for charge_id in range(draw(st.integers(min_value=0, max_value=6))):
        principal, penalty = draw(fen), draw(st.one_of(st.just(Decimal("0.00")), fen))
        others = draw(st.one_of(st.just(Decimal("0.00")), fen))  # paid on the bill by other collections
        paid = principal + others
        lines.append(accounting.WrittenOff(charge_id, principal, penalty, paid + draw(fen), paid))
    written = sum((w.principal + w.penalty for w in lines), Decimal(0))
    to_balance = draw(st.one_of(st.just(Decimal("0.00")), fen))
    channel = draw(st.sampled_from([PREPAY, "CASH", "WECHAT", "ALIPAY", "BANK"]))
    if channel == PREPAY:
        to_balance = Decimal("0.00")
    return channel, written + to_balance, to_balance, lines


@CASES
@given(collections())
def test_a_reversal_refunds_at_most_its_collection_and_keeps_the_ledger(
    case: tuple[str, Decimal, Decimal, list[accounting.WrittenOff]],
) -> None:
    """Given any collection (its write-offs, the part that went to the balance), its reversal refunds at
    most the collection - all of it from outside, nothing of a PREPAY one - takes back exactly what it
    wrote off, leaves no bill below zero, and keeps collected = written off + balance + refunded."""
    channel, amount, to_balance, lines = case
    result = accounting.reverse(channel, amount, to_balance, lines)
    written = sum((w.principal + w.penalty for w in lines), Decimal(0))
    assert 0 <= result.refund <= amount
    assert result.refund == (0 if channel == PREPAY else amount)
    assert result.written_off == written
    assert all(b.paid_after >= 0 for b in result.bills)
    assert -result.written_off + result.balance_change + result.refund == 0  # C unchanged: W + B + R too


# ---- banking: the withholding files ------------------------------------------------------------------
items = st.lists(
    st.builds(
        lambda seq, cust, charge, account, name, amount: banking.SendItem(
            seq, cust, charge, "2026-11", f"S{seq}", account, name, amount
        ),
        st.integers(min_value=1, max_value=99_999_999),
        st.text("0123456789ABC", min_size=1, max_size=20),
        st.integers(min_value=1, max_value=10**18),
        st.text("0123456789", min_size=12, max_size=32),
        any_text,
        fen,
    ),
    max_size=30,
)


@CASES
@given(items)
def test_a_send_files_header_totals_equal_its_details(lines: list[banking.SendItem]) -> None:
    """Given any bills to withhold, the send file's header count and total equal its detail lines, every
    line is its layout's width in bytes, and the file reads back to the same amounts."""
    data = banking.build_send_file(
        batch_no="WH202611000001",
        channel_code="ICBC",
        bill_period="2026-11",
        biz_kind="WITHHOLDING",
        created=dt.date(2026, 12, 5),
        items=lines,
    )
    head, rows = banking.parse_send_file(data)
    assert int(head["count"]) == len(rows) == len(lines)
    assert (
        int(head["totalFen"])
        == sum(int(r["amountFen"]) for r in rows)
        == sum(banking.fen(i.amount) for i in lines)
    )
    raw = data.split(banking.EOL)[:-1]
    assert len(raw[0]) == banking.width(banking.SEND_HEADER)
    assert all(len(line) == banking.width(banking.SEND_DETAIL) for line in raw[1:])
    assert [r["bankAccount"] for r in rows] == [i.bank_account for i in lines]


@st.composite
def return_files(draw: st.DrawFn) -> tuple[bytes, list[tuple[str, int]]]:
    rows = []
    for _ in range(draw(st.integers(min_value=0, max_value=20))):
        code = draw(st.sampled_from(sorted(banking.RESULT_CODES)))
        rows.append((code, banking.fen(draw(fen))))
    return _return_file(rows), rows


def _return_file(rows: list[tuple[str, int]], *, count_off: int = 0, fen_off: int = 0) -> bytes:
    successes = [f for code, f in rows if code == banking.SUCCESS]
    head = {
        "recordType": "H",
        "batchNo": "WH1",
        "fileSerialNo": "1",
        "count": len(rows),
        "successCount": len(successes) + count_off,
        "successFen": sum(successes) + fen_off,
        "returnDate": "20261205",
    }
    lines = [banking.encode_record(banking.RETURN_HEADER, head)]
    for seq, (code, amount) in enumerate(rows, start=1):
        lines.append(
            banking.encode_record(
                banking.RETURN_DETAIL,
                {
                    "recordType": "D",
                    "seqNo": seq,
                    "custCode": f"C{seq}",
                    "chargeId": seq,
                    "amountFen": amount,
                    "resultCode": code,
                    "bankSerialNo": f"B{seq}",
                    "resultMsg": banking.RESULT_CODES[code],
                },
            )
        )
    return banking.EOL.join(lines) + banking.EOL


@CASES
@given(return_files(), st.integers(min_value=-3, max_value=3), st.integers(min_value=-500, max_value=500))
def test_a_return_file_is_taken_only_when_its_header_adds_up(
    case: tuple[bytes, list[tuple[str, int]]], count_off: int, fen_off: int
) -> None:
    """Given any return file, it is read when its header's success count and amount equal its successful
    lines (what it reads is what the lines say), and refused whole when either is off."""
    data, rows = case
    parsed = banking.parse_return_file(data, "WH1")
    assert [(line.result_code, banking.fen(line.amount)) for line in parsed.lines] == rows
    assume(count_off or fen_off)
    assume(len([c for c, _ in rows if c == banking.SUCCESS]) + count_off >= 0)
    assume(sum(f for c, f in rows if c == banking.SUCCESS) + fen_off >= 0)
    with pytest.raises(banking.FileError):
        banking.parse_return_file(_return_file(rows, count_off=count_off, fen_off=fen_off), "WH1")


@CASES
@given(any_text, st.sampled_from([f for f in banking.SEND_DETAIL if f.kind == "A"]))
def test_a_text_field_is_its_width_in_bytes_and_never_splits_a_character(
    text: str, field: banking.Field
) -> None:
    """Given any text (Chinese is two GBK bytes; what GBK cannot encode becomes ?), the field is exactly its
    width in bytes, decodes as GBK, and is the longest whole-character prefix of the text that fits."""
    encoded = banking.encode_field(field, text)
    assert len(encoded) == field.width
    encoded.decode("gbk")
    fitted = b""  # whole characters, in order, while the next one still fits
    for char in text.encode("gbk", errors="replace").decode("gbk"):
        if len(fitted) + len(char.encode("gbk")) > field.width:
            break
        fitted += char.encode("gbk")
    assert encoded == fitted + b" " * (field.width - len(fitted))


@CASES
@given(gbk_text, st.sampled_from([f for f in banking.RETURN_DETAIL if f.kind == "A"]))
def test_a_text_field_reads_back_as_written_when_it_fits(text: str, field: banking.Field) -> None:
    assume(len(text.encode("gbk")) <= field.width and text == text.strip(" "))
    line = banking.encode_field(field, text)
    assert banking.decode_record((field,), line) == {field.name: text}


# ---- messages: a late result never undoes a final one ------------------------------------------------
statuses = st.sampled_from(list(MessageStatus))


@CASES
@given(st.sampled_from([MessageStatus.PENDING]), st.lists(st.tuples(statuses, st.booleans()), max_size=12))
def test_a_result_never_undoes_success_or_a_persons_verification(
    start: MessageStatus, results: list[tuple[MessageStatus, bool]]
) -> None:
    """Given any order of SYS-010 results (repeats, late FAILs), once a message is SUCCESS or
    MANUAL_VERIFIED no result changes it, and every change made is one its lifecycle allows."""
    from waterrev.domain.states import MESSAGE

    state = start
    for reported, receipt in results:
        before = state
        state = apply_result(before, reported, receipt).status
        if before in (MessageStatus.SUCCESS, MessageStatus.MANUAL_VERIFIED):
            assert state is before
        assert state is before or MESSAGE.allows(before, state)


@CASES
@given(statuses, st.lists(statuses, max_size=4), st.booleans())
def test_a_reminder_task_that_reached_the_customer_stays_so(
    current: MessageStatus, messages: list[MessageStatus], fallback_left: bool
) -> None:
    after = task_status(current, messages, fallback_left)
    if current in (MessageStatus.SUCCESS, MessageStatus.MANUAL_VERIFIED):
        assert after is current
    elif MessageStatus.SUCCESS in messages:
        assert after is MessageStatus.SUCCESS
    if after is MessageStatus.FAIL:
        assert (messages and set(messages) <= {MessageStatus.FAIL}) or current is MessageStatus.FAIL


# ---- banking: reconciliation lists every fen the bank and we disagree on -----------------------------
@st.composite
def reconciliations(draw: st.DrawFn) -> tuple[list[banking.OurItem], list[banking.StatementLine]]:
    items, statement = [], []
    for seq in range(1, draw(st.integers(min_value=0, max_value=15)) + 1):
        amount = draw(fen)
        status = draw(st.sampled_from(["SUCCESS", "FAIL", "PENDING"]))
        items.append(
            banking.OurItem(seq, seq, seq, seq, amount, status, f"B{seq}" if status == "SUCCESS" else None)
        )
        if draw(st.booleans()):  # the bank debited it, perhaps another amount
            statement.append(
                banking.StatementLine(f"S{seq}", seq, f"C{seq}", draw(st.sampled_from([amount, draw(fen)])))
            )
    for seq in draw(st.lists(st.integers(min_value=100, max_value=120), unique=True, max_size=3)):
        statement.append(banking.StatementLine(f"S{seq}", seq, f"C{seq}", draw(fen)))  # for no item of ours
    return items, statement


@CASES
@given(reconciliations())
def test_reconciliation_lists_every_fen_we_and_the_bank_disagree_on(
    case: tuple[list[banking.OurItem], list[banking.StatementLine]],
) -> None:
    """Given our items as the return left them and the bank's statement, the differences account for the
    whole gap: what we wrote off, plus what each difference says the bank did otherwise, is what the bank
    debited; where both agree on an item there is no difference for it, and each item has at most one."""
    items, statement = case
    differences = banking.classify(items, statement)
    ours = sum((i.amount for i in items if i.status == "SUCCESS"), Decimal(0))
    gap = Decimal(0)
    for d in differences:
        if d.diff_type == "OURS_PAID_BANK_FAILED":
            gap -= d.our_amount or 0
        elif d.diff_type == "BANK_PAID_OURS_UNPAID":
            gap += d.bank_amount or 0
        elif d.diff_type == "AMOUNT_MISMATCH":
            gap += (d.bank_amount or 0) - (d.our_amount or 0)
        elif d.diff_type == "BANK_ONLY":
            gap += d.bank_amount or 0
    assert ours + gap == sum((line.amount for line in statement), Decimal(0))
    by_item = [d.item_id for d in differences if d.item_id is not None]
    assert len(by_item) == len(set(by_item))
    debited = {line.seq_no: line.amount for line in statement}
    for item in items:
        agrees = (item.status == "SUCCESS" and debited.get(item.seq_no) == item.amount) or (
            item.status == "FAIL" and item.seq_no not in debited
        )
        assert not agrees or item.item_id not in by_item
    assert all(d.diff_type in banking.RESOLUTIONS for d in differences)
