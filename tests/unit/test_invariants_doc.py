"""docs/INVARIANTS.md stays true: every test it names exists, and every unit property test it names runs
at least 1,000 cases."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NAMED = re.compile(r"`(tests/[\w/]+\.py)(?:::(\w+))?`((?:, `::\w+`)*)")


def named_tests() -> list[tuple[str, str | None]]:
    out: list[tuple[str, str | None]] = []
    for path, first, more in NAMED.findall((ROOT / "docs" / "INVARIANTS.md").read_text(encoding="utf-8")):
        out.append((path, first or None))
        out += [(path, name) for name in re.findall(r"::(\w+)", more)]
    return out


def test_every_named_test_exists_and_a_unit_property_runs_a_thousand_cases() -> None:
    named = named_tests()
    assert len(named) > 30
    for path, name in named:
        assert (ROOT / path).is_file(), path
        if name is None:
            continue
        module = importlib.import_module(path.removesuffix(".py").replace("/", "."))
        test = getattr(module, name, None)
        assert test is not None, f"{path}::{name}"
        chosen = getattr(test, "_hypothesis_internal_use_settings", None)
        if path.startswith("tests/unit/") and chosen is not None:
            assert chosen.max_examples >= 1000, f"{path}::{name} runs {chosen.max_examples} cases"
