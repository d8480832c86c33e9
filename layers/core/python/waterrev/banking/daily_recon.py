"""The daily three-way reconciliation over every channel (issue 13, beyond the seed; docs/BANK.md): for a
business day (Beijing), our settled collections per channel (bk_transaction, SUCCESS: counter, online,
counter QR, bank real-time, withholding), each channel's statement and the bank's credit file
(adapters.recon_files, formats in banking.daily_rules) compared, the differences kept for a person.

Idempotent per day: one bk_daily_recon row per day, re-run in place (its row lock serialises two runs of
a day); a difference found again is the same row (day, channel, key, class), an open one a later run no
longer finds - having read the files that class is compared on - is GONE (a statement missing or
unreadable this run leaves its channel's differences as they were), and one a person RESOLVED stays
resolved unless a re-run finds it with other amounts: then it is OPEN again (audited, the resolution
in the audit row). A one-sided difference whose other side has the trade on the day before or after is
CROSS_DAY, informational (decision 134). Nothing is posted: a run only reads the ledger. A file missing
or unreadable is an exception record (bk_daily_recon_file, MISSING / INVALID with why) the run's report
lists, never an error: the day is INCOMPLETE.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from decimal import Decimal
from typing import Any

from waterrev import audit, clock
from waterrev.adapters import recon_files
from waterrev.banking import daily_rules as rules
from waterrev.context import RequestContext
from waterrev.db import UnitOfWork
from waterrev.errors import AppError, ErrorCode
from waterrev.logs import get_logger

MODULE = "REV-008"
BEIJING = dt.timezone(dt.timedelta(hours=8), "Asia/Shanghai")
ZERO = Decimal("0.00")
EARLIEST = dt.date(1970, 1, 1)

_OURS = """
SELECT scene, CASE WHEN scene IN ('BANK', 'WITHHOLD') THEN trade_no ELSE biz_order_no END AS key,
       success_amount AS amount
  FROM bk_transaction
 WHERE status = 'SUCCESS' AND scene IN ('COUNTER', 'ONLINE', 'COUNTER_QR', 'BANK', 'WITHHOLD')
   AND (scene <> 'COUNTER' OR channel_code = 'CASH')
   AND paid_time >= :start AND paid_time < :end
"""
# The counter's takings are its cash (the deposit the bank credits, DECISIONS 130): a PREPAY payment at the
# counter moves no money, and WECHAT / ALIPAY / BANK card tenders keyed at the counter settle through their
# own acquirers, whose statements this reconciliation does not receive.


def _require_company(ctx: RequestContext) -> None:
    if ctx.principal.dept_ids is not None:
        raise AppError(ErrorCode.FORBIDDEN, "每日对账覆盖全公司各渠道：需要全部数据权限")


def yesterday() -> dt.date:
    return clock.today() - dt.timedelta(days=1)


def ours(uow: UnitOfWork, day: dt.date) -> dict[str, dict[str, Decimal]]:
    """Our settled trades of the day per channel: key -> amount."""
    start = dt.datetime.combine(day, dt.time(0), BEIJING)
    out: dict[str, dict[str, Decimal]] = {c: {} for c in rules.CHANNELS}
    by_scene = {scene: channel for channel, scene in rules.SCENES.items()}
    for r in uow.all(_OURS, {"start": start, "end": start + dt.timedelta(days=1)}):
        out[by_scene[r["scene"]]][str(r["key"])] = Decimal(r["amount"])
    return out


class _File:
    def __init__(self, channel: str, kind: str, name: str, data: bytes | None) -> None:
        self.channel, self.kind, self.name = channel, kind, name
        self.sha256 = hashlib.sha256(data).hexdigest() if data is not None else None
        self.status = "MISSING" if data is None else "OK"
        self.error: str | None = "文件未送达" if data is None else None
        self.lines = 0


def _read(
    day: dt.date,
) -> tuple[list[_File], dict[str, dict[str, Decimal] | None], dict[str, Decimal] | None]:
    """Every file of the day read and parsed, outside any transaction."""
    files: list[_File] = []
    statements: dict[str, dict[str, Decimal] | None] = {}
    for channel in rules.CHANNELS:
        statements[channel] = None
        if channel in rules.TWO_WAY:
            continue  # no statement exists: ours against the bank's credit only
        name = rules.statement_name(day, channel)
        f = _File(channel, rules.STATEMENT, name, data := _fetch(name))
        statements[channel] = None
        if data is not None:
            try:
                statements[channel] = rules.parse_statement(data, channel, day)
                f.lines = len(statements[channel] or {})
            except rules.FileError as exc:
                f.status, f.error = "INVALID", str(exc)[:512]
        files.append(f)
    name = rules.credit_name(day)
    f = _File(rules.BANK, rules.CREDIT, name, data := _fetch(name))
    credits = None
    if data is not None:
        try:
            credits = rules.parse_credit(data, day)
            f.lines = len(credits)
        except rules.FileError as exc:
            f.status, f.error = "INVALID", str(exc)[:512]
    files.append(f)
    return files, statements, credits


def _nearby_statements(day: dt.date) -> dict[dt.date, dict[str, dict[str, Decimal]]]:
    """The channels' statements of the day before and after that can be read (for CROSS_DAY only: they are
    not this day's files, so neither listed nor an exception when missing), day -> channel -> trades."""
    out: dict[dt.date, dict[str, dict[str, Decimal]]] = {}
    for near in (day - dt.timedelta(days=1), day + dt.timedelta(days=1)):
        out[near] = {}
        if near < EARLIEST or near >= clock.today():
            continue
        for channel in rules.CHANNELS:
            if channel in rules.TWO_WAY:
                continue
            data = _fetch(rules.statement_name(near, channel))
            if data is None:
                continue
            try:
                out[near][channel] = rules.parse_statement(data, channel, near)
            except rules.FileError:
                continue
    return out


def _fetch(name: str) -> bytes | None:
    """The file, or None when it is not there - or cannot be reached: the store's trouble is logged and
    the file counts as missing (the day INCOMPLETE, the next run tries again)."""
    try:
        return recon_files.read(name)
    except recon_files.RecordStoreError as exc:
        get_logger().error("reconciliation file store unavailable", extra={"file": name, "error": str(exc)})
        return None


def run(ctx: RequestContext, day: dt.date) -> dict[str, Any]:
    """Reconcile `day` (again): the report of the day."""
    _require_company(ctx)
    if day >= clock.today():
        raise AppError(ErrorCode.BAD_REQUEST, f"bizDate: {day} 尚未结束，只能对账已结束的营业日")
    if day < EARLIEST:
        raise AppError(ErrorCode.BAD_REQUEST, f"bizDate: {day} 早于 {EARLIEST}")
    files, statements, credits = _read(day)
    theirs_nearby = _nearby_statements(day)
    before, after = day - dt.timedelta(days=1), day + dt.timedelta(days=1)
    with UnitOfWork() as uow:
        # the neighbouring days' runs locked in date order around this day's (a CROSS_DAY found here
        # settles the mirror one-sided difference there): runs of adjacent days never deadlock
        neighbours = {
            before: uow.one("SELECT * FROM bk_daily_recon WHERE biz_date = :d FOR UPDATE", {"d": before})
        }
        recon = uow.one(
            "INSERT INTO bk_daily_recon (biz_date, status) VALUES (:d, 'INCOMPLETE')"
            " ON CONFLICT (biz_date) DO UPDATE SET run_count = bk_daily_recon.run_count + 1, last_run_time = now()"
            " RETURNING *",
            {"d": day},
        )
        assert recon is not None  # and locked (the upsert's row lock): a second run of the day waits here
        neighbours[after] = uow.one(
            "SELECT * FROM bk_daily_recon WHERE biz_date = :d FOR UPDATE", {"d": after}
        )
        mine = ours(uow, day)
        ours_nearby = {near: ours(uow, near) for near in (before, after)}
        found: dict[tuple[str, str, str], rules.Diff] = {}
        for channel in rules.CHANNELS:
            diffs = rules.cross_day(
                rules.compare(channel, mine[channel], statements[channel], credits),
                {near: v[channel] for near, v in ours_nearby.items()},
                {near: v[channel] for near, v in theirs_nearby.items() if channel in v},
            )
            for d in diffs:
                found[(d.channel, d.key, d.diff_type)] = d
        for f in files:
            uow.execute(
                "INSERT INTO bk_daily_recon_file (recon_id, biz_date, channel, file_kind, file_name, status, error,"
                " line_count, file_sha256) VALUES (:r, :d, :ch, :k, :n, :s, :e, :l, :h)"
                " ON CONFLICT (biz_date, channel, file_kind) DO UPDATE SET file_name = EXCLUDED.file_name,"
                " status = EXCLUDED.status, error = EXCLUDED.error, line_count = EXCLUDED.line_count,"
                " file_sha256 = EXCLUDED.file_sha256, update_time = now()",
                {
                    "r": recon["id"],
                    "d": day,
                    "ch": f.channel,
                    "k": f.kind,
                    "n": f.name,
                    "s": f.status,
                    "e": f.error,
                    "l": f.lines,
                    "h": f.sha256,
                },
            )
        existing = {
            (r["channel"], r["match_key"], r["diff_type"]): r
            for r in uow.all("SELECT * FROM bk_daily_recon_diff WHERE biz_date = :d", {"d": day})
        }
        added = gone = reopened = 0
        for key, d in found.items():
            row = existing.get(key)
            values = {"o": d.ours, "t": d.theirs, "c": d.credited}
            cross = d.diff_type == rules.CROSS_DAY
            status, note = ("INFO", _cross_note(d)) if cross else ("OPEN", None)
            if row is None:
                added += 1
                uow.execute(
                    "INSERT INTO bk_daily_recon_diff (recon_id, biz_date, channel, diff_type, match_key, our_amount,"
                    " channel_amount, credited_amount, status, resolve_reason)"
                    " VALUES (:r, :d, :ch, :ty, :k, :o, :t, :c, :s, :n)",
                    {
                        "r": recon["id"],
                        "d": day,
                        "ch": d.channel,
                        "ty": d.diff_type,
                        "k": d.key,
                        "s": status,
                        "n": note,
                        **values,
                    },
                )
            elif row["status"] == "RESOLVED":  # a person's resolution stands - for the amounts it was given
                if _amounts(row) != (d.ours, d.theirs, d.credited):
                    reopened += 1
                    _reopen(uow, ctx, row, d)
            else:
                uow.execute(
                    "UPDATE bk_daily_recon_diff SET status = :s, resolve_reason = :n, our_amount = :o,"
                    " channel_amount = :t, credited_amount = :c WHERE id = :id",
                    {"id": row["id"], "s": status, "n": note, **values},
                )
            near_run = neighbours.get(d.other_day) if d.other_day is not None else None
            if cross and near_run is not None:
                _settle_mirror(uow, ctx, near_run, d, day)
        for key, row in existing.items():
            # closed only when this run compared that class of the channel: a statement (or the credit
            # file) missing or unreadable this run leaves what was found before as it was
            if (
                key not in found
                and row["status"] in ("OPEN", "INFO")
                and rules.compared(
                    row["channel"],
                    row["diff_type"],
                    statements[row["channel"]] is not None,
                    credits is not None,
                )
            ):
                gone += 1
                uow.execute(
                    "UPDATE bk_daily_recon_diff SET status = 'GONE' WHERE id = :id", {"id": row["id"]}
                )
        open_count = int(
            uow.scalar(
                "SELECT count(*) FROM bk_daily_recon_diff WHERE biz_date = :d AND status = 'OPEN'", {"d": day}
            )
        )
        errors = sum(1 for f in files if f.status != "OK")
        status = "INCOMPLETE" if errors else ("DIFFERENT" if open_count else "BALANCED")
        totals = {
            "oc": sum(len(v) for v in mine.values()),
            "oa": sum((a for v in mine.values() for a in v.values()), ZERO),
            "cc": sum(len(v) for v in statements.values() if v is not None),
            "ca": sum((a for v in statements.values() if v is not None for a in v.values()), ZERO),
            "cr": sum((credits or {}).values(), ZERO),
        }
        uow.execute(
            "UPDATE bk_daily_recon SET status = :s, our_count = :oc, our_amount = :oa, channel_count = :cc,"
            " channel_amount = :ca, credited_amount = :cr, open_diff_count = :o, file_error_count = :e"
            " WHERE id = :id",
            {"s": status, "o": open_count, "e": errors, "id": recon["id"], **totals},
        )
        audit.record(
            uow,
            ctx,
            module=MODULE,
            operation="DAILY_RECONCILE",
            object_type="bk_daily_recon",
            object_id=day.isoformat(),
            before={"status": recon["status"], "runCount": recon["run_count"] - 1}
            if recon["run_count"] > 1
            else None,
            after={
                "status": status,
                "openDiffs": open_count,
                "newDiffs": added,
                "goneDiffs": gone,
                "reopenedDiffs": reopened,
                "crossDayDiffs": sum(1 for d in found.values() if d.diff_type == rules.CROSS_DAY),
                "fileErrors": errors,
            },
        )
        reply = _report(uow, day)
        uow.commit()
    return reply


def _amounts(row: dict[str, Any]) -> tuple[Decimal | None, Decimal | None, Decimal | None]:
    return row["our_amount"], row["channel_amount"], row["credited_amount"]


def _cross_note(d: rules.Diff) -> str:
    return f"跨日：对方记在 {d.other_day}（自动判定，时间差）"


def _reopen(uow: UnitOfWork, ctx: RequestContext, row: dict[str, Any], d: rules.Diff) -> None:
    """A resolved difference a later run finds with other amounts: OPEN again for a person, the
    resolution it had kept in the audit row (before)."""
    uow.execute(
        "UPDATE bk_daily_recon_diff SET status = 'OPEN', our_amount = :o, channel_amount = :t, credited_amount = :c,"
        " resolve_reason = NULL, resolver_id = NULL, resolve_time = NULL WHERE id = :id",
        {"id": row["id"], "o": d.ours, "t": d.theirs, "c": d.credited},
    )
    audit.record(
        uow,
        ctx,
        module=MODULE,
        operation="DAILY_RECONCILE_REOPEN",
        object_type="bk_daily_recon_diff",
        object_id=row["id"],
        before={
            "status": row["status"],
            "reason": row["resolve_reason"],
            "resolverId": row["resolver_id"],
            "resolvedTime": row["resolve_time"].isoformat() if row["resolve_time"] else None,
            "amounts": [None if a is None else str(a) for a in _amounts(row)],
        },
        after={
            "status": "OPEN",
            "amounts": [None if a is None else str(a) for a in (d.ours, d.theirs, d.credited)],
        },
    )


def _settle_mirror(
    uow: UnitOfWork, ctx: RequestContext, neighbour: dict[str, Any], d: rules.Diff, day: dt.date
) -> None:
    """The neighbouring day's open one-sided difference of the same trade (found there before this day's
    files or trades were in) is the other half of this CROSS_DAY: informational there too."""
    rows = uow.all(
        "SELECT * FROM bk_daily_recon_diff WHERE recon_id = :r AND channel = :ch AND match_key = :k"
        " AND status = 'OPEN' AND diff_type IN ('OURS_ONLY', 'CHANNEL_ONLY') FOR UPDATE",
        {"r": neighbour["id"], "ch": d.channel, "k": d.key},
    )
    if not rows:
        return
    note = f"跨日：对方记在 {day}（自动判定，时间差）"
    has_cross = uow.scalar(
        "SELECT id FROM bk_daily_recon_diff WHERE recon_id = :r AND channel = :ch AND match_key = :k"
        " AND diff_type = 'CROSS_DAY'",
        {"r": neighbour["id"], "ch": d.channel, "k": d.key},
    )
    for row in rows:
        if has_cross is not None:
            uow.execute("UPDATE bk_daily_recon_diff SET status = 'GONE' WHERE id = :id", {"id": row["id"]})
            uow.execute(
                "UPDATE bk_daily_recon_diff SET status = 'INFO', resolve_reason = :n WHERE id = :id AND status <> 'RESOLVED'",
                {"id": has_cross, "n": note},
            )
        else:
            uow.execute(
                "UPDATE bk_daily_recon_diff SET diff_type = 'CROSS_DAY', status = 'INFO', resolve_reason = :n,"
                " our_amount = COALESCE(our_amount, :a), channel_amount = COALESCE(channel_amount, :a) WHERE id = :id",
                {
                    "id": row["id"],
                    "n": note,
                    "a": row["our_amount"] if row["our_amount"] is not None else row["channel_amount"],
                },
            )
        audit.record(
            uow,
            ctx,
            module=MODULE,
            operation="DAILY_RECONCILE_CROSS_DAY",
            object_type="bk_daily_recon_diff",
            object_id=row["id"],
            before={"diffType": row["diff_type"], "status": row["status"]},
            after={"diffType": rules.CROSS_DAY, "status": "INFO", "otherDay": day.isoformat()},
        )
    _recount(uow, int(neighbour["id"]))


def _recount(uow: UnitOfWork, recon_id: int) -> None:
    uow.execute(
        "UPDATE bk_daily_recon SET open_diff_count = (SELECT count(*) FROM bk_daily_recon_diff"
        " WHERE recon_id = :r AND status = 'OPEN'), status = CASE WHEN file_error_count > 0 THEN 'INCOMPLETE'"
        " WHEN EXISTS (SELECT 1 FROM bk_daily_recon_diff WHERE recon_id = :r AND status = 'OPEN') THEN 'DIFFERENT'"
        " ELSE 'BALANCED' END WHERE id = :r",
        {"r": recon_id},
    )


def _report(uow: UnitOfWork, day: dt.date) -> dict[str, Any]:
    recon = uow.one("SELECT * FROM bk_daily_recon WHERE biz_date = :d", {"d": day})
    if recon is None:
        raise AppError(ErrorCode.NOT_FOUND, f"bizDate {day} 尚未对账")
    files = uow.all("SELECT * FROM bk_daily_recon_file WHERE biz_date = :d ORDER BY id", {"d": day})
    diffs = uow.all(
        "SELECT * FROM bk_daily_recon_diff WHERE biz_date = :d AND status <> 'GONE' ORDER BY channel, diff_type, match_key",
        {"d": day},
    )
    by_channel = []
    for channel in rules.CHANNELS:
        mine = [d for d in diffs if d["channel"] == channel]
        by_channel.append(
            {
                "channel": channel,
                "openDiffCount": sum(1 for d in mine if d["status"] == "OPEN"),
                "statementStatus": next(
                    (
                        f["status"]
                        for f in files
                        if f["channel"] == channel and f["file_kind"] == rules.STATEMENT
                    ),
                    "NONE" if channel in rules.TWO_WAY else "MISSING",
                ),
            }
        )
    return {
        **_run_view(recon),
        "channels": by_channel,
        "files": [_file_view(f) for f in files],
        "diffList": [diff_view(d) for d in diffs],
    }


def _run_view(r: dict[str, Any]) -> dict[str, Any]:
    return {
        "bizDate": r["biz_date"].isoformat(),
        "reconStatus": r["status"],
        "ourCount": r["our_count"],
        "ourAmount": r["our_amount"],
        "channelCount": r["channel_count"],
        "channelAmount": r["channel_amount"],
        "creditedAmount": r["credited_amount"],
        "openDiffCount": r["open_diff_count"],
        "fileErrorCount": r["file_error_count"],
        "runCount": r["run_count"],
        "lastRunTime": r["last_run_time"],
    }


def _file_view(f: dict[str, Any]) -> dict[str, Any]:
    return {
        "channel": f["channel"],
        "fileKind": f["file_kind"],
        "fileName": f["file_name"],
        "fileStatus": f["status"],
        "error": f["error"],
        "lineCount": f["line_count"],
    }


def diff_view(d: dict[str, Any]) -> dict[str, Any]:
    return {
        "diffId": d["id"],
        "channel": d["channel"],
        "diffType": d["diff_type"],
        "matchKey": d["match_key"],
        "ourAmount": d["our_amount"],
        "channelAmount": d["channel_amount"],
        "creditedAmount": d["credited_amount"],
        "status": d["status"],
        "reason": d["resolve_reason"],
        "resolvedTime": d["resolve_time"],
    }


def report(ctx: RequestContext, day: dt.date) -> dict[str, Any]:
    """The day's run: totals, each channel, each file (an exception a person sees), each difference."""
    _require_company(ctx)
    with UnitOfWork() as uow:
        return _report(uow, day)


def runs(ctx: RequestContext, page_no: int, page_size: int) -> dict[str, Any]:
    """The runs, newest day first (the seed's page)."""
    _require_company(ctx)
    with UnitOfWork() as uow:
        total = int(uow.scalar("SELECT count(*) FROM bk_daily_recon"))
        rows = uow.all(
            "SELECT * FROM bk_daily_recon ORDER BY biz_date DESC LIMIT :l OFFSET :o",
            {"l": page_size, "o": (page_no - 1) * page_size},
        )
    return {"list": [_run_view(r) for r in rows], "total": total, "pageNo": page_no, "pageSize": page_size}


def resolve(ctx: RequestContext, diff_id: int, reason: str) -> dict[str, Any]:
    """A person closes an open difference with a reason; a resolved one again: 409."""
    _require_company(ctx)
    if not reason.strip():
        raise AppError(ErrorCode.BAD_REQUEST, "reason: 必填，说明处置理由")
    with UnitOfWork() as uow:
        # the day's run row locked first, as a run locks it before its differences: no deadlock with a run
        uow.execute(
            "SELECT r.id FROM bk_daily_recon r JOIN bk_daily_recon_diff d ON d.recon_id = r.id WHERE d.id = :id"
            " FOR UPDATE OF r",
            {"id": diff_id},
        )
        row = uow.one("SELECT * FROM bk_daily_recon_diff WHERE id = :id FOR UPDATE", {"id": diff_id})
        if row is None:
            raise AppError(ErrorCode.NOT_FOUND, f"diffId {diff_id} 不存在")
        if row["status"] != "OPEN":
            raise AppError(
                ErrorCode.CONFLICT,
                f"diffId {diff_id} 当前 {row['status']}，不能再处置",
                data={"diffId": diff_id, "status": row["status"]},
            )
        done = uow.one(
            "UPDATE bk_daily_recon_diff SET status = 'RESOLVED', resolve_reason = :r, resolver_id = :u,"
            " resolve_time = now() WHERE id = :id RETURNING *",
            {"r": reason.strip(), "u": ctx.principal.user_id or None, "id": diff_id},
        )
        assert done is not None
        _recount(uow, int(row["recon_id"]))
        audit.record(
            uow,
            ctx,
            module=MODULE,
            operation="DAILY_RECONCILE_RESOLVE",
            object_type="bk_daily_recon_diff",
            object_id=diff_id,
            before={"status": row["status"]},
            after={"status": "RESOLVED", "reason": reason.strip()},
        )
        uow.commit()
    return diff_view(done)
