"""Statuses and their lifecycles: the seed's values exactly; a terminal status never changes; a refused
change names the current status; the named sets agree with the tables they stand for."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from waterrev.domain.lifecycle import IllegalTransition, Lifecycle, sql_in
from waterrev.domain.states import (
    BILL,
    COUNTED_READINGS,
    INVOICE,
    LIFECYCLES,
    LIVE_ORDER,
    METER_READ,
    ORDER,
    ORDER_ENDS,
    PAYABLE_BILLS,
    READABLE_TASKS,
    UNPAID_ENDS,
    WITHHOLDING_BATCH,
    BillStatus,
    CollectionStatus,
    InvoiceStatus,
    MessageStatus,
    MeterReadStatus,
    OrderStatus,
    ProcessStatus,
    PushStatus,
    ReadingStatus,
    SignStatus,
    ValidateStatus,
    WithholdingBatchStatus,
)
from waterrev.errors import AppError, ErrorCode

SEED_VALUES = [  # 003 接口设计, field by field
    (ValidateStatus, "PASS WARN REJECT"),  # validateStatus
    (CollectionStatus, "SUCCESS PARTIAL PENDING"),  # writeOffStatus
    (InvoiceStatus, "SUBMITTED PENDING SUCCESS FAIL REJECTED INVALID RED_INK"),  # invoiceStatus
    (PushStatus, "NONE PUSHED FAIL"),  # pushStatus
    (MessageStatus, "PENDING SUCCESS FAIL MANUAL_VERIFIED"),  # IF-REV-013 / IF-EXT-008 四态
    (WithholdingBatchStatus, "CREATED SENT RETURNED RECONCILED SETTLED"),  # batchStatus
    (ProcessStatus, "INIT ACCEPTED PROCESSING DONE REJECTED"),  # processStatus
    (SignStatus, "SUCCESS FAIL CANCEL"),  # signStatus
]


# Values added to a seed enum (扩展): never a rename, never a value dropped.
EXTENSIONS: dict[type[StrEnum], set[str]] = {WithholdingBatchStatus: {"SENDING", "CANCELLED"}}


@pytest.mark.parametrize(("states", "seed"), SEED_VALUES, ids=[s.__name__ for s, _ in SEED_VALUES])
def test_the_seed_values_exactly(states: type[StrEnum], seed: str) -> None:
    assert [s.value for s in states if s.value not in EXTENSIONS.get(states, set())] == seed.split()


def test_an_order_has_the_seeds_four_states_and_closed() -> None:
    """orderStatus INIT、PAYING、SUCCESS、FAIL, and the CLOSED bk_transaction has always stored."""
    assert {s.value for s in OrderStatus} == {"INIT", "PAYING", "SUCCESS", "FAIL", "CLOSED"}


lifecycles = st.sampled_from(LIFECYCLES)


@settings(max_examples=1000, deadline=None)
@given(lifecycles, st.data())
def test_a_terminal_status_never_changes(lifecycle: Lifecycle[StrEnum], data: st.DataObject) -> None:
    """Given any walk of attempted changes from a status a row starts with, a change happens only where
    the table allows it, and once the walk reaches a terminal status every further attempt is refused."""
    state = data.draw(st.sampled_from(sorted(lifecycle.initial)))
    for target in data.draw(st.lists(st.sampled_from(list(lifecycle.states)), max_size=12)):
        was_terminal = lifecycle.is_terminal(state)
        if lifecycle.allows(state, target):
            assert not was_terminal
            state = lifecycle.require(state, target)
        else:
            with pytest.raises(IllegalTransition):
                lifecycle.require(state, target)
        assert not was_terminal or lifecycle.is_terminal(state)


@pytest.mark.parametrize("lifecycle", LIFECYCLES, ids=[lc.name for lc in LIFECYCLES])
def test_every_status_is_reachable_and_none_is_a_trap(lifecycle: Lifecycle[StrEnum]) -> None:
    """Every status can be reached from one a row starts with, and every status can still end."""
    reached, frontier = set(lifecycle.initial), list(lifecycle.initial)
    while frontier:
        for target in lifecycle.targets(frontier.pop()):
            if target not in reached:
                reached.add(target)
                frontier.append(target)
    assert reached == set(lifecycle.states)
    for state in lifecycle.states:
        seen, todo = {state}, [state]
        while todo and not any(lifecycle.is_terminal(s) for s in seen):
            for target in lifecycle.targets(todo.pop()) - seen:
                seen.add(target)
                todo.append(target)
        assert any(lifecycle.is_terminal(s) for s in seen), f"{lifecycle.name}: {state} can never end"


@pytest.mark.parametrize("lifecycle", LIFECYCLES, ids=[lc.name for lc in LIFECYCLES])
def test_sources_and_targets_read_the_same_table(lifecycle: Lifecycle[StrEnum]) -> None:
    for state in lifecycle.states:
        for target in lifecycle.states:
            assert (target in lifecycle.targets(state)) == (state in lifecycle.sources(target))
            assert lifecycle.allows(state, target) == (target in lifecycle.targets(state))


def test_a_refused_change_names_the_current_status() -> None:
    """Given a paid order, when something tries to close it, then the error says SUCCESS and CLOSED, in
    the answer's text and data, with the order's own error code."""
    with pytest.raises(IllegalTransition) as refused:
        ORDER.require(OrderStatus.SUCCESS, OrderStatus.CLOSED, "订单 DD1")
    assert isinstance(refused.value, AppError)
    assert refused.value.error is ErrorCode.CHARGE_ALREADY_WRITTEN_OFF
    assert (
        "订单 DD1" in refused.value.msg and "SUCCESS" in refused.value.msg and "CLOSED" in refused.value.msg
    )
    assert refused.value.data == {"currentStatus": "SUCCESS", "targetStatus": "CLOSED"}
    with pytest.raises(IllegalTransition) as sent:
        WITHHOLDING_BATCH.require("SENT", "SENT")
    assert sent.value.error is ErrorCode.WITHHOLDING_BATCH_MISSING_OR_SENT


def test_a_status_the_lifecycle_does_not_know_goes_nowhere() -> None:
    assert not ORDER.allows("NOT_A_STATUS", "SUCCESS")
    assert not ORDER.allows("INIT", "NOT_A_STATUS")
    assert ORDER.targets("NOT_A_STATUS") == frozenset()
    assert not ORDER.is_terminal("NOT_A_STATUS")
    with pytest.raises(IllegalTransition, match="NOT_A_STATUS"):
        ORDER.require("NOT_A_STATUS", "SUCCESS")


def test_the_rules_the_seed_and_the_decisions_state() -> None:
    # an order: SUCCESS is final; a FAIL or close followed by SUCCESS ends SUCCESS (DECISIONS 19-20)
    assert ORDER.terminal == {OrderStatus.SUCCESS}
    assert ORDER.allows(OrderStatus.FAIL, OrderStatus.SUCCESS)
    assert ORDER.allows(OrderStatus.CLOSED, OrderStatus.SUCCESS)
    assert not ORDER.allows(OrderStatus.CLOSED, OrderStatus.PAYING)
    # a bill: paid, cancelled and bad-debt bills are never paid again; only a reversal (冲正) reopens a
    # paid one, and cancelled and bad-debt bills are final
    assert BILL.terminal == {BillStatus.CANCELLED, BillStatus.BAD_DEBT}
    assert BILL.targets(BillStatus.PAID) == {BillStatus.PARTIAL, BillStatus.UNPAID}
    # 作废与红冲仅允许对 SUCCESS; SUCCESS is never overwritten by a failed query; no second 作废/红冲
    assert (
        INVOICE.sources(InvoiceStatus.INVALID)
        == INVOICE.sources(InvoiceStatus.RED_INK)
        == {InvoiceStatus.SUCCESS}
    )
    assert not INVOICE.allows(InvoiceStatus.SUCCESS, InvoiceStatus.FAIL)
    assert {InvoiceStatus.INVALID, InvoiceStatus.RED_INK} <= INVOICE.terminal
    # a reading task takes readings while open or under review, never once read or billed
    assert not METER_READ.allows(MeterReadStatus.READ, MeterReadStatus.REVIEW)
    assert METER_READ.allows(MeterReadStatus.REVIEW, MeterReadStatus.OPEN)


def test_the_named_sets_are_what_the_tables_say() -> None:
    assert LIVE_ORDER == ORDER.sources(OrderStatus.CLOSED) == {OrderStatus.INIT, OrderStatus.PAYING}
    assert ORDER.sources(OrderStatus.PAYING) == LIVE_ORDER
    assert ORDER.targets(OrderStatus.INIT) - LIVE_ORDER == ORDER_ENDS
    assert ORDER_ENDS - ORDER.terminal == UNPAID_ENDS
    assert {BillStatus.UNPAID, BillStatus.PARTIAL} == PAYABLE_BILLS
    assert {MeterReadStatus.OPEN, MeterReadStatus.REVIEW} == READABLE_TASKS
    assert ReadingStatus.PENDING_REVIEW not in COUNTED_READINGS


def test_a_set_becomes_sql_text_in_declaration_order() -> None:
    assert sql_in(LIVE_ORDER) == "'INIT', 'PAYING'"
    assert sql_in({BillStatus.PARTIAL, BillStatus.UNPAID}) == "'UNPAID', 'PARTIAL'"

    class Loose(StrEnum):
        QUOTE = "x'; DROP TABLE biz_charge; --"

    with pytest.raises(ValueError):
        sql_in({Loose.QUOTE})
    with pytest.raises(ValueError):
        sql_in(set())


def test_a_table_naming_a_status_outside_its_enum_is_refused() -> None:
    class Light(StrEnum):
        RED = "RED"
        GREEN = "GREEN"

    stray: dict[Light, set[Any]] = {Light.RED: {"BLUE"}}
    with pytest.raises(ValueError):
        Lifecycle("灯", Light, stray, initial=frozenset({Light.RED}))
    assert Lifecycle("灯", Light, {Light.RED: {Light.GREEN}}, initial=frozenset({Light.RED})).terminal == {
        Light.GREEN
    }
