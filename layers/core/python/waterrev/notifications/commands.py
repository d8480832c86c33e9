"""What the notification use cases are asked to do: plain values the handlers build from the request
models (models/), so no use case depends on the edge."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import NamedTuple


class CreateTask(NamedTuple):
    """IF-REV-013: one reminder task for one customer's overdue bills."""

    cust_id: int
    charge_ids: tuple[int, ...]
    bill_period: str
    arrears_amount: Decimal
    strategy_code: str  # FIRST_NOTICE | SECOND_NOTICE | PRE_STOP_NOTICE
    channel_type: str  # SMS | WECHAT | INBOX: preferred; WeChat, else SMS, when it cannot be used
    trigger_type: str  # AUTO | MANUAL
    event_no: str | None = None  # the caller's business event: the same again answers the same task
    related_disposal_ref: str | None = None


class FindTasks(NamedTuple):
    """IF-REV-013 task query: a page of tasks and the count in each state."""

    task_no: str | None = None
    event_no: str | None = None
    cust_id: int | None = None
    bill_period: str | None = None
    status: str | None = None
    strategy_code: str | None = None
    channel_type: str | None = None
    trigger_type: str | None = None
    run_no: str | None = None
    page_no: int = 1
    page_size: int = 10


class ManualVerify(NamedTuple):
    """IF-REV-013 人工核查: a person closes a PENDING task as MANUAL_VERIFIED, with a note."""

    task_no: str | None
    manual_verify_note: str | None
    related_disposal_ref: str | None = None


class Generate(NamedTuple):
    """Reminders for every customer of an office (its dept subtree) in arrears, set-based."""

    dept_id: int
    trigger_type: str = "MANUAL"  # AUTO: the monthly schedule
    strategy_code: str | None = None  # None: each customer's by how long its oldest bill is overdue
    channel_type: str | None = None  # None: WeChat when bound, else SMS
    on_date: dt.date | None = None  # overdue days counted to this date (default: today)


class FindSkipped(NamedTuple):
    run_no: str
    page_no: int = 1
    page_size: int = 20


class FindDeadLetters(NamedTuple):
    status: str | None = None  # OPEN | RESOLVED
    exception_type: str | None = None  # DEAD_LETTER | UNKNOWN_RESULT
    page_no: int = 1
    page_size: int = 10


class ResolveDeadLetters(NamedTuple):
    """A person's decision on message exceptions: REPLAY (send again) or DISMISS (give up: the message
    ends FAIL)."""

    ids: tuple[int, ...]
    action: str  # REPLAY | DISMISS
    remark: str
