"""The database's functions and partial indexes speak the Python statuses: every status literal that the
installed PL/pgSQL functions compare with or write into bk_transaction, biz_charge or biz_collection (and
the exception and hold columns beside them) is a member of the Python enum, and the live-order and
payable-bill lists there are the Python sets. Read from the installed functions (pg_proc.prosrc) and
index predicates, so it holds wherever their source text is kept.

The reading is a small scanner, not a SQL parser: it knows `<alias>.status`, bare `status` in a statement
naming one table with that column, `p_status` (the platform's tradeStatus, settled onto
bk_transaction.status), `=`/`<>`/`IN`/`NOT IN`/`IS DISTINCT FROM` a literal, `CASE ... THEN 'X' ELSE 'Y'
END`, and `INSERT ... VALUES` (a variable there is followed to its `:=` assignments). A status literal it
cannot place fails the test: teach the scanner rather than let a comparison go unchecked."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from tests.support import sql_all
from waterrev.domain.states import (
    LIVE_ORDER,
    PAYABLE_BILLS,
    UNPAID_ENDS,
    AgreementStatus,
    BillStatus,
    CollectionItemType,
    CollectionStatus,
    InvoiceExceptionStatus,
    InvoiceModifyStatus,
    OrderHold,
    OrderStatus,
    PaymentExceptionStatus,
    PaymentExceptionType,
    PenaltyWaiverStatus,
    ReadingStatus,
)

ENUMS: dict[tuple[str, str], type[StrEnum]] = {
    ("bk_transaction", "status"): OrderStatus,
    ("bk_transaction", "hold_reason"): OrderHold,
    ("biz_charge", "status"): BillStatus,
    ("biz_collection", "status"): CollectionStatus,
    ("biz_collection_item", "item_type"): CollectionItemType,
    ("biz_penalty_waiver", "status"): PenaltyWaiverStatus,
    ("biz_cust_withholding_rel", "status"): AgreementStatus,
    ("bk_transaction_exception", "status"): PaymentExceptionStatus,
    ("bk_transaction_exception", "exception_type"): PaymentExceptionType,
    ("biz_reading_data", "status"): ReadingStatus,
    ("biz_process_invoice_modifys", "status"): InvoiceModifyStatus,
    ("biz_invoice_exception", "status"): InvoiceExceptionStatus,
}
COLUMNS = sorted({column for _, column in ENUMS})
PARAMETERS = {"p_status": ("bk_transaction", "status")}  # pay_apply_status: SET status = p_status
OURS = {
    "rev_write_off",
    "pay_apply_status",
    "pay_notify_accept",
    "inv_apply_results",
    "rev_held_penalty_due",
    "rev_amount_due_rows",
}

_KEYWORDS = {
    "set", "where", "on", "values", "select", "join", "left", "right", "inner", "outer", "full", "order",
    "group", "limit", "for", "returning", "using", "as", "with", "into", "from", "update", "lateral", "of",
}  # fmt: skip
_TABLE = re.compile(r"\b(?:FROM|JOIN|UPDATE|INTO)\s+([a-z_]\w*)(?:\s+(?:AS\s+)?([a-z_]\w*))?", re.I)
_ROWTYPE = re.compile(r"\b([a-z_]\w*)\s+([a-z_]\w*)%ROWTYPE", re.I)
_FOR_RECORD = re.compile(r"\bFOR\s+([a-z_]\w*)\s+IN\s+SELECT\b.*?\bFROM\s+([a-z_]\w*)", re.I | re.S)
_COLUMN = "|".join(COLUMNS + sorted(PARAMETERS))
_COMPARISON = re.compile(
    r"(?<![\w.'])(?:(?P<alias>[a-z_]\w*)\.)?(?P<col>" + _COLUMN + r")\b\s*"
    r"(?P<op>=|<>|!=|IS\s+(?:NOT\s+)?DISTINCT\s+FROM|(?:NOT\s+)?IN)\s*"
    r"(?P<rhs>'[^']*'|\(\s*'[^']*'(?:\s*,\s*'[^']*')*\s*\)|CASE\b.*?\bEND\b)",
    re.I | re.S,
)
_RESULT = re.compile(r"\b(?:THEN|ELSE)\s+'([^']*)'", re.I)
_LITERAL = re.compile(r"'([^']*)'")
_INSERT = re.compile(r"\bINSERT\s+INTO\s+([a-z_]\w*)\s*\(([^)]*)\)\s*(VALUES|SELECT)\b", re.I)


@dataclass(frozen=True)
class Finding:
    function: str
    table: str
    column: str
    source: str  # what was compared or written: t.status, status, p_status, a variable
    op: str
    values: frozenset[str]


def _statements(body: str) -> list[str]:
    """The body without comments, split on semicolons outside quotes."""
    text = re.sub(r"--[^\n]*", "", body)
    parts: list[str] = []
    current: list[str] = []
    quoted = False
    for ch in text:
        if ch == "'":
            quoted = not quoted
        if ch == ";" and not quoted:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    return [*parts, "".join(current)]


def _top_level(text: str) -> tuple[list[str], str]:
    """The comma-separated items of the parenthesised list `text` starts with, and what follows it."""
    depth, quoted = 0, False
    item: list[str] = []
    items: list[str] = []
    for index, ch in enumerate(text):
        if ch == "'":
            quoted = not quoted
        if not quoted and ch == "(":
            depth += 1
            if depth == 1:
                continue
        if not quoted and ch == ")":
            depth -= 1
            if depth == 0:
                return [*items, "".join(item).strip()], text[index + 1 :]
        if not quoted and ch == "," and depth == 1:
            items.append("".join(item).strip())
            item = []
        elif depth >= 1:
            item.append(ch)
    raise AssertionError(f"unbalanced list: {text[:80]}")


def _select_list(text: str) -> list[str]:
    """The items of a SELECT list (what follows SELECT, up to its own FROM), split on top-level commas."""
    depth, quoted = 0, False
    item: list[str] = []
    items: list[str] = []
    index = 0
    while index < len(text):
        ch = text[index]
        if ch == "'":
            quoted = not quoted
        at_from = re.match(r"FROM\b", text[index:], re.I) and not re.match(r"\w", text[index - 1 : index])
        if not quoted and depth == 0 and at_from:
            break
        if not quoted and ch == "(":
            depth += 1
        if not quoted and ch == ")":
            depth -= 1
        if not quoted and ch == "," and depth == 0:
            items.append("".join(item).strip())
            item = []
        else:
            item.append(ch)
        index += 1
    return [*items, "".join(item).strip()]


def _place(
    alias: str | None,
    column: str,
    aliases: dict[str, str],
    tables: set[str],
    columns_of: dict[str, set[str]],
) -> tuple[str, str] | None:
    """The (table, column) a compared name stands for: a parameter's, an alias's (a record variable's
    too), or the one table named in the statement that has the column."""
    if column in PARAMETERS:
        return PARAMETERS[column]
    if alias:
        table = aliases.get(alias)
        return (table, column) if table and column in columns_of.get(table, set()) else None
    owners = {t for t in tables if column in columns_of.get(t, set())}
    return (owners.pop(), column) if len(owners) == 1 else None


def scan(
    function: str,
    body: str,
    columns_of: dict[str, set[str]],
    trigger_table: str | None = None,
    transition_tables: frozenset[str] = frozenset(),
) -> tuple[list[Finding], list[str]]:
    """Every status literal compared or written in `body`, placed on its table and column; and what
    could not be placed. A trigger function's NEW and OLD are rows of `trigger_table`, and so are the
    rows of a statement trigger's transition tables (REFERENCING OLD TABLE AS o NEW TABLE AS n). A status
    placed on a table nobody watches here (a binding's BOUND, say) is not a finding."""
    findings: list[Finding] = []
    unplaced: list[str] = []
    records = {v.lower(): t.lower() for v, t in _ROWTYPE.findall(body)}
    if trigger_table:
        records |= {"new": trigger_table, "old": trigger_table}
        records |= {name.lower(): trigger_table for name in transition_tables}
    records |= {v.lower(): t.lower() for v, t in _FOR_RECORD.findall(body)}
    assignments: dict[str, list[str]] = {}
    for statement in _statements(body):
        for variable, expression in re.findall(r"\b([a-z_]\w*)\s*:=\s*(.*)", statement, re.I | re.S):
            assignments.setdefault(variable.lower(), []).append(expression)

    for statement in _statements(body):
        aliases = dict(records)
        tables: set[str] = set()
        for table, alias in _TABLE.findall(statement):
            table = table.lower()
            if table in _KEYWORDS or table in records:  # FOR UPDATE OF c; SELECT ... INTO a record
                continue
            aliases[table] = table
            tables.add(table)
            if alias and alias.lower() not in _KEYWORDS:
                aliases[alias.lower()] = table

        for m in _COMPARISON.finditer(statement):
            alias, column = (m["alias"] or "").lower() or None, m["col"].lower()
            rhs = m["rhs"]
            values = _RESULT.findall(rhs) if rhs.upper().startswith("CASE") else _LITERAL.findall(rhs)
            source = f"{alias}.{column}" if alias else column
            placed = _place(alias, column, aliases, tables, columns_of)
            if placed is None:
                unplaced.append(f"{function}: {source} {m['op']} {rhs[:60]!r}")
                continue
            if placed not in ENUMS:
                continue
            op = re.sub(r"\s+", " ", m["op"].upper())
            findings.append(Finding(function, *placed, source, op, frozenset(values)))

        for m in _INSERT.finditer(statement):
            table = m[1].lower()
            columns = [c.strip().lower() for c in m[2].split(",")]
            watched = [c for c in columns if (table, c) in ENUMS]
            if not watched:
                continue
            if m[3].upper() == "VALUES":
                values, _ = _top_level(statement[m.end() :].lstrip())
            else:
                values = _select_list(statement[m.end() :])
                if len(values) != len(columns):
                    unplaced.append(f"{function}: INSERT INTO {table} ... SELECT sets {watched}")
                    continue
            for column, value in zip(columns, values, strict=True):
                if column not in watched:
                    continue
                if value.startswith("'"):
                    literals = _LITERAL.findall(value)
                elif value.lower() in assignments:
                    literals = [
                        lit
                        for expression in assignments[value.lower()]
                        for lit in (_RESULT.findall(expression) or _LITERAL.findall(expression))
                    ]
                elif value.lower() in PARAMETERS or value.lower().startswith("p_"):
                    continue  # a caller's value: checked where the caller is
                else:
                    unplaced.append(f"{function}: INSERT INTO {table} ({column}) VALUES ({value})")
                    continue
                findings.append(Finding(function, table, column, value, "INSERT", frozenset(literals)))
    return findings, unplaced


def _installed() -> dict[str, str]:
    rows = sql_all(
        "SELECT p.proname, p.prosrc FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace"
        " JOIN pg_language l ON l.oid = p.prolang WHERE n.nspname = 'public' AND l.lanname IN ('plpgsql', 'sql')"
    )
    return {r["proname"]: r["prosrc"] for r in rows}


def _columns() -> dict[str, set[str]]:
    rows = sql_all(
        "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'public'"
        " AND column_name = ANY(CAST(:c AS varchar[]))",
        {"c": COLUMNS},
    )
    columns: dict[str, set[str]] = {}
    for r in rows:
        columns.setdefault(r["table_name"], set()).add(r["column_name"])
    return columns


def _triggers() -> dict[str, str]:
    """Trigger function -> the table its trigger is on (whose rows NEW and OLD are)."""
    rows = sql_all(
        "SELECT p.proname, c.relname FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid"
        " JOIN pg_class c ON c.oid = t.tgrelid WHERE NOT t.tgisinternal"
    )
    return {r["proname"]: r["relname"] for r in rows}


def _transition_tables() -> dict[str, frozenset[str]]:
    """Trigger function -> the names its statement triggers give their transition tables."""
    rows = sql_all(
        "SELECT p.proname, t.tgoldtable, t.tgnewtable FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid"
        " WHERE NOT t.tgisinternal AND (t.tgoldtable IS NOT NULL OR t.tgnewtable IS NOT NULL)"
    )
    names: dict[str, set[str]] = {}
    for r in rows:
        names.setdefault(r["proname"], set()).update(n for n in (r["tgoldtable"], r["tgnewtable"]) if n)
    return {k: frozenset(v) for k, v in names.items()}


def _findings() -> list[Finding]:
    functions = _installed()
    assert functions.keys() >= OURS, f"missing functions: {OURS - functions.keys()}"
    columns = _columns()
    triggers = _triggers()
    transitions = _transition_tables()
    findings: list[Finding] = []
    unplaced: list[str] = []
    for name, body in sorted(functions.items()):
        found, lost = scan(name, body, columns, triggers.get(name), transitions.get(name, frozenset()))
        findings += found
        unplaced += lost
    assert not unplaced, "status comparisons the scanner cannot place on a table:\n" + "\n".join(unplaced)
    return findings


def test_every_status_literal_in_our_functions_is_a_python_member() -> None:
    """Given the installed functions, every literal compared with or written into a watched column is a
    member of that column's enum; and the scan saw enough of each to be meaningful."""
    findings = _findings()
    members = {key: {s.value for s in states} for key, states in ENUMS.items()}
    strays = [
        f"{f.function}: {f.table}.{f.column} {f.op} {sorted(f.values - members[f.table, f.column])}"
        for f in findings
        if not f.values <= members[f.table, f.column]
    ]
    assert not strays, "status literals that are not Python enum members:\n" + "\n".join(strays)
    seen: dict[tuple[str, str], set[str]] = {}
    for f in findings:
        seen.setdefault((f.table, f.column), set()).update(f.values)
    assert seen["bk_transaction", "status"] == set(OrderStatus)
    assert seen["biz_charge", "status"] >= {BillStatus.UNPAID, BillStatus.PARTIAL, BillStatus.PAID}
    assert seen["biz_collection", "status"] >= {CollectionStatus.SUCCESS, CollectionStatus.PARTIAL}
    assert seen["bk_transaction", "hold_reason"] == {OrderHold.AMOUNT_MISMATCH}
    assert seen["biz_collection_item", "item_type"] == set(CollectionItemType)
    assert seen["biz_penalty_waiver", "status"] == {PenaltyWaiverStatus.APPROVED}
    assert seen["biz_cust_withholding_rel", "status"] == {AgreementStatus.SIGNED}
    assert {PaymentExceptionType.AMOUNT_MISMATCH, PaymentExceptionType.PAID_ELSEWHERE} <= seen[
        "bk_transaction_exception", "exception_type"
    ]


def test_the_live_and_payable_lists_in_sql_are_the_python_sets() -> None:
    """Where a function asks whether an order is live it lists exactly LIVE_ORDER; the platform results
    that close an order unpaid are UNPAID_ENDS; a bill still payable is PAYABLE_BILLS."""
    lists = [f for f in _findings() if f.op in ("IN", "NOT IN")]
    live = [f for f in lists if f.table == "bk_transaction" and f.source != "p_status"]
    ends = [f for f in lists if f.source == "p_status"]
    payable = [f for f in lists if f.table == "biz_charge"]
    assert live and ends and payable
    assert all(f.values == LIVE_ORDER for f in live), live
    assert all(f.values == UNPAID_ENDS for f in ends), ends
    assert all(f.values == PAYABLE_BILLS for f in payable), payable


def test_partial_indexes_on_statuses_use_the_python_sets() -> None:
    """The indexes that hold only live orders (the same request's order, compensation's queue) are
    written with LIVE_ORDER; any other partial index on a watched status uses enum members only."""
    rows = sql_all(
        "SELECT c.relname AS table_name, i.relname AS index_name, pg_get_expr(x.indpred, x.indrelid) AS predicate"
        " FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class c ON c.oid = x.indrelid"
        " JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND x.indpred IS NOT NULL"
    )
    on_status = [
        r for r in rows if (r["table_name"], "status") in ENUMS and re.search(r"\bstatus\b", r["predicate"])
    ]
    by_name = {r["index_name"]: set(_LITERAL.findall(r["predicate"])) for r in on_status}
    assert by_name["ux_transaction_live_request"] == by_name["ix_transaction_pending"] == LIVE_ORDER
    for r in on_status:
        members = {s.value for s in ENUMS[r["table_name"], "status"]}
        assert by_name[r["index_name"]] <= members, r


COLUMNS_OF = {
    "bk_transaction": {"status", "hold_reason"},
    "biz_charge": {"status"},
    "biz_order_charge": set(),
    "biz_collection_item": {"item_type"},
}


def test_the_scanner_sees_a_drifted_list_and_refuses_what_it_cannot_place() -> None:
    """Given a function that adds a status to the live list, or compares a status it cannot tie to one
    table, the scan reports the literal (which the membership test then fails) or the comparison."""
    drifted = """
DECLARE
  t bk_transaction%ROWTYPE;
BEGIN
  IF t.status IN ('INIT', 'PAYING', 'WAITING') THEN  -- a new live state, Python not told
    UPDATE biz_charge c SET status = CASE WHEN c.paid_amount >= c.total_amount THEN 'PAID' ELSE 'OWING' END
      FROM biz_order_charge o WHERE o.charge_id = c.id;
  END IF;
  PERFORM 1 FROM bk_transaction x JOIN biz_charge y ON y.id = x.id WHERE status = 'SUCCESS';
  INSERT INTO biz_collection_item (collection_id, charge_id, amount, item_type)
    SELECT v_id, l.id, round(l.fee, 2), 'FEE' FROM unnest(v_ids, v_fees) AS l (id, fee);
  INSERT INTO biz_collection_item (collection_id, charge_id, amount, item_type)
    SELECT v_id, l.id, l.amount, l.kind FROM unnest(v_ids, v_amounts, v_kinds) AS l (id, amount, kind);
END"""
    found, unplaced = scan("drifted", drifted, COLUMNS_OF)
    values = {(f.table, f.source): f.values for f in found}
    assert values["bk_transaction", "t.status"] == {"INIT", "PAYING", "WAITING"}
    assert values["biz_charge", "status"] == {"PAID", "OWING"}
    assert values["biz_collection_item", "'FEE'"] == {"FEE"}  # a new item type written by INSERT ... SELECT
    assert unplaced == [
        "drifted: status = \"'SUCCESS'\"",
        "drifted: INSERT INTO biz_collection_item (item_type) VALUES (l.kind)",
    ]
