"""How a stored payment order reads in the seed's terms (waterrev.payments.rules, no I/O): the seed's
orderStatus (INIT | PAYING | SUCCESS | FAIL) and IF-CS-007's writeBackStatus and msg."""

from __future__ import annotations

import pytest

from waterrev.payments.writeback import (
    PLATFORM_NOT_ANSWERED,
    REUSED_PREFIX,
    platform_not_answered,
    seed_order_status,
    write_back,
)


@pytest.mark.parametrize(
    ("stored", "seed"),
    [("INIT", "INIT"), ("PAYING", "PAYING"), ("SUCCESS", "SUCCESS"), ("FAIL", "FAIL"), ("CLOSED", "FAIL")],
)
def test_a_stored_status_reads_as_the_seeds_order_status(stored: str, seed: str) -> None:
    """Given a stored order status, then its orderStatus is one of the seed's four: a closed order failed."""
    assert seed_order_status(stored) == seed


@pytest.mark.parametrize(
    ("stored", "last_error", "write_back_status", "words"),
    [
        ("SUCCESS", None, "SUCCESS", "支付成功，账单已核销"),
        ("FAIL", None, "FAIL", "支付失败"),
        ("CLOSED", None, "FAIL", "订单已关闭"),
        ("INIT", "create: SYS-009 timeout", "PENDING", PLATFORM_NOT_ANSWERED),
        ("INIT", None, "PENDING", "等待支付平台受理"),
        ("PAYING", None, "PENDING", "请顾客扫码支付"),
        ("PAYING", "query: SYS-009 timeout", "PENDING", "请顾客扫码支付"),
    ],
)
def test_an_order_without_exceptions_writes_back_as_its_status_says(
    stored: str, last_error: str | None, write_back_status: str, words: str
) -> None:
    """Given an order with no hold and no open exception, then writeBackStatus follows its status (PENDING
    while it may still be paid) and msg says why in the clerk's words."""
    result = write_back(stored, hold_reason=None, last_error=last_error)

    assert result.order_status == seed_order_status(stored)
    assert result.write_back_status == write_back_status and words in result.msg


@pytest.mark.parametrize("stored", ["PAYING", "SUCCESS"])
@pytest.mark.parametrize(
    ("exceptions", "words"),
    [
        (["AMOUNT_MISMATCH"], "实付金额与订单金额不一致"),
        (["PAID_ELSEWHERE"], "已在别处缴清"),
        (["AMOUNT_MISMATCH", "PAID_ELSEWHERE"], "实付金额与订单金额不一致"),
        (["UNKNOWN_TRADE"], "支付结果异常"),
    ],
)
def test_an_open_exception_reads_as_waiting_for_a_person_whatever_the_status(
    stored: str, exceptions: list[str], words: str
) -> None:
    """Given an order with open payment exceptions, then writeBackStatus is EXCEPTION (an amount mismatch
    named first), whether the order is still PAYING (held) or SUCCESS (paid, surplus to the balance)."""
    result = write_back(stored, hold_reason=None, last_error=None, open_exceptions=exceptions)

    assert (result.order_status, result.write_back_status) == (stored, "EXCEPTION")
    assert words in result.msg


def test_an_order_held_for_refund_reads_failed_even_with_open_exceptions() -> None:
    """Given an order a reviewer closed for a refund, then it writes back FAIL with the refund explained,
    before any exception still open for it."""
    result = write_back("CLOSED", hold_reason="REFUND", last_error=None, open_exceptions=["AMOUNT_MISMATCH"])

    assert (result.order_status, result.write_back_status) == ("FAIL", "FAIL")
    assert "原路退回" in result.msg


def test_a_reused_order_says_so_before_its_state() -> None:
    """Given the same bills asked for again while their order is live, then msg says the QR code is reused,
    then the order's state."""
    result = write_back("PAYING", hold_reason=None, last_error=None, reused=True)

    assert result.msg.startswith(REUSED_PREFIX) and result.msg.endswith(
        "请顾客扫码支付，支付成功后自动回写核销"
    )


@pytest.mark.parametrize(
    ("stored", "last_error", "expected"),
    [("INIT", "create: timeout", True), ("INIT", None, False), ("PAYING", "create: timeout", False)],
)
def test_only_an_init_order_whose_create_failed_is_unanswered_by_the_platform(
    stored: str, last_error: str | None, expected: bool
) -> None:
    """Given an order, then it waits for the platform only while INIT after a failed create call."""
    assert platform_not_answered(stored, last_error) is expected
