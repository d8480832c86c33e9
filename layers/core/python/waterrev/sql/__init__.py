"""The database's functions as source: one `.sql` file per PL/pgSQL function in `functions/`, named
after it, holding its one current text.

`waterrev.migrate` re-creates a function whenever its file's text changes (after the Alembic
revisions, in the same transaction), so a change to a function is a change to its file, reviewed as
a diff, never a whole new copy in a migration. Callers name their arguments
(`rev_write_off(p_cust_id => ...)`): a parameter added with a default then breaks no caller,
including the previous release's code, which keeps running against the new text while a deployment
is under way.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

FUNCTIONS_DIR = Path(__file__).parent / "functions"

_CREATE = re.compile(r"^\s*CREATE\s+(?:OR\s+REPLACE\s+)?FUNCTION\s+(\w+)\s*\(", re.IGNORECASE | re.MULTILINE)


@dataclass(frozen=True)
class SqlFunction:
    name: str
    text: str
    sha256: str  # of the file's bytes: what the database records as applied


def functions(directory: Path = FUNCTIONS_DIR) -> tuple[SqlFunction, ...]:
    """Every function file in `directory`, by name. A file must create exactly one function, the
    one it is named after: one name, one file, one text."""
    found = []
    for path in sorted(directory.glob("*.sql")):
        raw = path.read_bytes()
        text = raw.decode("utf-8")
        created = _CREATE.findall(text)
        if created != [path.stem]:
            raise ValueError(
                f"{path.name} must create exactly one function, {path.stem}; it creates {created}"
            )
        found.append(SqlFunction(path.stem, text, hashlib.sha256(raw).hexdigest()))
    return tuple(found)
