"""Generate docs/INTERFACES.md and docs/ERRORS.md from the catalog and the error table.

`python -m waterrev.local.docs_gen` rewrites them; a unit test fails when they are stale.
"""

from __future__ import annotations

from pathlib import Path

from waterrev import catalog
from waterrev.errors import ErrorCode
from waterrev.local.gateway import REPO_ROOT

CALLER_TEXT = {
    catalog.Caller.PUBLIC: "public",
    catalog.Caller.ADMIN: "back-office token",
    catalog.Caller.CUSTOMER: "customer token (bound customers only)",
    catalog.Caller.WEBHOOK: "platform signature",
}


def interfaces_md() -> str:
    lines = [
        "# Interface map",
        "",
        "Generated from `layers/core/python/waterrev/catalog.py` by `python -m waterrev.local.docs_gen`;",
        "do not edit by hand. Each built interface is one Lambda (`functions/<function>/handler.py`) and",
        "one HTTP API route per row; the local gateway serves the same routes.",
        "",
        "| IF id | name | status | function | route | caller | permission |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for i in catalog.CATALOG:
        if i.direction is catalog.Direction.OUTBOUND:
            continue
        if not i.built:
            lines.append(f"| {i.if_id} | {i.name} | not yet | | | | |")
            continue
        for r in i.routes:
            perm = f"`{r.permission}`" if r.permission else ""
            lines.append(
                f"| {i.if_id} | {i.name} | built | `{i.function}` | `{r.method} {r.path}` | "
                f"{CALLER_TEXT[r.caller]} | {perm} |"
            )
    lines += [
        "",
        "## Outbound: SYS-002 calls the outside system",
        "",
        "No function and no route of ours: a client module in the core, called by the use cases.",
        "",
        "| IF id | name | status | direction | client |",
        "| --- | --- | --- | --- | --- |",
    ]
    for i in catalog.CATALOG:
        if i.direction is catalog.Direction.OUTBOUND:
            client = f"`{i.client}`" if i.client else ""
            status = "built" if i.implemented else "not yet"
            lines.append(f"| {i.if_id} | {i.name} | {status} | SYS-002 → {i.peer} | {client} |")
    return "\n".join(lines) + "\n"


def errors_md() -> str:
    lines = [
        "# Error codes and HTTP statuses",
        "",
        "Generated from `layers/core/python/waterrev/errors.py`; do not edit by hand. Every reply is the",
        "envelope `{code, data, msg}`: `code` 0 is success; 400-499 (and 500) are generic errors answered",
        "with the same HTTP status; `1_002_xxx_xxx` are the seed's business errors, answered with the HTTP",
        "status below (404 when the object is absent or must look absent, 409 for a state conflict, 401",
        "for a failed signature, 422 for an unprocessable document, 504 for an outside timeout). Request",
        "validation failures answer code 400 with every failing field named in `msg`.",
        "",
        "| code | HTTP | message | name |",
        "| --- | --- | --- | --- |",
    ]
    for e in ErrorCode:
        code = f"{e.code:_}" if e.is_business else str(e.code)
        lines.append(f"| {code} | {e.http_status} | {e.message} | `{e.name}` |")
    return "\n".join(lines) + "\n"


def write() -> None:
    docs = Path(REPO_ROOT) / "docs"
    docs.mkdir(exist_ok=True)
    (docs / "INTERFACES.md").write_text(interfaces_md(), encoding="utf-8")
    (docs / "ERRORS.md").write_text(errors_md(), encoding="utf-8")


if __name__ == "__main__":
    write()
