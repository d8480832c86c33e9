"""waterrev.pgwire relies on a few private parts of pg8000 (docs/DECISIONS.md 22). An upgrade of
pg8000 that moves them must fail here, by name, rather than in production: the version is the one
pgwire was read against, and every private name it uses exists with the shape it expects."""

from __future__ import annotations

import re
import tomllib
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest
from pg8000 import core, legacy

from waterrev import pgwire

ROOT = Path(__file__).resolve().parents[2]


def pinned(package: str) -> str:
    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"][
        "dependencies"
    ]
    (pin,) = [d.split("==", 1)[1] for d in dependencies if d.split("==", 1)[0] == package]
    return str(pin)


def test_pg8000_is_the_version_pgwire_was_verified_against() -> None:
    """Upgrading pg8000: re-read the internals pgwire uses (pgwire.FUNCTIONS, METHODS, ATTRIBUTES),
    re-run the wire tests, then raise PG8000_VERIFIED with the pin."""
    assert version("pg8000") == pinned("pg8000") == pgwire.PG8000_VERIFIED


def test_pgwire_internals_present() -> None:
    assert pgwire.missing_internals() == ()


def test_pgwire_uses_no_private_name_of_pg8000_that_the_check_does_not_cover() -> None:
    """Every `core.<name>` and `self.<name>` pgwire touches is listed in its check (or is its own)."""
    source = Path(pgwire.__file__).read_text(encoding="utf-8")
    used = set(re.findall(r"\bcore\.(\w+)", source)) | set(re.findall(r"\bself\.(\w+)", source))
    listed = {*pgwire.FUNCTIONS, *pgwire.METHODS, *pgwire.ATTRIBUTES, "CoreConnection"}
    ours = set(vars(pgwire.OneTripConnection))

    assert used - listed - ours == set()


@pytest.mark.parametrize(
    ("owner", "name", "replacement", "reported"),
    [
        (legacy.Connection, "send_BIND", lambda self, name, params, formats: None, "send_BIND"),
        (legacy.Connection, "handle_messages", None, "handle_messages"),
        (core, "make_params", lambda py_types, values, extra: (), "make_params"),
        (core, "Context", lambda statement: object(), "Context"),
    ],
)
def test_a_moved_internal_is_reported_by_name(
    monkeypatch: pytest.MonkeyPatch, owner: Any, name: str, replacement: Any, reported: str
) -> None:
    monkeypatch.setattr(owner, name, replacement)
    pgwire.missing_internals.cache_clear()
    try:
        missing = pgwire.missing_internals()
    finally:
        monkeypatch.undo()
        pgwire.missing_internals.cache_clear()

    assert missing and all(reported in m for m in missing), missing
