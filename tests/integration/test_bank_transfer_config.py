"""The bank file transfer configuration through its routes: rows saved per scope, what a channel resolves to,
and the errors answered at once - at the preview and when a batch is created (nothing is written then)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support import call, expect_error, sql_all, sql_exec, sql_scalar, unique

pytestmark = pytest.mark.integration
CONFIG = "/admin-api/revenue/bank/transfer-config"


def save(admin: str, **row: Any) -> Any:
    return call("POST", CONFIG, row, token=admin)


def resolved(admin: str, channel: str, tenant: int) -> Any:
    query = f"channelCode={channel}&tenantId={tenant}&batchNo=WH1&billPeriod=2026-03"
    return call("GET", CONFIG, token=admin, query=query)


def new_tenant() -> int:
    """A company of its own (a root dept): rows other tests save for the demo company cannot reach it."""
    tenant = int(
        sql_exec(
            "INSERT INTO system_dept (name, tree_path) VALUES (:n, '/') RETURNING id", {"n": unique("T")}
        )
    )
    sql_exec("UPDATE system_dept SET tree_path = '/' || id || '/' WHERE id = :t", {"t": tenant})
    return tenant


def test_rows_resolve_field_by_field_and_errors_answer_at_once(admin: str) -> None:
    """Given a CHANNEL row with the connection and a TENANT_CHANNEL row (a company of its own) overriding only
    the send directory with a template
    When the channel is resolved for that company
    Then the send path is the tenant's, the host the channel's, sourceScope TENANT_CHANNEL; and when the
    tenant's row empties the back directory, or a row names an illegal template variable, the answer is a
    configuration error naming the field (409), never the other row's value."""
    channel = "C" + unique("")[-6:].upper()
    tenant = new_tenant()
    ok = save(
        admin,
        channelCode=channel,
        protocol="SFTP",
        host="sftp.bank.example",
        port=22,
        username="waterrev",
        credentialRef="bank/x",
        hostKey="ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIK77E3Lzg8WXQCwVuALaojZS0xjpIHi5kc9WRahYdkou",
        sendDir="/x/send",
        backDir="/x/back",
        reconcileDir="/x/reconcile",
    )
    assert ok.code == 0 and ok.data["scope"] == "CHANNEL", ok.body
    tenant_row = save(admin, tenantId=tenant, channelCode=channel, sendDir="/x/{tenantId}/{billPeriod}")
    assert tenant_row.code == 0 and tenant_row.data["scope"] == "TENANT_CHANNEL", tenant_row.body

    found = resolved(admin, channel, tenant)
    assert found.code == 0, found.body
    res = found.data["resolved"]
    assert (
        res["resolvedPath"] == f"/x/{tenant}/2026-03/WH_{channel}_WH1.txt"
        and res["host"] == "sftp.bank.example"
    )
    assert res["sourceScope"] == "TENANT_CHANNEL" and res["fieldSources"]["host"] == "CHANNEL"

    assert save(admin, tenantId=tenant, channelCode=channel, sendDir="/x/{tenantId}", backDir="").code == 0
    error = expect_error(resolved(admin, channel, tenant), 409)
    assert error.body["data"]["configError"] == "backDir"

    bad = expect_error(save(admin, channelCode=channel, sendFileTemplate="WH_{custName}.txt"), 409)
    assert bad.body["data"]["configError"] == "sendFileTemplate"
    expect_error(save(admin, channelCode=channel, backFileTemplate="RET_{batchNo}.txt"), 409)


def test_a_batch_of_an_unconfigured_channel_is_refused_before_anything_is_written(admin: str) -> None:
    """Given a company of its own and a channel no row names (rows for every company and channel - the API
    fuzz run may save some - disabled for the moment)
    When a batch is created for them
    Then a configuration error at once (409, protocol) and no batch row."""
    tenant = new_tenant()
    batch_no = unique("WH")[:24]
    defaults = [
        r["id"]
        for r in sql_all(
            "SELECT id FROM bk_transfer_config WHERE tenant_id IS NULL AND channel_code IS NULL AND enabled"
        )
    ]
    sql_exec(
        "UPDATE bk_transfer_config SET enabled = false WHERE id = ANY(CAST(:ids AS bigint[]))",
        {"ids": defaults},
    )
    try:
        reply = call(
            "POST",
            "/admin-api/revenue/bank/withholding/batch",
            {
                "batchNo": batch_no,
                "businessType": "WITHHOLDING",
                "channelCode": "NOCONF",
                "billPeriod": "2026-03",
                "tenantId": tenant,
            },
            token=admin,
        )
    finally:
        sql_exec(
            "UPDATE bk_transfer_config SET enabled = true WHERE id = ANY(CAST(:ids AS bigint[]))",
            {"ids": defaults},
        )
    assert expect_error(reply, 409).body["data"]["configError"] == "protocol"
    assert sql_scalar("SELECT count(*) FROM bk_withholding_batch WHERE batch_no = :b", {"b": batch_no}) == 0
