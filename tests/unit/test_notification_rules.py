"""The pure rules of the message pipeline and of reminders: strategies by overdue days, the channel
preference, quiet hours, the retry backoff, SYS-010's results as the four states, and a task's status
from its messages."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from waterrev.domain.states import MESSAGE, MessageStatus
from waterrev.notifications import rules

CST = ZoneInfo("Asia/Shanghai")
PARAMS = rules.ReminderParams()
times = st.datetimes(
    min_value=dt.datetime(2020, 1, 1), max_value=dt.datetime(2035, 12, 31), timezones=st.just(dt.UTC)
)
clocks = st.times()


def test_strategies_escalate_with_the_days_overdue() -> None:
    """Given the default parameters (15 / 30 / 60 days), the first notice starts at 15 days overdue,
    the second at 30, the pre-stop notice at 60; before 15 there is none."""
    assert [rules.strategy_for(d, PARAMS) for d in (0, 14, 15, 29, 30, 59, 60, 400)] == [
        None,
        None,
        "FIRST_NOTICE",
        "FIRST_NOTICE",
        "SECOND_NOTICE",
        "SECOND_NOTICE",
        "PRE_STOP_NOTICE",
        "PRE_STOP_NOTICE",
    ]


@given(st.integers(min_value=0, max_value=3650), st.integers(min_value=0, max_value=3650))
def test_a_longer_overdue_never_gets_a_milder_strategy(a: int, b: int) -> None:
    order = [None, "FIRST_NOTICE", "SECOND_NOTICE", "PRE_STOP_NOTICE"]
    low, high = sorted((a, b))
    assert order.index(rules.strategy_for(low, PARAMS)) <= order.index(rules.strategy_for(high, PARAMS))


def test_every_strategy_has_its_template() -> None:
    assert set(rules.STRATEGIES) == {"FIRST_NOTICE", "SECOND_NOTICE", "PRE_STOP_NOTICE"}
    assert len(set(rules.STRATEGIES.values())) == 3


@pytest.mark.parametrize(
    ("preferred", "openid", "mobile", "expected"),
    [
        ("WECHAT", "o-1", "13800138000", ("WECHAT", "o-1")),
        ("SMS", "o-1", "13800138000", ("SMS", "13800138000")),
        ("WECHAT", None, "13800138000", ("SMS", "13800138000")),  # falls back to SMS
        ("SMS", "o-1", "12345", ("WECHAT", "o-1")),  # no usable mobile: WeChat
        ("INBOX", None, None, ("INBOX", "CUST:7")),
        (None, None, "13800138000", ("SMS", "13800138000")),
        ("WECHAT", None, "1380013800", None),  # no usable contact: 1_002_008_001
        ("SMS", None, None, None),
    ],
)
def test_the_channel_is_wechat_then_sms(
    preferred: str | None, openid: str | None, mobile: str | None, expected: object
) -> None:
    assert rules.channel_for(preferred, openid, mobile, 7) == expected


def test_quiet_hours_hold_an_sms_until_the_morning() -> None:
    """Given quiet hours 22:00-08:00 Beijing time, an SMS asked for at 23:30 goes at 08:00 the next day,
    one at 03:00 at 08:00 the same day, one at 12:00 at once."""
    start, end = dt.time(22), dt.time(8)

    def at(day: int, hour: int, minute: int = 0) -> dt.datetime:
        return dt.datetime(2026, 11, day, hour, minute, tzinfo=CST)

    assert rules.quiet_release(at(20, 23, 30), start, end, CST) == at(21, 8)
    assert rules.quiet_release(at(21, 3), start, end, CST) == at(21, 8)
    assert rules.quiet_release(at(21, 12), start, end, CST) is None
    assert rules.quiet_release(at(21, 8), start, end, CST) is None  # the end is outside
    assert rules.quiet_release(at(21, 22), start, end, CST) == at(22, 8)  # the start is inside


@given(times, clocks, clocks)
def test_a_held_sms_is_released_at_the_end_of_its_quiet_hours(
    now: dt.datetime, start: dt.time, end: dt.time
) -> None:
    """Property: a release is later than now, within a day, at the end o'clock, and outside the quiet
    hours; no release means now is not quiet."""
    start, end = start.replace(second=0, microsecond=0), end.replace(second=0, microsecond=0)
    release = rules.quiet_release(now, start, end, CST)
    if release is None:
        return
    assert now < release <= now + dt.timedelta(days=1)
    assert (release.hour, release.minute) == (end.hour, end.minute)
    assert rules.quiet_release(release, start, end, CST) is None


def test_no_quiet_hours_when_start_equals_end() -> None:
    assert rules.quiet_release(dt.datetime(2026, 11, 20, 23, tzinfo=CST), dt.time(0), dt.time(0), CST) is None


@given(
    st.integers(min_value=1, max_value=50),
    st.integers(min_value=1, max_value=600),
    st.integers(min_value=1, max_value=86_400),
)
def test_backoff_doubles_up_to_its_cap(count: int, base: int, cap: int) -> None:
    wait = rules.backoff_s(count, base, cap)
    assert 0 < wait <= min(cap, 43_200)
    assert rules.backoff_s(count + 1, base, cap) >= wait
    assert rules.backoff_s(1, base, cap) == min(base, cap, 43_200)


def test_no_backoff_when_the_base_is_zero() -> None:
    assert rules.backoff_s(4, 0, 900) == 0


@pytest.mark.parametrize(
    ("send_status", "state"),
    [
        ("SUCCESS", MessageStatus.SUCCESS),
        ("DELIVERED", MessageStatus.SUCCESS),
        ("FAIL", MessageStatus.FAIL),
        ("failed", MessageStatus.FAIL),
        ("ACCEPTED", MessageStatus.PENDING),
        ("SENDING", MessageStatus.PENDING),
        ("WHATEVER", MessageStatus.PENDING),
    ],
)
def test_sys010_results_map_to_the_four_states(send_status: str, state: MessageStatus) -> None:
    assert rules.result_state(send_status) is state


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (200, "ACCEPTED"),
        (202, "ACCEPTED"),
        (409, "ACCEPTED"),
        (400, "REJECTED"),
        (422, "REJECTED"),
        (None, "RETRY"),
        (500, "RETRY"),
        (503, "RETRY"),
        (401, "RETRY"),
        (429, "RETRY"),
    ],
)
def test_a_timeout_or_5xx_is_retried_never_failed(status: int | None, outcome: str) -> None:
    assert rules.transport_outcome(status) == outcome


four = st.sampled_from(list(MessageStatus))


@given(four, four, st.booleans())
def test_a_result_never_undoes_a_confirmed_state(
    current: MessageStatus, reported: MessageStatus, receipt: bool
) -> None:
    """Property: a result changes a message only as its lifecycle allows; SUCCESS and MANUAL_VERIFIED are
    never left; the same status again changes nothing (a receipt at most)."""
    decided = rules.apply_result(current, reported, receipt)
    if decided.outcome == "APPLIED":
        assert MESSAGE.allows(current, decided.status)
    else:
        assert decided.status is current
    if current in (MessageStatus.SUCCESS, MessageStatus.MANUAL_VERIFIED):
        assert decided.status is current
    if reported is current:
        assert decided.outcome == ("RECEIPT" if receipt else "DUPLICATE")


def test_a_late_fail_is_ignored_and_a_late_success_is_taken() -> None:
    assert rules.apply_result("SUCCESS", MessageStatus.FAIL, True).outcome == "IGNORED"
    assert rules.apply_result("MANUAL_VERIFIED", MessageStatus.FAIL, True).outcome == "IGNORED"
    assert rules.apply_result("FAIL", MessageStatus.SUCCESS, True) == rules.Outcome(
        MessageStatus.SUCCESS, "APPLIED"
    )


@pytest.mark.parametrize(
    ("current", "messages", "fallback", "expected"),
    [
        ("PENDING", ["PENDING"], False, "PENDING"),
        ("PENDING", ["SUCCESS"], False, "SUCCESS"),
        ("PENDING", ["FAIL", "SUCCESS"], False, "SUCCESS"),  # the SMS it fell back to reached
        ("PENDING", ["FAIL", "PENDING"], False, "PENDING"),
        ("PENDING", ["FAIL"], False, "FAIL"),
        ("PENDING", ["FAIL"], True, "PENDING"),  # an SMS is still to come
        ("FAIL", ["FAIL", "SUCCESS"], False, "SUCCESS"),
        ("MANUAL_VERIFIED", ["SUCCESS"], False, "MANUAL_VERIFIED"),
        ("SUCCESS", ["FAIL", "FAIL"], False, "SUCCESS"),
    ],
)
def test_a_task_follows_its_messages(
    current: str, messages: list[str], fallback: bool, expected: str
) -> None:
    assert rules.task_status(current, messages, fallback) == expected


def test_parameters_parse_and_a_bad_value_keeps_its_default() -> None:
    params, problems = rules.parse_params(
        {
            "revenue.reminder.overdue-days": "20",
            "revenue.reminder.min-arrears": "5.5",
            "revenue.reminder.quiet-hours": "21:30-07:15",
            "revenue.reminder.daily-sms-cap": "many",
            "revenue.reminder.frequency-window-hours": None,
        }
    )
    assert params.overdue_days == 20 and params.min_arrears == Decimal("5.50")
    assert (params.quiet_start, params.quiet_end) == (dt.time(21, 30), dt.time(7, 15))
    assert params.daily_sms_cap == 3 and params.frequency_window_hours == 72
    assert problems == ["revenue.reminder.daily-sms-cap='many'"]


@given(st.text(max_size=12))
def test_any_parameter_text_parses_or_is_named(value: str) -> None:
    params, problems = rules.parse_params({code: value for code in rules.PARAMETERS})
    assert isinstance(params, rules.ReminderParams)
    assert len(problems) <= len(rules.PARAMETERS)
