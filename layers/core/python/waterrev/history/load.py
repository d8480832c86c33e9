"""Loading a legacy data set file into the history (docs/MIGRATION.md): parse and check every row first
(nothing is written when one is wrong: the reply lists the first problems by line and column), then one
transaction: the import row (unique by object type and the file's sha256, so the same file sent twice,
even at once, is one import), the rows by COPY, the id mapping resolved in SQL (customer, office, the
new object's id from newNo), and the audit.

Migration is company-wide work: importing needs the import permission and a data scope of every dept.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import secrets
from typing import Any

from waterrev import audit, crypto
from waterrev.context import RequestContext
from waterrev.db import UnitOfWork
from waterrev.errors import AppError, ErrorCode, bad_request
from waterrev.history import rules
from waterrev.history.commands import HistImport
from waterrev.visibility import sees_every_dept

MODULE = "REV-007"
MAX_ROWS = 200_000
MAX_ERRORS = 20
COLUMNS = (
    "import_id",
    "object_type",
    "line_no",
    "legacy_no",
    "legacy_batch_no",
    "new_no",
    "cust_code",
    "id_no",
    "id_no_cipher",
    "id_no_index",
    "mobile",
    "mobile_cipher",
    "mobile_index",
    "meter_no",
    "bill_period",
    "dept_id",
    "channel",
    "amount",
    "status",
    "legacy_status",
    "biz_type",
    "event_time",
    "detail",
)
# how each object type's newNo finds the new object (None: no table in this release to map it to)
NEW_OBJECT: dict[str, str | None] = {
    "BILL": "SELECT id FROM biz_charge WHERE code = h.new_no",
    "COLLECTION": "SELECT id FROM biz_collection WHERE code = h.new_no",
    "INVOICE": "SELECT id FROM biz_invoice WHERE application_no = h.new_no",
    "REMINDER": "SELECT id FROM biz_reminder_task WHERE task_no = h.new_no",
    "METER": "SELECT id FROM biz_meter WHERE meter_no = h.new_no",
    "CONFIG": "SELECT max(id) FROM biz_parameter_settings WHERE config_code = h.new_no",
    "ADJUSTMENT": None,
    "PROCESS": None,
}


def parse(object_type: str, text: str) -> list[rules.HistRow]:
    """Every row of the file, checked; AppError 400 listing the first problems (line and column)."""
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise bad_request("csvContent: 文件为空") from None
    except csv.Error as exc:
        raise bad_request(f"csvContent: 第 1 行不是 CSV（{exc}）") from None
    try:
        rules.check_header(object_type, header)
    except rules.RowError as exc:
        raise bad_request(f"csvContent: {exc}") from None
    names = [h.strip() for h in header]
    rows: list[rules.HistRow] = []
    errors: list[str] = []
    seen: dict[str, int] = {}
    try:
        for line_no, values in enumerate(reader, start=2):
            if not any(v.strip() for v in values):
                continue
            if len(rows) >= MAX_ROWS:
                raise bad_request(f"csvContent: 一个文件最多 {MAX_ROWS} 行，请分文件导入")
            if len(values) != len(names):
                errors.append(f"第 {line_no} 行: 列数 {len(values)} 与表头 {len(names)} 不一致")
            else:
                try:
                    row = rules.parse_row(object_type, line_no, dict(zip(names, values, strict=True)))
                except rules.RowError as exc:
                    errors.append(str(exc))
                else:
                    if row.legacy_no in seen:
                        errors.append(f"第 {line_no} 行 legacyNo: 与第 {seen[row.legacy_no]} 行重复")
                    seen[row.legacy_no] = line_no
                    rows.append(row)
            if len(errors) >= MAX_ERRORS:
                break
    except csv.Error as exc:
        errors.append(f"第 {reader.line_num} 行: 不是 CSV（{exc}）")
    if errors:
        raise AppError(ErrorCode.BAD_REQUEST, f"csvContent: {errors[0]}", data={"errors": errors})
    if not rows:
        raise bad_request("csvContent: 没有数据行")
    return rows


def _copy_text(keys: crypto.Keys, import_id: int, object_type: str, rows: list[rules.HistRow]) -> str:
    """The rows as COPY reads them; ID numbers and mobiles masked, sealed (bytea as hex) and indexed."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    for r in rows:
        id_no, mobile = keys.pii(crypto.ID_NO, r.id_no), keys.pii(crypto.MOBILE, r.mobile)
        writer.writerow(
            [
                import_id,
                object_type,
                r.line_no,
                r.legacy_no,
                r.legacy_batch_no,
                r.new_no,
                r.cust_code,
                id_no.masked,
                None if id_no.cipher is None else "\\x" + id_no.cipher.hex(),
                id_no.index,
                mobile.masked,
                None if mobile.cipher is None else "\\x" + mobile.cipher.hex(),
                mobile.index,
                r.meter_no,
                r.bill_period,
                r.dept_id,
                r.channel,
                r.amount,
                r.status,
                r.legacy_status,
                r.biz_type,
                r.event_time.isoformat() if r.event_time else None,
                json.dumps(r.detail, ensure_ascii=False),
            ]
        )
    return out.getvalue()


def import_csv(ctx: RequestContext, cmd: HistImport) -> dict[str, Any]:
    if not sees_every_dept(ctx):
        raise AppError(ErrorCode.FORBIDDEN, "objectType: 迁移数据导入需要全部数据权限")
    rows = parse(cmd.object_type, cmd.csv_text)
    digest = hashlib.sha256(cmd.csv_text.encode("utf-8")).hexdigest()
    import_no = f"HI{dt.datetime.now(dt.UTC):%Y%m%d%H%M%S}{secrets.token_hex(3).upper()}"
    with UnitOfWork() as uow:
        import_id = uow.scalar(
            "INSERT INTO biz_hist_import (import_no, object_type, source_system, file_name, content_sha256,"
            " row_count, mapped_count, operator_id) VALUES (:no, :t, :src, :f, :sha, :n, 0, :op)"
            " ON CONFLICT (object_type, content_sha256) DO NOTHING RETURNING id",
            {
                "no": import_no,
                "t": cmd.object_type,
                "src": cmd.source_system,
                "f": cmd.file_name,
                "sha": digest,
                "n": len(rows),
                "op": ctx.principal.user_id,
            },
        )
        if import_id is None:  # the same file again: the first import answers
            first = uow.one(
                "SELECT * FROM biz_hist_import WHERE object_type = :t AND content_sha256 = :sha",
                {"t": cmd.object_type, "sha": digest},
            )
            assert first is not None
            return {**_reply(first), "duplicate": True}
        taken = uow.all(
            "SELECT legacy_no FROM biz_hist_record WHERE object_type = :t"
            " AND legacy_no = ANY(CAST(:nos AS varchar[])) ORDER BY legacy_no LIMIT 5",
            {"t": cmd.object_type, "nos": [r.legacy_no for r in rows]},
        )
        if taken:
            nos = "、".join(str(t["legacy_no"]) for t in taken)
            raise AppError(ErrorCode.CONFLICT, f"legacyNo: {nos} 已由其他文件导入")
        raw = uow.conn.connection.dbapi_connection
        raw.run(  # type: ignore[union-attr]
            f"COPY biz_hist_record ({', '.join(COLUMNS)}) FROM STDIN WITH (FORMAT csv)",
            stream=io.StringIO(_copy_text(crypto.keys(uow.conn), import_id, cmd.object_type, rows)),
        )
        bad_dept = uow.scalar(
            "SELECT min(h.line_no) FROM biz_hist_record h WHERE h.import_id = :i AND h.dept_id IS NOT NULL"
            " AND NOT EXISTS (SELECT 1 FROM system_dept d WHERE d.id = h.dept_id)",
            {"i": import_id},
        )
        if bad_dept is not None:
            raise bad_request(f"csvContent: 第 {bad_dept} 行 deptId: 营业所不存在")
        uow.execute(
            "UPDATE biz_hist_record h SET cust_id = c.id, dept_id = COALESCE(h.dept_id, c.dept_id)"
            " FROM biz_cust c WHERE h.import_id = :i AND c.code = h.cust_code",
            {"i": import_id},
        )
        finder = NEW_OBJECT[cmd.object_type]
        if finder is not None:
            uow.execute(
                f"UPDATE biz_hist_record h SET new_id = ({finder})"
                " WHERE h.import_id = :i AND h.new_no IS NOT NULL",
                {"i": import_id},
            )
        mapped = int(
            uow.scalar(
                "SELECT count(*) FROM biz_hist_record WHERE import_id = :i AND new_id IS NOT NULL",
                {"i": import_id},
            )
        )
        row = uow.one(
            "UPDATE biz_hist_import SET mapped_count = :m WHERE id = :i RETURNING *",
            {"m": mapped, "i": import_id},
        )
        assert row is not None
        audit.record(
            uow,
            ctx,
            module=MODULE,
            operation="HIST_IMPORT",
            object_type="biz_hist_import",
            object_id=import_no,
            after={
                "objectType": cmd.object_type,
                "sourceSystem": cmd.source_system,
                "fileName": cmd.file_name,
                "sha256": digest,
                "rowCount": len(rows),
                "mappedCount": mapped,
            },
        )
        uow.commit()
    return {**_reply(row), "duplicate": False}


def _reply(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "importNo": row["import_no"],
        "objectType": row["object_type"],
        "sourceSystem": row["source_system"],
        "fileName": row["file_name"],
        "rowCount": row["row_count"],
        "mappedCount": row["mapped_count"],
        "unmappedCount": row["row_count"] - row["mapped_count"],
        "createTime": row["create_time"],
    }


def page_imports(
    ctx: RequestContext, object_type: str | None, page_no: int, page_size: int
) -> dict[str, Any]:
    """The imports, newest first (what verification's importNo names)."""
    if not sees_every_dept(ctx):
        raise AppError(ErrorCode.FORBIDDEN, "objectType: 迁移数据导入记录需要全部数据权限")
    with UnitOfWork() as uow:
        params = {"t": object_type, "lim": page_size, "off": (page_no - 1) * page_size}
        where = "WHERE (CAST(:t AS varchar) IS NULL OR object_type = :t)"
        total = int(uow.scalar(f"SELECT count(*) FROM biz_hist_import {where}", params))
        rows = uow.all(
            f"SELECT * FROM biz_hist_import {where} ORDER BY id DESC LIMIT :lim OFFSET :off", params
        )
    return {"list": [_reply(r) for r in rows], "total": total, "pageNo": page_no, "pageSize": page_size}
