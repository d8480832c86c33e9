"""The customer channel's routes of IF-CS-001 and IF-CS-002 answer a stranger exactly as they answer for
something that does not exist: a channel user bound to its own customer asks for another customer's
objects (the customer, its account, its bills) and for ids that do not exist, and cannot tell the
answers apart (same HTTP status, code, data, and message but for the id it asked for)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.support import (
    Reply,
    admin_login,
    bind,
    call,
    channel_login,
    new_bills,
    sql_scalar,
    unique,
)

BIND = "/app-api/customer/account/bind"
SEND = "/app-api/customer/auth/send-verify-code"
HISTORY = "/app-api/customer/bill/history"


class World:
    """Customer A (with bills) bound by its owner; customer B bound by a stranger; ids that exist nowhere."""

    def __init__(self) -> None:
        admin = admin_login()
        self.a, charges = new_bills(admin, ["2026-01"])
        self.a_account = int(
            sql_scalar("SELECT account_id FROM biz_charge WHERE id = :c", {"c": charges[0]["id"]})
        )
        self.b, _ = new_bills(admin, ["2026-01"])
        self.owner = unique("own")
        self.owner_token = channel_login(self.owner)
        assert bind(self.owner_token, self.owner, self.a).code == 0
        self.stranger = unique("str")
        self.token = channel_login(self.stranger)
        assert bind(self.token, self.stranger, self.b).code == 0
        self.no_cust = int(sql_scalar("SELECT max(id) FROM biz_cust")) + 1_000_000
        self.no_account = int(sql_scalar("SELECT max(id) FROM biz_account")) + 1_000_000

    def act(self, action: str, cust_id: int, **extra: Any) -> Reply:
        body = {"action": action, "channelType": "WECHAT", "channelUserId": self.stranger, "custId": cust_id}
        return call("POST", BIND, body | extra, token=self.token)


@pytest.fixture(scope="module")
def world() -> World:
    return World()


# Each case: (the stranger's request for A's object, the same request for an id that does not exist),
# given as a function of (world, asked id) and which id to ask for: A's customer or A's account.
Ask = Callable[[World, int], Reply]
CASES: dict[str, tuple[str, Ask]] = {
    **{
        f"history {qt}": (
            "cust",
            lambda w, i, qt=qt: call("GET", HISTORY, token=w.token, query=f"custId={i}&queryType={qt}"),
        )
        for qt in ("BILL", "ARREARS", "USAGE", "PAYMENT", "INVOICE")
    },
    "send-verify-code with a guessed name": (
        "cust",
        lambda w, i: call("POST", SEND, {"custId": i, "custName": "张三"}, token=w.token),
    ),
    "BIND without a code of its own": ("cust", lambda w, i: w.act("BIND", i, verifyCode="123456")),
    "UNBIND": ("cust", lambda w, i: w.act("UNBIND", i)),
    "SET_DEFAULT": ("cust", lambda w, i: w.act("SET_DEFAULT", i)),
    "BIND again of its own customer with A's account": (
        "account",
        lambda w, i: w.act("BIND", w.b, verifyCode="123456", accountId=i),
    ),
    "UNBIND of its own customer with A's account": (
        "account",
        lambda w, i: w.act("UNBIND", w.b, accountId=i),
    ),
    "SET_DEFAULT of its own customer with A's account": (
        "account",
        lambda w, i: w.act("SET_DEFAULT", w.b, accountId=i),
    ),
}


@pytest.mark.parametrize("case", list(CASES), ids=str)
def test_another_customers_object_reads_as_one_that_does_not_exist(world: World, case: str) -> None:
    """Given a stranger bound to its own customer, when it asks for customer A's object and for an id that
    does not exist, then the two answers are refusals that differ only in the id echoed."""
    kind, ask = CASES[case]
    theirs, nothing = (world.a, world.no_cust) if kind == "cust" else (world.a_account, world.no_account)

    foreign = ask(world, theirs)
    missing = ask(world, nothing)

    assert foreign.code != 0, foreign.body
    assert (foreign.status, foreign.code, foreign.data) == (missing.status, missing.code, missing.data)
    assert foreign.msg.replace(str(theirs), "#") == missing.msg.replace(str(nothing), "#")
    assert str(world.a) not in missing.msg and str(world.owner) not in foreign.msg


def test_the_strangers_list_holds_only_its_own_customer(world: World) -> None:
    """Given the stranger, when it lists its bound accounts, then only its own customer is there."""
    listed = call("GET", "/app-api/customer/account/list", token=world.token)

    assert [c["custId"] for c in listed.data] == [world.b]


def test_the_owner_is_not_disturbed(world: World) -> None:
    """Given the stranger's attempts, when the owner reads A's bills and bindings, then they are intact."""
    bills = call("GET", HISTORY, token=world.owner_token, query=f"custId={world.a}&queryType=BILL")
    listed = call("GET", "/app-api/customer/account/list", token=world.owner_token)

    assert bills.code == 0 and bills.data["total"] == 1
    assert [(c["custId"], c["accountId"]) for c in listed.data] == [(world.a, world.a_account)]
