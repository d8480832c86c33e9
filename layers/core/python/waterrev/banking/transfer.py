"""The bank file channel of a batch: its configuration resolved (banking.rules.resolve over the rows of
bk_transfer_config) and its credentials looked up by reference.

Credentials are never in the table: `credential_ref` names them. Locally and in the tests the reference
is a key of a JSON file (WATERREV_BANK_CREDENTIALS_FILE: {"ref": {"username"?, "password" | "privateKey"}});
in the cloud it is a Secrets Manager secret named WATERREV_BANK_CREDENTIALS_SECRET_PREFIX + ref holding the
same JSON. A reference that cannot be found is a configuration error, like a missing field.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

from waterrev import audit
from waterrev.adapters.bank_sftp import Credentials
from waterrev.banking import rules
from waterrev.banking.commands import TransferRow
from waterrev.context import RequestContext
from waterrev.db import UnitOfWork
from waterrev.errors import AppError, ErrorCode
from waterrev.settings import get_settings

_REF = re.compile(r"^[A-Za-z0-9_./\-]{1,128}$")


def config_error(error: rules.ConfigError) -> AppError:
    """An unusable configuration: answered at once, naming the field and the scope it came from."""
    return AppError(
        ErrorCode.CONFLICT,
        f"文件传输配置错误：{error}",
        data={"configError": error.field, "sourceScope": error.scope, "reason": error.reason},
    )


def rows(uow: UnitOfWork, tenant_id: int, channel_code: str) -> list[dict[str, Any]]:
    """The rows that may take part: this tenant's and this channel's, and the defaults."""
    return uow.all(
        "SELECT * FROM bk_transfer_config WHERE (tenant_id IS NULL OR tenant_id = :t)"
        " AND (channel_code IS NULL OR channel_code = :c)",
        {"t": tenant_id, "c": channel_code},
    )


def resolve(uow: UnitOfWork, tenant_id: int, channel_code: str) -> rules.Transfer:
    try:
        return rules.resolve(rows(uow, tenant_id, channel_code), tenant_id, channel_code)
    except rules.ConfigError as exc:
        raise config_error(exc) from None


def credentials(ref: str, username: str) -> Credentials:
    """The login of a credential reference (the configured username unless the secret names one)."""
    if not _REF.match(ref):
        raise config_error(rules.ConfigError("credentialRef", None, "引用名非法"))
    found = _secret(ref)
    if found is None:
        raise config_error(rules.ConfigError("credentialRef", None, f"凭据 {ref} 不存在"))
    if not (found.get("password") or found.get("privateKey")):
        raise config_error(rules.ConfigError("credentialRef", None, f"凭据 {ref} 无密码或私钥"))
    return Credentials(str(found.get("username") or username), found.get("password"), found.get("privateKey"))


def _secret(ref: str) -> dict[str, Any] | None:
    settings = get_settings()
    if settings.bank_credentials_file:
        path = Path(settings.bank_credentials_file)
        if not path.exists():
            return None
        value = json.loads(path.read_text(encoding="utf-8")).get(ref)
        return value if isinstance(value, dict) else None
    if settings.bank_credentials_secret_prefix:
        return _from_secrets_manager(settings.bank_credentials_secret_prefix + ref)
    return None


@lru_cache(maxsize=32)
def _from_secrets_manager(secret_id: str) -> dict[str, Any] | None:
    import boto3  # cold path: the steps that move files

    client = boto3.client("secretsmanager", endpoint_url=get_settings().secrets_endpoint_url)
    try:
        value = client.get_secret_value(SecretId=secret_id)["SecretString"]
    except client.exceptions.ResourceNotFoundException:
        return None
    parsed = json.loads(value)
    return parsed if isinstance(parsed, dict) else None


def forget_secrets() -> None:
    _from_secrets_manager.cache_clear()


# ---- the configuration rows, kept by a person ------------------------------------------------------
_COLUMNS = ("tenant_id", "channel_code", "enabled", *rules.FIELDS)


def _row_view(row: dict[str, Any]) -> dict[str, Any]:
    out = {rules.wire(c): row[c] for c in _COLUMNS}
    return {"id": row["id"], "scope": rules.scope_of(row), **out}


def save_row(ctx: RequestContext, cmd: TransferRow) -> dict[str, Any]:
    """Insert or replace the row of a scope (tenant, channel). Its templates are checked now: an illegal
    variable is refused here as it would be at sending. Audited."""
    values = cmd._asdict()
    for field in ("send_dir", "back_dir", "reconcile_dir", *rules.DEFAULT_TEMPLATES):
        if values[field]:
            try:
                rules.check_template(rules.wire(field), values[field])
            except rules.ConfigError as exc:
                raise config_error(exc) from None
    if values["back_file_template"] and "{fileSerialNo}" not in values["back_file_template"]:
        raise config_error(rules.ConfigError("backFileTemplate", None, "须含 {fileSerialNo}"))
    with UnitOfWork() as uow:
        if (
            cmd.tenant_id is not None
            and uow.scalar("SELECT 1 FROM system_dept WHERE id = :t AND parent_id = 0", {"t": cmd.tenant_id})
            is None
        ):
            raise AppError(ErrorCode.NOT_FOUND, f"tenantId={cmd.tenant_id} 不是顶级机构")
        before = uow.one(
            "SELECT * FROM bk_transfer_config WHERE COALESCE(tenant_id, 0) = COALESCE(CAST(:t AS bigint), 0)"
            " AND COALESCE(channel_code, '') = COALESCE(CAST(:c AS text), '') FOR UPDATE",
            {"t": cmd.tenant_id, "c": cmd.channel_code},
        )
        assignments = ", ".join(f"{c} = :{c}" for c in _COLUMNS)
        if before is None:
            row = uow.one(
                f"INSERT INTO bk_transfer_config ({', '.join(_COLUMNS)}) VALUES ({', '.join(':' + c for c in _COLUMNS)})"
                " ON CONFLICT DO NOTHING RETURNING *",
                values,
            )
            if row is None:
                raise AppError(ErrorCode.CONFLICT, "同一范围的配置正在被另一请求写入，请重试")
        else:
            row = uow.one(
                f"UPDATE bk_transfer_config SET {assignments}, update_time = now() WHERE id = :id RETURNING *",
                {**values, "id": before["id"]},
            )
        assert row is not None
        audit.record(
            uow,
            ctx,
            module="REV-008",
            operation="BANK_TRANSFER_CONFIG_SAVE",
            object_type="bk_transfer_config",
            object_id=row["id"],
            before=None if before is None else _row_view(before),
            after=_row_view(row),
        )
        uow.commit()
    return _row_view(row)


def list_rows(ctx: RequestContext) -> dict[str, Any]:
    with UnitOfWork() as uow:
        found = uow.all(
            "SELECT * FROM bk_transfer_config ORDER BY COALESCE(tenant_id, 0), COALESCE(channel_code, ''), id"
        )
    return {"list": [_row_view(r) for r in found]}


def preview(
    ctx: RequestContext, tenant_id: int | None, channel_code: str, bill_period: str, batch_no: str
) -> dict[str, Any]:
    """What a batch of this tenant and channel would resolve to now (protocol, resolvedDir, resolvedPath,
    fileName, sourceScope), or the configuration error it would meet."""
    import datetime as dt

    with UnitOfWork() as uow:
        tenant = tenant_id or int(
            uow.scalar("SELECT id FROM system_dept WHERE parent_id = 0 ORDER BY id LIMIT 1")
        )
        cfg = resolve(uow, tenant, channel_code)
    variables = {
        "batchNo": batch_no,
        "channelCode": channel_code,
        "billPeriod": bill_period,
        "tenantId": str(tenant),
        "date": dt.date.today().strftime("%Y%m%d"),
    }
    try:
        send_dir = rules.render(cfg.send_dir, variables)
        name = rules.render(cfg.send_file_template, variables)
        back_dir = rules.render(cfg.back_dir, variables)
        reconcile_dir = rules.render(cfg.reconcile_dir, variables)
    except rules.ConfigError as exc:
        raise config_error(exc) from None
    except KeyError as exc:
        raise config_error(
            rules.ConfigError("sendFileTemplate", None, f"模板变量 {exc} 在送盘阶段不可用")
        ) from None
    return {
        "protocol": cfg.protocol,
        "host": cfg.host,
        "port": int(cfg.port),
        "username": cfg.username,
        "credentialRef": cfg.credential_ref,
        "resolvedDir": send_dir,
        "resolvedPath": rules.join(send_dir, name),
        "fileName": name,
        "backDir": back_dir,
        "reconcileDir": reconcile_dir,
        "sourceScope": cfg.source_scope,
        "fieldSources": {rules.wire(k): v for k, v in cfg.sources.items()},
    }
