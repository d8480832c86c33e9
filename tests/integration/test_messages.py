"""Queuing a notification: written with the business change, once per event and receiver."""

from __future__ import annotations

import pytest

from tests.support import sql_all, unique
from waterrev.db import UnitOfWork
from waterrev.messages import enqueue


def _queue(biz_no: str, receiver: str = "13800138000", template: str = "T1") -> int | None:
    with UnitOfWork() as uow:
        found = enqueue(
            uow,
            biz_no=biz_no,
            template_code=template,
            receiver=receiver,
            channel="SMS",
            source="TEST",
            payload={"amount": "1.00"},
            cust_id=1,
        )
        uow.commit()
    return found


def test_the_same_event_to_the_same_receiver_is_one_message() -> None:
    """Given an event queued for a receiver, when it is queued again, then no second message; another
    receiver or another template is a message of its own."""
    biz_no = unique("EV")

    first, again = _queue(biz_no), _queue(biz_no)
    other_receiver, other_template = _queue(biz_no, "13900139000"), _queue(biz_no, template="T2")

    assert first is not None and again is None and other_receiver and other_template
    rows = sql_all("SELECT status, channel FROM biz_message WHERE message_biz_no = :b", {"b": biz_no})
    assert len(rows) == 3 and {r["status"] for r in rows} == {"PENDING"}


def test_a_message_exists_only_if_its_business_change_commits() -> None:
    """Given a unit of work that queues a message and rolls back, then no message is kept."""
    biz_no = unique("EV")
    with UnitOfWork() as uow:
        enqueue(
            uow, biz_no=biz_no, template_code="T1", receiver="x", channel="SMS", source="TEST", payload={}
        )

    assert sql_all("SELECT 1 FROM biz_message WHERE message_biz_no = :b", {"b": biz_no}) == []


def test_an_unknown_channel_is_refused() -> None:
    with UnitOfWork() as uow, pytest.raises(ValueError):
        enqueue(uow, biz_no="x", template_code="T", receiver="r", channel="FAX", source="TEST", payload={})
