"""The database functions' source files: one function per file, shipped as package data, and called
with named arguments everywhere (so a parameter added with a default breaks no caller)."""

from __future__ import annotations

import re
import tomllib
from fnmatch import fnmatch
from pathlib import Path

import pytest

from waterrev import sql

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "layers" / "core" / "python" / "waterrev"
CALLERS = ("layers", "functions", "benchmarks", "tests")


def test_each_file_creates_exactly_the_function_it_is_named_after() -> None:
    names = [f.name for f in sql.functions()]

    assert names == [
        "inv_apply_results",
        "msg_payment_result",
        "pay_apply_status",
        "pay_notify_accept",
        "rem_charge_arrears",
        "rev_amount_due_rows",
        "rev_audit",
        "rev_held_penalty_due",
        "rev_write_off",
        "stat_adjust_line_changes",
        "stat_charge_changes",
        "stat_collection_changes",
        "stat_cust_changes",
        "stat_fold",
        "stat_invoice_changes",
        "stat_reading_changes",
        "stat_refund_changes",
        "stat_task_changes",
    ]


@pytest.mark.parametrize(
    "text",
    [
        "CREATE FUNCTION other_name() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$;",
        "CREATE FUNCTION probe() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$;\n"
        "CREATE OR REPLACE FUNCTION probe(p int) RETURNS int LANGUAGE sql AS $$ SELECT p $$;",
        "SELECT 1;",
    ],
)
def test_a_file_that_creates_another_function_or_several_is_refused(tmp_path: Path, text: str) -> None:
    (tmp_path / "probe.sql").write_text(text, encoding="utf-8")

    with pytest.raises(ValueError, match=r"probe.sql must create exactly one function, probe"):
        sql.functions(tmp_path)


def test_the_function_files_are_package_data() -> None:
    """`pip install` ships only what package-data names (the Lambda layer copies the folder)."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = pyproject["tool"]["setuptools"]["package-data"]["waterrev"]
    files = [p.relative_to(PACKAGE).as_posix() for p in sql.FUNCTIONS_DIR.glob("*.sql")]

    assert files
    assert [f for f in files if not any(fnmatch(f, pattern) for pattern in patterns)] == []


def test_every_call_of_a_database_function_names_its_arguments() -> None:
    names = "|".join(f.name for f in sql.functions())
    positional = re.compile(rf"\b({names})\((?!\s*\)|\s*p_\w+\s*=>)")
    offenders = []
    for folder in CALLERS:
        for path in sorted((ROOT / folder).rglob("*")):
            if path.suffix not in (".py", ".sql") or ".venv" in path.parts:
                continue
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
                if positional.search(line) and not re.search(r"\bFUNCTION\s", line):
                    offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")

    assert offenders == []
