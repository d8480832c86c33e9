"""The message queue (SQS): what the relay, the consumer and the dead-letter sweep ask of it.

The client is built once per execution environment, on first use (boto3 is not imported before).
Locally `WATERREV_SQS_ENDPOINT_URL` points it at moto's server (waterrev.local.messaging).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

BATCH = 10  # SQS's limit per SendMessageBatch / DeleteMessageBatch / ReceiveMessage

_CLIENT: list[Any] = []
_LOCK = threading.Lock()


def client() -> Any:
    with _LOCK:
        if not _CLIENT:
            import boto3
            from botocore.config import Config

            from waterrev.settings import get_settings

            s = get_settings()
            kwargs: dict[str, Any] = {
                "config": Config(retries={"max_attempts": 3, "mode": "standard"}, max_pool_connections=16)
            }
            if s.sqs_endpoint_url:  # the local stack's moto server
                kwargs.update(
                    endpoint_url=s.sqs_endpoint_url,
                    aws_access_key_id="local",
                    aws_secret_access_key="local",
                    region_name="us-east-1",
                )
            _CLIENT.append(boto3.client("sqs", **kwargs))
        return _CLIENT[0]


def reset() -> None:
    """Forget the client (tests and the local stack point it elsewhere)."""
    with _LOCK:
        _CLIENT.clear()


def send(queue_url: str, bodies: Sequence[tuple[str, str]]) -> list[str]:
    """Send (id, body) pairs, ten per call; the ids SQS did not take (send them again later)."""
    failed: list[str] = []
    sqs = client()
    for start in range(0, len(bodies), BATCH):
        chunk = bodies[start : start + BATCH]
        reply = sqs.send_message_batch(
            QueueUrl=queue_url, Entries=[{"Id": key, "MessageBody": body} for key, body in chunk]
        )
        failed += [entry["Id"] for entry in reply.get("Failed", [])]
    return failed


def change_visibility(queue_url: str, receipt_handle: str, seconds: int) -> None:
    client().change_message_visibility(
        QueueUrl=queue_url, ReceiptHandle=receipt_handle, VisibilityTimeout=int(seconds)
    )


def receive(
    queue_url: str, *, max_messages: int = BATCH, wait_s: int = 0, visibility_s: int | None = None
) -> list[dict[str, Any]]:
    kwargs: dict[str, Any] = {
        "QueueUrl": queue_url,
        "MaxNumberOfMessages": min(max_messages, BATCH),
        "WaitTimeSeconds": wait_s,
        "MessageSystemAttributeNames": ["All"],
    }
    if visibility_s is not None:
        kwargs["VisibilityTimeout"] = visibility_s
    return list(client().receive_message(**kwargs).get("Messages", []))


def delete(queue_url: str, receipt_handles: Sequence[str]) -> None:
    sqs = client()
    for start in range(0, len(receipt_handles), BATCH):
        chunk = receipt_handles[start : start + BATCH]
        sqs.delete_message_batch(
            QueueUrl=queue_url, Entries=[{"Id": str(n), "ReceiptHandle": h} for n, h in enumerate(chunk)]
        )
