"""`make run`'s environment: enough database connections for the requests it runs at once."""

import os

import pytest

from waterrev.local import run


def test_the_pool_has_a_connection_for_each_request_running_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Given WATERREV_LOCAL_CONCURRENCY=12 and no WATERREV_DB_POOL_SIZE
    When the local stack sets its database pool size
    Then the pool holds 12 connections (it held 4 while 10 requests may run at once)."""
    monkeypatch.setenv("WATERREV_LOCAL_CONCURRENCY", "12")
    monkeypatch.delenv("WATERREV_DB_POOL_SIZE", raising=False)

    run.set_pool_size()

    assert os.environ["WATERREV_DB_POOL_SIZE"] == "12"


def test_the_default_pool_matches_the_default_concurrency(monkeypatch: pytest.MonkeyPatch) -> None:
    """Given neither variable set
    When the local stack sets its database pool size
    Then it is the default concurrency, 10."""
    monkeypatch.delenv("WATERREV_LOCAL_CONCURRENCY", raising=False)
    monkeypatch.delenv("WATERREV_DB_POOL_SIZE", raising=False)

    run.set_pool_size()

    assert os.environ["WATERREV_DB_POOL_SIZE"] == "10"


def test_a_pool_size_set_by_hand_is_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    """Given WATERREV_DB_POOL_SIZE=3
    When the local stack sets its database pool size
    Then it stays 3."""
    monkeypatch.setenv("WATERREV_DB_POOL_SIZE", "3")

    run.set_pool_size()

    assert os.environ["WATERREV_DB_POOL_SIZE"] == "3"
