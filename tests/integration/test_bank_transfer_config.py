"""The bank file transfer configuration through its routes: rows saved per scope, what a channel resolves to,
and the errors answered at once - at the preview and when a batch is created (nothing is written then)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support import call, expect_error, sql_scalar, unique

pytestmark = pytest.mark.integration
CONFIG = "/admin-api/revenue/bank/transfer-config"


def save(admin: str, **row: Any) -> Any:
    return call("POST", CONFIG, row, token=admin)


def resolved(admin: str, channel: str) -> Any:
    return call("GET", CONFIG, token=admin, query=f"channelCode={channel}&batchNo=WH1&billPeriod=2026-03")


def test_rows_resolve_field_by_field_and_errors_answer_at_once(admin: str) -> None:
    """Given a CHANNEL row with the connection and a TENANT_CHANNEL row (tenant 1) overriding only the send
    directory with a template
    When the channel is resolved for tenant 1
    Then the send path is the tenant's, the host the channel's, sourceScope TENANT_CHANNEL; and when the
    tenant's row empties the back directory, or a row names an illegal template variable, the answer is a
    configuration error naming the field (409), never the other row's value."""
    channel = "C" + unique("")[-6:].upper()
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
    assert (
        save(admin, tenantId=1, channelCode=channel, sendDir="/x/{tenantId}/{billPeriod}").data["scope"]
        == "TENANT_CHANNEL"
    )

    found = resolved(admin, channel)
    assert found.code == 0, found.body
    res = found.data["resolved"]
    assert res["resolvedPath"] == f"/x/1/2026-03/WH_{channel}_WH1.txt" and res["host"] == "sftp.bank.example"
    assert res["sourceScope"] == "TENANT_CHANNEL" and res["fieldSources"]["host"] == "CHANNEL"

    assert save(admin, tenantId=1, channelCode=channel, sendDir="/x/{tenantId}", backDir="").code == 0
    error = expect_error(resolved(admin, channel), 409)
    assert error.body["data"]["configError"] == "backDir"

    bad = expect_error(save(admin, channelCode=channel, sendFileTemplate="WH_{custName}.txt"), 409)
    assert bad.body["data"]["configError"] == "sendFileTemplate"
    expect_error(save(admin, channelCode=channel, backFileTemplate="RET_{batchNo}.txt"), 409)


def test_a_batch_of_an_unconfigured_channel_is_refused_before_anything_is_written(admin: str) -> None:
    """Given a channel no row names (and no DEFAULT row)
    When a batch is created for it
    Then a configuration error at once (409, protocol) and no batch row."""
    assert not sql_scalar(
        "SELECT count(*) FROM bk_transfer_config WHERE channel_code IS NULL AND tenant_id IS NULL"
    )
    batch_no = unique("WH")[:24]
    reply = call(
        "POST",
        "/admin-api/revenue/bank/withholding/batch",
        {
            "batchNo": batch_no,
            "businessType": "WITHHOLDING",
            "channelCode": "NOCONF",
            "billPeriod": "2026-03",
        },
        token=admin,
    )
    assert expect_error(reply, 409).body["data"]["configError"] == "protocol"
    assert sql_scalar("SELECT count(*) FROM bk_withholding_batch WHERE batch_no = :b", {"b": batch_no}) == 0
