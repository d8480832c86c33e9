"""IF-EXT-002 回盘接收: the bank's signed receipt (waterrev.webhook, platform "BANK": HMAC-SHA256 over
`timestamp\\nnonce\\nbody\\n`, a 5-minute window, each nonce once). The file it names is applied at once
(banking.batch.apply_return: once per batchNo + fileSerialNo) and the batch's workflow resumes; a repeated
receipt answers what the first did. The bank acts as itself in the audit."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from typing import Any

from waterrev import webhook
from waterrev.banking import batch, workflow
from waterrev.context import Principal, RequestContext, UserType
from waterrev.errors import AppError, ErrorCode

PLATFORM = "BANK"
_BATCH_NO = re.compile(r"^[A-Za-z0-9_\-]{1,24}$")
_SERIAL = re.compile(r"^[A-Za-z0-9]{1,32}$")


def parse(raw: str) -> dict[str, Any]:
    try:
        body = json.loads(raw)
    except ValueError as exc:
        raise AppError(ErrorCode.BAD_REQUEST, f"body: 不是合法的 JSON（{exc}）") from None
    if not isinstance(body, dict):
        raise AppError(ErrorCode.BAD_REQUEST, "body: 须为 JSON 对象")
    batch_no, serial, path = body.get("batchNo"), body.get("fileSerialNo"), body.get("backFilePath")
    if not isinstance(batch_no, str) or not _BATCH_NO.match(batch_no):
        raise AppError(ErrorCode.BAD_REQUEST, "batchNo: 必填，1-24 位字母、数字、_ 或 -")
    if not isinstance(serial, str) or not _SERIAL.match(serial):
        raise AppError(ErrorCode.BAD_REQUEST, "fileSerialNo: 必填，1-32 位字母或数字")
    if path is not None and (not isinstance(path, str) or len(path) > 512):
        raise AppError(ErrorCode.BAD_REQUEST, "backFilePath: 须为 512 字符以内的路径")
    return {"batchNo": batch_no, "fileSerialNo": serial, "backFilePath": path}


def handle(ctx: RequestContext, headers: dict[str, str], raw: bytes) -> dict[str, Any]:
    text = raw.decode("utf-8", errors="replace")
    webhook.verify(PLATFORM, headers, text)
    body = parse(text)
    ctx = replace(ctx, principal=Principal(0, UserType.SYSTEM, "bank:return", dept_ids=None))
    reply = batch.apply_return(ctx, body["batchNo"], body["fileSerialNo"], body["backFilePath"])
    found = batch.status(ctx, body["batchNo"])
    workflow.resume(batch.waiting_token(body["batchNo"]), found["batchStatus"])
    return reply
