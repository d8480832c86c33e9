"""The rules of the message pipeline and of reminders, as pure functions. No I/O.

Strategies escalate with how long the oldest bill has been overdue (IF-REV-012 parameters); the channel
is WeChat when the customer has a bound WeChat user, else SMS to a usable mobile, else none
(1_002_008_001); SMS is never sent in quiet hours (held until they end); a timeout or a 5xx from SYS-010
keeps a message PENDING and is retried with exponential backoff; SYS-010's results map to the seed's
four states, and a late result never undoes a confirmed one.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any, NamedTuple

from waterrev.domain.states import MESSAGE, MessageStatus

# 11-digit mainland mobile numbers (the same pattern as waterrev.fields.Mobile), or one as biz_cust keeps
# it in clear: masked (138****0000; the value is sealed, migration 0120). SQL uses the same text.
MOBILE_PATTERN = "^1[3-9][0-9]([0-9]{4}|[*]{4})[0-9]{4}$"
_MOBILE = re.compile(MOBILE_PATTERN)

STRATEGIES: dict[str, str] = {  # strategyCode -> SYS-010 templateCode
    "FIRST_NOTICE": "REMIND_FIRST",  # 首次催缴
    "SECOND_NOTICE": "REMIND_SECOND",  # 二次催缴
    "PRE_STOP_NOTICE": "REMIND_PRE_STOP",  # 停水预告
}
CHANNELS = ("SMS", "WECHAT", "INBOX")  # 短信 / 微信公众号模板消息 / 站内信
TRIGGERS = ("AUTO", "MANUAL")
PAYMENT_RESULT_TEMPLATE = "PAY_RESULT"
VERIFY_CODE_TEMPLATE = "BIND_VERIFY_CODE"


class ReminderParams(NamedTuple):
    """IF-REV-012 RULE parameters of reminders (revenue.reminder.*), per office (decision 28)."""

    overdue_days: int = 15  # a bill is a candidate this many days after its due date
    min_arrears: Decimal = Decimal("10.00")  # and the customer owes at least this on such bills
    second_notice_days: int = 30  # overdue this long: SECOND_NOTICE
    pre_stop_days: int = 60  # overdue this long: PRE_STOP_NOTICE
    frequency_window_hours: int = 72  # the same period and template again within it is skipped
    daily_sms_cap: int = 3  # reminder SMS per customer per day
    quiet_start: dt.time = dt.time(22, 0)  # no SMS from ...
    quiet_end: dt.time = dt.time(8, 0)  # ... until


PARAMETERS: dict[str, str] = {  # config code -> field of ReminderParams
    "revenue.reminder.overdue-days": "overdue_days",
    "revenue.reminder.min-arrears": "min_arrears",
    "revenue.reminder.second-notice-days": "second_notice_days",
    "revenue.reminder.pre-stop-days": "pre_stop_days",
    "revenue.reminder.frequency-window-hours": "frequency_window_hours",
    "revenue.reminder.daily-sms-cap": "daily_sms_cap",
    "revenue.reminder.quiet-hours": "quiet_hours",
}


def parse_params(values: Mapping[str, str | None]) -> tuple[ReminderParams, list[str]]:
    """ReminderParams from configured values (config code -> text); a value that does not parse keeps
    its default and is named in the second result, so a typo in a parameter never stops a run."""
    defaults, problems = ReminderParams(), []
    found: dict[str, Any] = {}
    for code, name in PARAMETERS.items():
        raw = values.get(code)
        if raw is None or not str(raw).strip():
            continue
        text = str(raw).strip()
        try:
            if name == "quiet_hours":
                start, end = (dt.time.fromisoformat(part.strip()) for part in text.split("-"))
                found["quiet_start"], found["quiet_end"] = start, end
            elif name == "min_arrears":
                amount = Decimal(text)
                if not amount.is_finite() or amount < 0:
                    raise ValueError(text)
                found[name] = amount.quantize(Decimal("0.01"))
            else:
                number = int(text)
                if number < 0 or (name in ("daily_sms_cap", "frequency_window_hours") and number > 10_000):
                    raise ValueError(text)
                found[name] = number
        except (ValueError, InvalidOperation):
            problems.append(f"{code}={text!r}")
    return defaults._replace(**found), problems


def strategy_for(days_overdue: int, params: ReminderParams) -> str | None:
    """The strategy for a customer whose oldest unpaid bill is `days_overdue` days past due; None
    before the first notice is due."""
    if days_overdue >= params.pre_stop_days:
        return "PRE_STOP_NOTICE"
    if days_overdue >= params.second_notice_days:
        return "SECOND_NOTICE"
    if days_overdue >= params.overdue_days:
        return "FIRST_NOTICE"
    return None


def usable_mobile(mobile: str | None) -> bool:
    return bool(mobile) and _MOBILE.match(mobile or "") is not None


def channel_for(
    preferred: str | None, openid: str | None, mobile: str | None, cust_id: int
) -> tuple[str, str] | None:
    """(channel, receiver) for a reminder: the channel asked for when the customer can be reached there,
    otherwise WeChat (a bound WeChat user), then SMS (a usable mobile); None: no usable contact."""
    reachable = {
        "WECHAT": openid or None,
        "SMS": mobile if usable_mobile(mobile) else None,
        "INBOX": f"CUST:{cust_id}",
    }
    if preferred is not None and reachable.get(preferred):
        return preferred, str(reachable[preferred])
    for channel in ("WECHAT", "SMS"):
        if reachable[channel]:
            return channel, str(reachable[channel])
    return None


def quiet_release(now: dt.datetime, start: dt.time, end: dt.time, zone: dt.tzinfo) -> dt.datetime | None:
    """When an SMS asked for at `now` may go: None when `now` (in the utility's zone) is outside the quiet
    hours [start, end), else the end of the quiet hours (the next `end` o'clock, as an aware time)."""
    local = now.astimezone(zone)
    clock = local.timetz().replace(tzinfo=None)
    if start == end:
        return None
    quiet = (start <= clock or clock < end) if start > end else (start <= clock < end)
    if not quiet:
        return None
    release = local.replace(hour=end.hour, minute=end.minute, second=0, microsecond=0)
    if release <= local:
        release += dt.timedelta(days=1)
    return release


def backoff_s(receive_count: int, base_s: int, max_s: int) -> int:
    """How long a message waits after its `receive_count`-th failed delivery: base, 2x, 4x ... at most max
    (and at most SQS's 12-hour visibility limit)."""
    if base_s <= 0:
        return 0
    exponent = max(0, receive_count - 1)
    return min(base_s * 2 ** min(exponent, 20), max_s, 43_200)


def result_state(send_status: str) -> MessageStatus:
    """SYS-010's sendStatus as one of the four states (发送结果回写: status <- sendStatus)."""
    status = send_status.upper()
    if status in ("SUCCESS", "DELIVERED", "SENT"):
        return MessageStatus.SUCCESS
    if status in ("FAIL", "FAILED", "REJECTED", "UNDELIVERABLE", "EXPIRED"):
        return MessageStatus.FAIL
    return MessageStatus.PENDING  # ACCEPTED, SENDING, anything without a final result


class Outcome(NamedTuple):
    """What a result callback does to a message: its status afterwards and the callback's outcome."""

    status: MessageStatus
    outcome: str  # APPLIED | RECEIPT | DUPLICATE | IGNORED


def apply_result(current: str, reported: MessageStatus, receipt_changed: bool) -> Outcome:
    """A result for a message in `current`: a change its lifecycle allows is APPLIED; the same status again
    with a new receipt (reachStatus, sendTime) is a RECEIPT written beside it; the same again is a
    DUPLICATE; anything else (a late FAIL after SUCCESS or MANUAL_VERIFIED, PENDING after a result) is
    IGNORED and changes nothing."""
    state = MessageStatus(current)
    if reported is not state and MESSAGE.allows(state, reported):
        return Outcome(reported, "APPLIED")
    if reported is state:
        return Outcome(state, "RECEIPT" if receipt_changed else "DUPLICATE")
    return Outcome(state, "IGNORED")


def task_status(current: str, message_statuses: Iterable[str], fallback_left: bool = False) -> MessageStatus:
    """A reminder task's status from its messages (the first channel, and the SMS it fell back to): SUCCESS
    when one reached the customer; FAIL when every one failed and nothing is left to try; PENDING
    otherwise. A task verified by a person stays MANUAL_VERIFIED; a FAIL task may still become SUCCESS."""
    statuses = {MessageStatus(s) for s in message_statuses}
    state = MessageStatus(current)
    if state is MessageStatus.MANUAL_VERIFIED or state is MessageStatus.SUCCESS:
        return state
    if MessageStatus.SUCCESS in statuses:
        return MessageStatus.SUCCESS
    if statuses and statuses <= {MessageStatus.FAIL} and not fallback_left:
        return MessageStatus.FAIL
    return state


def transport_outcome(http_status: int | None) -> str:
    """What a call to SYS-010 came to: ACCEPTED (2xx; 409 is SYS-010 saying it has the message already),
    REJECTED (400/422: this message can never be sent as it is - FAIL), RETRY (no answer, a timeout, 5xx,
    or anything that is not the message's fault: 401/403/404/408/429 - it stays PENDING)."""
    if http_status is not None and (200 <= http_status < 300 or http_status == 409):
        return "ACCEPTED"
    if http_status in (400, 422):
        return "REJECTED"
    return "RETRY"
