"""One place decides what a caller may see: capabilities ask waterrev.visibility, never the principal's
data scope directly (a copy of the rule is how "not yours" drifts from "not there")."""

from __future__ import annotations

import re
from pathlib import Path

import waterrev

CORE = Path(waterrev.__file__).parent
CAPABILITIES = ("platform", "customers", "metering", "pricing", "billing", "payments", "workflows")
# Reading the scope is not deciding with it: the user context shows the user its own scope.
ALLOWED = {("platform/auth.py", '"dataScopeDeptIds": None if p.dept_ids is None else sorted(p.dept_ids),')}
SCOPE_USE = re.compile(r"\.sees_dept\(|\.dept_ids\b(?!\s*=)")


def test_capabilities_decide_visibility_only_through_the_visibility_module() -> None:
    found = []
    for capability in CAPABILITIES:
        for path in (CORE / capability).rglob("*.py"):
            rel = path.relative_to(CORE).as_posix()
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
                if SCOPE_USE.search(line) and (rel, line.strip()) not in ALLOWED:
                    found.append(f"{rel}:{number}: {line.strip()}")

    assert found == [], "ask waterrev.visibility instead:\n" + "\n".join(found)
